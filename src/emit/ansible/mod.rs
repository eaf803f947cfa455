//! `ansible/`: the plan as an Ansible rollout that vSphere administrators run against vCenter
//! (issue 13). `inventory.yml` holds what the spec wants (hosts grouped by vCenter cluster, the
//! GPU VMs, the licensed guests) and nothing else; `site.yml` has one rolling play per cluster,
//! then the VMs, then the guests; the tasks are fixed files under `tasks/`, the same for every
//! build. vCenter's address and credentials never come from the spec: `group_vars/all.yml` reads
//! them from variables, the environment or a vault. Only the hosts, VMs and guests the plan
//! changes are listed. Module choices and their limits: README, "Rolling out with Ansible".

use crate::check::Analysis;
use crate::model::{Firmware, GuestOs, HostId, Model, VmId};
use crate::plan::{Action, Plan, Target};
use std::collections::BTreeMap;
use std::fmt::Write;

/// Files that are the same for every build: `(path under ansible/, text)`.
pub const FIXED: &[(&str, &str)] = &[
    ("group_vars/all.yml", include_str!("group_vars_all.yml")),
    ("library/gpuc_vm_pci_passthrough.py", include_str!("gpuc_vm_pci_passthrough.py")),
    ("requirements.txt", include_str!("requirements.txt")),
    ("tasks/guest.yml", include_str!("guest.yml")),
    ("tasks/host.yml", include_str!("host.yml")),
    ("tasks/host-phase.yml", include_str!("host-phase.yml")),
    ("tasks/host-reboot-wait.yml", include_str!("host-reboot-wait.yml")),
    ("tasks/vm.yml", include_str!("vm.yml")),
];

/// The connection every vCenter module of a play gets; both collections call their action group
/// `vmware` (community.vmware 5.10.0 and vmware.vmware 2.6.0, `meta/runtime.yml`).
const VCENTER_DEFAULTS: &str = "  module_defaults: &vcenter_modules
    group/community.vmware.vmware: &vcenter
      hostname: \"{{ vcenter_hostname }}\"
      port: \"{{ vcenter_port }}\"
      username: \"{{ vcenter_username }}\"
      password: \"{{ vcenter_password }}\"
      validate_certs: \"{{ vcenter_validate_certs }}\"
    group/vmware.vmware.vmware: *vcenter
    gpuc_vm_pci_passthrough: *vcenter
";

/// [`VCENTER_DEFAULTS`] again, in the plays after the first (YAML anchors are defined once).
const VCENTER_DEFAULTS_AGAIN: &str = "  module_defaults: *vcenter_modules\n";

/// Group of the hosts whose spec names no cluster.
pub const UNCLUSTERED: &str = "gpuc_unclustered";

/// Every file of `ansible/` as `(path under the output folder, text)`, sorted by path; empty
/// when the plan changes nothing Ansible applies. `script_names` are each host's runbook
/// scripts (by `HostId`), which the host plays run from `hosts/<host>/`.
pub fn files(model: &Model, analysis: &Analysis, plan: &Plan, script_names: &[Vec<String>]) -> Vec<(String, String)> {
    let rollout = Rollout::new(model, plan);
    if rollout.clusters.is_empty() && rollout.vms.is_empty() && rollout.guests.is_empty() {
        return Vec::new();
    }
    let mut out = vec![
        ("ansible/inventory.yml".to_string(), rollout.inventory(model, analysis, plan, script_names)),
        ("ansible/site.yml".to_string(), rollout.site()),
    ];
    out.extend(FIXED.iter().map(|(path, text)| (format!("ansible/{path}"), text.to_string())));
    out.sort();
    out
}

/// What the rollout touches, in a fixed order.
struct Rollout {
    /// `(inventory group, vCenter cluster name or None, hosts)`, clusters by name, then
    /// [`UNCLUSTERED`]; hosts in spec order.
    clusters: Vec<(String, Option<String>, Vec<HostId>)>,
    /// VMs the plan reconfigures, in spec order.
    vms: Vec<VmId>,
    /// Linux guests the plan licenses, in spec order.
    guests: Vec<VmId>,
}

