//! Parsing, lowering and checking of one file: any bytes, served as `fuzz.gpu`, never panic,
//! and the compiler's hand-written parser accepts exactly what the grammar (pest on
//! `grammar/gpu.pest`) accepts.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pest::Parser as _;

#[path = "one_file.rs"]
mod one_file;

#[derive(pest_derive::Parser)]
#[grammar = "../grammar/gpu.pest"]
struct Grammar;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    one_file::check(text);
    let gpuc_accepts = gpuc::syntax::parse(gpuc::source::FileId(0), text).1.is_empty();
    let grammar_accepts = Grammar::parse(Rule::file, text).is_ok();
    assert_eq!(gpuc_accepts, grammar_accepts, "the grammar and gpuc disagree on {text:?}");
});
