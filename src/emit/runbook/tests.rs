//! The runbooks' shape, and runs of them on a fake ESXi host.
use super::*;
use crate::plan::driver_version;
use std::io::Write as _;
use std::path::PathBuf;
use std::process::Command;

/// The scripts of the first host of a spec text.
fn build(text: &str) -> Vec<(String, String)> {
    let checked = crate::test_support::checked(text);
    let plan = crate::plan::plan(&checked.model, &checked.analysis).expect("a plan");
    let vms: Vec<crate::model::VmId> = checked.model.vm_ids().filter(|&v| checked.model.vm(v).host == Some(HostId(0))).collect();
    scripts(&checked.model, &plan, HostId(0), &vms)
}

const GUIDE_VIB: &str = "/vmfs/volumes/ARL-ESX14-DS1/NVIDIA/NVIDIA-VMware_ESXi_6.7_Host_Driver_390.42-1OEM.670.0.0.7535516.vib";

fn guide_host(release: &str) -> String {
    format!(
        r#"
host esx14 {{
  address "esx14.lab.local"
  esxi    "6.7.0 U1"
  assignment performance
  graphics shared_direct
  bios {{ above_4g_decoding true }}
  nvidia {{
    vib     "{GUIDE_VIB}"
    release "{release}"
    scheduler equal_share
  }}
  gpu g0 {{ model tesla-p100-16gb  pci 0000:09:00.0  use vgpu }}
  gpu g1 {{ model tesla-p100-16gb  pci 0000:0a:00.0  use vgpu }}
}}
"#
    )
}

const LAB_HOST: &str = r#"
host esx14 {
  address "esx14.lab.local"
  esxi    "6.7.0 U1"
  nvidia {
    vib     "/vmfs/volumes/ARL-ESX14-DS1/NVIDIA/NVIDIA-VMware_ESXi_6.7_Host_Driver_390.42-1OEM.670.0.0.7535516.vib"
    release "6.2"
  }
  gpu g0 { model tesla-p100-16gb  pci 0000:09:00.0  use passthrough }
  gpu g1 { model tesla-p100-16gb  pci 0000:0a:00.0  use passthrough }
  gpu g2 { model tesla-v100d-32gb pci 0000:0b:00.0  use vgpu }
}
"#;

const NEW_HOST: &str = r#"
host esx80 {
  address "10.0.0.80"
  esxi    "8.0 U3"
  assignment consolidation
  nvidia {
    vib     "/vmfs/volumes/ds 1/NVD-VMware-x86_64-550.54.10-1OEM.800.1.0.20613240-bundle.zip"
    release "17.0"
    scheduler equal_share
    time_slice 3ms
  }
  gpu g0 { model nvidia-l40s pci 0000:3b:00.0 use vgpu mode mixed_size }
  gpu g1 { model nvidia-l40s pci 0000:5e:00.0 use passthrough }
}
"#;

const PASSTHROUGH_ONLY_65: &str = r#"
host ws1 {
  address "ws1.lab.local"
  esxi    "6.5 U1"
  bios { above_4g_decoding true }
  gpu g0 { model tesla-p100-16gb pci 0000:09:00.0 use passthrough }
}
"#;

/// The index of the first line containing `needle`.
fn line_of(text: &str, needle: &str) -> usize {
    text.lines().position(|l| l.contains(needle)).unwrap_or_else(|| panic!("`{needle}` not in:\n{text}"))
}

/// Commands (not comments, not echoed text) that run esxcli.
fn esxcli_commands(text: &str) -> Vec<&str> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.starts_with('#') && !l.starts_with("echo ") && !l.starts_with("fail ") && l.contains("esxcli "))
        .collect()
}

/// `sh`, or the shell in GPUC_TEST_SHELL (e.g. `busybox sh`, the ESXi shell's ash).
fn shell() -> Command {
    let words = std::env::var("GPUC_TEST_SHELL").unwrap_or_else(|_| "sh".to_string());
    let mut words = words.split_whitespace();
    let mut command = Command::new(words.next().unwrap_or("sh"));
    command.args(words);
    command
}