impl Rollout {
    fn new(model: &Model, plan: &Plan) -> Rollout {
        let mut by_cluster: BTreeMap<Option<&str>, Vec<HostId>> = BTreeMap::new();
        for host in model.host_ids().filter(|&h| plan.host_steps(h).next().is_some()) {
            by_cluster.entry(model.host(host).cluster.as_ref().map(|c| c.value.as_str())).or_default().push(host);
        }
        // `None` sorts first in a BTreeMap; the unclustered hosts roll last.
        let unclustered = by_cluster.remove(&None);
        let mut groups: Vec<String> = Vec::new();
        let mut clusters = Vec::new();
        for (name, hosts) in by_cluster {
            let name = name.unwrap_or_default();
            let group = unique(&mut groups, group_name(name));
            clusters.push((group, Some(name.to_string()), hosts));
        }
        if let Some(hosts) = unclustered {
            clusters.push((UNCLUSTERED.to_string(), None, hosts));
        }
        let steps = |wanted: fn(&Action) -> bool| -> Vec<VmId> {
            let mut vms: Vec<VmId> = plan
                .steps
                .iter()
                .filter(|s| wanted(&s.action))
                .filter_map(|s| match s.target {
                    Target::Vm(vm) | Target::Guest(vm) => Some(vm),
                    _ => None,
                })
                .collect();
            vms.sort();
            vms.dedup();
            vms
        };
        let vms = steps(|a| matches!(a, Action::ConfigureVm));
        let guests = steps(|a| matches!(a, Action::LicenceGuest))
            .into_iter()
            .filter(|&vm| {
                let guest = model.vm(vm).guest.as_ref();
                guest.and_then(|g| g.os.as_ref()).is_some_and(|os| os.value == GuestOs::Linux) && super::gridd::of(model, vm).is_some()
            })
            .collect();
        Rollout { clusters, vms, guests }
    }

    /// `inventory.yml`: the spec's names, with what each host, VM and guest should become.
    fn inventory(&self, model: &Model, analysis: &Analysis, plan: &Plan, script_names: &[Vec<String>]) -> String {
        let mut out = String::from(
            "# Ansible inventory of the rollout, generated by gpuc: edit the .gpu spec, not this file.\n\
             # Hosts are grouped by vCenter cluster (`cluster` in the spec; hosts without one are in\n\
             # gpuc_unclustered) and each group rolls in its own play of site.yml. vCenter's address,\n\
             # datacenter and credentials are not here: see group_vars/all.yml.\n\
             all:\n  children:\n",
        );
        // A set: every VM entry asks it (a list made 10,000 hosts x 100,000 VMs of comparisons).
        let host_names: rustc_hash::FxHashSet<&str> =
            self.clusters.iter().flat_map(|(_, _, hosts)| hosts).map(|&h| model.host(h).name.as_str()).collect();
        if !self.clusters.is_empty() {
            out.push_str("    gpuc_hosts:\n      vars:\n        ansible_user: root\n      children:\n");
            for (group, cluster, hosts) in &self.clusters {
                let _ = writeln!(out, "        {group}:");
                if let Some(cluster) = cluster {
                    let _ = writeln!(out, "          vars:\n            vcenter_cluster: {}", quoted(cluster));
                }
                out.push_str("          hosts:\n");
                for &host in hosts {
                    host_entry(&mut out, model, plan, host, script_names.get(host.index()).map_or(&[][..], Vec::as_slice));
                }
            }
        }
        // Hosts and VMs are named apart in the spec; a host name has no `.`, so `<vm>.vm` is free.
        let vm_entry_name = |vm: VmId| {
            let name = &model.vm(vm).name;
            if host_names.contains(&name.as_str()) {
                format!("{name}.vm")
            } else {
                name.clone()
            }
        };
        if !self.vms.is_empty() {
            out.push_str("    gpuc_vms:\n      hosts:\n");
            for &vm in &self.vms {
                let _ = writeln!(out, "        {}:", vm_entry_name(vm));
                vm_entry(&mut out, model, analysis, vm);
            }
        }
        if !self.guests.is_empty() {
            out.push_str("    gpuc_guests:\n      hosts:\n");
            for &vm in &self.guests {
                let _ = writeln!(out, "        {}:", vm_entry_name(vm));
                let v = model.vm(vm);
                let _ = writeln!(out, "          vm_name: {}", quoted(&v.name));
                if let Some(shared) = super::gridd::of(model, vm) {
                    let _ = writeln!(out, "          guest_gridd_conf: {}", quoted(&shared.file_name(model)));
                }
                let token = v.guest.as_ref().and_then(|g| g.license.as_ref()).map(|l| &model.license(l.value).kind);
                if let Some(crate::model::LicenseKind::Token { file }) = token {
                    let _ = writeln!(out, "          guest_licence_token: {}", quoted(&file.value));
                }
            }
        }
        out
    }

