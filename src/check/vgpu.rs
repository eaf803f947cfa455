//! vGPU rules: R9 (the type exists for the board), R10 (count per physical GPU), R11 (one
//! type per GPU in same-size mode; mixed-size limits), R12 (placement) and R19 (several
//! vGPUs in one VM).
//!
//! Placement follows the host's assignment policy as ESXi does at power-on (ref §4.2):
//! pinned vGPUs first, then the others in source order; `performance` puts each on the GPU
//! with the fewest vGPUs, `consolidation` on the fullest GPU that still has room; ties go to
//! the GPU declared first.

use super::host::{release_major, release_text};
use super::{tables, Out, VmFacts};
use crate::catalog::{Board, MigInstance, Product, Series, VgpuType};
use crate::diagnostics::{suggest, Code, Diagnostic};
use crate::model::{AssignmentPolicy, GpuId, GpuUse, Host, HostId, Model, VgpuMode, VmId};
use crate::quantity::ByteSize;
use crate::source::Span;

/// One vGPU on a physical GPU.
struct Occupant<'m> {
    vm: VmId,
    kind: &'m VgpuType,
    span: Span,
}

struct Slot<'m> {
    gpu: GpuId,
    board: &'m Board,
    mode: VgpuMode,
    occupants: Vec<Occupant<'m>>,
}

impl Slot<'_> {
    fn count_of(&self, name: &str) -> u32 {
        self.occupants.iter().filter(|o| o.kind.name == name).count() as u32
    }

    fn used(&self) -> ByteSize {
        ByteSize(self.occupants.iter().map(|o| o.kind.framebuffer.0).sum())
    }

    /// The GPU instance profiles of the occupants, and `extra` if given.
    fn instances<'b>(&'b self, extra: Option<&'b VgpuType>) -> Vec<&'b MigInstance> {
        self.occupants.iter().map(|o| o.kind).chain(extra).filter_map(|k| self.board.mig_instance(k)).collect()
    }

    /// Why this GPU cannot take one more vGPU of `kind`, or `None` when it can.
    fn refusal(&self, kind: &VgpuType, host: &Host) -> Option<Refusal> {
        if (self.mode == VgpuMode::Mig) != kind.gpu_instance.is_some() {
            return Some(Refusal::MigMismatch);
        }
        match self.mode {
            VgpuMode::SameSize => {
                let series_may_mix = release_major(host).is_some_and(|r| r >= tables::SAME_SIZE_SERIES_MIX_RELEASE)
                    && host.esxi.value >= tables::SAME_SIZE_SERIES_MIX_MIN_ESXI;
                if let Some(other) =
                    self.occupants.iter().find(|o| o.kind.name != kind.name && !(series_may_mix && o.kind.framebuffer == kind.framebuffer))
                {
                    return Some(Refusal::OtherType(other.kind.profile.clone()));
                }
                (self.count_of(&kind.name) >= kind.max).then_some(Refusal::Full(kind.max))
            }
            VgpuMode::MixedSize => {
                let Some(max) = kind.mixed_max else { return Some(Refusal::NoMixedLimit) };
                if self.count_of(&kind.name) >= max {
                    return Some(Refusal::Full(max));
                }
                (self.used().0 + kind.framebuffer.0 > self.board.framebuffer.0).then_some(Refusal::Framebuffer)
            }
            VgpuMode::Mig => {
                if self.count_of(&kind.name) >= kind.max {
                    return Some(Refusal::Full(kind.max));
                }
                let instance = self.board.mig_instance(kind)?;
                let same = self.instances(None).iter().filter(|i| i.profile == instance.profile).count() as u32;
                if instance.max.is_some_and(|max| same >= max) {
                    return Some(Refusal::Full(instance.max.unwrap_or(0)));
                }
                let slots = self.board.mig.as_ref().map_or(0, |m| m.slots);
                mig_layout(slots, &self.instances(Some(kind))).is_none().then_some(Refusal::MigSlots)
            }
        }
    }

    /// `esx14.g0 (Tesla P100 PCIe 16 GB): 2 x grid_p100-8q, 16GiB of 16GiB`.
    fn describe(&self, model: &Model) -> String {
        let mut kinds: Vec<(&str, u32, u32)> = Vec::new();
        for o in &self.occupants {
            match kinds.iter_mut().find(|(n, _, _)| *n == o.kind.profile) {
                Some(k) => k.1 += 1,
                None => kinds.push((
                    &o.kind.profile,
                    1,
                    if self.mode == VgpuMode::MixedSize { o.kind.mixed_max.unwrap_or(0) } else { o.kind.max },
                )),
            }
        }
        let held = if kinds.is_empty() {
            "empty".to_string()
        } else {
            kinds.iter().map(|(n, c, m)| format!("{c} of at most {m} {n}")).collect::<Vec<_>>().join(", ")
        };
        let used = match (self.mode, &self.board.mig) {
            (VgpuMode::Mig, Some(mig)) => {
                let instances = self.instances(None);
                let taken: u32 = instances.iter().map(|i| i.size).sum();
                let layout = mig_layout(mig.slots, &instances).unwrap_or_default();
                let at: Vec<String> = instances
                    .iter()
                    .zip(layout)
                    .map(|(i, start)| format!("{} in slots {}-{}", i.profile, start, start + i.size - 1))
                    .collect();
                let at = if at.is_empty() { String::new() } else { format!(" ({})", at.join(", ")) };
                format!("{taken} of {} memory slots used{at}", mig.slots)
            }
            _ => format!("{} of {} framebuffer used", self.used(), self.board.framebuffer),
        };
        format!("{} ({}, {} mode): {held}, {used}", model.gpu_label(self.gpu), self.board.name, self.mode.describe())
    }
}

