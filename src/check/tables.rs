//! Vendor tables the rules consult, each with its source. Facts about boards live in the
//! catalog; facts about releases and versions live here.

use crate::model::EsxiVersion;
use crate::quantity::Version;

/// Driver branch of a vGPU software release: the host vGPU manager and the guest driver of
/// release N are from this branch. Each release family's release notes are titled "Virtual GPU
/// Software R<branch> ..." and list the versions in §1.1 "NVIDIA vGPU Software Driver Versions":
/// 6.x R390, 8.x R418 (8.0: 418.66 host, 418.70 Linux guest), 15.x R525 (15.0: 525.60.12 /
/// 525.60.13), 19.x R580 (19.0: 580.65.05 / 580.65.06); 13.x R470 (NVIDIA AI Enterprise 1.4
/// release notes: vGPU 13.5 is 470.161.02 / 470.161.03); 16.x R535 and 17.x R550 (NVIDIA vGPU
/// software lifecycle table; vGPU 17 User Guide samples 550.54.16). Not confirmed from an NVIDIA
/// page: 7.x R410, 9.x R430, 10.x R440, 11.x R450, 12.x R460, 14.x R510 (NVD-AIE 510.47.03
/// packages), 18.x R570.
pub fn driver_branch(release: &Version) -> Option<u32> {
    Some(match release.major() {
        6 => 390,
        7 => 410,
        8 => 418,
        9 => 430,
        10 => 440,
        11 => 450,
        12 => 460,
        13 => 470,
        14 => 510,
        15 => 525,
        16 => 535,
        17 => 550,
        18 => 570,
        19 => 580,
        _ => return None,
    })
}

/// The branch of a driver version: `390.42` is R390.
pub fn branch_of_driver(driver: &Version) -> u32 {
    driver.major()
}

/// The release whose branch is `branch`, for messages ("R390 is vGPU 6.x").
pub fn release_of_branch(branch: u32) -> Option<u32> {
    (6..=19).find(|&major| driver_branch(&Version::major_only(major)) == Some(branch))
}

/// Minimum Linux and Windows guest driver for a CUDA toolkit (CUDA Toolkit release notes,
/// Table 3, ref §10.2). CUDA 9.1 uses the GA minimum 387.26 (not 390.46 of the current
/// table): the guide pairs driver 390.42 with CUDA 9.1 (seed §6.4.2.1; DESIGN.md R17).
/// Windows minimums are given only where they were captured.
pub const CUDA_MINIMUM_DRIVER: &[(&str, &str, Option<&str>)] = &[
    ("7.0", "346.46", Some("347.62")),
    ("7.5", "352.31", Some("353.66")),
    ("8.0", "367.48", None),
    ("9.0", "384.81", Some("385.54")),
    ("9.1", "387.26", Some("388.19")),
    ("9.2", "396.26", None),
    ("10.0", "410.48", Some("411.31")),
    ("10.1", "418.39", Some("418.96")),
    ("10.2", "440.33", Some("441.22")),
    ("11.0", "450.51.05", None),
    ("11.1", "455.23", None),
    ("11.2", "460.27.03", None),
    ("11.3", "465.19.01", None),
    ("11.4", "470.42.01", None),
    ("11.5", "495.29.05", None),
    ("11.6", "510.39.01", None),
    ("11.7", "515.43.04", None),
    ("11.8", "520.61.05", None),
    ("12.0", "525.60.13", None),
    ("12.1", "530.30.02", None),
    ("12.2", "535.54.03", None),
    ("12.3", "545.23.06", None),
    ("12.4", "550.54.14", None),
    ("12.5", "555.42.02", None),
    ("12.6", "560.28.03", None),
    ("12.8", "570.26", None),
    ("12.9", "575.51.03", None),
    ("13.0", "580.65.06", None),
    ("13.1", "590.44.01", None),
];

/// The table row for a CUDA version: `9.1` and `9.1.85` both find 9.1. The table is parsed
/// once (every guest with a CUDA version asks).
pub fn cuda_minimum(cuda: &Version) -> Option<(Version, Option<Version>)> {
    type Row = (Version, Version, Option<Version>);
    static PARSED: std::sync::OnceLock<Vec<Row>> = std::sync::OnceLock::new();
    let rows = PARSED.get_or_init(|| {
        CUDA_MINIMUM_DRIVER
            .iter()
            .filter_map(|(c, linux, windows)| Some((Version::parse(c)?, Version::parse(linux)?, windows.and_then(Version::parse))))
            .collect()
    });
    rows.iter().find(|(c, _, _)| c.major() == cuda.major() && c.minor() == cuda.minor()).map(|&(_, linux, windows)| (linux, windows))
}

