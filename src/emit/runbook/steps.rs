//! The shell text of each host step: what it checks, what it changes, what it verifies.

use super::script::{sh_quote, Script};
use super::Ctx;
use crate::model::{GpuId, VgpuMode};
use crate::plan::{driver_version, registry_dwords, Action, Rmpvmrl};

/// What the GPU Management Daemon component's file name contains (`nvd-gpu-mgmt-daemon_<driver>
/// -0.0.0000_<build>.zip` on vSphere 8; `VMW-esx-7.0.2-nvd-gpu-mgmt-daemon-1.0-0.0.0001` in
/// NVIDIA vGPU UG 17 §2.9.1.1), and its VIB name in `esxcli software vib list`.
const DAEMON_FILE: &str = "nvd-gpu-mgmt-daemon";
const DAEMON_VIB: &str = "nvdgpumgmtdaemon";
/// The daemon's init script (NVIDIA vGPU UG 17 §2.9.1.4).
const DAEMON_INIT: &str = "/etc/init.d/nvdGpuMgmtDaemon";

/// One line saying what a step does (header and step comment).
pub(super) fn describe(ctx: &Ctx, action: &Action) -> String {
    match action {
        Action::EnableInBios { setting } => format!("MANUAL: enable {} in the server BIOS", setting.name()),
        Action::SetMigMode { gpus, enable } => format!("turn MIG mode {} for {}", if *enable { "on" } else { "off" }, ctx.gpu_list(gpus)),
        Action::VerifyMigMode { gpus, enable } => {
            format!("verify MIG mode is {} for {}", if *enable { "on" } else { "off" }, ctx.gpu_list(gpus))
        }
        Action::EnterMaintenanceMode => "enter maintenance mode (stops first if VMs are powered on)".to_string(),
        Action::SetHostGraphics { policy } => {
            format!("set the host graphics type to SharedPassthru, assignment policy {}", policy.esxcli())
        }
        Action::Reboot { reason } => format!("reboot if this phase changed something: {reason}"),
        Action::InstallHostDriver { path, daemon } => {
            let file = path.rsplit('/').next().unwrap_or(path);
            let daemon = if *daemon { " and the GPU Management Daemon component" } else { "" };
            format!("install the NVIDIA Virtual GPU Manager {file}{daemon}")
        }
        Action::UpdateHostDriver { path, from, .. } => {
            let file = path.rsplit('/').next().unwrap_or(path);
            format!("update the NVIDIA Virtual GPU Manager from vGPU {from} to {file}")
        }
        Action::AddToClusterImage { path, .. } => {
            let file = path.rsplit('/').next().unwrap_or(path);
            format!("MANUAL: add {file} to the cluster image (vLCM) and remediate the host")
        }
        Action::EnablePassthrough { gpus } => format!("enable passthrough (DirectPath I/O) on {}", ctx.gpu_list(gpus)),
        Action::EnablePassthroughInClient { gpus } => format!("MANUAL: enable passthrough on {} in the vSphere Client", ctx.gpu_list(gpus)),
        Action::DisablePassthrough { gpus, in_client: false } => {
            format!("disable passthrough on {} (shared by vGPU now)", ctx.gpu_list(gpus))
        }
        Action::DisablePassthrough { gpus, in_client: true } => {
            format!("MANUAL: disable passthrough on {} in the vSphere Client (shared by vGPU now)", ctx.gpu_list(gpus))
        }
        Action::SetVgpuMode { gpu, mode } => {
            format!("set {} to {} vGPU mode", ctx.gpu_list(&[*gpu]), mode.describe())
        }
        Action::SetModuleParameters { rmpvmrl, vgpu_migration } => {
            let dwords = registry_dwords(*rmpvmrl, *vgpu_migration);
            match rmpvmrl {
                Some(r) => format!("set the nvidia module parameters: {dwords} ({})", r.meaning()),
                None => format!("set the nvidia module parameters: {dwords} (vGPU migration)"),
            }
        }
        Action::VerifyHostDriver { daemon } => {
            let daemon = if *daemon { ", GPU Management Daemon" } else { "" };
            format!("verify the vGPU manager: VIB, nvidia module{daemon}, nvidia-smi, Host VGPU mode, host graphics")
        }
        Action::VerifyScheduler { rmpvmrl } => format!("verify the vGPU scheduler in the vmkernel log ({})", rmpvmrl.meaning()),
        Action::VerifyPassthrough { gpus } => format!("verify passthrough is enabled on {}", ctx.gpu_list(gpus)),
        Action::DisableEcc { gpus } => format!("disable ECC on {}", ctx.gpu_list(gpus)),
        Action::VerifyEccDisabled { gpus } => format!("verify ECC is disabled on {}", ctx.gpu_list(gpus)),
        Action::ExitMaintenanceMode => "exit maintenance mode".to_string(),
        other => format!("MANUAL: {other:?} (not a host step)"),
    }
}

/// The folder of a datastore path, with a trailing `/`.
fn folder(path: &str) -> &str {
    path.rfind('/').map_or("/", |i| &path[..=i])
}