/// A placement of GPU instances in a MIG GPU's slots: each instance at one of its allowed
/// start slots, none overlapping (NVIDIA MIG User Guide, "placements"). Returns the start of
/// each instance, in the order given, or `None` when they do not fit together. The search is
/// exhaustive over at most 8 slots, so it never misses a layout that exists.
fn mig_layout(slots: u32, instances: &[&MigInstance]) -> Option<Vec<u32>> {
    let mut order: Vec<usize> = (0..instances.len()).collect();
    // Largest first: fewest choices, so the search ends early.
    order.sort_by_key(|&i| std::cmp::Reverse(instances[i].size));
    let mut starts = vec![0; instances.len()];
    fn place(k: usize, order: &[usize], instances: &[&MigInstance], slots: u32, used: u64, starts: &mut [u32]) -> bool {
        let Some(&i) = order.get(k) else { return true };
        let instance = instances[i];
        for &start in &instance.starts {
            if start + instance.size > slots {
                continue;
            }
            let mask = ((1u64 << instance.size) - 1) << start;
            if used & mask == 0 {
                starts[i] = start;
                if place(k + 1, order, instances, slots, used | mask, starts) {
                    return true;
                }
            }
        }
        false
    }
    place(0, &order, instances, slots.min(64), 0, &mut starts).then_some(starts)
}

enum Refusal {
    OtherType(String),
    Full(u32),
    NoMixedLimit,
    Framebuffer,
    /// A MIG-backed type on a time-sliced GPU, or a time-sliced type on a MIG GPU.
    MigMismatch,
    /// No placement of the GPU instances fits the GPU's slots.
    MigSlots,
}

pub fn check(model: &Model, vm_facts: &mut [VmFacts], out: &mut Out) {
    // One pass over the VMs: most have no vGPU, and an estate's VMs do not fit in the cache.
    let mut on_hosts: Vec<(HostId, VmId)> = Vec::new();
    let mut several = Out::new();
    for (id, vm) in model.vm_ids().zip(&model.vms) {
        if vm.vgpus.is_empty() {
            continue;
        }
        vm_facts[id.index()].placements = vec![None; vm.vgpus.len()];
        if let Some(h) = vm.host {
            on_hosts.push((h, id));
        }
        multi_vgpu(model, id, &mut several);
    }
    // Host by host, each host's VMs in source order (the sort is stable).
    on_hosts.sort_by_key(|&(h, _)| h);
    for vms in on_hosts.chunk_by(|a, b| a.0 == b.0) {
        place_host(model, vms[0].0, vms.iter().map(|&(_, vm)| vm), vm_facts, out);
    }
    out.append(&mut several);
}

