//! The plan: the checked model as a graph of typed steps. Each step carries the span that
//! caused it and the rule (with its source) that asks for it; edges are real dependencies; a
//! topological order with ties broken by creation order (which follows source order) gives
//! the runbook. A reboot ends a host phase: the operator runs one script per phase.

use crate::catalog::Architecture;
use crate::check::Analysis;
use crate::diagnostics::{Code, Diagnostic};
use crate::model::{
    AssignmentPolicy, GpuId, GpuUse, GraphicsType, HostDriver, HostId, Installed, Model, PoolId, Scheduler, VgpuMode, VmId,
};
use crate::source::Span;
use petgraph::graph::{DiGraph, NodeIndex};
use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// What a step acts on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Target {
    Host(HostId),
    VCenter,
    Vm(VmId),
    Guest(VmId),
    Pool(PoolId),
}

/// What a step does. Host actions are scripted for the ESXi shell unless [`Action::manual`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Enable above-4G decoding in the server BIOS (VMware Learning Guide §5.1.1).
    /// A setting of the server BIOS the GPUs need, done by hand before the scripts (R6).
    EnableInBios {
        setting: BiosSetting,
    },
    EnterMaintenanceMode,
    /// `esxcli graphics host set --default-type SharedPassthru` and the assignment policy,
    /// before the VIB (VMware Learning Guide §6.1.2, §6.1.3; NVIDIA vGPU UG 17 §2.9.3).
    SetHostGraphics {
        policy: AssignmentPolicy,
    },
    Reboot {
        reason: &'static str,
    },
    /// `esxcli software vib install`: `-d` for a component ZIP, `-v` for a VIB. With
    /// `daemon`, the GPU Management Daemon component beside it too (NVIDIA vGPU UG 17 §2.9.1.1).
    InstallHostDriver {
        path: String,
        daemon: bool,
    },
    /// The spec's release differs from the installed one: stop the daemon, `esxcli software
    /// vib update`, reboot (NVIDIA vGPU UG 17 §2.9.1.2). `from` is the installed release.
    UpdateHostDriver {
        path: String,
        daemon: bool,
        from: String,
    },
    /// An image-managed (vLCM) cluster: add the components to the cluster image and remediate
    /// the host, by hand; esxcli would make the host drift from the image.
    AddToClusterImage {
        path: String,
        daemon: bool,
        update: bool,
    },
    /// `esxcli hardware pci pcipassthru set` (ESXi 7.0 and later; ESXCLI reference).
    EnablePassthrough {
        gpus: Vec<GpuId>,
    },
    /// ESXi 6.x has no esxcli for this: the vSphere Client, then a reboot (Learning Guide §5.1.2).
    EnablePassthroughInClient {
        gpus: Vec<GpuId>,
    },
    /// GPUs enabled for passthrough today that the spec shares by vGPU: `pcipassthru set -e
    /// false`, or by hand in the vSphere Client on ESXi 6.x (`in_client`); effective at the reboot.
    DisablePassthrough {
        gpus: Vec<GpuId>,
        in_client: bool,
    },
    /// `esxcli graphics device set --type SharedPassthru --vgpu-mode=...`, then `esxcli graphics
    /// host refresh` (NVIDIA vGPU UG 17 §2.11.2.2); no reboot.
    SetVgpuMode {
        gpu: GpuId,
        mode: VgpuMode,
    },
    /// `nvidia-smi -i <gpu> -mig 1` (or `0`) on GPUs whose MIG mode differs from the spec; on
    /// vSphere only the mode is set, vSphere creates the GPU instances at power-on (NVIDIA AI
    /// Enterprise User Guide 5.0, §2.11, §2.11.1). Ampere GPUs change mode at a host reboot.
    SetMigMode {
        gpus: Vec<GpuId>,
        enable: bool,
    },
    /// `nvidia-smi -i <gpu> --query-gpu=pci.bus_id,mig.mode.current --format=csv` (§2.11.1).
    VerifyMigMode {
        gpus: Vec<GpuId>,
        enable: bool,
    },
    /// `esxcli system module parameters set -m nvidia -p "NVreg_RegistryDwords=..."`: the
    /// scheduler's RmPVMRL and, for vGPU vMotion on releases 6 and 7, RMEnableVgpuMigration=1,
    /// joined in one value because `-p` replaces the whole parameter string.
    SetModuleParameters {
        rmpvmrl: Option<Rmpvmrl>,
        vgpu_migration: bool,
    },
    /// vib list, module loaded, GPU Management Daemon, nvidia-smi, virtualization mode, graphics
    /// host (NVIDIA vGPU UG 17 §2.9.1.3).
    VerifyHostDriver {
        daemon: bool,
    },
    /// The scheduler each vGPU GPU reports in the vmkernel log (NVIDIA vGPU UG 17 §8.3.4).
    VerifyScheduler {
        rmpvmrl: Rmpvmrl,
    },
    VerifyPassthrough {
        gpus: Vec<GpuId>,
    },
    /// `nvidia-smi -i <gpu> -e 0` for vGPU software before 9.0 (R14).
    DisableEcc {
        gpus: Vec<GpuId>,
    },
    VerifyEccDisabled {
        gpus: Vec<GpuId>,
    },
    ExitMaintenanceMode,
    /// vCenter advanced setting `vgpu.hotmigrate.enabled = true`.
    EnableVgpuHotMigrate,
    /// Power off, apply `vms/<vm>.vmx`, power on (Learning Guide §5.2.4).
    ConfigureVm,
    /// The guest driver (NVIDIA vGPU guest driver for vGPU).
    InstallGuestDriver,
    /// `gridd.conf` or the NLS token, restart `nvidia-gridd`, check the licence.
    LicenceGuest,
    /// `flexdirect resource_scheduler` on a server VM (Learning Guide §7.2.5).
    StartResourceScheduler {
        server: usize,
    },
    /// `servers.conf` on a client, then a health check (Learning Guide §7.2.10-7.2.11).
    ConfigureClient {
        client: usize,
    },
}

