//! `gpuc lsp` end to end in process: a client on one side of `Connection::memory()`, the
//! server on a thread on the other, speaking the protocol as an editor does.

use lsp_server::{Connection, Message, Notification, Request, RequestId};
use lsp_types::notification::{DidChangeTextDocument, DidOpenTextDocument, Initialized, Notification as _, PublishDiagnostics};
use lsp_types::request::{
    CodeActionRequest, Completion, DocumentSymbolRequest, Formatting, GotoDefinition, HoverRequest, Initialize, References, Rename,
    Shutdown,
};
use lsp_types::*;
use std::path::PathBuf;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// One host with an A40 carved into vGPUs, one VM on it.
const A40_HOST: &str = r#"license nls { token "client_configuration_token_04-01-2025-10-00-00.tok" }

host esx30 {
  esxi   "8.0 U3"
  bios   { above_4g_decoding true }
  nvidia { release "17.1"  vib "/vmfs/volumes/ds1/NVD-VGPU-800_550.54.16-1OEM.800.1.0.20613240.zip" }
  gpu g0 { model nvidia-a40  pci 0000:3b:00.0  use vgpu }
}

vm cad1 {
  host   esx30
  memory 16GiB
  vgpu   nvidia_a40-8q
  guest  { os linux  driver "550.54.15"  license nls }
}
"#;

struct Client {
    connection: Connection,
    server: Option<JoinHandle<()>>,
    next_id: i32,
}

impl Client {
    fn start() -> Client {
        let (server_side, client_side) = Connection::memory();
        let server = std::thread::spawn(move || gpuc::lsp::serve(&server_side).expect("the server runs to shutdown"));
        let mut client = Client { connection: client_side, server: Some(server), next_id: 0 };
        let initialized: InitializeResult = client.request::<Initialize>(InitializeParams::default());
        assert!(initialized.capabilities.hover_provider.is_some());
        client.notify::<Initialized>(InitializedParams {});
        client
    }

    fn notify<N: lsp_types::notification::Notification>(&self, params: N::Params) {
        self.connection.sender.send(Message::Notification(Notification::new(N::METHOD.to_string(), params))).unwrap();
    }

    /// Sends a request and waits for its answer, setting aside the notifications before it.
    /// The markdown of a hover that must be there.
    fn hover(&mut self, file: &Url, position: Position) -> MarkupContent {
        let hover = self
            .request::<HoverRequest>(HoverParams {
                text_document_position_params: at(file, position),
                work_done_progress_params: Default::default(),
            })
            .expect("a hover");
        let HoverContents::Markup(markup) = hover.contents else { panic!("markdown") };
        markup
    }

    fn request<R: lsp_types::request::Request>(&mut self, params: R::Params) -> R::Result {
        self.next_id += 1;
        let id = RequestId::from(self.next_id);
        self.connection.sender.send(Message::Request(Request::new(id.clone(), R::METHOD.to_string(), params))).unwrap();
        loop {
            match self.connection.receiver.recv_timeout(Duration::from_secs(60)).expect("an answer") {
                Message::Response(response) if response.id == id => {
                    assert!(response.error.is_none(), "{:?}", response.error);
                    return serde_json::from_value(response.result.unwrap_or(serde_json::Value::Null)).unwrap();
                }
                _ => {}
            }
        }
    }

    /// The diagnostics published next for `uri` (others are skipped).
    fn diagnostics_for(&self, uri: &Url) -> Vec<Diagnostic> {
        loop {
            if let Message::Notification(n) = self.connection.receiver.recv_timeout(Duration::from_secs(60)).expect("diagnostics") {
                if n.method == PublishDiagnostics::METHOD {
                    let params: PublishDiagnosticsParams = serde_json::from_value(n.params).unwrap();
                    if params.uri == *uri {
                        return params.diagnostics;
                    }
                }
            }
        }
    }

    fn open(&self, uri: &Url, text: &str) -> Vec<Diagnostic> {
        self.notify::<DidOpenTextDocument>(DidOpenTextDocumentParams {
            text_document: TextDocumentItem::new(uri.clone(), "gpu".into(), 1, text.into()),
        });
        self.diagnostics_for(uri)
    }