fn place_host(model: &Model, host_id: HostId, vms: impl Iterator<Item = VmId> + Clone, vm_facts: &mut [VmFacts], out: &mut Out) {
    let host = model.host(host_id);
    // A type the host cannot offer is reported once per host, not once per VM.
    let mut refused: Vec<&str> = Vec::new();
    // A GPU whose declaration failed (reported) may be the one a type or a VM was meant for:
    // what is not offered or does not fit then is not a finding of its own.
    let gpu_unknown = host.gpus.iter().any(|&g| model.gpu(g).incomplete);
    let mut slots: Vec<Slot> = host
        .gpus
        .iter()
        .filter(|&&g| model.gpu(g).usage.value == GpuUse::Vgpu)
        .filter_map(|&g| model.board_of(g).map(|board| Slot { gpu: g, board, mode: model.gpu(g).mode.value, occupants: Vec::new() }))
        .collect();
    // Pinned vGPUs first: they are where the spec says, and the rest fits around them.
    for vm_id in vms.clone() {
        for (i, request) in model.vm(vm_id).vgpus.iter().enumerate() {
            let Some(pin) = &request.pinned else { continue };
            let Some(slot) = slots.iter_mut().find(|s| s.gpu == pin.value) else { continue };
            let Some(kind) = slot.board.vgpu_type(&request.type_name) else {
                let d = misspelt(slot.board, &request.type_name, request.span).unwrap_or_else(|| {
                    let names = slot.board.vgpu_types.iter().map(|t| t.profile.as_str());
                    Diagnostic::new(
                        Code::VgpuTypeUnknown,
                        format!("`{}` is not a vGPU type of the {}", request.type_name, slot.board.name),
                        request.span,
                        format!("not offered by {}", slot.board.name),
                    )
                    .with_help(suggest::help_for(&request.type_name, "vGPU type of this board", names))
                });
                out.push(d.with_label(model.gpu(pin.value).model_span, "the GPU's board"));
                continue;
            };
            if !offered(kind, slot.board, host, request.span, &mut refused, out) {
                continue;
            }
            match slot.refusal(kind, host) {
                Some(refusal) => out.push(over_capacity(model, slot, kind, request.span, vm_id, refusal)),
                // A refused vGPU takes no room: the VMs placed after it are not refused for it.
                None => slot.occupants.push(Occupant { vm: vm_id, kind, span: request.span }),
            }
            vm_facts[vm_id.index()].placements[i] = Some(pin.value);
        }
    }
    // Which slots offer the type of the vGPU at hand; kept across vGPUs, as it is one per vGPU.
    let mut offering: Vec<usize> = Vec::new();
    for vm_id in vms {
        let vm = model.vm(vm_id);
        for (i, request) in vm.vgpus.iter().enumerate() {
            if request.pinned.is_some() {
                continue;
            }
            let Some(kind) = slots.iter().find_map(|slot| slot.board.vgpu_type(&request.type_name)) else {
                if !gpu_unknown {
                    unknown_on_host(model, host, &request.type_name, request.span, out);
                }
                continue;
            };
            offering.clear();
            offering.extend((0..slots.len()).filter(|&s| slots[s].board.vgpu_type(&request.type_name).is_some()));
            if !offered(kind, slots[offering[0]].board, host, request.span, &mut refused, out) {
                continue;
            }
            let open = offering.iter().copied().filter(|&s| slots[s].refusal(kind, host).is_none());
            let chosen = match host.assignment {
                AssignmentPolicy::Performance => open.min_by_key(|&s| (slots[s].occupants.len(), s)),
                AssignmentPolicy::Consolidation => open.min_by_key(|&s| (std::cmp::Reverse(slots[s].occupants.len()), s)),
            };
            match chosen {
                Some(s) => {
                    slots[s].occupants.push(Occupant { vm: vm_id, kind, span: request.span });
                    vm_facts[vm_id.index()].placements[i] = Some(slots[s].gpu);
                }
                None if offering.iter().all(|&s| matches!(slots[s].refusal(kind, host), Some(Refusal::NoMixedLimit))) => {
                    out.push(over_capacity(model, &slots[offering[0]], kind, request.span, vm_id, Refusal::NoMixedLimit));
                }
                None if offering.iter().all(|&s| matches!(slots[s].refusal(kind, host), Some(Refusal::MigMismatch))) => {
                    out.push(over_capacity(model, &slots[offering[0]], kind, request.span, vm_id, Refusal::MigMismatch));
                }
                None if gpu_unknown => {}
                None => {
                    let limit =
                        if offering.iter().all(|&s| slots[s].mode == VgpuMode::MixedSize) { kind.mixed_max.unwrap_or(0) } else { kind.max };
                    let mut d = Diagnostic::new(
                        Code::NoRoom,
                        format!(
                            "no GPU of host `{}` has room for the {} of VM `{}` (at most {limit} per GPU)",
                            host.name, kind.profile, vm.name
                        ),
                        request.span,
                        "does not fit",
                    )
                    .with_help(format!(
                        "move VMs to another host, add a GPU, or use a smaller type; each physical GPU holds at most {limit} {}{}",
                        kind.profile,
                        if kind.max > 1 { "" } else { " (a full-framebuffer type)" }
                    ));
                    for &s in &offering {
                        d = d.with_note(slots[s].describe(model));
                    }
                    out.push(d);
                }
            }
        }
    }
}

