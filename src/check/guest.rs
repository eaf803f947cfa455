//! Guest rules: R16 (licensing) and R17 (driver branch and CUDA).

use super::host::release_major;
use super::{tables, Out};
use crate::diagnostics::{Code, Diagnostic};
use crate::model::{GuestOs, LicenseKind, Model, Vm};

pub fn check(model: &Model, out: &mut Out) {
    for vm in &model.vms {
        licence(model, vm, out);
        drivers(model, vm, out);
    }
}

/// The host's vGPU release for a vGPU VM, or the release whose branch the guest driver is
/// from (passthrough guests have no host manager).
fn effective_release(model: &Model, vm: &Vm) -> Option<u32> {
    let host_release = vm.host.and_then(|h| release_major(model.host(h)));
    if !vm.vgpus.is_empty() && host_release.is_some() {
        return host_release;
    }
    let driver = vm.guest.as_ref()?.driver.as_ref()?;
    tables::release_of_branch(tables::branch_of_driver(&driver.value))
}

/// R16: every vGPU guest is licensed (an unlicensed vGPU drops to 3 fps and loses CUDA after
/// the grace period, ref §7.1); the licence kind must exist in the release (ref §7.2).
fn licence(model: &Model, vm: &Vm, out: &mut Out) {
    let guest = vm.guest.as_ref();
    let licence = guest.and_then(|g| g.license.as_ref());
    // A VM whose declaration had a problem (a licence name that did not resolve, say) was
    // told so once: its missing licence is not a second error.
    if !vm.vgpus.is_empty() && licence.is_none() && !vm.incomplete {
        let span = guest.map_or(vm.span, |g| g.span);
        out.push(
            Diagnostic::new(Code::Unlicensed, format!("vGPU VM `{}` has no licence", vm.name), span, "no `license` in the guest")
                .with_help("add `guest { os linux  driver \"...\"  license <name> }` naming a `license` block")
                .with_note(
                    "NVIDIA licensing guide: an unlicensed vGPU runs degraded (frame rate capped, CUDA disabled) after the grace period",
                ),
        );
    }
    if let Some(product) = guest.and_then(|g| g.product.as_ref()).filter(|_| !vm.vgpus.is_empty()) {
        out.push(
            Diagnostic::new(Code::ProductOnVgpu, format!("vGPU VM `{}` names a licence product", vm.name), product.span, "not for vGPU guests")
                .with_help("remove `product`: a vGPU guest uses FeatureType=1 and gets its product from the vGPU type (Q: vWS, C: vCS, B: vPC, A: vApps)"),
        );
    }
    let (Some(licence), Some(release)) = (licence, effective_release(model, vm)) else { return };
    let kind = &model.license(licence.value).kind;
    let decl = model.license(licence.value).span;
    match kind {
        LicenseKind::Token { .. } if release < tables::NLS_FIRST_RELEASE => out.push(
            Diagnostic::new(
                Code::LicenceKind,
                format!("licence `{}` is an NLS token, but vGPU software {release} has no NLS client", model.license(licence.value).name),
                licence.span,
                "NLS licence",
            )
            .with_label(decl, "token licence declared here")
            .with_help("use a legacy license server licence (`server \"...\"`) for this release, or move to vGPU software 13 or later")
            .with_note("the NVIDIA License System with client configuration tokens appears around vGPU 13"),
        ),
        LicenseKind::Server { .. } if release >= tables::NLS_ONLY_RELEASE => out.push(
            Diagnostic::new(
                Code::LicenceKind,
                format!(
                    "licence `{}` is a legacy license server, but vGPU software {release} supports only the NVIDIA License System",
                    model.license(licence.value).name
                ),
                licence.span,
                "legacy server licence",
            )
            .with_label(decl, "license server declared here")
            .with_help("declare an NLS licence: `license nls { token \"client_configuration_token_<timestamp>.tok\" }`")
            .with_note("Virtual GPU Software R525 Release Notes §1.2: from release 15.0, every release is incompatible with all releases of the NVIDIA vGPU software license server"),
        ),
        LicenseKind::Server { .. } if release >= tables::NLS_FIRST_RELEASE => out.push(
            Diagnostic::new(
                Code::LegacyLicenceRetired,
                format!(
                    "licence `{}` is a legacy license server; vGPU software {release} also takes NLS, and 15.0 and later take only NLS",
                    model.license(licence.value).name
                ),
                licence.span,
                "legacy server licence",
            )
            .with_label(decl, "license server declared here")
            .with_help("move to an NLS licence (`token \"...\"`) before upgrading the host to vGPU software 15 or later")
            .with_note("NVIDIA Virtual GPU Software 13.0 Quick Start Guide: the NVIDIA License System (CLS, DLS) beside the legacy license server; R525 (15.x) Release Notes §1.2: NLS only"),
        ),
        _ => {}
    }
}

