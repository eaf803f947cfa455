//! `plan.md`: the whole runbook in order, grouped by host and phase, each step with why
//! (rule and source), manual steps with their exact instruction, and the vGPU placement. An
//! estate of more than [`SPLIT_ABOVE_HOSTS`] hosts gets `plan.md` as an index with the
//! estate-wide steps, and one `plan/<host>.md` per host with its steps, its VMs' and its GPUs.

use super::describe::{instruction, title};
use super::ByHost;
use crate::check::Analysis;
use crate::model::{GpuId, GpuUse, HostId, Model, VmId};
use crate::plan::{Action, Plan, StepId, Target};
use crate::source::Sources;
use rustc_hash::FxHashMap;
use std::fmt::Write;

/// Above this many hosts plan.md is split per host. A host of the fleet generator (four GPUs,
/// about ten VMs) takes about 20 KB of plan.md: 50 hosts make one file of 1.0 MB, still one
/// page to search in an editor or a pull request; 1,000 hosts would make one of about 20 MB.
/// Split, the index of 51 hosts is 10 KB.
pub const SPLIT_ABOVE_HOSTS: usize = 50;

/// Whether plan.md is an index with one `plan/<host>.md` per host.
pub fn split(model: &Model) -> bool {
    model.hosts.len() > SPLIT_ABOVE_HOSTS
}

/// The host a section belongs to: a host's own, or that of the VM (a guest's steps are its
/// VM's); vCenter and pools belong to the estate.
pub(super) fn section_host(model: &Model, target: Target) -> Option<HostId> {
    match target {
        Target::Host(h) => Some(h),
        Target::Vm(v) | Target::Guest(v) => model.vm(v).host,
        Target::VCenter | Target::Pool(_) => None,
    }
}

/// Which hosts have steps of their own or of their VMs, by `HostId`: those get a part file.
pub fn hosts_with_steps(model: &Model, plan: &Plan) -> Vec<bool> {
    let mut has = vec![false; model.hosts.len()];
    for &id in &plan.order {
        if let Some(h) = section_host(model, plan.step(id).target) {
            has[h.index()] = true;
        }
    }
    has
}

/// Writes plan.md to `out` as it goes (a large estate's is over 100 MB). `scripts` holds each
/// host's script file names (by `HostId`), in phase order. When the estate is [`split`], this
/// is the index and the estate-wide steps; each host's part comes from [`render_host`].
pub(crate) fn render(
    out: &mut dyn Write,
    model: &Model,
    analysis: &Analysis,
    plan: &Plan,
    sources: &Sources,
    scripts: &[Vec<String>],
    by_host: &ByHost,
) {
    intro(out, model, plan, sources);
    if split(model) {
        index(out, model, scripts, by_host);
        sections(out, model, plan, scripts, by_host, by_host.estate_steps());
    } else {
        sections(out, model, plan, scripts, by_host, &plan.order);
        let gpus = model.gpu_ids().filter(|&g| model.gpu(g).usage.value == GpuUse::Vgpu);
        placement(out, model, analysis, gpus, model.vm_ids());
    }
}

/// `plan/<host>.md` of a [`split`] plan: the host's steps, its VMs' and its vGPU placement.
pub(crate) fn render_host(
    out: &mut dyn Write,
    model: &Model,
    analysis: &Analysis,
    plan: &Plan,
    scripts: &[Vec<String>],
    by_host: &ByHost,
    host: HostId,
) {
    let _ = writeln!(
        out,
        "# Plan for host {}\n\nPart of the plan in `plan.md`, which lists every host and the steps outside them (vCenter, Bitfusion pools). Apply the steps in this order; each says why.",
        model.host(host).name
    );
    sections(out, model, plan, scripts, by_host, by_host.steps(host));
    // In GPU order, as the whole plan's table has them.
    let mut gpus: Vec<GpuId> = model.host(host).gpus.iter().copied().filter(|&g| model.gpu(g).usage.value == GpuUse::Vgpu).collect();
    gpus.sort_unstable();
    placement(out, model, analysis, gpus.into_iter(), by_host.vms(host).iter().copied());
}