/// Minor-version compatibility: from CUDA 11, a toolkit of a major family runs (with a limited
/// feature set) on the family's minimum driver, below the next family's (NVIDIA, "CUDA
/// Compatibility", "CUDA 11 and Later Defaults to Minor Version Compatibility"; CUDA Toolkit
/// 13.1 Release Notes §2, "Driver Range for Minor Version Compatibility"). 11.x: 450.80.02
/// Linux / 452.39 Windows (the footnote for 11.0); 12.x: 525.60.13 (the 12.0 GA row); 13.x: 580
/// (the 13.0 GA row, 580.65.06). Rows: (major, Linux minimum, Windows minimum, next major's
/// branch).
pub const CUDA_MINOR_COMPATIBILITY: &[(u32, &str, Option<&str>, Option<u32>)] =
    &[(11, "450.80.02", Some("452.39"), Some(525)), (12, "525.60.13", None, Some(580)), (13, "580.65.06", None, None)];

/// The family row of `cuda`'s major, when minor-version compatibility covers it: CUDA 11.1 and
/// later (11.0 itself needs its own minimum).
pub fn cuda_family_minimum(cuda: &Version) -> Option<(Version, Option<Version>, Option<u32>)> {
    if cuda.major() < 11 || (cuda.major() == 11 && cuda.minor() == 0) {
        return None;
    }
    CUDA_MINOR_COMPATIBILITY
        .iter()
        .find(|(major, ..)| *major == cuda.major())
        .and_then(|(_, linux, windows, next)| Some((Version::parse(linux)?, windows.and_then(Version::parse), *next)))
}

/// Most passthrough devices one VM may have (Broadcom KB 309986, formerly VMware KB 1010789).
pub fn passthrough_limit(esxi: EsxiVersion) -> u32 {
    match (esxi.major, esxi.minor, esxi.update) {
        (4, 0, _) => 2,
        (4, _, _) | (5, 0 | 1, _) => 4,
        (5, _, _) | (6, _, _) | (7, _, _) => 16,
        (8, 0, 0) => 32,
        (8, 0, 1) => 64,
        _ => 128,
    }
}

/// ESXi that supports NVIDIA vGPU for this compiler: 6.5 Update 1 or later (seed §6: "If you
/// choose to use vSphere 6.5, then ensure you are on update 1").
pub const VGPU_MIN_ESXI: EsxiVersion = EsxiVersion::new(6, 5, 1);

/// vGPU vMotion arrived in vSphere 6.7 Update 1 (seed §6; William Lam; ref §9).
pub const VGPU_VMOTION_MIN_ESXI: EsxiVersion = EsxiVersion::new(6, 7, 1);

/// Several vGPUs per VM: vSphere 6.7 Update 3, at most four (vSphere 6.7 Virtual Machine
/// Administration, "Add an NVIDIA GRID vGPU to a Virtual Machine"); eight from vSphere 8.0
/// (VMware blog "vSphere 8 Expands Machine Learning Support: Device Groups for NVIDIA GPUs
/// and NICs", 2022-08-16: "you can add up to 8 vGPUs to one VM").
pub const MULTI_VGPU_MIN_ESXI: EsxiVersion = EsxiVersion::new(6, 7, 3);
pub const EIGHT_VGPUS_MIN_ESXI: EsxiVersion = EsxiVersion::new(8, 0, 0);

/// Most vGPUs one VM may have on this ESXi.
pub fn max_vgpus_per_vm(esxi: EsxiVersion) -> usize {
    if esxi < MULTI_VGPU_MIN_ESXI {
        1
    } else if esxi < EIGHT_VGPUS_MIN_ESXI {
        4
    } else {
        8
    }
}

/// The persistent mixed-size mode (`esxcli graphics device set --vgpu-mode`) is in the
/// ESXi 8.0 U3 reference; mixed-size vGPU itself is vGPU 17 (ref §4.2, §4.6).
pub const MIXED_SIZE_MIN_ESXI: EsxiVersion = EsxiVersion::new(8, 0, 3);
pub const MIXED_SIZE_MIN_RELEASE: u32 = 17;

/// vGPU 9.0 added ECC with vGPU, C-series (vCS) and configurable time slices (vGPU 9.0
/// release notes; seed §6.1.7).
pub const ECC_WITH_VGPU_RELEASE: u32 = 9;
pub const C_SERIES_RELEASE: u32 = 9;
pub const TIME_SLICE_RELEASE: u32 = 9;

/// Series other than the same type may share a same-size GPU from vGPU 17 when their
/// framebuffers are equal (NVIDIA vGPU 17 User Guide), on vSphere 8.0 U2 or later (VMware
/// blog "What's new for GPUs in vSphere 8 Update 3", 2024-07-03).
pub const SAME_SIZE_SERIES_MIX_RELEASE: u32 = 17;
pub const SAME_SIZE_SERIES_MIX_MIN_ESXI: EsxiVersion = EsxiVersion::new(8, 0, 2);

