//! Host runbooks: the plan's steps for one host as POSIX sh scripts for the ESXi shell
//! (busybox ash), one per phase. A phase that changes something ends with a reboot, so it ends
//! a script: the operator runs `1-<slug>.sh`, waits for the host to come back, runs
//! `2-<slug>.sh`, and so on.
//!
//! Every script is `set -eu`, first checks that it runs on the host it was written for, checks
//! the host's state before changing it, records each change in a pending file beside itself
//! (`<script>.pending`) and reboots only when that file exists: re-running a finished script
//! changes nothing and does not reboot. It fails with a message when a verification does not
//! hold, and quotes every value that comes from the spec with [`sh_quote`]. Manual steps (BIOS,
//! the vSphere Client, the cluster image) are never executed: they are comment blocks with the
//! exact instruction where they occur, and a reminder on the terminal. The text is deterministic.

mod script;
mod steps;
#[cfg(test)]
mod tests;

use crate::model::{GpuId, GpuUse, HostId, Model, VmId};
use crate::plan::{Action, Plan, Step};
pub use script::sh_quote;
use script::Script;

/// The runbook of one host: `(file name, script text)` per phase, in order. Empty when the
/// host needs no steps. `vms` are the host's VMs in spec order (named when it must be emptied).
pub fn scripts(model: &Model, plan: &Plan, host: HostId, vms: &[VmId]) -> Vec<(String, String)> {
    let phases = phases(plan, host);
    if phases.is_empty() {
        return Vec::new();
    }
    let names = names(&phases);
    let driver_script = phases
        .iter()
        .position(|steps| steps.iter().any(|s| matches!(s.action, Action::InstallHostDriver { .. } | Action::UpdateHostDriver { .. })))
        .map(|i| names[i].clone());
    let ctx = Ctx { model, host, vms, name: &model.host(host).name, names: &names, driver_script };
    let mut maintenance_before = false;
    let mut out = Vec::with_capacity(phases.len());
    for (index, steps) in phases.iter().enumerate() {
        // Phase 1 decides on maintenance mode for the whole runbook, so it checks every phase's
        // changes; a later phase checks its own.
        let checked: Vec<(&str, &Step)> = phases
            .iter()
            .enumerate()
            .filter(|(i, _)| index == 0 || *i == index)
            .flat_map(|(i, steps)| {
                let name = names[i].as_str();
                steps.iter().map(move |&s| (name, s))
            })
            .collect();
        out.push((names[index].clone(), render_phase(&ctx, index, steps, &checked, maintenance_before)));
        for step in steps {
            match step.action {
                Action::EnterMaintenanceMode => maintenance_before = true,
                Action::ExitMaintenanceMode => maintenance_before = false,
                _ => {}
            }
        }
    }
    out
}

/// Where the host's scripts are kept: a folder of the datastore that holds its NVIDIA files
/// (`<datastore>` when the spec names none), since a datastore survives the reboots and the
/// ESXi root file system, `/tmp` and a RAM-disk `/scratch` do not (VMware ESXi Installation and
/// Setup 8.0, ESXi System Storage Overview).
pub fn scripts_folder(model: &Model, host: HostId) -> String {
    let datastore = model
        .host(host)
        .nvidia
        .as_ref()
        .and_then(|n| n.vib.as_ref())
        .and_then(|v| v.value.strip_prefix("/vmfs/volumes/"))
        .and_then(|rest| rest.split('/').next())
        .filter(|ds| !ds.is_empty())
        .unwrap_or("<datastore>");
    format!("/vmfs/volumes/{datastore}/gpuc")
}

/// The file names of the host's scripts, in phase order, without rendering them.
pub fn script_names(plan: &Plan, host: HostId) -> Vec<String> {
    names(&phases(plan, host))
}

fn names(phases: &[Vec<&Step>]) -> Vec<String> {
    phases.iter().enumerate().map(|(i, steps)| format!("{}-{}.sh", i + 1, slug(steps))).collect()
}

/// The host's steps cut into phases: a new phase starts when the plan's phase number
/// changes, and always after a reboot.
fn phases(plan: &Plan, host: HostId) -> Vec<Vec<&Step>> {
    let mut phases: Vec<Vec<&Step>> = Vec::new();
    let mut current: Option<u32> = None;
    let mut after_reboot = false;
    for (_, step) in plan.host_steps(host) {
        if phases.is_empty() || current != Some(step.phase) || after_reboot {
            phases.push(Vec::new());
        }
        current = Some(step.phase);
        after_reboot = matches!(step.action, Action::Reboot { .. });
        if let Some(last) = phases.last_mut() {
            last.push(step);
        }
    }
    phases
}