fn sh_n(name: &str, text: &str) {
    // Tests run in parallel: one directory per call.
    static CALLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let call = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("gpuc-runbook-{}-{call}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::File::create(&path).unwrap().write_all(text.as_bytes()).unwrap();
    let out = shell().arg("-n").arg(&path).output().expect("/bin/sh runs");
    assert!(out.status.success(), "sh -n {name}: {}\n{text}", String::from_utf8_lossy(&out.stderr));
    // shellcheck is a CI tool; run it too when it is installed here.
    if let Ok(out) = Command::new("shellcheck").args(["-s", "sh"]).arg(&path).output() {
        assert!(out.status.success(), "shellcheck {name}:\n{}\n{text}", String::from_utf8_lossy(&out.stdout));
    }
    let _ = std::fs::remove_dir_all(&dir);
}

fn check_all(scripts: &[(String, String)]) {
    for (name, text) in scripts {
        assert!(name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-'), "{name}");
        assert!(text.starts_with("#!/bin/sh\n"), "{name}");
        assert!(text.contains("\nset -eu\n"), "{name}");
        assert!(text.ends_with('\n') && !text.ends_with("\n\n"), "{name}");
        sh_n(name, text);
    }
}

#[test]
fn guide_vgpu_host_follows_the_guide_order() {
    let scripts = build(&guide_host("6.2"));
    let names: Vec<&str> = scripts.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["1-graphics.sh", "2-driver.sh", "3-ecc.sh", "4-finish.sh"]);
    check_all(&scripts);

    // Phase 1: graphics set to SharedPassthru, then a reboot as the last command.
    let first = &scripts[0].1;
    assert!(first.contains("esxcli graphics host set --default-type SharedPassthru --shared-passthru-assignment-policy Performance"));
    assert!(line_of(first, "if [ -f \"$pending\" ]; then") < line_of(first, "  reboot"), "{first}");
    assert!(first.contains("no change, no reboot; run 2-driver.sh now."));
    assert!(line_of(first, "maintenanceMode set --enable true") < line_of(first, "graphics host set"));
    assert!(first.contains("run 2-driver.sh"));
    // BIOS declared: no reminder.
    assert!(!first.contains("above-4G decoding must be enabled"));

    // Maintenance mode is entered (phase 1) before the VIB install (phase 2), which
    // re-checks it first.
    let second = &scripts[1].1;
    let install = format!("esxcli software vib install -v '{GUIDE_VIB}'");
    assert!(second.contains(&install), "{second}");
    assert!(line_of(second, "if [ -n \"$todo\" ] && ! esxcli system maintenanceMode get | grep -q Enabled") < line_of(second, &install));
    assert!(!scripts[0].1.contains("vib install"));
    assert!(second.contains("-p 'NVreg_RegistryDwords=RmPVMRL=0x01'"));
    assert!(second.trim_end().ends_with("\nfi") && second.contains("\n  reboot\n"));

    // ECC off before vGPU 9.0, per GPU, with a reboot; then verified.
    let third = &scripts[2].1;
    assert!(third.contains("nvidia-smi -i '0000:09:00.0' -e 0") && third.contains("nvidia-smi -i '0000:0a:00.0' -e 0"));
    assert!(line_of(third, "vmkload_mod -l | grep nvidia") < line_of(third, "-e 0"));
    assert!(third.contains("grep -q 'Host VGPU'"));
    let last = &scripts[3].1;
    assert!(last.contains("grep -Eq 'Current *: *(Disabled|N/A)'"));

    // Exit maintenance mode is the last esxcli command of the last script.
    let commands = esxcli_commands(last);
    assert_eq!(commands.last(), Some(&"esxcli system maintenanceMode set --enable false"), "{last}");
    assert!(last.contains("# Next: done: exit maintenance mode was the last step."));
    assert!(!last.contains("\nreboot"));
}

#[test]
fn undeclared_bios_is_a_reminder_before_maintenance_mode() {
    let spec = guide_host("6.2").replace("  bios { above_4g_decoding true }\n", "");
    let scripts = build(&spec);
    check_all(&scripts);
    let first = &scripts[0].1;
    assert_eq!(scripts[0].0, "1-graphics.sh");
    assert!(first.contains("# Before running it:\n#   - in the server BIOS of esx14, enable \"above 4G decoding\""), "{first}");
    assert!(line_of(first, "above-4G decoding must be enabled") < line_of(first, "maintenanceMode set --enable true"));
    assert!(!first.lines().any(|l| l.trim_start().starts_with("bios")), "nothing BIOS-related is executed");
}

#[test]
fn no_ecc_step_from_vgpu_9() {
    let scripts = build(&guide_host("9.0"));
    let names: Vec<&str> = scripts.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["1-graphics.sh", "2-driver.sh", "3-finish.sh"]);
    check_all(&scripts);
    assert!(scripts.iter().all(|(_, t)| !t.contains("-e 0") && !t.contains("Ecc Mode")));
    let last = &scripts.last().unwrap().1;
    assert_eq!(esxcli_commands(last).last(), Some(&"esxcli system maintenanceMode set --enable false"));
}

