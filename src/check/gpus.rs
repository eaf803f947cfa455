//! R2 (PCI addresses unique per host) and R3 (how VMs may use physical GPUs).

use super::Out;
use crate::diagnostics::{Code, Diagnostic};
use crate::model::{GpuId, GpuUse, Model};
use rustc_hash::FxHashMap as HashMap;

pub fn check(model: &Model, out: &mut Out) {
    unique_pci(model, out);
    let mut owner: HashMap<GpuId, (&str, crate::source::Span)> = HashMap::default();
    for vm in &model.vms {
        if !vm.passthrough.is_empty() && !vm.vgpus.is_empty() {
            let first_vgpu = vm.vgpus[0].span;
            out.push(
                Diagnostic::new(Code::MixedGpuAccess, format!("VM `{}` has both passthrough GPUs and vGPUs", vm.name), first_vgpu, "vGPU here")
                    .with_label(vm.passthrough[0].span, "passthrough GPU here")
                    .with_help("give the VM either whole GPUs (`passthrough`) or vGPUs (`vgpu`); NVIDIA vGPU and DirectPath I/O cannot be combined in one VM")
                    .with_note("NVIDIA vGPU User Guide: a VM cannot have both a vGPU and a passthrough GPU"),
            );
        }
        for used in &vm.passthrough {
            let gpu = model.gpu(used.value);
            // Formatted only for a message: most GPUs are used as declared.
            let label = || model.gpu_label(used.value);
            if vm.host.is_some_and(|h| h != gpu.host) {
                foreign(model, vm.host, &vm.name, &label(), used.span, gpu.span, out);
                continue;
            }
            if gpu.usage.value == GpuUse::Vgpu {
                let label = label();
                out.push(
                    Diagnostic::new(Code::GpuModeMismatch, format!("GPU `{label}` is a vGPU GPU, but VM `{}` takes it in passthrough", vm.name), used.span, "passthrough of a vGPU GPU")
                        .with_label(gpu.usage.span, "configured for vGPU here")
                        .with_help(format!("give the VM a vGPU of `{label}` (`vgpu <type> on {label}`), or set `use passthrough` on the GPU; a physical GPU is either passthrough or vGPU")),
                );
                continue;
            }
            match owner.get(&used.value) {
                Some((first_vm, first_span)) if *first_vm != vm.name => {
                    let label = label();
                    out.push(
                        Diagnostic::new(Code::PassthroughShared, format!("passthrough GPU `{label}` is given to VM `{}` and VM `{first_vm}`", vm.name), used.span, "assigned again here")
                            .with_label(*first_span, format!("first assigned to `{first_vm}` here"))
                            .with_help("a passthrough GPU belongs to one VM; give this VM another GPU, or share the GPU with `use vgpu` and vGPU types")
                            .with_note("vCenter refuses to power on the second VM: the device is already in use"),
                    );
                }
                Some(_) => {
                    out.push(
                        Diagnostic::new(
                            Code::PassthroughShared,
                            format!("VM `{}` lists passthrough GPU `{}` twice", vm.name, label()),
                            used.span,
                            "listed again",
                        )
                        .with_help("list each GPU once"),
                    );
                }
                None => {
                    owner.insert(used.value, (vm.name.as_str(), used.span));
                }
            }
        }
        for request in &vm.vgpus {
            let Some(pin) = &request.pinned else { continue };
            let gpu = model.gpu(pin.value);
            if vm.host.is_some_and(|h| h != gpu.host) {
                foreign(model, vm.host, &vm.name, &model.gpu_label(pin.value), pin.span, gpu.span, out);
            } else if gpu.usage.value == GpuUse::Passthrough {
                let label = model.gpu_label(pin.value);
                out.push(
                    Diagnostic::new(
                        Code::GpuModeMismatch,
                        format!("vGPU `{}` is pinned on GPU `{label}`, which is a passthrough GPU", request.type_name),
                        pin.span,
                        "not a vGPU GPU",
                    )
                    .with_label(gpu.usage.span, "configured for passthrough here")
                    .with_help(format!("set `use vgpu` on `{label}`, or pin the vGPU on a GPU with `use vgpu`")),
                );
            }
        }
    }
}

fn foreign(
    model: &Model,
    vm_host: Option<crate::model::HostId>,
    vm: &str,
    gpu: &str,
    at: crate::source::Span,
    gpu_span: crate::source::Span,
    out: &mut Out,
) {
    let host = vm_host.map_or("?", |h| model.host(h).name.as_str());
    out.push(
        Diagnostic::new(Code::ForeignGpu, format!("VM `{vm}` runs on host `{host}` but uses GPU `{gpu}` of another host"), at, "GPU of another host")
            .with_label(gpu_span, "the GPU is declared here")
            .with_help(format!("use a GPU of `{host}`, or move the VM to the GPU's host; a VM only reaches the PCI devices of the host it runs on (Bitfusion serves remote GPUs)")),
    );
}

fn unique_pci(model: &Model, out: &mut Out) {
    // One table for all hosts, emptied for each: a host has a few GPUs, the estate many hosts.
    let mut seen: HashMap<crate::model::PciAddress, GpuId> = HashMap::default();
    for host in &model.hosts {
        seen.clear();
        for &id in &host.gpus {
            let Some(pci) = &model.gpu(id).pci else { continue };
            if let Some(&first) = seen.get(&pci.value) {
                let first_span = model.gpu(first).pci.as_ref().map_or(model.gpu(first).span, |p| p.span);
                out.push(
                    Diagnostic::new(
                        Code::DuplicatePci,
                        format!(
                            "GPUs `{}` and `{}` of host `{}` share PCI address {}",
                            model.gpu(first).name,
                            model.gpu(id).name,
                            host.name,
                            pci.value
                        ),
                        pci.span,
                        "address used again",
                    )
                    .with_label(first_span, "first used here")
                    .with_help("each physical GPU has its own address; copy them from `esxcli hardware pci list` on the host"),
                );
            } else {
                seen.insert(pci.value, id);
            }
        }
    }
}
