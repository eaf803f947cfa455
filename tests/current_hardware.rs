//! Current hardware, as the vendors' documents describe it: vSphere profile strings, the
//! NVIDIA AI Enterprise product, MIG-backed vGPU, vGPUs per VM by vSphere version, firmware
//! never switched silently, CUDA minor-version compatibility, versions as written.

mod common;

use gpuc::diagnostics::Code;
use gpuc::emit::{artefacts, Artefact};

const NLS: &str = "license nls { token \"client_configuration_token_04-01-2025-10-00-00.tok\" }\n";

/// A host on ESXi `esxi` with `product` (`vgpu` or `ai_enterprise`) and one vGPU GPU of `board`.
fn host(name: &str, esxi: &str, product: &str, board: &str, mode: &str) -> String {
    let file = if product == "ai_enterprise" { "NVD-AIE-800" } else { "NVD-VGPU-800" };
    format!(
        "host {name} {{\n  esxi \"{esxi}\"\n  bios {{ above_4g_decoding true  sr_iov true }}\n  nvidia {{ product {product}  release \"17.1\"  vib \"/vmfs/volumes/ds1/{file}_550.54.16-1OEM.800.1.0.20613240.zip\" }}\n  gpu g0 {{ model {board} pci 0000:17:00.0 use vgpu mode {mode} }}\n  gpu g1 {{ model {board} pci 0000:65:00.0 use vgpu mode {mode} }}\n}}\n"
    )
}

fn vm(name: &str, host: &str, vgpus: &str, guest: &str) -> String {
    format!("vm {name} {{\n  host {host}\n  memory 64GiB\n  firmware efi\n  vgpu {vgpus}\n  guest {{ os linux {guest} license nls }}\n}}\n")
}

fn codes(text: &str) -> Vec<Code> {
    common::check_text(text).diagnostics.iter().map(|d| d.code).collect()
}

fn built(text: &str) -> Vec<Artefact> {
    let checked = common::check_text(text);
    assert!(!checked.has_errors(), "{}", common::rendered(&checked));
    let plan = gpuc::plan::plan(&checked.model, &checked.analysis).expect("a plan");
    artefacts(&checked, &plan)
}

fn file<'a>(artefacts: &'a [Artefact], path: &str) -> &'a str {
    &artefacts.iter().find(|a| a.path == path).unwrap_or_else(|| panic!("no {path}")).text
}

#[test]
fn the_vmx_gets_vspheres_profile_string_whatever_name_the_spec_used() {
    let spec = format!(
        "{NLS}{}{}{}{}{}{}",
        host("h40", "8.0 U3", "vgpu", "nvidia-a40", "same_size"),
        vm("a", "h40", "A40-8Q", "driver \"550.54.15\""),
        host("h16", "8.0 U3", "vgpu", "nvidia-a16", "same_size"),
        vm("b", "h16", "nvidia_a16-2q", "driver \"550.54.15\""),
        host("h100", "8.0 U3", "ai_enterprise", "a100-pcie-80gb", "same_size"),
        vm("c", "h100", "A100D-20C", "driver \"550.54.15\""),
    );
    let out = built(&spec);
    assert!(file(&out, "vms/a.vmx").contains("pciPassthru0.vgpu = \"nvidia_a40-8q\""));
    assert!(file(&out, "vms/b.vmx").contains("pciPassthru0.vgpu = \"nvidia_a16-2q\""));
    assert!(file(&out, "vms/c.vmx").contains("pciPassthru0.vgpu = \"grid_a100d-20c\""));
}

#[test]
fn a_profile_with_the_other_vendor_prefix_gets_the_right_string_as_a_fix() {
    let spec = format!("{NLS}{}{}", host("h40", "8.0 U3", "vgpu", "nvidia-a40", "same_size"), vm("a", "h40", "grid_a40-8q", ""));
    let checked = common::check_text(&spec);
    let d = checked.diagnostics.iter().find(|d| d.code == Code::VgpuTypeUnknown).expect("E0901");
    assert_eq!(d.fix.as_ref().map(|f| f.replacement.as_str()), Some("nvidia_a40-8q"));
    assert_eq!(checked.diagnostics.len(), 1, "{}", common::rendered(&checked));
}