/// A server BIOS setting that GPUs need and no script can change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BiosSetting {
    /// GPUs that map 16 GB or more (VMware Learning Guide: GPUs for Machine Learning on
    /// vSphere, §5.1.1).
    Above4gDecoding,
    /// vGPU on Ampere and later GPUs, with VT-d/IOMMU and ARI (NVIDIA vGPU Software User Guide
    /// 17, §2.2).
    SrIov,
}

impl BiosSetting {
    /// The spec's key in the host's `bios` block.
    pub fn key(self) -> &'static str {
        match self {
            BiosSetting::Above4gDecoding => "above_4g_decoding",
            BiosSetting::SrIov => "sr_iov",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            BiosSetting::Above4gDecoding => "above-4G decoding",
            BiosSetting::SrIov => "SR-IOV",
        }
    }

    /// What the setting is called in server BIOSes, and where it usually is.
    pub fn where_to_find(self) -> &'static str {
        match self {
            BiosSetting::Above4gDecoding => "\"above 4G decoding\" (also named \"memory mapped I/O above 4 GB\" or \"PCI 64-bit resource handling above 4G\", usually in the PCI section)",
            BiosSetting::SrIov => "\"SR-IOV\" (\"Single Root I/O Virtualization\"), with VT-d/IOMMU and \"Alternative Routing ID Interpretation (ARI)\" (usually in the PCI or virtualization section)",
        }
    }

    /// Why, with the public source.
    pub fn why(self) -> &'static str {
        match self {
            BiosSetting::Above4gDecoding => "R6: a GPU that maps 16 GB or more needs above-4G decoding in the BIOS (VMware Learning Guide: GPUs for Machine Learning on vSphere, §5.1.1)",
            BiosSetting::SrIov => "R6: vGPU on NVIDIA Ampere and later GPUs needs VT-d/IOMMU, SR-IOV and ARI in the BIOS (NVIDIA vGPU Software User Guide 17, §2.2)",
        }
    }
}

/// An `RmPVMRL` value and which of NVIDIA's tables decodes it: from vGPU 15 the low byte
/// 0x01/0x11 means strict round-robin and the plain time-slice forms are 0x00TT0003/0x00TT0013
/// (NVIDIA vGPU UG 17 §8.1, §8.6.4); before 15, 0x01/0x11 and 0x00TT0001/0x00TT0011.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rmpvmrl {
    pub value: u32,
    pub since_15: bool,
}

impl Rmpvmrl {
    /// What the value means, by the table of its release.
    pub fn meaning(self) -> String {
        let policy = match (self.value & 0xff, self.since_15) {
            (0x00, _) => "best effort",
            (0x03, true) => "equal share without strict round-robin",
            (0x13, true) => "fixed share without strict round-robin",
            (0x01, true) => "equal share with strict round-robin",
            (0x11, true) => "fixed share with strict round-robin",
            (0x01, false) => "equal share",
            (0x11, false) => "fixed share",
            _ => "custom",
        };
        let strict = self.since_15 && matches!(self.value & 0xfff, 0x001 | 0x011);
        if strict && self.value > 0xff {
            // 0xAAFFF001: averaging factor AA, scheduling frequency FFF Hz (63 to 960).
            let (aa, fff) = (self.value >> 24, (self.value >> 12) & 0xfff);
            return format!("{policy}, averaging factor {aa}, scheduling frequency {fff} Hz");
        }
        match (self.value >> 16) & 0xff {
            0 if self.value & 0xff == 0 => policy.to_string(),
            0 => format!("{policy}, default time slice"),
            tt => format!("{policy}, {tt} ms time slice"),
        }
    }

    /// The policy word NVIDIA's driver logs for it: `EQUAL_SHARE`, `FIXED_SHARE`, `BEST_EFFORT`.
    pub fn logged_policy(self) -> &'static str {
        match self.value & 0xff {
            0x00 => "BEST_EFFORT",
            0x11 | 0x13 => "FIXED_SHARE",
            _ => "EQUAL_SHARE",
        }
    }
}

impl Action {
    /// Steps a script cannot do: the operator does them by hand, as `plan.md` says.
    pub fn manual(&self) -> bool {
        matches!(
            self,
            Action::EnableInBios { .. }
                | Action::EnablePassthroughInClient { .. }
                | Action::DisablePassthrough { in_client: true, .. }
                | Action::AddToClusterImage { .. }
                | Action::EnableVgpuHotMigrate
                | Action::ConfigureVm
                | Action::InstallGuestDriver
                | Action::LicenceGuest
                | Action::StartResourceScheduler { .. }
                | Action::ConfigureClient { .. }
        )
    }
}

#[derive(Clone, Debug)]
pub struct Step {
    pub target: Target,
    pub action: Action,
    /// The spec text that causes the step.
    pub span: Span,
    /// Why: the rule and its source.
    pub why: &'static str,
    /// For host steps: the phase (a new phase starts after each reboot).
    pub phase: u32,
}

/// Index of a step in [`Plan::steps`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StepId(pub u32);

#[derive(Debug)]
pub struct Plan {
    pub steps: Vec<Step>,
    /// Dependencies: an edge a -> b means a comes before b.
    pub graph: DiGraph<StepId, ()>,
    /// The runbook order.
    pub order: Vec<StepId>,
    /// Each host's steps in runbook order (indexed by `HostId`).
    by_host: Vec<Vec<StepId>>,
}

