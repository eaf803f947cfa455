//! Reports for CI: GitHub workflow commands, SARIF validated against the published 2.1.0
//! schema, the JSON report's version and end positions, an unreadable file as a report, and
//! human output that stays small per diagnostic on a large estate.

mod common;
#[path = "../benches/fleet/mod.rs"]
mod fleet;

use gpuc::diagnostics::{render, Code};
use serde_json::Value;
use std::process::{Command, Output};

/// A rule spec whose diagnostic has two labels: the second VM given the GPU, and the first.
const TWO_LABELS: &str = "tests/rules/E0301-one-gpu-two-passthrough-vms.gpu";

fn gpuc(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gpuc")).args(args).env("NO_COLOR", "1").output().expect("gpuc runs")
}

fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).expect("UTF-8 output")
}

fn sarif_of(args: &[&str]) -> (i32, Value) {
    let out = gpuc(args);
    let log = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {}", stdout(&out)));
    (out.status.code().expect("an exit code"), log)
}

fn assert_valid_sarif(log: &Value, what: &str) {
    let schema: Value = serde_json::from_str(include_str!("schemas/sarif-schema-2.1.0.json")).expect("the schema is JSON");
    let validator = jsonschema::validator_for(&schema).expect("the published schema compiles");
    let problems: Vec<String> = validator.iter_errors(log).map(|e| format!("{} at {}", e, e.instance_path())).collect();
    assert!(problems.is_empty(), "{what}: SARIF does not validate:\n{}", problems.join("\n"));
}

#[test]
fn github_annotations_carry_start_and_end_with_help_and_the_other_label() {
    let out = gpuc(&["check", "--format", "github", TWO_LABELS]);
    assert_eq!(out.status.code(), Some(1));
    insta::assert_snapshot!("github_two_labels", stdout(&out));
}

#[test]
fn sarif_of_a_rule_spec_with_two_labels() {
    let out = gpuc(&["check", "--format", "sarif", TWO_LABELS]);
    assert_eq!(out.status.code(), Some(1));
    let log: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_valid_sarif(&log, TWO_LABELS);
    // The snapshot is the output as written, with the rule's long texts (`gpuc explain E0301`,
    // checked here) and the version shortened.
    let rule = &log["runs"][0]["tool"]["driver"]["rules"][0];
    let explanation = Code::PassthroughShared.explanation();
    for text in ["/fullDescription/text", "/help/text", "/help/markdown"] {
        assert_eq!(rule.pointer(text).and_then(Value::as_str), Some(explanation), "{text}");
    }
    let quoted = |text: &str| serde_json::to_string(text).expect("a JSON string");
    let shown = stdout(&out)
        .replace(&quoted(explanation), &quoted("<gpuc explain E0301>"))
        .replace(&format!("\"version\": {}", quoted(env!("CARGO_PKG_VERSION"))), "\"version\": \"<gpuc version>\"");
    insta::assert_snapshot!("sarif_two_labels", shown);
}

#[test]
fn sarif_of_every_rule_spec_and_example_validates() {
    let specs = common::files_in("tests/rules", "gpu").into_iter().chain(common::files_in("examples", "gpu"));
    let mut codes_seen = 0;
    for spec in specs {
        let path = spec.to_str().expect("UTF-8 path");
        let (_, log) = sarif_of(&["check", "--format", "sarif", path]);
        assert_valid_sarif(&log, path);
        let run = &log["runs"][0];
        let rules = run["tool"]["driver"]["rules"].as_array().expect("rules");
        for result in run["results"].as_array().expect("results") {
            let index = result["ruleIndex"].as_u64().expect("a rule index") as usize;
            assert_eq!(rules[index]["id"], result["ruleId"], "{path}: ruleIndex points at the result's rule");
            let uri = result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"].as_str().expect("a URI");
            assert!(std::path::Path::new(uri).is_file(), "{path}: {uri} is a path relative to the working directory");
        }
        codes_seen += rules.len();
    }
    assert!(codes_seen >= 60, "every rule spec reports at least its own code");
}