fn intro(out: &mut dyn Write, model: &Model, plan: &Plan, sources: &Sources) {
    let files: Vec<String> =
        sources.iter().filter(|(_, f)| f.kind == crate::source::SourceKind::Spec).map(|(_, f)| format!("`{}`", f.name)).collect();
    let _ = writeln!(out, "# Plan\n\nCompiled by gpuc from {}. Apply the steps in this order; each says why.", files.join(", "));
    let _ = writeln!(out, "Scripted steps run in the ESXi shell, one script per phase; a phase that changes something ends with a reboot,");
    let _ = writeln!(
        out,
        "and a phase that finds nothing to change says \"no change, no reboot\". Every script first checks that it runs on its host."
    );
    let _ = writeln!(out, "Manual steps (**manual**) are done by hand, as written.");
    let _ = writeln!(out, "Or roll it all out with Ansible: `ansible/site.yml` applies the scripts and the vCenter steps host by host (README, Rolling out with Ansible).");
    let _ = writeln!(
        out,
        "\nOrder note: the host graphics type is set to SharedPassthru and the host rebooted before the NVIDIA VIB is installed, as the VMware Learning Guide: GPUs for Machine Learning on vSphere asks (§6.1.3: otherwise Shared Direct cannot be enabled for the device once the VIB is installed); NVIDIA vGPU Software User Guide 17 (§2.9.1.1, §2.9.3) installs the VIB first. NVIDIA's install procedure exits maintenance mode before its reboot (§2.9.1.1); the runbooks keep the host in maintenance mode through the reboot and the verification and exit last, as its update procedure does (§2.9.1.2: \"Reboot the ESXi host and remove it from maintenance mode\")."
    );
    let _ = writeln!(
        out,
        "\nMaintenance mode: a script that has something to change lists the VMs still powered on (`esxcli vm process list`) and stops with their names. Entering maintenance mode through vCenter (host > Enter Maintenance Mode) lets DRS evacuate the host (VMware vSphere Resource Management 8.0, Place a Host in Maintenance Mode); vGPU VMs move by vMotion only with `vgpu.hotmigrate.enabled` and DRS partially automated or manual (NVIDIA vGPU Software User Guide 17, §2.2, §2.9.2), and passthrough VMs cannot vMotion: power them off (Broadcom KB 2142307)."
    );
    let idle: Vec<String> = model
        .host_ids()
        .filter(|&h| !model.host(h).gpus.is_empty() && plan.host_steps(h).next().is_none())
        .map(|h| {
            format!(
                "- `{}` ({}): nothing to change: its `installed` state matches the spec; no script, no maintenance window.",
                model.host(h).name,
                model.host(h).address
            )
        })
        .collect();
    if !idle.is_empty() {
        let _ = writeln!(out, "\n## Hosts with nothing to change\n\n{}", idle.join("\n"));
    }
}

/// The index of a split plan: each host with something to do, its phases and its part file.
fn index(out: &mut dyn Write, model: &Model, scripts: &[Vec<String>], by_host: &ByHost) {
    let _ = writeln!(
        out,
        "\n## Hosts\n\nMore than {SPLIT_ABOVE_HOSTS} hosts: each host's steps, its VMs' and its vGPU placement are in its own file. The sections after this table are the steps outside any host, in the plan's order; graph.dot shows what each waits for.\n\n| Host | Address | ESXi | Phases | Plan |\n|---|---|---|---|---|"
    );
    for h in model.host_ids() {
        if by_host.steps(h).is_empty() {
            continue;
        }
        let host = model.host(h);
        let phases = scripts.get(h.index()).map_or(0, Vec::len);
        let _ = writeln!(out, "| {} | {} | {} | {phases} | [plan/{0}.md](plan/{0}.md) |", host.name, host.address, host.esxi.value);
    }
}