/// The file-name slug of a phase: its main action.
fn slug(steps: &[&Step]) -> &'static str {
    let rank = |action: &Action| -> (u8, &'static str) {
        match action {
            Action::InstallHostDriver { .. } | Action::AddToClusterImage { update: false, .. } => (0, "driver"),
            Action::UpdateHostDriver { .. } | Action::AddToClusterImage { update: true, .. } => (0, "upgrade"),
            Action::SetHostGraphics { .. } => (1, "graphics"),
            Action::EnablePassthrough { .. } | Action::EnablePassthroughInClient { .. } | Action::DisablePassthrough { .. } => {
                (2, "passthrough")
            }
            Action::SetModuleParameters { .. } => (3, "scheduler"),
            Action::DisableEcc { .. } => (4, "ecc"),
            Action::SetVgpuMode { .. } => (5, "vgpu-mode"),
            Action::SetMigMode { .. } => (5, "mig"),
            Action::ExitMaintenanceMode => (6, "finish"),
            Action::VerifyHostDriver { .. }
            | Action::VerifyScheduler { .. }
            | Action::VerifyPassthrough { .. }
            | Action::VerifyEccDisabled { .. }
            | Action::VerifyMigMode { .. } => (7, "verify"),
            Action::EnterMaintenanceMode => (8, "maintenance"),
            Action::EnableInBios { .. } => (9, "bios"),
            Action::Reboot { .. } => (10, "reboot"),
            _ => (11, "steps"),
        }
    };
    steps.iter().map(|s| rank(&s.action)).min_by_key(|(r, _)| *r).map_or("steps", |(_, slug)| slug)
}

struct Ctx<'a> {
    model: &'a Model,
    host: HostId,
    /// The host's VMs, in spec order.
    vms: &'a [VmId],
    name: &'a str,
    names: &'a [String],
    /// The script that installs or updates the VIB, named in failure messages.
    driver_script: Option<String>,
}

impl Ctx<'_> {
    fn label(&self, gpu: GpuId) -> String {
        self.model.gpu_label(gpu)
    }

    fn pci(&self, gpu: GpuId) -> Option<String> {
        self.model.gpu(gpu).pci.as_ref().map(|p| p.value.to_string())
    }

    /// `esx14.g0 (0000:09:00.0), esx14.g1 (0000:0a:00.0)`.
    fn gpu_list(&self, gpus: &[GpuId]) -> String {
        let parts: Vec<String> = gpus
            .iter()
            .map(|&g| match self.pci(g) {
                Some(pci) => format!("{} ({pci})", self.label(g)),
                None => self.label(g),
            })
            .collect();
        parts.join(", ")
    }

    fn vgpu_gpus(&self) -> Vec<GpuId> {
        self.model.host(self.host).gpus.iter().copied().filter(|&g| self.model.gpu(g).usage.value == GpuUse::Vgpu).collect()
    }

    fn expected_policy(&self) -> &'static str {
        self.model.host(self.host).assignment.esxcli()
    }
}

/// A step that changes nothing on the host: it verifies, or it is done by hand.
fn read_only(action: &Action) -> bool {
    action.manual()
        || matches!(
            action,
            Action::VerifyHostDriver { .. }
                | Action::VerifyScheduler { .. }
                | Action::VerifyPassthrough { .. }
                | Action::VerifyEccDisabled { .. }
                | Action::VerifyMigMode { .. }
                | Action::ExitMaintenanceMode
        )
}

