//! `gpuc` compiles `.gpu` files — VMware ESXi hosts, their NVIDIA GPUs, the VMs that use them
//! and how GPUs are shared — into what an administrator applies, after proving the
//! description sound against the vendors' rules.
//!
//! | Stage | Module | Input -> output | Fails how |
//! |---|---|---|---|
//! | load + parse | [`load`], `syntax` | files -> entities (the grammar is `grammar/gpu.pest`) | every syntax error, recovering at the next top-level block |
//! | lower | [`model`] | entities + [`catalog`] -> typed model | every resolution and value error at once |
//! | check | [`check`] | model -> diagnostics + derived facts | every rule violation at once |
//!
//! Parsing and lowering run side by side: the loader hands each entity to a lowering thread
//! as soon as it is parsed ([`check`] says when the whole trees are lowered instead).
//!
//! The library does no IO: files are read through [`load::FileSystem`], and diagnostics
//! are returned, never printed.

pub mod catalog;
pub mod check;
pub mod cli;
pub mod diagnostics;
pub mod diff;
pub mod emit;
pub mod fmt;
pub mod load;
pub mod lsp;
pub mod model;
pub mod plan;
pub mod quantity;
pub mod source;
pub mod syntax;
#[cfg(test)]
mod test_support;

use diagnostics::{Diagnostic, Diagnostics};
use source::Sources;
use std::path::PathBuf;

/// What the user asked to compile.
#[derive(Clone, Debug, Default)]
pub struct Input {
    /// `.gpu` files, in order (folders are expanded by the caller).
    pub files: Vec<PathBuf>,
    /// Extra catalog files (`--catalog`).
    pub catalogs: Vec<PathBuf>,
    /// Guards against hostile input, sized above the largest estates.
    pub limits: Limits,
    /// What to do once the spec files read pass a size, before the file that passes it is parsed.
    pub large_estate: Option<LargeEstate>,
}

/// A preparation for a large estate (the binary tunes its allocator with it), made once the
/// spec files read, imports included, reach `bytes`.
#[derive(Clone, Copy, Debug)]
pub struct LargeEstate {
    pub bytes: u64,
    pub prepare: fn(),
}

/// How much one run reads: far above the largest estates the tool is built for, so that only
/// hostile input (a range that expands to millions of names) meets them.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Most hosts, VMs, licences and pools in all, ranges expanded.
    pub entities: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { entities: model::lower::MAX_ENTITIES }
    }
}

/// A checked estate: the model, what checking derived, and every diagnostic in source order.
pub struct Checked {
    pub sources: Sources,
    pub model: model::Model,
    pub analysis: check::Analysis,
    pub diagnostics: Vec<Diagnostic>,
}

impl Checked {
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }
}

/// Loads, lowers and checks. Import and catalog errors stop before lowering (the model would
/// be missing whole files). Syntax errors do not: lowering and checking go on with what
/// parsed, and what they find inside an entity with a syntax error is left out, since it may
/// follow from the syntax error alone. Everything else is reported together.
///
/// Entities are lowered on a second thread as they are parsed, so that the estate's syntax
/// tree never exists whole; when that cannot give the whole-tree result (a VM names a host or
/// licence declared after it, or the catalog is not only the built-in one), the trees are
/// lowered whole instead.
pub fn check(input: &Input, fs: &dyn load::FileSystem) -> Result<Checked, load::RootUnreadable> {
    check_lowering(input, fs, Lowering::Streamed)
}

/// How [`check`] lowers: `Whole` is only for tests that hold the two to each other.
#[derive(Clone, Copy, PartialEq)]
enum Lowering {
    Streamed,
    #[cfg(test)]
    Whole,
}