impl Plan {
    pub fn step(&self, id: StepId) -> &Step {
        &self.steps[id.0 as usize]
    }

    /// The steps of one host, in order.
    pub fn host_steps(&self, host: HostId) -> impl Iterator<Item = (StepId, &Step)> {
        self.by_host.get(host.index()).into_iter().flatten().map(|&id| (id, self.step(id)))
    }

    /// The direct predecessors of a step.
    pub fn dependencies(&self, id: StepId) -> Vec<StepId> {
        let mut deps: Vec<StepId> =
            self.graph.neighbors_directed(NodeIndex::new(id.0 as usize), petgraph::Direction::Incoming).map(|n| self.graph[n]).collect();
        deps.sort();
        deps
    }
}

/// The `NVreg_RegistryDwords` value: `RmPVMRL=0x01`, `RmPVMRL=0x00030003` with a time slice,
/// `RMEnableVgpuMigration=1`, or both joined by `;`.
pub fn registry_dwords(rmpvmrl: Option<Rmpvmrl>, vgpu_migration: bool) -> String {
    let scheduler =
        rmpvmrl.map(|r| if r.value > 0xff { format!("RmPVMRL=0x{:08x}", r.value) } else { format!("RmPVMRL=0x{:02x}", r.value) });
    let migration = vgpu_migration.then(|| "RMEnableVgpuMigration=1".to_string());
    scheduler.into_iter().chain(migration).collect::<Vec<_>>().join(";")
}

/// Releases before vGPU 8 enable vGPU migration (suspend/resume, vMotion) with a module
/// parameter; from vGPU 8 it is on by default (NVIDIA vGPU UG 6.0 and 8.0).
const MIGRATION_DEFAULT_RELEASE: u32 = 8;

/// From vGPU 15 the equal and fixed share schedulers default to strict round-robin and the
/// RmPVMRL table changed (NVIDIA vGPU UG 17 §8.1: the older behaviour "was the default
/// scheduling behavior in NVIDIA vGPU software releases before 15.0").
pub const STRICT_ROUND_ROBIN_RELEASE: u32 = 15;

/// From vGPU 13 the Virtual GPU Manager for ESXi ships as components: the host driver and the
/// GPU Management Daemon (NVIDIA vGPU UG 17 §2.9.1; the split "in vGPU version 13": Denneman,
/// "vSphere ML Accelerator Spectrum Deep Dive - Installing the NVAIE vGPU Driver", 2023).
pub const COMPONENT_RELEASE: u32 = 13;

/// RmPVMRL for a scheduler, an optional time slice and the host's release.
///
/// From vGPU 15 (NVIDIA vGPU UG 17 §8.6.4 table): 0x00 best effort, 0x03 / 0x13 equal / fixed
/// share without strict round-robin, 0x00TT0003 / 0x00TT0013 with a time slice of TT ms; the
/// same guide's §8.6.1/§8.6.2 examples (0x00030001, 0x00180011) still show the older form,
/// which the §8.6.4 table reads as strict round-robin with a scheduling frequency.
/// Before 15 (NVIDIA vGPU UG 8.0): 0x01 / 0x11, and 0x00TT0001 / 0x00TT0011 from vGPU 9.
pub fn rmpvmrl(scheduler: Scheduler, time_slice_ms: Option<u32>, release_major: Option<u32>) -> Rmpvmrl {
    let since_15 = release_major.is_some_and(|r| r >= STRICT_ROUND_ROBIN_RELEASE);
    let base = match (scheduler, since_15) {
        (Scheduler::BestEffort, _) => return Rmpvmrl { value: 0, since_15 },
        (Scheduler::EqualShare, true) => 0x03,
        (Scheduler::FixedShare, true) => 0x13,
        (Scheduler::EqualShare, false) => 0x01,
        (Scheduler::FixedShare, false) => 0x11,
    };
    let value = match time_slice_ms {
        Some(tt) => (tt << 16) | base,
        None => base,
    };
    Rmpvmrl { value, since_15 }
}

/// The NVIDIA driver version in a VIB or component file name, e.g. `390.42` in
/// `NVIDIA-VMware_ESXi_6.7_Host_Driver_390.42-1OEM.670.0.0.7535516.vib`: the dotted number
/// before `-<n>OEM`, which `esxcli software vib list` shows as the VIB's version.
pub fn driver_version(path: &str) -> Option<String> {
    let file = path.rsplit('/').next()?;
    let oem = file.find("OEM")?;
    let head = file[..oem].trim_end_matches(|c: char| c.is_ascii_digit()).strip_suffix('-')?;
    // Past the last character that is not part of the version (which may be multi-byte).
    let start = head.char_indices().rev().find(|(_, c)| !(c.is_ascii_digit() || *c == '.')).map_or(0, |(i, c)| i + c.len_utf8());
    let version = &head[start..];
    let ok = version.starts_with(|c: char| c.is_ascii_digit()) && version.contains('.') && !version.ends_with('.');
    ok.then(|| version.to_string())
}

struct Builder {
    steps: Vec<Step>,
    graph: DiGraph<StepId, ()>,
}

impl Builder {
    fn add(&mut self, target: Target, action: Action, span: Span, why: &'static str, after: &[StepId]) -> StepId {
        let id = StepId(self.steps.len() as u32);
        self.steps.push(Step { target, action, span, why, phase: 0 });
        self.graph.add_node(id);
        for &before in after {
            self.graph.add_edge(NodeIndex::new(before.0 as usize), NodeIndex::new(id.0 as usize), ());
        }
        id
    }
}

