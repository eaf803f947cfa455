//! docs/language.md against the key table lowering reads (`src/model/keys.rs`), both ways:
//! every block kind has a section whose table lists exactly the keys the block takes, each
//! row with a type, a default and an example of that key; and the complete file at the end
//! uses every block kind and checks without errors.

mod common;

use gpuc::diagnostics::Severity;
use gpuc::model::keys;
use std::collections::{BTreeMap, BTreeSet};

const DOC: &str = "docs/language.md";

/// Section title (the block kind in backticks, or `Top level`) -> the rows of its key table.
fn sections(text: &str) -> BTreeMap<String, Vec<Vec<String>>> {
    let mut out: BTreeMap<String, Vec<Vec<String>>> = BTreeMap::new();
    let mut current = None;
    for line in text.lines() {
        if let Some(heading) = line.strip_prefix("## ").or_else(|| line.strip_prefix("### ")) {
            current = match heading.split('`').nth(1) {
                Some(kind) => Some(kind.to_string()),
                None if heading == "Top level" => Some("Top level".to_string()),
                None => None,
            };
            continue;
        }
        let Some(section) = &current else { continue };
        // Table rows of keys: `| `key` | type | default | example | meaning |`.
        if line.starts_with("| `") {
            let cells: Vec<String> = line.trim_matches('|').split(" | ").map(|c| c.trim().to_string()).collect();
            out.entry(section.clone()).or_default().push(cells);
        }
    }
    out
}

/// Every block kind the language has: the top-level blocks, then the blocks they nest.
fn block_kinds() -> Vec<&'static str> {
    let mut kinds: Vec<&'static str> = keys::TOP.iter().copied().filter(|k| keys::of(k).is_some()).collect();
    let mut index = 0;
    while index < kinds.len() {
        for &nested in keys::of(kinds[index]).map_or(&[][..], |k| k.blocks) {
            if !kinds.contains(&nested) {
                kinds.push(nested);
            }
        }
        index += 1;
    }
    kinds
}

fn documented(rows: &[Vec<String>]) -> BTreeSet<String> {
    rows.iter().map(|row| row[0].trim_matches('`').to_string()).collect()
}

#[test]
fn every_block_has_a_section_listing_exactly_its_keys() {
    let text = std::fs::read_to_string(DOC).expect("docs/language.md");
    let sections = sections(&text);
    let kinds = block_kinds();
    assert!(kinds.len() >= 11, "{kinds:?}");
    let top: BTreeSet<String> = keys::TOP.iter().map(|k| k.to_string()).collect();
    assert_eq!(sections.get("Top level").map(|rows| documented(rows)), Some(top), "the top-level table of {DOC}");
    for kind in &kinds {
        let expected: BTreeSet<String> = keys::of(kind).expect("a block kind").all().map(str::to_string).collect();
        let rows = sections.get(*kind).unwrap_or_else(|| panic!("{DOC} has no section for `{kind}`"));
        assert_eq!(documented(rows), expected, "the keys of `{kind}`: documented (left), read by lowering (right)");
    }
    for section in sections.keys() {
        assert!(section == "Top level" || kinds.contains(&section.as_str()), "{DOC} documents `{section}`, which is no block");
    }
}

#[test]
fn every_key_has_a_type_a_default_and_an_example_of_itself() {
    let text = std::fs::read_to_string(DOC).expect("docs/language.md");
    for (section, rows) in sections(&text) {
        for row in rows {
            let key = row[0].trim_matches('`');
            assert_eq!(row.len(), 5, "`{section}`: the row of `{key}` has {} cells: {row:?}", row.len());
            let (kind, default, example) = (&row[1], &row[2], &row[3]);
            assert!(!kind.is_empty() && !default.is_empty() && !row[4].is_empty(), "`{section}`: `{key}`: {row:?}");
            assert!(example.starts_with(&format!("`{key} ")), "`{section}`: the example of `{key}` is {example}");
        }
    }
}

#[test]
fn the_complete_file_uses_every_block_and_checks_without_errors() {
    let text = std::fs::read_to_string(DOC).expect("docs/language.md");
    let blocks: Vec<&str> = text.split("```gpu\n").skip(1).filter_map(|rest| rest.split("\n```").next()).collect();
    assert_eq!(blocks.len(), 1, "one complete file");
    let complete = blocks[0];
    let checked = common::check_text(complete);
    let errors: Vec<String> =
        checked.diagnostics.iter().filter(|d| d.severity() == Severity::Error).map(|d| format!("{}: {}", d.code, d.message)).collect();
    assert!(errors.is_empty(), "{errors:?}");
    let words: BTreeSet<&str> = complete.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).collect();
    for kind in block_kinds() {
        assert!(words.contains(kind), "the complete file has no `{kind}` block");
    }
}