/// The sections of `steps` (in plan order), each step numbered within its section.
fn sections(out: &mut dyn Write, model: &Model, plan: &Plan, scripts: &[Vec<String>], by_host: &ByHost, steps: &[StepId]) {
    // Steps are numbered within their section (a host, a VM, vCenter, a pool), so adding a
    // VM adds its own section and renumbers nothing else.
    let mut number = 0;
    let mut any_step = false;
    let mut section: Option<Target> = None;
    let mut phase = 0;
    for &id in steps {
        let step = plan.step(id);
        let heading_target = match step.target {
            Target::Guest(v) => Target::Vm(v),
            t => t,
        };
        if section != Some(heading_target) {
            section = Some(heading_target);
            phase = 0;
            number = 0;
            let _ = writeln!(out, "\n## {}", heading(model, heading_target));
            if let Target::Host(h) = heading_target {
                host_notes(out, model, plan, by_host, h, scripts.get(h.index()).map_or(&[][..], Vec::as_slice));
            }
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
        } else if any_step
            && matches!(step.action, Action::ConfigureVm | Action::EnableVgpuHotMigrate | Action::StartResourceScheduler { .. })
        {
            let _ = out.write_char('\n');
        }
        number += 1;
        any_step = true;
        let manual = if step.action.manual() { " **manual**" } else { "" };
        let what = title(model, plan, id);
        let what = what.split_once(": ").map_or(what.as_str(), |(_, w)| w);
        let _ = writeln!(out, "{number}. {what}{manual} — {}", step.why);
        if let Some(text) = instruction(model, plan, id) {
            let _ = writeln!(out, "   {text}");
        }
        if let Some(play) = ansible_play(model, step) {
            let _ = writeln!(out, "   Automated: `ansible/site.yml`, {play}.");
        }
    }
}

/// The play of `ansible/site.yml` that does a manual step, for those it automates.
fn ansible_play(model: &Model, step: &crate::plan::Step) -> Option<&'static str> {
    let linux = |vm: crate::model::VmId| {
        model.vm(vm).guest.as_ref().and_then(|g| g.os.as_ref()).is_some_and(|os| os.value == crate::model::GuestOs::Linux)
    };
    match (&step.action, step.target) {
        (Action::EnablePassthroughInClient { .. } | Action::DisablePassthrough { in_client: true, .. }, _) => {
            Some("the host's play (vmware_host_passthrough)")
        }
        (Action::ConfigureVm, _) => Some("play \"GPU VMs\""),
        (Action::LicenceGuest, Target::Guest(vm) | Target::Vm(vm)) if linux(vm) => Some("play \"Licensed Linux guests\""),
        _ => None,
    }
}

/// Where to keep the host's scripts, an upgrade's guest drivers and the scheduler encoding.
fn host_notes(out: &mut dyn Write, model: &Model, plan: &Plan, by_host: &ByHost, h: HostId, scripts: &[String]) {
    let host = model.host(h);
    let folder = super::runbook::scripts_folder(model, h);
    let target = if host.address.is_empty() { host.name.as_str() } else { host.address.as_str() };
    if let Some(first) = scripts.first() {
        let _ = writeln!(
            out,
            "\nKeep the scripts in a datastore folder, which survives the reboots (the ESXi root file system and `/tmp` do not: VMware ESXi Installation and Setup 8.0, ESXi System Storage Overview). Copy them with SSH enabled on the host:\n\n```sh\nssh root@{target} mkdir -p '{folder}'\nscp -r hosts/{name} 'root@{target}:{folder}/'\n```\n\nthen run them in its ESXi shell in order, starting with `cd '{folder}/{name}' && sh ./{first}`.",
            name = host.name
        );
    }
    for (_, step) in plan.host_steps(h) {
        match &step.action {
            Action::UpdateHostDriver { from, .. } => upgrade_note(out, model, by_host.vms(h), h, from),
            Action::AddToClusterImage { update: true, .. } => upgrade_note(out, model, by_host.vms(h), h, "the installed release"),
            Action::SetModuleParameters { rmpvmrl: Some(r), .. } if r.since_15 => {
                let _ = writeln!(
                    out,
                    "\nScheduler: `RmPVMRL=0x{:08x}` means {} by the table in NVIDIA vGPU Software User Guide 17, §8.6.4 (releases 15 and later); §8.6.1 and §8.6.2 of the same guide still show the older form (`0x00030001`), which that table reads as strict round-robin with a scheduling frequency. Phase scripts check each GPU's scheduler line in the vmkernel log after the reboot (§8.3.4).",
                    r.value,
                    r.meaning()
                );
            }
            _ => {}
        }
    }
}

