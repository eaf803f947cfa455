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

/// The codes a text gets, in order.
fn codes(checked: &gpuc::Checked) -> Vec<&'static str> {
    checked.diagnostics.iter().map(|d| d.code.as_str()).collect()
}

#[test]
fn limit_nesting_is_fixed_by_the_grammar() {
    let deep = format!("host h {{ a {}{} }}", "{ b ".repeat(100_000), "}".repeat(100_000));
    assert_eq!(codes(&common::check_text(&deep)), ["E0001"]);
}

#[test]
fn limit_range_size() {
    let checked = common::check_text("vm x[1..100000000] { host h memory 1GiB }");
    assert_eq!(codes(&checked), ["E0007"]);
    assert!(checked.diagnostics[0].message.contains("100000000 names"));
}

#[test]
fn limit_total_entities() {
    assert_eq!(gpuc::Limits::default().entities, 4_000_000, "four times a 100,000-host estate");
    // The entities before the limit are checked whole (the bad memory of `v1x3` is found);
    // the range that passes it is reported once, and nothing after it.
    let text = "host h { esxi \"8.0\" }\nvm v1x[1..3] { host h memory 1GiB }\nvm v1x3b { host h memory \"1\" }\n\
                vm v2x[1..3] { host h memory 1GiB }\nvm after { host nowhere memory 1GiB }\n";
    let fs = common::Memory(std::collections::HashMap::from([("estate.gpu".into(), text.to_string())]));
    let input = gpuc::Input { files: vec!["estate.gpu".into()], limits: gpuc::Limits { entities: 6 }, ..Default::default() };
    let checked = gpuc::check(&input, &fs).expect("in memory");
    assert_eq!(codes(&checked), ["E0005", "E0007"]);
    let limit = &checked.diagnostics[1];
    assert!(limit.message.contains("more than 6 entities; this one and all after it were not checked"), "{}", limit.message);
    assert!(limit.help.contains("the 5 entities declared before it were checked"), "{}", limit.help);
}

#[test]
fn limit_file_size() {
    let huge = "#".repeat(gpuc::load::MAX_FILE_BYTES + 1);
    let fs = common::Memory(std::collections::HashMap::from([
        ("top.gpu".into(), "import \"huge.gpu\"\n".to_string()),
        ("huge.gpu".into(), huge),
    ]));
    let checked = gpuc::check(&gpuc::Input { files: vec!["top.gpu".into()], ..Default::default() }, &fs).expect("top is readable");
    assert_eq!(codes(&checked), ["E0008"]);
    assert!(checked.diagnostics[0].message.contains("larger than 512 MiB"));
}

#[test]
fn limit_import_depth_and_cycles() {
    let chain: std::collections::HashMap<std::path::PathBuf, String> =
        (0..100).map(|i| (format!("f{i}.gpu").into(), format!("import \"f{}.gpu\"\n", i + 1))).collect();
    let checked =
        gpuc::check(&gpuc::Input { files: vec!["f0.gpu".into()], ..Default::default() }, &common::Memory(chain)).expect("readable");
    assert_eq!(codes(&checked), ["E0008"]);
    assert!(checked.diagnostics[0].message.contains("more than 64 files deep"));
    let cycle = common::Memory(std::collections::HashMap::from([
        ("a.gpu".into(), "import \"b.gpu\"\n".to_string()),
        ("b.gpu".into(), "import \"a.gpu\"\n".to_string()),
    ]));
    let checked = gpuc::check(&gpuc::Input { files: vec!["a.gpu".into()], ..Default::default() }, &cycle).expect("readable");
    assert_eq!(codes(&checked), ["E0009"]);
    assert!(checked.diagnostics[0].message.contains("a.gpu -> b.gpu -> a.gpu"));
}