fn check_lowering(input: &Input, fs: &dyn load::FileSystem, lowering: Lowering) -> Result<Checked, load::RootUnreadable> {
    let mut sources = Sources::default();
    let mut diags = Diagnostics::default();
    let texts = load::Texts::default();
    let mut load = |stream| load::load(&input.files, &input.catalogs, input.large_estate, fs, &texts, &mut sources, &mut diags, stream);
    let (loaded, streamed) = match load::streaming_catalog(&input.catalogs).filter(|_| lowering == Lowering::Streamed) {
        Some(catalog) => std::thread::scope(|scope| {
            let (sender, entities) = std::sync::mpsc::sync_channel(STREAM_DEPTH);
            let (give_back, spent) = std::sync::mpsc::channel();
            let lowering = scope.spawn(move || {
                let mut lowered = Diagnostics::default();
                let give_back = |batch| give_back.send(batch).unwrap_or_default();
                let model = model::lower::lower_streamed(entities, give_back, catalog, input.limits, &mut lowered);
                model.map(|model| (model, lowered))
            });
            let loaded = load(Some(load::Stream { sender, spent }));
            let streamed = lowering.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            (loaded, streamed)
        }),
        None => (load(None), None),
    };
    let mut loaded = loaded?;
    if diags.has_errors() {
        diags.extend(loaded.syntax_errors);
        return Ok(Checked {
            sources,
            model: model::Model::default(),
            analysis: check::Analysis::default(),
            diagnostics: diags.into_sorted(),
        });
    }
    let damaged: Vec<source::Span> = loaded.files.iter().flat_map(|file| file.damaged.iter().copied()).collect();
    let model = match streamed.filter(|_| loaded.streamed_whole) {
        Some((model, lowered)) => {
            diags.extend(lowered.into_sorted());
            model
        }
        None => {
            loaded.whole_trees();
            let catalog = loaded.catalog();
            // Lowering takes the trees and frees them as it goes, before checking builds its facts.
            model::lower::lower(loaded.files, catalog, input.limits, &mut diags)
        }
    };
    let analysis = check::check(&model, &mut diags);
    let inside_damaged = |d: &Diagnostic| {
        let at = d.primary.span;
        damaged.iter().any(|region| region.file == at.file && region.start <= at.start && at.start < region.end)
    };
    let mut kept = Diagnostics::default();
    kept.extend(diags.into_sorted().into_iter().filter(|d| !inside_damaged(d)));
    kept.extend(loaded.syntax_errors);
    Ok(Checked { sources, model, analysis, diagnostics: kept.into_sorted() })
}

/// Batches of entities parsed ahead of lowering: enough to keep both threads busy.
const STREAM_DEPTH: usize = 4;

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    /// The spec files a test reads, and the same files with their lines reversed.
    struct Disk {
        reversed: bool,
    }

    impl load::FileSystem for Disk {
        fn read(&self, path: &Path) -> std::io::Result<String> {
            let text = std::fs::read_to_string(path)?;
            Ok(if self.reversed { text.lines().rev().map(|line| format!("{line}\n")).collect() } else { text })
        }
    }

    /// What a check gives: the model, the facts and every diagnostic.
    fn outcome(input: &Input, fs: &Disk, lowering: Lowering) -> String {
        match check_lowering(input, fs, lowering) {
            Ok(c) => format!("{:#?}\n{:#?}\n{:#?}", c.model, c.analysis, c.diagnostics),
            Err(e) => e.to_string(),
        }
    }

    /// Streamed lowering is only an order of work: on every rule example and bundled example,
    /// as written and with its lines reversed (VMs before their hosts, blocks broken), it gives
    /// what lowering the whole trees gives.
    #[test]
    fn streamed_lowering_gives_the_whole_tree_result() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut files: Vec<_> = ["tests/rules", "examples"]
            .iter()
            .flat_map(|dir| std::fs::read_dir(root.join(dir)).expect("the folder is in the repository"))
            .map(|entry| entry.expect("readable").path())
            .filter(|path| path.extension().is_some_and(|e| e == "gpu"))
            .collect();
        files.sort();
        assert!(files.len() > 80, "{} files", files.len());
        for path in files {
            let input = Input { files: vec![path.clone()], ..Default::default() };
            for reversed in [false, true] {
                let fs = Disk { reversed };
                assert_eq!(
                    outcome(&input, &fs, Lowering::Streamed),
                    outcome(&input, &fs, Lowering::Whole),
                    "{} (reversed: {reversed})",
                    path.display()
                );
            }
        }
    }
}
