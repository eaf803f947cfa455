//! The command line: the only place that touches the terminal and the file system.

use crate::diagnostics::render::{self, JsonDiagnostic};
use crate::diagnostics::Code;
use crate::model::{Firmware, Model};
use crate::{check, Checked, Input};
use clap::{Parser, Subcommand, ValueEnum};
use serde::Serialize;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

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
    /// Explain a diagnostic code, or list every code.
    Explain {
        /// A code such as E1001.
        #[arg(required_unless_present = "list")]
        code: Option<String>,
        /// List every code with its one-line title.
        #[arg(long, conflicts_with = "code")]
        list: bool,
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

#[derive(Clone, Copy, ValueEnum)]
enum Format {
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
        Command::Build { paths, output, force, options } => run_build(&paths, &output, force, &options),
        Command::Graph { paths, format, catalogs } => {
            let options = CheckOptions { format: Format::Human, deny_warnings: false, catalogs };
            run_graph(&paths, format, &options)
        }
        Command::Explain { code, list } => explain(code.as_deref(), list),
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
    /// Refuses an over-large file before reading it into memory.
    fn read(&self, path: &Path) -> std::io::Result<String> {
        if std::fs::metadata(path)?.len() > crate::load::MAX_FILE_BYTES as u64 {
            return Err(std::io::Error::other(format!("the file is larger than {} MiB", crate::load::MAX_FILE_BYTES >> 20)));
        }
        std::fs::read_to_string(path)
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

/// Checks the spec and prints its diagnostics. Returns the checked estate when it may be
/// compiled further, or the exit code to stop with.
fn compile(paths: &[PathBuf], options: &CheckOptions) -> Result<Checked, ExitCode> {
    let files = expand(paths).map_err(|e| usage_error(&e))?;
    let input = Input { files, catalogs: options.catalogs.clone() };
    let checked = match guarded(|| check(&input, &RealFileSystem)) {
        Ok(Ok(c)) => c,
        Ok(Err(unreadable)) => return Err(usage_error(&unreadable.to_string())),
        Err(panic) => return Err(internal_error(&panic)),
    };
    let failed = checked.has_errors() || (options.deny_warnings && !checked.diagnostics.is_empty());
    let printed = match options.format {
        Format::Human => print_human(&checked),
        Format::Json => print_json(&checked),
    };
    if printed.is_err() {
        return Err(ExitCode::from(EXIT_USAGE));
    }
    if failed {
        Err(ExitCode::from(EXIT_SPEC))
    } else {
        Ok(checked)
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

fn run_build(paths: &[PathBuf], output: &Path, force: bool, options: &CheckOptions) -> ExitCode {
    let (checked, plan) = match compile(paths, options).and_then(|c| planned(&c).map(|p| (c, p))) {
        Ok(both) => both,
        Err(code) => return code,
    };
    let parts = match guarded(|| crate::emit::Output::new(&checked, &plan)) {
        Ok(parts) => parts,
        Err(panic) => return internal_error(&panic),
    };
    match write_output(output, &parts, force) {
        Ok(files) => {
            if matches!(options.format, Format::Human) {
                eprintln!("wrote {files} files to {}", output.display());
            }
            drop(parts);
            exit_without_freeing((checked, plan));
            ExitCode::SUCCESS
        }
        Err(WriteFailure::Io(e)) => usage_error(&e),
        Err(WriteFailure::Bug(panic)) => internal_error(&panic),
    }
}

fn run_graph(paths: &[PathBuf], format: GraphFormat, options: &CheckOptions) -> ExitCode {
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

/// The file that marks a folder as written by `gpuc build`, which may then replace it.
const MARKER: &str = ".gpuc-output";

/// Why the output could not be written: the file system, or a panic while rendering (a bug).
enum WriteFailure {
    Io(String),
    Bug(String),
}

impl From<String> for WriteFailure {
    fn from(message: String) -> Self {
        WriteFailure::Io(message)
    }
}

/// Renders the output into a fresh folder beside `dir`, then swaps it in with renames, so a
/// failure leaves `dir` as it was. Refuses to replace a non-empty folder gpuc did not write.
/// Returns how many files it wrote.
fn write_output(dir: &Path, output: &crate::emit::Output, force: bool) -> Result<usize, WriteFailure> {
    let exists = dir.exists();
    if exists {
        let ours = dir.join(MARKER).is_file() || std::fs::read_dir(dir).map(|mut d| d.next().is_none()).unwrap_or(false);
        if !dir.is_dir() || (!ours && !force) {
            return Err(WriteFailure::Io(format!(
                "{} exists and was not written by gpuc build; choose another folder or pass --force to replace it",
                dir.display()
            )));
        }
    }
    let name = dir
        .file_name()
        .and_then(|n| n.to_str())
        .filter(|n| !n.is_empty() && *n != "..")
        .ok_or_else(|| format!("{} is not a folder name gpuc can write", dir.display()))?;
    let parent = match dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&parent).map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
    let staging = parent.join(format!(".{name}.gpuc-new-{}", std::process::id()));
    let result = stage(&staging, output).and_then(|files| {
        if exists {
            let old = parent.join(format!(".{name}.gpuc-old-{}", std::process::id()));
            std::fs::rename(dir, &old).map_err(|e| format!("cannot move {} aside: {e}", dir.display()))?;
            if let Err(e) = std::fs::rename(&staging, dir) {
                let _ = std::fs::rename(&old, dir);
                return Err(format!("cannot move the new output into {}: {e}", dir.display()).into());
            }
            // The same estate built again is the usual case: size the removal by the new output.
            remove_tree(&old, output.parts() >= PARALLEL_PARTS);
            Ok(files)
        } else {
            std::fs::rename(&staging, dir)
                .map_err(|e| format!("cannot move the new output into {}: {e}", dir.display()).into())
                .map(|()| files)
        }
    });
    if result.is_err() {
        let _ = std::fs::remove_dir_all(&staging);
    }
    result
}

/// Outputs of fewer parts than this are written, and the output they replace removed, on the
/// calling thread: a one-host build takes a few milliseconds, and starting threads (on cores
/// that may be busy) would cost as much again.
const PARALLEL_PARTS: usize = 256;

/// Removes a previous output folder (best effort); with `parallel`, its top-level entries at
/// once: a large estate's `vms/` and `guests/` each hold a file or folder per VM.
fn remove_tree(dir: &Path, parallel: bool) {
    if parallel {
        let entries: Vec<PathBuf> =
            std::fs::read_dir(dir).map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect()).unwrap_or_default();
        std::thread::scope(|scope| {
            for entry in &entries {
                scope.spawn(move || if entry.is_dir() { std::fs::remove_dir_all(entry) } else { std::fs::remove_file(entry) });
            }
        });
    }
    let _ = std::fs::remove_dir_all(dir);
}

/// Renders and writes every part of the output into `staging`, one thread per core taking the
/// next part as it finishes one: rendering is CPU bound and creating files system-call bound,
/// and no part waits for another, so nothing is held beyond the part being written.
fn stage(staging: &Path, output: &crate::emit::Output) -> Result<usize, WriteFailure> {
    let _ = std::fs::remove_dir_all(staging);
    std::fs::create_dir_all(staging).map_err(|e| cannot_write(staging, e))?;
    std::fs::write(staging.join(MARKER), "written by gpuc build; gpuc build may replace this folder\n")
        .map_err(|e| cannot_write(staging, e))?;
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let writer = || -> Result<usize, String> {
        let mut sink = FileSink::new(staging);
        while !failed.load(Ordering::Relaxed) {
            let part = next.fetch_add(1, Ordering::Relaxed);
            if part >= output.parts() {
                break;
            }
            output.render(part, &mut sink);
            if let Some(e) = sink.finish() {
                failed.store(true, Ordering::Relaxed);
                return Err(e);
            }
        }
        Ok(sink.files)
    };
    let threads = if output.parts() < PARALLEL_PARTS { 1 } else { std::thread::available_parallelism().map_or(1, |n| n.get()) };
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let results: Vec<std::thread::Result<Result<usize, String>>> = if threads == 1 {
        vec![std::panic::catch_unwind(std::panic::AssertUnwindSafe(writer))]
    } else {
        std::thread::scope(|scope| {
            let writers: Vec<_> = (0..threads).map(|_| scope.spawn(writer)).collect();
            writers.into_iter().map(|w| w.join()).collect()
        })
    };
    std::panic::set_hook(previous);
    let mut files = 0;
    for result in results {
        files += result.map_err(|panic| WriteFailure::Bug(panic_message(panic)))??;
    }
    Ok(files)
}

fn cannot_write(path: &Path, e: std::io::Error) -> String {
    format!("cannot write {}: {e}", path.display())
}

/// The folders one writer has made or found. A large estate has a folder per guest: asking
/// once per folder costs one `mkdir` each, where opening files blindly cost a failed `open`.
#[derive(Default)]
struct Folders(rustc_hash::FxHashSet<PathBuf>);

impl Folders {
    fn ensure(&mut self, folder: &Path) -> std::io::Result<()> {
        if self.0.contains(folder) {
            return Ok(());
        }
        match std::fs::create_dir(folder) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => std::fs::create_dir_all(folder)?,
            Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => return Err(e),
            _ => {}
        }
        self.0.insert(folder.to_path_buf());
        Ok(())
    }
}

/// Writes rendered files into the staging folder as their text comes (scripts executable),
/// making folders as needed, through one buffer reused for every file. The first error
/// stops it and is kept for [`FileSink::finish`].
struct FileSink<'a> {
    staging: &'a Path,
    folders: Folders,
    file: Option<(PathBuf, std::fs::File)>,
    buffer: Vec<u8>,
    files: usize,
    error: Option<String>,
}

/// Text is written out in pieces of this size: a large plan.md never sits whole in memory.
const WRITE_CHUNK: usize = 256 * 1024;

impl<'a> FileSink<'a> {
    fn new(staging: &'a Path) -> Self {
        FileSink { staging, folders: Folders::default(), file: None, buffer: Vec::with_capacity(WRITE_CHUNK), files: 0, error: None }
    }

    /// Writes out the buffer to the current file.
    fn drain(&mut self) {
        if let Some((path, file)) = &mut self.file {
            if let Err(e) = file.write_all(&self.buffer) {
                self.error.get_or_insert_with(|| cannot_write(path, e));
            }
        }
        self.buffer.clear();
    }

    /// Ends the current file; returns the first error since the last call, if any.
    fn finish(&mut self) -> Option<String> {
        self.drain();
        self.file = None;
        self.error.take()
    }

    fn create(&mut self, relative: &str) -> Result<(PathBuf, std::fs::File), String> {
        let path = self.staging.join(relative);
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(if relative.ends_with(".sh") { 0o755 } else { 0o644 });
        }
        match path.parent().map_or(Ok(()), |folder| self.folders.ensure(folder)).and_then(|()| options.open(&path)) {
            Ok(file) => Ok((path, file)),
            Err(e) => Err(cannot_write(&path, e)),
        }
    }
}

impl std::fmt::Write for FileSink<'_> {
    fn write_str(&mut self, text: &str) -> std::fmt::Result {
        if self.file.is_none() || self.error.is_some() {
            return Err(std::fmt::Error);
        }
        self.buffer.extend_from_slice(text.as_bytes());
        if self.buffer.len() >= WRITE_CHUNK {
            self.drain();
        }
        Ok(())
    }
}

