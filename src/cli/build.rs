//! `gpuc build`: check, plan, render, and write the output folder atomically (staging folder,
//! then a swap), part by part on every core.

use super::{compile, exit_without_freeing, guarded, internal_error, panic_message, planned, usage_error, CheckOptions, Format};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

pub(super) fn run(paths: &[PathBuf], output: &Path, force: bool, options: &CheckOptions) -> ExitCode {
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
/// once: a large estate's `vms/` holds a file per VM and `hosts/` a folder per host.
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

/// The folders one writer has made or found, by their path relative to the staging folder
/// (a string: hashing a `Path` walks its components). A large estate has a folder per host:
/// asking once per folder costs one `mkdir` each, where opening files blindly cost a failed
/// `open`.
#[derive(Default)]
struct Folders(rustc_hash::FxHashSet<String>);

impl Folders {
    fn ensure(&mut self, staging: &Path, relative: &str) -> std::io::Result<()> {
        if self.0.contains(relative) {
            return Ok(());
        }
        let folder = staging.join(relative);
        match std::fs::create_dir(&folder) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => std::fs::create_dir_all(&folder)?,
            Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => return Err(e),
            _ => {}
        }
        self.0.insert(relative.to_string());
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
        let folder = relative.rsplit_once('/').map(|(folder, _)| folder);
        match folder.map_or(Ok(()), |folder| self.folders.ensure(self.staging, folder)).and_then(|()| options.open(&path)) {
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
