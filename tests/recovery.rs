//! The parser recovers: every syntax error of a file is reported, each at its cause, and
//! checking goes on with the blocks that parsed.

mod common;

use std::process::Command;

/// (code, 1-based line, 1-based column, the text under the primary span) of every diagnostic.
fn reported(text: &str) -> Vec<(String, usize, usize, String)> {
    let checked = common::check_text(text);
    checked
        .diagnostics
        .iter()
        .map(|d| {
            let (line, column) = checked.sources.line_col(d.primary.span.file, d.primary.span.start);
            (d.code.to_string(), line, column, checked.sources.slice(d.primary.span).to_string())
        })
        .collect()
}

fn at(code: &str, line: usize, column: usize, text: &str) -> (String, usize, usize, String) {
    (code.to_string(), line, column, text.to_string())
}

const HOST: &str = "host esx14 {\n  address \"esx14.lab.local\"\n  esxi    \"6.7.0 U1\"\n  gpu g0 { model tesla-p100-16gb pci 0000:09:00.0 use passthrough }\n  gpu g1 { model tesla-p100-16gb pci 0000:0a:00.0 use passthrough }\n}\n";

#[test]
fn three_syntax_errors_are_three_diagnostics_each_at_its_cause() {
    let text = format!(
        "{HOST}
vm a {{
  host   esx14
  memory = 16GiB
}}

vm b {{
  host esx14
  memory 16GiB

vm c {{
  host   esx14
  memory 16GiB
  passthrough esx14.g0, 0000:0g:00.0
}}
"
    );
    assert_eq!(
        reported(&text),
        [
            at("E0001", 10, 10, "="), // `key = value`
            at("E0001", 13, 6, "{"),  // vm b is never closed: at its `{`
            at("E0201", 20, 25, "0000:0g:00.0"),
        ]
    );
}

#[test]
fn an_unclosed_block_is_reported_at_its_brace_with_the_next_block_as_second_label() {
    let text = format!("{HOST}\nvm a {{\n  host esx14\n  memory 16GiB\n\nvm b {{\n  host esx14\n  memory 16GiB\n}}\n");
    let checked = common::check_text(&text);
    let errors: Vec<_> = checked.diagnostics.iter().filter(|d| d.is_error()).collect();
    assert_eq!(errors.len(), 1, "{}", common::rendered(&checked));
    let unclosed = errors[0];
    assert_eq!(checked.sources.line_col(unclosed.primary.span.file, unclosed.primary.span.start), (8, 6));
    let next = unclosed.secondary.first().expect("a second label at the next block");
    assert_eq!(checked.sources.line_col(next.span.file, next.span.start), (12, 1));
    assert_eq!(checked.sources.slice(next.span), "vm");
}

#[test]
fn an_unclosed_nested_block_at_the_end_of_the_file_is_reported_at_its_brace() {
    let text = format!("{HOST}\nvm a {{\n  host esx14\n  memory 16GiB\n  guest {{ os linux\n");
    assert_eq!(reported(&text), [at("E0001", 11, 9, "{")]);
}

#[test]
fn a_nested_block_not_closed_before_the_next_one_is_reported_at_its_brace() {
    // g0 keeps what it holds, so the VM that uses it finds it; the next VM's mistake is found.
    let text = "host esx14 {\n  address \"esx14.lab.local\"\n  esxi    \"6.7.0 U1\"\n  gpu g0 { model tesla-p100-16gb pci 0000:09:00.0 use passthrough\n  gpu g1 { model tesla-p100-16gb pci 0000:0a:00.0 use passthrough }\n}\n\nvm a {\n  host esx14\n  memory 16GiB\n  firmware efi\n  passthrough esx14.g0\n}\n\nvm b {\n  host esx14\n  memory 16GiB\n  firmware uefi\n}\n";
    assert_eq!(reported(text), [at("E0001", 4, 10, "{"), at("E0006", 18, 12, "uefi")]);
}

#[test]
fn checking_goes_on_in_the_blocks_that_parsed() {
    // vm a has a syntax error; vm b, after it, misspells its host: E0102 is still found.
    let text = format!("{HOST}\nvm a {{\n  host esx14\n  memory 16GiB2\n}}\n\nvm b {{\n  host esx41\n  memory 16GiB\n}}\n");
    let codes: Vec<String> = reported(&text).into_iter().map(|(code, ..)| code).collect();
    assert_eq!(codes, ["E0012", "E0102"]);
}

#[test]
fn what_follows_from_a_syntax_error_inside_its_block_is_not_reported() {
    // Without its `memory`, left out as malformed, vm a would also lack a reservation (E0003).
    let text = format!("{HOST}\nvm a {{\n  host esx14\n  memory 16GiB2\n  passthrough esx14.g0\n}}\n");
    let codes: Vec<String> = reported(&text).into_iter().map(|(code, ..)| code).collect();
    assert_eq!(codes, ["E0012"]);
}

#[test]
fn a_malformed_literal_leaves_the_rest_of_its_block_parsed() {
    // The bad escape and the bad number are both reported: the parser goes on after each.
    let text = format!("{HOST}\nvm a {{\n  host esx14\n  memory 1..2GiB\n  guest {{ os linux driver \"a\\qb\" cuda 9. }}\n}}\n");
    let found = reported(&text);
    assert_eq!(found, [at("E0012", 10, 10, "1..2GiB"), at("E0013", 11, 29, "\\q"), at("E0011", 11, 39, "9.")]);
}

#[test]
fn a_stray_token_at_the_top_level_is_skipped_to_the_next_block() {
    let text = format!("{HOST}\n}}\nvm a {{ host esx14 memory 16GiB firmware efi passthrough esx14.g0 }}\nhots b {{ }}\n");
    let found = reported(&text);
    assert_eq!(found, [at("E0001", 8, 1, "}"), at("E0001", 10, 1, "hots")]);
}

#[test]
fn a_file_that_is_not_utf8_is_reported_at_its_first_invalid_byte() {
    let dir = std::env::temp_dir().join(format!("gpuc-recovery-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temporary folder");
    let path = dir.join("latin1.gpu");
    let mut bytes = HOST.as_bytes().to_vec();
    bytes.extend_from_slice(b"# caf\xe9\nvm a { host esx14 memory 16GiB firmware efi passthrough esx14.g0 }\n");
    std::fs::write(&path, &bytes).expect("written");
    let out = Command::new(env!("CARGO_BIN_EXE_gpuc"))
        .args(["check", "--format", "json"])
        .arg(&path)
        .env("NO_COLOR", "1")
        .output()
        .expect("gpuc runs");
    std::fs::remove_dir_all(&dir).expect("removed");
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("a JSON report");
    let diagnostics = report["diagnostics"].as_array().expect("diagnostics");
    assert_eq!(diagnostics.len(), 1, "{report}");
    let first = &diagnostics[0];
    assert_eq!(first["code"], "E0001");
    assert_eq!(first["message"], "the file is not valid UTF-8");
    assert_eq!(first["line"], 7);
    assert_eq!(first["column"], 6);
}
