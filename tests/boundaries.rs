//! Every version and value threshold of the rules, pinned on both sides: the last value that
//! is refused and the first that is accepted (or the reverse), each against its source.

mod common;

use gpuc::diagnostics::Code;

const NLS: &str = "license nls { token \"client_configuration_token_04-01-2025-10-00-00.tok\" }\n";
const SERVER: &str = "license main { server \"10.1.2.3\" }\n";

/// A V100 32 GB vGPU host (vGPU from 6.x on) with `esxi`, `release` and extra `nvidia` lines,
/// and one VM with `vgpu` and `guest` lines.
fn v100(esxi: &str, release: &str, nvidia_extra: &str, gpu_extra: &str, vgpu: &str, guest: &str) -> String {
    format!(
        "host h {{\n  esxi \"{esxi}\"\n  bios {{ above_4g_decoding true }}\n  nvidia {{ release \"{release}\"  vib \"/vmfs/volumes/ds1/NVIDIA-host-driver.vib\" {nvidia_extra} }}\n  gpu g0 {{ model tesla-v100d-32gb pci 0000:3b:00.0 use vgpu {gpu_extra} }}\n}}\nvm v {{\n  host h\n  memory 16GiB\n  firmware efi\n  vgpu {vgpu}\n  guest {{ os linux {guest} }}\n}}\n"
    )
}

fn codes(text: &str) -> Vec<Code> {
    let mut codes: Vec<Code> = common::check_text(text).diagnostics.iter().map(|d| d.code).collect();
    codes.dedup();
    codes
}

/// (spec, the codes it must report) pairs, checked one by one with the spec in the message.
fn expect(cases: &[(String, &[Code])]) {
    for (spec, want) in cases {
        assert_eq!(codes(spec), *want, "\n{spec}");
    }
}

#[test]
fn c_series_from_vgpu_9() {
    expect(&[
        (format!("{SERVER}{}", v100("6.7.0 U1", "8.2", "", "", "grid_v100d-8c", "license main")), &[Code::VgpuTypeRelease]),
        (format!("{SERVER}{}", v100("6.7.0 U1", "9.0", "", "", "grid_v100d-8c", "license main")), &[]),
    ]);
}

#[test]
fn ai_enterprise_from_vgpu_13_and_c_series_only_with_it_from_13() {
    let aie = "product ai_enterprise";
    expect(&[
        (format!("{SERVER}{}", v100("7.0", "12.2", aie, "", "grid_v100d-8c", "license main")), &[Code::VgpuProduct]),
        (format!("{NLS}{}", v100("7.0", "13.0", aie, "", "grid_v100d-8c", "license nls")), &[]),
        // Before the split, C-series came with the one NVIDIA vGPU driver.
        (format!("{SERVER}{}", v100("7.0", "12.2", "", "", "grid_v100d-8c", "license main")), &[]),
        (format!("{NLS}{}", v100("7.0", "13.0", "", "", "grid_v100d-8c", "license nls")), &[Code::VgpuProduct]),
    ]);
}

#[test]
fn a_type_newer_than_its_board_from_its_own_first_release() {
    // The A30 runs from 13.x; its A30-2-12CME only from 15.0: its 2g.12gb+me GPU instance exists
    // from the R525 driver (NVIDIA MIG User Guide, "A30 MIG Profiles"), and R525 is vGPU 15.
    let on = |release: &str| {
        format!(
            "{NLS}host h {{\n  esxi \"8.0 U3\"\n  bios {{ above_4g_decoding true  sr_iov true }}\n  nvidia {{ product ai_enterprise  release \"{release}\"  vib \"/vmfs/volumes/ds1/NVD-AIE-800.zip\" }}\n  gpu g0 {{ model nvidia-a30 pci 0000:17:00.0 use vgpu mode mig }}\n}}\nvm v {{\n  host h\n  memory 64GiB\n  firmware efi\n  vgpu A30-2-12CME\n  guest {{ os linux license nls }}\n}}\n"
        )
    };
    expect(&[(on("14.4"), &[Code::VgpuTypeRelease]), (on("15.0"), &[]), (on("13.0").replace("A30-2-12CME", "A30-2-12C"), &[])]);
}