/// What the operator does by hand before running the script.
pub(super) fn before_running(ctx: &Ctx, action: &Action) -> Option<String> {
    let daemon_text = |path: &str| {
        format!(" and the GPU Management Daemon component (*{DAEMON_FILE}*.zip, extracted from the same NVIDIA ZIP) to {}", folder(path))
    };
    match action {
        Action::EnableInBios { setting } => Some(format!("in the server BIOS of {}, enable {}", ctx.name, setting.where_to_find())),
        Action::EnablePassthroughInClient { gpus } => Some(format!(
            "in the vSphere Client, host {} > Configure > Hardware > PCI Devices > Edit, tick {} and click OK",
            ctx.name,
            ctx.gpu_list(gpus)
        )),
        Action::DisablePassthrough { gpus, in_client: true } => Some(format!(
            "in the vSphere Client, host {} > Configure > Hardware > PCI Devices > Edit, untick {} and click OK",
            ctx.name,
            ctx.gpu_list(gpus)
        )),
        Action::InstallHostDriver { path, daemon } | Action::UpdateHostDriver { path, daemon, .. } => {
            let daemon = if *daemon { daemon_text(path) } else { String::new() };
            Some(format!("copy the host driver component to {path}{daemon}"))
        }
        Action::AddToClusterImage { .. } => Some(format!(
            "add the NVIDIA components to the cluster image and remediate {} (vSphere Client: cluster > Updates > Hosts > Image > Edit > Components > Add Components; see plan.md)",
            ctx.name
        )),
        _ => None,
    }
}

/// Fails unless the script runs on its host: the host name (or the address, when it is a
/// name) against `esxcli system hostname get`, and the UUID where the spec gives `system_id`.
pub(super) fn check_identity(ctx: &Ctx, s: &mut Script) {
    let host = ctx.model.host(ctx.host);
    let mut names = vec![ctx.name.to_ascii_lowercase()];
    if !host.address.is_empty() && host.address.parse::<std::net::IpAddr>().is_err() {
        let address = host.address.to_ascii_lowercase();
        let short = address.split('.').next().unwrap_or(&address).to_string();
        for n in [address, short] {
            if !names.contains(&n) {
                names.push(n);
            }
        }
    }
    let expected: Vec<String> = names.iter().map(|n| format!("-e {}", sh_quote(n))).collect();
    s.comment(&format!("Written for {} ({}): stop on any other host.", ctx.name, host.address));
    s.line("host_names=$(esxcli system hostname get)");
    s.open(&format!(
        "if ! printf '%s\\n' \"$host_names\" | awk -F': *' '/Host Name:|Fully Qualified Domain Name:/ {{ print tolower($2) }}' | grep -qxF {}; then",
        expected.join(" ")
    ));
    s.line("printf '%s\\n' \"$host_names\" >&2");
    s.fail(&format!(
        "this script is for {} ({}), not for the host above; run the scripts of that host's own folder there",
        ctx.name, host.address
    ));
    s.close();
    if let Some(uuid) = &host.system_id {
        s.open(&format!("if [ \"$(esxcli system uuid get)\" != {} ]; then", sh_quote(uuid)));
        s.fail(&format!("this host's UUID (esxcli system uuid get) is not {uuid}, the system_id of {} in the spec", ctx.name));
        s.close();
    }
    s.line("");
}

/// A change a step makes: the shell condition that holds once it is made.
pub(super) struct Check {
    label: String,
    done: String,
}

/// The phase of `script` rebooted once after its changes: its `.done` file exists.
fn phase_done(script: &str) -> String {
    format!("[ -f \"$(dirname \"$0\")/{}.done\" ]", script.trim_end_matches(".sh"))
}

fn driver_done(path: &str) -> String {
    match driver_version(path) {
        Some(version) => format!("esxcli software vib list | grep -i nvidia | grep -qF -- {}", sh_quote(&format!("{version}-"))),
        None => "esxcli software vib list | grep -qi nvidia".to_string(),
    }
}

fn daemon_done() -> String {
    format!("esxcli software vib list | grep -qi {DAEMON_VIB}")
}

fn graphics_done(policy: &str) -> String {
    format!(
        "esxcli graphics host get | grep -q 'Default Graphics Type: *SharedPassthru' && esxcli graphics host get | grep -q {}",
        sh_quote(&format!("Shared Passthru Assignment Policy: *{policy}"))
    )
}

fn passthrough_done(pci: &str) -> String {
    format!("esxcli hardware pci pcipassthru list | awk -v dev={} 'tolower($1) == dev {{ print $2 }}' | grep -qx true", sh_quote(pci))
}

fn passthrough_off(pci: &str) -> String {
    format!("esxcli hardware pci pcipassthru list | awk -v dev={} 'tolower($1) == dev {{ print $2 }}' | grep -qx false", sh_quote(pci))
}

/// The device's block of `esxcli graphics device list` names its mode. NVIDIA shows no sample
/// output (vGPU UG 17 §2.11.2.2), so the block is searched for `MixedSize`/`SameSize`.
fn mode_done(pci: &str, mode: VgpuMode) -> String {
    // The plan switches MIG with nvidia-smi, never with esxcli (SetMigMode).
    let pattern = match mode {
        VgpuMode::MixedSize => "mixed ?size",
        VgpuMode::SameSize | VgpuMode::Mig => "same ?size",
    };
    format!("{} | grep -Eqi '{pattern}'", device_block(pci))
}

/// The lines of one device's block in `esxcli graphics device list` (headed by its address).
fn device_block(pci: &str) -> String {
    format!(
        "esxcli graphics device list | awk -v dev={} 'index(tolower($0), dev) == 1 {{ on = 1; next }} /^[^[:space:]]/ {{ on = 0 }} on'",
        sh_quote(pci)
    )
}

