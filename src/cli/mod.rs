//! The command line: the only place that touches the terminal and the file system.

mod build;
mod catalog;
mod completions;
mod diff;
mod explain;
mod fmt;
mod graph;
mod lsp;
mod report;

use crate::diagnostics::render;
use crate::diagnostics::Code;
use crate::{check, Checked, Input};
use clap::{Parser, Subcommand, ValueEnum};
use report::color_wanted;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Exit codes: 0 success (warnings allowed), 1 the spec has errors, 2 usage or I/O error.
const EXIT_SPEC: u8 = 1;
const EXIT_USAGE: u8 = 2;

#[derive(Parser)]
#[command(name = "gpuc", version, about = "Checks and compiles .gpu descriptions of ESXi hosts, NVIDIA GPUs and the VMs that use them")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Check files or folders of .gpu files and report every problem.
    Check {
        /// `.gpu` files, or folders searched for them.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        #[command(flatten)]
        options: CheckOptions,
    },
    /// Check, then write the runbooks, .vmx fragments, gridd.conf and servers.conf files.
    Build {
        /// `.gpu` files, or folders searched for them.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// The output folder. It is replaced as a whole, only after a successful compile.
        #[arg(short, long, value_name = "DIR")]
        output: PathBuf,
        /// Replace DIR even if gpuc did not create it.
        #[arg(long)]
        force: bool,
        #[command(flatten)]
        options: CheckOptions,
    },
    /// Print the step graph (Graphviz DOT, or Mermaid for pull-request comments).
    Graph {
        /// `.gpu` files, or folders searched for them.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        #[arg(long, value_enum, default_value_t = GraphFormat::Dot)]
        format: GraphFormat,
        /// An extra GPU catalog (YAML) that adds or overrides boards.
        #[arg(long = "catalog", value_name = "FILE")]
        catalogs: Vec<PathBuf>,
    },
    /// List the GPU boards and their vGPU types: NVIDIA's name, vSphere's profile string,
    /// maxima, product and first release.
    Catalog {
        /// `.gpu` files or folders whose `catalog` statements add boards (optional).
        paths: Vec<PathBuf>,
        /// Only this board (an id or alias, e.g. `a40`).
        #[arg(long)]
        board: Option<String>,
        #[arg(long, value_enum, default_value_t = CatalogFormat::Human)]
        format: CatalogFormat,
        /// An extra GPU catalog (YAML) that adds or overrides boards.
        #[arg(long = "catalog", value_name = "FILE")]
        catalogs: Vec<PathBuf>,
    },
    /// Lay .gpu files out canonically, in place; comments are kept and the meaning never changes.
    Fmt {
        /// `.gpu` files, or folders searched for them; none, or `-`, formats stdin to stdout.
        paths: Vec<PathBuf>,
        /// Change nothing; list the files that would change, and exit 1 if any would.
        #[arg(long)]
        check: bool,
    },
    /// Explain a diagnostic code, or list every code.
    Explain {
        /// A code such as E1001.
        #[arg(required_unless_present = "list")]
        code: Option<String>,
        /// List every code with its one-line title.
        #[arg(long, conflicts_with = "code")]
        list: bool,
    },
    /// Serve the Language Server Protocol on stdin and stdout (for editors).
    Lsp,
    /// Compare two versions of an estate: the runbook phases, reboots and maintenance mode
    /// each host needs, the VMs to power off and their .vmx keys, GPU occupancy and guests.
    Diff {
        /// OLD and NEW (files or folders); with --git, the paths to compare with that revision.
        #[arg(required = true, value_name = "PATH")]
        paths: Vec<PathBuf>,
        /// Take the old version from this git revision (a commit, branch or tag) of the same paths.
        #[arg(long, value_name = "REV")]
        git: Option<String>,
        #[arg(long, value_enum, default_value_t = diff::DiffFormat::Human)]
        format: diff::DiffFormat,
        /// An extra GPU catalog (YAML) that adds or overrides boards, for both versions.
        #[arg(long = "catalog", value_name = "FILE")]
        catalogs: Vec<PathBuf>,
    },
    /// Print a shell completion script (bash, zsh, fish, powershell, elvish).
    Completions { shell: clap_complete::Shell },
    /// Print the manual page (roff): `gpuc man > gpuc.1`; with --output, write one page per
    /// command (gpuc.1, gpuc-check.1, ...) into a folder.
    Man {
        #[arg(long, short, value_name = "DIR")]
        output: Option<PathBuf>,
    },
}