#[test]
fn esxi_6_passthrough_is_a_manual_client_step() {
    let scripts = build(LAB_HOST);
    check_all(&scripts);
    let all: String = scripts.iter().map(|(_, t)| t.as_str()).collect();
    assert!(!all.contains("pcipassthru set"));
    let (name, driver) = scripts.iter().find(|(_, t)| t.contains("Configure > Hardware > PCI Devices > Edit")).unwrap();
    assert_eq!(name, "2-driver.sh");
    assert!(driver.contains("tick esx14.g0 (0000:09:00.0), esx14.g1 (0000:0a:00.0)"));
    assert!(driver.contains("# Before running it:"));
    // Only the vGPU GPU has its ECC turned off.
    assert!(all.contains("nvidia-smi -i '0000:0b:00.0' -e 0") && !all.contains("'0000:09:00.0' -e 0"));
    // BIOS not declared: a manual reminder before maintenance mode, never executed.
    let first = &scripts[0].1;
    assert!(first.contains("# MANUAL, not done by this script (R6: a GPU that maps 16 GB or more needs above-4G decoding in the BIOS (VMware Learning Guide: GPUs for Machine Learning on vSphere, §5.1.1)):"));
    assert!(line_of(first, "above-4G decoding must be enabled") < line_of(first, "maintenanceMode set --enable true"));

    let scripts = build(PASSTHROUGH_ONLY_65);
    check_all(&scripts);
    let names: Vec<&str> = scripts.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["1-passthrough.sh", "2-finish.sh"]);
}

#[test]
fn esxi_8_passthrough_mixed_size_bundle_and_time_slice() {
    let scripts = build(NEW_HOST);
    check_all(&scripts);
    let all: String = scripts.iter().map(|(_, t)| t.as_str()).collect();
    assert!(
        all.contains("esxcli software vib install -d '/vmfs/volumes/ds 1/NVD-VMware-x86_64-550.54.10-1OEM.800.1.0.20613240-bundle.zip'")
    );
    assert!(all.contains("grep -qF -- '550.54.10-'"));
    assert!(all.contains("esxcli hardware pci pcipassthru set -d '0000:5e:00.0' -e true"));
    // NVIDIA vGPU UG 17 §2.11.2.2: the type with the mode, then a refresh, then the check.
    let set = "esxcli graphics device set --device-id='0000:3b:00.0' --type SharedPassthru --vgpu-mode=MixedSize";
    assert!(line_of(&all, set) < line_of(&all, "esxcli graphics host refresh"));
    // vGPU 17: equal share with a 3 ms slice is 0x00030003 by the §8.6.4 table, decoded in the comment.
    assert!(all.contains("-p 'NVreg_RegistryDwords=RmPVMRL=0x00030003'"));
    assert!(all.contains("# RmPVMRL 0x00030003: equal share without strict round-robin, 3 ms time slice."));
    assert!(all.contains("'GPU at 0000:3b:00.0 has software scheduler ENABLED with policy EQUAL_SHARE'"));
    // A vGPU 17 component ZIP brings the GPU Management Daemon, verified after the reboot.
    assert!(all.contains("esxcli software vib install -d \"$daemon_zip\""));
    assert!(all.contains("if ! /etc/init.d/nvdGpuMgmtDaemon status; then"));
    assert!(all.contains("--shared-passthru-assignment-policy Consolidation"));
    assert!(all.contains("esxcli hardware pci pcipassthru list\n"));
    assert!(!all.contains("-e 0"));
}

