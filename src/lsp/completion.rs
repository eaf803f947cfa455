//! Completion: the keys of the block the cursor is in, the values a key takes, catalog
//! boards after `model`, the vGPU types of the VM's host's boards and release after `vgpu`,
//! declared names.
//!
//! The context is read from the text before the cursor, not from the syntax tree: while the
//! user types, the line being written rarely parses.

use super::state::{self, State};
use crate::model::{GpuUse, Model};
use lsp_types::{CompletionItem, CompletionItemKind, CompletionParams, CompletionResponse};

const BOOLEAN: &[&str] = &["true", "false"];

/// The words a key takes, as lowering accepts them.
fn enum_values(block: &str, key: &str) -> Option<&'static [&'static str]> {
    Some(match (block, key) {
        ("gpu", "use") => &["passthrough", "vgpu"],
        ("gpu", "mode") => &["same_size", "mixed_size", "mig"],
        ("vm", "firmware") => &["efi", "bios"],
        ("nvidia", "scheduler") => &["best_effort", "equal_share", "fixed_share"],
        ("nvidia", "product") => &["vgpu", "ai_enterprise"],
        ("host" | "installed", "assignment") => &["performance", "consolidation"],
        ("host" | "installed", "graphics") => &["shared_direct", "shared"],
        ("guest", "product") => &["vws", "vcs"],
        ("guest", "os") => &["linux", "windows"],
        (_, "above_4g_decoding" | "sr_iov" | "image_managed" | "vmotion" | "drs" | "snapshots" | "ecc") => BOOLEAN,
        _ => return None,
    })
}

pub fn complete(state: &State, params: CompletionParams) -> Option<CompletionResponse> {
    let at = params.text_document_position;
    let (estate, file) = state.estate_of(&at.text_document.uri)?;
    let source = estate.source(file);
    let offset = state::offset(source, at.position);
    let context = Context::before(&source.text, offset);
    let model = &estate.checked.model;
    // The keys lowering reads (an empty block name is the top level of a file).
    let keys: Vec<&str> = match crate::model::keys::of(context.block) {
        Some(block) => block.all().collect(),
        None if context.block.is_empty() => crate::model::keys::TOP.to_vec(),
        None => Vec::new(),
    };
    let items = match context.key.filter(|key| keys.contains(key)) {
        None => items(keys.iter().map(|k| (k.to_string(), None)), CompletionItemKind::KEYWORD),
        Some(key) => values(model, &context, &source.text, key),
    };
    Some(CompletionResponse::Array(items))
}

fn items(labels: impl Iterator<Item = (String, Option<String>)>, kind: CompletionItemKind) -> Vec<CompletionItem> {
    labels.map(|(label, detail)| CompletionItem { label, kind: Some(kind), detail, ..Default::default() }).collect()
}