    fn change(&self, uri: &Url, version: i32, text: &str) -> Vec<Diagnostic> {
        self.notify::<DidChangeTextDocument>(DidChangeTextDocumentParams {
            text_document: VersionedTextDocumentIdentifier::new(uri.clone(), version),
            content_changes: vec![TextDocumentContentChangeEvent { range: None, range_length: None, text: text.into() }],
        });
        self.diagnostics_for(uri)
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        if std::thread::panicking() {
            return;
        }
        self.request::<Shutdown>(());
        self.notify::<lsp_types::notification::Exit>(());
        self.server.take().unwrap().join().unwrap();
    }
}

fn uri(name: &str) -> Url {
    Url::from_file_path(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(name)).unwrap()
}

/// The position of the first `needle` in `text`, `skip` characters into it.
fn position_of(text: &str, needle: &str, skip: usize) -> Position {
    let offset = text.find(needle).unwrap_or_else(|| panic!("{needle} is in the text")) + skip;
    let line = text[..offset].matches('\n').count();
    let column = offset - text[..offset].rfind('\n').map_or(0, |i| i + 1);
    Position::new(line as u32, column as u32)
}

fn at(uri: &Url, position: Position) -> TextDocumentPositionParams {
    TextDocumentPositionParams::new(TextDocumentIdentifier::new(uri.clone()), position)
}

fn apply(text: &str, mut edits: Vec<TextEdit>) -> String {
    let offset = |p: Position| text.split_inclusive('\n').take(p.line as usize).map(str::len).sum::<usize>() + p.character as usize;
    edits.sort_by_key(|e| std::cmp::Reverse((e.range.start.line, e.range.start.character)));
    let mut out = text.to_string();
    for edit in edits {
        out.replace_range(offset(edit.range.start)..offset(edit.range.end), &edit.new_text);
    }
    out
}

#[test]
fn a_planted_mistake_is_reported_then_cleared_when_fixed() {
    let client = Client::start();
    let lab = uri("examples/lab.gpu");
    let original = std::fs::read_to_string(lab.to_file_path().unwrap()).unwrap();
    let planted = original.replacen("license main }", "license mian }", 1);
    let diagnostics = client.open(&lab, &planted);
    let unknown = Some(NumberOrString::String("E0102".into()));
    let error = diagnostics.iter().find(|d| d.code == unknown).expect("E0102 for the unknown licence");
    assert_eq!(error.source.as_deref(), Some("gpuc"));
    assert_eq!(error.severity, Some(DiagnosticSeverity::ERROR));
    assert!(error.message.contains("help: did you mean `main`?"), "{}", error.message);
    assert_eq!(error.range.start, position_of(&planted, "mian", 0));
    assert_eq!(error.range.end, position_of(&planted, "mian", 4));
    let fixed = client.change(&lab, 2, &original);
    assert!(fixed.iter().all(|d| d.severity == Some(DiagnosticSeverity::WARNING)), "{fixed:?}");
}

#[test]
fn hover_on_a_vgpu_type_shows_its_profile_string_and_maxima() {
    let mut client = Client::start();
    let file = uri("tests/lsp-a40.gpu");
    client.open(&file, A40_HOST);
    let markup = client.hover(&file, position_of(A40_HOST, "nvidia_a40-8q", 3));
    assert!(markup.value.contains("vSphere profile string: `nvidia_a40-8q`"), "{}", markup.value);
    assert!(markup.value.contains("NVIDIA name: A40-8Q"), "{}", markup.value);
    assert!(markup.value.contains("max per GPU: 6"), "{}", markup.value);
}

#[test]
fn hover_on_a_vm_shows_what_the_compiler_derived() {
    let mut client = Client::start();
    let file = uri("tests/lsp-a40.gpu");
    client.open(&file, A40_HOST);
    let markup = client.hover(&file, position_of(A40_HOST, "cad1", 1));
    assert!(markup.value.contains("memory reservation: 16GiB"), "{}", markup.value);
    assert!(markup.value.contains("vgpu nvidia_a40-8q: on esx30.g0"), "{}", markup.value);
}

#[test]
fn completion_after_vgpu_offers_the_types_of_the_hosts_board() {
    let mut client = Client::start();
    let file = uri("tests/lsp-a40.gpu");
    let typing = A40_HOST.replace("vgpu   nvidia_a40-8q", "vgpu   ");
    client.open(&file, &typing);
    let Some(CompletionResponse::Array(items)) = client.request::<Completion>(CompletionParams {
        text_document_position: at(&file, position_of(&typing, "vgpu   ", 7)),
        work_done_progress_params: Default::default(),
        partial_result_params: Default::default(),
        context: None,
    }) else {
        panic!("a list of completions")
    };
    let labels: Vec<&str> = items.iter().map(|i| i.label.as_str()).collect();
    assert!(labels.contains(&"nvidia_a40-8q"), "{labels:?}");
    assert!(labels.iter().all(|l| l.starts_with("nvidia_a40-")), "only the A40's types: {labels:?}");
}

