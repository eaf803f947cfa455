//! `gpuc diff`: checks and plans two versions of an estate, then prints what the change needs
//! (runbook phases, reboots, power-offs, `.vmx` keys, GPU occupancy, guest licences). The old
//! version is a second file or folder, or the same paths at a git revision, which `git
//! archive` copies into a temporary folder: reads are mapped there, so diagnostics still name
//! the paths the user wrote.

use super::report;
use super::{expand, guarded, internal_error, planned, usage_error, Format, RealFileSystem, EXIT_SPEC, EXIT_USAGE};
use crate::diff::render::{self, Labels};
use crate::diff::Side;
use crate::load::FileSystem;
use crate::plan::Plan;
use crate::{check, Checked, Input};
use clap::ValueEnum;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};

#[derive(Clone, Copy, ValueEnum)]
pub(super) enum DiffFormat {
    /// Plain text.
    Human,
    /// A pull-request comment: a summary table and collapsible details.
    Markdown,
    /// One JSON document.
    Json,
}

pub(super) fn run(paths: &[PathBuf], git: Option<&str>, format: DiffFormat, catalogs: &[PathBuf]) -> ExitCode {
    let revision;
    let (old_files, new_files, old_fs, old_label): (Vec<PathBuf>, Vec<PathBuf>, &dyn FileSystem, String) = match git {
        Some(rev) => {
            revision = match Revision::extract(rev) {
                Ok(r) => r,
                Err(e) => return usage_error(&e),
            };
            // A path the change adds is not at REV: its old version is an empty estate.
            let (mapped, added): (Vec<PathBuf>, Vec<PathBuf>) = paths.iter().map(|p| revision.map(p)).partition(|p| p.exists());
            for path in &added {
                eprintln!("note: {} is not in {rev}; everything in it is compared as added", revision.unmap(path).display());
            }
            let old = match expand(&mapped) {
                Ok(files) => files.iter().map(|f| revision.unmap(f)).collect(),
                Err(e) => return usage_error(&format!("at {rev}: {}", e.replace(&revision.tree.display().to_string(), "."))),
            };
            match expand(paths) {
                Ok(new) => (old, new, &revision, rev.to_string()),
                Err(e) => return usage_error(&e),
            }
        }
        None => {
            let [old, new] = paths else {
                return usage_error(
                    "gpuc diff compares two files or folders, OLD and NEW, or the PATHs against a git revision with --git REV",
                );
            };
            match (expand(std::slice::from_ref(old)), expand(std::slice::from_ref(new))) {
                (Ok(o), Ok(n)) => (o, n, &RealFileSystem, old.display().to_string()),
                (Err(e), _) | (_, Err(e)) => return usage_error(&e),
            }
        }
    };
    let new_label = match git {
        Some(_) => paths.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(" "),
        None => paths[1].display().to_string(),
    };
    let old_input = Input { files: old_files, catalogs: catalogs.to_vec(), ..Default::default() };
    let new_input = Input { files: new_files, catalogs: catalogs.to_vec(), ..Default::default() };
    let (old, old_plan) = match checked_and_planned(&old_label, &old_input, old_fs) {
        Ok(both) => both,
        Err(code) => return code,
    };
    let (new, new_plan) = match checked_and_planned(&new_label, &new_input, &RealFileSystem) {
        Ok(both) => both,
        Err(code) => return code,
    };
    let review = match guarded(|| crate::diff::review(Side { checked: &old, plan: &old_plan }, Side { checked: &new, plan: &new_plan })) {
        Ok(review) => review,
        Err(panic) => return internal_error(&panic),
    };
    let labels = Labels { old: &old_label, new: &new_label };
    let text = match format {
        DiffFormat::Human => render::human(&review, labels),
        DiffFormat::Markdown => render::markdown(&review, labels),
        DiffFormat::Json => match render::json(&review, labels) {
            Ok(text) => text,
            Err(e) => return internal_error(&e.to_string()),
        },
    };
    match std::io::stdout().lock().write_all(text.as_bytes()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(_) => ExitCode::from(EXIT_USAGE),
    }
}