/// R9: the host's release and product offer the board and the type: C-series from vGPU 9.0;
/// the board between its first and last release; on vSphere from vGPU 13, C-series only with
/// the NVIDIA AI Enterprise host driver and Q/B/A only with the NVIDIA vGPU one (NVIDIA vGPU
/// 17 User Guide §2.1.1, §2.9.4). `refused` keeps one report per type and host.
fn offered<'k>(kind: &'k VgpuType, board: &'k Board, host: &Host, span: Span, refused: &mut Vec<&'k str>, out: &mut Out) -> bool {
    let Some(problem) = not_offered(kind, board, host) else { return true };
    // The product or release of a driver block that had a problem (reported) is a guess.
    if host.nvidia.as_ref().is_some_and(|n| n.incomplete) {
        return false;
    }
    // A board the host's product or release cannot run is one mistake, however many types
    // and VMs land on it: reported once, at the host's driver, with the first VM beside it.
    let (key, at_host) = if problem.whole_board { (board.id.as_str(), true) } else { (kind.name.as_str(), false) };
    if !refused.contains(&key) {
        refused.push(key);
        let nvidia = host.nvidia.as_ref();
        let driver_span = nvidia.and_then(|n| n.product.as_ref().map(|p| p.span)).or(nvidia.map(|n| n.span));
        let primary = driver_span.filter(|_| at_host).unwrap_or(span);
        let mut d =
            Diagnostic::new(problem.code, problem.message, primary, problem.label).with_help(problem.help).with_note(problem.source);
        if primary != span {
            d = d.with_label(span, format!("{} on the {}", kind.profile, board.name));
        }
        if let Some(release) = nvidia.and_then(|n| n.release.as_ref()) {
            d = d.with_label(release.span, format!("vGPU software {}", release.value));
        }
        out.push(d);
    }
    false
}

struct NotOffered {
    /// The board as a whole is the problem, not one of its types.
    whole_board: bool,
    code: Code,
    message: String,
    label: String,
    help: String,
    source: &'static str,
}

