//! Host rules: R6 (above-4G decoding), R11 (where mixed-size mode may be used), R13 (vGPU
//! host prerequisites), R14 (ECC) and R15 (scheduler).

use super::{tables, HostFacts, Out};
use crate::catalog::{Architecture, Product};
use crate::diagnostics::{Code, Diagnostic};
use crate::model::{GpuId, GpuUse, GraphicsType, Host, Model, Scheduler, VgpuMode};

pub fn check(model: &Model, host_facts: &mut [HostFacts], out: &mut Out) {
    for (index, host) in model.hosts.iter().enumerate() {
        let vgpu_gpus: Vec<GpuId> = host.gpus.iter().copied().filter(|&g| model.gpu(g).usage.value == GpuUse::Vgpu).collect();
        let facts = &mut host_facts[index];
        facts.needs_above_4g = above_4g(model, host, out);
        if !vgpu_gpus.is_empty() {
            facts.needs_sr_iov = sr_iov(model, host, &vgpu_gpus, out);
            driver(host, out);
            mig(model, host, &vgpu_gpus, out);
            facts.ecc_off = ecc(model, host, &vgpu_gpus, out);
            scheduler(model, host, &vgpu_gpus, out);
            mixed_size(model, host, &vgpu_gpus, out);
        }
    }
}

/// The host's vGPU software major release, when declared.
pub fn release_major(host: &Host) -> Option<u32> {
    host.nvidia.as_ref()?.release.as_ref().map(|r| r.value.major())
}

/// The declared release as written (`6.2`), `?` when undeclared, for messages. Written only
/// into a message: the rules ask for it per vGPU, and few of them report.
pub fn release_text(host: &Host) -> ReleaseText<'_> {
    ReleaseText(host)
}

/// A host's release, formatted when it is written.
pub struct ReleaseText<'h>(&'h Host);

impl std::fmt::Display for ReleaseText<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0.nvidia.as_ref().and_then(|n| n.release.as_ref()) {
            Some(release) => release.value.fmt(f),
            None => f.write_str("?"),
        }
    }
}

/// R6: a GPU that maps 16 GB or more needs "above 4G decoding" in the host BIOS (seed §5.1.1).
fn above_4g(model: &Model, host: &Host, out: &mut Out) -> bool {
    let large = host.gpus.iter().copied().find(|&g| model.board_of(g).is_some_and(|b| b.maps_over_16gb()));
    let Some(gpu) = large else { return false };
    if let Some(flag) = host.above_4g_decoding.as_ref().filter(|f| !f.value) {
        let board = model.board_of(gpu).map_or("GPU", |b| b.name.as_str());
        out.push(
            Diagnostic::new(Code::Above4gDisabled, format!("host `{}` has above-4G decoding off, but its {board} maps more than 16 GB", host.name), flag.span, "declared off")
                .with_label(model.gpu(gpu).model_span, "maps more than 16 GB")
                .with_help("enable \"above 4G decoding\" (also \"memory mapped I/O above 4 GB\" or \"PCI 64-bit resource handling above 4G\") in the server BIOS, then write `above_4g_decoding true`")
                .with_note("VMware, Learning Guide: GPUs for Machine Learning on vSphere, §5.1.1 Host BIOS Setting: GPUs that require 16 GB or more of memory mapping need this BIOS setting"),
        );
    }
    true
}

/// R6: vGPU on Ampere and later GPUs needs SR-IOV (with VT-d/IOMMU and ARI) in the server
/// BIOS (NVIDIA vGPU 17 User Guide §2.2). Declared off is an error; undeclared, the plan
/// carries a manual pre-flight step. Returns whether the host needs it.
fn sr_iov(model: &Model, host: &Host, gpus: &[GpuId], out: &mut Out) -> bool {
    let Some(&gpu) = gpus.iter().find(|&&g| model.board_of(g).is_some_and(|b| b.architecture >= Architecture::Ampere)) else {
        return false;
    };
    if let Some(flag) = host.sr_iov.as_ref().filter(|f| !f.value) {
        let board = model.board_of(gpu).map_or("GPU", |b| b.name.as_str());
        out.push(
            Diagnostic::new(
                Code::SrIovDisabled,
                format!("host `{}` has SR-IOV off, but vGPU on its {board} needs it", host.name),
                flag.span,
                "declared off",
            )
            .with_label(model.gpu(gpu).model_span, "Ampere or later: vGPUs run on SR-IOV virtual functions")
            .with_help("enable SR-IOV, VT-d/IOMMU and ARI in the server BIOS, then write `sr_iov true`")
            .with_note("NVIDIA vGPU 17 User Guide §2.2: with GPUs based on the NVIDIA Ampere architecture or later, VT-D/IOMMU, SR-IOV and Alternative Routing ID Interpretation (ARI) are enabled in the BIOS")
            .with_note("without it the VM fails to power on: \"could not initialize plugin libnvidia-vgx.so for vGPU\""),
        );
    }
    true
}

