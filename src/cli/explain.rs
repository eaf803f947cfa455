//! `gpuc explain`: the long explanation of a code, or the list of codes.

use super::{usage_error, EXIT_USAGE};
use crate::diagnostics::Code;
use std::io::Write;
use std::process::ExitCode;

pub(super) fn run(code: Option<&str>, list: bool) -> ExitCode {
    let mut out = std::io::stdout().lock();
    if list {
        for c in Code::ALL {
            if writeln!(out, "{}  {:<8}  {}", c, c.rule(), c.title()).is_err() {
                return ExitCode::from(EXIT_USAGE);
            }
        }
        return ExitCode::SUCCESS;
    }
    let Some(text) = code else { return usage_error("name a code, or use --list") };
    match text.parse::<Code>() {
        Ok(c) => {
            if write!(out, "{}", c.explanation()).is_err() {
                return ExitCode::from(EXIT_USAGE);
            }
            ExitCode::SUCCESS
        }
        Err(()) => usage_error(&format!("`{text}` is not a gpuc diagnostic code; `gpuc explain --list` lists them")),
    }
}