fn parameters_done(dwords: &str) -> String {
    // The whole value, between blanks: `0x01` must not match inside `0x01;...`.
    format!(
        "esxcli system module parameters list -m nvidia | grep -E '^NVreg_RegistryDwords[[:space:]]' | grep -qE -- {}",
        sh_quote(&format!("[[:space:]]{dwords}([[:space:]]|$)"))
    )
}

fn ecc_block(pci: &str) -> String {
    format!("nvidia-smi -i {} -q | grep -i -A2 'Ecc Mode'", sh_quote(pci))
}

fn ecc_done(pci: &str) -> String {
    format!("{} | grep -Eq 'Pending *: *(Disabled|N/A)'", ecc_block(pci))
}

/// The changes a step makes, as conditions that hold once they are made.
pub(super) fn checks(ctx: &Ctx, script: &str, action: &Action) -> Vec<Check> {
    let per_gpu = |gpus: &[GpuId], what: &str, done: &dyn Fn(&str) -> String| -> Vec<Check> {
        gpus.iter().filter_map(|&g| ctx.pci(g)).map(|pci| Check { label: format!("{what}-{pci}"), done: done(&pci) }).collect()
    };
    match action {
        Action::SetHostGraphics { policy } => vec![Check { label: "graphics".to_string(), done: graphics_done(policy.esxcli()) }],
        Action::InstallHostDriver { path, daemon } | Action::UpdateHostDriver { path, daemon, .. } => {
            let mut checks = vec![Check { label: "driver".to_string(), done: driver_done(path) }];
            if *daemon {
                checks.push(Check { label: "daemon".to_string(), done: daemon_done() });
            }
            checks
        }
        Action::EnablePassthrough { gpus } => per_gpu(gpus, "passthrough", &passthrough_done),
        Action::DisablePassthrough { gpus, in_client: false } => per_gpu(gpus, "no-passthrough", &passthrough_off),
        Action::DisablePassthrough { in_client: true, .. } => {
            vec![Check { label: "passthrough-reboot".to_string(), done: phase_done(script) }]
        }
        Action::SetVgpuMode { gpu, mode } => per_gpu(&[*gpu], "vgpu-mode", &|pci: &str| mode_done(pci, *mode)),
        Action::SetMigMode { gpus, enable } => per_gpu(gpus, "mig", &|pci: &str| mig_done(pci, "pending", *enable)),
        Action::SetModuleParameters { rmpvmrl, vgpu_migration } => {
            vec![Check { label: "parameters".to_string(), done: parameters_done(&registry_dwords(*rmpvmrl, *vgpu_migration)) }]
        }
        Action::DisableEcc { gpus } => per_gpu(gpus, "ecc", &ecc_done),
        Action::EnablePassthroughInClient { .. } => vec![Check { label: "passthrough-reboot".to_string(), done: phase_done(script) }],
        _ => Vec::new(),
    }
}

/// What is still to change (`$todo`), checked before anything is done, and the pending file
/// that makes the phase's reboot happen only after a change.
pub(super) fn pending_changes(ctx: &Ctx, s: &mut Script, this: &str, checks: &[Check], records: bool) {
    if records {
        s.comment("Changes made by this phase and not yet followed by its reboot are listed in this file.");
        s.line("pending=\"${0%.sh}.pending\"");
        s.line("changed() {");
        s.line("  echo \"$*\" >> \"$pending\"");
        s.line("}");
    }
    s.comment("What is still to change, checked before anything is done.");
    s.line("todo=''");
    for check in checks {
        s.line_of(&["if ! { ", &check.done, "; } > /dev/null 2>&1; then todo=\"$todo ", &check.label, "\"; fi"]);
    }
    if records {
        s.line("if [ -f \"$pending\" ]; then todo=\"$todo reboot\"; fi");
    }
    s.open("if [ -n \"$todo\" ]; then");
    s.line(&format!("echo {}\"$todo\"", sh_quote(&format!("{}: {this}: to do:", ctx.name))));
    s.mid("else");
    s.say(&format!("{}: {this}: nothing to change", ctx.name));
    s.close();
    s.line("");
}

/// Enters maintenance mode when something is to change, after making sure no VM runs.
pub(super) fn enter_maintenance(ctx: &Ctx, s: &mut Script, this: &str) {
    let model = ctx.model;
    let vms = |passthrough: bool| -> String {
        let names: Vec<&str> = ctx
            .vms
            .iter()
            .map(|&vm| model.vm(vm))
            .filter(|vm| if passthrough { !vm.passthrough.is_empty() } else { !vm.vgpus.is_empty() })
            .map(|vm| vm.name.as_str())
            .collect();
        if names.is_empty() {
            "none".to_string()
        } else {
            names.join(", ")
        }
    };
    s.comment("esxcli waits while VMs run and does not move them (VMware vSphere Command-Line Interface Concepts and");
    s.comment("Examples 6.7, Enter and Exit Maintenance Mode with ESXCLI), so the powered-on VMs are listed first");
    s.comment("(esxcli vm process list, as in VMware ESXi Upgrade 7.0, Place a Host in Maintenance Mode).");
    s.open("if [ -z \"$todo\" ]; then");
    s.say(&format!("{}: nothing to change, no maintenance mode", ctx.name));
    s.mid("elif esxcli system maintenanceMode get | grep -q Enabled; then");
    s.say(&format!("{}: already in maintenance mode", ctx.name));
    s.mid("else");
    s.line("running=$(esxcli vm process list | grep -v '^[[:space:]]' | grep -v '^$' || true)");
    s.open("if [ -n \"$running\" ]; then");
    s.line(&format!("echo {} >&2", sh_quote(&format!("{}: these VMs are powered on:", ctx.name))));
    s.line("printf '%s\\n' \"$running\" >&2");
    s.fail(&format!(
        "{}: move or power off the VMs above, then re-run {this}: vMotion the vGPU VMs that allow it (vgpu.hotmigrate.enabled; in the spec: {}), power off passthrough VMs, which cannot vMotion (in the spec: {}); or enter maintenance mode through vCenter, where DRS evacuates the host",
        ctx.name,
        vms(false),
        vms(true)
    ));
    s.close();
    s.line("esxcli system maintenanceMode set --enable true");
    s.close();
}

