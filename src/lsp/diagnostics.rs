//! gpuc's diagnostics as LSP diagnostics, published for every file of an estate.

use super::state::Estate;
use crate::diagnostics::{Diagnostic, Severity};
use lsp_types::{DiagnosticRelatedInformation, DiagnosticSeverity, Location, NumberOrString, Url};
use std::collections::BTreeMap;

/// The diagnostics of each `.gpu` file of the estate, an empty list for a file without any
/// (which clears what an earlier check published for it).
pub fn by_file(estate: &Estate) -> BTreeMap<Url, Vec<lsp_types::Diagnostic>> {
    let mut files: BTreeMap<Url, Vec<lsp_types::Diagnostic>> = estate
        .checked
        .sources
        .iter()
        .filter(|(_, file)| file.kind == crate::source::SourceKind::Spec)
        .filter_map(|(id, _)| estate.url(id))
        .map(|url| (url, Vec::new()))
        .collect();
    for diagnostic in &estate.checked.diagnostics {
        if let Some(list) = estate.url(diagnostic.primary.span.file).and_then(|url| files.get_mut(&url)) {
            list.push(to_lsp(estate, diagnostic));
        }
    }
    files
}

pub fn to_lsp(estate: &Estate, diagnostic: &Diagnostic) -> lsp_types::Diagnostic {
    let mut message = format!("{}: {}", diagnostic.message, diagnostic.primary.text);
    if !diagnostic.help.is_empty() {
        message.push_str(&format!("\nhelp: {}", diagnostic.help));
    }
    for note in &diagnostic.notes {
        message.push_str(&format!("\nnote: {note}"));
    }
    let related = diagnostic
        .secondary
        .iter()
        .filter_map(|label| {
            Some(DiagnosticRelatedInformation {
                location: Location::new(estate.url(label.span.file)?, estate.range(label.span)),
                message: label.text.clone(),
            })
        })
        .collect::<Vec<_>>();
    lsp_types::Diagnostic {
        range: estate.range(diagnostic.primary.span),
        severity: Some(match diagnostic.severity() {
            Severity::Error => DiagnosticSeverity::ERROR,
            Severity::Warning => DiagnosticSeverity::WARNING,
        }),
        code: Some(NumberOrString::String(diagnostic.code.to_string())),
        source: Some("gpuc".to_string()),
        message,
        related_information: (!related.is_empty()).then_some(related),
        ..Default::default()
    }
}
