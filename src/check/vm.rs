//! Per-VM rules: R4 (64-bit MMIO), R5 (EFI), R7 (memory reservation), R8 (passthrough
//! device limit) and R18 (mobility).

use super::{both, tables, Out, VmFacts};
use crate::catalog::{Board, Series, VgpuType};
use crate::diagnostics::{Code, Diagnostic};
use crate::model::{Firmware, Model, Vm, VmId};
use crate::quantity::{ByteSize, GIB};
use crate::source::Span;

/// The default 32-bit PCI hole takes devices that map up to 16 GB; beyond that the VM needs
/// the 64-bit MMIO window (seed §5.1, §5.2.2: "PCI GPU devices that map memory regions
/// greater than 16 GB in size require that two specific configuration parameters be set").
const MMIO_WITHOUT_WINDOW: ByteSize = ByteSize::gib(16);

/// The rules of each VM, on two threads (each half of the VMs) when `two_threads` is set, then
/// those of each host's VMs together.
pub fn check(model: &Model, vm_facts: &mut [VmFacts], two_threads: bool, out: &mut Out) {
    let half = if two_threads { vm_facts.len() / 2 } else { vm_facts.len() };
    let (first, second) = vm_facts.split_at_mut(half);
    let mut reserved = vec![0; model.hosts.len()];
    let ((), (second_out, second_reserved)) = both(
        two_threads,
        || each_vm(model, 0, first, &mut reserved, out),
        || {
            let (mut second_out, mut second_reserved) = (Out::new(), vec![0; if second.is_empty() { 0 } else { model.hosts.len() }]);
            each_vm(model, half, second, &mut second_reserved, &mut second_out);
            (second_out, second_reserved)
        },
    );
    out.extend(second_out);
    for (total, more) in reserved.iter_mut().zip(second_reserved) {
        *total += more;
    }
    host_memory(model, vm_facts, &reserved, out);
}

/// The rules of the VMs from index `start` on, whose facts are `vm_facts`; adds each VM's
/// reservation to its host's total in `reserved` (R7 sums them without another pass).
fn each_vm(model: &Model, start: usize, vm_facts: &mut [VmFacts], reserved: &mut [u64], out: &mut Out) {
    // One list for every VM, refilled for each: an allocation per VM costs more than its rules.
    let mut devices = Vec::new();
    for (id, facts) in (start as u32..).map(VmId).zip(vm_facts) {
        let vm = model.vm(id);
        gpu_devices(model, facts, id, &mut devices);
        facts.mmio = mmio(vm, &devices, out);
        facts.efi = devices.iter().any(|d| d.needs_efi()) || facts.mmio.is_some();
        firmware(vm, facts.efi, &devices, out);
        facts.reservation = reservation(vm, out);
        if let (Some(host), Some(r)) = (vm.host, facts.reservation) {
            reserved[host.index()] += r.0;
        }
        passthrough_limit(model, vm, out);
        mobility(model, vm, out);
    }
}

/// A GPU device of a VM: a passthrough GPU, or a vGPU (with its type) on the GPU it was
/// placed on, with the span that brought it in.
#[derive(Clone, Copy)]
pub struct Device<'m> {
    pub board: &'m Board,
    pub span: Span,
    pub vgpu: Option<&'m VgpuType>,
}

/// The most a VM may map below 4 GB without the 64-bit MMIO window, and the smallest window of
/// a C-series vGPU VM (NVIDIA AI Enterprise, "Using NVIDIA vGPU (C-Series)": "The VM's MMIO
/// space must be increased 64GB or more").
const C_SERIES_MIN_MMIO: ByteSize = ByteSize::gib(64);

/// A vGPU on a GPU that requires 64 GB or more of MMIO space, in a VM of 32 GB or more of
/// memory, needs the GPU's whole requirement (same document, "on GPUs Requiring 64GB or More
/// of MMIO Space with Large-Memory VMs").
const LARGE_MMIO_GPU: ByteSize = ByteSize::gib(64);
const LARGE_MEMORY_VM: ByteSize = ByteSize::gib(32);