#[test]
fn a_host_without_gpus_has_no_scripts() {
    let scripts = build("host esx1 {\n  address \"esx1.lab.local\"\n  esxi \"7.0 U3\"\n}\n");
    assert!(scripts.is_empty());
}

#[test]
fn output_is_deterministic() {
    assert_eq!(build(LAB_HOST), build(LAB_HOST));
}

#[test]
fn sh_quote_round_trips() {
    for s in ["it's", "", "a b", "'", "''", "$(reboot) `x` \"y\" \\z", "/vmfs/volumes/ds 1/x.vib"] {
        let out = shell().arg("-c").arg(format!("printf '%s' {}", sh_quote(s))).output().expect("/bin/sh runs");
        assert!(out.status.success());
        assert_eq!(String::from_utf8(out.stdout).unwrap(), s);
    }
    assert_eq!(sh_quote("it's"), "'it'\\''s'");
}

#[test]
fn driver_versions_from_file_names() {
    assert_eq!(driver_version(GUIDE_VIB).as_deref(), Some("390.42"));
    assert_eq!(driver_version("/x/NVD-VMware-x86_64-525.125.03-1OEM.703.0.0.17630552-bundle.zip").as_deref(), Some("525.125.03"));
    assert_eq!(driver_version("/x/driver.vib"), None);
    // Found by fuzzing: a multi-byte character right before the version.
    assert_eq!(driver_version("/x/\u{fffd}-OEMib"), None);
    assert_eq!(driver_version("/x/é390.42-1OEM.vib").as_deref(), Some("390.42"));
}

