//! One mistake, one error. Every rule spec under `tests/rules/` makes one mistake: an
//! `Ennnn-*.gpu` spec gets exactly one error, of its code (warnings aside); a `Wnnnn-*.gpu`
//! spec gets no error and exactly one warning, of its code. And in every example, misspelling
//! one attribute's key gives exactly one error, and misspelling one value at most one (a value
//! may stay valid): an entity whose declaration failed produces no follow-on diagnostics, and
//! a fault of a `vm name[1..N]` body is reported once, naming the range.

mod common;

use gpuc::diagnostics::Severity;
use std::path::Path;

/// (code, 1-based line, message) of each diagnostic of `severity`.
fn of_severity(checked: &gpuc::Checked, severity: Severity) -> Vec<(String, usize, String)> {
    checked
        .diagnostics
        .iter()
        .filter(|d| d.severity() == severity)
        .map(|d| (d.code.to_string(), checked.sources.line_col(d.primary.span.file, d.primary.span.start).0, d.message.clone()))
        .collect()
}

#[test]
fn every_rule_spec_reports_exactly_one_diagnostic_of_its_code() {
    let specs = common::files_in("tests/rules", "gpu");
    assert!(specs.len() > 60, "{} specs", specs.len());
    for spec in &specs {
        let name = spec.file_name().and_then(|n| n.to_str()).expect("a file name");
        let code = &name[..5];
        let checked = common::check_file(spec);
        let errors = of_severity(&checked, Severity::Error);
        let warnings = of_severity(&checked, Severity::Warning);
        if code.starts_with('E') {
            assert!(errors.len() == 1 && errors[0].0 == code, "{name}: expected one {code}, got {errors:?}");
        } else {
            assert!(errors.is_empty(), "{name}: expected no error, got {errors:?}");
            assert!(warnings.len() == 1 && warnings[0].0 == code, "{name}: expected one {code}, got {warnings:?}");
        }
    }
}

/// The examples, each with the files it imports, in memory.
fn examples() -> Vec<(String, String)> {
    let mut files = common::files_in("examples", "gpu");
    files.extend(common::files_in("examples/estate", "gpu"));
    files.into_iter().map(|p| (p.display().to_string(), std::fs::read_to_string(&p).expect("readable"))).collect()
}

/// Checks `text` in place of the example at `path`, the files it imports read from `examples`.
fn check_instead(examples: &[(String, String)], path: &str, text: &str) -> gpuc::Checked {
    let fs = common::Memory(examples.iter().map(|(p, t)| (p.into(), if p == path { text.to_string() } else { t.clone() })).collect());
    gpuc::check(&gpuc::Input { files: vec![Path::new(path).to_path_buf()], ..Default::default() }, &fs).expect("in memory")
}

/// `key value` lines of a body (not block headers, not top-level `import` and `catalog`: a
/// file not imported leaves every name it declares unknown, one error per reference):
/// (line index, key range, value range).
fn attribute_lines(text: &str) -> Vec<(usize, std::ops::Range<usize>, std::ops::Range<usize>)> {
    text.lines()
        .enumerate()
        .filter_map(|(index, line)| {
            let code = line.split('#').next().unwrap_or("");
            if code.contains('{') || code.contains('}') {
                return None;
            }
            let key_start = code.len() - code.trim_start().len();
            if key_start == 0 {
                return None;
            }
            let key_len = code[key_start..].find(char::is_whitespace)?;
            let value_start = key_start + key_len + code[key_start + key_len..].find(|c: char| !c.is_whitespace())?;
            let value_len = code[value_start..].find(char::is_whitespace).unwrap_or(code.len() - value_start);
            let key = &code[key_start..key_start + key_len];
            key.chars().all(|c| c.is_ascii_lowercase() || c == '_').then_some((
                index,
                key_start..key_start + key_len,
                value_start..value_start + value_len,
            ))
        })
        .collect()
}