/// From vGPU 13 the ESXi host driver comes in two builds: NVIDIA vGPU (NVD-VGPU: Q, B and A
/// series) and NVIDIA AI Enterprise (NVD-AIE: C series); NVIDIA AI Enterprise 1.0 shipped
/// with vGPU 13.0 (NVIDIA vGPU 17 User Guide §2.1.1, §2.9.4).
pub const AI_ENTERPRISE_SPLIT_RELEASE: u32 = 13;

/// NVIDIA License System client configuration tokens from vGPU 13.0 (NVIDIA Virtual GPU
/// Software 13.0 Quick Start Guide: CLS and DLS instances, beside the legacy license server).
/// From 15.0 only NLS: "All releases in this release family of NVIDIA vGPU software are
/// incompatible with all releases of the NVIDIA vGPU software license server" (Virtual GPU
/// Software R525 Release Notes, §1.2; the same sentence in the R580 (19.x) release notes).
pub const NLS_FIRST_RELEASE: u32 = 13;
pub const NLS_ONLY_RELEASE: u32 = 15;

/// A guest driver of the previous branch with a newer host manager: not in 8.x ("versions of
/// the vGPU Manager and guest VM driver from different main release branches cannot be used
/// together", vGPU 8 release notes §1.2), allowed in 15.x ("NVIDIA vGPU Manager from a later
/// major release branch with guest VM drivers from the previous branch", R525 release notes
/// §1.2) and later. The first release between 9 and 15 that allowed it is not confirmed, so
/// gpuc allows it from 15.
pub const PREVIOUS_BRANCH_GUEST_RELEASE: u32 = 15;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cuda_table_lookup() {
        let (linux, windows) = cuda_minimum(&Version::parse("9.1").unwrap()).unwrap();
        assert_eq!(linux, Version::parse("387.26").unwrap());
        assert_eq!(windows, Version::parse("388.19"));
        assert!(cuda_minimum(&Version::parse("9.1.85").unwrap()).is_some());
        assert!(cuda_minimum(&Version::parse("4.2").unwrap()).is_none());
        // Every row is used: none is dropped for not parsing.
        for (cuda, linux, windows) in CUDA_MINIMUM_DRIVER {
            assert!(Version::parse(cuda).is_some() && Version::parse(linux).is_some(), "{cuda}");
            assert!(windows.is_none_or(|w| Version::parse(w).is_some()), "{cuda}");
        }
    }

    #[test]
    fn passthrough_limits_follow_kb_309986() {
        assert_eq!(passthrough_limit(EsxiVersion::new(6, 7, 1)), 16);
        assert_eq!(passthrough_limit(EsxiVersion::new(8, 0, 0)), 32);
        assert_eq!(passthrough_limit(EsxiVersion::new(8, 0, 1)), 64);
        assert_eq!(passthrough_limit(EsxiVersion::new(8, 0, 2)), 128);
    }

    #[test]
    fn every_release_has_its_branch() {
        let rows = [
            (6, 390),
            (7, 410),
            (8, 418),
            (9, 430),
            (10, 440),
            (11, 450),
            (12, 460),
            (13, 470),
            (14, 510),
            (15, 525),
            (16, 535),
            (17, 550),
            (18, 570),
            (19, 580),
        ];
        for (release, branch) in rows {
            assert_eq!(driver_branch(&Version::major_only(release)), Some(branch), "vGPU {release}");
            assert_eq!(release_of_branch(branch), Some(release), "R{branch}");
        }
        assert_eq!(driver_branch(&Version::major_only(5)), None);
        assert_eq!(driver_branch(&Version::major_only(20)), None);
        assert_eq!(driver_branch(&Version::parse("6.2").unwrap()), Some(390));
    }

    #[test]
    fn vgpus_per_vm_by_esxi() {
        assert_eq!(max_vgpus_per_vm(EsxiVersion::new(6, 7, 2)), 1);
        assert_eq!(max_vgpus_per_vm(EsxiVersion::new(6, 7, 3)), 4);
        assert_eq!(max_vgpus_per_vm(EsxiVersion::new(7, 0, 3)), 4);
        assert_eq!(max_vgpus_per_vm(EsxiVersion::new(8, 0, 0)), 8);
    }

    #[test]
    fn cuda_families_start_at_11_1() {
        assert!(cuda_family_minimum(&Version::parse("10.2").unwrap()).is_none());
        assert!(cuda_family_minimum(&Version::parse("11.0").unwrap()).is_none());
        assert_eq!(cuda_family_minimum(&Version::parse("11.1").unwrap()).map(|f| f.0), Version::parse("450.80.02"));
        assert_eq!(
            cuda_family_minimum(&Version::parse("12.6").unwrap()).map(|f| (f.0, f.2)),
            Version::parse("525.60.13").map(|v| (v, Some(580)))
        );
        assert_eq!(cuda_family_minimum(&Version::parse("13.1").unwrap()).map(|f| f.2), Some(None));
    }
}