/// Builds the plan of a checked model (one without errors).
pub fn plan(model: &Model, analysis: &Analysis) -> Result<Plan, Box<Diagnostic>> {
    let mut b = Builder { steps: Vec::new(), graph: DiGraph::new() };
    // Per host, the `vmotion true` of a vGPU VM on it (vGPU 6 and 7 need a module parameter).
    let mut vmotion: Vec<Option<Span>> = vec![None; model.hosts.len()];
    for vm in model.vms.iter().filter(|vm| !vm.vgpus.is_empty()) {
        if let (Some(h), Some(f)) = (vm.host, vm.vmotion.as_ref().filter(|f| f.value)) {
            vmotion[h.index()].get_or_insert(f.span);
        }
    }
    let mut host_done: Vec<Option<StepId>> = vec![None; model.hosts.len()];
    for id in model.host_ids() {
        host_done[id.index()] = host_steps(model, analysis, id, vmotion[id.index()], &mut b);
    }
    let hot_migrate = model.vms.iter().find(|vm| !vm.vgpus.is_empty() && vm.vmotion.as_ref().is_some_and(|f| f.value));
    if let Some(vm) = hot_migrate {
        let span = vm.vmotion.as_ref().map_or(vm.span, |f| f.span);
        b.add(
            Target::VCenter,
            Action::EnableVgpuHotMigrate,
            span,
            "R18: vGPU vMotion needs the vCenter advanced setting vgpu.hotmigrate.enabled (NVIDIA vGPU Software User Guide 17, §2.9.2)",
            &[],
        );
    }
    let mut vm_ready: Vec<Option<StepId>> = vec![None; model.vms.len()];
    for id in model.vm_ids() {
        let vm = model.vm(id);
        if !vm.has_gpu() {
            continue;
        }
        let after: Vec<StepId> = vm.host.and_then(|h| host_done[h.index()]).into_iter().collect();
        let configured = b.add(
            Target::Vm(id),
            Action::ConfigureVm,
            vm.span,
            "R4, R5, R7: the .vmx keys of the VM's GPUs, firmware, MMIO window and reservation (VMware Learning Guide: GPUs for Machine Learning on vSphere, §5.2; Broadcom KB 2142307)",
            &after,
        );
        let mut last = configured;
        if let Some(guest) = &vm.guest {
            if guest.driver.is_some() {
                last = b.add(
                    Target::Guest(id),
                    Action::InstallGuestDriver,
                    guest.driver.as_ref().map_or(guest.span, |d| d.span),
                    "R17: the guest driver matches the host vGPU manager branch (VMware Learning Guide: GPUs for Machine Learning on vSphere, §6.3; NVIDIA vGPU Release Notes for VMware vSphere, §1.2)",
                    &[last],
                );
            }
            if let Some(licence) = &guest.license {
                last = b.add(
                    Target::Guest(id),
                    Action::LicenceGuest,
                    licence.span,
                    "R16: a licensed guest gets gridd.conf or an NLS token (VMware Learning Guide: GPUs for Machine Learning on vSphere, §6.3.5; NVIDIA Virtual GPU Client Licensing User Guide)",
                    &[last],
                );
            }
        }
        vm_ready[id.index()] = Some(last);
    }
    for (p, pool) in model.pools.iter().enumerate() {
        let pool_id = PoolId(p as u32);
        let mut started: Vec<Option<StepId>> = Vec::new();
        for (i, server) in pool.servers.iter().enumerate() {
            let after: Vec<StepId> = server.vm.and_then(|v| vm_ready[v.index()]).into_iter().collect();
            started.push(Some(b.add(
                Target::Pool(pool_id),
                Action::StartResourceScheduler { server: i },
                server.span,
                "R20: the resource scheduler serves the VM's GPUs (VMware Learning Guide: GPUs for Machine Learning on vSphere, §7.2.5)",
                &after,
            )));
        }
        for (i, client) in pool.clients.iter().enumerate() {
            let after: Vec<StepId> = client.servers.iter().filter_map(|&s| started.get(s).copied().flatten()).collect();
            b.add(
                Target::Pool(pool_id),
                Action::ConfigureClient { client: i },
                client.span,
                "R20: servers.conf names the client's servers (VMware Learning Guide: GPUs for Machine Learning on vSphere, §7.2.10)",
                &after,
            );
        }
    }
    let order = topological(&b.graph).map_err(|cycle| {
        let names: Vec<String> = cycle.iter().map(|&id| format!("{:?}", b.steps[id.0 as usize].action)).collect();
        let span = cycle.first().map_or_else(|| b.steps[0].span, |id| b.steps[id.0 as usize].span);
        Box::new(
            Diagnostic::new(
                Code::Internal,
                format!("internal compiler error: the plan has a dependency cycle: {}", names.join(" -> ")),
                span,
                "the loop starts here",
            )
            .with_help("this is a bug in gpuc, not in your spec; please report it with the input"),
        )
    })?;
    let mut steps = b.steps;
    assign_phases(&mut steps, &order);
    let mut by_host: Vec<Vec<StepId>> = vec![Vec::new(); model.hosts.len()];
    for &id in &order {
        if let Target::Host(h) = steps[id.0 as usize].target {
            by_host[h.index()].push(id);
        }
    }
    Ok(Plan { steps, graph: b.graph, order, by_host })
}

/// What differs between a host today (its `installed` block; a green field without one) and
/// the spec: the plan changes only these.
struct Changes {
    graphics: bool,
    driver: Option<Action>,
    enable_passthrough: Vec<GpuId>,
    disable_passthrough: Vec<GpuId>,
    parameters: Option<(Option<Rmpvmrl>, bool, Span)>,
    modes: Vec<(GpuId, VgpuMode)>,
    /// GPUs whose MIG mode is to be turned on, and off.
    mig_on: Vec<GpuId>,
    mig_off: Vec<GpuId>,
    ecc_off: Vec<GpuId>,
}