pub(super) fn exit_maintenance(ctx: &Ctx, s: &mut Script) {
    s.open("if esxcli system maintenanceMode get | grep -q Enabled; then");
    s.line("esxcli system maintenanceMode set --enable false");
    s.mid("else");
    s.say(&format!("{}: already out of maintenance mode", ctx.name));
    s.close();
}

/// Reboots when the phase recorded a change (now or in an earlier, interrupted run).
pub(super) fn reboot(ctx: &Ctx, s: &mut Script, next: Option<&str>, maintenance: bool) {
    s.open("if [ -f \"$pending\" ]; then");
    s.say(&format!("{}: changed in this phase:", ctx.name));
    s.line("cat \"$pending\"");
    if !maintenance {
        s.open("if ! esxcli system maintenanceMode get | grep -q Enabled; then");
        s.fail(&format!("{} must be in maintenance mode before it reboots", ctx.name));
        s.close();
    }
    s.comment("The changes move to the .done file beside the script: what this phase did, and that it rebooted.");
    s.line("cat \"$pending\" >> \"${0%.sh}.done\"");
    s.line("rm -f \"$pending\"");
    let (now, none) = match next {
        Some(next) => (
            format!("{}: rebooting now. When the host is back up, run {next} in its ESXi shell.", ctx.name),
            format!("{}: no change, no reboot; run {next} now.", ctx.name),
        ),
        None => (
            format!("{}: rebooting now; this was the last script.", ctx.name),
            format!("{}: no change, no reboot; this was the last script.", ctx.name),
        ),
    };
    s.say(&now);
    s.line("reboot");
    s.mid("else");
    s.say(&none);
    s.close();
}

/// Every other step.
pub(super) fn step(ctx: &Ctx, s: &mut Script, this: &str, action: &Action) {
    match action {
        Action::EnableInBios { setting } => {
            s.comment(&format!("MANUAL, not done by this script ({}):", setting.why()));
            s.comment(&format!("before running this script, enable {} in the server BIOS.", setting.where_to_find()));
            s.say(&format!("{}: reminder: {} must be enabled in the server BIOS; this script assumes it is.", ctx.name, setting.name()));
        }
        Action::DisablePassthrough { gpus, in_client: true } => {
            let list = ctx.gpu_list(gpus);
            s.comment(&format!("MANUAL, not done by this script: untick {list} in the vSphere Client"));
            s.comment(&format!(
                "(host {} > Configure > Hardware > PCI Devices > Edit) before running it; the reboot below applies it.",
                ctx.name
            ));
            s.say(&format!(
                "{}: reminder: passthrough must be unticked in the vSphere Client for {list} before the reboot at the end of this script.",
                ctx.name
            ));
            s.open(&format!("if {}; then", phase_done(this)));
            s.say(&format!("{}: passthrough was unticked and the host rebooted in an earlier run", ctx.name));
            s.mid("else");
            s.changed(&format!("passthrough unticked in the vSphere Client for {list}"));
            s.close();
        }
        Action::DisablePassthrough { gpus, in_client: false } => {
            s.comment("These GPUs are shared by vGPU now; a passthrough device is not (the change takes effect at the reboot).");
            let command = |pci: &str| format!("esxcli hardware pci pcipassthru set -d {} -e false", sh_quote(pci));
            let change = GpuChange {
                done: &passthrough_off,
                already: "passthrough already disabled",
                command: &command,
                changed: "passthrough disabled on",
                records: &|_| true,
            };
            change_each_gpu(ctx, s, gpus, &change);
        }
        Action::EnablePassthroughInClient { gpus } => {
            let list = ctx.gpu_list(gpus);
            s.comment(&format!(
                "MANUAL, not done by this script: ESXi {} has no esxcli command for passthrough.",
                ctx.model.host(ctx.host).esxi.value
            ));
            s.comment(&format!("vSphere Client: host {} > Configure > Hardware > PCI Devices > Edit,", ctx.name));
            s.comment(&format!("tick {list}, click OK; then this script reboots the host and the devices become available"));
            s.comment(
                "for passthrough (VMware Learning Guide: GPUs for Machine Learning on vSphere, §5.1.2). Do it before running this script.",
            );
            s.say(&format!(
                "{}: reminder: passthrough must be ticked in the vSphere Client (Configure > Hardware > PCI Devices > Edit) for {list} before the reboot at the end of this script.",
                ctx.name
            ));
            s.comment("No esxcli shows the ticks on ESXi 6.x: the first run records the change (and reboots), later runs do not.");
            s.open(&format!("if {}; then", phase_done(this)));
            s.say(&format!("{}: passthrough was ticked and the host rebooted in an earlier run", ctx.name));
            s.mid("else");
            s.changed(&format!("passthrough ticked in the vSphere Client for {list}"));
            s.close();
        }
        Action::AddToClusterImage { path, .. } => {
            let file = path.rsplit('/').next().unwrap_or(path);
            s.comment("MANUAL, not done by this script: the host's cluster is managed with a single image (vLCM); an");
            s.comment("esxcli install would make the host non-compliant with it (VMware Managing Host and Cluster Lifecycle 8.0,");
            s.comment(&format!("Cluster and Host Compliance). Add {file} (and the GPU Management Daemon component) to the"));
            s.comment("cluster image: vSphere Client > cluster > Updates > Hosts > Image > Edit > Components > Add");
            s.comment(&format!("Components, Validate, Save; then Remediate {}. plan.md has the whole instruction.", ctx.name));
            s.say(&format!(
                "{}: reminder: the NVIDIA components come from the cluster image (vLCM): remediate the host, not esxcli.",
                ctx.name
            ));
        }
        Action::SetHostGraphics { policy } => set_graphics(ctx, s, policy.esxcli()),
        Action::InstallHostDriver { path, daemon } => install_driver(ctx, s, path, *daemon),
        Action::UpdateHostDriver { path, daemon, from } => update_driver(ctx, s, path, *daemon, from),
        Action::EnablePassthrough { gpus } => enable_passthrough(ctx, s, gpus),
        Action::SetVgpuMode { gpu, mode } => set_vgpu_mode(ctx, s, *gpu, *mode),
        Action::SetMigMode { gpus, enable } => set_mig_mode(ctx, s, gpus, *enable),
        Action::VerifyMigMode { gpus, enable } => verify_mig_mode(ctx, s, gpus, *enable),
        Action::SetModuleParameters { rmpvmrl, vgpu_migration } => set_module_parameters(ctx, s, *rmpvmrl, *vgpu_migration),
        Action::VerifyHostDriver { daemon } => verify_driver(ctx, s, *daemon),
        Action::VerifyScheduler { rmpvmrl } => verify_scheduler(ctx, s, *rmpvmrl),
        Action::VerifyPassthrough { gpus } => verify_passthrough(ctx, s, gpus),
        Action::DisableEcc { gpus } => disable_ecc(ctx, s, gpus),
        Action::VerifyEccDisabled { gpus } => verify_ecc(ctx, s, gpus),
        other => {
            s.comment(&format!("MANUAL, not done by this script: {}", describe(ctx, other)));
            s.say(&format!("{}: manual step: {}", ctx.name, describe(ctx, other)));
        }
    }
}

