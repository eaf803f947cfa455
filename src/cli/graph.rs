//! `gpuc graph`: the step graph as Graphviz DOT or Mermaid.

use super::{compile, planned, CheckOptions, GraphFormat, EXIT_USAGE};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

pub(super) fn run(paths: &[PathBuf], format: GraphFormat, options: &CheckOptions) -> ExitCode {
    let (checked, plan) = match compile(paths, options).and_then(|c| planned(&c).map(|p| (c, p))) {
        Ok(both) => both,
        Err(code) => return code,
    };
    let text = match format {
        GraphFormat::Dot => {
            let mut text = String::new();
            crate::emit::graph::dot(&mut text, &checked.model, &plan);
            text
        }
        GraphFormat::Mermaid => crate::emit::graph::mermaid(&checked.model, &plan),
    };
    match std::io::stdout().lock().write_all(text.as_bytes()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(_) => ExitCode::from(EXIT_USAGE),
    }
}
