//! Go to definition, find references, rename and document symbols, from the names the
//! syntax trees of the estate declare and refer to.

use super::names::{occurrences, Occurrence, Symbol};
use super::state::{self, Estate, State};
use crate::source::SourceKind;
use crate::syntax::ast::{Body, Entry, Item};
use lsp_types::{
    DocumentSymbol, DocumentSymbolParams, DocumentSymbolResponse, GotoDefinitionParams, GotoDefinitionResponse, Location, ReferenceParams,
    RenameParams, SymbolKind, TextDocumentPositionParams, TextEdit, WorkspaceEdit,
};
use std::collections::HashMap;

/// Every occurrence of every name in the `.gpu` files of the estate.
fn estate_occurrences(estate: &Estate) -> Vec<Occurrence> {
    let mut found = Vec::new();
    for (id, file) in estate.checked.sources.iter().filter(|(_, f)| f.kind == SourceKind::Spec) {
        found.extend(occurrences(&crate::syntax::parse(id, &file.text).0));
    }
    found
}

/// The estate asked about and the symbol under the cursor.
fn symbol_at<'s>(state: &'s State, at: &TextDocumentPositionParams) -> Option<(&'s Estate, Symbol)> {
    let (estate, file) = state.estate_of(&at.text_document.uri)?;
    let source = estate.source(file);
    let offset = state::offset(source, at.position) as u32;
    let (tree, _) = crate::syntax::parse(file, &source.text);
    let found = occurrences(&tree).into_iter().find(|o| o.span.start <= offset && offset <= o.span.end)?;
    Some((estate, found.symbol))
}

fn location(estate: &Estate, occurrence: &Occurrence) -> Option<Location> {
    Some(Location::new(estate.url(occurrence.span.file)?, estate.range(occurrence.span)))
}

pub fn definition(state: &State, params: GotoDefinitionParams) -> Option<GotoDefinitionResponse> {
    let (estate, symbol) = symbol_at(state, &params.text_document_position_params)?;
    let declared = estate_occurrences(estate).into_iter().find(|o| o.declaration && o.symbol == symbol)?;
    Some(GotoDefinitionResponse::Scalar(location(estate, &declared)?))
}

pub fn references(state: &State, params: ReferenceParams) -> Option<Vec<Location>> {
    let (estate, symbol) = symbol_at(state, &params.text_document_position)?;
    let include_declaration = params.context.include_declaration;
    Some(
        estate_occurrences(estate)
            .iter()
            .filter(|o| o.symbol == symbol && (include_declaration || !o.declaration))
            .filter_map(|o| location(estate, o))
            .collect(),
    )
}

/// The declaration and every reference, renamed (only the renamed part of `host.gpu`).
pub fn rename(state: &State, params: RenameParams) -> Option<WorkspaceEdit> {
    let (estate, symbol) = symbol_at(state, &params.text_document_position)?;
    let mut changes: HashMap<lsp_types::Url, Vec<TextEdit>> = HashMap::new();
    for occurrence in estate_occurrences(estate).iter().filter(|o| o.symbol == symbol) {
        let Some(place) = location(estate, occurrence) else { continue };
        changes.entry(place.uri).or_default().push(TextEdit::new(place.range, params.new_name.clone()));
    }
    Some(WorkspaceEdit { changes: Some(changes), ..Default::default() })
}

pub fn symbols(state: &State, params: DocumentSymbolParams) -> Option<DocumentSymbolResponse> {
    let (estate, file) = state.estate_of(&params.text_document.uri)?;
    let (tree, _) = crate::syntax::parse(file, &estate.source(file).text);
    let symbols = tree
        .items
        .iter()
        .filter_map(|item| match item {
            Item::Entity(entity) => {
                let kind = match entity.kind {
                    crate::syntax::ast::EntityKind::Host => SymbolKind::CLASS,
                    crate::syntax::ast::EntityKind::Vm => SymbolKind::OBJECT,
                    crate::syntax::ast::EntityKind::License => SymbolKind::KEY,
                    crate::syntax::ast::EntityKind::Bitfusion => SymbolKind::PACKAGE,
                };
                let keyword = estate.source(file).text.get(entity.keyword.range()).unwrap_or("");
                let whole = entity.keyword.to(entity.body.span);
                let name = estate.source(file).text.get(entity.name.span.range()).unwrap_or("");
                Some(symbol(estate, format!("{keyword} {name}"), kind, whole, entity.name.span, children(estate, &entity.body)))
            }
            _ => None,
        })
        .collect();
    Some(DocumentSymbolResponse::Nested(symbols))
}

fn children(estate: &Estate, body: &Body) -> Vec<DocumentSymbol> {
    body.entries
        .iter()
        .filter_map(|entry| match entry {
            Entry::Block(block) => {
                let name = block.name.map_or_else(|| block.key.text.to_string(), |n| format!("{} {}", block.key.text, n.text));
                let selection = block.name.map_or(block.key.span, |n| n.span);
                Some(symbol(estate, name, SymbolKind::FIELD, block.span, selection, children(estate, &block.body)))
            }
            Entry::Attribute(_) => None,
        })
        .collect()
}

fn symbol(
    estate: &Estate,
    name: String,
    kind: SymbolKind,
    whole: crate::source::Span,
    selection: crate::source::Span,
    children: Vec<DocumentSymbol>,
) -> DocumentSymbol {
    #[allow(deprecated)] // `deprecated` is a field every client still expects to be settable.
    DocumentSymbol {
        name,
        detail: None,
        kind,
        tags: None,
        deprecated: None,
        range: estate.range(whole),
        selection_range: estate.range(selection),
        children: (!children.is_empty()).then_some(children),
    }
}
