//! `gpuc completions SHELL` and `gpuc man`: generated from the command-line definition itself,
//! so they list exactly the commands and options this binary has.

use super::{Cli, EXIT_USAGE};
use clap::CommandFactory;
use std::io::Write;
use std::process::ExitCode;

pub(super) fn completions(shell: clap_complete::Shell) -> ExitCode {
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "gpuc", &mut script);
    write_stdout(&script)
}

pub(super) fn man() -> ExitCode {
    let mut page = Vec::new();
    match clap_mangen::Man::new(Cli::command()).render(&mut page) {
        Ok(()) => write_stdout(&page),
        Err(_) => ExitCode::from(EXIT_USAGE),
    }
}

fn write_stdout(bytes: &[u8]) -> ExitCode {
    match std::io::stdout().lock().write_all(bytes) {
        Ok(()) => ExitCode::SUCCESS,
        Err(_) => ExitCode::from(EXIT_USAGE),
    }
}
