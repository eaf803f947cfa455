//! `/etc/nvidia/gridd.conf` of a licensed Linux guest: where the NVIDIA driver gets its
//! licence and which product it asks for. Plain `Key=Value` lines with `#` comments, the
//! format of NVIDIA's `gridd.conf.template` (ref §7; seed §6.3.5).
//!
//! The file depends only on the licence and the feature type, so guests share it: one
//! `guests/gridd/<licence>.<feature>.conf` per pair in use ([`Shared::path`]), and each guest's
//! licence step in plan.md (and the Ansible guest play) names the one it takes. A file per
//! guest made 80,000 identical files of an estate of 10,000 hosts.

use crate::model::{GuestOs, LicenseId, LicenseKind, Model, Product, VmId};
use std::fmt::Write;

/// Where NLS client configuration tokens go in a Linux guest (ref §7.2).
const TOKEN_DIR: &str = "/etc/nvidia/ClientConfigToken/";

/// One shared gridd.conf: a licence and the `FeatureType` its guests ask for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Shared {
    pub licence: LicenseId,
    /// 1 (vGPU), 2 (RTX vWS / Quadro vDWS) or 4 (Virtual Compute Server), ref §7.1.
    pub feature_type: u8,
}

impl Shared {
    /// The file name under `guests/gridd/`: `<licence>.<feature>.conf`, feature `vgpu`, `vws` or
    /// `vcs`. A licence name is an identifier (letters, digits, `_`, `-`; no `.`), so two pairs
    /// never meet in one name and the name stays inside the folder.
    pub fn file_name(self, model: &Model) -> String {
        format!("{}.{}.conf", model.license(self.licence).name, self.feature())
    }

    /// The file's path under the output folder.
    pub fn path(self, model: &Model) -> String {
        format!("guests/gridd/{}", self.file_name(model))
    }

    fn feature(self) -> &'static str {
        match self.feature_type {
            1 => "vgpu",
            4 => "vcs",
            _ => "vws",
        }
    }

    fn guests(self) -> &'static str {
        match self.feature_type {
            1 => "vGPU guests",
            4 => "passthrough guests of Virtual Compute Server",
            _ => "passthrough guests of RTX vWS",
        }
    }
}

/// The shared gridd.conf of `vm`, or `None` when it has none: no guest licence, or a Windows
/// guest (Windows keeps these settings in the registry, ref §7). An undeclared OS counts as
/// Linux, the guide's guest (seed §6.3).
pub fn of(model: &Model, vm: VmId) -> Option<Shared> {
    let vm = model.vm(vm);
    let guest = vm.guest.as_ref()?;
    if guest.os.as_ref().is_some_and(|os| os.value == GuestOs::Windows) {
        return None;
    }
    let licence = guest.license.as_ref()?.value;
    let feature_type = if !vm.vgpus.is_empty() {
        // vGPU: the product follows the vGPU type (ref §7.1; seed §6.3.5 "Set the FeatureType entry to 1").
        1
    } else {
        match guest.product.as_ref().map(|p| p.value) {
            // Virtual Compute Server for passthrough (ref §7.1).
            Some(Product::Vcs) => 4,
            // Quadro vDWS / RTX vWS, for passthrough or bare metal (ref §7.1).
            Some(Product::Vws) | None => 2,
        }
    };
    Some(Shared { licence, feature_type })
}

/// The text of a shared gridd.conf.
pub fn text(model: &Model, shared: Shared) -> String {
    let license = model.license(shared.licence);
    let mut out = format!(
        "# gpuc: gridd.conf of licence {}, FeatureType {} ({}); plan.md names the guests that take it\n",
        license.name,
        shared.feature_type,
        shared.guests()
    );
    // Copy to /etc/nvidia/gridd.conf, then restart the service (ref §7; seed §6.3.5).
    out.push_str("# install as /etc/nvidia/gridd.conf, then: sudo systemctl restart nvidia-gridd\n");
    match &license.kind {
        // The legacy licence server; ports default to 7070 (ref §7.1).
        LicenseKind::Server { primary, backup } => {
            let _ = writeln!(out, "ServerAddress={}", primary.address.value);
            let _ = writeln!(out, "ServerPort={}", primary.port);
            if let Some(backup) = backup {
                let _ = writeln!(out, "BackupServerAddress={}", backup.address.value);
                let _ = writeln!(out, "BackupServerPort={}", backup.port);
            }
        }
        // NLS: no server in gridd.conf; the token file tells the driver where to go (ref §7.2).
        LicenseKind::Token { file } => {
            let _ = writeln!(out, "# NLS: copy the client configuration token {} to {TOKEN_DIR}", file.value);
            let _ = writeln!(out, "# then: chmod 744 {TOKEN_DIR}{}", file.value);
        }
    }
    let _ = writeln!(out, "FeatureType={}", shared.feature_type);
    out
}