impl Device<'_> {
    /// EFI: a passthrough GPU with BAR1 over 256 MB (Broadcom KB 2142307), or any C-series
    /// vGPU ("64-bit MMIO and EFI boot must be enabled for the VM").
    fn needs_efi(&self) -> bool {
        match self.vgpu {
            None => self.board.large_bar(),
            Some(kind) => kind.series == Series::C,
        }
    }

    /// The 64-bit MMIO this device asks of a VM with `memory`.
    fn mmio_need(&self, memory: ByteSize) -> ByteSize {
        let Some(kind) = self.vgpu else { return self.board.mmio_need() };
        let board_need = self.board.mmio.filter(|m| *m >= LARGE_MMIO_GPU && memory >= LARGE_MEMORY_VM).unwrap_or(ByteSize(0));
        if kind.series == Series::C {
            board_need.max(C_SERIES_MIN_MMIO)
        } else {
            board_need
        }
    }

    /// Why the device needs what it needs, for notes.
    fn source(&self) -> &'static str {
        match self.vgpu {
            None if self.board.mmio.is_some() => "NVIDIA's MMIO table",
            None => "2 x BAR1",
            Some(kind) if kind.series == Series::C => "C-series vGPU: 64 GB or the GPU's requirement",
            Some(_) => "vGPU on a GPU requiring 64 GB or more, in a VM of 32 GB or more",
        }
    }
}

/// The devices behind a VM's GPUs, into `devices`: passthrough GPUs, and vGPUs on the GPU they
/// were placed on.
fn gpu_devices<'m>(model: &'m Model, facts: &VmFacts, id: VmId, devices: &mut Vec<Device<'m>>) {
    let vm = model.vm(id);
    let passthrough = vm.passthrough.iter().filter_map(|g| model.board_of(g.value).map(|board| Device { board, span: g.span, vgpu: None }));
    let placements = &facts.placements;
    let vgpus = vm.vgpus.iter().enumerate().filter_map(|(i, r)| {
        let gpu = placements.get(i).copied().flatten().or(r.pinned.as_ref().map(|p| p.value))?;
        let board = model.board_of(gpu)?;
        Some(Device { board, span: r.span, vgpu: board.vgpu_type(&r.type_name) })
    });
    devices.clear();
    devices.extend(passthrough.chain(vgpus));
}

/// R4: `mmio_gb = next_pow2(sum of per-device needs)`. A passthrough GPU needs NVIDIA's
/// published figure, else 2 x BAR1, once the VM maps more than 16 GB (Broadcom KB 2142307;
/// the guide's worked examples hold: two 16 GB P100s give 64, one V100 32 GB gives 64). A vGPU
/// needs what NVIDIA AI Enterprise states for vGPU VMs (see [`Device::mmio_need`]); summing
/// several vGPUs is this compiler's conservative choice (no source sizes several).
pub fn required_mmio(devices: &[Device], memory: ByteSize) -> Option<ByteSize> {
    let mapped: u64 = devices.iter().filter(|d| d.vgpu.is_none()).map(|d| d.board.bar1.0 + crate::catalog::BAR0_PLUS_BAR3.0).sum();
    let need: u64 = devices.iter().filter(|d| d.vgpu.is_some() || mapped > MMIO_WITHOUT_WINDOW.0).map(|d| d.mmio_need(memory).0).sum();
    if need == 0 {
        return None;
    }
    let gib = need.div_ceil(GIB).max(1);
    Some(ByteSize::gib(gib.checked_next_power_of_two().unwrap_or(gib)))
}

