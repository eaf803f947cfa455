//! `gpuc completions SHELL` and `gpuc man`: generated from the command-line definition itself,
//! so they list exactly the commands and options this binary has.

use super::{usage_error, Cli, EXIT_USAGE};
use clap::CommandFactory;
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

pub(super) fn completions(shell: clap_complete::Shell) -> ExitCode {
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "gpuc", &mut script);
    write_stdout(&script)
}

/// The top page on stdout, or every command's page written into `folder`.
pub(super) fn man(folder: Option<&Path>) -> ExitCode {
    let written = match folder {
        Some(folder) => {
            clap_mangen::generate_to(Cli::command(), folder).map_err(|e| format!("cannot write into {}: {e}", folder.display()))
        }
        None => {
            let mut page = Vec::new();
            match clap_mangen::Man::new(Cli::command()).render(&mut page) {
                Ok(()) => return write_stdout(&page),
                Err(e) => Err(e.to_string()),
            }
        }
    };
    match written {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => usage_error(&message),
    }
}

fn write_stdout(bytes: &[u8]) -> ExitCode {
    match std::io::stdout().lock().write_all(bytes) {
        Ok(()) => ExitCode::SUCCESS,
        Err(_) => ExitCode::from(EXIT_USAGE),
    }
}
