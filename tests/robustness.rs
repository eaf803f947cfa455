//! No input makes the compiler panic: every prefix of every example and test spec goes
//! through the whole pipeline (check, and for a clean prefix, plan and emit).

mod common;

fn compile(text: &str) {
    let checked = common::check_text(text);
    if !checked.has_errors() {
        if let Ok(plan) = gpuc::plan::plan(&checked.model, &checked.analysis) {
            let _ = gpuc::emit::artefacts(&checked, &plan);
        }
    }
}

#[test]
fn every_prefix_of_every_spec_checks_without_panic() {
    let mut files = common::files_in("examples", "gpu");
    files.extend(common::files_in("tests/rules", "gpu"));
    files.extend(common::files_in("tests/guide", "gpu"));
    for file in files {
        let text = std::fs::read_to_string(&file).expect("readable");
        for (end, _) in text.char_indices().chain([(text.len(), ' ')]) {
            let prefix = &text[..end];
            let result = std::panic::catch_unwind(|| compile(prefix));
            assert!(result.is_ok(), "{}: the prefix of {end} bytes panics:\n{prefix}", file.display());
        }
    }
}

#[test]
fn hostile_text_is_diagnosed_not_panicked() {
    for text in [
        "",
        "\u{0}",
        "host",
        "host {",
        "vm x[1..100000000] { host h memory 1GiB }",
        "vm x[99999999999999999999..1] {}",
        "host h { esxi \"99999999999999999999.0\" address \"$(reboot)\" }",
        "host h { address \"h\" esxi \"8.0\" memory 18446744073709551615TiB gpu g { model t4 pci ffff:ff:1f.7 use vgpu } }",
        "vm v { host h memory 1GiB guest { driver \"1.2.3.4.5.6\" cuda \"9999.1\" } }",
        "license l { server \"a\" token \"b\" }",
        "bitfusion p { flexdirect \"x.y\" client c { share 1e309 } }",
        "import \"../../../../etc/passwd\"",
    ] {
        let checked = common::check_text(text);
        assert!(
            checked.diagnostics.iter().all(|d| !d.help.is_empty() || d.code == gpuc::diagnostics::Code::BitfusionDiscontinued),
            "{text}: every diagnostic has a help line"
        );
    }
}
