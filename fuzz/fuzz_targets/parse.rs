//! Parsing, lowering and checking of one file: any bytes, served as `fuzz.gpu`, never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "one_file.rs"]
mod one_file;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let _ = one_file::check(text);
});
