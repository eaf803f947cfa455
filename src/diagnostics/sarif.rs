//! SARIF 2.1.0 (OASIS Static Analysis Results Interchange Format, errata 01), the format
//! GitHub code scanning and other review tools read. One run; its driver lists a rule for each
//! code the run reports, with the code's title and its `gpuc explain` text; each result points
//! at the primary label and lists the other labels as related locations.
//!
//! Positions are 1-based; `endColumn` is "the column number of the character following the
//! end of the region" (the schema's words), and columns count Unicode code points, which the
//! run declares in `columnKind`.

use super::render::{message_with_help, relative_path, JsonSpan};
use super::{Code, Diagnostic, Label, Severity};
use crate::source::Sources;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::Path;

/// The schema the output follows (the OASIS errata 01 publication of SARIF 2.1.0).
const SCHEMA: &str = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json";

/// The log as JSON. `base` is the working directory that artifact URIs are made relative to.
pub fn render(diagnostics: &[Diagnostic], sources: &Sources, base: Option<&Path>) -> Log {
    let codes: BTreeMap<Code, usize> = {
        let mut used: Vec<Code> = diagnostics.iter().map(|d| d.code).collect();
        used.sort();
        used.dedup();
        used.into_iter().enumerate().map(|(i, c)| (c, i)).collect()
    };
    let physical = |span| {
        let at = JsonSpan::of(span, sources);
        PhysicalLocation {
            artifact_location: ArtifactLocation { uri: uri(&relative_path(&at.file, base)) },
            region: Region { start_line: at.line, start_column: at.column, end_line: at.end_line, end_column: at.end_column },
        }
    };
    let location = |label: &Label, id: Option<usize>| Location {
        id,
        physical_location: physical(label.span),
        message: (!label.text.is_empty()).then(|| Text::plain(label.text.clone())),
    };
    // A fix-it as SARIF's fix: one replacement of the fix's region in its file.
    let fix = |d: &super::Diagnostic| {
        d.fix.as_ref().map(|f| {
            let at = physical(f.span);
            SarifFix {
                description: Text::plain(d.help.clone()),
                artifact_changes: vec![ArtifactChange {
                    artifact_location: at.artifact_location,
                    replacements: vec![Replacement {
                        deleted_region: at.region,
                        inserted_content: InsertedContent { text: f.replacement.clone() },
                    }],
                }],
            }
        })
    };
    let results = diagnostics
        .iter()
        .map(|d| SarifResult {
            rule_id: d.code.as_str(),
            rule_index: codes[&d.code],
            level: level(d.severity()),
            message: Text::plain(message_with_help(d)),
            locations: vec![location(&d.primary, None)],
            related_locations: d.secondary.iter().enumerate().map(|(i, l)| location(l, Some(i + 1))).collect(),
            fixes: fix(d).into_iter().collect(),
        })
        .collect();
    let rules = codes.keys().map(|&code| Rule::of(code)).collect();
    Log {
        schema: SCHEMA,
        version: "2.1.0",
        runs: [Run {
            tool: Tool { driver: Driver { name: "gpuc", version: env!("CARGO_PKG_VERSION"), rules } },
            column_kind: "unicodeCodePoints",
            results,
        }],
    }
}

fn level(severity: Severity) -> &'static str {
    match severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
    }
}

/// A relative path as a URI reference: `/` kept, every byte outside RFC 3986's unreserved
/// characters percent-encoded (so a space, `%`, `#` or `:` cannot change its meaning). An
/// absolute path becomes a `file://` URI.
fn uri(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    if path.starts_with('/') {
        out.push_str("file://");
    }
    for byte in path.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~' | b'/') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[derive(Serialize)]
pub struct Log {
    #[serde(rename = "$schema")]
    schema: &'static str,
    version: &'static str,
    runs: [Run; 1],
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Run {
    tool: Tool,
    column_kind: &'static str,
    results: Vec<SarifResult>,
}

#[derive(Serialize)]
struct Tool {
    driver: Driver,
}

#[derive(Serialize)]
struct Driver {
    name: &'static str,
    version: &'static str,
    rules: Vec<Rule>,
}

/// A code as a SARIF rule: `name` is the code's identifier in the registry (`VgpuCapacity`),
/// the short description its title, the full description and help its `gpuc explain` text.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Rule {
    id: &'static str,
    name: String,
    short_description: Text,
    full_description: Text,
    help: Text,
    default_configuration: Configuration,
}

impl Rule {
    fn of(code: Code) -> Rule {
        let explanation = code.explanation();
        Rule {
            id: code.as_str(),
            name: format!("{code:?}"),
            short_description: Text::plain(code.title().to_string()),
            full_description: Text::plain(explanation.to_string()),
            help: Text { text: explanation.to_string(), markdown: Some(explanation.to_string()) },
            default_configuration: Configuration { level: level(code.severity()) },
        }
    }
}

#[derive(Serialize)]
struct Configuration {
    level: &'static str,
}

#[derive(Serialize)]
struct Text {
    text: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    markdown: Option<String>,
}

impl Text {
    fn plain(text: String) -> Text {
        Text { text, markdown: None }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SarifResult {
    rule_id: &'static str,
    rule_index: usize,
    level: &'static str,
    message: Text,
    locations: Vec<Location>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    related_locations: Vec<Location>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    fixes: Vec<SarifFix>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SarifFix {
    description: Text,
    artifact_changes: Vec<ArtifactChange>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ArtifactChange {
    artifact_location: ArtifactLocation,
    replacements: Vec<Replacement>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Replacement {
    deleted_region: Region,
    inserted_content: InsertedContent,
}

#[derive(Serialize)]
struct InsertedContent {
    text: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Location {
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<usize>,
    physical_location: PhysicalLocation,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<Text>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PhysicalLocation {
    artifact_location: ArtifactLocation,
    region: Region,
}

#[derive(Serialize)]
struct ArtifactLocation {
    uri: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Region {
    start_line: usize,
    start_column: usize,
    end_line: usize,
    end_column: usize,
}

#[cfg(test)]
mod tests {
    use super::uri;

    #[test]
    fn paths_become_uri_references() {
        assert_eq!(uri("examples/lab.gpu"), "examples/lab.gpu");
        assert_eq!(uri("my estate/a#1.gpu"), "my%20estate/a%231.gpu");
        assert_eq!(uri("/srv/x.gpu"), "file:///srv/x.gpu");
        assert_eq!(uri("<builtin catalog>"), "%3Cbuiltin%20catalog%3E");
    }
}
