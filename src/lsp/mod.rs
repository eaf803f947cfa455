//! `gpuc lsp`: a language server over stdio, on rust-analyzer's `lsp-server` crate.
//!
//! Every change re-checks the estate of each open document that holds the changed file (the
//! document and the files it imports, open documents read from memory), then publishes the
//! diagnostics of every file of those estates. Questions (hover, completion, navigation,
//! formatting, code actions) are answered from the estate of the document asked about.

mod completion;
mod diagnostics;
mod edits;
mod hover;
mod names;
mod navigation;
mod state;

use lsp_server::{Connection, ExtractError, Message, Notification, Request, RequestId, Response};
use lsp_types::notification::{DidChangeTextDocument, DidCloseTextDocument, DidOpenTextDocument, PublishDiagnostics};
use lsp_types::request::{
    CodeActionRequest, Completion, DocumentSymbolRequest, Formatting, GotoDefinition, HoverRequest, References, Rename,
};
use lsp_types::{
    CodeActionProviderCapability, CompletionOptions, HoverProviderCapability, OneOf, PublishDiagnosticsParams, ServerCapabilities,
    TextDocumentSyncCapability, TextDocumentSyncKind,
};
use state::State;
use std::path::PathBuf;

pub type Error = Box<dyn std::error::Error + Send + Sync>;

/// What the server can do, sent in answer to `initialize`.
pub fn capabilities() -> ServerCapabilities {
    ServerCapabilities {
        text_document_sync: Some(TextDocumentSyncCapability::Kind(TextDocumentSyncKind::FULL)),
        hover_provider: Some(HoverProviderCapability::Simple(true)),
        completion_provider: Some(CompletionOptions {
            trigger_characters: Some(vec![" ".to_string(), ".".to_string()]),
            ..Default::default()
        }),
        definition_provider: Some(OneOf::Left(true)),
        references_provider: Some(OneOf::Left(true)),
        rename_provider: Some(OneOf::Left(true)),
        document_symbol_provider: Some(OneOf::Left(true)),
        document_formatting_provider: Some(OneOf::Left(true)),
        code_action_provider: Some(CodeActionProviderCapability::Simple(true)),
        ..Default::default()
    }
}

/// Serves one client on `connection` until it asks to shut down.
pub fn serve(connection: &Connection) -> Result<(), Error> {
    connection.initialize(serde_json::to_value(capabilities())?)?;
    let mut state = State::default();
    let mut waiting = None;
    while let Some(message) = waiting.take().or_else(|| connection.receiver.recv().ok()) {
        match message {
            Message::Request(request) => {
                if connection.handle_shutdown(&request)? {
                    return Ok(());
                }
                let response = answer(&state, request);
                connection.sender.send(Message::Response(response))?;
            }
            Message::Notification(notification) => {
                // Changes queued behind this one are applied before checking: while the user
                // types faster than an estate is checked, only the latest text is checked.
                let mut changed: Vec<PathBuf> = notify(&mut state, notification).into_iter().collect();
                while let Ok(next) = connection.receiver.try_recv() {
                    match next {
                        Message::Notification(notification) => changed.extend(notify(&mut state, notification)),
                        other => {
                            waiting = Some(other);
                            break;
                        }
                    }
                }
                for published in recheck(&mut state, &changed) {
                    connection.sender.send(Message::Notification(published))?;
                }
            }
            Message::Response(_) => {}
        }
    }
    Ok(())
}

/// Applies a document notification; returns the document it changed, if any.
fn notify(state: &mut State, notification: Notification) -> Option<PathBuf> {
    match notification.method.as_str() {
        "textDocument/didOpen" => cast_notification::<DidOpenTextDocument>(notification).and_then(|params| {
            let path = params.text_document.uri.to_file_path().ok()?;
            state.documents.insert(path.clone(), params.text_document.text);
            Some(path)
        }),
        "textDocument/didChange" => cast_notification::<DidChangeTextDocument>(notification).and_then(|params| {
            let path = params.text_document.uri.to_file_path().ok()?;
            // Full sync: the last change holds the whole text.
            let text = params.content_changes.into_iter().last()?.text;
            state.documents.insert(path.clone(), text);
            Some(path)
        }),
        // The estates that import a closed document read it from disk again.
        "textDocument/didClose" => cast_notification::<DidCloseTextDocument>(notification).and_then(|params| {
            let path = params.text_document.uri.to_file_path().ok()?;
            state.documents.remove(&path);
            state.estates.remove(&path);
            Some(path)
        }),
        _ => None,
    }
}

/// Re-checks every open estate that holds a changed file, each once, and publishes the
/// diagnostics of their files.
fn recheck(state: &mut State, changed: &[PathBuf]) -> Vec<Notification> {
    let mut roots: Vec<PathBuf> = Vec::new();
    for path in changed {
        for root in state.roots_holding(path) {
            if !roots.contains(&root) {
                roots.push(root);
            }
        }
    }
    let mut published = std::collections::BTreeMap::new();
    for root in roots {
        state.recheck(&root);
        if let Some(estate) = state.estates.get(&root) {
            published.extend(diagnostics::by_file(estate));
        }
    }
    published
        .into_iter()
        .map(|(uri, diagnostics)| {
            Notification::new(
                <PublishDiagnostics as lsp_types::notification::Notification>::METHOD.to_string(),
                PublishDiagnosticsParams { uri, diagnostics, version: None },
            )
        })
        .collect()
}

fn cast_notification<N: lsp_types::notification::Notification>(notification: Notification) -> Option<N::Params> {
    notification.extract(N::METHOD).ok()
}

/// Answers a request: a result, `null` when there is nothing to say, or an error for a
/// method the server does not know or parameters it cannot read.
fn answer(state: &State, request: Request) -> Response {
    let id = request.id.clone();
    let result = match request.method.as_str() {
        "textDocument/hover" => handle::<HoverRequest>(request, |p| hover::hover(state, p)),
        "textDocument/completion" => handle::<Completion>(request, |p| completion::complete(state, p)),
        "textDocument/definition" => handle::<GotoDefinition>(request, |p| navigation::definition(state, p)),
        "textDocument/references" => handle::<References>(request, |p| navigation::references(state, p)),
        "textDocument/rename" => handle::<Rename>(request, |p| navigation::rename(state, p)),
        "textDocument/documentSymbol" => handle::<DocumentSymbolRequest>(request, |p| navigation::symbols(state, p)),
        "textDocument/formatting" => handle::<Formatting>(request, |p| edits::format(state, p)),
        "textDocument/codeAction" => handle::<CodeActionRequest>(request, |p| edits::code_actions(state, p)),
        _ => return Response::new_err(id, lsp_server::ErrorCode::MethodNotFound as i32, format!("unknown method {}", request.method)),
    };
    match result {
        Ok(value) => Response::new_ok(id, value),
        Err(message) => Response::new_err(id, lsp_server::ErrorCode::InvalidParams as i32, message),
    }
}

fn handle<R: lsp_types::request::Request>(
    request: Request,
    respond: impl FnOnce(R::Params) -> R::Result,
) -> Result<serde_json::Value, String> {
    let (_, params): (RequestId, R::Params) = request.extract(R::METHOD).map_err(|e: ExtractError<Request>| format!("{e:?}"))?;
    serde_json::to_value(respond(params)).map_err(|e| e.to_string())
}