/// R11: `mode mig` only on a board with MIG, and (on vSphere) only with the NVIDIA AI
/// Enterprise host driver (NVIDIA vGPU 17 User Guide §2.1.1).
fn mig(model: &Model, host: &Host, gpus: &[GpuId], out: &mut Out) {
    for &id in gpus {
        let gpu = model.gpu(id);
        if gpu.mode.value != VgpuMode::Mig {
            continue;
        }
        let Some(board) = model.board_of(id) else { continue };
        let product = host.nvidia.as_ref().map_or(Product::Vgpu, |n| n.product());
        let product_guessed = host.nvidia.as_ref().is_some_and(|n| n.incomplete);
        let (why, help) = if board.mig.is_none() {
            (format!("the {} has no Multi-Instance GPU", board.name), "write `mode same_size` (or `mixed_size`) for this GPU".to_string())
        } else if product != Product::AiEnterprise && !product_guessed {
            (
                "MIG-backed vGPU on vSphere comes only with the NVIDIA AI Enterprise host driver".to_string(),
                format!(
                    "install the NVIDIA AI Enterprise host driver and write `product ai_enterprise` in the `nvidia` block of host `{}`",
                    host.name
                ),
            )
        } else {
            continue;
        };
        out.push(
            Diagnostic::new(Code::MigUnsupported, format!("GPU `{}` is in MIG mode, but {why}", model.gpu_label(id)), gpu.mode.span, "MIG mode")
                .with_label(gpu.model_span, board.name.clone())
                .with_help(help)
                .with_note("NVIDIA Multi-Instance GPU User Guide, Supported GPUs; NVIDIA vGPU 17 User Guide §2.1.1: GPUs that support MIG are supported only on NVIDIA AI Enterprise"),
        );
    }
}

/// R13: the host driver file is of the product the spec names: NVIDIA's files are called
/// NVD-AIE-... (NVIDIA AI Enterprise) and NVD-VGPU-... (NVIDIA vGPU).
fn driver_file_product(nvidia: &crate::model::HostDriver, out: &mut Out) {
    let Some(vib) = nvidia.vib.as_ref().filter(|_| !nvidia.incomplete) else { return };
    let file = vib.value.rsplit('/').next().unwrap_or(&vib.value).to_ascii_uppercase();
    let named = if file.contains("NVD-AIE") {
        Product::AiEnterprise
    } else if file.contains("NVD-VGPU") {
        Product::Vgpu
    } else {
        return;
    };
    let product = nvidia.product();
    if named == product {
        return;
    }
    let mut d = Diagnostic::new(
        Code::ProductDriverFile,
        format!("the host driver file is an {} driver, but the host is declared {}", named.title(), product.title()),
        vib.span,
        format!("{} host driver file", named.title()),
    )
    .with_help(format!("write `product {}` (or name the {} host driver file)", named.keyword(), product.title()))
    .with_note("NVIDIA names the ESXi host driver components after their product: NVD-VGPU for NVIDIA vGPU, NVD-AIE for NVIDIA AI Enterprise (vLCM component NVD-AIE-800)");
    match &nvidia.product {
        Some(p) => d = d.with_label(p.span, "declared here").with_fix(p.span, format!("product {}", named.keyword())),
        None => d = d.with_note("no `product` means NVIDIA vGPU"),
    }
    out.push(d);
}