#[test]
fn c_series_needs_the_ai_enterprise_driver_on_vsphere() {
    for board in ["a100-pcie-80gb", "h100-pcie-80gb"] {
        let kind = if board.starts_with("a100") { "A100D-40C" } else { "H100-40C" };
        let plain = format!("{NLS}{}{}", host("h", "8.0 U3", "vgpu", board, "same_size"), vm("v", "h", kind, ""));
        let checked = common::check_text(&plain);
        let refused = checked.diagnostics.iter().find(|d| d.code == Code::VgpuProduct).expect("E0903");
        assert!(refused.help.contains("NVIDIA AI Enterprise"), "{}", refused.help);
        let aie = plain.replace("product vgpu", "product ai_enterprise").replace("NVD-VGPU-800", "NVD-AIE-800");
        assert!(codes(&aie).is_empty(), "{board}: {:?}", codes(&aie));
    }
    // A board both products support: its Q types with NVIDIA vGPU, its C types only with AI Enterprise.
    let q = format!("{NLS}{}{}", host("h", "8.0 U3", "vgpu", "nvidia-l40s", "same_size"), vm("v", "h", "L40S-8Q", ""));
    assert!(codes(&q).is_empty());
    assert_eq!(codes(&q.replace("L40S-8Q", "L40S-8C")), [Code::VgpuProduct]);
    let q_on_aie = q.replace("product vgpu", "product ai_enterprise").replace("NVD-VGPU-800", "NVD-AIE-800");
    assert_eq!(codes(&q_on_aie), [Code::VgpuProduct]);
}

#[test]
fn mig_backed_vgpus_fit_the_boards_instance_geometry() {
    let mig_host = host("h", "8.0 U3", "ai_enterprise", "a100-pcie-80gb", "mig");
    // Two 3g.40gb instances fill an A100 80 GB's eight slots (starts 0 and 4).
    let two = format!("{NLS}{mig_host}{}{}", vm("a", "h", "A100D-3-40C on h.g0", ""), vm("b", "h", "A100D-3-40C on h.g0", ""));
    assert!(codes(&two).is_empty(), "{:?}", codes(&two));
    // A 1g.10gb beside them has no free slot: refused with the occupancy shown.
    let three = format!("{two}{}", vm("c", "h", "A100D-1-10C on h.g0", ""));
    let checked = common::check_text(&three);
    let d = checked.diagnostics.iter().find(|d| d.code == Code::VgpuCapacity).expect("E1001");
    assert_eq!(checked.diagnostics.len(), 1, "{}", common::rendered(&checked));
    assert!(d.notes.iter().any(|n| n.contains("8 of 8 memory slots used")), "{:?}", d.notes);
    // Unpinned, it is placed on the other GPU.
    let placed = format!("{two}{}", vm("c", "h", "A100D-1-10C", ""));
    assert!(codes(&placed).is_empty());
    // 4g.40gb (start 0 only) and 3g.40gb (start 4) fit together; two 4g.40gb do not.
    let four_three = format!("{NLS}{mig_host}{}{}", vm("a", "h", "A100D-4-40C on h.g0", ""), vm("b", "h", "A100D-3-40C on h.g0", ""));
    assert!(codes(&four_three).is_empty(), "{:?}", codes(&four_three));
    let four_four = four_three.replace("A100D-3-40C", "A100D-4-40C");
    assert!(codes(&four_four).contains(&Code::VgpuCapacity));
}

#[test]
fn a_media_extension_instance_is_one_per_gpu_with_slots_to_spare() {
    // NVIDIA MIG User Guide, "A100 MIG Profiles": one 1g.10gb+me per GPU. One is placed; a
    // second on the same GPU is refused although seven slots are free; unpinned, it goes to g1.
    let mig_host = host("h", "8.0 U3", "ai_enterprise", "a100-pcie-80gb", "mig");
    let one = format!("{NLS}{mig_host}{}", vm("a", "h", "A100D-1-10CME on h.g0", ""));
    assert!(codes(&one).is_empty(), "{:?}", codes(&one));
    let checked = common::check_text(&format!("{one}{}", vm("b", "h", "A100D-1-10CME on h.g0", "")));
    let d = checked.diagnostics.iter().find(|d| d.code == Code::VgpuCapacity).expect("E1001");
    assert_eq!(checked.diagnostics.len(), 1, "{}", common::rendered(&checked));
    assert!(d.notes.iter().any(|n| n.contains("1 of 8 memory slots used")), "{:?}", d.notes);
    assert!(codes(&format!("{one}{}", vm("b", "h", "A100D-1-10CME", ""))).is_empty());
}