fn set_graphics(ctx: &Ctx, s: &mut Script, policy: &str) {
    s.open(&format!("if {}; then", graphics_done(policy)));
    s.say(&format!("{}: host graphics already SharedPassthru, {policy}", ctx.name));
    s.mid("else");
    s.line(&format!("esxcli graphics host set --default-type SharedPassthru --shared-passthru-assignment-policy {policy}"));
    s.changed(&format!("host graphics SharedPassthru, {policy}"));
    s.close();
}

/// Sets `daemon_zip` to the GPU Management Daemon component beside the host driver component:
/// the one whose name has the driver's version (vSphere 8 names such as
/// `nvd-gpu-mgmt-daemon_550.54.16-0.0.0000_<build>.zip`), else any.
fn find_daemon(ctx: &Ctx, s: &mut Script, path: &str) {
    let dir = folder(path);
    s.line("daemon_zip=''");
    s.open(&format!("for f in {}*{DAEMON_FILE}*.zip; do", sh_quote(dir)));
    match driver_version(path) {
        Some(version) => {
            s.open("case \"$f\" in");
            s.line(&format!("*{}*) daemon_zip=$f ;;", sh_quote(&version)));
            s.line("*) if [ -z \"$daemon_zip\" ] && [ -f \"$f\" ]; then daemon_zip=$f; fi ;;");
            s.close_with("esac");
        }
        None => {
            s.open("if [ -f \"$f\" ]; then");
            s.line("daemon_zip=$f");
            s.close();
        }
    }
    s.close_with("done");
    s.open("if [ -z \"$daemon_zip\" ]; then");
    s.fail(&format!(
        "{}: no GPU Management Daemon component (*{DAEMON_FILE}*.zip) in {dir}; copy it there from the NVIDIA download, beside the host driver component",
        ctx.name
    ));
    s.close();
}

fn file_present(ctx: &Ctx, s: &mut Script, path: &str) {
    let file = path.rsplit('/').next().unwrap_or(path);
    s.open(&format!("if [ ! -f {} ]; then", sh_quote(path)));
    s.fail(&format!("{}: {path} does not exist; copy {file} to that datastore path first", ctx.name));
    s.close();
}

fn install_driver(ctx: &Ctx, s: &mut Script, path: &str, daemon: bool) {
    let quoted = sh_quote(path);
    let flag = if path.to_ascii_lowercase().ends_with(".zip") { "-d" } else { "-v" };
    if daemon {
        s.comment("NVIDIA vGPU UG 17 §2.9.1.1: the Virtual GPU Manager is two components, the host driver and the GPU");
        s.comment("Management Daemon, each installed with esxcli software vib install -d and an absolute path.");
    } else {
        s.comment("The path must be absolute (NVIDIA vGPU UG 8.0 §2.6.1).");
    }
    s.comment("esxcli may print \"Reboot Required: false\", but NVIDIA asks for a reboot anyway: this phase ends with one.");
    s.open(&format!("if {}; then", driver_done(path)));
    s.say(&format!("{}: the NVIDIA host driver {} is already installed", ctx.name, driver_version(path).unwrap_or_default()));
    s.mid(&format!("elif esxcli software vib list | grep -i nvidia | grep -qiv {DAEMON_VIB}; then"));
    s.line("esxcli software vib list | grep -i nvidia");
    s.fail(&format!(
        "{}: another NVIDIA host driver is installed (above); say so in the spec (installed {{ release \"...\" driver \"...\" }}) and gpuc plans the update, then re-run",
        ctx.name
    ));
    s.mid("else");
    file_present(ctx, s, path);
    s.line(&format!("esxcli software vib install {flag} {quoted}"));
    s.changed(&format!("installed {}", path.rsplit('/').next().unwrap_or(path)));
    s.close();
    if daemon {
        s.open(&format!("if {}; then", daemon_done()));
        s.say(&format!("{}: the GPU Management Daemon is already installed", ctx.name));
        s.mid("else");
        find_daemon(ctx, s, path);
        s.line("esxcli software vib install -d \"$daemon_zip\"");
        s.changed("installed the GPU Management Daemon");
        s.close();
    }
}