/// vGPU releases on a long-term support branch: 16 (R535; NVIDIA Virtual GPU Software
/// lifecycle table: "NVIDIA vGPU 16 R535 Long-Term Support") and 19 (R580; NVIDIA Data Center
/// GPU Driver documentation, "Supported Drivers and CUDA Toolkit Versions": R535 and R580 are
/// "Long Term Support Branch"). Earlier LTS branches (R450, R470) are left out: no host that
/// gpuc lets take a previous-LTS guest reaches back to them.
const LONG_TERM_SUPPORT_RELEASES: &[u32] = &[16, 19];

/// A host of a long-term support branch takes guest drivers of the previous long-term support
/// branch: "NVIDIA vGPU Manager from a later long-term support branch with guest VM drivers from
/// the previous long-term support branch" (Virtual GPU Software R580 for VMware vSphere Release
/// Notes, 19.0, §1.2). The 15.x release notes (R525, §1.2) list only the previous branch, and
/// the 16.x notes were not read, so gpuc allows it from 19.
const PREVIOUS_LTS_GUEST_RELEASE: u32 = 19;

/// Whether the vGPU Manager of release `host` takes a guest driver of release `guest` from
/// another branch: the previous branch from 15 (R525 release notes §1.2), and on a long-term
/// support host from 19 also the previous long-term support branch.
fn other_branch_guest_supported(host: u32, guest: u32) -> bool {
    let previous_branch = host >= tables::PREVIOUS_BRANCH_GUEST_RELEASE && guest + 1 == host;
    let previous_lts = host >= PREVIOUS_LTS_GUEST_RELEASE
        && LONG_TERM_SUPPORT_RELEASES.contains(&host)
        && LONG_TERM_SUPPORT_RELEASES.iter().rev().find(|&&lts| lts < host) == Some(&guest);
    previous_branch || previous_lts
}