    /// `site.yml`: one rolling play per cluster, then the VMs, then the guests.
    fn site(&self) -> String {
        let mut out = String::from(
            "---\n\
             # The rollout of this build, generated by gpuc: edit the .gpu spec, not this file.\n\
             # ansible-playbook -i inventory.yml site.yml [--check] [-e rollout_batch_size=2] [--tags hosts,vms,guests]\n\
             # Hosts roll cluster by cluster, rollout_batch_size hosts at a time (default 1); a failed\n\
             # host stops the rollout (max_fail_percentage 0), leaving the hosts after it untouched.\n",
        );
        let mut defaults = [VCENTER_DEFAULTS].into_iter().chain(std::iter::repeat(VCENTER_DEFAULTS_AGAIN));
        for (group, cluster, _) in &self.clusters {
            let title = cluster.as_ref().map_or_else(|| "GPU hosts in no cluster".to_string(), |c| format!("GPU hosts of cluster {c}"));
            let _ = write!(
                out,
                "\n- name: {}\n  hosts: {group}\n  tags: [hosts]\n  gather_facts: false\n  serial: \"{{{{ rollout_batch_size | default(1) }}}}\"\n  max_fail_percentage: 0\n{}  tasks:\n    - name: One host, through maintenance mode\n      ansible.builtin.import_tasks: tasks/host.yml\n",
                quoted(&title),
                defaults.next().unwrap_or_default()
            );
        }
        if !self.vms.is_empty() {
            let _ = write!(
                out,
                "\n- name: GPU VMs\n  hosts: gpuc_vms\n  tags: [vms]\n  gather_facts: false\n{}  tasks:\n    - name: One VM, powered off only when its configuration changes\n      ansible.builtin.import_tasks: tasks/vm.yml\n",
                defaults.next().unwrap_or_default()
            );
        }
        if !self.guests.is_empty() {
            out.push_str(
                "\n- name: Licensed Linux guests\n  hosts: gpuc_guests\n  tags: [guests]\n  gather_facts: false\n  become: true\n  tasks:\n    - name: Licence one guest\n      ansible.builtin.import_tasks: tasks/guest.yml\n",
            );
        }
        out
    }
}

/// One host of a cluster group: how vCenter and SSH reach it, and its wanted host settings.
fn host_entry(out: &mut String, model: &Model, plan: &Plan, host: HostId, scripts: &[String]) {
    let h = model.host(host);
    let _ = writeln!(out, "            {}:", h.name);
    let _ = writeln!(out, "              ansible_host: {}", quoted(&h.address));
    let _ = writeln!(out, "              esxi_hostname: {}", quoted(&h.address));
    let pci = |gpus: &[crate::model::GpuId]| -> Vec<String> {
        gpus.iter().filter_map(|&g| model.gpu(g).pci.as_ref()).map(|p| p.value.to_string()).collect()
    };
    let (mut on, mut off) = (Vec::new(), Vec::new());
    for (_, step) in plan.host_steps(host) {
        match &step.action {
            Action::SetHostGraphics { policy } => {
                let policy = match policy {
                    crate::model::AssignmentPolicy::Performance => "performance",
                    crate::model::AssignmentPolicy::Consolidation => "consolidation",
                };
                // vSphere API `sharedDirect` is the esxcli `SharedPassthru` the step sets.
                let _ = writeln!(out, "              host_graphics: {{type: sharedDirect, policy: {policy}}}");
            }
            Action::EnablePassthrough { gpus } | Action::EnablePassthroughInClient { gpus } => on.extend(pci(gpus)),
            Action::DisablePassthrough { gpus, .. } => off.extend(pci(gpus)),
            _ => {}
        }
    }
    for (key, devices) in [("passthrough_on", on), ("passthrough_off", off)] {
        if !devices.is_empty() {
            let list: Vec<String> = devices.iter().map(|d| format!("{{device: {}}}", quoted(d))).collect();
            let _ = writeln!(out, "              {key}: [{}]", list.join(", "));
        }
    }
    if !scripts.is_empty() {
        let list: Vec<String> = scripts.iter().map(|s| quoted(s)).collect();
        let _ = writeln!(out, "              runbook_phases: [{}]", list.join(", "));
        let folder = super::runbook::scripts_folder(model, host).replace("<datastore>", "{{ runbook_datastore }}");
        let _ = writeln!(out, "              runbook_folder: {}", quoted(&format!("{folder}/{}", h.name)));
    }
}

