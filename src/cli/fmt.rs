//! `gpuc fmt`: lays files out canonically (see [`crate::fmt`]), in place, or reports which
//! would change (`--check`); with no path or `-`, from stdin to stdout.

use super::report::color_wanted;
use super::{expand, usage_error, EXIT_SPEC, EXIT_USAGE};
use crate::diagnostics::{render, Diagnostic};
use crate::load::{decode, not_utf8};
use crate::source::{SourceKind, Sources};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

pub(super) fn run(paths: &[PathBuf], check: bool) -> ExitCode {
    if paths.is_empty() || paths == [Path::new("-")] {
        return stdin(check);
    }
    let files = match expand(paths) {
        Ok(files) => files,
        Err(e) => return usage_error(&e),
    };
    let mut failed = false;
    for file in &files {
        let bytes = match std::fs::read(file) {
            Ok(bytes) => bytes,
            Err(e) => return usage_error(&format!("cannot read {}: {e}", file.display())),
        };
        let Some((text, formatted)) = formatted(&file.display().to_string(), bytes) else {
            failed = true;
            continue;
        };
        if formatted == text {
            continue;
        }
        if check {
            println!("{}", file.display());
            failed = true;
        } else if let Err(e) = std::fs::write(file, formatted) {
            return usage_error(&format!("cannot write {}: {e}", file.display()));
        }
    }
    if failed {
        ExitCode::from(EXIT_SPEC)
    } else {
        ExitCode::SUCCESS
    }
}

fn stdin(check: bool) -> ExitCode {
    let mut bytes = Vec::new();
    if let Err(e) = std::io::stdin().read_to_end(&mut bytes) {
        return usage_error(&format!("cannot read stdin: {e}"));
    }
    let Some((text, formatted)) = formatted("<stdin>", bytes) else { return ExitCode::from(EXIT_SPEC) };
    if check {
        if formatted == text {
            return ExitCode::SUCCESS;
        }
        println!("<stdin>");
        return ExitCode::from(EXIT_SPEC);
    }
    match std::io::stdout().lock().write_all(formatted.as_bytes()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(_) => ExitCode::from(EXIT_USAGE),
    }
}

/// The text of a file and its formatted form, or `None` after printing why it cannot be
/// formatted (it is not UTF-8, or has syntax errors).
fn formatted(name: &str, bytes: Vec<u8>) -> Option<(String, String)> {
    let (text, first_invalid) = decode(bytes);
    let mut sources = Sources::default();
    let id = sources.add(name, text.clone(), SourceKind::Spec);
    let errors = match (first_invalid, crate::fmt::format(id, &text)) {
        (None, Ok(formatted)) => return Some((text, formatted)),
        (Some(at), _) => vec![not_utf8(id, at)],
        (None, Err(errors)) => errors,
    };
    print_errors(&errors, &sources);
    None
}

fn print_errors(errors: &[Diagnostic], sources: &Sources) {
    let mut err = std::io::stderr().lock();
    for d in errors {
        let _ = writeln!(err, "{}", render::human(d, sources, color_wanted(), 100));
    }
    let _ = writeln!(err, "{}", render::summary(errors));
}
