//! What a change to a spec costs in operations: two checked estates and their plans, compared
//! entity by entity (hosts, VMs, GPUs and guests matched by name), offline. The plans say which
//! runbook phases a host must run again; the `.vmx` fragments say which keys of a VM change;
//! checking's placements say how each GPU is shared before and after. Rendered for a terminal,
//! a pull-request comment (Markdown) or a machine (JSON) by [`render`].

pub mod render;

use crate::emit::{gridd, runbook, vmx};
use crate::model::{Firmware, GpuId, HostId, Model, VmId};
use crate::plan::{Action, Plan};
use crate::Checked;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};

/// One version of the estate: checked without errors, and planned.
#[derive(Clone, Copy)]
pub struct Side<'a> {
    pub checked: &'a Checked,
    pub plan: &'a Plan,
}

impl Side<'_> {
    fn model(&self) -> &Model {
        &self.checked.model
    }
}

/// Whether an entity is new, gone, or in both versions with a difference.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Presence {
    Added,
    Removed,
    Changed,
}

/// Everything the change asks for; only entities with a difference are listed.
#[derive(Debug, Serialize)]
pub struct Review {
    /// The JSON format's version, raised when a field changes meaning.
    pub version: u32,
    pub summary: Summary,
    pub hosts: Vec<HostReview>,
    pub vms: Vec<VmReview>,
    pub gpus: Vec<GpuReview>,
    pub guests: Vec<GuestReview>,
}

#[derive(Debug, Default, Serialize)]
pub struct Summary {
    /// Hosts in the new version.
    pub hosts: usize,
    /// VMs in the new version.
    pub vms: usize,
    pub hosts_with_work: usize,
    pub hosts_in_maintenance_mode: usize,
    pub reboots: usize,
    pub vms_powered_off: usize,
    pub vmx_changes: usize,
    pub firmware_changes: usize,
    pub gpus_changed: usize,
    pub guests_changed: usize,
}

/// A host whose runbook has steps that the old version's runbook did not have.
#[derive(Debug, Serialize)]
pub struct HostReview {
    pub name: String,
    pub presence: Presence,
    /// The runbook scripts (`hosts/<host>/<script>`) with a new or changed step, in order.
    pub phases: Vec<String>,
    /// Every runbook step runs in maintenance mode (or, on an image-managed cluster, during a
    /// remediation that enters it).
    pub maintenance_mode: bool,
    /// The reboots that end the phases that run.
    pub reboots: usize,
}

/// A `.vmx` key whose value differs; `None` on the side that has no such key.
#[derive(Debug, PartialEq, Eq, Serialize)]
pub struct KeyChange {
    pub key: String,
    pub old: Option<String>,
    pub new: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct VmReview {
    pub name: String,
    pub host: Option<String>,
    pub presence: Presence,
    /// The keys of `vms/<vm>.vmx` that are added, removed or changed, sorted by key.
    pub keys: Vec<KeyChange>,
    /// Why the VM must be powered off (empty: it may keep running).
    pub power_off: Vec<String>,
    /// The firmware changes: what that means for an installed guest.
    pub firmware: Option<String>,
}

/// A GPU whose use or occupants differ.
#[derive(Debug, Serialize)]
pub struct GpuReview {
    /// `host.gpu`.
    pub name: String,
    pub before: Option<Occupancy>,
    pub after: Option<Occupancy>,
}

#[derive(Debug, PartialEq, Eq, Serialize)]
pub struct Occupancy {
    /// `passthrough`, or the vGPU mode (`vGPU same-size`, `vGPU MIG`).
    pub usage: String,
    /// The VMs on it: a passthrough VM's name, or `vm (vGPU type)` for each vGPU.
    pub occupants: Vec<String>,
    /// For vGPU: the frame buffer the vGPUs take, of the GPU's (`24GiB of 32GiB`).
    pub frame_buffer: Option<String>,
}

/// A guest whose driver or licence differs.
#[derive(Debug, Serialize)]
pub struct GuestReview {
    pub vm: String,
    pub driver: Option<[Option<String>; 2]>,
    pub licence: Option<[Option<String>; 2]>,
    /// The guest's `gridd.conf` settings differ (a new licence server, port or token).
    pub gridd_conf: bool,
}

/// Why a VM whose `.vmx` keys change is powered off: gpuc's runbook applies the fragment that way.
const VMX_POWER_OFF: &str = "its .vmx keys change: the runbook powers it off to apply vms/<vm>.vmx (VMware Learning Guide: GPUs for Machine Learning on vSphere, §5.2.4)";

/// Compares two versions of an estate.
pub fn review(old: Side, new: Side) -> Review {
    let hosts = hosts(old, new);
    let vms = vms(old, new, &hosts);
    let gpus = gpus(old, new);
    let guests = guests(old, new);
    let summary = Summary {
        hosts: new.model().hosts.len(),
        vms: new.model().vms.len(),
        hosts_with_work: hosts.iter().filter(|h| !h.phases.is_empty()).count(),
        hosts_in_maintenance_mode: hosts.iter().filter(|h| h.maintenance_mode).count(),
        reboots: hosts.iter().map(|h| h.reboots).sum(),
        vms_powered_off: vms.iter().filter(|v| !v.power_off.is_empty()).count(),
        vmx_changes: vms.iter().filter(|v| !v.keys.is_empty()).count(),
        firmware_changes: vms.iter().filter(|v| v.firmware.is_some()).count(),
        gpus_changed: gpus.len(),
        guests_changed: guests.len(),
    };
    Review { version: 1, summary, hosts, vms, gpus, guests }
}

/// Names to ids of one version, so entities of the other are found by name.
fn by_name<'m, I: Copy>(names: impl Iterator<Item = (I, &'m str)>) -> HashMap<&'m str, I> {
    names.map(|(id, name)| (name, id)).collect()
}