/// One VM: its devices, advanced settings, firmware and reservation, as `vms/<vm>.vmx` has them.
fn vm_entry(out: &mut String, model: &Model, analysis: &Analysis, vm: VmId) {
    let facts = analysis.vm(vm);
    let v = model.vm(vm);
    let _ = writeln!(out, "          vm_name: {}", quoted(&v.name));
    let profiles: Vec<String> = v
        .vgpus
        .iter()
        .enumerate()
        .map(|(i, request)| {
            let board = facts.placements.get(i).copied().flatten().and_then(|g| model.board_of(g));
            let profile = board.and_then(|b| b.vgpu_type(&request.type_name)).map_or(&request.type_name, |t| &t.profile);
            quoted(profile)
        })
        .collect();
    if !profiles.is_empty() {
        let _ = writeln!(out, "          vm_vgpu_profiles: [{}]", profiles.join(", "));
    }
    let devices: Vec<String> = v
        .passthrough
        .iter()
        .filter_map(|g| model.gpu(g.value).pci.as_ref())
        .map(|p| format!("{{pci: {}}}", quoted(&p.value.to_string())))
        .collect();
    if !devices.is_empty() {
        let _ = writeln!(out, "          vm_passthrough: [{}]", devices.join(", "));
    }
    if let Some(mmio) = facts.mmio {
        let _ = writeln!(
            out,
            "          vm_advanced_settings: {{\"pciPassthru.use64bitMMIO\": \"TRUE\", \"pciPassthru.64bitMMIOSizeGB\": \"{}\"}}",
            mmio.as_gib_ceil()
        );
    }
    let firmware = match v.firmware.as_ref().map(|f| f.value) {
        Some(Firmware::Efi) => Some("efi"),
        Some(Firmware::Bios) => Some("bios"),
        None => facts.efi.then_some("efi"),
    };
    if let Some(firmware) = firmware {
        let _ = writeln!(out, "          vm_firmware: {firmware}");
    }
    // `sched.mem.min` = memory with `sched.mem.pin`: vSphere's "Reserve all guest memory".
    if facts.reservation.is_some() && v.has_gpu() {
        out.push_str("          vm_reserve_all_memory: true\n");
    }
}

/// An Ansible group name for a cluster: letters, digits and `_` (Ansible warns on others).
fn group_name(cluster: &str) -> String {
    let safe: String = cluster.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '_' }).collect();
    format!("cluster_{safe}")
}

/// `name`, or `name_2`, `name_3`... when clusters whose names differ only in punctuation meet.
fn unique(taken: &mut Vec<String>, name: String) -> String {
    let mut candidate = name.clone();
    let mut n = 2;
    while taken.contains(&candidate) {
        candidate = format!("{name}_{n}");
        n += 1;
    }
    taken.push(candidate.clone());
    candidate
}

/// A YAML double-quoted scalar (JSON's string syntax is YAML's), so that nothing in it is read
/// as another type (`0000:09:00.0` is a base-60 float to YAML 1.1 readers such as Ansible's).
fn quoted(text: &str) -> String {
    serde_json::to_string(text).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cluster_groups_are_identifiers_and_distinct() {
        let mut taken = Vec::new();
        assert_eq!(unique(&mut taken, group_name("GPU cluster-A")), "cluster_gpu_cluster_a");
        assert_eq!(unique(&mut taken, group_name("GPU_cluster A")), "cluster_gpu_cluster_a_2");
        assert_eq!(quoted("0000:09:00.0"), "\"0000:09:00.0\"");
        assert_eq!(quoted("a \"b\""), "\"a \\\"b\\\"\"");
    }

    /// Two clusters (one named like a host's VM) and a host in none; the VM without a GPU is left out.
    const FLEET: &str = r#"
license nls { token "client_configuration_token.tok" }
host a1 { address "esx-a1.lab.example"  cluster "GPU A"  esxi "8.0 U3"
  nvidia { vib "/vmfs/volumes/ds-a1/NVIDIA/NVD-VGPU-800_550.54.16-1OEM.800.1.0.20613240_23471877.zip"  release "17.1" }
  gpu g0 { model a40  pci 0000:3b:00.0  use vgpu }
  gpu g1 { model a40  pci 0000:af:00.0  use passthrough } }
host b1 { cluster "gpu-b"  esxi "8.0 U3"
  gpu g0 { model l4  pci 0000:17:00.0  use passthrough } }
host c1 { esxi "8.0 U3"
  gpu g0 { model l4  pci 0000:17:00.0  use passthrough } }
vm b1 { host b1  memory 64GiB  firmware efi  passthrough b1.g0  guest { os linux  license nls  product vcs } }
vm train { host a1  memory 64GiB  firmware efi  vgpu nvidia_a40-8q  guest { os linux  driver "550.54.15"  license nls } }
vm render { host a1  memory 64GiB  firmware efi  passthrough a1.g1 }
vm infer { host c1  memory 32GiB  passthrough c1.g0  firmware efi }
vm plain { host c1  memory 8GiB }
"#;

    #[test]
    fn fleet_rollout() {
        let checked = crate::test_support::checked(FLEET);
        let plan = crate::plan::plan(&checked.model, &checked.analysis).expect("plans");
        let scripts: Vec<Vec<String>> = checked.model.host_ids().map(|h| crate::emit::runbook::script_names(&plan, h)).collect();
        let files = files(&checked.model, &checked.analysis, &plan, &scripts);
        let generated: String = files
            .iter()
            .filter(|(path, _)| !FIXED.iter().any(|(fixed, _)| path.ends_with(fixed)))
            .map(|(path, text)| format!("===== {path} =====\n{text}\n"))
            .collect();
        insta::assert_snapshot!(generated);
        assert_eq!(files.len(), 2 + FIXED.len());
    }
}
