//! The code registry: unique codes, each explained, every rule covered.

use gpuc::diagnostics::{Code, Severity};
use std::collections::HashSet;

#[test]
fn codes_are_unique_and_well_formed() {
    let mut seen = HashSet::new();
    for code in Code::ALL {
        let s = code.as_str();
        assert!(seen.insert(s), "{s} is used twice");
        let letter = if code.severity() == Severity::Error { 'E' } else { 'W' };
        assert!(s.starts_with(letter) && s.len() == 5 && s[1..].chars().all(|c| c.is_ascii_digit()), "{s} is not {letter}NNNN");
        assert_eq!(s.parse::<Code>(), Ok(*code));
    }
}

#[test]
fn every_code_is_explained_in_at_least_a_paragraph() {
    for code in Code::ALL {
        let text = code.explanation();
        let first = text.lines().next().unwrap_or("");
        assert!(first.starts_with(&format!("{code}: ")), "{code}: the explanation starts with `{code}: <title>`, found {first:?}");
        let longest_paragraph = text.split("\n\n").map(|p| p.split_whitespace().count()).max().unwrap_or(0);
        assert!(longest_paragraph >= 30, "{code}: the explanation needs at least one real paragraph");
    }
}

#[test]
fn every_rule_has_a_code() {
    for rule in 1..=20 {
        let name = format!("R{rule}");
        assert!(Code::ALL.iter().any(|c| c.rule() == name), "no code for {name}");
    }
}

#[test]
fn codes_follow_their_rule_number() {
    for code in Code::ALL {
        let number: u32 = code.as_str()[1..3].parse().unwrap_or(0);
        let expected = match code.rule() {
            "language" => 0,
            "internal" => 99,
            r => r[1..].parse().unwrap_or(u32::MAX),
        };
        assert_eq!(number, expected, "{code} belongs to {}", code.rule());
    }
}

#[test]
fn explanations_and_the_catalog_cite_public_documents_only() {
    // DESIGN.md's shorthands for its own notes ("seed §", "ref §") and the project's internal
    // files mean nothing to a user: what gpuc prints names documents a user can open.
    let internal = ["seed §", "ref §", "seed guide", "domain.md", "reference/"];
    for code in Code::ALL {
        for word in internal {
            assert!(!code.explanation().contains(word), "{code}: `{word}` in its explanation");
        }
    }
    for word in internal {
        assert!(!gpuc::catalog::BUILTIN_YAML.contains(word), "`{word}` in the built-in catalog");
    }
}