fn host_names(model: &Model) -> HashMap<&str, HostId> {
    by_name(model.host_ids().map(|h| (h, model.host(h).name.as_str())))
}

fn vm_names(model: &Model) -> HashMap<&str, VmId> {
    by_name(model.vm_ids().map(|v| (v, model.vm(v).name.as_str())))
}

fn gpu_labels(model: &Model) -> HashMap<String, GpuId> {
    model.gpu_ids().map(|g| (model.gpu_label(g), g)).collect()
}

/// Hosts whose runbook gains a step. A step of the new plan is old when the old plan has an
/// equal one for the same host (GPUs compared by name); the phases holding new steps run.
fn hosts(old: Side, new: Side) -> Vec<HostReview> {
    let old_hosts = host_names(old.model());
    let new_gpu = gpu_labels(new.model());
    // An old GPU that the new version does not have: equal to no new GPU.
    let translate = |g: GpuId| new_gpu.get(&old.model().gpu_label(g)).copied().unwrap_or(GpuId(u32::MAX));
    let mut out = Vec::new();
    for host in new.model().host_ids() {
        let name = &new.model().host(host).name;
        let old_host = old_hosts.get(name.as_str()).copied();
        let mut unmatched: Vec<Action> =
            old_host.map(|h| old.plan.host_steps(h).map(|(_, step)| with_gpus(&step.action, translate)).collect()).unwrap_or_default();
        let scripts = runbook::script_names(new.plan, host);
        let mut phases: Vec<u32> = Vec::new();
        for (_, step) in new.plan.host_steps(host) {
            match unmatched.iter().position(|a| *a == step.action) {
                Some(i) => {
                    unmatched.swap_remove(i);
                }
                None if phases.last() != Some(&step.phase) => phases.push(step.phase),
                None => {}
            }
        }
        if phases.is_empty() {
            continue;
        }
        let reboots = new
            .plan
            .host_steps(host)
            .filter(|(_, step)| matches!(step.action, Action::Reboot { .. }) && phases.contains(&step.phase))
            .count();
        out.push(HostReview {
            name: name.clone(),
            presence: if old_host.is_some() { Presence::Changed } else { Presence::Added },
            phases: phases.iter().map(|&p| scripts.get(p as usize - 1).cloned().unwrap_or_else(|| format!("phase {p}"))).collect(),
            maintenance_mode: true,
            reboots,
        });
    }
    let new_hosts = host_names(new.model());
    for host in old.model().hosts.iter().filter(|h| !new_hosts.contains_key(h.name.as_str())) {
        out.push(HostReview {
            name: host.name.clone(),
            presence: Presence::Removed,
            phases: Vec::new(),
            maintenance_mode: false,
            reboots: 0,
        });
    }
    out
}

/// `action` with each GPU it names replaced by `gpu(id)`.
fn with_gpus(action: &Action, gpu: impl Fn(GpuId) -> GpuId) -> Action {
    let mut action = action.clone();
    match &mut action {
        Action::EnablePassthrough { gpus }
        | Action::EnablePassthroughInClient { gpus }
        | Action::DisablePassthrough { gpus, .. }
        | Action::SetMigMode { gpus, .. }
        | Action::VerifyMigMode { gpus, .. }
        | Action::VerifyPassthrough { gpus }
        | Action::DisableEcc { gpus }
        | Action::VerifyEccDisabled { gpus } => gpus.iter_mut().for_each(|g| *g = gpu(*g)),
        Action::SetVgpuMode { gpu: g, .. } => *g = gpu(*g),
        _ => {}
    }
    action
}

