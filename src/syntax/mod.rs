//! Parsing: source text to the owned, spanned syntax tree. The only door into pest.

pub mod ast;
mod parser;

pub use parser::parse;