fn not_offered(kind: &VgpuType, board: &Board, host: &Host) -> Option<NotOffered> {
    let release = host.nvidia.as_ref().and_then(|n| n.release.as_ref()).map(|r| r.value);
    let product = host.nvidia.as_ref().map_or(Product::Vgpu, |n| n.product());
    let text = release_text(host);
    if let Some(release) = release {
        if kind.series == Series::C && release.major() < tables::C_SERIES_RELEASE {
            return Some(NotOffered {
                whole_board: false,
                code: Code::VgpuTypeRelease,
                message: format!("`{}` is a C-series (compute) type, which vGPU software {text} does not offer", kind.profile),
                label: "needs vGPU 9.0 or later".into(),
                help: "use a Q-series type (e.g. the same size with `q`), or move the host to vGPU software 9.0 or later".into(),
                source: "NVIDIA Virtual GPU Software 9.0 Release Notes: Virtual Compute Server (C-series vGPU types) is new in release 9.0",
            });
        }
        if let Some(first) = board.first_release.filter(|first| release < *first) {
            return Some(NotOffered {
                whole_board: true,
                code: Code::VgpuTypeRelease,
                message: format!("the {} is supported from vGPU software {first}; host `{}` runs {text}", board.name, host.name),
                label: format!("needs vGPU {first} or later"),
                help: format!("move the host to vGPU software {first} or later (a new host driver, and guest drivers of its branch)"),
                source: "NVIDIA Virtual GPU Software Release Notes, Supported NVIDIA GPUs, for each release",
            });
        }
        if let Some(last) = board.last_release.filter(|last| release.major() > last.major()) {
            return Some(NotOffered {
                whole_board: true,
                code: Code::VgpuTypeRelease,
                message: format!(
                    "vGPU software {text} no longer supports the {}; the last release that does is {}.x",
                    board.name,
                    last.major()
                ),
                label: format!("support ended with {}.x", last.major()),
                help: format!("stay on vGPU software {}.x for this GPU, or replace the GPU", last.major()),
                source: "NVIDIA Virtual GPU Software Release Notes, Supported NVIDIA GPUs, for each release",
            });
        }
        if let Some(first) = kind.first_release.filter(|first| release < *first) {
            return Some(NotOffered {
                whole_board: false,
                code: Code::VgpuTypeRelease,
                message: format!("`{}` is offered from vGPU software {first}; host `{}` runs {text}", kind.profile, host.name),
                label: format!("needs vGPU {first} or later"),
                help: format!("use another type of the {}, or move the host to vGPU software {first} or later", board.name),
                source: "NVIDIA Virtual GPU Software User Guide of the release, Appendix A, vGPU types of the board",
            });
        }
    }
    let split = release.is_none_or(|r| r.major() >= tables::AI_ENTERPRISE_SPLIT_RELEASE);
    if product == Product::AiEnterprise && !split {
        return Some(NotOffered {
            whole_board: true,
            code: Code::VgpuProduct,
            message: format!("NVIDIA AI Enterprise has no host driver for vGPU software {text}"),
            label: "NVIDIA AI Enterprise host driver".into(),
            help: format!(
                "write `product vgpu` for vGPU software {text}, or move the host to vGPU software {}.0 or later",
                tables::AI_ENTERPRISE_SPLIT_RELEASE
            ),
            source: "NVIDIA AI Enterprise 1.0 Release Notes: the first NVIDIA AI Enterprise release ships vGPU software 13.0",
        });
    }
    if split && !board.products.contains(&product) {
        let other = if product == Product::Vgpu { Product::AiEnterprise } else { Product::Vgpu };
        return Some(NotOffered {
            whole_board: true,
            code: Code::VgpuProduct,
            message: format!("the {} is not supported by the {} host driver on vSphere", board.name, product.title()),
            label: format!("{} host driver", product.title()),
            help: format!(
                "install the {} host driver on host `{}` and write `product {}` in its `nvidia` block",
                other.title(),
                host.name,
                other.keyword()
            ),
            source: "NVIDIA vGPU 17 User Guide §2.1.1: GPUs that support MIG are supported only on NVIDIA AI Enterprise",
        });
    }
    if split && kind.product() != product {
        let wanted = kind.product();
        return Some(NotOffered {
                whole_board: false,
            code: Code::VgpuProduct,
            message: format!("`{}` is a {:?}-series type, which the {} host driver does not offer on vSphere", kind.profile, kind.series, product.title()),
            label: format!("needs {}", wanted.title()),
            help: format!(
                "install the {} host driver on host `{}` (write `product {}` in its `nvidia` block), or use a type of the {} series",
                wanted.title(),
                host.name,
                wanted.keyword(),
                if product == Product::Vgpu { "Q, B or A" } else { "C" }
            ),
            source: "NVIDIA vGPU 17 User Guide §2.9.4: NVIDIA vGPU software does not support vCS on VMware vSphere; C-series vGPU types are not available for selection",
        });
    }
    None
}