fn update_driver(ctx: &Ctx, s: &mut Script, path: &str, daemon: bool, from: &str) {
    let quoted = sh_quote(path);
    let flag = if path.to_ascii_lowercase().ends_with(".zip") { "-d" } else { "-v" };
    let file = path.rsplit('/').next().unwrap_or(path);
    s.comment(&format!("The host runs vGPU {from}; the spec asks for {file}. NVIDIA vGPU UG 17 §2.9.1.2: with all VMs"));
    s.comment("powered off and the host in maintenance mode, stop the GPU Management Daemon, then esxcli software vib");
    s.comment("update -d each component, then reboot. Guests need the new branch's driver (plan.md lists them).");
    s.open(&format!("if {}; then", driver_done(path)));
    s.say(&format!("{}: the NVIDIA host driver {} is already installed", ctx.name, driver_version(path).unwrap_or_default()));
    s.mid("else");
    file_present(ctx, s, path);
    if daemon {
        find_daemon(ctx, s, path);
    }
    s.open(&format!("if [ -x {DAEMON_INIT} ]; then"));
    s.line(&format!("{DAEMON_INIT} stop"));
    s.close();
    s.line("esxcli software vib list | grep -i nvidia || true");
    s.line(&format!("esxcli software vib update {flag} {quoted}"));
    if daemon {
        s.comment("vib update only updates what is installed: a host from before vGPU 13 has no daemon yet.");
        s.open(&format!("if {}; then", daemon_done()));
        s.line("esxcli software vib update -d \"$daemon_zip\"");
        s.mid("else");
        s.line("esxcli software vib install -d \"$daemon_zip\"");
        s.close();
    }
    s.changed(&format!("updated the NVIDIA Virtual GPU Manager from vGPU {from} to {file}"));
    s.close();
}

fn missing_pci(ctx: &Ctx, s: &mut Script, gpu: GpuId) {
    s.fail(&format!("{} has no PCI address in the spec; add `pci` to the gpu block", ctx.label(gpu)));
}

/// One change per GPU, each only where it is not done yet: `done` tests the GPU's state,
/// `command` changes it, and the change is recorded when `records` (the phase then reboots).
struct GpuChange<'a> {
    done: &'a dyn Fn(&str) -> String,
    already: &'a str,
    command: &'a dyn Fn(&str) -> String,
    changed: &'a str,
    records: &'a dyn Fn(GpuId) -> bool,
}

fn change_each_gpu(ctx: &Ctx, s: &mut Script, gpus: &[GpuId], change: &GpuChange) {
    for &g in gpus {
        let Some(pci) = ctx.pci(g) else {
            missing_pci(ctx, s, g);
            continue;
        };
        s.open(&format!("if {}; then", (change.done)(&pci)));
        s.say(&format!("{} ({pci}): {}", ctx.label(g), change.already));
        s.mid("else");
        s.line(&(change.command)(&pci));
        if (change.records)(g) {
            s.changed(&format!("{} {pci}", change.changed));
        }
        s.close();
    }
}

fn enable_passthrough(ctx: &Ctx, s: &mut Script, gpus: &[GpuId]) {
    s.comment("The hex address as esxcli hardware pci list shows it; takes effect at the reboot (ESXCLI reference).");
    let command = |pci: &str| format!("esxcli hardware pci pcipassthru set -d {} -e true", sh_quote(pci));
    let change = GpuChange {
        done: &passthrough_done,
        already: "passthrough already enabled",
        command: &command,
        changed: "passthrough enabled on",
        records: &|_| true,
    };
    change_each_gpu(ctx, s, gpus, &change);
}

fn verify_passthrough(ctx: &Ctx, s: &mut Script, gpus: &[GpuId]) {
    s.line("esxcli hardware pci pcipassthru list");
    for &g in gpus {
        let Some(pci) = ctx.pci(g) else {
            missing_pci(ctx, s, g);
            continue;
        };
        s.open(&format!("if ! {}; then", passthrough_done(&pci)));
        s.fail(&format!("{} ({pci}) is not enabled for passthrough", ctx.label(g)));
        s.close();
    }
}

