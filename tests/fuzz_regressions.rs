//! Every input the fuzzers (fuzz/) ever crashed on, minimised, lives in tests/fuzz-regressions/
//! as `<target>-<n>.gpu`; each goes through the whole pipeline (check, rendering of every
//! diagnostic, and for a clean spec, plan and emit) without panicking.

mod common;

use gpuc::diagnostics::render;

/// What fuzz/fuzz_targets/pipeline.rs does with one input.
fn compile(text: &str) {
    let checked = common::check_text(text);
    for d in &checked.diagnostics {
        let _ = render::human(d, &checked.sources, false, 100);
        let _ = serde_json::to_string(&render::JsonDiagnostic::of(d, &checked.sources));
    }
    if !checked.has_errors() {
        if let Ok(plan) = gpuc::plan::plan(&checked.model, &checked.analysis) {
            let _ = gpuc::emit::artefacts(&checked, &plan);
        }
    }
}

#[test]
fn every_fuzz_regression_compiles_without_panic() {
    let files = common::files_in("tests/fuzz-regressions", "gpu");
    assert!(!files.is_empty(), "tests/fuzz-regressions holds the fuzzers' reproducers");
    let mut panicked = Vec::new();
    for file in &files {
        let bytes = std::fs::read(file).expect("readable");
        let text = String::from_utf8_lossy(&bytes);
        if std::panic::catch_unwind(|| compile(&text)).is_err() {
            panicked.push(file.display().to_string());
        }
    }
    assert!(panicked.is_empty(), "these fuzz reproducers panic: {panicked:?}");
}