/// R13: an NVIDIA host driver with an absolute VIB path, on ESXi 6.5 U1 or later, and the
/// host graphics type SharedPassthru (seed §6, §6.1.2, §6.1.3).
fn driver(host: &Host, out: &mut Out) {
    if host.esxi.value < tables::VGPU_MIN_ESXI {
        out.push(
            Diagnostic::new(
                Code::EsxiTooOld,
                format!("host `{}` runs ESXi {}, which this compiler does not support for vGPU", host.name, host.esxi.value),
                host.esxi.span,
                "needs ESXi 6.5 U1 or later",
            )
            .with_help("upgrade the host to ESXi 6.7 or later (VMware recommends 6.7; 6.5 needs Update 1)")
            .with_note("VMware, Learning Guide: GPUs for Machine Learning on vSphere, §6 NVIDIA GRID vGPU: \"If you choose to use vSphere 6.5, then ensure you are on update 1\""),
        );
    }
    if let Some(g) = host.graphics.as_ref().filter(|g| g.value == GraphicsType::Shared) {
        out.push(
            Diagnostic::new(Code::SharedGraphics, format!("host `{}` has vGPU GPUs but graphics type `shared` (vSGA)", host.name), g.span, "not SharedPassthru")
                .with_help("write `graphics shared_direct` (or leave it out): vGPU needs the host default graphics type SharedPassthru")
                .with_note("vCenter refuses power-on: \"The amount of graphics resource available in the parent resource pool is insufficient for the operation.\""),
        );
    }
    let Some(nvidia) = &host.nvidia else {
        out.push(
            Diagnostic::new(
                Code::NoHostDriver,
                format!("host `{}` has vGPU GPUs but no NVIDIA host driver", host.name),
                host.span,
                "no `nvidia` block",
            )
            .with_help("add `nvidia { vib \"/vmfs/volumes/<datastore>/<NVIDIA host driver>.vib\" release \"<vGPU release>\" }`")
            .with_note("the NVIDIA Virtual GPU Manager VIB is what shares the GPU; without it no vGPU VM powers on"),
        );
        return;
    };
    // A host that already runs the release needs no file to install (`installed { release }`);
    // an `installed` block with a reported problem may be saying so.
    let release_installed = match (&host.state.installed, &nvidia.release) {
        (Some(installed), Some(release)) => installed.incomplete || installed.has_release(&release.value, None),
        _ => false,
    };
    for (present, key, example) in [
        (nvidia.vib.is_some() || release_installed, "vib", "vib \"/vmfs/volumes/ds1/NVIDIA/NVIDIA-VMware_ESXi_8.0_Host_Driver.vib\""),
        (nvidia.release.is_some(), "release", "release \"17.1\""),
    ] {
        // A misspelt or unreadable key of the block was reported; this would be its echo.
        if !present && !nvidia.incomplete {
            out.push(
                Diagnostic::new(
                    Code::NoHostDriver,
                    format!("the NVIDIA host driver of host `{}` has no `{key}`", host.name),
                    nvidia.span,
                    format!("`{key}` missing"),
                )
                .with_help(format!("add `{example}`")),
            );
        }
    }
    driver_file_product(nvidia, out);
    if let Some(vib) = nvidia.vib.as_ref().filter(|v| !v.value.starts_with('/')) {
        out.push(
            Diagnostic::new(Code::RelativeVib, "the NVIDIA VIB path is not absolute", vib.span, "relative path")
                .with_help(format!("write the full datastore path, e.g. \"/vmfs/volumes/<datastore>/{}\"", vib.value.trim_start_matches("./")))
                .with_note("`esxcli software vib install -v` needs an absolute path, even for a file in the current directory (NVIDIA vGPU User Guide)"),
        );
    }
}

/// R14: before vGPU 9.0 vGPU does not run with ECC on; M60/M6/M10 never do (ref §4.5).
/// Returns the GPUs whose ECC the plan turns off.
fn ecc(model: &Model, host: &Host, gpus: &[GpuId], out: &mut Out) -> Vec<GpuId> {
    let release = release_major(host);
    let before_9 = release.is_some_and(|r| r < tables::ECC_WITH_VGPU_RELEASE);
    let mut off = Vec::new();
    for &id in gpus {
        let gpu = model.gpu(id);
        let maxwell = model.board_of(id).is_some_and(|b| b.architecture == Architecture::Maxwell);
        match &gpu.ecc {
            Some(e) if e.value && (before_9 || maxwell) => {
                let why = if maxwell {
                    "Maxwell GPUs (M60, M6, M10) never support ECC with vGPU".to_string()
                } else {
                    format!("vGPU software {} does not support ECC; release 9.0 added it", release_text(host))
                };
                out.push(
                    Diagnostic::new(Code::EccWithVgpu, format!("GPU `{}` wants ECC on, but {why}", model.gpu_label(id)), e.span, "ECC on")
                        .with_help("write `ecc off` (or leave it out and the plan disables ECC), or move to vGPU software 9.0 or later")
                        .with_note("NVIDIA vGPU 8.0 User Guide: \"If ECC memory is enabled, NVIDIA vGPU fails to start.\""),
                );
            }
            Some(e) if !e.value => off.push(id),
            None if before_9 && model.board_of(id).is_none_or(|b| b.ecc_default) => off.push(id),
            _ => {}
        }
    }
    off
}