/// A fake ESXi: `esxcli`, `nvidia-smi`, `vmkload_mod` and `reboot` keeping their state in
/// files, logging every call. Enough of each command's output for the scripts' checks.
const STUB: &str = r#"#!/bin/sh
S="$GPUC_STUB_STATE"
cmd=$(basename "$0")
echo "$cmd $*" >> "$S/log"
get() { if [ -f "$S/$1" ]; then cat "$S/$1"; else printf '%s' "$2"; fi; }
in_mm() { [ "$(get mm Disabled)" = Enabled ] || { echo "$cmd: not in maintenance mode" >&2; exit 1; }; }
case "$cmd $*" in
  "esxcli system hostname get") printf '   Domain Name: lab.local\n   Fully Qualified Domain Name: %s.lab.local\n   Host Name: %s\n' "$(get hostname esx14)" "$(get hostname esx14)" ;;
  "esxcli vm process list") if [ -f "$S/vms" ]; then while read -r vm; do printf '%s\n   World ID: 1\n   Display Name: %s\n\n' "$vm" "$vm"; done < "$S/vms"; fi ;;
  "esxcli system maintenanceMode get") get mm Disabled; echo ;;
  "esxcli system maintenanceMode set --enable true") printf Enabled > "$S/mm" ;;
  "esxcli system maintenanceMode set --enable false") printf Disabled > "$S/mm" ;;
  "esxcli graphics host get") printf '   Default Graphics Type: %s\n   Shared Passthru Assignment Policy: %s\n' "$(get type Shared)" "$(get policy Performance)" ;;
  "esxcli graphics host set --default-type "*) printf %s "$5" > "$S/type"; printf %s "$7" > "$S/policy" ;;
  "esxcli graphics host refresh") ;;
  "esxcli software vib list") echo "Name Version Vendor"; cat "$S/vibs" 2>/dev/null || true ;;
  "esxcli software vib install "*|"esxcli software vib update "*) in_mm; f=$(basename "$5"); if [ "$3" = update ] && [ -f "$S/vibs" ]; then case "$f" in *nvd-gpu-mgmt-daemon*) : ;; *) grep -v NVIDIA "$S/vibs" > "$S/vibs.new" || true; mv "$S/vibs.new" "$S/vibs" ;; esac; fi; case "$f" in *nvd-gpu-mgmt-daemon*) echo "nvdgpumgmtdaemon 1.0 NVD" >> "$S/vibs" ;; *) echo "${f%.*} NVIDIA VMwareAccepted" >> "$S/vibs" ;; esac ;;
  "esxcli system module parameters list -m nvidia") printf 'Name Type Value Description\n---- ---- ----- -----\nNVreg_RegistryDwords  string  %s  dwords\n' "$(get dwords '')" ;;
  "esxcli system module parameters set -m nvidia -p "*) v=$8; printf %s "${v#NVreg_RegistryDwords=}" > "$S/dwords" ;;
  "esxcli hardware pci pcipassthru list") echo "Device ID  Enabled"; for d in 0000:09:00.0 0000:0a:00.0 0000:0b:00.0 0000:3b:00.0 0000:5e:00.0; do if [ -f "$S/pt-$d" ]; then echo "$d true"; else echo "$d false"; fi; done ;;
  "esxcli hardware pci pcipassthru set -d "*" -e true") in_mm; : > "$S/pt-$6" ;;
  "esxcli graphics device list") for d in 0000:3b:00.0 0000:5e:00.0; do echo "$d"; echo "   Vendor Name: NVIDIA"; echo "   Graphics Type: $(get type Shared)"; echo "   vGPU Mode: $(get "mode-$d" SameSize)"; done ;;
  "esxcli graphics device set --device-id="*" --type SharedPassthru --vgpu-mode="*) d=${4#--device-id=}; printf %s "${7#--vgpu-mode=}" > "$S/mode-$d" ;;
  "vmkload_mod -l") echo "Name Used Size"; if [ -f "$S/loaded" ]; then echo "nvidia 2 1234"; fi ;;
  "nvdGpuMgmtDaemon status") [ -f "$S/loaded" ] && grep -q nvdgpumgmtdaemon "$S/vibs" ;;
  "nvdGpuMgmtDaemon stop") ;;
  "dmesg ") if [ -f "$S/loaded" ]; then for d in 0000:09:00.0 0000:0a:00.0 0000:0b:00.0 0000:3b:00.0; do echo "NVRM: GPU at $d has software scheduler ENABLED with policy EQUAL_SHARE."; done; fi ;;
  "reboot ") in_mm; if [ -s "$S/vibs" ]; then : > "$S/loaded"; fi; for f in "$S"/eccpend-*; do if [ -f "$f" ]; then cp "$f" "$S/ecccur-${f##*/eccpend-}"; fi; done ;;
  "nvidia-smi ") [ -f "$S/loaded" ] || exit 9; echo "NVIDIA-SMI 390.42" ;;
  "nvidia-smi -i "*" -q") [ -f "$S/loaded" ] || exit 9; printf 'GPU Virtualization Mode\n    Virtualization Mode : Host VGPU\nEcc Mode\n    Current : %s\n    Pending : %s\n' "$(get "ecccur-$2" Enabled)" "$(get "eccpend-$2" Enabled)" ;;
  "nvidia-smi -i "*" -e 0") [ -f "$S/loaded" ] || exit 9; printf Disabled > "$S/eccpend-$2" ;;
  *) echo "stub: unexpected: $cmd $*" >&2; exit 3 ;;