impl Changes {
    fn any(&self) -> bool {
        self.graphics
            || self.driver.is_some()
            || !self.enable_passthrough.is_empty()
            || !self.disable_passthrough.is_empty()
            || self.parameters.is_some()
            || !self.modes.is_empty()
            || !self.mig_on.is_empty()
            || !self.mig_off.is_empty()
            || !self.ecc_off.is_empty()
    }
}

const IMAGE_WHY: &str = "R13: an image-managed cluster takes software from its image; esxcli would make the host non-compliant (VMware Managing Host and Cluster Lifecycle 8.0, Cluster and Host Compliance; 7.0, Edit an Image)";

/// The driver step: install, update from another release, or (image-managed) the cluster image.
fn driver_change(nvidia: &HostDriver, installed: Option<&Installed>, image_managed: bool) -> Option<Action> {
    let release = nvidia.release.as_ref()?;
    let path = nvidia.vib.as_ref()?.value.clone();
    let daemon = release.value.major() >= COMPONENT_RELEASE && path.to_ascii_lowercase().ends_with(".zip");
    let have = installed.and_then(|i| i.release.as_ref().map(|r| (i, r)));
    let update = match have {
        Some((i, _)) if i.has_release(&release.value, driver_version(&path).as_deref()) => return None,
        Some((i, r)) => Some(match &i.driver {
            Some(d) => format!("{} (driver {})", r.value, d.value),
            None => r.value.to_string(),
        }),
        None => None,
    };
    Some(match (image_managed, update) {
        (true, update) => Action::AddToClusterImage { path, daemon, update: update.is_some() },
        (false, Some(from)) => Action::UpdateHostDriver { path, daemon, from },
        (false, None) => Action::InstallHostDriver { path, daemon },
    })
}

fn changes(model: &Model, analysis: &Analysis, id: HostId, vgpu: &[GpuId], passthrough: &[GpuId], vmotion: Option<Span>) -> Changes {
    let host = model.host(id);
    let installed = host.state.installed.as_ref();
    let image_managed = host.state.image_managed.as_ref().is_some_and(|f| f.value);
    let nvidia = host.nvidia.as_ref().filter(|_| !vgpu.is_empty());
    let graphics_in_place = installed.is_some_and(|i| {
        i.graphics.as_ref().is_some_and(|g| g.value == GraphicsType::SharedDirect)
            && i.assignment.as_ref().map_or(AssignmentPolicy::default(), |a| a.value) == host.assignment
    });
    let listed = |list: fn(&Installed) -> &Vec<GpuId>, gpu: GpuId| installed.is_some_and(|i| list(i).contains(&gpu));
    let parameters = nvidia.and_then(|n| {
        let release = n.release.as_ref().map(|r| r.value.major());
        let migration = vmotion.filter(|_| release.is_some_and(|r| r < MIGRATION_DEFAULT_RELEASE));
        let scheduler = n.scheduler.as_ref().map(|s| (rmpvmrl(s.value, n.time_slice.as_ref().map(|t| t.value), release), s.span));
        if scheduler.is_none() && migration.is_none() {
            return None;
        }
        let value = scheduler.map(|(v, _)| v);
        let wanted = registry_dwords(value, migration.is_some());
        let in_place = installed.and_then(|i| i.parameters.as_ref()).is_some_and(|p| p.value == wanted);
        let span = scheduler.map(|(_, span)| span).or(migration).unwrap_or(n.span);
        (!in_place).then_some((value, migration.is_some(), span))
    });
    Changes {
        graphics: !vgpu.is_empty() && !graphics_in_place,
        driver: nvidia.and_then(|n| driver_change(n, installed, image_managed)),
        enable_passthrough: passthrough.iter().copied().filter(|&g| !listed(|i| &i.passthrough, g)).collect(),
        disable_passthrough: vgpu.iter().copied().filter(|&g| listed(|i| &i.passthrough, g)).collect(),
        parameters,
        // A GPU in MIG mode has no time-sliced mode to set; MIG is switched by nvidia-smi.
        modes: vgpu
            .iter()
            .filter_map(|&g| {
                let have = if listed(|i| &i.mixed_size, g) { VgpuMode::MixedSize } else { VgpuMode::SameSize };
                let want = model.gpu(g).mode.value;
                (want != have && want != VgpuMode::Mig).then_some((g, want))
            })
            .collect(),
        mig_on: vgpu.iter().copied().filter(|&g| model.gpu(g).mode.value == VgpuMode::Mig && !listed(|i| &i.mig, g)).collect(),
        mig_off: vgpu.iter().copied().filter(|&g| model.gpu(g).mode.value != VgpuMode::Mig && listed(|i| &i.mig, g)).collect(),
        ecc_off: analysis.hosts[id.index()].ecc_off.iter().copied().filter(|&g| !listed(|i| &i.ecc_off, g)).collect(),
    }
}