/// `text` with line `index`'s `range` replaced by `with`.
fn with_line_changed(text: &str, index: usize, range: std::ops::Range<usize>, with: &str) -> String {
    text.lines()
        .enumerate()
        .map(|(i, line)| if i == index { format!("{}{with}{}", &line[..range.start], &line[range.end..]) } else { line.to_string() })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Misspells a word the way a hand slips: its last letter doubled.
fn misspelt(word: &str) -> String {
    match word.strip_suffix('"') {
        Some(inner) => format!("{inner}{}\"", inner.chars().last().unwrap_or('x')),
        None => format!("{word}{}", word.chars().last().unwrap_or('x')),
    }
}

#[test]
fn one_misspelt_key_or_value_in_an_example_is_one_error() {
    let mut tried = 0;
    let mut failures = Vec::new();
    let examples = examples();
    for (path, text) in &examples {
        assert!(of_severity(&check_instead(&examples, path, text), Severity::Error).is_empty(), "{path} is valid");
        for (index, key, value) in attribute_lines(text) {
            let line = text.lines().nth(index).unwrap_or("");
            for (what, range) in [("key", key), ("value", value)] {
                let mutated = with_line_changed(text, index, range.clone(), &misspelt(&line[range]));
                let errors = of_severity(&check_instead(&examples, path, &mutated), Severity::Error);
                tried += 1;
                // A misspelt value may still be valid (a longer address); never more than one.
                if errors.len() > 1 || (what == "key" && errors.len() != 1) {
                    failures.push(format!("{path}:{} {what} of `{}`: {errors:?}", index + 1, line.trim()));
                }
            }
        }
    }
    assert!(tried > 300, "{tried} mutations");
    assert!(failures.is_empty(), "{} of {tried} mutations:\n{}", failures.len(), failures.join("\n"));
}

/// The three cases of issue 11, on examples/vgpu-p100.gpu (four VMs `ml[1..4]`, one body).
#[test]
fn a_fault_in_a_range_body_is_one_error_naming_the_range() {
    let (examples, path) = (examples(), "examples/vgpu-p100.gpu");
    let text = std::fs::read_to_string(path).expect("readable");
    let one_error = |from: &str, to: &str| {
        assert!(text.contains(from), "{from}");
        let errors = of_severity(&check_instead(&examples, path, &text.replacen(from, to, 1)), Severity::Error);
        assert_eq!(errors.len(), 1, "{from} -> {to}: {errors:?}");
        errors.into_iter().next().expect("one")
    };
    // A misspelt licence: E0102 with its did-you-mean, no "no licence" for each VM.
    let (code, _, message) = one_error("    license gridlic", "    license gridlc");
    assert_eq!((code.as_str(), message.as_str()), ("E0102", "no licence is named `gridlc`"));
    // A misspelt required key: the did-you-mean, not "no `memory`" first.
    let (code, _, message) = one_error("  memory   64GiB", "  memroy   64GiB");
    assert_eq!((code.as_str(), message.as_str()), ("E0002", "a vm block has no `memroy`"));
    // A guest driver of the wrong branch: once for the range, and no CUDA follow-on.
    let (code, _, message) = one_error("driver  \"390.42\"", "driver  \"384.73\"");
    assert_eq!(code, "E1701");
    assert!(message.contains("VM `ml[1..4]`"), "{message}");
}

/// A finding only some members of a range have stays reported for each of them.
#[test]
fn a_fault_of_some_members_of_a_range_names_each_of_them() {
    let (examples, path) = (examples(), "examples/vgpu-p100.gpu");
    let text = std::fs::read_to_string(path).expect("readable").replacen("vm ml[1..4]", "vm ml[1..6]", 1);
    let errors = of_severity(&check_instead(&examples, path, &text), Severity::Error);
    let named: Vec<bool> = ["`ml5`", "`ml6`"].iter().map(|vm| errors.iter().any(|(_, _, m)| m.contains(vm))).collect();
    assert_eq!((errors.len(), named), (2, vec![true, true]), "{errors:?}");
}

/// A pinned vGPU refused by its GPU (another type on a same-size GPU, E1101) takes no room
/// there: the VMs placed after it are not refused for its sake.
#[test]
fn a_refused_pinned_vgpu_leaves_room_for_the_others() {
    let (examples, path) = (examples(), "examples/vgpu-p100.gpu");
    let pinned = |name: &str, kind: &str| {
        format!("vm {name} {{ host esx14  memory 8GiB  firmware efi  vgpu {kind} on esx14.g0  guest {{ os linux  driver \"390.42\"  license gridlic }} }}\n")
    };
    let text = std::fs::read_to_string(path).expect("readable").replacen("vm ml[1..4]", "vm ml[1..3]", 1)
        + &pinned("a", "grid_p100-8q")
        + &pinned("b", "grid_p100-4q");
    let errors = of_severity(&check_instead(&examples, path, &text), Severity::Error);
    assert_eq!(errors.iter().map(|(code, ..)| code.as_str()).collect::<Vec<_>>(), ["E1101"], "{errors:?}");
}