fn mmio(vm: &Vm, devices: &[Device], out: &mut Out) -> Option<ByteSize> {
    let required = required_mmio(devices, vm.memory.value);
    let Some(declared) = &vm.mmio else { return required };
    let gib = declared.value.0 / GIB;
    if declared.value.0 % GIB != 0 || !gib.is_power_of_two() {
        let up = ByteSize::gib(declared.value.as_gib_ceil().next_power_of_two());
        out.push(
            Diagnostic::new(
                Code::MmioNotPowerOfTwo,
                format!("the 64-bit MMIO size of VM `{}` is not a power of two", vm.name),
                declared.span,
                format!("{} is not a power of two GiB", declared.value),
            )
            .with_help(format!("write `mmio {up}`; pciPassthru.64bitMMIOSizeGB is a power of two in GB")),
        );
        return required;
    }
    if let Some(req) = required {
        if declared.value < req {
            let mut d = Diagnostic::new(
                Code::MmioTooSmall,
                format!("VM `{}` declares a {} 64-bit MMIO window, but its GPUs need {req}", vm.name, declared.value),
                declared.span,
                format!("smaller than {req}"),
            )
            .with_help(format!("write `mmio {req}`, or leave `mmio` out and the compiler computes it"))
            .with_note(breakdown(devices, vm.memory.value, req))
            .with_note("too small a window fails at power-on with \"Module 'DevicePowerOn' power on failed.\"");
            for device in devices {
                d = d.with_label(device.span, format!("{} needs {}", device.board.name, device.mmio_need(vm.memory.value)));
            }
            out.push(d);
            return required;
        }
    }
    Some(declared.value)
}

/// "2 x 32GiB = 64GiB, rounded up to a power of two: 64GiB".
fn breakdown(devices: &[Device], memory: ByteSize, total: ByteSize) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut i = 0;
    while i < devices.len() {
        let first = devices[i];
        let same = |d: &Device| d.board.id == first.board.id && d.mmio_need(memory) == first.mmio_need(memory);
        let n = devices[i..].iter().take_while(|d| same(d)).count();
        parts.push(format!("{n} x {} ({}, {})", first.mmio_need(memory), first.board.name, first.source()));
        i += n;
    }
    format!("64-bit MMIO needed: {}, rounded up to a power of two: {total}", parts.join(" + "))
}

/// R5: a VM whose devices need EFI boots EFI, and says so: firmware is never switched behind
/// the user's back, because a guest installed under BIOS does not boot after the switch.
fn firmware(vm: &Vm, efi: bool, devices: &[Device], out: &mut Out) {
    if !efi {
        return;
    }
    let cause = devices.iter().find(|d| d.needs_efi()).or(devices.first());
    let why = |d: &Device| match d.vgpu {
        Some(kind) if kind.series == Series::C => format!("{}: a C-series vGPU boots EFI", kind.profile),
        Some(kind) => format!("{}: its 64-bit MMIO window needs EFI", kind.profile),
        None => format!("BAR1 of {}: more than 256 MB", d.board.bar1),
    };
    match &vm.firmware {
        Some(fw) if fw.value == Firmware::Bios => {
            let mut d = Diagnostic::new(
                Code::BiosFirmware,
                format!("VM `{}` boots BIOS, but its {} needs EFI", vm.name, cause.map_or("GPU", |d| d.board.name.as_str())),
                fw.span,
                "BIOS firmware",
            )
            .with_help("write `firmware efi` (install the guest OS after switching; an installed BIOS guest does not boot from EFI)")
            .with_fix(fw.span, "firmware efi")
            .with_note(
                "Broadcom KB 2142307 (VMDirectPath I/O requirements): GPUs that map large PCI MMIO regions need the guest to boot EFI; NVIDIA AI Enterprise, \"Using NVIDIA vGPU (C-Series)\": 64-bit MMIO and EFI boot must be enabled for the VM",
            );
            if let Some(c) = cause {
                d = d.with_label(c.span, why(c));
            }
            out.push(d);
        }
        Some(_) => {}
        None if vm.incomplete => {}
        None => {
            let mut d = Diagnostic::new(
                Code::FirmwareUndeclared,
                format!("VM `{}` needs EFI firmware, but its firmware is not declared", vm.name),
                vm.memory.span,
                "no `firmware` in this VM",
            )
            .with_help("add `firmware efi` to the VM: gpuc does not switch firmware silently")
            .with_fix(Span::new(vm.memory.span.file, vm.memory.span.end as usize, vm.memory.span.end as usize), "\n  firmware efi")
            .with_note("a guest OS installed under BIOS does not boot after the VM is switched to EFI: reinstall it, or convert its boot disk, first")
            .with_note("set it in the vSphere Client, VM Options > Boot Options > Firmware (ESXi drops `firmware` given as a configuration parameter)");
            if let Some(c) = cause {
                d = d.with_label(c.span, why(c));
            }
            out.push(d);
        }
    }
}