/// The host's steps in the guide's order, only for what differs from its installed state;
/// returns the last one (after which its VMs can be configured), or `None` when the host
/// needs nothing.
fn host_steps(model: &Model, analysis: &Analysis, id: HostId, vmotion: Option<Span>, b: &mut Builder) -> Option<StepId> {
    let host = model.host(id);
    let facts = &analysis.hosts[id.index()];
    let gpus_of = |usage: GpuUse| -> Vec<GpuId> { host.gpus.iter().copied().filter(|&g| model.gpu(g).usage.value == usage).collect() };
    let vgpu = gpus_of(GpuUse::Vgpu);
    let passthrough = gpus_of(GpuUse::Passthrough);
    let changes = changes(model, analysis, id, &vgpu, &passthrough, vmotion);
    if !changes.any() {
        return None;
    }
    let target = Target::Host(id);
    let mut chain: Vec<StepId> = Vec::new();
    let mut add = |b: &mut Builder, action: Action, span: Span, why: &'static str| {
        let after: Vec<StepId> = chain.last().copied().into_iter().collect();
        let step = b.add(target, action, span, why, &after);
        chain.push(step);
    };
    let large = host.gpus.iter().copied().find(|&g| model.board_of(g).is_some_and(|b| b.maps_over_16gb()));
    if let Some(gpu) = large.filter(|_| facts.needs_above_4g && host.above_4g_decoding.is_none()) {
        let setting = BiosSetting::Above4gDecoding;
        add(b, Action::EnableInBios { setting }, model.gpu(gpu).model_span, setting.why());
    }
    let sr_iov = vgpu.iter().copied().find(|&g| model.board_of(g).is_some_and(|b| b.architecture >= Architecture::Ampere));
    if let Some(gpu) = sr_iov.filter(|_| facts.needs_sr_iov && host.sr_iov.is_none()) {
        let setting = BiosSetting::SrIov;
        add(b, Action::EnableInBios { setting }, model.gpu(gpu).model_span, setting.why());
    }
    // Image-managed: remediation from the cluster image enters maintenance mode and reboots by
    // itself, so it comes first unless the graphics type must change before it.
    let image_first = matches!(changes.driver, Some(Action::AddToClusterImage { .. })) && !changes.graphics;
    let mut driver = changes.driver.clone();
    if image_first {
        if let Some(action) = driver.take() {
            add(b, action, host.nvidia.as_ref().and_then(|n| n.vib.as_ref()).map_or(host.span, |v| v.span), IMAGE_WHY);
        }
    }
    add(
        b,
        Action::EnterMaintenanceMode,
        host.span,
        "the host runs no VM while its GPUs change (NVIDIA vGPU Software User Guide 17, §2.9.1.1; VMware vSphere Resource Management 8.0, Place a Host in Maintenance Mode)",
    );
    let nvidia_span = host.nvidia.as_ref().map_or(host.span, |n| n.span);
    let graphics_span = host.graphics.as_ref().map_or(host.span, |g| g.span);
    let graphics_why = "R13: vGPU needs host graphics SharedPassthru (Shared Direct), set before the VIB (VMware Learning Guide: GPUs for Machine Learning on vSphere, §6.1.2, §6.1.3; NVIDIA vGPU Software User Guide 17, §2.9.3)";
    // The guide sets the graphics type and reboots before the VIB: installed first, the GPU
    // can no longer be switched to Shared Direct (Learning Guide §6.1.3).
    let graphics_first = changes.graphics && changes.driver.is_some();
    if graphics_first {
        add(b, Action::SetHostGraphics { policy: host.assignment }, graphics_span, graphics_why);
        add(
            b,
            Action::Reboot { reason: "the host graphics type takes effect after a reboot" },
            host.span,
            "VMware Learning Guide: GPUs for Machine Learning on vSphere, §6.1.2; NVIDIA vGPU Software User Guide 17, §2.9.3",
        );
    }
    if let Some(driver) = driver {
        let why = match &driver {
            Action::UpdateHostDriver { daemon: true, .. } => "R13: a new release: stop the GPU Management Daemon, update both components, reboot (NVIDIA vGPU Software User Guide 17, §2.9.1.2)",
            Action::UpdateHostDriver { .. } => "R13: a new release: esxcli software vib update, then a reboot (NVIDIA vGPU Software User Guide 8.0, §2.6.1)",
            Action::AddToClusterImage { .. } => IMAGE_WHY,
            Action::InstallHostDriver { daemon: true, .. } => "R13: the Virtual GPU Manager components, host driver and GPU Management Daemon, with absolute paths (NVIDIA vGPU Software User Guide 17, §2.9.1.1)",
            _ => "R13: the NVIDIA Virtual GPU Manager VIB, with an absolute path (NVIDIA vGPU Software User Guide 8.0, §2.6.1; VMware Learning Guide: GPUs for Machine Learning on vSphere, §6.1.3)",
        };
        let span = host.nvidia.as_ref().and_then(|n| n.vib.as_ref()).map_or(nvidia_span, |v| v.span);
        add(b, driver, span, why);
    }
    if changes.graphics && !graphics_first {
        add(b, Action::SetHostGraphics { policy: host.assignment }, graphics_span, graphics_why);
    }
    let esxcli_passthrough = host.esxi.value.major >= 7;
    if let Some(&first) = changes.enable_passthrough.first() {
        let span = model.gpu(first).usage.span;
        let gpus = changes.enable_passthrough.clone();
        if esxcli_passthrough {
            add(
                b,
                Action::EnablePassthrough { gpus },
                span,
                "R3: passthrough GPUs are enabled for DirectPath I/O (Broadcom ESXCLI Command Reference, esxcli hardware pci pcipassthru; Broadcom KB 309986)",
            );
        } else {
            add(
                b,
                Action::EnablePassthroughInClient { gpus },
                span,
                "R3: ESXi 6.x enables DirectPath I/O in the vSphere Client (VMware Learning Guide: GPUs for Machine Learning on vSphere, §5.1.2)",
            );
        }
    }
    if let Some(&first) = changes.disable_passthrough.first() {
        add(
            b,
            Action::DisablePassthrough { gpus: changes.disable_passthrough.clone(), in_client: !esxcli_passthrough },
            model.gpu(first).usage.span,
            "R3: a GPU shared by vGPU is not a passthrough device; the change takes effect at the reboot (Broadcom ESXCLI Command Reference, esxcli hardware pci pcipassthru; NVIDIA vGPU Software User Guide 17, §2.9.3)",
        );
    }
    if let Some((rmpvmrl, vgpu_migration, span)) = changes.parameters {
        let why = match (rmpvmrl, vgpu_migration) {
            (Some(_), true) => "R15, R18: the vGPU scheduler (RmPVMRL) and, for vMotion on vGPU 6 and 7, RMEnableVgpuMigration=1, in one value: -p replaces the whole string (NVIDIA vGPU Software User Guide 6.0 and 8.0)",
            (None, _) => "R18: vMotion on vGPU 6 and 7 needs RMEnableVgpuMigration=1 (NVIDIA vGPU Software User Guide 6.0, suspend-resume)",
            (Some(r), false) if r.since_15 => "R15: the vGPU scheduler is the nvidia module's RmPVMRL, encoded by the release-15+ table (NVIDIA vGPU Software User Guide 17, §8.6.1, §8.6.4)",
            (Some(_), false) => "R15: the vGPU scheduler is the nvidia module's RmPVMRL (NVIDIA vGPU Software User Guide 8.0, Changing vGPU Scheduling Policy)",
        };
        add(b, Action::SetModuleParameters { rmpvmrl, vgpu_migration }, span, why);
    }
    let scripted_driver = matches!(changes.driver, Some(Action::InstallHostDriver { .. } | Action::UpdateHostDriver { .. }));
    let reboot = scripted_driver
        || (changes.graphics && !graphics_first)
        || !changes.enable_passthrough.is_empty()
        || !changes.disable_passthrough.is_empty()
        || changes.parameters.is_some();
    if reboot {
        let (reason, source) = if vgpu.is_empty() {
            (
                "passthrough takes effect after a reboot",
                "VMware Learning Guide: GPUs for Machine Learning on vSphere, §5.1.2; Broadcom KB 309986",
            )
        } else if scripted_driver {
            (
                "NVIDIA asks for a reboot after the VIB even when esxcli says none is needed; module parameters and passthrough take effect",
                "NVIDIA vGPU Software User Guide 17, §2.9.1.1; 8.0, §2.6.1",
            )
        } else {
            (
                "module parameters, host graphics and passthrough take effect after a reboot",
                "NVIDIA vGPU Software User Guide 17, §2.9.3, §8.6.1",
            )
        };
        add(b, Action::Reboot { reason }, host.span, source);
    }
    if let Some(driver) = &changes.driver {
        let daemon = matches!(
            driver,
            Action::InstallHostDriver { daemon: true, .. }
                | Action::UpdateHostDriver { daemon: true, .. }
                | Action::AddToClusterImage { daemon: true, .. }
        );
        add(
            b,
            Action::VerifyHostDriver { daemon },
            nvidia_span,
            "NVIDIA vGPU Software User Guide 17, §2.9.1.3: the VIB installed, the module loaded, the GPU Management Daemon started, the GPUs in Host VGPU mode",
        );
    }
    if let Some((Some(rmpvmrl), _, span)) = changes.parameters {
        add(
            b,
            Action::VerifyScheduler { rmpvmrl },
            span,
            "NVIDIA vGPU Software User Guide 17, §8.3.4: each GPU logs its scheduler (dmesg | grep NVRM | grep scheduler)",
        );
    }
    if !changes.enable_passthrough.is_empty() && esxcli_passthrough {
        add(
            b,
            Action::VerifyPassthrough { gpus: changes.enable_passthrough.clone() },
            model.gpu(changes.enable_passthrough[0]).usage.span,
            "Broadcom ESXCLI Command Reference, esxcli hardware pci pcipassthru list: the GPUs are enabled for passthrough",
        );
    }
    for &(gpu, mode) in &changes.modes {
        add(
            b,
            Action::SetVgpuMode { gpu, mode },
            model.gpu(gpu).mode.span,
            "R11: the GPU's vGPU mode, with the device type SharedPassthru and a host graphics refresh; persistent on vSphere (NVIDIA vGPU Software User Guide 17, §2.11, §2.11.2.2)",
        );
    }
    for (gpus, enable) in [(&changes.mig_on, true), (&changes.mig_off, false)] {
        let Some(&first) = gpus.first() else { continue };
        let span = model.gpu(first).mode.span;
        add(
            b,
            Action::SetMigMode { gpus: gpus.clone(), enable },
            span,
            "R11: MIG-backed vGPUs need the GPU in MIG mode; on vSphere only the mode is set, vSphere creates the GPU instances (NVIDIA AI Enterprise User Guide 5.0, §2.11, §2.11.1)",
        );
        // Ampere GPUs change MIG mode at a host reboot; Hopper and later at once (§2.11.1 step 4).
        if gpus.iter().any(|&g| model.board_of(g).is_some_and(|b| b.architecture == Architecture::Ampere)) {
            add(
                b,
                Action::Reboot { reason: "MIG mode of Ampere GPUs changes at a host reboot" },
                span,
                "NVIDIA AI Enterprise User Guide 5.0, §2.11.1: VMware vSphere ESXi with Ampere GPUs only: reboot the hypervisor host",
            );
        }
        add(
            b,
            Action::VerifyMigMode { gpus: gpus.clone(), enable },
            span,
            "NVIDIA AI Enterprise User Guide 5.0, §2.11.1: nvidia-smi --query-gpu=pci.bus_id,mig.mode.current shows the mode",
        );
    }
    if let Some(&first) = changes.ecc_off.first() {
        let span = model.gpu(first).span;
        add(
            b,
            Action::DisableEcc { gpus: changes.ecc_off.clone() },
            span,
            "R14: vGPU software before 9.0 does not run with ECC on (NVIDIA vGPU Software User Guide 8.0, §2.7; VMware Learning Guide: GPUs for Machine Learning on vSphere, §6.1.7)",
        );
        add(b, Action::Reboot { reason: "the ECC mode changes at the next reboot" }, span, "NVIDIA vGPU Software User Guide 8.0, §2.7");
        add(
            b,
            Action::VerifyEccDisabled { gpus: changes.ecc_off.clone() },
            span,
            "VMware Learning Guide: GPUs for Machine Learning on vSphere, §6.1.7: ECC Mode Current: Disabled",
        );
    }
    add(b, Action::ExitMaintenanceMode, host.span, "the host takes VMs again (NVIDIA vGPU Software User Guide 17, §2.9.1.1)");
    chain.last().copied()
}