/// The header of a script: what it is, what to do first, what comes next.
fn header(ctx: &Ctx, index: usize, steps: &[&Step], next_text: &str) -> Script {
    let host = ctx.model.host(ctx.host);
    let this = &ctx.names[index];
    let mut script = Script::new();
    script.line("#!/bin/sh");
    script.comment(&format!("gpuc runbook for host {} ({}), ESXi {}.", ctx.name, host.address, host.esxi.value));
    script.comment(&format!("Phase {} of {}: {this}", index + 1, ctx.names.len()));
    for step in steps {
        script.comment(&format!("  - {}", steps::describe(ctx, &step.action)));
    }
    let before: Vec<String> = steps.iter().filter_map(|s| steps::before_running(ctx, &s.action)).collect();
    if !before.is_empty() {
        script.comment("Before running it:");
        for b in &before {
            script.comment(&format!("  - {b}"));
        }
    }
    script.comment(&format!("Next: {next_text}."));
    script.comment(&format!("Run it as root in the ESXi shell of {} (SSH or DCUI) from a datastore folder, which survives", ctx.name));
    let folder = sh_quote(&format!("{}/{}", scripts_folder(ctx.model, ctx.host), ctx.name));
    script.comment(&format!("the reboots: cd {folder} && sh ./{this}"));
    script.comment("Re-running it is harmless: every step checks the host's state before changing it, and the");
    script.comment("script reboots only when it changed something (recorded in the .pending file beside it).");
    script.comment("Generated by gpuc; edit the .gpu spec, not this file.");
    script.line("");
    script.line("set -eu");
    script.line("");
    script
}

/// `checked`: the steps whose changes the phase checks first, each with its script's name.
fn render_phase(ctx: &Ctx, index: usize, steps: &[&Step], checked: &[(&str, &Step)], maintenance_before: bool) -> String {
    let this = &ctx.names[index];
    let next = ctx.names.get(index + 1);
    let ends_with_reboot = steps.last().is_some_and(|s| matches!(s.action, Action::Reboot { .. }));
    let last_is_exit = steps.last().is_some_and(|s| matches!(s.action, Action::ExitMaintenanceMode));
    let next_text = match next {
        Some(next) if ends_with_reboot => format!("when the host is back up (still in maintenance mode), run {next}"),
        Some(next) => format!("run {next}"),
        None if last_is_exit => "done: exit maintenance mode was the last step".to_string(),
        None => "done: this is the last script".to_string(),
    };

    let mut body = Script::new();
    steps::check_identity(ctx, &mut body);
    let changes = steps.iter().any(|s| !read_only(&s.action));
    let checks: Vec<steps::Check> = checked.iter().flat_map(|(script, s)| steps::checks(ctx, script, &s.action)).collect();
    if !checks.is_empty() || ends_with_reboot || changes {
        steps::pending_changes(ctx, &mut body, this, &checks, ends_with_reboot);
    }
    if maintenance_before {
        body.comment(&format!("The host stays in maintenance mode from {} until the last script.", ctx.names[0]));
        if changes {
            body.open("if [ -n \"$todo\" ] && ! esxcli system maintenanceMode get | grep -q Enabled; then");
            body.fail(&format!(
                "{} is not in maintenance mode; run {} again (it checks the VMs and enters it) or enter it through vCenter, then re-run {this}",
                ctx.name, ctx.names[0]
            ));
        } else {
            body.open("if ! esxcli system maintenanceMode get | grep -q Enabled; then");
            body.say(&format!("{}: not in maintenance mode (already released?); {this} only verifies the host", ctx.name));
        }
        body.close();
        body.line("");
    }
    let mut maintenance = maintenance_before;
    let count = steps.len();
    for (k, step) in steps.iter().enumerate() {
        body.comment(&format!("Step {} of {count}: {}", k + 1, steps::describe(ctx, &step.action)));
        if let Action::Reboot { reason } = step.action {
            body.comment(&format!("Why: {reason} ({})", step.why));
        } else {
            body.comment(&format!("Why: {}", step.why));
        }
        match &step.action {
            Action::EnterMaintenanceMode => {
                steps::enter_maintenance(ctx, &mut body, this);
                maintenance = true;
            }
            Action::Reboot { .. } => steps::reboot(ctx, &mut body, next.map(String::as_str), maintenance),
            Action::ExitMaintenanceMode => {
                steps::exit_maintenance(ctx, &mut body);
                maintenance = false;
            }
            action => steps::step(ctx, &mut body, this, action),
        }
        body.line("");
    }
    if !ends_with_reboot {
        body.say(&format!("{}: {this} finished; {next_text}.", ctx.name));
    }

    let mut script = header(ctx, index, steps, &next_text);
    if body.uses_fail {
        script.line("fail() {");
        script.line("  echo \"gpuc: $*\" >&2");
        script.line("  exit 1");
        script.line("}");
        script.line("");
    }
    script.text.push_str(&body.text);
    while script.text.ends_with("\n\n") {
        script.text.pop();
    }
    script.text
}