/// R15: the scheduler maps to `RmPVMRL`; Maxwell has only best effort; a time slice needs
/// vGPU 9.0, a share scheduler, and 1 to 30 ms (ref §4.4).
fn scheduler(model: &Model, host: &Host, gpus: &[GpuId], out: &mut Out) {
    let Some(nvidia) = &host.nvidia else { return };
    let scheduler = nvidia.scheduler.as_ref();
    if let Some(s) = scheduler.filter(|s| s.value != Scheduler::BestEffort) {
        if let Some(&maxwell) = gpus.iter().find(|&&g| model.board_of(g).is_some_and(|b| b.architecture == Architecture::Maxwell)) {
            out.push(
                Diagnostic::new(
                    Code::SchedulerOnMaxwell,
                    format!("host `{}` asks for a share scheduler, but GPU `{}` is Maxwell", host.name, model.gpu_label(maxwell)),
                    s.span,
                    "not available on Maxwell",
                )
                .with_label(model.gpu(maxwell).model_span, "Maxwell board")
                .with_help("write `scheduler best_effort`, or use Pascal or later GPUs for equal or fixed share")
                .with_note(
                    "NVIDIA vGPU User Guide: the scheduling policy can be changed only on GPUs based on the Pascal architecture and later",
                ),
            );
        }
    }
    let Some(slice) = &nvidia.time_slice else { return };
    let problem = if release_major(host).is_some_and(|r| r < tables::TIME_SLICE_RELEASE) {
        Some((
            "a configurable time slice needs vGPU software 9.0 or later".to_string(),
            "remove `time_slice`, or move to vGPU software 9.0 or later".to_string(),
        ))
    } else if scheduler.is_none_or(|s| s.value == Scheduler::BestEffort) && !nvidia.incomplete {
        Some((
            "a time slice applies only to equal or fixed share scheduling".to_string(),
            "add `scheduler equal_share` or `scheduler fixed_share`, or remove `time_slice`".to_string(),
        ))
    } else if !(1..=30).contains(&slice.value) {
        Some((format!("a time slice of {} ms is outside 1 to 30 ms", slice.value), "write a time slice from `1ms` to `30ms`".to_string()))
    } else {
        None
    };
    if let Some((why, help)) = problem {
        out.push(Diagnostic::new(Code::InvalidTimeSlice, format!("host `{}`: {why}", host.name), slice.span, "time slice").with_help(help));
    }
}

/// R11: mixed-size mode needs vGPU 17 and ESXi 8.0 U3, and never runs with fixed share.
fn mixed_size(model: &Model, host: &Host, gpus: &[GpuId], out: &mut Out) {
    for &id in gpus {
        let gpu = model.gpu(id);
        if gpu.mode.value != VgpuMode::MixedSize {
            continue;
        }
        let release = release_major(host);
        if release.is_some_and(|r| r < tables::MIXED_SIZE_MIN_RELEASE) || host.esxi.value < tables::MIXED_SIZE_MIN_ESXI {
            let have = format!("vGPU software {} on ESXi {}", release_text(host), host.esxi.value);
            out.push(
                Diagnostic::new(Code::MixedSizeUnsupported, format!("GPU `{}` is in mixed-size mode, which {have} does not offer", model.gpu_label(id)), gpu.mode.span, "mixed-size mode")
                    .with_label(host.esxi.span, "ESXi version")
                    .with_help("write `mode same_size`, or move to vGPU software 17 and ESXi 8.0 U3 or later")
                    .with_note("mixed-size time-sliced vGPU is new in vGPU 17; `esxcli graphics device set --vgpu-mode MixedSize` is in the ESXi 8.0 U3 reference"),
            );
        }
        if let Some(s) = host.nvidia.as_ref().and_then(|n| n.scheduler.as_ref()).filter(|s| s.value == Scheduler::FixedShare) {
            out.push(
                Diagnostic::new(
                    Code::MixedSizeFixedShare,
                    format!("GPU `{}` is in mixed-size mode, but the host uses fixed share scheduling", model.gpu_label(id)),
                    gpu.mode.span,
                    "mixed-size mode",
                )
                .with_label(s.span, "fixed share")
                .with_help("use `scheduler equal_share` or `best_effort` on this host, or `mode same_size` on the GPU")
                .with_note("NVIDIA vGPU 17 User Guide: fixed share is not allowed on a GPU in mixed-size mode"),
            );
        }
    }
}
