//! `plan.md`: the whole runbook in order, grouped by host and phase, each step with why
//! (rule and source), manual steps with their exact instruction, and the vGPU placement.

use super::describe::{instruction, title};
use crate::check::Analysis;
use crate::model::{GpuUse, Model};
use crate::plan::{Action, Plan, Target};
use crate::source::Sources;
use std::fmt::Write;

/// Writes plan.md to `out` as it goes (a large estate's is over 100 MB). `scripts` holds each
/// host's script file names (by `HostId`), in phase order.
pub fn render(out: &mut dyn Write, model: &Model, analysis: &Analysis, plan: &Plan, sources: &Sources, scripts: &[Vec<String>]) {
    let files: Vec<String> =
        sources.iter().filter(|(_, f)| f.kind == crate::source::SourceKind::Spec).map(|(_, f)| format!("`{}`", f.name)).collect();
    let _ = writeln!(out, "# Plan\n\nCompiled by gpuc from {}. Apply the steps in this order; each says why.", files.join(", "));
    let _ = writeln!(out, "Scripted steps run in the ESXi shell, one script per phase; a phase ends with a reboot.");
    let _ = writeln!(out, "Manual steps (**manual**) are done by hand, as written.");
    let _ = writeln!(
        out,
        "\nOrder note: the host graphics type is set to SharedPassthru and the host rebooted before the NVIDIA VIB is installed, as the guide asks (seed §6.1.3: otherwise Shared Direct cannot be enabled for the device once the VIB is installed); later NVIDIA guides install the VIB first."
    );
    let mut number = 0;
    let mut section: Option<Target> = None;
    let mut phase = 0;
    for &id in &plan.order {
        let step = plan.step(id);
        let heading_target = match step.target {
            Target::Guest(v) => Target::Vm(v),
            t => t,
        };
        if section != Some(heading_target) {
            section = Some(heading_target);
            phase = 0;
            let _ = writeln!(out, "\n## {}", heading(model, heading_target));
        }
        if let Target::Host(h) = step.target {
            if step.phase != phase {
                phase = step.phase;
                let script = scripts
                    .get(h.index())
                    .and_then(|names| names.get(phase as usize - 1))
                    .map_or_else(String::new, |name| format!(": `hosts/{}/{name}`", model.host(h).name));
                let _ = writeln!(out, "\n### Phase {phase}{script}\n");
            }
        } else if number > 0
            && matches!(step.action, Action::ConfigureVm | Action::EnableVgpuHotMigrate | Action::StartResourceScheduler { .. })
        {
            let _ = out.write_char('\n');
        }
        number += 1;
        let manual = if step.action.manual() { " **manual**" } else { "" };
        let what = title(model, plan, id);
        let what = what.split_once(": ").map_or(what.as_str(), |(_, w)| w);
        let _ = writeln!(out, "{number}. {what}{manual} — {}", step.why);
        if let Some(text) = instruction(model, plan, id) {
            let _ = writeln!(out, "   {text}");
        }
    }
    placement(model, analysis, out);
}

fn heading(model: &Model, target: Target) -> String {
    match target {
        Target::Host(h) => {
            let host = model.host(h);
            format!("Host {} ({}, ESXi {})", host.name, host.address, host.esxi.value)
        }
        Target::VCenter => "vCenter".to_string(),
        Target::Vm(v) | Target::Guest(v) => {
            let vm = model.vm(v);
            let host = vm.host.map_or_else(String::new, |h| format!(" on {}", model.host(h).name));
            format!("VM {}{host}", vm.name)
        }
        Target::Pool(p) => format!("Bitfusion pool {}", model.pools[p.index()].name),
    }
}

/// The vGPU placement table: each vGPU GPU, what it holds, and how full it is.
fn placement(model: &Model, analysis: &Analysis, out: &mut dyn Write) {
    let gpus: Vec<_> = model.gpu_ids().filter(|&g| model.gpu(g).usage.value == GpuUse::Vgpu).collect();
    if gpus.is_empty() {
        return;
    }
    // What each GPU holds, by type in order of first placement: one pass over the VMs.
    let mut held: Vec<Vec<(String, Vec<String>)>> = vec![Vec::new(); model.gpus.len()];
    for vm in model.vm_ids() {
        for (i, request) in model.vm(vm).vgpus.iter().enumerate() {
            let Some(g) = analysis.vm(vm).placements.get(i).copied().flatten() else { continue };
            // By vSphere's profile string, however the spec named the type.
            let profile = model.board_of(g).and_then(|b| b.vgpu_type(&request.type_name)).map_or(&request.type_name, |t| &t.profile);
            let kinds = &mut held[g.index()];
            match kinds.iter_mut().find(|(k, _)| k == profile) {
                Some((_, vms)) => vms.push(model.vm(vm).name.clone()),
                None => kinds.push((profile.clone(), vec![model.vm(vm).name.clone()])),
            }
        }
    }
    let _ = writeln!(out, "\n## vGPU placement\n\n| GPU | Board | Mode | Type | VMs | Used / max |\n|---|---|---|---|---|---|");
    for g in gpus {
        let Some(board) = model.board_of(g) else { continue };
        let mode = model.gpu(g).mode.value.describe();
        let kinds = std::mem::take(&mut held[g.index()]);
        if kinds.is_empty() {
            let _ = writeln!(out, "| {} | {} | {mode} | — | — | 0 |", model.gpu_label(g), board.name);
        }
        for (kind, vms) in kinds {
            let max = board.vgpu_type(&kind).map_or(0, |t| if mode == "mixed-size" { t.mixed_max.unwrap_or(0) } else { t.max });
            let _ =
                writeln!(out, "| {} | {} | {mode} | {kind} | {} | {}/{max} |", model.gpu_label(g), board.name, vms.join(", "), vms.len());
        }
    }
}
