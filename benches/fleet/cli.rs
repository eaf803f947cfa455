//! The fleet generator as a command: a deterministic estate of N hosts for load tests.
//!
//! ```sh
//! # one file on stdout: 1,000 hosts, ~10,000 VMs
//! cargo run --release --example fleet -- --hosts 1000 --seed 1 > fleet.gpu
//! # with 2 violations of each rule the generator knows (so `check` exercises the error paths)
//! cargo run --release --example fleet -- --hosts 1000 --seed 1 --violations 2 > bad.gpu
//! # a top file importing 16 rack files, written into fleet/ (estate.gpu, racks/rackNNN.gpu)
//! cargo run --release --example fleet -- --hosts 1000 --seed 1 --files 16 --out fleet
//! gpuc check fleet/estate.gpu
//! ```

#[path = "mod.rs"]
mod fleet;

use std::path::PathBuf;
use std::process::ExitCode;

const USAGE: &str = "usage: fleet --hosts N [--seed S] [--violations K] [--files N --out DIR]";

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("fleet: {message}\n{USAGE}");
            ExitCode::from(2)
        }
    }
}

fn run() -> Result<(), String> {
    let mut hosts: Option<usize> = None;
    let mut seed = 1u64;
    let mut violations = 0usize;
    let mut files: Option<usize> = None;
    let mut out: Option<PathBuf> = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or_else(|| format!("{name} needs a value"));
        match arg.as_str() {
            "--hosts" => hosts = Some(number(&value("--hosts")?)?),
            "--seed" => seed = number(&value("--seed")?)?,
            "--violations" => violations = number(&value("--violations")?)?,
            "--files" => files = Some(number(&value("--files")?)?),
            "--out" => out = Some(PathBuf::from(value("--out")?)),
            "-h" | "--help" => {
                println!("{USAGE}");
                return Ok(());
            }
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    let hosts = hosts.ok_or("--hosts is required")?;
    match (files, out) {
        (None, None) => {
            let text = fleet::estate_with_violations(hosts, seed, violations);
            use std::io::Write as _;
            std::io::stdout().write_all(text.as_bytes()).map_err(|e| format!("cannot write: {e}"))
        }
        (Some(files), Some(dir)) => {
            if violations > 0 {
                return Err("--violations works with one file only".to_string());
            }
            for (path, text) in fleet::estate_files(hosts, seed, files) {
                let path = dir.join(path);
                if let Some(parent) = path.parent() {
                    std::fs::create_dir_all(parent).map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
                }
                std::fs::write(&path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
            }
            Ok(())
        }
        _ => Err("--files and --out go together".to_string()),
    }
}

fn number<T: std::str::FromStr>(s: &str) -> Result<T, String> {
    s.parse().map_err(|_| format!("`{s}` is not a number"))
}
