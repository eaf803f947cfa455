//! The whole pipeline on one file: check, render every diagnostic (human and JSON), and for a
//! spec without errors, plan and emit. Nothing may panic.
#![no_main]

use gpuc::diagnostics::render;
use libfuzzer_sys::fuzz_target;

#[path = "one_file.rs"]
mod one_file;

fn render_all<'a>(diagnostics: impl IntoIterator<Item = &'a gpuc::diagnostics::Diagnostic>, checked: &gpuc::Checked) {
    for d in diagnostics {
        let _ = render::human(d, &checked.sources, false, 100);
        let json = render::JsonDiagnostic::of(d, &checked.sources);
        let _ = serde_json::to_string(&json).expect("a diagnostic serialises");
    }
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let checked = one_file::check(&text);
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