/// One version checked and planned; a version with errors is reported on stderr (exit 1).
fn checked_and_planned(label: &str, input: &Input, fs: &dyn FileSystem) -> Result<(Checked, Plan), ExitCode> {
    let checked = match guarded(std::panic::AssertUnwindSafe(|| check(input, fs))) {
        Ok(Ok(checked)) => checked,
        Ok(Err(unreadable)) => return Err(usage_error(&format!("{label}: {unreadable}"))),
        Err(panic) => return Err(internal_error(&panic)),
    };
    if checked.has_errors() {
        eprintln!("error: {label} does not check, so it cannot be compared:");
        let _ = report::print(&checked, Format::Human);
        return Err(ExitCode::from(EXIT_SPEC));
    }
    let plan = planned(&checked)?;
    Ok((checked, plan))
}

/// The tree of a git revision, copied into a temporary folder (removed when dropped).
struct Revision {
    _folder: tempfile::TempDir,
    /// The copy of the repository's top level.
    tree: PathBuf,
    /// The copy of the current directory.
    cwd: PathBuf,
    /// The repository's top level on disk.
    toplevel: PathBuf,
}

/// Runs git and returns its standard output, trimmed.
fn git(args: &[&str]) -> Result<String, String> {
    let output = Command::new("git").args(args).output().map_err(|e| format!("cannot run git: {e}"))?;
    if !output.status.success() {
        return Err(format!("git {}: {}", args.join(" "), String::from_utf8_lossy(&output.stderr).trim()));
    }
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_string())
}

impl Revision {
    fn extract(rev: &str) -> Result<Revision, String> {
        let toplevel = PathBuf::from(git(&["rev-parse", "--show-toplevel"])?);
        let prefix = git(&["rev-parse", "--show-prefix"])?;
        // Refuses an option-like or unknown revision before anything runs with it.
        let commit = git(&["rev-parse", "--verify", "--end-of-options", &format!("{rev}^{{commit}}")])?;
        let folder =
            tempfile::Builder::new().prefix("gpuc-diff-").tempdir().map_err(|e| format!("cannot create a temporary folder: {e}"))?;
        let tree = folder.path().join("tree");
        std::fs::create_dir(&tree).map_err(|e| format!("cannot create {}: {e}", tree.display()))?;
        let mut archive = Command::new("git")
            .arg("-C")
            .arg(&toplevel)
            .args(["archive", "--format=tar", &commit])
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot run git archive: {e}"))?;
        let stdout = archive.stdout.take().ok_or("git archive gave no output")?;
        let unpacked = Command::new("tar").args(["-x", "-f", "-", "-C"]).arg(&tree).stdin(stdout).status();
        let archived = archive.wait().map_err(|e| format!("git archive: {e}"))?;
        match unpacked {
            Ok(status) if status.success() && archived.success() => {}
            Ok(_) => return Err(format!("cannot copy {rev} out of git (git archive | tar -x failed)")),
            Err(e) => return Err(format!("cannot run tar: {e}")),
        }
        Ok(Revision { cwd: tree.join(prefix), tree, toplevel, _folder: folder })
    }

    /// Where a path the user wrote is in the copy.
    fn map(&self, path: &Path) -> PathBuf {
        if path.is_relative() {
            return self.cwd.join(path);
        }
        match path.strip_prefix(&self.toplevel) {
            Ok(inside) => self.tree.join(inside),
            Err(_) => path.to_path_buf(),
        }
    }

    /// The path the user knows for a file in the copy.
    fn unmap(&self, path: &Path) -> PathBuf {
        if let Ok(relative) = path.strip_prefix(&self.cwd) {
            return relative.to_path_buf();
        }
        path.strip_prefix(&self.tree).map_or_else(|_| path.to_path_buf(), |inside| self.toplevel.join(inside))
    }
}

impl FileSystem for Revision {
    fn read(&self, path: &Path) -> std::io::Result<String> {
        RealFileSystem.read(&self.map(path))
    }

    fn read_bytes(&self, path: &Path) -> std::io::Result<Vec<u8>> {
        RealFileSystem.read_bytes(&self.map(path))
    }
}