/// A profile written with the other vendor prefix (`grid_a40-8q` for `nvidia_a40-8q`): the
/// VM would not power on, so the diagnostic offers the right string as a fix.
fn misspelt(board: &Board, written: &str, span: Span) -> Option<Diagnostic> {
    let kind = board.vgpu_type_by_token(written)?;
    Some(
        Diagnostic::new(
            Code::VgpuTypeUnknown,
            format!("vSphere names this vGPU type of the {} `{}`, not `{written}`", board.name, kind.profile),
            span,
            "not vSphere's profile string",
        )
        .with_help(format!("write `{}` (or NVIDIA's name `{}`)", kind.profile, kind.name))
        .with_fix(span, kind.profile.clone())
        .with_note("the .vmx and vCenter store the profile string exactly; with another one vCenter reports \"No graphics device is available for vGPU\" and the VM does not power on"),
    )
}

fn unknown_on_host(model: &Model, host: &Host, name: &str, span: Span, out: &mut Out) {
    let passthrough_offering = host
        .gpus
        .iter()
        .copied()
        .find(|&g| model.gpu(g).usage.value == GpuUse::Passthrough && model.board_of(g).is_some_and(|b| b.vgpu_type(name).is_some()));
    if let Some(gpu) = passthrough_offering {
        out.push(
            Diagnostic::new(
                Code::GpuModeMismatch,
                format!("the GPUs of host `{}` that offer `{name}` are passthrough GPUs", host.name),
                span,
                "no vGPU GPU offers this type",
            )
            .with_label(model.gpu(gpu).usage.span, "configured for passthrough")
            .with_help(format!(
                "set `use vgpu` on `{}` to share it, or give the VM the whole GPU with `passthrough`",
                model.gpu_label(gpu)
            )),
        );
        return;
    }
    let host_boards: Vec<&Board> =
        host.gpus.iter().filter(|&&g| model.gpu(g).usage.value == GpuUse::Vgpu).filter_map(|&g| model.board_of(g)).collect();
    if let Some(d) = host_boards.iter().find_map(|b| misspelt(b, name, span)) {
        out.push(d);
        return;
    }
    let mut host_types: Vec<&str> = host_boards.iter().flat_map(|b| b.vgpu_types.iter().map(|t| t.profile.as_str())).collect();
    host_types.sort_unstable();
    host_types.dedup();
    let boards: Vec<&str> = model.catalog.boards_with_type(name).map(|b| model.catalog.board(b).name.as_str()).collect();
    let message = if boards.is_empty() {
        format!("`{name}` is not a vGPU type of any board in the catalog")
    } else {
        format!("`{name}` is a vGPU type of the {}, which host `{}` does not have", boards.join(", "), host.name)
    };
    let help = match suggest::closest(name, host_types.iter().copied()) {
        Some(c) => format!("did you mean `{c}`?"),
        None if host_types.is_empty() => format!("host `{}` has no GPU with `use vgpu`; declare one, or pick a host that has", host.name),
        None => suggest::help_for(name, "vGPU type on this host", host_types.iter().copied()),
    };
    out.push(
        Diagnostic::new(Code::VgpuTypeUnknown, message, span, "no GPU of this host offers it")
            .with_help(help)
            .with_note("vGPU types are per board: `gpuc catalog --board <model>` lists each type's NVIDIA name and vSphere profile string"),
    );
}

