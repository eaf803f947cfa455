//! Printing diagnostics: miette graphics on stderr, or one JSON report on stdout with the
//! facts checking derived per VM.

use crate::diagnostics::render::{self, JsonDiagnostic};
use crate::model::{Firmware, Model};
use crate::Checked;
use serde::Serialize;
use std::io::{IsTerminal, Write};

pub(super) fn color_wanted() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && std::io::stderr().is_terminal()
}

pub(super) fn print_human(checked: &Checked) -> std::io::Result<()> {
    let color = color_wanted();
    let mut err = std::io::stderr().lock();
    for d in &checked.diagnostics {
        write!(err, "{}", render::human(d, &checked.sources, color, 100))?;
        writeln!(err)?;
    }
    if !checked.diagnostics.is_empty() {
        writeln!(err, "{}", render::summary(&checked.diagnostics))?;
    }
    Ok(())
}

#[derive(Serialize)]
struct JsonReport {
    ok: bool,
    summary: JsonSummary,
    diagnostics: Vec<JsonDiagnostic>,
    vms: Vec<JsonVm>,
}

#[derive(Serialize)]
struct JsonSummary {
    errors: usize,
    warnings: usize,
}

/// The derived facts of one VM.
#[derive(Serialize)]
struct JsonVm {
    name: String,
    host: Option<String>,
    /// `efi` when the GPUs require it or it is declared; `bios` when declared; else null.
    firmware: Option<&'static str>,
    efi_required: bool,
    use_64bit_mmio: bool,
    mmio_size_gb: Option<u64>,
    memory_mb: u64,
    reservation_mb: Option<u64>,
    passthrough: Vec<String>,
    vgpus: Vec<JsonVgpu>,
}

#[derive(Serialize)]
struct JsonVgpu {
    #[serde(rename = "type")]
    kind: String,
    /// The GPU the vGPU was placed on (`host.gpu`); null when it could not be placed.
    gpu: Option<String>,
}

fn vm_facts(checked: &Checked) -> Vec<JsonVm> {
    let model: &Model = &checked.model;
    model
        .vm_ids()
        .filter_map(|id| {
            let vm = model.vm(id);
            let facts = checked.analysis.vms.get(id.index())?;
            let firmware = match vm.firmware.as_ref().map(|f| f.value) {
                Some(Firmware::Bios) if !facts.efi => Some("bios"),
                Some(_) => Some("efi"),
                None => facts.efi.then_some("efi"),
            };
            Some(JsonVm {
                name: vm.name.clone(),
                host: vm.host.map(|h| model.host(h).name.clone()),
                firmware,
                efi_required: facts.efi,
                use_64bit_mmio: facts.mmio.is_some(),
                mmio_size_gb: facts.mmio.map(|m| m.as_gib_ceil()),
                memory_mb: vm.memory.value.as_mib_ceil(),
                reservation_mb: facts.reservation.map(|r| r.as_mib_ceil()),
                passthrough: vm.passthrough.iter().map(|g| model.gpu_label(g.value)).collect(),
                vgpus: vm
                    .vgpus
                    .iter()
                    .enumerate()
                    .map(|(i, r)| JsonVgpu {
                        kind: r.type_name.clone(),
                        gpu: facts.placements.get(i).copied().flatten().map(|g| model.gpu_label(g)),
                    })
                    .collect(),
            })
        })
        .collect()
}

pub(super) fn print_json(checked: &Checked) -> std::io::Result<()> {
    let diagnostics: Vec<JsonDiagnostic> = checked.diagnostics.iter().map(|d| JsonDiagnostic::of(d, &checked.sources)).collect();
    let errors = checked.diagnostics.iter().filter(|d| d.is_error()).count();
    let report = JsonReport {
        ok: errors == 0,
        summary: JsonSummary { errors, warnings: checked.diagnostics.len() - errors },
        diagnostics,
        vms: vm_facts(checked),
    };
    let mut out = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, &report).map_err(std::io::Error::other)?;
    writeln!(out)
}