/// R7: a GPU VM reserves all its memory (`sched.mem.min` = `memSize`, seed §5.2.5).
fn reservation(vm: &Vm, out: &mut Out) -> Option<ByteSize> {
    let memory = vm.memory.value;
    if memory.0 == 0 {
        return vm.reservation.as_ref().map(|r| r.value);
    }
    if let Some(declared) = &vm.reservation {
        if declared.value > memory {
            out.push(
                Diagnostic::new(
                    Code::PartialReservation,
                    format!("VM `{}` reserves {}, more than its {memory} of memory", vm.name, declared.value),
                    declared.span,
                    "larger than memory",
                )
                .with_label(vm.memory.span, "memory")
                .with_help(format!("write `reservation {memory}`, or leave it out")),
            );
        } else if declared.value < memory && vm.has_gpu() {
            out.push(
                Diagnostic::new(Code::PartialReservation, format!("GPU VM `{}` reserves {} of its {memory}", vm.name, declared.value), declared.span, "partial reservation")
                    .with_label(vm.memory.span, "all of this must be reserved")
                    .with_help(format!("write `reservation {memory}` or leave `reservation` out: a VM with a GPU reserves all its memory"))
                    .with_note(format!("vCenter refuses power-on: \"Invalid memory setting: memory reservation (sched.mem.min) should be equal to memsize({})\"", memory.as_mib_ceil())),
            );
            return Some(memory);
        }
    }
    if vm.has_gpu() {
        Some(memory)
    } else {
        vm.reservation.as_ref().map(|r| r.value)
    }
}

fn passthrough_limit(model: &Model, vm: &Vm, out: &mut Out) {
    let Some(host) = vm.host.map(|h| model.host(h)) else { return };
    let limit = tables::passthrough_limit(host.esxi.value);
    if vm.passthrough.len() as u32 > limit {
        let extra = &vm.passthrough[limit as usize];
        out.push(
            Diagnostic::new(
                Code::TooManyPassthrough,
                format!("VM `{}` has {} passthrough devices; ESXi {} allows {limit}", vm.name, vm.passthrough.len(), host.esxi.value),
                extra.span,
                format!("device {} of at most {limit}", limit + 1),
            )
            .with_label(host.esxi.span, "ESXi version of the host")
            .with_help("spread the GPUs over more VMs, or upgrade ESXi (8.0: 32, 8.0 U1: 64, 8.0 U2: 128 devices per VM)")
            .with_note("limits per VM from Broadcom KB 309986 (formerly VMware KB 1010789)"),
        );
    }
}

/// R18: passthrough VMs are bound to their host: no vMotion, DRS or snapshots (seed §5);
/// vGPU vMotion needs vSphere 6.7 U1 (seed §6).
fn mobility(model: &Model, vm: &Vm, out: &mut Out) {
    if !vm.passthrough.is_empty() {
        for (flag, what) in [(&vm.vmotion, "vMotion"), (&vm.drs, "DRS"), (&vm.snapshots, "snapshots")] {
            if let Some(f) = flag.as_ref().filter(|f| f.value) {
                out.push(
                    Diagnostic::new(Code::PassthroughMobility, format!("passthrough VM `{}` cannot use {what}", vm.name), f.span, format!("{what} asked for"))
                        .with_label(vm.passthrough[0].span, "passthrough GPU")
                        .with_help(format!("remove it (or write `false`); for a VM that must move, use vGPU instead of passthrough ({what} works with vGPU from vSphere 6.7 U1)"))
                        .with_note("VMware, Learning Guide: GPUs for Machine Learning on vSphere, §5 (VMDirectPath I/O): vMotion, DRS and VM snapshots are not compatible with DirectPath I/O"),
                );
            }
        }
        return;
    }
    let (Some(flag), Some(host)) = (vm.vmotion.as_ref().filter(|f| f.value), vm.host.map(|h| model.host(h))) else { return };
    if !vm.vgpus.is_empty() && host.esxi.value < tables::VGPU_VMOTION_MIN_ESXI {
        out.push(
            Diagnostic::new(
                Code::VgpuVmotionTooOld,
                format!("VM `{}` asks for vGPU vMotion on ESXi {}", vm.name, host.esxi.value),
                flag.span,
                "needs ESXi 6.7 U1",
            )
            .with_label(host.esxi.span, "host ESXi version")
            .with_help("upgrade the host to ESXi 6.7 U1 or later, or write `vmotion false`"),
        );
    }
}

