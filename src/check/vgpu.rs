//! vGPU rules: R9 (the type exists for the board), R10 (count per physical GPU), R11 (one
//! type per GPU in same-size mode; mixed-size limits), R12 (placement) and R19 (several
//! vGPUs in one VM).
//!
//! Placement follows the host's assignment policy as ESXi does at power-on (ref §4.2):
//! pinned vGPUs first, then the others in source order; `performance` puts each on the GPU
//! with the fewest vGPUs, `consolidation` on the fullest GPU that still has room; ties go to
//! the GPU declared first.

use super::host::{release_major, release_text};
use super::{tables, Analysis, Out};
use crate::catalog::{Board, Series, VgpuType};
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

    /// Why this GPU cannot take one more vGPU of `kind`, or `None` when it can.
    fn refusal(&self, kind: &VgpuType, release: Option<u32>) -> Option<Refusal> {
        match self.mode {
            VgpuMode::SameSize => {
                let series_may_mix = release.is_some_and(|r| r >= tables::SAME_SIZE_SERIES_MIX_RELEASE);
                if let Some(other) =
                    self.occupants.iter().find(|o| o.kind.name != kind.name && !(series_may_mix && o.kind.framebuffer == kind.framebuffer))
                {
                    return Some(Refusal::OtherType(other.kind.name.clone()));
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
        }
    }

    /// `esx14.g0 (Tesla P100 PCIe 16 GB): 2 x grid_p100-8q, 16GiB of 16GiB`.
    fn describe(&self, model: &Model) -> String {
        let mut kinds: Vec<(&str, u32, u32)> = Vec::new();
        for o in &self.occupants {
            match kinds.iter_mut().find(|(n, _, _)| *n == o.kind.name) {
                Some(k) => k.1 += 1,
                None => {
                    kinds.push((&o.kind.name, 1, if self.mode == VgpuMode::MixedSize { o.kind.mixed_max.unwrap_or(0) } else { o.kind.max }))
                }
            }
        }
        let held = if kinds.is_empty() {
            "empty".to_string()
        } else {
            kinds.iter().map(|(n, c, m)| format!("{c} of at most {m} {n}")).collect::<Vec<_>>().join(", ")
        };
        format!(
            "{} ({}, {}): {held}, {} of {} framebuffer used",
            model.gpu_label(self.gpu),
            self.board.name,
            mode_name(self.mode),
            self.used(),
            self.board.framebuffer
        )
    }
}

enum Refusal {
    OtherType(String),
    Full(u32),
    NoMixedLimit,
    Framebuffer,
}

fn mode_name(mode: VgpuMode) -> &'static str {
    match mode {
        VgpuMode::SameSize => "same-size mode",
        VgpuMode::MixedSize => "mixed-size mode",
    }
}

pub fn check(model: &Model, analysis: &mut Analysis, out: &mut Out) {
    for id in model.vm_ids() {
        analysis.vms[id.index()].placements = vec![None; model.vm(id).vgpus.len()];
    }
    let mut vms_by_host: Vec<Vec<VmId>> = vec![Vec::new(); model.hosts.len()];
    for id in model.vm_ids() {
        if let Some(h) = model.vm(id).host {
            if !model.vm(id).vgpus.is_empty() {
                vms_by_host[h.index()].push(id);
            }
        }
    }
    for (index, vms) in vms_by_host.iter().enumerate() {
        if !vms.is_empty() {
            place_host(model, HostId(index as u32), vms, analysis, out);
        }
    }
    for id in model.vm_ids() {
        multi_vgpu(model, id, out);
    }
}