fn set_vgpu_mode(ctx: &Ctx, s: &mut Script, gpu: GpuId, mode: VgpuMode) {
    let Some(pci) = ctx.pci(gpu) else {
        missing_pci(ctx, s, gpu);
        return;
    };
    let (flag, name) = match mode {
        VgpuMode::MixedSize => ("MixedSize", "mixed-size"),
        VgpuMode::SameSize | VgpuMode::Mig => ("SameSize", "same-size"),
    };
    s.comment("NVIDIA vGPU UG 17 §2.11.2.2: the device type SharedPassthru with the vGPU mode, then a refresh of host");
    s.comment("graphics (no reboot); no vGPU may run on the GPU. The mode persists across reboots on vSphere (§2.11).");
    s.open(&format!("if {}; then", mode_done(&pci, mode)));
    s.say(&format!("{} ({pci}): already in {name} vGPU mode", ctx.label(gpu)));
    s.mid("else");
    s.line(&format!("esxcli graphics device set --device-id={} --type SharedPassthru --vgpu-mode={flag}", sh_quote(&pci)));
    s.line("esxcli graphics host refresh");
    s.close();
    s.open(&format!("if ! {}; then", mode_done(&pci, mode)));
    s.line("esxcli graphics device list >&2");
    s.fail(&format!("{} ({pci}) is not in {name} vGPU mode (esxcli graphics device list, above)", ctx.label(gpu)));
    s.close();
}

/// The GPU's MIG mode, `current` or `pending`, is `Enabled` (or `Disabled`): NVIDIA AI
/// Enterprise User Guide 5.0, §2.11.1, `nvidia-smi -i <gpu> --query-gpu=pci.bus_id,mig.mode.current
/// --format=csv`.
fn mig_done(pci: &str, which: &str, enable: bool) -> String {
    let want = if enable { "Enabled" } else { "Disabled" };
    format!("nvidia-smi -i {} --query-gpu=mig.mode.{which} --format=csv,noheader | grep -qx '{want}'", sh_quote(pci))
}

fn set_mig_mode(ctx: &Ctx, s: &mut Script, gpus: &[GpuId], enable: bool) {
    let (flag, word) = if enable { ("1", "on") } else { ("0", "off") };
    s.comment("NVIDIA AI Enterprise User Guide 5.0, §2.11.1: MIG mode per GPU with nvidia-smi; no process may use the");
    s.comment("GPU. On vSphere only the mode is set: vSphere creates the GPU instances when a VM powers on (§2.11).");
    s.comment("Ampere GPUs change mode at the host's reboot (the mode is \"pending\" until then); Hopper and later at once.");
    let done = |pci: &str| mig_done(pci, "pending", enable);
    let command = |pci: &str| format!("nvidia-smi -i {} -mig {flag}", sh_quote(pci));
    let already = format!("MIG mode already {word}");
    let changed = format!("MIG mode turned {word} for");
    // Only Ampere GPUs wait for the reboot; the phase reboots only for them.
    let ampere = |g: GpuId| ctx.model.board_of(g).is_some_and(|b| b.architecture == crate::catalog::Architecture::Ampere);
    change_each_gpu(ctx, s, gpus, &GpuChange { done: &done, already: &already, command: &command, changed: &changed, records: &ampere });
}

fn verify_mig_mode(ctx: &Ctx, s: &mut Script, gpus: &[GpuId], enable: bool) {
    let word = if enable { "on" } else { "off" };
    for &g in gpus {
        let Some(pci) = ctx.pci(g) else {
            missing_pci(ctx, s, g);
            continue;
        };
        s.line(&format!("nvidia-smi -i {} --query-gpu=pci.bus_id,mig.mode.current --format=csv || true", sh_quote(&pci)));
        s.open(&format!("if ! {}; then", mig_done(&pci, "current", enable)));
        s.fail(&format!("{} ({pci}): MIG mode is not {word} (nvidia-smi, above); a GPU in use keeps its old mode pending", ctx.label(g)));
        s.close();
    }
}

fn set_module_parameters(ctx: &Ctx, s: &mut Script, rmpvmrl: Option<Rmpvmrl>, vgpu_migration: bool) {
    let dwords = registry_dwords(rmpvmrl, vgpu_migration);
    if let Some(r) = rmpvmrl {
        s.comment(&format!("RmPVMRL 0x{:08x}: {}.", r.value, r.meaning()));
        if r.since_15 {
            s.comment("Encoded by the table of NVIDIA vGPU UG 17 §8.6.4 (releases 15 and later); §8.6.1 and §8.6.2 of the");
            s.comment("same guide still show the older form (0x00030001), which that table reads as strict round-robin");
            s.comment("with a scheduling frequency, not as a time slice.");
        }
    }
    s.comment("-p replaces the module's whole parameter string (NVIDIA vGPU UG 17 §8.6.1); the old value is printed first.");
    s.open(&format!("if {}; then", parameters_done(&dwords)));
    s.say(&format!("{}: the nvidia module already has NVreg_RegistryDwords={dwords}", ctx.name));
    s.mid("else");
    s.say(&format!("{}: nvidia module parameters before the change:", ctx.name));
    s.line("esxcli system module parameters list -m nvidia | grep -E '^NVreg_' || true");
    s.line(&format!("esxcli system module parameters set -m nvidia -p {}", sh_quote(&format!("NVreg_RegistryDwords={dwords}"))));
    s.changed(&format!("NVreg_RegistryDwords={dwords}"));
    s.close();
}