/// R7: the reservations of a host's VMs, which add up to `totals` (per host), fit its declared
/// memory.
fn host_memory(model: &Model, vm_facts: &[VmFacts], totals: &[u64], out: &mut Out) {
    let over = |h: usize| model.hosts[h].memory.as_ref().is_some_and(|memory| totals[h] > memory.value.0);
    if !(0..model.hosts.len()).any(over) {
        return;
    }
    // The reservations of the hosts that are short, listed in a second pass over the VMs.
    let mut per_host: Vec<Vec<(VmId, ByteSize)>> = vec![Vec::new(); model.hosts.len()];
    for id in model.vm_ids() {
        if let (Some(h), Some(r)) = (model.vm(id).host, vm_facts[id.index()].reservation) {
            if over(h.index()) {
                per_host[h.index()].push((id, r));
            }
        }
    }
    for (index, (host, reserved)) in model.hosts.iter().zip(per_host).enumerate() {
        let Some(memory) = &host.memory else { continue };
        if !over(index) {
            continue;
        }
        let total = ByteSize(totals[index]);
        let list: Vec<String> = reserved.iter().map(|(id, r)| format!("{} {r}", model.vm(*id).name)).collect();
        let shown = list.iter().take(16).cloned().collect::<Vec<_>>().join(", ");
        let more = if list.len() > 16 { format!(" and {} more", list.len() - 16) } else { String::new() };
        out.push(
            Diagnostic::new(
                Code::HostOvercommitted,
                format!("VMs on host `{}` reserve {total}, more than its {}", host.name, memory.value),
                memory.span,
                format!("{} short", ByteSize(total.0 - memory.value.0)),
            )
            .with_help("move VMs to another host, give them less memory, or correct the host's `memory`")
            .with_note(format!("reservations: {shown}{more}"))
            .with_note("GPU VMs reserve all their memory, so ESXi cannot overcommit it; the last VM fails to power on"),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::{Catalog, BAR0_PLUS_BAR3};
    use crate::source::FileId;

    /// The guide's threshold (seed §5.2.2): devices that map "greater than 16 GB" need the 64-bit
    /// window, so a VM whose passthrough GPUs map exactly 16 GB (BAR1 plus BAR0 and BAR3) keeps
    /// the default one. No catalog board maps exactly that, so a T4 is given the BAR1 that does.
    #[test]
    fn exactly_16_gb_mapped_needs_no_64_bit_window() {
        let catalog = Catalog::builtin(FileId(0)).as_ref().expect("the built-in catalog");
        let mut board = catalog.board(catalog.find("tesla-t4").expect("the T4")).clone();
        let mut window = |bar1: ByteSize| {
            board.bar1 = bar1;
            required_mmio(&[Device { board: &board, span: Span::new(FileId(0), 0, 0), vgpu: None }], ByteSize::gib(16))
        };
        let exactly = ByteSize(ByteSize::gib(16).0 - BAR0_PLUS_BAR3.0);
        assert_eq!(window(exactly), None);
        assert_eq!(window(ByteSize(exactly.0 + ByteSize::mib(1).0)), Some(ByteSize::gib(32)));
    }
}