/// Kahn's algorithm with the smallest ready step first, so ties follow creation order.
/// On a cycle, returns the steps of one loop.
fn topological(graph: &DiGraph<StepId, ()>) -> Result<Vec<StepId>, Vec<StepId>> {
    let mut indegree: Vec<usize> =
        graph.node_indices().map(|n| graph.neighbors_directed(n, petgraph::Direction::Incoming).count()).collect();
    let mut ready: BinaryHeap<Reverse<usize>> = indegree.iter().enumerate().filter(|(_, d)| **d == 0).map(|(i, _)| Reverse(i)).collect();
    let mut order = Vec::with_capacity(indegree.len());
    while let Some(Reverse(i)) = ready.pop() {
        order.push(graph[NodeIndex::new(i)]);
        for next in graph.neighbors_directed(NodeIndex::new(i), petgraph::Direction::Outgoing) {
            indegree[next.index()] -= 1;
            if indegree[next.index()] == 0 {
                ready.push(Reverse(next.index()));
            }
        }
    }
    if order.len() == indegree.len() {
        return Ok(order);
    }
    let loop_nodes = petgraph::algo::tarjan_scc(graph).into_iter().find(|scc| scc.len() > 1).unwrap_or_default();
    Err(loop_nodes.into_iter().map(|n| graph[n]).collect())
}