/// `nvidia_a30-2-12cme` is offered from vGPU software 15.0 (the catalog's `first_release`).
#[test]
fn completion_after_vgpu_leaves_out_types_newer_than_the_hosts_release() {
    let mut client = Client::start();
    let file = uri("tests/lsp-a30.gpu");
    let mig_host = |release: &str| {
        A40_HOST
            .replace("model nvidia-a40  pci 0000:3b:00.0  use vgpu", "model nvidia-a30  pci 0000:3b:00.0  use vgpu  mode mig")
            .replace("release \"17.1\"", &format!("release \"{release}\""))
            .replace("vgpu   nvidia_a40-8q", "vgpu   ")
    };
    let mut labels_for = |version: i32, release: &str| {
        let text = mig_host(release);
        if version == 1 {
            client.open(&file, &text);
        } else {
            client.change(&file, version, &text);
        }
        let Some(CompletionResponse::Array(items)) = client.request::<Completion>(CompletionParams {
            text_document_position: at(&file, position_of(&text, "vgpu   ", 7)),
            work_done_progress_params: Default::default(),
            partial_result_params: Default::default(),
            context: None,
        }) else {
            panic!("a list of completions")
        };
        items.into_iter().map(|i| i.label).collect::<Vec<_>>()
    };
    let newer = labels_for(1, "17.1");
    assert!(newer.iter().any(|l| l == "nvidia_a30-2-12cme"), "{newer:?}");
    let older = labels_for(2, "14.1");
    assert!(older.iter().any(|l| l == "nvidia_a30-2-12c"), "{older:?}");
    assert!(!older.iter().any(|l| l == "nvidia_a30-2-12cme"), "{older:?}");
}

#[test]
fn completion_offers_the_keys_of_the_block_and_the_values_of_a_key() {
    let mut client = Client::start();
    let file = uri("tests/lsp-a40.gpu");
    let typing = A40_HOST.replace("  memory 16GiB\n", "  memory 16GiB\n  firmware \n");
    client.open(&file, &typing);
    let mut labels_at = |position| {
        let Some(CompletionResponse::Array(items)) = client.request::<Completion>(CompletionParams {
            text_document_position: at(&file, position),
            work_done_progress_params: Default::default(),
            partial_result_params: Default::default(),
            context: None,
        }) else {
            panic!("a list of completions")
        };
        items.into_iter().map(|i| i.label).collect::<Vec<_>>()
    };
    assert_eq!(labels_at(position_of(&typing, "firmware ", 9)), ["efi", "bios"]);
    let keys = labels_at(position_of(&typing, "  memory 16GiB", 2));
    assert!(keys.iter().any(|k| k == "vgpu") && keys.iter().any(|k| k == "guest"), "{keys:?}");
    assert_eq!(labels_at(position_of(&typing, "host   esx30", 7)), ["esx30"]);
}

#[test]
fn definition_of_a_vms_host_is_the_host_and_references_find_both() {
    let mut client = Client::start();
    let file = uri("tests/lsp-a40.gpu");
    client.open(&file, A40_HOST);
    let definition = client.request::<GotoDefinition>(GotoDefinitionParams {
        text_document_position_params: at(&file, position_of(A40_HOST, "host   esx30", 8)),
        work_done_progress_params: Default::default(),
        partial_result_params: Default::default(),
    });
    let Some(GotoDefinitionResponse::Scalar(location)) = definition else { panic!("one location: {definition:?}") };
    assert_eq!(location.uri, file);
    assert_eq!(location.range.start, position_of(A40_HOST, "host esx30", 5));
    let references = client
        .request::<References>(ReferenceParams {
            text_document_position: at(&file, position_of(A40_HOST, "host esx30", 6)),
            work_done_progress_params: Default::default(),
            partial_result_params: Default::default(),
            context: ReferenceContext { include_declaration: true },
        })
        .unwrap();
    assert_eq!(references.len(), 2);
}

