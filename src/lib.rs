//! `gpuc` compiles `.gpu` files — VMware ESXi hosts, their NVIDIA GPUs, the VMs that use them
//! and how GPUs are shared — into what an administrator applies, after proving the
//! description sound against the vendors' rules.
//!
//! | Stage | Module | Input -> output | Fails how |
//! |---|---|---|---|
//! | load + parse | [`load`], `syntax` | files -> syntax trees (the grammar is `grammar/gpu.pest`) | one syntax error per file |
//! | lower | [`model`] | trees + [`catalog`] -> typed model | every resolution and value error at once |
//! | check | [`check`] | model -> diagnostics + derived facts | every rule violation at once |
//!
//! The library does no IO: files are read through [`load::FileSystem`], and diagnostics
//! are returned, never printed.

pub mod catalog;
pub mod check;
pub mod cli;
pub mod diagnostics;
pub mod emit;
pub mod load;
pub mod model;
pub mod plan;
pub mod quantity;
pub mod source;
mod syntax;
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

/// Loads, lowers and checks. Syntax, import and catalog errors stop before lowering (the
/// model would be missing whole files); lowering and rule errors are all reported together.
pub fn check(input: &Input, fs: &dyn load::FileSystem) -> Result<Checked, load::RootUnreadable> {
    let mut sources = Sources::default();
    let mut diags = Diagnostics::default();
    let texts = load::Texts::default();
    let loaded = load::load(&input.files, &input.catalogs, fs, &texts, &mut sources, &mut diags)?;
    if diags.has_errors() {
        return Ok(Checked {
            sources,
            model: model::Model::default(),
            analysis: check::Analysis::default(),
            diagnostics: diags.into_sorted(),
        });
    }
    let model = model::lower::lower(&loaded.files, loaded.catalog, &mut diags);
    // The trees are done with: free them before checking builds its facts.
    drop(loaded.files);
    let analysis = check::check(&model, &mut diags);
    Ok(Checked { sources, model, analysis, diagnostics: diags.into_sorted() })
}
