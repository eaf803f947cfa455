//! Parsing: source text to the spanned syntax tree, by a hand-written parser for the
//! language of `grammar/gpu.pest`.

pub mod ast;
mod parser;

pub use parser::{parse, parse_each};