#[derive(clap::Args)]
struct CheckOptions {
    /// How to print diagnostics.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    format: Format,
    /// Treat warnings as errors (exit 1).
    #[arg(long)]
    deny_warnings: bool,
    /// An extra GPU catalog (YAML) that adds or overrides boards.
    #[arg(long = "catalog", value_name = "FILE")]
    catalogs: Vec<PathBuf>,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    /// Graphical diagnostics on stderr.
    Human,
    /// One JSON report on stdout, with the facts derived per VM.
    Json,
    /// GitHub Actions workflow commands on stdout (annotations on a pull request).
    Github,
    /// A SARIF 2.1.0 log on stdout (GitHub code scanning and other review tools).
    Sarif,
}

#[derive(Clone, Copy, ValueEnum)]
enum CatalogFormat {
    Human,
    Json,
}

#[derive(Clone, Copy, ValueEnum)]
enum GraphFormat {
    Dot,
    Mermaid,
}

/// Runs the command line and returns the process exit code.
pub fn run(args: impl IntoIterator<Item = std::ffi::OsString>) -> ExitCode {
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { EXIT_USAGE } else { 0 });
        }
    };
    match cli.command {
        Command::Check { paths, options } => match compile(&paths, &options) {
            Ok(checked) => {
                exit_without_freeing(checked);
                ExitCode::SUCCESS
            }
            Err(code) => code,
        },
        Command::Build { paths, output, force, options } => build::run(&paths, &output, force, &options),
        Command::Graph { paths, format, catalogs } => {
            let options = CheckOptions { format: Format::Human, deny_warnings: false, catalogs };
            graph::run(&paths, format, &options)
        }
        Command::Catalog { paths, board, format, catalogs } => {
            catalog::run(&paths, &catalogs, board.as_deref(), matches!(format, CatalogFormat::Json))
        }
        Command::Fmt { paths, check } => fmt::run(&paths, check),
        Command::Explain { code, list } => explain::run(code.as_deref(), list),
        Command::Lsp => lsp::run(),
        Command::Diff { paths, git, format, catalogs } => diff::run(&paths, git.as_deref(), format, &catalogs),
        Command::Completions { shell } => completions::completions(shell),
        Command::Man { output } => completions::man(output.as_deref()),
    }
}

/// Leaves a large value for the operating system to reclaim at exit: freeing a 10,000-host
/// model node by node costs tens of milliseconds and nothing reads it again. Only for values
/// the process is done with just before it returns from `run`.
fn exit_without_freeing<T>(value: T) {
    std::mem::forget(value);
}

struct RealFileSystem;

impl crate::load::FileSystem for RealFileSystem {
    fn read(&self, path: &Path) -> std::io::Result<String> {
        String::from_utf8(self.read_bytes(path)?).map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
    }

    /// Refuses an over-large file before reading it into memory.
    fn read_bytes(&self, path: &Path) -> std::io::Result<Vec<u8>> {
        crate::load::refuse_oversized(std::fs::metadata(path)?.len())?;
        std::fs::read(path)
    }

    fn size(&self, path: &Path) -> Option<u64> {
        std::fs::metadata(path).ok().map(|m| m.len())
    }
}

/// Files named on the command line, with folders replaced by the `.gpu` files under them
/// (sorted, so the order is the same on every machine).
fn expand(paths: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() {
            let mut found = Vec::new();
            collect_gpu_files(path, &mut found).map_err(|e| format!("cannot read folder {}: {e}", path.display()))?;
            if found.is_empty() {
                return Err(format!("folder {} holds no .gpu file", path.display()));
            }
            found.sort();
            files.extend(found);
        } else {
            files.push(path.clone());
        }
    }
    Ok(files)
}