#[test]
fn a_board_runs_to_the_last_update_of_its_last_release() {
    // A site catalog that ends its board at `last_release: "16.0"`: every 16.x takes it, 17.0 does not.
    const SITE: &str = "boards:\n  - id: tesla-p6\n    name: NVIDIA Tesla P6\n    architecture: pascal\n    device_id: \"1bb4\"\n    gpus_per_board: 1\n    framebuffer: 16GiB\n    bar1: 256MiB\n    ecc_default: true\n    products: [vgpu]\n    first_release: \"6.0\"\n    last_release: \"16.0\"\n    vgpu_types:\n      - { name: P6-8Q, profile: grid_p6-8q, series: Q, framebuffer: 8GiB, max: 2 }\n    sources:\n      pci: \"pci.ids: 10de:1bb4 GP104GL [Tesla P6]\"\n      bar1: \"assumed 256 MB like the Tesla P4\"\n      vgpu: \"NVIDIA vGPU User Guide, Tesla P6 vGPU types\"\n      profile: \"the site's ESXi logs\"\n      release: \"the site's record: its P6 hosts stay on vGPU 16.x\"\n";
    let on = |release: &str| {
        let spec = format!(
            "catalog \"site.yaml\"\n{NLS}host h {{\n  esxi \"8.0 U3\"\n  nvidia {{ release \"{release}\"  vib \"/vmfs/volumes/ds1/NVIDIA-host-driver.vib\" }}\n  gpu g0 {{ model tesla-p6 pci 0000:3b:00.0 use vgpu }}\n}}\nvm v {{\n  host h\n  memory 16GiB\n  vgpu grid_p6-8q\n  guest {{ os linux license nls }}\n}}\n"
        );
        let fs = common::Memory([("spec.gpu", spec), ("site.yaml", SITE.to_string())].into_iter().map(|(p, t)| (p.into(), t)).collect());
        let input = gpuc::Input { files: vec!["spec.gpu".into()], ..Default::default() };
        gpuc::check(&input, &fs).expect("in memory").diagnostics.iter().map(|d| d.code).collect::<Vec<Code>>()
    };
    assert_eq!(on("16.0"), []);
    assert_eq!(on("16.9"), []);
    assert_eq!(on("17.0"), [Code::VgpuTypeRelease]);
}

#[test]
fn ecc_with_vgpu_from_9() {
    expect(&[
        (format!("{SERVER}{}", v100("6.7.0 U1", "8.0", "", "ecc on", "grid_v100d-8q", "license main")), &[Code::EccWithVgpu]),
        (format!("{SERVER}{}", v100("6.7.0 U1", "9.0", "", "ecc on", "grid_v100d-8q", "license main")), &[]),
    ]);
}

#[test]
fn time_slices_from_9_between_1_and_30_ms() {
    let slice = |ms: &str| format!("scheduler equal_share  time_slice {ms}");
    expect(&[
        (format!("{SERVER}{}", v100("6.7.0 U1", "8.0", &slice("3ms"), "", "grid_v100d-8q", "license main")), &[Code::InvalidTimeSlice]),
        (format!("{SERVER}{}", v100("6.7.0 U1", "9.0", &slice("3ms"), "", "grid_v100d-8q", "license main")), &[]),
        (format!("{SERVER}{}", v100("6.7.0 U1", "9.0", &slice("1ms"), "", "grid_v100d-8q", "license main")), &[]),
        (format!("{SERVER}{}", v100("6.7.0 U1", "9.0", &slice("30ms"), "", "grid_v100d-8q", "license main")), &[]),
        (format!("{SERVER}{}", v100("6.7.0 U1", "9.0", &slice("31ms"), "", "grid_v100d-8q", "license main")), &[Code::InvalidTimeSlice]),
    ]);
}

#[test]
fn licences_by_release() {
    expect(&[
        // NLS tokens from 13.0 (NVIDIA vGPU 13.0 Quick Start Guide).
        (format!("{NLS}{}", v100("7.0", "12.2", "", "", "grid_v100d-8q", "license nls")), &[Code::LicenceKind]),
        (format!("{NLS}{}", v100("7.0", "13.0", "", "", "grid_v100d-8q", "license nls")), &[]),
        // The legacy server: silent to 12, a warning on 13 and 14, refused from 15 (R525 RN §1.2).
        (format!("{SERVER}{}", v100("7.0", "12.2", "", "", "grid_v100d-8q", "license main")), &[]),
        (format!("{SERVER}{}", v100("7.0", "13.0", "", "", "grid_v100d-8q", "license main")), &[Code::LegacyLicenceRetired]),
        (format!("{SERVER}{}", v100("7.0", "14.2", "", "", "grid_v100d-8q", "license main")), &[Code::LegacyLicenceRetired]),
        (format!("{SERVER}{}", v100("7.0", "15.0", "", "", "grid_v100d-8q", "license main")), &[Code::LicenceKind]),
    ]);
}