fn place_host(model: &Model, host_id: HostId, vms: &[VmId], analysis: &mut Analysis, out: &mut Out) {
    let host = model.host(host_id);
    let release = release_major(host);
    let mut slots: Vec<Slot> = host
        .gpus
        .iter()
        .filter(|&&g| model.gpu(g).usage.value == GpuUse::Vgpu)
        .filter_map(|&g| model.board_of(g).map(|board| Slot { gpu: g, board, mode: model.gpu(g).mode.value, occupants: Vec::new() }))
        .collect();
    // Pinned vGPUs first: they are where the spec says, and the rest fits around them.
    for &vm_id in vms {
        for (i, request) in model.vm(vm_id).vgpus.iter().enumerate() {
            let Some(pin) = &request.pinned else { continue };
            let Some(slot) = slots.iter_mut().find(|s| s.gpu == pin.value) else { continue };
            let Some(kind) = slot.board.vgpu_type(&request.type_name) else {
                let names = slot.board.vgpu_types.iter().map(|t| t.name.as_str());
                out.push(
                    Diagnostic::new(
                        Code::VgpuTypeUnknown,
                        format!("`{}` is not a vGPU type of the {}", request.type_name, slot.board.name),
                        request.span,
                        format!("not offered by {}", slot.board.name),
                    )
                    .with_label(model.gpu(pin.value).model_span, "the GPU's board")
                    .with_help(suggest::help_for(&request.type_name, "vGPU type of this board", names)),
                );
                continue;
            };
            if !released(kind, host, request.span, out) {
                continue;
            }
            if let Some(refusal) = slot.refusal(kind, release) {
                out.push(over_capacity(model, slot, kind, request.span, vm_id, refusal));
            }
            slot.occupants.push(Occupant { vm: vm_id, kind, span: request.span });
            analysis.vms[vm_id.index()].placements[i] = Some(pin.value);
        }
    }
    for &vm_id in vms {
        let vm = model.vm(vm_id);
        for (i, request) in vm.vgpus.iter().enumerate() {
            if request.pinned.is_some() {
                continue;
            }
            let Some(kind) = slots.iter().find_map(|slot| slot.board.vgpu_type(&request.type_name)) else {
                unknown_on_host(model, host, &request.type_name, request.span, out);
                continue;
            };
            let offering: Vec<usize> = (0..slots.len()).filter(|&s| slots[s].board.vgpu_type(&request.type_name).is_some()).collect();
            if !released(kind, host, request.span, out) {
                continue;
            }
            let open = offering.iter().copied().filter(|&s| slots[s].refusal(kind, release).is_none());
            let chosen = match host.assignment {
                AssignmentPolicy::Performance => open.min_by_key(|&s| (slots[s].occupants.len(), s)),
                AssignmentPolicy::Consolidation => open.min_by_key(|&s| (std::cmp::Reverse(slots[s].occupants.len()), s)),
            };
            match chosen {
                Some(s) => {
                    slots[s].occupants.push(Occupant { vm: vm_id, kind, span: request.span });
                    analysis.vms[vm_id.index()].placements[i] = Some(slots[s].gpu);
                }
                None if offering.iter().all(|&s| matches!(slots[s].refusal(kind, release), Some(Refusal::NoMixedLimit))) => {
                    out.push(over_capacity(model, &slots[offering[0]], kind, request.span, vm_id, Refusal::NoMixedLimit));
                }
                None => {
                    let limit =
                        if offering.iter().all(|&s| slots[s].mode == VgpuMode::MixedSize) { kind.mixed_max.unwrap_or(0) } else { kind.max };
                    let mut d = Diagnostic::new(
                        Code::NoRoom,
                        format!(
                            "no GPU of host `{}` has room for the {} of VM `{}` (at most {limit} per GPU)",
                            host.name, kind.name, vm.name
                        ),
                        request.span,
                        "does not fit",
                    )
                    .with_help(format!(
                        "move VMs to another host, add a GPU, or use a smaller type; each physical GPU holds at most {limit} {}{}",
                        kind.name,
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

/// R9: C-series (vCS) types exist from vGPU 9.0.
fn released(kind: &VgpuType, host: &Host, span: Span, out: &mut Out) -> bool {
    let release = release_major(host);
    if kind.series == Series::C && release.is_some_and(|r| r < tables::C_SERIES_RELEASE) {
        out.push(
            Diagnostic::new(
                Code::VgpuTypeRelease,
                format!("`{}` is a C-series (compute) type, which vGPU software {} does not offer", kind.name, release_text(host)),
                span,
                "needs vGPU 9.0 or later",
            )
            .with_help("use a Q-series type (e.g. the same size with `q`), or move the host to vGPU software 9.0 or later")
            .with_note("vGPU 9.0 release notes: Virtual Compute Server (C-series vGPU types) is new in release 9.0"),
        );
        return false;
    }
    true
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
    let mut host_types: Vec<&str> = host
        .gpus
        .iter()
        .filter(|&&g| model.gpu(g).usage.value == GpuUse::Vgpu)
        .filter_map(|&g| model.board_of(g))
        .flat_map(|b| b.vgpu_types.iter().map(|t| t.name.as_str()))
        .collect();
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
    out.push(Diagnostic::new(Code::VgpuTypeUnknown, message, span, "no GPU of this host offers it").with_help(help).with_note(
        "vGPU types are per board: `grid_<board>-<framebuffer><series>`, e.g. `grid_p100-8q` only exists on a Tesla P100 16 GB",
    ));
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
                kind.name
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
            format!("`{}` differs from `{other}`", kind.name),
        )
        .with_help(format!(
            "pin VM `{vm_name}` on another GPU, use `{other}`, or (vGPU 17 and ESXi 8.0 U3) write `mode mixed_size` on the GPU"
        )),
        Refusal::NoMixedLimit => Diagnostic::new(
            Code::MixedSizeType,
            format!("`{}` has no mixed-size limit for the {}", kind.name, slot.board.name),
            span,
            "not known to run in mixed-size mode",
        )
        .with_help(
            "use a type that NVIDIA lists for mixed-size mode on this board, or `mode same_size`; a catalog entry can add `mixed_max`",
        ),
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
        d = d.with_label(o.span, format!("{} on `{label}` ({})", o.kind.name, model.vm(o.vm).name));
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
    if esxi < tables::MULTI_VGPU_MIN_ESXI || vm.vgpus.len() > tables::MAX_VGPUS_PER_VM {
        let (extra, why) = if esxi < tables::MULTI_VGPU_MIN_ESXI {
            (&vm.vgpus[1], format!("ESXi {esxi} allows one vGPU per VM; several need 6.7 U3"))
        } else {
            (&vm.vgpus[tables::MAX_VGPUS_PER_VM], format!("a VM has at most {} vGPUs", tables::MAX_VGPUS_PER_VM))
        };
        out.push(
            Diagnostic::new(
                Code::TooManyVgpus,
                format!("VM `{}` has {} vGPUs: {why}", vm.name, vm.vgpus.len()),
                extra.span,
                "one vGPU too many",
            )
            .with_label(host.esxi.span, "host ESXi version")
            .with_help("give the VM fewer vGPUs (or one larger type), or upgrade ESXi to 6.7 U3 or later")
            .with_note("vSphere 6.7 VM administration guide: up to four vGPUs per VM from 6.7 Update 3"),
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
                    format!("VM `{}` has several vGPUs, but `{}` cannot be one of them", vm.name, kind.name),
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
                    format!("{} ({}, {:?}-series)", kind.name, board.name, kind.series),
                )
                .with_label(first_span, format!("{} ({}, {:?}-series)", first_kind.name, first_board.name, first_kind.series))
                .with_help("give the VM vGPUs of one board type and one series")
                .with_note("NVIDIA vGPU 17 User Guide: all vGPUs in one VM must be of the same board type and series"),
            );
        }
    }
}
