//! Formatting (through `gpuc fmt`) and code actions (each diagnostic's fix-it).

use super::state::State;
use lsp_types::{
    CodeAction, CodeActionKind, CodeActionOrCommand, CodeActionParams, DocumentFormattingParams, Position, Range, TextEdit, WorkspaceEdit,
};
use std::collections::HashMap;

/// The whole document laid out canonically, as one edit; nothing when it already is, or when
/// it does not parse (the diagnostics say why).
pub fn format(state: &State, params: DocumentFormattingParams) -> Option<Vec<TextEdit>> {
    let (estate, file) = state.estate_of(&params.text_document.uri)?;
    let source = estate.source(file);
    let formatted = crate::fmt::format(file, &source.text).ok()?;
    if formatted == *source.text {
        return Some(Vec::new());
    }
    let end = super::state::position(source, source.text.len());
    Some(vec![TextEdit::new(Range::new(Position::new(0, 0), end), formatted)])
}

/// A quick fix for each diagnostic with a fix-it whose range meets the requested one.
pub fn code_actions(state: &State, params: CodeActionParams) -> Option<Vec<CodeActionOrCommand>> {
    let (estate, file) = state.estate_of(&params.text_document.uri)?;
    let wanted = params.range;
    let actions = estate
        .checked
        .diagnostics
        .iter()
        .filter_map(|diagnostic| {
            let fix = diagnostic.fix.as_ref()?;
            let range = estate.range(diagnostic.primary.span);
            if diagnostic.primary.span.file != file || range.end < wanted.start || wanted.end < range.start {
                return None;
            }
            let uri = estate.url(fix.span.file)?;
            let edit = TextEdit::new(estate.range(fix.span), fix.replacement.clone());
            Some(CodeActionOrCommand::CodeAction(CodeAction {
                title: format!("write `{}` ({})", fix.replacement, diagnostic.code),
                kind: Some(CodeActionKind::QUICKFIX),
                diagnostics: Some(vec![super::diagnostics::to_lsp(estate, diagnostic)]),
                edit: Some(WorkspaceEdit { changes: Some(HashMap::from([(uri, vec![edit])])), ..Default::default() }),
                is_preferred: Some(true),
                ..Default::default()
            }))
        })
        .collect();
    Some(actions)
}
