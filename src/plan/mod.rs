//! The plan: the checked model as a graph of typed steps. Each step carries the span that
//! caused it and the rule (with its source) that asks for it; edges are real dependencies; a
//! topological order with ties broken by creation order (which follows source order) gives
//! the runbook. A reboot ends a host phase: the operator runs one script per phase.

use crate::check::Analysis;
use crate::diagnostics::{Code, Diagnostic};
use crate::model::{AssignmentPolicy, GpuId, GpuUse, HostId, Model, PoolId, Scheduler, VgpuMode, VmId};
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
    /// Enable above-4G decoding in the server BIOS (seed §5.1.1).
    EnableAbove4gDecoding,
    EnterMaintenanceMode,
    /// `esxcli graphics host set --default-type SharedPassthru` and the assignment policy
    /// (seed §6.1.2; ref §4.2), before the VIB (seed §6.1.3).
    SetHostGraphics {
        policy: AssignmentPolicy,
    },
    Reboot {
        reason: &'static str,
    },
    /// `esxcli software vib install -v` (a `.vib`) or `-d` (an offline bundle `.zip`).
    InstallHostDriver {
        path: String,
    },
    /// `esxcli hardware pci pcipassthru set` (ESXi 7.0 and later; ref §4.3).
    EnablePassthrough {
        gpus: Vec<GpuId>,
    },
    /// ESXi 6.x has no esxcli for this: the vSphere Client, then a reboot (seed §5.1.2).
    EnablePassthroughInClient {
        gpus: Vec<GpuId>,
    },
    /// `esxcli graphics device set --vgpu-mode MixedSize` (ESXi 8.0 U3; ref §4.2, §4.6).
    SetMixedSize {
        gpu: GpuId,
    },
    /// `esxcli system module parameters set -m nvidia -p "NVreg_RegistryDwords=..."`: the
    /// scheduler's RmPVMRL and, for vGPU vMotion on releases 6 and 7, RMEnableVgpuMigration=1,
    /// joined in one value because `-p` replaces the whole parameter string (ref §4.4, §9).
    SetModuleParameters {
        rmpvmrl: Option<u32>,
        vgpu_migration: bool,
    },
    /// vib list, module loaded, nvidia-smi, virtualization mode, graphics host (seed §6.1.4-6.1.6).
    VerifyHostDriver,
    VerifyPassthrough {
        gpus: Vec<GpuId>,
    },
    /// `nvidia-smi -i <gpu> -e 0` for vGPU software before 9.0 (seed §6.1.7; R14).
    DisableEcc {
        gpus: Vec<GpuId>,
    },
    VerifyEccDisabled {
        gpus: Vec<GpuId>,
    },
    ExitMaintenanceMode,
    /// vCenter advanced setting `vgpu.hotmigrate.enabled = true` (ref §9).
    EnableVgpuHotMigrate,
    /// Power off, apply `vms/<vm>.vmx`, power on (seed §5.2.4).
    ConfigureVm,
    /// The guest driver (NVIDIA vGPU guest driver for vGPU; seed §6.3).
    InstallGuestDriver,
    /// `gridd.conf` or the NLS token, restart `nvidia-gridd`, check the licence (seed §6.3.5).
    LicenceGuest,
    /// `flexdirect resource_scheduler` on a server VM (seed §7.2.5).
    StartResourceScheduler {
        server: usize,
    },
    /// `servers.conf` on a client, then a health check (seed §7.2.10-7.2.11).
    ConfigureClient {
        client: usize,
    },
}