impl crate::emit::Sink for FileSink<'_> {
    fn start(&mut self, relative: &str) {
        self.error = self.finish();
        if self.error.is_some() {
            return;
        }
        match self.create(relative) {
            Ok(file) => {
                self.file = Some(file);
                self.files += 1;
            }
            Err(e) => self.error = Some(e),
        }
    }

    fn as_write(&mut self) -> &mut dyn std::fmt::Write {
        self
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

fn color_wanted() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && std::io::stderr().is_terminal()
}

fn print_human(checked: &Checked) -> std::io::Result<()> {
    let color = color_wanted();
    let mut err = std::io::stderr().lock();
    for d in &checked.diagnostics {
        write!(err, "{}", render::human(d, &checked.sources, color, 100))?;
        writeln!(err)?;
    }
    if !checked.diagnostics.is_empty() {
        writeln!(err, "{}", render::summary(&checked.diagnostics))?;
    }
    Ok(())
}

#[derive(Serialize)]
struct JsonReport {
    ok: bool,
    summary: JsonSummary,
    diagnostics: Vec<JsonDiagnostic>,
    vms: Vec<JsonVm>,
}

#[derive(Serialize)]
struct JsonSummary {
    errors: usize,
    warnings: usize,
}

/// The derived facts of one VM.
#[derive(Serialize)]
struct JsonVm {
    name: String,
    host: Option<String>,
    /// `efi` when the GPUs require it or it is declared; `bios` when declared; else null.
    firmware: Option<&'static str>,
    efi_required: bool,
    use_64bit_mmio: bool,
    mmio_size_gb: Option<u64>,
    memory_mb: u64,
    reservation_mb: Option<u64>,
    passthrough: Vec<String>,
    vgpus: Vec<JsonVgpu>,
}

