//! `gpuc lsp`: the language server on stdin and stdout.

use std::process::ExitCode;

pub fn run() -> ExitCode {
    let (connection, threads) = lsp_server::Connection::stdio();
    let served = crate::lsp::serve(&connection);
    drop(connection);
    match served.and_then(|()| threads.join().map_err(Into::into)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("gpuc lsp: {error}");
            ExitCode::from(super::EXIT_USAGE)
        }
    }
}