fn over_capacity(model: &Model, slot: &Slot, kind: &VgpuType, span: Span, vm: VmId, refusal: Refusal) -> Diagnostic {
    let label = model.gpu_label(slot.gpu);
    let vm_name = &model.vm(vm).name;
    let mut d = match refusal {
        Refusal::Full(max) => Diagnostic::new(
            Code::VgpuCapacity,
            format!(
                "GPU `{label}` would hold {} x {}; the type allows at most {max} per physical GPU",
                slot.count_of(&kind.name) + 1,
                kind.profile
            ),
            span,
            format!("vGPU {} of at most {max}", slot.count_of(&kind.name) + 1),
        )
        .with_help(format!(
            "pin VM `{vm_name}` on another GPU (or drop `on {label}` and let the compiler place it), or use a smaller type"
        )),
        Refusal::OtherType(other) => Diagnostic::new(
            Code::MixedTypes,
            format!("GPU `{label}` already holds `{other}`; in same-size mode every vGPU on a GPU has the same type"),
            span,
            format!("`{}` differs from `{other}`", kind.profile),
        )
        .with_help(format!(
            "pin VM `{vm_name}` on another GPU, use `{other}`, or (vGPU 17 and ESXi 8.0 U3) write `mode mixed_size` on the GPU"
        )),
        Refusal::NoMixedLimit => Diagnostic::new(
            Code::MixedSizeType,
            format!("`{}` has no mixed-size limit for the {}", kind.profile, slot.board.name),
            span,
            "not known to run in mixed-size mode",
        )
        .with_help(
            "use a type that NVIDIA lists for mixed-size mode on this board, or `mode same_size`; a catalog entry can add `mixed_max`",
        ),
        Refusal::MigMismatch if kind.gpu_instance.is_some() => Diagnostic::new(
            Code::MigMismatch,
            format!("`{}` is a MIG-backed type, but GPU `{label}` is time-sliced", kind.profile),
            span,
            "needs a GPU in MIG mode",
        )
        .with_help(format!("write `mode mig` on `{label}` (then every vGPU on it is MIG-backed), or use a time-sliced type")),
        Refusal::MigMismatch => Diagnostic::new(
            Code::MigMismatch,
            format!("`{}` is a time-sliced type, but GPU `{label}` is in MIG mode", kind.profile),
            span,
            "needs a time-sliced GPU",
        )
        .with_help(format!("use a MIG-backed type (`gpuc catalog --board {}` lists them), or remove `mode mig` from `{label}`", slot.board.id))
        .with_note("NVIDIA AI Enterprise User Guide: a GPU in MIG mode runs only MIG-backed vGPUs; time-sliced and MIG-backed vGPUs cannot share a GPU"),
        Refusal::MigSlots => Diagnostic::new(
            Code::VgpuCapacity,
            format!("GPU `{label}` has no free MIG placement for the GPU instance of `{}`", kind.profile),
            span,
            "does not fit the GPU's MIG geometry",
        )
        .with_help(format!("pin VM `{vm_name}` on another GPU in MIG mode, or use a smaller MIG-backed type"))
        .with_note("NVIDIA Multi-Instance GPU User Guide, Supported MIG Profiles: each GPU instance profile has fixed start slots and sizes"),
        Refusal::Framebuffer => Diagnostic::new(
            Code::VgpuCapacity,
            format!(
                "GPU `{label}` would need {} of framebuffer, more than its {}",
                ByteSize(slot.used().0 + kind.framebuffer.0),
                slot.board.framebuffer
            ),
            span,
            "does not fit in the framebuffer",
        )
        .with_help(format!("pin VM `{vm_name}` on another GPU, or use a smaller type")),
    };
    // One label per place: VMs of one range share their `vgpu` line.
    let mut labelled = vec![span];
    for o in &slot.occupants {
        if labelled.len() > 8 || labelled.contains(&o.span) {
            continue;
        }
        labelled.push(o.span);
        d = d.with_label(o.span, format!("{} on `{label}` ({})", o.kind.profile, model.vm(o.vm).name));
    }
    d.with_note(slot.describe(model)).with_note("NVIDIA vGPU User Guide, vGPU types table of the board: the maximum vGPUs per physical GPU")
}