/// Host steps get a phase number that grows after each reboot; scripts are cut there.
fn assign_phases(steps: &mut [Step], order: &[StepId]) {
    let mut phase: std::collections::HashMap<Target, u32> = std::collections::HashMap::new();
    for &id in order {
        let step = &mut steps[id.0 as usize];
        if let Target::Host(_) = step.target {
            let p = phase.entry(step.target).or_insert(1);
            step.phase = *p;
            if matches!(step.action, Action::Reboot { .. }) {
                *p += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_dwords_join_the_parameters_in_one_value() {
        let old = |value| Some(Rmpvmrl { value, since_15: false });
        assert_eq!(registry_dwords(old(0x01), false), "RmPVMRL=0x01");
        assert_eq!(registry_dwords(old(0x0018_0011), false), "RmPVMRL=0x00180011");
        assert_eq!(registry_dwords(old(0x11), true), "RmPVMRL=0x11;RMEnableVgpuMigration=1");
        assert_eq!(registry_dwords(None, true), "RMEnableVgpuMigration=1");
    }

    #[test]
    fn rmpvmrl_values_follow_the_table_of_the_release() {
        let value = |s, tt, release| rmpvmrl(s, tt, release).value;
        // Before 15 (vGPU UG 8.0): 0x01 / 0x11, time slice in the third byte.
        assert_eq!(value(Scheduler::BestEffort, None, Some(8)), 0x00);
        assert_eq!(value(Scheduler::EqualShare, None, Some(8)), 0x01);
        assert_eq!(value(Scheduler::FixedShare, None, Some(6)), 0x11);
        assert_eq!(value(Scheduler::EqualShare, Some(3), Some(9)), 0x0003_0001);
        assert_eq!(value(Scheduler::FixedShare, Some(24), Some(14)), 0x0018_0011);
        // From 15 (vGPU UG 17 §8.6.4): without strict round-robin, 0x00TT0003 / 0x00TT0013;
        // the table's own example: equal share, 3 ms = 0x00030003.
        assert_eq!(value(Scheduler::EqualShare, Some(3), Some(17)), 0x0003_0003);
        assert_eq!(value(Scheduler::FixedShare, Some(24), Some(15)), 0x0018_0013);
        assert_eq!(value(Scheduler::EqualShare, None, Some(17)), 0x03);
        assert_eq!(value(Scheduler::BestEffort, Some(3), Some(17)), 0x00);
    }

    #[test]
    fn rmpvmrl_decodes_to_what_the_comment_says() {
        let equal_2ms = rmpvmrl(Scheduler::EqualShare, Some(2), Some(17));
        assert_eq!(equal_2ms.meaning(), "equal share without strict round-robin, 2 ms time slice");
        assert_eq!(equal_2ms.logged_policy(), "EQUAL_SHARE");
        // The value gpuc wrote before for a vGPU 17 host means strict round-robin by the table.
        assert_eq!(
            Rmpvmrl { value: 0x0002_0001, since_15: true }.meaning(),
            "equal share with strict round-robin, averaging factor 0, scheduling frequency 32 Hz"
        );
        assert_eq!(rmpvmrl(Scheduler::FixedShare, None, Some(16)).meaning(), "fixed share without strict round-robin, default time slice");
        assert_eq!(rmpvmrl(Scheduler::EqualShare, Some(3), Some(9)).meaning(), "equal share, 3 ms time slice");
        assert_eq!(rmpvmrl(Scheduler::BestEffort, None, Some(17)).meaning(), "best effort");
        assert_eq!(rmpvmrl(Scheduler::BestEffort, None, Some(17)).logged_policy(), "BEST_EFFORT");
    }
}