#[test]
fn renaming_a_host_rewrites_its_declaration_and_references() {
    let mut client = Client::start();
    let lab = uri("examples/lab.gpu");
    let text = std::fs::read_to_string(lab.to_file_path().unwrap()).unwrap();
    client.open(&lab, &text);
    let edit = client
        .request::<Rename>(RenameParams {
            text_document_position: at(&lab, position_of(&text, "host esx14", 6)),
            new_name: "esx15".into(),
            work_done_progress_params: Default::default(),
        })
        .expect("an edit");
    let edits = edit.changes.unwrap().remove(&lab).unwrap();
    let renamed = apply(&text, edits);
    assert_eq!(
        renamed,
        text.replace("host esx14", "host esx15")
            .replace("host        esx14", "host        esx15")
            .replace("host     esx14", "host     esx15")
            .replace("esx14.g", "esx15.g")
    );
    assert!(client.change(&lab, 2, &renamed).iter().all(|d| d.severity == Some(DiagnosticSeverity::WARNING)));
}

#[test]
fn document_symbols_list_the_blocks_with_their_names() {
    let mut client = Client::start();
    let file = uri("tests/lsp-a40.gpu");
    client.open(&file, A40_HOST);
    let Some(DocumentSymbolResponse::Nested(symbols)) = client.request::<DocumentSymbolRequest>(DocumentSymbolParams {
        text_document: TextDocumentIdentifier::new(file.clone()),
        work_done_progress_params: Default::default(),
        partial_result_params: Default::default(),
    }) else {
        panic!("nested symbols")
    };
    let names: Vec<&str> = symbols.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["license nls", "host esx30", "vm cad1"]);
    let host_children: Vec<&str> = symbols[1].children.iter().flatten().map(|s| s.name.as_str()).collect();
    assert_eq!(host_children, ["bios", "nvidia", "gpu g0"]);
}

#[test]
fn formatting_returns_the_canonical_text() {
    let mut client = Client::start();
    let lab = uri("examples/lab.gpu");
    let canonical = std::fs::read_to_string(lab.to_file_path().unwrap()).unwrap();
    let messy = canonical.replace("\n  ", "\n").replace("  }", "}");
    assert_ne!(messy, canonical);
    client.open(&lab, &messy);
    let edits = client
        .request::<Formatting>(DocumentFormattingParams {
            text_document: TextDocumentIdentifier::new(lab.clone()),
            options: FormattingOptions { tab_size: 2, insert_spaces: true, ..Default::default() },
            work_done_progress_params: Default::default(),
        })
        .unwrap();
    assert_eq!(apply(&messy, edits), canonical);
}

#[test]
fn a_code_action_applies_the_fix_of_a_misprefixed_profile() {
    let mut client = Client::start();
    let file = uri("tests/lsp-a40.gpu");
    let wrong = A40_HOST.replace("nvidia_a40-8q", "grid_a40-8q");
    let diagnostics = client.open(&file, &wrong);
    let diagnostic = diagnostics.iter().find(|d| d.range.start == position_of(&wrong, "grid_a40-8q", 0)).expect("the profile is reported");
    let actions = client
        .request::<CodeActionRequest>(CodeActionParams {
            text_document: TextDocumentIdentifier::new(file.clone()),
            range: diagnostic.range,
            context: CodeActionContext { diagnostics: vec![diagnostic.clone()], only: None, trigger_kind: None },
            work_done_progress_params: Default::default(),
            partial_result_params: Default::default(),
        })
        .unwrap();
    let [CodeActionOrCommand::CodeAction(action)] = actions.as_slice() else { panic!("one quick fix: {actions:?}") };
    assert_eq!(action.kind, Some(CodeActionKind::QUICKFIX));
    let edits = action.edit.clone().unwrap().changes.unwrap().remove(&file).unwrap();
    assert_eq!(apply(&wrong, edits), A40_HOST);
}

/// A one-host file is re-checked after an edit well within a keystroke (the figure is
/// printed; `cargo test --test lsp -- --nocapture` shows it).
#[test]
fn a_one_host_file_is_rechecked_in_milliseconds() {
    let client = Client::start();
    let file = uri("tests/lsp-a40.gpu");
    client.open(&file, A40_HOST);
    let rounds = 20;
    let started = Instant::now();
    for version in 0..rounds {
        let edited = A40_HOST.replace("memory 16GiB", &format!("memory {}GiB", 16 + version));
        client.change(&file, version + 2, &edited);
    }
    let each = started.elapsed() / rounds as u32;
    println!("one-host file: {each:?} from an edit to its diagnostics (mean of {rounds})");
    assert!(each < Duration::from_millis(500), "{each:?}");
}
