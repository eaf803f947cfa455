//! Hover: what the compiler knows about the thing under the cursor.

use super::names::{spot_at, Spot};
use super::state::{self, Estate, State};
use crate::catalog::{Board, VgpuType};
use crate::model::{Model, VmId};
use crate::source::Span;
use lsp_types::{Hover, HoverContents, HoverParams, MarkupContent, MarkupKind};

pub fn hover(state: &State, params: HoverParams) -> Option<Hover> {
    let at = params.text_document_position_params;
    let (estate, file) = state.estate_of(&at.text_document.uri)?;
    let source = estate.source(file);
    let offset = state::offset(source, at.position);
    let (tree, _) = crate::syntax::parse(file, &source.text);
    let model = &estate.checked.model;
    let (text, span) = match spot_at(&tree, offset) {
        Some(Spot::VgpuType { name, span, vm }) => (vgpu_type_text(model, name, vm)?, span),
        Some(Spot::GpuModel { name, span }) => (board_text(model.catalog.board(model.catalog.find(name)?)), span),
        Some(Spot::VmName { vm }) => (vm_text(estate, vm)?, vm),
        None => diagnostic_text(estate, Span::new(file, offset, offset))?,
    };
    Some(Hover {
        contents: HoverContents::Markup(MarkupContent { kind: MarkupKind::Markdown, value: text }),
        range: Some(estate.range(span)),
    })
}

fn vm_named(model: &Model, name_span: Span) -> Option<VmId> {
    model.vms.iter().position(|vm| vm.span == name_span).map(|i| VmId(i as u32))
}

/// The boards of the GPUs of the VM's host, then every board of the catalog.
fn boards_for_vm(model: &Model, vm: Span) -> Vec<&Board> {
    let host_boards: Vec<&Board> = vm_named(model, vm)
        .and_then(|id| model.vm(id).host)
        .map(|host| model.host(host).gpus.iter().filter_map(|&gpu| model.gpu(gpu).board).map(|b| model.catalog.board(b)).collect())
        .unwrap_or_default();
    host_boards.into_iter().chain(model.catalog.boards().map(|(_, board)| board)).collect()
}

fn vgpu_type_text(model: &Model, name: &str, vm: Span) -> Option<String> {
    let (board, kind): (&Board, &VgpuType) =
        boards_for_vm(model, vm).into_iter().find_map(|board| Some((board, board.vgpu_type(name)?)))?;
    let mixed = kind.mixed_max.map_or_else(|| "no mixed-size placement".to_string(), |n| n.to_string());
    Some(format!(
        "**{}** (vGPU type of {})\n\n- vSphere profile string: `{}`\n- NVIDIA name: {}\n- framebuffer: {}\n- max per GPU: {}\n- mixed-size max per GPU: {}",
        kind.profile, board.name, kind.profile, kind.name, kind.framebuffer, kind.max, mixed
    ))
}

fn board_text(board: &Board) -> String {
    format!(
        "**{}** (`{}`)\n\n- framebuffer: {}\n- BAR1: {}\n- MMIO need: {}",
        board.name,
        board.id,
        board.framebuffer,
        board.bar1,
        board.mmio_need()
    )
}

fn vm_text(estate: &Estate, name_span: Span) -> Option<String> {
    let model = &estate.checked.model;
    let id = vm_named(model, name_span)?;
    let vm = model.vm(id);
    let facts = estate.checked.analysis.vms.get(id.index())?;
    let size = |s: Option<crate::quantity::ByteSize>| s.map_or_else(|| "none".to_string(), |s| s.to_string());
    let mut text = format!(
        "**vm {}**\n\n- firmware: {}\n- 64-bit MMIO window: {}\n- memory reservation: {}",
        vm.name,
        if facts.efi { "efi" } else { "bios" },
        size(facts.mmio),
        size(facts.reservation)
    );
    for (request, placed) in vm.vgpus.iter().zip(&facts.placements) {
        let on = placed.map_or_else(
            || "not placed".to_string(),
            |gpu| {
                let gpu = model.gpu(gpu);
                format!("on {}.{}", model.host(gpu.host).name, gpu.name)
            },
        );
        text.push_str(&format!("\n- vgpu {}: {on}", request.type_name));
    }
    Some(text)
}

/// The `gpuc explain` text of the diagnostics whose range holds the cursor.
fn diagnostic_text(estate: &Estate, at: Span) -> Option<(String, Span)> {
    let found = estate.checked.diagnostics.iter().find(|d| {
        let span = d.primary.span;
        span.file == at.file && span.start <= at.start && at.start <= span.end
    })?;
    Some((format!("**{}**: {}\n\n{}", found.code, found.code.title(), found.code.explanation()), found.primary.span))
}