#[test]
fn guest_driver_branch_and_the_previous_branch_from_15() {
    expect(&[
        (format!("{NLS}{}", v100("8.0 U3", "17.1", "", "", "grid_v100d-8q", "driver \"550.54.15\" license nls")), &[]),
        (format!("{NLS}{}", v100("8.0 U3", "17.1", "", "", "grid_v100d-8q", "driver \"535.104.05\" license nls")), &[]),
        (format!("{NLS}{}", v100("8.0 U3", "17.1", "", "", "grid_v100d-8q", "driver \"525.60.13\" license nls")), &[Code::DriverBranch]),
        // From 15 a host takes guests of the previous branch (R525 release notes §1.2), not older.
        (format!("{NLS}{}", v100("8.0 U3", "19.0", "", "", "grid_v100d-8q", "driver \"570.124.06\" license nls")), &[]),
        (format!("{NLS}{}", v100("8.0 U3", "19.0", "", "", "grid_v100d-8q", "driver \"550.54.15\" license nls")), &[Code::DriverBranch]),
        (format!("{NLS}{}", v100("7.0 U3", "15.0", "", "", "grid_v100d-8q", "driver \"510.85.02\" license nls")), &[]),
        (format!("{NLS}{}", v100("7.0 U3", "14.2", "", "", "grid_v100d-8q", "driver \"470.161.03\" license nls")), &[Code::DriverBranch]),
    ]);
}

#[test]
fn previous_long_term_support_guests_on_a_long_term_support_host_from_19() {
    let on = |release: &str, driver: &str| {
        format!("{NLS}{}", v100("8.0 U3", release, "", "", "grid_v100d-8q", &format!("driver \"{driver}\" license nls")))
    };
    expect(&[
        // 19.x (R580, LTS) takes guests of the previous LTS branch, 16.x (R535): R580 release notes §1.2.
        (on("19.0", "535.104.05"), &[]),
        // Not older ones: 15.x (R525) is neither the previous branch nor the previous LTS branch.
        (on("19.0", "525.60.13"), &[Code::DriverBranch]),
        // 18.x (R570) is a production branch: its previous branch (17.x) only, not 16.x.
        (on("18.0", "550.54.15"), &[]),
        (on("18.0", "535.104.05"), &[Code::DriverBranch]),
        // 16.x is LTS, but the previous-LTS rule is not confirmed before 19: 13.x (R470) stays refused.
        (on("16.0", "470.161.03"), &[Code::DriverBranch]),
        (on("16.0", "525.60.13"), &[]),
    ]);
}

#[test]
fn a_driver_exactly_at_the_cuda_minimum_is_enough() {
    let guest = |driver: &str, cuda: &str| format!("driver \"{driver}\" cuda \"{cuda}\" license main");
    expect(&[
        (format!("{SERVER}{}", v100("6.7.0 U1", "8.0", "", "", "grid_v100d-8q", &guest("418.39", "10.1"))), &[]),
        (format!("{SERVER}{}", v100("6.7.0 U1", "8.0", "", "", "grid_v100d-8q", &guest("418.38", "10.1"))), &[Code::CudaDriver]),
        // 11.1 and later: the 11.x family minimum 450.80.02 suffices; 11.0 keeps its own.
        (format!("{SERVER}{}", v100("7.0", "11.0", "", "", "grid_v100d-8q", &guest("450.80.02", "11.4"))), &[]),
        (format!("{SERVER}{}", v100("7.0", "11.0", "", "", "grid_v100d-8q", &guest("450.80.01", "11.4"))), &[Code::CudaDriver]),
        (format!("{SERVER}{}", v100("7.0", "11.0", "", "", "grid_v100d-8q", &guest("450.51.04", "11.0"))), &[Code::CudaDriver]),
        (format!("{SERVER}{}", v100("7.0", "11.0", "", "", "grid_v100d-8q", &guest("450.51.05", "11.0"))), &[]),
    ]);
}