esac
"#;

struct FakeHost {
    dir: PathBuf,
}

impl FakeHost {
    /// A fake host named `hostname` (what `esxcli system hostname get` says).
    fn new(tag: &str, hostname: &str) -> FakeHost {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("gpuc-runbook-sim-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        for sub in ["bin", "state", "ds1", "scripts"] {
            std::fs::create_dir_all(dir.join(sub)).unwrap();
        }
        let stub = dir.join("bin/stub");
        std::fs::write(&stub, STUB).unwrap();
        std::fs::set_permissions(&stub, std::fs::Permissions::from_mode(0o755)).unwrap();
        for name in ["esxcli", "nvidia-smi", "vmkload_mod", "reboot", "dmesg", "nvdGpuMgmtDaemon"] {
            std::os::unix::fs::symlink(&stub, dir.join("bin").join(name)).unwrap();
        }
        std::fs::write(dir.join("state/hostname"), hostname).unwrap();
        FakeHost { dir }
    }

    fn vib(&self) -> String {
        let path = self.dir.join("ds1/NVIDIA-VMware_ESXi_6.7_Host_Driver_390.42-1OEM.670.0.0.7535516.vib");
        std::fs::write(&path, "vib").unwrap();
        path.to_str().unwrap().to_string()
    }

    /// A vGPU 17 host driver component, with the GPU Management Daemon component beside it.
    fn component(&self) -> String {
        std::fs::write(self.dir.join("ds1/nvd-gpu-mgmt-daemon_550.54.10-0.0.0000_1.zip"), "zip").unwrap();
        let path = self.dir.join("ds1/NVD-VGPU-800_550.54.10-1OEM.800.1.0.20613240_1.zip");
        std::fs::write(&path, "zip").unwrap();
        path.to_str().unwrap().to_string()
    }