/// R19: several vGPUs in one VM need vSphere 6.7 U3, at most four, full-framebuffer Q or C
/// types (any C type on vSphere 8), all of one board and series (ref §2).
fn multi_vgpu(model: &Model, id: VmId, out: &mut Out) {
    let vm = model.vm(id);
    if vm.vgpus.len() < 2 {
        return;
    }
    let Some(host) = vm.host.map(|h| model.host(h)) else { return };
    let esxi = host.esxi.value;
    let max = tables::max_vgpus_per_vm(esxi);
    if vm.vgpus.len() > max {
        let why = if max == 1 {
            format!("ESXi {esxi} allows one vGPU per VM; several need 6.7 U3")
        } else {
            format!("ESXi {esxi} allows at most {max} vGPUs per VM")
        };
        let help = if esxi < tables::EIGHT_VGPUS_MIN_ESXI {
            "give the VM fewer vGPUs (or one larger type), or upgrade ESXi (6.7 U3: 4 vGPUs per VM; 8.0: 8)"
        } else {
            "give the VM fewer vGPUs, or one larger type"
        };
        out.push(
            Diagnostic::new(Code::TooManyVgpus, format!("VM `{}` has {} vGPUs: {why}", vm.name, vm.vgpus.len()), vm.vgpus[max].span, "one vGPU too many")
                .with_label(host.esxi.span, "host ESXi version")
                .with_help(help)
                .with_note("vSphere 6.7 Update 3: up to four vGPUs per VM; vSphere 8.0: up to eight (VMware blog \"vSphere 8 Expands Machine Learning Support: Device Groups for NVIDIA GPUs and NICs\")"),
        );
    }
    let boards_and_types: Vec<(&Board, &VgpuType, Span)> = vm
        .vgpus
        .iter()
        .filter_map(|r| {
            let board = r
                .pinned
                .as_ref()
                .and_then(|p| model.board_of(p.value))
                .or_else(|| model.catalog.boards_with_type(&r.type_name).next().map(|b| model.catalog.board(b)))?;
            Some((board, board.vgpu_type(&r.type_name)?, r.span))
        })
        .collect();
    let mut reported: Vec<&str> = Vec::new();
    for &(board, kind, span) in &boards_and_types {
        if reported.contains(&kind.name.as_str()) {
            continue;
        }
        let full = kind.framebuffer == board.framebuffer;
        let allowed = match kind.series {
            Series::C => full || esxi.major >= 8,
            Series::Q => full,
            Series::A | Series::B => false,
        };
        if !allowed {
            reported.push(&kind.name);
            out.push(
                Diagnostic::new(
                    Code::MultiVgpuType,
                    format!("VM `{}` has several vGPUs, but `{}` cannot be one of them", vm.name, kind.profile),
                    span,
                    "not a full-framebuffer Q or C type",
                )
                .with_help(format!(
                    "use the full-framebuffer type of the {} ({} Q or C), or give the VM a single vGPU{}",
                    board.name,
                    board.framebuffer,
                    if esxi.major >= 8 { "" } else { "; vSphere 8 also allows C-series types of any size" }
                ))
                .with_note(
                    "vSphere 6.7 U3+: several vGPUs per VM must use maximum-framebuffer Q or C profiles (vSphere 8: any C-series profile)",
                ),
            );
        }
    }
    if let Some(&(first_board, first_kind, first_span)) = boards_and_types.first() {
        if let Some(&(board, kind, span)) =
            boards_and_types.iter().find(|(b, k, _)| b.id != first_board.id || k.series != first_kind.series)
        {
            out.push(
                Diagnostic::new(
                    Code::MultiVgpuMixed,
                    format!("the vGPUs of VM `{}` differ in board or series", vm.name),
                    span,
                    format!("{} ({}, {:?}-series)", kind.profile, board.name, kind.series),
                )
                .with_label(first_span, format!("{} ({}, {:?}-series)", first_kind.profile, first_board.name, first_kind.series))
                .with_help("give the VM vGPUs of one board type and one series")
                .with_note("NVIDIA vGPU 17 User Guide: all vGPUs in one VM must be of the same board type and series"),
            );
        }
    }
}