#[test]
fn vgpu_hosts_from_esxi_6_5_u1_and_vmotion_from_6_7_u1() {
    expect(&[
        (format!("{SERVER}{}", v100("6.5.0", "6.2", "", "", "grid_v100d-8q", "license main")), &[Code::EsxiTooOld]),
        (format!("{SERVER}{}", v100("6.5.0 U1", "6.2", "", "", "grid_v100d-8q", "license main")), &[]),
    ]);
    let vmotion = |esxi: &str| {
        format!(
            "{SERVER}{}",
            v100(esxi, "8.0", "", "", "grid_v100d-8q", "license main").replace("firmware efi", "firmware efi\n  vmotion true")
        )
    };
    expect(&[(vmotion("6.7.0"), &[Code::VgpuVmotionTooOld]), (vmotion("6.7.0 U1"), &[])]);
}

#[test]
fn mixed_size_from_vgpu_17_on_esxi_8_0_u3() {
    let spec = |esxi: &str, release: &str| format!("{NLS}{}", v100(esxi, release, "", "mode mixed_size", "grid_v100d-8q", "license nls"));
    // The V100D's 8Q has no published mixed-size count: pick a type that has one.
    let on = |esxi: &str, release: &str| {
        spec(esxi, release)
            .replace("tesla-v100d-32gb", "nvidia-a40")
            .replace("grid_v100d-8q", "A40-8Q")
            .replace("bios { above_4g_decoding true }", "bios { above_4g_decoding true  sr_iov true }")
    };
    expect(&[
        (on("8.0 U3", "16.4"), &[Code::MixedSizeUnsupported]),
        (on("8.0 U2", "17.1"), &[Code::MixedSizeUnsupported]),
        (on("8.0 U3", "17.1"), &[]),
    ]);
}

#[test]
fn passthrough_devices_per_vm_follow_kb_309986() {
    // (ESXi, most devices) for every row of the table.
    let rows: &[(&str, usize)] =
        &[("4.0", 2), ("4.1", 4), ("5.1", 4), ("5.5", 16), ("6.7.0", 16), ("7.0 U3", 16), ("8.0", 32), ("8.0 U1", 64), ("8.0 U2", 128)];
    for &(esxi, limit) in rows {
        let gpus: String =
            (0..=limit).map(|g| format!("  gpu g{g} {{ model tesla-t4 pci 0000:{:02x}:00.0 use passthrough }}\n", g + 1)).collect();
        let list = |n: usize| (0..n).map(|g| format!("h.g{g}")).collect::<Vec<_>>().join(", ");
        let spec = |n: usize| {
            format!(
                "host h {{\n  esxi \"{esxi}\"\n{gpus}}}\nvm v {{\n  host h\n  memory 16GiB\n  firmware efi\n  passthrough {}\n}}\n",
                list(n)
            )
        };
        assert!(codes(&spec(limit)).is_empty(), "ESXi {esxi}: {limit} devices: {:?}", codes(&spec(limit)));
        assert_eq!(codes(&spec(limit + 1)), [Code::TooManyPassthrough], "ESXi {esxi}: {} devices", limit + 1);
    }
}

#[test]
fn bitfusion_share_is_in_zero_to_one() {
    let pool = |share: &str| {
        format!(
            "host h {{\n  esxi \"7.0 U3\"\n  gpu g0 {{ model tesla-t4 pci 0000:3b:00.0 use passthrough }}\n}}\nvm s {{ host h  memory 16GiB  passthrough h.g0 }}\nbitfusion p {{\n  bitfusion \"2.5\"\n  server s {{ address \"10.1.3.11\" }}\n  client c {{ address \"10.1.4.20\"  gpus 1  share {share} }}\n}}\n"
        )
    };
    expect(&[
        (pool("0.0"), &[Code::BitfusionDiscontinued, Code::BitfusionShare]),
        (pool("0.01"), &[Code::BitfusionDiscontinued]),
        (pool("1.0"), &[Code::BitfusionDiscontinued]),
        (pool("1.01"), &[Code::BitfusionDiscontinued, Code::BitfusionShare]),
    ]);
}