#[test]
fn the_rtx_pro_6000_blackwell_from_vgpu_19_1_with_its_vsphere_strings() {
    let on = |release: &str, product: &str, mode: &str, vgpus: &[&str]| {
        let file = if product == "ai_enterprise" { "NVD-AIE-800" } else { "NVD-VGPU-800" };
        let host = host("h", "8.0 U3", product, "rtx-pro-6000", mode)
            .replace("release \"17.1\"", &format!("release \"{release}\""))
            .replace(&format!("{file}_550.54.16"), &format!("{file}_580.82.02"));
        let vms: String = vgpus.iter().enumerate().map(|(i, kind)| vm(&format!("v{i}"), "h", &format!("{kind} on h.g0"), "")).collect();
        format!("{NLS}{host}{vms}")
    };
    // Three DC-32Q fill the 96 GB GPU (vgpu-device-manager: 3 per GPU); a fourth does not fit.
    let three = on("19.1", "vgpu", "same_size", &["DC-32Q"; 3]);
    let out = built(&three);
    assert!(file(&out, "vms/v0.vmx").contains("pciPassthru0.vgpu = \"nvidia_rtx_pro_6000_blackwell_dc-32q\""));
    assert_eq!(codes(&on("19.1", "vgpu", "same_size", &["DC-32Q"; 4])), [Code::VgpuCapacity]);
    // First supported in 19.1 (R580 release notes, supported GPUs): 19.0 is refused.
    assert_eq!(codes(&on("19.0", "vgpu", "same_size", &["DC-32Q"])), [Code::VgpuTypeRelease]);
    // C types only with NVIDIA AI Enterprise; MIG-backed ones on the board's four slices.
    assert_eq!(codes(&on("19.1", "vgpu", "same_size", &["DC-32C"])), [Code::VgpuProduct]);
    assert!(codes(&on("19.1", "ai_enterprise", "same_size", &["DC-32C"])).is_empty());
    let mig = on("19.1", "ai_enterprise", "mig", &["DC-2-48C", "DC-1-24C", "DC-1-24C"]);
    assert!(codes(&mig).is_empty(), "{:?}", codes(&mig));
    assert_eq!(codes(&on("19.1", "ai_enterprise", "mig", &["DC-2-48C", "DC-2-48C", "DC-1-24C"])), [Code::VgpuCapacity]);
}

/// Host `h` on `esxi` with `gpus` H100 PCIe 80 GB GPUs (`g0`...) for vGPU, under AI Enterprise.
fn h100_host(esxi: &str, gpus: u32) -> String {
    let mut h = host("h", esxi, "ai_enterprise", "h100-pcie-80gb", "same_size");
    let more: String =
        (2..gpus).map(|g| format!("  gpu g{g} {{ model h100-pcie-80gb pci 0000:{:02x}:00.0 use vgpu }}\n", 0x80 + g)).collect();
    h.insert_str(h.len() - 2, &more);
    h
}

#[test]
fn vgpus_per_vm_follow_the_vsphere_version() {
    let big_host = |esxi: &str| h100_host(esxi, 8);
    let on = |esxi: &str, n: usize| codes(&format!("{NLS}{}{}", big_host(esxi), vm("v", "h", &["H100-80C"; 8][..n].join(", "), "")));
    assert!(on("8.0", 8).is_empty(), "{:?}", on("8.0", 8));
    assert_eq!(on("7.0 U3", 5), [Code::TooManyVgpus]);
    assert!(on("7.0 U3", 4).is_empty());
    assert_eq!(on("6.7.0 U2", 2), [Code::TooManyVgpus]);
    assert!(on("6.7.0 U3", 2).is_empty());
}