/// An upgrade's guest drivers: the new branch, and the declared drivers of the host's vGPU VMs
/// (`vms`, the host's VMs).
fn upgrade_note(out: &mut dyn Write, model: &Model, vms: &[VmId], h: HostId, from: &str) {
    let Some(release) = model.host(h).nvidia.as_ref().and_then(|n| n.release.as_ref()) else { return };
    let branch = crate::check::tables::driver_branch(&release.value).map_or_else(|| "the new".to_string(), |b| format!("R{b}"));
    let guests: Vec<String> = vms
        .iter()
        .map(|&vm| model.vm(vm))
        .filter(|vm| !vm.vgpus.is_empty())
        .map(|vm| match vm.guest.as_ref().and_then(|g| g.driver.as_ref()) {
            Some(d) => format!("`{}` (driver {})", vm.name, d.value),
            None => format!("`{}` (no driver declared)", vm.name),
        })
        .collect();
    let guests = if guests.is_empty() { "none in the spec".to_string() } else { guests.join(", ") };
    let _ = writeln!(
        out,
        "\nUpgrade from vGPU {from} to {}: the guests need a guest driver of branch {branch} (NVIDIA vGPU Release Notes for VMware vSphere, §1.2, Compatibility Requirements for the NVIDIA vGPU Manager and Guest VM Driver); a guest with an incompatible driver boots with vGPU disabled until its driver is updated (NVIDIA vGPU Software User Guide 17, §2.9.1). vGPU VMs of this host: {guests}.",
        release.value
    );
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

/// The vGPU placement table: each vGPU GPU of `gpus` (in GPU order), what the VMs of `vms` (in
/// spec order; those placed on these GPUs) hold there, and how full it is.
fn placement(out: &mut dyn Write, model: &Model, analysis: &Analysis, gpus: impl Iterator<Item = GpuId>, vms: impl Iterator<Item = VmId>) {
    let gpus: Vec<GpuId> = gpus.collect();
    if gpus.is_empty() {
        return;
    }
    // What each GPU holds, by type in order of first placement: one pass over the VMs.
    let mut held: FxHashMap<GpuId, Vec<(&str, Vec<&str>)>> = FxHashMap::default();
    for vm in vms {
        for (i, request) in model.vm(vm).vgpus.iter().enumerate() {
            let Some(g) = analysis.vm(vm).placements.get(i).copied().flatten() else { continue };
            // By vSphere's profile string, however the spec named the type.
            let profile = model.board_of(g).and_then(|b| b.vgpu_type(&request.type_name)).map_or(&request.type_name, |t| &t.profile);
            let kinds = held.entry(g).or_default();
            match kinds.iter_mut().find(|(k, _)| *k == profile) {
                Some((_, vms)) => vms.push(&model.vm(vm).name),
                None => kinds.push((profile, vec![&model.vm(vm).name])),
            }
        }
    }
    let _ = writeln!(out, "\n## vGPU placement\n\n| GPU | Board | Mode | Type | VMs | Used / max |\n|---|---|---|---|---|---|");
    for g in gpus {
        let Some(board) = model.board_of(g) else { continue };
        let mode = model.gpu(g).mode.value.describe();
        let kinds = held.remove(&g).unwrap_or_default();
        if kinds.is_empty() {
            let _ = writeln!(out, "| {} | {} | {mode} | — | — | 0 |", model.gpu_label(g), board.name);
        }
        for (kind, vms) in kinds {
            let max = board.vgpu_type(kind).map_or(0, |t| if mode == "mixed-size" { t.mixed_max.unwrap_or(0) } else { t.max });
            let _ =
                writeln!(out, "| {} | {} | {mode} | {kind} | {} | {}/{max} |", model.gpu_label(g), board.name, vms.join(", "), vms.len());
        }
    }
}