/// The keys of a VM's `.vmx` fragment (its comment lines left out: they describe, not configure).
fn vmx_keys(side: Side, vm: VmId) -> BTreeMap<String, String> {
    let text = vmx::fragment(side.model(), &side.checked.analysis, vm);
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| line.split_once(" = "))
        .map(|(key, value)| (key.to_string(), value.trim_matches('"').to_string()))
        .collect()
}

fn key_changes(old: &BTreeMap<String, String>, new: &BTreeMap<String, String>) -> Vec<KeyChange> {
    let keys: std::collections::BTreeSet<&String> = old.keys().chain(new.keys()).collect();
    keys.into_iter()
        .filter(|k| old.get(*k) != new.get(*k))
        .map(|k| KeyChange { key: k.clone(), old: old.get(k).cloned(), new: new.get(k).cloned() })
        .collect()
}

/// The consequence of a firmware change for a guest that is already installed (R5; the guide
/// installs the guest only after choosing EFI, VMware Learning Guide: GPUs for Machine
/// Learning on vSphere, §5.2.3). A firmware the spec stops declaring is left as it is.
fn firmware_change(old: Option<Firmware>, new: Option<Firmware>) -> Option<String> {
    let name = |f: Firmware| match f {
        Firmware::Efi => "EFI",
        Firmware::Bios => "BIOS",
    };
    let new = new.filter(|&n| old != Some(n))?;
    // Undeclared before: the guest may have been installed under the other firmware.
    let installed = old.unwrap_or(match new {
        Firmware::Efi => Firmware::Bios,
        Firmware::Bios => Firmware::Efi,
    });
    Some(format!(
        "firmware {} -> {}: a guest OS installed under {} does not boot after the switch; reinstall it, or convert its boot disk, first (set it in the vSphere Client, VM Options > Boot Options > Firmware, with the VM powered off)",
        old.map_or("not declared", name),
        name(new),
        name(installed)
    ))
}

fn vms(old: Side, new: Side, hosts: &[HostReview]) -> Vec<VmReview> {
    let old_vms = vm_names(old.model());
    let in_maintenance: Vec<&str> = hosts.iter().filter(|h| h.maintenance_mode).map(|h| h.name.as_str()).collect();
    let host_of = |side: Side, vm: VmId| side.model().vm(vm).host.map(|h| side.model().host(h).name.clone());
    let mut out = Vec::new();
    for vm in new.model().vm_ids() {
        let v = new.model().vm(vm);
        let host = host_of(new, vm);
        let old_vm = old_vms.get(v.name.as_str()).copied();
        let keys = match old_vm {
            Some(o) if old.model().vm(o).has_gpu() || v.has_gpu() => key_changes(&vmx_keys(old, o), &vmx_keys(new, vm)),
            Some(_) => Vec::new(),
            None if v.has_gpu() => key_changes(&BTreeMap::new(), &vmx_keys(new, vm)),
            None => Vec::new(),
        };
        let firmware = old_vm.and_then(|o| {
            let firmware = |side: Side, vm: VmId| side.model().vm(vm).firmware.as_ref().map(|f| f.value);
            firmware_change(firmware(old, o), firmware(new, vm))
        });
        // A VM the change adds does not run yet: nothing to power off.
        let mut power_off = Vec::new();
        if old_vm.is_some() && !keys.is_empty() {
            power_off.push(VMX_POWER_OFF.replace("<vm>", &v.name));
        }
        if let Some(h) = host.as_deref().filter(|h| old_vm.is_some() && in_maintenance.contains(h)) {
            power_off.push(format!("its host {h} enters maintenance mode: power it off, or migrate it if it can vMotion"));
        }
        if keys.is_empty() && power_off.is_empty() && old_vm.is_some() {
            continue;
        }
        let presence = if old_vm.is_some() { Presence::Changed } else { Presence::Added };
        out.push(VmReview { name: v.name.clone(), host, presence, keys, power_off, firmware });
    }
    let new_vms = vm_names(new.model());
    for vm in old.model().vm_ids().filter(|&o| !new_vms.contains_key(old.model().vm(o).name.as_str())) {
        out.push(VmReview {
            name: old.model().vm(vm).name.clone(),
            host: host_of(old, vm),
            presence: Presence::Removed,
            keys: Vec::new(),
            power_off: Vec::new(),
            firmware: None,
        });
    }
    out
}