fn collect_gpu_files(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect_gpu_files(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "gpu") {
            out.push(path);
        }
    }
    Ok(())
}

fn usage_error(message: &str) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(EXIT_USAGE)
}

/// What the binary does before it checks a large estate, set once by `main`: tune the
/// allocator (return freed memory at once, no transparent huge pages). A small estate runs
/// faster with freed memory kept for reuse and with huge pages; a large one must not keep its
/// freed syntax trees resident beside its model, nor stall on huge-page compaction.
static BEFORE_LARGE_ESTATE: std::sync::OnceLock<fn()> = std::sync::OnceLock::new();

/// Spec files of at least this many bytes in all, imports included, make a large estate:
/// about 20,000 hosts.
const LARGE_ESTATE_BYTES: u64 = 32 << 20;

/// Sets what to do before a large estate is checked (see [`BEFORE_LARGE_ESTATE`]).
pub fn before_large_estate(hook: fn()) {
    let _ = BEFORE_LARGE_ESTATE.set(hook);
}

/// Checks the spec and prints its diagnostics. Returns the checked estate when it may be
/// compiled further, or the exit code to stop with.
fn compile(paths: &[PathBuf], options: &CheckOptions) -> Result<Checked, ExitCode> {
    let files = expand(paths).map_err(|e| usage_error(&e))?;
    let large_estate = BEFORE_LARGE_ESTATE.get().map(|&prepare| crate::LargeEstate { bytes: LARGE_ESTATE_BYTES, prepare });
    let input = Input { files, catalogs: options.catalogs.clone(), large_estate, ..Default::default() };
    let checked = match guarded(|| check(&input, &RealFileSystem)) {
        Ok(Ok(c)) => c,
        Ok(Err(unreadable)) if options.format == Format::Human => return Err(usage_error(&unreadable.to_string())),
        Ok(Err(unreadable)) => {
            // CI reads the report, not stderr: the unreadable file is a finding in it.
            let _ = report::print(&report::unreadable(&unreadable), options.format);
            return Err(ExitCode::from(EXIT_USAGE));
        }
        Err(panic) => return Err(internal_error(&panic)),
    };
    let failed = if report::print(&checked, options.format).is_err() {
        Some(EXIT_USAGE)
    } else if checked.has_errors() {
        Some(EXIT_SPEC)
    } else if let Some(denied) = report::denied_warnings(&checked.diagnostics).filter(|_| options.deny_warnings) {
        eprintln!("error: {denied}");
        Some(EXIT_SPEC)
    } else {
        None
    };
    match failed {
        Some(code) => {
            exit_without_freeing(checked);
            Err(ExitCode::from(code))
        }
        None => Ok(checked),
    }
}

fn planned(checked: &Checked) -> Result<crate::plan::Plan, ExitCode> {
    match guarded(|| crate::plan::plan(&checked.model, &checked.analysis)) {
        Ok(Ok(plan)) => Ok(plan),
        Ok(Err(d)) => {
            eprint!("{}", render::human(&d, &checked.sources, color_wanted(), 100));
            Err(ExitCode::from(EXIT_SPEC))
        }
        Err(panic) => Err(internal_error(&panic)),
    }
}

/// Runs `f`, turning a panic (a compiler bug) into its message instead of a crash.
fn guarded<T>(f: impl FnOnce() -> T + std::panic::UnwindSafe) -> Result<T, String> {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let result = std::panic::catch_unwind(f);
    std::panic::set_hook(previous);
    result.map_err(panic_message)
}

fn panic_message(payload: Box<dyn std::any::Any + Send>) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".to_string())
}

fn internal_error(message: &str) -> ExitCode {
    eprintln!(
        "error[{}]: internal compiler error: {message}\n  help: this is a bug in gpuc, not in your spec; please report it with the input that caused it",
        Code::Internal
    );
    ExitCode::from(EXIT_SPEC)
}