impl Action {
    /// Steps a script cannot do: the operator does them by hand, as `plan.md` says.
    pub fn manual(&self) -> bool {
        matches!(
            self,
            Action::EnableAbove4gDecoding
                | Action::EnablePassthroughInClient { .. }
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

/// The `NVreg_RegistryDwords` value: `RmPVMRL=0x01`, `RmPVMRL=0x00030001` with a time slice,
/// `RMEnableVgpuMigration=1`, or both joined by `;`.
pub fn registry_dwords(rmpvmrl: Option<u32>, vgpu_migration: bool) -> String {
    let scheduler = rmpvmrl.map(|v| if v > 0xff { format!("RmPVMRL=0x{v:08x}") } else { format!("RmPVMRL=0x{v:02x}") });
    let migration = vgpu_migration.then(|| "RMEnableVgpuMigration=1".to_string());
    scheduler.into_iter().chain(migration).collect::<Vec<_>>().join(";")
}

/// Releases before vGPU 8 enable vGPU migration (suspend/resume, vMotion) with a module
/// parameter; from vGPU 8 it is on by default (ref §9).
const MIGRATION_DEFAULT_RELEASE: u32 = 8;

/// RmPVMRL for a scheduler and optional time slice (ref §4.4): 0x00 best effort, 0x01 equal
/// share, 0x11 fixed share; with a time slice of TT ms, 0x00TT0001 / 0x00TT0011 (the form of
/// the guide's own examples, 0x00030001 and 0x00180011).
pub fn rmpvmrl(scheduler: Scheduler, time_slice_ms: Option<u32>) -> u32 {
    let base = match scheduler {
        Scheduler::BestEffort => return 0,
        Scheduler::EqualShare => 0x01,
        Scheduler::FixedShare => 0x11,
    };
    match time_slice_ms {
        Some(tt) => (tt << 16) | base,
        None => base,
    }
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
            "R18: vGPU vMotion needs the vCenter advanced setting vgpu.hotmigrate.enabled (ref §9)",
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
            "R4, R5, R7: the .vmx keys of the VM's GPUs, firmware, MMIO window and reservation (seed §5.2)",
            &after,
        );
        let mut last = configured;
        if let Some(guest) = &vm.guest {
            if guest.driver.is_some() {
                last = b.add(
                    Target::Guest(id),
                    Action::InstallGuestDriver,
                    guest.driver.as_ref().map_or(guest.span, |d| d.span),
                    "R17: the guest driver matches the host vGPU manager branch (seed §6.3)",
                    &[last],
                );
            }
            if let Some(licence) = &guest.license {
                last = b.add(
                    Target::Guest(id),
                    Action::LicenceGuest,
                    licence.span,
                    "R16: a licensed guest gets gridd.conf or an NLS token (seed §6.3.5; ref §7)",
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
                "R20: the resource scheduler serves the VM's GPUs (seed §7.2.5)",
                &after,
            )));
        }
        for (i, client) in pool.clients.iter().enumerate() {
            let after: Vec<StepId> = client.servers.iter().filter_map(|&s| started.get(s).copied().flatten()).collect();
            b.add(
                Target::Pool(pool_id),
                Action::ConfigureClient { client: i },
                client.span,
                "R20: servers.conf names the client's servers (seed §7.2.10)",
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

/// The host's steps in the guide's order; returns the last one (after which its VMs can be
/// configured), or `None` when the host needs nothing.
fn host_steps(model: &Model, analysis: &Analysis, id: HostId, vmotion: Option<Span>, b: &mut Builder) -> Option<StepId> {
    let host = model.host(id);
    let facts = &analysis.hosts[id.index()];
    let gpus_of = |usage: GpuUse| -> Vec<GpuId> { host.gpus.iter().copied().filter(|&g| model.gpu(g).usage.value == usage).collect() };
    let vgpu = gpus_of(GpuUse::Vgpu);
    let passthrough = gpus_of(GpuUse::Passthrough);
    if vgpu.is_empty() && passthrough.is_empty() {
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
        add(
            b,
            Action::EnableAbove4gDecoding,
            model.gpu(gpu).model_span,
            "R6: a GPU that maps 16 GB or more needs above-4G decoding in the BIOS (seed §5.1.1)",
        );
    }
    add(b, Action::EnterMaintenanceMode, host.span, "the host runs no VM while its GPUs change (NVIDIA vGPU UG §2.6.1; seed §6.1.3)");
    let esxcli_passthrough = host.esxi.value.major >= 7;
    if !vgpu.is_empty() {
        add(
            b,
            Action::SetHostGraphics { policy: host.assignment },
            host.graphics.as_ref().map_or(host.span, |g| g.span),
            "R13: vGPU needs host graphics SharedPassthru, set before the VIB (seed §6.1.2, §6.1.3)",
        );
        add(b, Action::Reboot { reason: "the host graphics type takes effect after a reboot" }, host.span, "seed §6.1.2");
        let nvidia = host.nvidia.as_ref();
        let path = nvidia.and_then(|n| n.vib.as_ref());
        if let Some(path) = path {
            add(
                b,
                Action::InstallHostDriver { path: path.value.clone() },
                path.span,
                "R13: the NVIDIA vGPU manager VIB, with an absolute path (seed §6.1.3)",
            );
        }
    }
    if !passthrough.is_empty() {
        let span = model.gpu(passthrough[0]).usage.span;
        if esxcli_passthrough {
            add(
                b,
                Action::EnablePassthrough { gpus: passthrough.clone() },
                span,
                "R3: passthrough GPUs are enabled for DirectPath I/O (ref §4.3)",
            );
        } else {
            add(
                b,
                Action::EnablePassthroughInClient { gpus: passthrough.clone() },
                span,
                "R3: ESXi 6.x enables DirectPath I/O in the vSphere Client (seed §5.1.2)",
            );
        }
    }
    for &g in &vgpu {
        let gpu = model.gpu(g);
        if gpu.mode.value == VgpuMode::MixedSize {
            add(
                b,
                Action::SetMixedSize { gpu: g },
                gpu.mode.span,
                "R11: mixed-size vGPU mode, persistent from ESXi 8.0 U3 (ref §4.2, §4.6)",
            );
        }
    }
    if let Some(n) = host.nvidia.as_ref().filter(|_| !vgpu.is_empty()) {
        let old_release = n.release.as_ref().is_some_and(|r| r.value.major() < MIGRATION_DEFAULT_RELEASE);
        let migration = vmotion.filter(|_| old_release);
        let scheduler = n.scheduler.as_ref().map(|s| (rmpvmrl(s.value, n.time_slice.as_ref().map(|t| t.value)), s.span));
        if scheduler.is_some() || migration.is_some() {
            let span = scheduler.map(|(_, span)| span).or(migration).unwrap_or(n.span);
            let why = match (scheduler.is_some(), migration.is_some()) {
                (true, true) => {
                    "R15, R18: the vGPU scheduler (RmPVMRL) and, for vMotion on vGPU 6 and 7, RMEnableVgpuMigration=1 (ref §4.4, §9)"
                }
                (false, true) => "R18: vMotion on vGPU 6 and 7 needs RMEnableVgpuMigration=1 (ref §4.4, §9)",
                _ => "R15: the vGPU scheduler is the nvidia module's RmPVMRL (ref §4.4)",
            };
            add(b, Action::SetModuleParameters { rmpvmrl: scheduler.map(|(v, _)| v), vgpu_migration: migration.is_some() }, span, why);
        }
    }
    let (reason, source) = if vgpu.is_empty() {
        ("passthrough takes effect after a reboot", "seed §5.1.2; KB 1010789")
    } else {
        (
            "NVIDIA asks for a reboot after the VIB even when esxcli says none is needed; module parameters and passthrough take effect",
            "NVIDIA vGPU UG §2.6.1; ref §4.1",
        )
    };
    add(b, Action::Reboot { reason }, host.span, source);
    if !vgpu.is_empty() {
        add(
            b,
            Action::VerifyHostDriver,
            host.nvidia.as_ref().map_or(host.span, |n| n.span),
            "seed §6.1.4-6.1.6: the VIB is installed, the module loaded, the GPUs in Host VGPU mode",
        );
    }
    if !passthrough.is_empty() && esxcli_passthrough {
        add(
            b,
            Action::VerifyPassthrough { gpus: passthrough.clone() },
            model.gpu(passthrough[0]).usage.span,
            "seed §5.1.2: the GPUs are enabled for passthrough",
        );
    }
    if !facts.ecc_off.is_empty() {
        let span = model.gpu(facts.ecc_off[0]).span;
        add(
            b,
            Action::DisableEcc { gpus: facts.ecc_off.clone() },
            span,
            "R14: vGPU software before 9.0 does not run with ECC on (seed §6.1.7)",
        );
        add(b, Action::Reboot { reason: "the ECC mode changes at the next reboot" }, span, "NVIDIA vGPU UG §2.7; ref §4.5");
        add(b, Action::VerifyEccDisabled { gpus: facts.ecc_off.clone() }, span, "seed §6.1.7: ECC Mode Current: Disabled");
    }
    add(b, Action::ExitMaintenanceMode, host.span, "the host takes VMs again (seed §6.1.3)");
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
        assert_eq!(registry_dwords(Some(0x01), false), "RmPVMRL=0x01");
        assert_eq!(registry_dwords(Some(0x0018_0011), false), "RmPVMRL=0x00180011");
        assert_eq!(registry_dwords(Some(0x11), true), "RmPVMRL=0x11;RMEnableVgpuMigration=1");
        assert_eq!(registry_dwords(None, true), "RMEnableVgpuMigration=1");
    }

    #[test]
    fn rmpvmrl_values_follow_the_vgpu_user_guide() {
        assert_eq!(rmpvmrl(Scheduler::BestEffort, None), 0x00);
        assert_eq!(rmpvmrl(Scheduler::EqualShare, None), 0x01);
        assert_eq!(rmpvmrl(Scheduler::FixedShare, None), 0x11);
        assert_eq!(rmpvmrl(Scheduler::EqualShare, Some(3)), 0x0003_0001);
        assert_eq!(rmpvmrl(Scheduler::FixedShare, Some(24)), 0x0018_0011);
    }
}