fn verify_driver(ctx: &Ctx, s: &mut Script, daemon: bool) {
    let again = ctx.driver_script.as_deref().map_or(String::new(), |n| format!("; re-run {n}"));
    s.open("if ! esxcli software vib list | grep -i nvidia; then");
    s.fail(&format!("{}: no NVIDIA VIB is installed{again}", ctx.name));
    s.close();
    let version = ctx.model.host(ctx.host).nvidia.as_ref().and_then(|n| n.vib.as_ref()).and_then(|v| driver_version(&v.value));
    if let Some(version) = version {
        s.open(&format!("if ! esxcli software vib list | grep -i nvidia | grep -qF -- {}; then", sh_quote(&format!("{version}-"))));
        s.fail(&format!("{}: the NVIDIA VIB installed is not version {version}", ctx.name));
        s.close();
    }
    s.open("if ! vmkload_mod -l | grep nvidia; then");
    s.fail(&format!("{}: the nvidia module is not loaded (vmkload_mod -l); see /var/log/vmkernel.log", ctx.name));
    s.close();
    if daemon {
        s.open(&format!("if ! {DAEMON_INIT} status; then"));
        s.fail(&format!("{}: the GPU Management Daemon is not running ({DAEMON_INIT} start; NVIDIA vGPU UG 17 §2.9.1.4)", ctx.name));
        s.close();
    }
    s.open("if ! nvidia-smi; then");
    s.fail(&format!("{}: nvidia-smi cannot reach the GPUs", ctx.name));
    s.close();
    let gpus = ctx.vgpu_gpus();
    let with_pci: Vec<(GpuId, String)> = gpus.iter().filter_map(|&g| ctx.pci(g).map(|p| (g, p))).collect();
    if with_pci.is_empty() {
        s.open("if ! nvidia-smi -q | grep -i virtualization | grep -q 'Host VGPU'; then");
        s.fail(&format!("{}: the GPUs are not in Host VGPU virtualization mode", ctx.name));
        s.close();
    }
    for (g, pci) in with_pci {
        s.open(&format!("if ! nvidia-smi -i {} -q | grep -i virtualization | grep -q 'Host VGPU'; then", sh_quote(&pci)));
        s.fail(&format!("{} ({pci}) is not in Host VGPU virtualization mode (nvidia-smi -q)", ctx.label(g)));
        s.close();
    }
    let policy = ctx.expected_policy();
    s.line("esxcli graphics host get");
    s.open(&format!("if ! {{ {}; }}; then", graphics_done(policy)));
    s.fail(&format!("{}: host graphics is not SharedPassthru with policy {policy} (esxcli graphics host get)", ctx.name));
    s.close();
    // NVIDIA vGPU UG 17 §2.9.3: the configured and active type of each GPU must be Shared
    // Direct. NVIDIA shows no sample of esxcli graphics device list, so a missing
    // "SharedPassthru" in a GPU's block is a warning to look in the vSphere Client, not a failure.
    for &g in &gpus {
        let Some(pci) = ctx.pci(g) else { continue };
        s.open(&format!("if ! {} | grep -q SharedPassthru; then", device_block(&pci)));
        s.say(&format!(
            "gpuc: warning: {} ({pci}): esxcli graphics device list shows no SharedPassthru; check that its type is Shared Direct (vSphere Client: host > Configure > Hardware > Graphics > Graphics Devices)",
            ctx.label(g)
        ));
        s.close();
    }
    s.say(&format!("{}: the NVIDIA vGPU manager is installed and running", ctx.name));
}

fn verify_scheduler(ctx: &Ctx, s: &mut Script, rmpvmrl: Rmpvmrl) {
    let state = if rmpvmrl.value & 0xff == 0 { "DISABLED" } else { "ENABLED" };
    let policy = rmpvmrl.logged_policy();
    s.comment("NVIDIA vGPU UG 17 §8.3.4: after the reboot each GPU logs e.g. \"NVRM: GPU at 0000:5e:00.0 has software");
    s.comment("scheduler ENABLED with policy EQUAL_SHARE.\" (the same lines are in /var/log/vmkernel.log).");
    s.line("dmesg | grep NVRM | grep scheduler || true");
    for g in ctx.vgpu_gpus() {
        let Some(pci) = ctx.pci(g) else { continue };
        let line = format!("GPU at {pci} has software scheduler {state} with policy {policy}");
        // The kernel ring buffer may have wrapped since the boot; the log file keeps the line.
        s.open(&format!("if ! {{ dmesg; cat /var/log/vmkernel.log; }} 2> /dev/null | grep NVRM | grep -qF {}; then", sh_quote(&line)));
        s.fail(&format!(
            "{} ({pci}) does not log \"{line}\" (dmesg, /var/log/vmkernel.log); check NVreg_RegistryDwords with esxcli system module parameters list -m nvidia",
            ctx.label(g)
        ));
        s.close();
    }
}

fn disable_ecc(ctx: &Ctx, s: &mut Script, gpus: &[GpuId]) {
    s.comment("The ECC mode changes at the next reboot, so \"Pending: Disabled\" means it is already done.");
    let command = |pci: &str| format!("nvidia-smi -i {} -e 0", sh_quote(pci));
    let change = GpuChange {
        done: &ecc_done,
        already: "ECC already disabled or pending disable",
        command: &command,
        changed: "ECC disabled on",
        records: &|_| true,
    };
    change_each_gpu(ctx, s, gpus, &change);
}

fn verify_ecc(ctx: &Ctx, s: &mut Script, gpus: &[GpuId]) {
    for &g in gpus {
        let Some(pci) = ctx.pci(g) else {
            missing_pci(ctx, s, g);
            continue;
        };
        s.line(&format!("{} || true", ecc_block(&pci)));
        s.open(&format!("if ! {} | grep -Eq 'Current *: *(Disabled|N/A)'; then", ecc_block(&pci)));
        s.fail(&format!("{} ({pci}): ECC is still enabled; run nvidia-smi -i {pci} -e 0 and reboot", ctx.label(g)));
        s.close();
    }
}