/// The gridd.conf `vm`'s guest takes, or `None` (see [`of`]).
pub fn conf(model: &Model, vm: VmId) -> Option<String> {
    of(model, vm).map(|shared| text(model, shared))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::checked as build;

    fn conf_of(checked: &crate::Checked, name: &str) -> Option<String> {
        conf(&checked.model, crate::test_support::vm(checked, name))
    }

    const LEGACY: &str = r#"
license main { server "10.1.2.3"  port 7070  backup "10.1.2.4"  backup_port 7071 }
license solo { server "lic.lab.local" }
host esx14 {
  address "esx14.lab.local"
  esxi "6.7.0 U1"
  bios { above_4g_decoding true }
  nvidia { vib "/vmfs/volumes/ds1/NVIDIA.vib"  release "6.2" }
  gpu g0 { model tesla-p100-16gb  pci 0000:09:00.0  use passthrough }
  gpu g1 { model tesla-p100-16gb  pci 0000:0a:00.0  use passthrough }
  gpu g2 { model tesla-v100d-32gb pci 0000:0b:00.0  use vgpu }
  gpu g3 { model tesla-p100-16gb  pci 0000:0c:00.0  use passthrough }
}
vm trainer {
  host esx14  memory 128GiB  firmware efi
  passthrough g0, g1
  guest { os linux driver "390.42" license main product vws }
}
vm viz {
  host esx14  memory 32GiB  firmware efi
  vgpu grid_v100d-8q
  guest { driver "390.42" license solo }
}
vm compute {
  host esx14  memory 32GiB  firmware efi
  passthrough g3
  guest { os linux license main product vcs }
}
vm win {
  host esx14  memory 32GiB  firmware efi
  vgpu grid_v100d-8q
  guest { os windows driver "390.42" license main }
}
vm cpu { host esx14 memory 4GiB guest { os linux } }
"#;

    #[test]
    fn passthrough_vws_with_backup_server() {
        let c = build(LEGACY);
        assert_eq!(
            conf_of(&c, "trainer").as_deref(),
            Some(
                "# gpuc: gridd.conf of licence main, FeatureType 2 (passthrough guests of RTX vWS); plan.md names the guests that take it\n\
                 # install as /etc/nvidia/gridd.conf, then: sudo systemctl restart nvidia-gridd\n\
                 ServerAddress=10.1.2.3\n\
                 ServerPort=7070\n\
                 BackupServerAddress=10.1.2.4\n\
                 BackupServerPort=7071\n\
                 FeatureType=2\n"
            )
        );
    }

    #[test]
    fn vgpu_guest_without_os_is_linux() {
        let c = build(LEGACY);
        assert_eq!(
            conf_of(&c, "viz").as_deref(),
            Some(
                "# gpuc: gridd.conf of licence solo, FeatureType 1 (vGPU guests); plan.md names the guests that take it\n\
                 # install as /etc/nvidia/gridd.conf, then: sudo systemctl restart nvidia-gridd\n\
                 ServerAddress=lic.lab.local\n\
                 ServerPort=7070\n\
                 FeatureType=1\n"
            )
        );
    }

    #[test]
    fn passthrough_vcs_is_feature_type_4() {
        let c = build(LEGACY);
        let text = conf_of(&c, "compute").unwrap();
        assert!(text.ends_with("BackupServerPort=7071\nFeatureType=4\n"), "{text}");
    }

    #[test]
    fn windows_and_unlicensed_guests_have_none() {
        let c = build(LEGACY);
        assert_eq!(conf_of(&c, "win"), None);
        assert_eq!(conf_of(&c, "cpu"), None);
    }

    #[test]
    fn one_file_per_licence_and_feature_type() {
        let c = build(LEGACY);
        let path = |name: &str| of(&c.model, crate::test_support::vm(&c, name)).map(|shared| shared.path(&c.model));
        assert_eq!(path("trainer").as_deref(), Some("guests/gridd/main.vws.conf"));
        assert_eq!(path("compute").as_deref(), Some("guests/gridd/main.vcs.conf"));
        assert_eq!(path("viz").as_deref(), Some("guests/gridd/solo.vgpu.conf"));
        assert_eq!(path("win"), None);
        assert_eq!(path("cpu"), None);
    }

    #[test]
    fn nls_token() {
        let spec = r#"
license nls { token "client_configuration_token_04-01-2025-10-00-00.tok" }
host h {
  address "h.lab"  esxi "8.0 U3"
  nvidia { vib "/vmfs/volumes/ds1/NVIDIA.zip"  release "17.1" }
  gpu g0 { model tesla-t4 pci 0000:3b:00.0 use vgpu }
}
vm v {
  host h  memory 16GiB
  vgpu grid_t4-4q
  guest { os linux driver "550.54" license nls }
}
"#;
        let c = build(spec);
        assert_eq!(
            conf_of(&c, "v").as_deref(),
            Some(
                "# gpuc: gridd.conf of licence nls, FeatureType 1 (vGPU guests); plan.md names the guests that take it\n\
                 # install as /etc/nvidia/gridd.conf, then: sudo systemctl restart nvidia-gridd\n\
                 # NLS: copy the client configuration token client_configuration_token_04-01-2025-10-00-00.tok to /etc/nvidia/ClientConfigToken/\n\
                 # then: chmod 744 /etc/nvidia/ClientConfigToken/client_configuration_token_04-01-2025-10-00-00.tok\n\
                 FeatureType=1\n"
            )
        );
    }
}