#[test]
fn too_many_vgpus_suggest_an_esxi_upgrade_only_before_vsphere_8() {
    // One vGPU over the limit: 5 on 7.0 U3 (8.0 takes 8, so upgrading helps); 9 on 8.0 (nothing to upgrade to).
    let nine_gpus = |esxi: &str| h100_host(esxi, 9);
    let help = |esxi: &str, n: usize| {
        let checked = common::check_text(&format!("{NLS}{}{}", nine_gpus(esxi), vm("v", "h", &["H100-80C"; 9][..n].join(", "), "")));
        assert_eq!(checked.diagnostics.len(), 1, "{}", common::rendered(&checked));
        checked.diagnostics.iter().find(|d| d.code == Code::TooManyVgpus).expect("E1901").help.clone()
    };
    assert!(help("7.0 U3", 5).contains("upgrade ESXi (6.7 U3: 4 vGPUs per VM; 8.0: 8)"), "{}", help("7.0 U3", 5));
    assert_eq!(help("8.0", 9), "give the VM fewer vGPUs, or one larger type");
}

#[test]
fn series_of_one_size_share_a_gpu_from_vsphere_8_0_u2() {
    let on = |esxi: &str| {
        let spec = format!(
            "{NLS}{}{}{}",
            host("h", esxi, "vgpu", "nvidia-a40", "same_size"),
            vm("a", "h", "A40-8Q on h.g0", ""),
            vm("b", "h", "A40-8A on h.g0", "")
        );
        codes(&spec)
    };
    assert!(on("8.0 U2").is_empty(), "{:?}", on("8.0 U2"));
    assert_eq!(on("8.0 U1"), [Code::MixedTypes]);
}

#[test]
fn firmware_is_never_switched_silently() {
    for example in common::files_in("examples", "gpu") {
        let checked = common::check_file(&example);
        let plan = gpuc::plan::plan(&checked.model, &checked.analysis).expect("a plan");
        for vm in &checked.model.vms {
            let text = artefacts(&checked, &plan).into_iter().find(|a| a.path == format!("vms/{}.vmx", vm.name));
            let has_line = text.is_some_and(|a| a.text.lines().any(|l| l.starts_with("firmware ")));
            assert_eq!(has_line, vm.firmware.is_some(), "{}: VM {}", example.display(), vm.name);
        }
    }
    let spec = format!("{NLS}{}{}", host("h", "8.0 U3", "ai_enterprise", "nvidia-l4", "same_size"), vm("v", "h", "L4-4C", ""));
    assert!(codes(&spec).is_empty());
    assert_eq!(codes(&spec.replace("  firmware efi\n", "")), [Code::FirmwareUndeclared]);
    assert_eq!(codes(&spec.replace("firmware efi", "firmware bios")), [Code::BiosFirmware]);
}

#[test]
fn a_vgpu_vms_window_and_firmware_name_the_rule_that_asks_for_them() {
    // NVIDIA AI Enterprise, "Using NVIDIA vGPU (C-Series)": a C-series VM boots EFI with a 64-bit
    // MMIO window of 64 GB or more. Any vGPU on a GPU requiring 64 GB or more of MMIO (A40:
    // 128 GB), in a VM of 32 GB or more, needs the GPU's whole requirement, and so EFI too.
    let q = format!("{NLS}{}{}", host("h", "8.0 U3", "vgpu", "nvidia-a40", "same_size"), vm("v", "h", "A40-8Q", ""));
    let c = format!("{NLS}{}{}", host("h", "8.0 U3", "ai_enterprise", "nvidia-l4", "same_size"), vm("v", "h", "L4-4C", ""))
        .replace("memory 64GiB", "memory 16GiB");
    let diagnostic = |spec: String, code: Code| {
        let checked = common::check_text(&spec);
        assert_eq!(checked.diagnostics.len(), 1, "{}", common::rendered(&checked));
        checked.diagnostics.into_iter().find(|d| d.code == code).expect("the diagnostic")
    };
    let too_small = |spec: &str, mmio: &str| {
        diagnostic(spec.replace("firmware efi", &format!("firmware efi\n  mmio {mmio}")), Code::MmioTooSmall).notes.join("\n")
    };
    let undeclared = |spec: &str| {
        let d = diagnostic(spec.replace("  firmware efi\n", ""), Code::FirmwareUndeclared);
        d.secondary.iter().map(|l| l.text.clone()).collect::<Vec<_>>().join("\n")
    };
    let q_note = too_small(&q, "64GiB");
    assert!(q_note.contains("1 x 128GiB (NVIDIA A40, vGPU on a GPU requiring 64 GB or more, in a VM of 32 GB or more)"), "{q_note}");
    let c_note = too_small(&c, "32GiB");
    assert!(c_note.contains("1 x 64GiB (NVIDIA L4, C-series vGPU: 64 GB or the GPU's requirement)"), "{c_note}");
    assert_eq!(undeclared(&q), "nvidia_a40-8q: its 64-bit MMIO window needs EFI");
    assert_eq!(undeclared(&c), "nvidia_l4-4c: a C-series vGPU boots EFI");
}