/// R17: guest driver of the host manager's branch (from vGPU 15 also the previous branch, from
/// 19 also the previous long-term support branch), and new enough for the declared CUDA (ref §10).
fn drivers(model: &Model, vm: &Vm, out: &mut Out) {
    let Some(guest) = &vm.guest else { return };
    let host = vm.host.map(|h| model.host(h));
    let mut wrong_branch = false;
    if let (Some(driver), Some(release)) = (&guest.driver, host.and_then(|h| h.nvidia.as_ref()).and_then(|n| n.release.as_ref())) {
        // Windows guest drivers carry their own numbers (vGPU 16's R535 ships Windows driver
        // 53x/538.xx; vGPU 8's R418 ships 42x.xx, ref §10.1), so the branch is read only
        // from Linux driver versions.
        let linux = guest.os.as_ref().is_none_or(|o| o.value == GuestOs::Linux);
        if let (false, true, Some(host_branch)) = (vm.vgpus.is_empty(), linux, tables::driver_branch(&release.value)) {
            let guest_branch = tables::branch_of_driver(&driver.value);
            let supported = tables::release_of_branch(guest_branch)
                .is_some_and(|guest_release| other_branch_guest_supported(release.value.major(), guest_release));
            if guest_branch != host_branch && !supported {
                wrong_branch = true;
                out.push(
                    Diagnostic::new(Code::DriverBranch, format!("guest driver {} of VM `{}` is branch R{guest_branch}, the host vGPU manager is R{host_branch}", driver.value, vm.name), driver.span, format!("R{guest_branch}"))
                        .with_label(release.span, format!("vGPU software {} is R{host_branch}", release.value))
                        .with_help(format!("install the guest driver of vGPU software {} (an R{host_branch} driver)", release.value))
                        .with_note("NVIDIA vGPU release notes for VMware vSphere, §1.2 \"Compatibility Requirements for the NVIDIA vGPU Manager and Guest VM Driver\": the same branch; from 15.0 also the previous branch; on a long-term support branch (19.x) also the previous long-term support branch (16.x); otherwise the vGPU fails to load"),
                );
            }
        }
    }
    let Some(cuda) = &guest.cuda else { return };
    let Some((linux_min, windows_min)) = tables::cuda_minimum(&cuda.value) else {
        let known = tables::CUDA_MINIMUM_DRIVER.iter().map(|(c, _, _)| *c).collect::<Vec<_>>().join(", ");
        out.push(
            Diagnostic::new(
                Code::UnknownCuda,
                format!("CUDA {} is not in the driver table", cuda.value),
                cuda.span,
                "unknown CUDA version",
            )
            .with_help(format!("write one of: {known}")),
        );
        return;
    };
    let Some(driver) = &guest.driver else { return };
    // A driver of the wrong branch is one mistake, already reported: its replacement decides
    // whether CUDA runs.
    if wrong_branch {
        return;
    }
    let windows = guest.os.as_ref().is_some_and(|o| o.value == GuestOs::Windows);
    let os = if windows { "Windows" } else { "Linux" };
    let Some(min) = (if windows { windows_min } else { Some(linux_min) }).filter(|m| driver.value < *m) else { return };
    // Minor-version compatibility: the driver of an older minor release of the same CUDA major
    // runs the toolkit, with a limited feature set, so no error (and no contradiction with the
    // guest-branch rule, which may hold the guest to an older branch).
    if let Some((family_linux, family_windows, next)) = tables::cuda_family_minimum(&cuda.value) {
        let family_min = if windows { family_windows } else { Some(family_linux) };
        let below_next = next.is_none_or(|n| windows || tables::branch_of_driver(&driver.value) < n);
        if family_min.is_some_and(|f| driver.value >= f) && below_next {
            return;
        }
    }
    let family =
        tables::cuda_family_minimum(&cuda.value).and_then(|(linux, windows_family, _)| if windows { windows_family } else { Some(linux) });
    let help = match family {
        Some(f) => format!(
            "install driver {min} or later for all of CUDA {}, or {f} or later for CUDA {}.x with minor-version compatibility (a limited feature set)",
            cuda.value,
            cuda.value.major()
        ),
        None => format!("install driver {min} or later, or use an older CUDA"),
    };
    out.push(
        Diagnostic::new(
            Code::CudaDriver,
            format!("CUDA {} needs {os} driver {} or later; VM `{}` has {}", cuda.value, family.unwrap_or(min), vm.name, driver.value),
            driver.span,
            format!("older than {}", family.unwrap_or(min)),
        )
        .with_label(cuda.span, format!("CUDA {} asks for driver {min} (minor-version compatibility: {})", cuda.value, family.map_or("none".to_string(), |f| f.to_string())))
        .with_help(help)
        .with_note("CUDA Toolkit Release Notes, \"Toolkit Driver Version\" table: minimum driver of each CUDA toolkit (9.1: GA minimum 387.26; the current table says 390.46); CUDA Compatibility, \"Minor Version Compatibility\": from CUDA 11.1, a family's minimum driver runs its later minors"),
    );
}