/// Who uses each GPU of a version, by `GpuId`.
fn occupancy(side: Side) -> Vec<Occupancy> {
    let model = side.model();
    let mut occupants: Vec<Vec<(String, Option<crate::quantity::ByteSize>)>> = vec![Vec::new(); model.gpus.len()];
    for vm in model.vm_ids() {
        let v = model.vm(vm);
        for gpu in &v.passthrough {
            occupants[gpu.value.index()].push((v.name.clone(), None));
        }
        for (request, placed) in v.vgpus.iter().zip(&side.checked.analysis.vm(vm).placements) {
            if let Some(gpu) = placed {
                let kind = model.board_of(*gpu).and_then(|b| b.vgpu_type(&request.type_name));
                let profile = kind.map_or(request.type_name.as_str(), |t| t.profile.as_str());
                occupants[gpu.index()].push((format!("{} ({profile})", v.name), kind.map(|t| t.framebuffer)));
            }
        }
    }
    model
        .gpu_ids()
        .zip(occupants)
        .map(|(g, on)| {
            let gpu = model.gpu(g);
            let vgpu = gpu.usage.value == crate::model::GpuUse::Vgpu;
            let frame_buffer = model.board_of(g).filter(|_| vgpu).map(|board| {
                let used = on.iter().filter_map(|(_, fb)| fb.map(|b| b.0)).sum::<u64>();
                format!("{} of {}", crate::quantity::ByteSize(used), board.framebuffer)
            });
            let usage = if vgpu { format!("vGPU {}", gpu.mode.value.describe()) } else { "passthrough".to_string() };
            Occupancy { usage, occupants: on.into_iter().map(|(name, _)| name).collect(), frame_buffer }
        })
        .collect()
}

fn gpus(old: Side, new: Side) -> Vec<GpuReview> {
    let old_gpus = gpu_labels(old.model());
    let (mut before, after) = (occupancy(old), occupancy(new));
    let mut take_old = |label: &str| old_gpus.get(label).map(|g| std::mem::replace(&mut before[g.index()], Occupancy::empty()));
    let mut out = Vec::new();
    for (gpu, after) in new.model().gpu_ids().zip(after) {
        let name = new.model().gpu_label(gpu);
        let before = take_old(&name);
        if before.as_ref() != Some(&after) {
            out.push(GpuReview { name, before, after: Some(after) });
        }
    }
    let new_gpus = gpu_labels(new.model());
    for gpu in old.model().gpu_ids() {
        let name = old.model().gpu_label(gpu);
        if !new_gpus.contains_key(&name) {
            out.push(GpuReview { before: take_old(&name), name, after: None });
        }
    }
    out
}

impl Occupancy {
    fn empty() -> Occupancy {
        Occupancy { usage: String::new(), occupants: Vec::new(), frame_buffer: None }
    }
}

/// The settings lines of a guest's gridd.conf (comments describe, they do not configure).
fn gridd_settings(model: &Model, vm: VmId) -> Vec<String> {
    gridd::conf(model, vm).map_or_else(Vec::new, |text| text.lines().filter(|l| !l.starts_with('#')).map(str::to_string).collect())
}

fn guests(old: Side, new: Side) -> Vec<GuestReview> {
    let old_vms = vm_names(old.model());
    let mut out = Vec::new();
    for vm in new.model().vm_ids() {
        let v = new.model().vm(vm);
        let Some(o) = old_vms.get(v.name.as_str()).copied() else { continue };
        let driver = |model: &Model, vm: VmId| model.vm(vm).guest.as_ref().and_then(|g| g.driver.as_ref()).map(|d| d.value.to_string());
        let licence = |model: &Model, vm: VmId| {
            model.vm(vm).guest.as_ref().and_then(|g| g.license.as_ref()).map(|l| model.license(l.value).name.clone())
        };
        let pair = |before: Option<String>, after: Option<String>| (before != after).then_some([before, after]);
        let review = GuestReview {
            vm: v.name.clone(),
            driver: pair(driver(old.model(), o), driver(new.model(), vm)),
            licence: pair(licence(old.model(), o), licence(new.model(), vm)),
            gridd_conf: gridd_settings(old.model(), o) != gridd_settings(new.model(), vm),
        };
        if review.driver.is_some() || review.licence.is_some() || review.gridd_conf {
            out.push(review);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_firmware_switch_warns_about_the_installed_guest() {
        let bios_to_efi = firmware_change(Some(Firmware::Bios), Some(Firmware::Efi)).expect("a switch");
        assert!(bios_to_efi.starts_with("firmware BIOS -> EFI: a guest OS installed under BIOS does not boot"), "{bios_to_efi}");
        let declared = firmware_change(None, Some(Firmware::Efi)).expect("newly declared");
        assert!(declared.starts_with("firmware not declared -> EFI: a guest OS installed under BIOS"), "{declared}");
        assert_eq!(firmware_change(Some(Firmware::Efi), Some(Firmware::Efi)), None);
        assert_eq!(firmware_change(Some(Firmware::Efi), None), None, "an undeclared firmware is left as it is");
    }
}