#[test]
fn cuda_minor_version_compatibility_lets_a_vgpu_17_guest_run_cuda_12_6() {
    let spec = format!(
        "{NLS}{}{}",
        host("h", "8.0 U3", "vgpu", "nvidia-a40", "same_size"),
        vm("v", "h", "A40-8Q", "driver \"550.54.15\" cuda \"12.6\"")
    );
    let out = built(&spec);
    assert!(file(&out, "plan.md").contains("550.54.15"));
    // Below the 12.x family minimum (525.60.13) it is refused, naming the version asked about.
    let old = spec.replace("550.54.15", "525.60.12").replace("\"17.1\"", "\"15.0\"");
    let checked = common::check_text(&old);
    let d = checked.diagnostics.iter().find(|d| d.code == Code::CudaDriver).expect("E1702");
    assert!(d.message.contains("CUDA 12.6") && d.message.contains("525.60.13"), "{}", d.message);
    // CUDA 11.0 predates minor-version compatibility: its own minimum holds.
    let eleven = spec.replace("\"12.6\"", "\"11.0\"").replace("550.54.15", "450.51.04").replace("\"17.1\"", "\"11.0\"");
    assert!(codes(&eleven).contains(&Code::CudaDriver), "{:?}", codes(&eleven));
}

#[test]
fn versions_keep_every_digit_they_were_written_with() {
    let spec = format!(
        "{NLS}{}{}",
        host("h", "8.0 U3", "vgpu", "nvidia-a40", "same_size").replace("\"17.1\"", "\"16.1\""),
        vm("v", "h", "A40-8Q", "driver \"535.104.05\"")
    );
    let out = built(&spec);
    assert!(file(&out, "plan.md").contains("535.104.05"), "{}", file(&out, "plan.md"));
}

#[test]
fn a_host_without_address_is_named_by_its_name() {
    let spec = format!("{NLS}{}{}", host("esx7", "8.0 U3", "vgpu", "nvidia-a40", "same_size"), vm("v", "esx7", "A40-8Q", ""));
    let checked = common::check_text(&spec);
    assert!(checked.diagnostics.is_empty());
    assert_eq!(checked.model.hosts[0].address, "esx7");
}

#[test]
fn the_catalog_lists_every_type_with_its_profile_string_and_a_source() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_gpuc")).args(["catalog", "--format", "json"]).output().expect("runs");
    assert!(out.status.success());
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let boards = report["boards"].as_array().expect("boards");
    let types: Vec<&serde_json::Value> = boards.iter().flat_map(|b| b["vgpu_types"].as_array().expect("types")).collect();
    assert!(types.len() > 400, "{}", types.len());
    for t in types {
        let profile = t["profile"].as_str().unwrap_or("");
        assert!(profile.starts_with("grid_") || profile.starts_with("nvidia_"), "{t}");
        assert!(!t["source"].as_str().unwrap_or("").is_empty(), "{t}");
    }
    let a40 = std::process::Command::new(env!("CARGO_BIN_EXE_gpuc")).args(["catalog", "--board", "a40"]).output().expect("runs");
    assert!(String::from_utf8_lossy(&a40.stdout).contains("nvidia_a40-8q"));
}
