//! The `.vmx` fragment of one VM: the configuration keys vSphere itself writes for the VM's
//! memory, firmware, reservation, 64-bit MMIO window and GPU devices, so an administrator can
//! compare or paste them. Keys are sorted (byte order) so the output is the same for the same
//! input; vSphere does not care about line order. Comments (`#`) only follow the header.

use crate::catalog::NVIDIA_VENDOR_ID;
use crate::check::Analysis;
use crate::model::{Firmware, Model, VmId};
use std::fmt::Write;

/// The `.vmx` fragment of `vm`. Its header names the VM and its host, never the spec file or
/// line, so the fragment changes only when the VM does (not when lines are added above it).
pub fn fragment(model: &Model, analysis: &Analysis, vm: VmId) -> String {
    let facts = analysis.vm(vm);
    let vm = model.vm(vm);
    let mut keys: Vec<(String, String)> = Vec::new();
    let mut comments: Vec<String> = Vec::new();
    let mut key = |k: String, v: String| keys.push((k, v));

    // memSize is in MB (ref §1.2).
    key("memSize".into(), vm.memory.value.as_mib_ceil().to_string());
    if let Some(cpus) = vm.cpus {
        key("numvcpus".into(), cpus.to_string());
    }

    // Firmware exactly as declared: R5 refuses a VM that needs EFI and does not say so, so
    // the fragment never switches a guest's firmware behind the user's back.
    match vm.firmware.as_ref().map(|f| f.value) {
        Some(Firmware::Efi) => key("firmware".into(), "efi".into()),
        Some(Firmware::Bios) => key("firmware".into(), "bios".into()),
        None => {}
    }

    // A GPU VM reserves all its memory, locked (seed §5.2.5; ref §1.2 "All locked" sets
    // sched.mem.pin; NVIDIA vGPU 8.0 UG §2.6.4 for vGPU).
    if let Some(reservation) = facts.reservation {
        key("sched.mem.min".into(), reservation.as_mib_ceil().to_string());
        if vm.has_gpu() {
            key("sched.mem.pin".into(), "TRUE".into());
        }
    }

    // The 64-bit MMIO window for GPUs that map more than 16 GB (R4; seed §5.2.2, ref §3).
    if let Some(mmio) = facts.mmio {
        key("pciPassthru.use64bitMMIO".into(), "TRUE".into());
        key("pciPassthru.64bitMMIOSizeGB".into(), mmio.as_gib_ceil().to_string());
    }

    // Passthrough devices first, then vGPUs: N counts the VM's devices from 0 (ref §1.1).
    for (n, gpu) in vm.passthrough.iter().enumerate() {
        let p = format!("pciPassthru{n}");
        let gpu_id = gpu.value;
        let device = model.gpu(gpu_id);
        key(format!("{p}.present"), "TRUE".into());
        // The host SBDF in vSphere's padded decimal form (ref §1.1, §0 item 2).
        if let Some(pci) = &device.pci {
            key(format!("{p}.id"), pci.value.vmx_id());
        }
        // PCI device id, hex with 0x (ref §1.1); vendor NVIDIA 0x10de.
        if let Some(board) = model.board_of(gpu_id) {
            key(format!("{p}.deviceId"), format!("0x{:04x}", board.device_id));
        }
        key(format!("{p}.vendorId"), format!("0x{NVIDIA_VENDOR_ID:04x}"));
        // systemId is the UUID of the host that owns the device (`esxcli system uuid get`,
        // ref §1.1); without one in the spec the operator fills it in.
        let host = model.host(device.host);
        match &host.system_id {
            Some(uuid) => key(format!("{p}.systemId"), uuid.clone()),
            None => comments.push(format!("# {p}.systemId: the host UUID, from esxcli system uuid get on {}", host.name)),
        }
    }
    for (i, vgpu) in vm.vgpus.iter().enumerate() {
        let p = format!("pciPassthru{}", vm.passthrough.len() + i);
        key(format!("{p}.present"), "TRUE".into());
        // vSphere's profile string from the catalog (`nvidia_a40-8q`, `grid_p100-8q`), whatever
        // name the spec used; the API field is VirtualPCIPassthroughVmiopBackingInfo.vgpu.
        let profile = facts
            .placements
            .get(i)
            .copied()
            .flatten()
            .and_then(|g| model.board_of(g))
            .and_then(|b| b.vgpu_type(&vgpu.type_name))
            .map_or_else(|| vgpu.type_name.clone(), |t| t.profile.clone());
        key(format!("{p}.vgpu"), profile);
        // "vmiop", NVIDIA's plugin interface, as vmware.log shows it (ref §2). A vGPU names
        // no physical GPU, so no id/deviceId/systemId (ref §2).
        key(format!("{p}.virtualDev"), "vmiop".into());
    }

    keys.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    let host = vm.host.map_or_else(String::new, |h| format!(" on host {}", model.host(h).name));
    let mut out = String::with_capacity(512);
    let _ = writeln!(out, "# gpuc: VM {}{host}", vm.name);
    for c in comments {
        out.push_str(&c);
        out.push('\n');
    }
    for (k, v) in keys {
        let _ = writeln!(out, "{k} = \"{v}\"");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::checked as build;

    use crate::test_support::vm;

    const ESTATE: &str = r#"
license main { server "10.1.2.3" }
host esx14 {
  address "esx14.lab.local"
  esxi "6.7.0 U1"
  bios { above_4g_decoding true }
  nvidia { vib "/vmfs/volumes/ds1/NVIDIA.vib"  release "6.2" }
  gpu g0 { model tesla-p100-16gb  pci 0000:09:00.0  use passthrough }
  gpu g1 { model tesla-p100-16gb  pci 0000:0a:00.0  use passthrough }
  gpu g2 { model tesla-v100d-32gb pci 0000:0b:00.0  use vgpu }
}
vm trainer {
  host esx14
  memory 128GiB
  firmware efi
  cpus 16
  passthrough esx14.g0, esx14.g1
  guest { os linux driver "390.42" license main product vws }
}
vm viz {
  host esx14
  memory 32GiB
  firmware efi
  cpus 8
  vgpu grid_v100d-8q
  guest { os linux driver "390.42" license main }
}
vm plain {
  host esx14
  memory 1536MiB
  firmware bios
}
"#;

    #[test]
    fn two_p100_passthrough() {
        let c = build(ESTATE);
        let text = fragment(&c.model, &c.analysis, vm(&c, "trainer"));
        assert_eq!(
            text,
            r#"# gpuc: VM trainer on host esx14
# pciPassthru0.systemId: the host UUID, from esxcli system uuid get on esx14
# pciPassthru1.systemId: the host UUID, from esxcli system uuid get on esx14
firmware = "efi"
memSize = "131072"
numvcpus = "16"
pciPassthru.64bitMMIOSizeGB = "64"
pciPassthru.use64bitMMIO = "TRUE"
pciPassthru0.deviceId = "0x15f8"
pciPassthru0.id = "00000:009:00.0"
pciPassthru0.present = "TRUE"
pciPassthru0.vendorId = "0x10de"
pciPassthru1.deviceId = "0x15f8"
pciPassthru1.id = "00000:010:00.0"
pciPassthru1.present = "TRUE"
pciPassthru1.vendorId = "0x10de"
sched.mem.min = "131072"
sched.mem.pin = "TRUE"
"#
        );
    }

    #[test]
    fn system_id_when_declared() {
        let spec = r#"
host h { address "h.lab" esxi "7.0 U3"
  gpu g0 { model tesla-t4 pci 0000:3b:00.0 use passthrough } }
vm v { host h memory 16GiB passthrough g0 }
"#;
        let mut c = build(spec);
        // Set on the model directly: what `system_id "..."` in the host block lowers to.
        c.model.hosts[0].system_id = Some("5b3f1e2a-6c4d-11e8-8000-0cc47a8a1234".into());
        let text = fragment(&c.model, &c.analysis, vm(&c, "v"));
        assert_eq!(
            text,
            r#"# gpuc: VM v on host h
memSize = "16384"
pciPassthru0.deviceId = "0x1eb8"
pciPassthru0.id = "00000:059:00.0"
pciPassthru0.present = "TRUE"
pciPassthru0.systemId = "5b3f1e2a-6c4d-11e8-8000-0cc47a8a1234"
pciPassthru0.vendorId = "0x10de"
sched.mem.min = "16384"
sched.mem.pin = "TRUE"
"#
        );
    }

    #[test]
    fn vgpu_vm() {
        let c = build(ESTATE);
        let text = fragment(&c.model, &c.analysis, vm(&c, "viz"));
        assert_eq!(
            text,
            r#"# gpuc: VM viz on host esx14
firmware = "efi"
memSize = "32768"
numvcpus = "8"
pciPassthru.64bitMMIOSizeGB = "64"
pciPassthru.use64bitMMIO = "TRUE"
pciPassthru0.present = "TRUE"
pciPassthru0.vgpu = "grid_v100d-8q"
pciPassthru0.virtualDev = "vmiop"
sched.mem.min = "32768"
sched.mem.pin = "TRUE"
"#
        );
    }

    #[test]
    fn cpu_only_vm_keeps_declared_bios_and_no_reservation() {
        let c = build(ESTATE);
        let text = fragment(&c.model, &c.analysis, vm(&c, "plain"));
        assert_eq!(text, "# gpuc: VM plain on host esx14\nfirmware = \"bios\"\nmemSize = \"1536\"\n");
    }
}
