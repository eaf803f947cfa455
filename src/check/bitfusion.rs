//! R20: Bitfusion pools. Servers are VMs with GPUs; a client reaches at least one server;
//! `share` is in (0, 1]; `memory` fits a GPU; the GPUs asked for exist (seed §7; ref §8).

use super::Out;
use crate::diagnostics::{Code, Diagnostic};
use crate::model::{Model, Pool, PoolServer};
use crate::quantity::ByteSize;

pub fn check(model: &Model, out: &mut Out) {
    for pool in &model.pools {
        discontinued(pool, out);
        for server in &pool.servers {
            // A VM whose declaration had a problem (a misspelt `passthrough`) was told so.
            if let Some(vm) = server.vm.map(|v| model.vm(v)).filter(|vm| !vm.has_gpu() && !vm.incomplete) {
                out.push(
                    Diagnostic::new(
                        Code::BitfusionServerNoGpu,
                        format!("Bitfusion server `{}` is a VM without GPUs", server.name),
                        server.span,
                        "serves no GPU",
                    )
                    .with_label(vm.span, "the VM has no `passthrough` or `vgpu`")
                    .with_help("give the VM GPUs (passthrough or vGPU), or list a VM that has them")
                    .with_note("VMware, Learning Guide: GPUs for Machine Learning on vSphere, §7.2 Bitfusion FlexDirect Installation and Setup: server-side VMs get their GPUs by DirectPath I/O or NVIDIA vGPU"),
                );
            }
        }
        for client in &pool.clients {
            let servers: Vec<&PoolServer> = client.servers.iter().map(|&i| &pool.servers[i]).collect();
            if servers.is_empty() && !client.unresolved_servers {
                out.push(
                    Diagnostic::new(
                        Code::BitfusionNoServer,
                        format!("Bitfusion client `{}` has no server", client.name),
                        client.servers_span,
                        "no server to reach",
                    )
                    .with_help("declare `server <vm> { address \"...\" }` in the pool, or list one in the client's `servers`")
                    .with_note("servers.conf lists the GPU servers a client talks to; an empty one gives the client no GPU"),
                );
                continue;
            }
            if let Some(share) = client.share.as_ref().filter(|s| !(s.value > 0.0 && s.value <= 1.0)) {
                out.push(
                    Diagnostic::new(
                        Code::BitfusionShare,
                        format!("the share of client `{}` is {}, outside (0, 1]", client.name, share.value),
                        share.span,
                        "not in (0, 1]",
                    )
                    .with_help("a share is the fraction of each GPU the client takes: more than 0, at most 1 (e.g. `share 0.5`)"),
                );
            }
            // GPU framebuffers behind the client's servers (vGPU servers see their vGPU's size).
            let gpus: Vec<ByteSize> = servers.iter().filter_map(|s| s.vm).flat_map(|v| gpu_memory(model, v)).collect();
            if let (Some(memory), Some(&smallest)) = (&client.memory, gpus.iter().min()) {
                if memory.value > smallest {
                    out.push(
                        Diagnostic::new(
                            Code::BitfusionMemory,
                            format!("client `{}` asks for {} of GPU memory; its servers' GPUs have {smallest}", client.name, memory.value),
                            memory.span,
                            format!("more than {smallest}"),
                        )
                        .with_help(format!("ask for at most {smallest} (or use `share` for a fraction of a GPU)")),
                    );
                }
            }
            let have = gpus.len() as u32;
            let all_known = !client.unresolved_servers && servers.iter().all(|s| s.vm.is_some_and(|v| !model.vm(v).incomplete));
            if all_known && client.gpus.value > have {
                out.push(
                    Diagnostic::new(
                        Code::BitfusionGpus,
                        format!("client `{}` asks for {} GPUs; its servers have {have}", client.name, client.gpus.value),
                        client.gpus.span,
                        format!("more than {have}"),
                    )
                    .with_help(format!("ask for at most {have} GPUs, or add servers with GPUs to the pool")),
                );
            } else if client.gpus.value == 0 {
                out.push(
                    Diagnostic::new(
                        Code::BitfusionGpus,
                        format!("client `{}` asks for no GPU", client.name),
                        client.gpus.span,
                        "zero GPUs",
                    )
                    .with_help("ask for at least one GPU (`gpus 1`)"),
                );
            }
        }
    }
}

/// The framebuffer of each GPU a VM holds: whole boards for passthrough, the vGPU type's
/// framebuffer for vGPUs.
fn gpu_memory(model: &Model, vm: crate::model::VmId) -> Vec<ByteSize> {
    let vm = model.vm(vm);
    let whole = vm.passthrough.iter().filter_map(|g| model.board_of(g.value)).map(|b| b.framebuffer);
    let slices = vm.vgpus.iter().filter_map(|r| {
        model
            .catalog
            .boards_with_type(&r.type_name)
            .next()
            .and_then(|b| model.catalog.board(b).vgpu_type(&r.type_name))
            .map(|t| t.framebuffer)
    });
    whole.chain(slices).collect()
}

fn discontinued(pool: &Pool, out: &mut Out) {
    let product = if pool.product.value.flexdirect { "FlexDirect" } else { "vSphere Bitfusion" };
    out.push(
        Diagnostic::new(
            Code::BitfusionDiscontinued,
            format!("pool `{}` uses {product}, which is discontinued", pool.name),
            pool.product.span,
            "discontinued product",
        )
        .with_help("plan a move to vGPU or passthrough; keep the pool only while its servers and clients still run")
        .with_note("VMware ended Bitfusion (the end-of-life date is not confirmed); it never supported vSphere 8"),
    );
}
