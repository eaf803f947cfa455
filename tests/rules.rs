//! One failing spec per diagnostic code, under `tests/rules/`. Each diagnostic the compiler
//! reports is annotated in the spec, on the line after its primary span:
//!
//! ```text
//! vm c { host esx14 memory 16GiB vgpu grid_p100-8q on esx14.g0 }
//! #                                   ^^^^^^^^^^^^ E1001
//! ```
//!
//! The test asserts that the reported (code, line, column, width) set equals the annotated
//! one, and snapshots the rendered diagnostics with the source beside them.

mod common;

use gpuc::diagnostics::Code;
use std::collections::BTreeSet;
use std::path::Path;

/// (file, code, 1-based line, 1-based column, width in characters).
type Expected = (String, String, usize, usize, usize);

/// Annotations of one file: a spec, or a catalog YAML file it names (YAML comments use `#`
/// too, so a catalog error is annotated where it is).
fn annotations(file: &str, text: &str) -> BTreeSet<Expected> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = BTreeSet::new();
    let mut target = 0;
    for (i, line) in lines.iter().enumerate() {
        match parse_annotation(line) {
            Some((column, width, code)) => {
                out.insert((file.to_string(), code, target + 1, column, width));
            }
            None => target = i,
        }
    }
    out
}

/// `#   ^^^^ E1001` -> (column of the first caret, caret count, code).
fn parse_annotation(line: &str) -> Option<(usize, usize, String)> {
    let hash = line.find('#')?;
    let rest = &line[hash..];
    let caret = rest.find('^')?;
    if !rest[1..caret].chars().all(char::is_whitespace) {
        return None;
    }
    let width = rest[caret..].chars().take_while(|&c| c == '^').count();
    let code = rest[caret + width..].trim();
    let valid = code.len() == 5 && (code.starts_with('E') || code.starts_with('W')) && code[1..].chars().all(|c| c.is_ascii_digit());
    valid.then(|| (line[..hash + caret].chars().count() + 1, width, code.to_string()))
}

fn reported(path: &Path) -> (BTreeSet<Expected>, gpuc::Checked) {
    let checked = common::check_file(path);
    let set = checked
        .diagnostics
        .iter()
        .map(|d| {
            let (line, column) = checked.sources.line_col(d.primary.span.file, d.primary.span.start);
            let file = checked.sources.get(d.primary.span.file).map_or_else(String::new, |f| f.name.clone());
            (file, d.code.to_string(), line, column, checked.sources.slice(d.primary.span).chars().count())
        })
        .collect();
    (set, checked)
}

/// The annotations of every file the compile read, except the built-in catalog.
fn expected(checked: &gpuc::Checked) -> BTreeSet<Expected> {
    checked.sources.iter().filter(|(_, f)| f.name != gpuc::catalog::BUILTIN_NAME).flat_map(|(_, f)| annotations(&f.name, &f.text)).collect()
}

#[test]
fn every_rule_spec_reports_exactly_its_annotations() {
    insta::glob!("rules/*.gpu", |path| {
        let text = std::fs::read_to_string(path).expect("readable");
        let relative = path.strip_prefix(env!("CARGO_MANIFEST_DIR")).unwrap_or(path);
        let (actual, checked) = reported(relative);
        let expected = expected(&checked);
        assert!(!expected.is_empty(), "{}: a rule spec must annotate at least one diagnostic", path.display());
        assert_eq!(actual, expected, "{}: reported (left) differs from annotated (right)", relative.display());
        insta::with_settings!({ description => text, omit_expression => true, prepend_module_to_snapshot => false }, {
            insta::assert_snapshot!(common::rendered(&checked));
        });
    });
}

#[test]
fn every_code_has_a_failing_spec() {
    let specs: Vec<String> =
        common::files_in("tests/rules", "gpu").iter().filter_map(|p| p.file_name()?.to_str().map(str::to_string)).collect();
    for code in Code::ALL.iter().filter(|c| **c != Code::Internal) {
        assert!(specs.iter().any(|s| s.starts_with(code.as_str())), "no spec under tests/rules/ for {code}");
    }
}

#[test]
fn annotation_parser() {
    assert_eq!(annotations("f", "a\n#^ E0001\n").len(), 1);
    assert_eq!(parse_annotation("#     ^^^ E1001"), Some((7, 3, "E1001".to_string())));
    assert_eq!(parse_annotation("  # ^ W2006"), Some((5, 1, "W2006".to_string())));
    assert_eq!(parse_annotation("# R10: a comment with ^ in it"), None);
}