#[derive(Serialize)]
struct JsonVgpu {
    #[serde(rename = "type")]
    kind: String,
    /// The GPU the vGPU was placed on (`host.gpu`); null when it could not be placed.
    gpu: Option<String>,
}

fn vm_facts(checked: &Checked) -> Vec<JsonVm> {
    let model: &Model = &checked.model;
    model
        .vm_ids()
        .filter_map(|id| {
            let vm = model.vm(id);
            let facts = checked.analysis.vms.get(id.index())?;
            let firmware = match vm.firmware.as_ref().map(|f| f.value) {
                Some(Firmware::Bios) if !facts.efi => Some("bios"),
                Some(_) => Some("efi"),
                None => facts.efi.then_some("efi"),
            };
            Some(JsonVm {
                name: vm.name.clone(),
                host: vm.host.map(|h| model.host(h).name.clone()),
                firmware,
                efi_required: facts.efi,
                use_64bit_mmio: facts.mmio.is_some(),
                mmio_size_gb: facts.mmio.map(|m| m.as_gib_ceil()),
                memory_mb: vm.memory.value.as_mib_ceil(),
                reservation_mb: facts.reservation.map(|r| r.as_mib_ceil()),
                passthrough: vm.passthrough.iter().map(|g| model.gpu_label(g.value)).collect(),
                vgpus: vm
                    .vgpus
                    .iter()
                    .enumerate()
                    .map(|(i, r)| JsonVgpu {
                        kind: r.type_name.clone(),
                        gpu: facts.placements.get(i).copied().flatten().map(|g| model.gpu_label(g)),
                    })
                    .collect(),
            })
        })
        .collect()
}

fn print_json(checked: &Checked) -> std::io::Result<()> {
    let diagnostics: Vec<JsonDiagnostic> = checked.diagnostics.iter().map(|d| JsonDiagnostic::of(d, &checked.sources)).collect();
    let errors = checked.diagnostics.iter().filter(|d| d.is_error()).count();
    let report = JsonReport {
        ok: errors == 0,
        summary: JsonSummary { errors, warnings: checked.diagnostics.len() - errors },
        diagnostics,
        vms: vm_facts(checked),
    };
    let mut out = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, &report).map_err(std::io::Error::other)?;
    writeln!(out)
}

fn explain(code: Option<&str>, list: bool) -> ExitCode {
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
