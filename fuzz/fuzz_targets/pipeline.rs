//! The whole pipeline on one file: check, render every diagnostic (human and JSON), and for a
//! spec without errors, plan and emit. Nothing may panic.
#![no_main]

use gpuc::diagnostics::render;
use gpuc::load::FileSystem;
use libfuzzer_sys::fuzz_target;
use std::path::{Path, PathBuf};

/// Serves the fuzz input as `fuzz.gpu`; every other path (imports, catalogs) is missing.
struct OneFile<'a>(&'a str);

impl FileSystem for OneFile<'_> {
    fn read(&self, path: &Path) -> std::io::Result<String> {
        if path == Path::new("fuzz.gpu") {
            Ok(self.0.to_string())
        } else {
            Err(std::io::Error::new(std::io::ErrorKind::NotFound, "not in the fuzz input"))
        }
    }
}

fn render_all<'a>(diagnostics: impl IntoIterator<Item = &'a gpuc::diagnostics::Diagnostic>, checked: &gpuc::Checked) {
    for d in diagnostics {
        let _ = render::human(d, &checked.sources, false, 100);
        let json = render::JsonDiagnostic::of(d, &checked.sources);
        let _ = serde_json::to_string(&json).expect("a diagnostic serialises");
    }
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let input = gpuc::Input { files: vec![PathBuf::from("fuzz.gpu")], catalogs: Vec::new() };
    let checked = gpuc::check(&input, &OneFile(&text)).expect("fuzz.gpu is always readable");
    render_all(&checked.diagnostics, &checked);
    if checked.has_errors() {
        return;
    }
    match gpuc::plan::plan(&checked.model, &checked.analysis) {
        Ok(plan) => {
            let _ = gpuc::emit::artefacts(&checked, &plan);
        }
        Err(d) => render_all([d.as_ref()], &checked),
    }
});