    /// Runs one script; returns (success, stdout + stderr).
    fn run(&self, name: &str, text: &str) -> (bool, String) {
        let path = self.dir.join("scripts").join(name);
        // The daemon's init script lives at an absolute path: point it at the stub.
        let text = text.replace("/etc/init.d/nvdGpuMgmtDaemon", &self.dir.join("bin/nvdGpuMgmtDaemon").display().to_string());
        std::fs::write(&path, text).unwrap();
        let search = format!("{}:{}", self.dir.join("bin").display(), std::env::var("PATH").unwrap_or_default());
        let out = shell().arg(&path).env("PATH", search).env("GPUC_STUB_STATE", self.dir.join("state")).output().expect("/bin/sh runs");
        (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
    }

    fn state(&self, file: &str) -> String {
        std::fs::read_to_string(self.dir.join("state").join(file)).unwrap_or_default()
    }

    fn take_log(&self) -> String {
        let log = self.state("log");
        let _ = std::fs::remove_file(self.dir.join("state/log"));
        log
    }
}

impl Drop for FakeHost {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[test]
fn scripts_run_in_order_and_rerun_harmlessly_on_a_fake_host() {
    let host = FakeHost::new("guide", "esx14");
    let spec = guide_host("6.2").replace(GUIDE_VIB, &host.vib());
    let scripts = build(&spec);
    // Out of order: a later script refuses to start outside maintenance mode.
    let (ok, out) = host.run(&scripts[1].0, &scripts[1].1);
    assert!(!ok && out.contains("gpuc: esx14 is not in maintenance mode"), "{out}");
    assert!(!host.take_log().contains("vib install"));

    for (name, text) in &scripts {
        let (ok, out) = host.run(name, text);
        assert!(ok, "{name} failed:\n{out}");
    }
    assert_eq!(host.state("mm"), "Disabled");
    assert_eq!(host.state("type"), "SharedPassthru");
    assert_eq!(host.state("dwords"), "RmPVMRL=0x01");
    assert_eq!(host.state("ecccur-0000:09:00.0"), "Disabled");
    assert_eq!(host.state("ecccur-0000:0a:00.0"), "Disabled");
    let log = host.take_log();
    assert_eq!(log.matches("\nreboot").count() + usize::from(log.starts_with("reboot")), 3, "{log}");

    // The last script again, after the host was released: it only verifies.
    let (ok, out) = host.run(&scripts[3].0, &scripts[3].1);
    assert!(ok, "{out}");
    // The whole runbook again: nothing is installed or set a second time.
    host.take_log();
    for (name, text) in &scripts {
        let (ok, out) = host.run(name, text);
        assert!(ok, "{name} failed on a re-run:\n{out}");
    }
    let log = host.take_log();
    for mutation in ["vib install", "graphics host set", "parameters set", "-e 0", "maintenanceMode set", "reboot"] {
        assert!(!log.contains(mutation), "re-run did `{mutation}` again:\n{log}");
    }
    assert_eq!(host.state("vibs").lines().count(), 1);
}

#[test]
fn a_powered_on_vm_stops_the_runbook_before_maintenance_mode() {
    let host = FakeHost::new("vms", "esx14");
    let scripts = build(&guide_host("6.2").replace(GUIDE_VIB, &host.vib()));
    std::fs::write(host.dir.join("state/vms"), "ml-notebook-7\n").unwrap();
    let (ok, out) = host.run(&scripts[0].0, &scripts[0].1);
    assert!(!ok && out.contains("ml-notebook-7") && out.contains("through vCenter, where DRS evacuates the host"), "{out}");
    let log = host.take_log();
    assert!(log.contains("esxcli vm process list") && !log.contains("maintenanceMode set"), "{log}");
}

#[test]
fn a_script_refuses_another_host() {
    let host = FakeHost::new("other", "esx99");
    let scripts = build(&guide_host("6.2").replace(GUIDE_VIB, &host.vib()));
    let (ok, out) = host.run(&scripts[0].0, &scripts[0].1);
    assert!(!ok && out.contains("this script is for esx14 (esx14.lab.local), not for the host above"), "{out}");
    assert_eq!(host.take_log(), "esxcli system hostname get\n");
}

/// A vGPU 17 host on 16.x: graphics set, passthrough and scheduler in place.
const UPGRADE_HOST: &str = r#"
host esx80 {
  address "10.0.0.80"
  esxi    "8.0 U3"
  nvidia {
    vib     "COMPONENT"
    release "17.0"
    scheduler equal_share
    time_slice 3ms
  }
  installed {
    release "16.4"
    driver "535.161.05"
    graphics shared_direct
    passthrough g1
    parameters "RmPVMRL=0x00030003"
  }
  gpu g0 { model nvidia-l40s pci 0000:3b:00.0 use vgpu }
  gpu g1 { model nvidia-l40s pci 0000:5e:00.0 use passthrough }
}
"#;

#[test]
fn an_installed_release_is_updated_with_the_daemon_stopped() {
    let host = FakeHost::new("upgrade", "esx80");
    let scripts = build(&UPGRADE_HOST.replace("COMPONENT", &host.component()));
    let names: Vec<&str> = scripts.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["1-upgrade.sh", "2-finish.sh"]);
    check_all(&scripts);
    let all: String = scripts.iter().map(|(_, t)| t.as_str()).collect();
    assert!(!all.contains("graphics host set") && !all.contains("pcipassthru set") && !all.contains("parameters set"), "{all}");
    // The host runs 16.4 today.
    std::fs::write(
        host.dir.join("state/vibs"),
        "NVD-VGPU-800_535.161.05-1OEM.800.1.0.20613240_1 NVIDIA VMwareAccepted\nnvdgpumgmtdaemon 1.0 NVD\n",
    )
    .unwrap();
    for (file, text) in [("loaded", ""), ("type", "SharedPassthru"), ("pt-0000:5e:00.0", ""), ("dwords", "RmPVMRL=0x00030003")] {
        std::fs::write(host.dir.join("state").join(file), text).unwrap();
    }
    for (name, text) in &scripts {
        let (ok, out) = host.run(name, text);
        assert!(ok, "{name} failed:\n{out}");
    }
    let log = host.take_log();
    let stop = line_of(&log, "nvdGpuMgmtDaemon stop");
    assert!(stop < line_of(&log, "esxcli software vib update -d") && line_of(&log, "vib update -d") < line_of(&log, "reboot"), "{log}");
    assert!(log.contains("nvd-gpu-mgmt-daemon_550.54.10-0.0.0000_1.zip") && log.contains("nvdGpuMgmtDaemon status"), "{log}");
    // Again: nothing to change, no reboot.
    for (name, text) in &scripts {
        let (ok, out) = host.run(name, text);
        assert!(ok && (out.contains("nothing to change") || name.contains("finish")), "{name}:\n{out}");
    }
    let log = host.take_log();
    assert!(!log.contains("vib update") && !log.contains("reboot") && !log.contains("maintenanceMode set"), "{log}");
}

#[test]
fn a_host_that_runs_the_spec_gets_no_script() {
    let spec = UPGRADE_HOST
        .replace("\"16.4\"", "\"17.0\"")
        .replace("535.161.05", "550.54.10")
        .replace("COMPONENT", "/vmfs/volumes/ds1/NVD-VGPU-800_550.54.10-1OEM.800.1.0.20613240_1.zip");
    assert!(build(&spec).is_empty());
    // No file needed: the release is there (E1301 relaxed).
    let without_vib = spec.replace("    vib     \"/vmfs/volumes/ds1/NVD-VGPU-800_550.54.10-1OEM.800.1.0.20613240_1.zip\"\n", "");
    assert!(!without_vib.contains("vib "));
    assert!(build(&without_vib).is_empty());
}

#[test]
fn verification_fails_when_the_state_is_wrong() {
    let host = FakeHost::new("wrong", "esx14");
    let spec = guide_host("6.2").replace(GUIDE_VIB, &host.vib());
    let scripts = build(&spec);
    // Phases 1 and 2, but the VIB "fails to load": no module after the reboot.
    for (name, text) in &scripts[..2] {
        assert!(host.run(name, text).0, "{name}");
    }
    std::fs::remove_file(host.dir.join("state/loaded")).unwrap();
    let (ok, out) = host.run(&scripts[2].0, &scripts[2].1);
    assert!(!ok && out.contains("gpuc: esx14: the nvidia module is not loaded"), "{out}");
    assert!(!host.take_log().contains("-e 0"));
}

#[test]
fn esxi_8_scripts_run_on_a_fake_host() {
    let host = FakeHost::new("esx80", "esx80");
    let scripts =
        build(&NEW_HOST.replace("/vmfs/volumes/ds 1/NVD-VMware-x86_64-550.54.10-1OEM.800.1.0.20613240-bundle.zip", &host.component()));
    for (name, text) in &scripts {
        let (ok, out) = host.run(name, text);
        assert!(ok, "{name} failed:\n{out}");
    }
    assert_eq!(host.state("mode-0000:3b:00.0"), "MixedSize");
    assert_eq!(host.state("dwords"), "RmPVMRL=0x00030003");
    assert_eq!(host.state("policy"), "Consolidation");
    assert!(host.state("vibs").contains("nvdgpumgmtdaemon"));
    host.take_log();
    for (name, text) in &scripts {
        assert!(host.run(name, text).0, "{name}");
    }
    let log = host.take_log();
    for mutation in
        ["vib install", "graphics host set", "parameters set", "pcipassthru set", "graphics device set", "reboot", "maintenanceMode set"]
    {
        assert!(!log.contains(mutation), "re-run did `{mutation}` again:\n{log}");
    }
}