#[test]
fn json_report_has_a_version_and_end_positions() {
    let out = gpuc(&["check", "--format", "json", TWO_LABELS]);
    let report: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(report["version"], 1);
    let labels = report["diagnostics"][0]["labels"].as_array().expect("labels");
    assert_eq!(labels.len(), 2);
    // `esx14.g0` on line 19 from column 15: eight characters, so it ends before column 23.
    assert_eq!(
        (&labels[0]["line"], &labels[0]["column"], &labels[0]["end_line"], &labels[0]["end_column"]),
        (&19.into(), &15.into(), &19.into(), &23.into())
    );
    assert_eq!((&labels[1]["line"], &labels[1]["end_line"], &labels[1]["end_column"]), (&12.into(), &12.into(), &23.into()));
}

#[test]
fn an_unreadable_file_is_a_report_in_every_machine_format() {
    let missing = "tests/no-such-estate.gpu";
    let out = gpuc(&["check", "--format", "json", missing]);
    assert_eq!(out.status.code(), Some(2));
    let report: Value = serde_json::from_slice(&out.stdout).expect("a JSON report on stdout");
    assert_eq!(report["ok"], false);
    assert_eq!(report["diagnostics"][0]["code"], "E0008");
    assert_eq!(report["diagnostics"][0]["file"], missing);

    let (exit, log) = sarif_of(&["check", "--format", "sarif", missing]);
    assert_eq!(exit, 2);
    assert_valid_sarif(&log, missing);
    assert_eq!(log["runs"][0]["results"][0]["ruleId"], "E0008");

    let out = gpuc(&["check", "--format", "github", missing]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stdout(&out).starts_with(&format!("::error file={missing},line=1,col=1,endLine=1,endColumn=1,title=E0008::cannot read")),
        "{}",
        stdout(&out)
    );

    // People read stderr: the one-line error stays there.
    let out = gpuc(&["check", missing]);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("error: cannot read"));
}

/// The bound on one diagnostic's human output: its message, help and notes, and a few lines of
/// source around each label. Labels far apart must not pull in the lines between them.
const MAX_BYTES_PER_DIAGNOSTIC: usize = 1536;
const MAX_BYTES_PER_MORE_LABEL: usize = 512;
const MAX_SOURCE_LINES_PER_LABEL: usize = 6;

#[test]
fn human_output_stays_small_per_diagnostic_on_a_large_estate() {
    let mut text = fleet::estate_with_violations(300, 1, 12);
    // A VM declared again at the end, far from its first declaration: the two labels of its
    // E0101 are two short snippets, not one of the half of the file between them.
    let name = text[text.len() / 2..].split("\nvm ").nth(1).and_then(|s| s.split_whitespace().next()).expect("a VM").to_string();
    text.push_str(&format!("\nvm {name} {{\n  host esx00001\n  memory 8GiB\n}}\n"));
    let checked = common::check_text(&text);
    let planted = 12 * fleet::Violation::ALL.len();
    assert!(checked.diagnostics.len() >= planted, "the {planted} planted violations are reported: {}", checked.diagnostics.len());
    assert!(checked.diagnostics.iter().any(|d| d.code == Code::DuplicateName && d.message.contains(&name)), "{name} is declared twice");
    for d in &checked.diagnostics {
        let text = render::human(d, &checked.sources, false, 100);
        let labels = 1 + d.secondary.len();
        let budget = MAX_BYTES_PER_DIAGNOSTIC + MAX_BYTES_PER_MORE_LABEL * (labels - 1);
        assert!(text.len() <= budget, "{} bytes for {labels} labels:\n{text}", text.len());
        // Source lines are the numbered ones: ` 123 │ text`.
        let source_lines = text.lines().filter(|l| l.split_once(" │").is_some_and(|(n, _)| n.trim().parse::<u32>().is_ok())).count();
        assert!(source_lines <= MAX_SOURCE_LINES_PER_LABEL * labels, "{source_lines} source lines for {labels} labels:\n{text}");
    }
}