fn values(model: &Model, context: &Context, text: &str, key: &str) -> Vec<CompletionItem> {
    if let Some(words) = enum_values(context.block, key) {
        return items(words.iter().map(|w| (w.to_string(), None)), CompletionItemKind::ENUM_MEMBER);
    }
    match (context.block, key) {
        ("gpu", "model") => {
            items(model.catalog.boards().map(|(_, board)| (board.id.clone(), Some(board.name.clone()))), CompletionItemKind::VALUE)
        }
        ("vm", "vgpu") => {
            let host = context.entity_start.and_then(|start| host_of_vm(&text[start..]));
            let mut types: Vec<(String, Option<String>)> = Vec::new();
            let host = host.and_then(|name| model.hosts.iter().find(|h| h.name == name));
            // A type NVIDIA first offers after the host's vGPU release is not offered to it.
            let release = host.and_then(|h| h.nvidia.as_ref()).and_then(|n| n.release.as_ref()).map(|r| r.value);
            let offered = |kind: &crate::catalog::VgpuType| kind.first_release.is_none_or(|first| release.is_none_or(|r| r >= first));
            let boards: Vec<_> = match host {
                Some(host) => host
                    .gpus
                    .iter()
                    .map(|&gpu| model.gpu(gpu))
                    .filter(|gpu| gpu.usage.value == GpuUse::Vgpu)
                    .filter_map(|gpu| gpu.board)
                    .collect(),
                None => model.catalog.boards().map(|(id, _)| id).collect(),
            };
            for board in boards {
                for kind in model.catalog.board(board).vgpu_types.iter().filter(|kind| offered(kind)) {
                    if !types.iter().any(|(label, _)| *label == kind.profile) {
                        let detail = format!("{}, {} framebuffer, at most {} per GPU", kind.name, kind.framebuffer, kind.max);
                        types.push((kind.profile.clone(), Some(detail)));
                    }
                }
            }
            items(types.into_iter(), CompletionItemKind::VALUE)
        }
        ("vm", "host") => items(model.hosts.iter().map(|h| (h.name.clone(), None)), CompletionItemKind::REFERENCE),
        ("guest", "license" | "licence") => items(model.licenses.iter().map(|l| (l.name.clone(), None)), CompletionItemKind::REFERENCE),
        ("vm", "passthrough") => items(
            model
                .gpus
                .iter()
                .filter(|gpu| gpu.usage.value == GpuUse::Passthrough)
                .map(|gpu| (format!("{}.{}", model.host(gpu.host).name, gpu.name), None)),
            CompletionItemKind::REFERENCE,
        ),
        _ => Vec::new(),
    }
}

/// The host a VM's block names (`host esx14`), read from the text from the VM's header on.
fn host_of_vm(block: &str) -> Option<&str> {
    let mut lines = block.lines();
    lines.next();
    for line in lines {
        if line.starts_with(|c: char| !c.is_whitespace()) {
            return None;
        }
        let mut words = line.split_whitespace();
        if words.next() == Some("host") {
            return words.next();
        }
    }
    None
}

/// Where the cursor is: the innermost block's keyword, and the key whose value is being
/// written (none when a key is being written).
struct Context<'t> {
    block: &'t str,
    key: Option<&'t str>,
    /// Where the top-level block holding the cursor starts.
    entity_start: Option<usize>,
}

impl<'t> Context<'t> {
    fn before(text: &'t str, offset: usize) -> Context<'t> {
        let before = text.get(..offset).unwrap_or(text);
        let mut blocks: Vec<&str> = Vec::new();
        let mut entity_start = None;
        let mut segment = 0;
        let (mut in_string, mut in_comment) = (false, false);
        for (i, c) in before.char_indices() {
            match c {
                '\n' => {
                    in_comment = false;
                    in_string = false;
                    segment = i + 1;
                }
                _ if in_comment => {}
                '"' => in_string = !in_string,
                _ if in_string => {}
                '#' => in_comment = true,
                '{' => {
                    if blocks.is_empty() {
                        entity_start = Some(segment);
                    }
                    blocks.push(before[segment..i].split_whitespace().next().unwrap_or(""));
                    segment = i + 1;
                }
                '}' => {
                    blocks.pop();
                    segment = i + 1;
                }
                _ => {}
            }
        }
        let block = blocks.last().copied().unwrap_or("");
        let written = &before[segment..];
        let mut words: Vec<&str> = written.split_whitespace().collect();
        if !written.ends_with(char::is_whitespace) {
            // The word under the cursor is being written: the editor filters by it.
            words.pop();
        }
        // `key value` pairs follow each other in a one-line block; a list goes on after `,`.
        let key = match words.as_slice() {
            [.., key] => Some(*key),
            [] => None,
        }
        .filter(|_| words.len() % 2 == 1 || words.last().is_some_and(|w| w.ends_with(',')));
        let key = if words.last().is_some_and(|w| w.ends_with(',')) { words.first().copied() } else { key };
        Context { block, key, entity_start: if blocks.is_empty() { None } else { entity_start } }
    }
}
