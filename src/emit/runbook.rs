//! Host runbooks: the plan's steps for one host as POSIX sh scripts for the ESXi shell
//! (busybox ash), one per phase. A reboot ends a phase, so it ends a script: the operator
//! runs `1-<slug>.sh`, waits for the host to come back, runs `2-<slug>.sh`, and so on.
//!
//! Every script is `set -eu`, checks the host's state before changing it (re-running any
//! script is harmless), fails with a message when a verification does not hold, and quotes
//! every value that comes from the spec with [`sh_quote`]. Manual steps (BIOS, the vSphere
//! Client on ESXi 6.x) are never executed: they are comment blocks with the exact
//! instruction where they occur, and a reminder on the terminal. The text is deterministic.

use crate::model::{GpuId, GpuUse, HostId, Model};
use crate::plan::{Action, Plan, Step};

/// The runbook of one host: `(file name, script text)` per phase, in order. Empty when the
/// host needs no steps.
pub fn scripts(model: &Model, plan: &Plan, host: HostId) -> Vec<(String, String)> {
    let phases = phases(plan, host);
    if phases.is_empty() {
        return Vec::new();
    }
    let names = names(&phases);
    let driver_script = phases
        .iter()
        .position(|steps| steps.iter().any(|s| matches!(s.action, Action::InstallHostDriver { .. })))
        .map(|i| names[i].clone());
    let ctx = Ctx { model, host, name: &model.host(host).name, names: &names, driver_script };
    let mut maintenance_before = false;
    let mut out = Vec::with_capacity(phases.len());
    for (index, steps) in phases.iter().enumerate() {
        out.push((names[index].clone(), render_phase(&ctx, index, steps, maintenance_before)));
        for step in steps {
            match step.action {
                Action::EnterMaintenanceMode => maintenance_before = true,
                Action::ExitMaintenanceMode => maintenance_before = false,
                _ => {}
            }
        }
    }
    out
}

/// The file names of the host's scripts, in phase order, without rendering them.
pub fn script_names(plan: &Plan, host: HostId) -> Vec<String> {
    names(&phases(plan, host))
}

fn names(phases: &[Vec<&Step>]) -> Vec<String> {
    phases.iter().enumerate().map(|(i, steps)| format!("{}-{}.sh", i + 1, slug(steps))).collect()
}

/// Quotes a string for POSIX sh: single quotes around it, each `'` written as `'\''`.
pub fn sh_quote(s: &str) -> String {
    let mut quoted = String::with_capacity(s.len() + 2);
    quoted.push('\'');
    for c in s.chars() {
        if c == '\'' {
            quoted.push_str("'\\''");
        } else {
            quoted.push(c);
        }
    }
    quoted.push('\'');
    quoted
}

/// The host's steps cut into phases: a new phase starts when the plan's phase number
/// changes, and always after a reboot.
fn phases(plan: &Plan, host: HostId) -> Vec<Vec<&Step>> {
    let mut phases: Vec<Vec<&Step>> = Vec::new();
    let mut current: Option<u32> = None;
    let mut after_reboot = false;
    for (_, step) in plan.host_steps(host) {
        if phases.is_empty() || current != Some(step.phase) || after_reboot {
            phases.push(Vec::new());
        }
        current = Some(step.phase);
        after_reboot = matches!(step.action, Action::Reboot { .. });
        if let Some(last) = phases.last_mut() {
            last.push(step);
        }
    }
    phases
}

/// The file-name slug of a phase: its main action.
fn slug(steps: &[&Step]) -> &'static str {
    let rank = |action: &Action| -> (u8, &'static str) {
        match action {
            Action::InstallHostDriver { .. } => (0, "driver"),
            Action::SetHostGraphics { .. } => (1, "graphics"),
            Action::EnablePassthrough { .. } | Action::EnablePassthroughInClient { .. } => (2, "passthrough"),
            Action::SetMixedSize { .. } => (3, "mixed-size"),
            Action::SetModuleParameters { .. } => (4, "scheduler"),
            Action::DisableEcc { .. } => (5, "ecc"),
            Action::ExitMaintenanceMode => (6, "finish"),
            Action::VerifyHostDriver | Action::VerifyPassthrough { .. } | Action::VerifyEccDisabled { .. } => (7, "verify"),
            Action::EnterMaintenanceMode => (8, "maintenance"),
            Action::EnableAbove4gDecoding => (9, "bios"),
            Action::Reboot { .. } => (10, "reboot"),
            _ => (11, "steps"),
        }
    };
    steps.iter().map(|s| rank(&s.action)).min_by_key(|(r, _)| *r).map_or("steps", |(_, slug)| slug)
}

struct Ctx<'a> {
    model: &'a Model,
    host: HostId,
    name: &'a str,
    names: &'a [String],
    /// The script that installs the VIB, named in failure messages.
    driver_script: Option<String>,
}

impl Ctx<'_> {
    fn label(&self, gpu: GpuId) -> String {
        self.model.gpu_label(gpu)
    }

    fn pci(&self, gpu: GpuId) -> Option<String> {
        self.model.gpu(gpu).pci.as_ref().map(|p| p.value.to_string())
    }

    /// `esx14.g0 (0000:09:00.0), esx14.g1 (0000:0a:00.0)`.
    fn gpu_list(&self, gpus: &[GpuId]) -> String {
        let parts: Vec<String> = gpus
            .iter()
            .map(|&g| match self.pci(g) {
                Some(pci) => format!("{} ({pci})", self.label(g)),
                None => self.label(g),
            })
            .collect();
        parts.join(", ")
    }

    fn vgpu_gpus(&self) -> Vec<GpuId> {
        self.model.host(self.host).gpus.iter().copied().filter(|&g| self.model.gpu(g).usage.value == GpuUse::Vgpu).collect()
    }

    fn expected_policy(&self) -> &'static str {
        self.model.host(self.host).assignment.esxcli()
    }
}

/// A script being written: lines with two-space indentation inside `if` blocks.
struct Script {
    text: String,
    indent: usize,
    uses_fail: bool,
}

impl Script {
    fn new() -> Script {
        Script { text: String::new(), indent: 0, uses_fail: false }
    }

    fn line(&mut self, s: &str) {
        self.line_of(&[s]);
    }

    /// One line joined from `parts` (scripts are most of a build's text, so lines are not
    /// formatted into temporary strings), indented unless it is empty.
    fn line_of(&mut self, parts: &[&str]) {
        if parts.iter().any(|p| !p.is_empty()) {
            for _ in 0..self.indent {
                self.text.push_str("  ");
            }
            parts.iter().for_each(|p| self.text.push_str(p));
        }
        self.text.push('\n');
    }

    fn comment(&mut self, s: &str) {
        let text = super::one_line(s);
        match text.trim_end() {
            "" => self.line("#"),
            text => self.line_of(&["# ", text]),
        }
    }

    fn say(&mut self, msg: &str) {
        self.line_of(&["echo ", &sh_quote(msg)]);
    }

    fn fail(&mut self, msg: &str) {
        self.uses_fail = true;
        self.line_of(&["fail ", &sh_quote(msg)]);
    }

    /// `if ...; then`, and indent.
    fn open(&mut self, s: &str) {
        self.line(s);
        self.indent += 1;
    }

    /// `else` / `elif ...; then` at the level of its `if`.
    fn mid(&mut self, s: &str) {
        self.indent = self.indent.saturating_sub(1);
        self.line(s);
        self.indent += 1;
    }

    fn close(&mut self) {
        self.indent = self.indent.saturating_sub(1);
        self.line("fi");
    }
}

/// Text for a comment: control characters (a newline would end the comment) become spaces.
fn scheduler_name(value: u32) -> String {
    let policy = match value & 0xff {
        0x00 => "best effort",
        0x01 => "equal share",
        0x11 => "fixed share",
        _ => "custom",
    };
    match (value >> 16) & 0xff {
        0 => policy.to_string(),
        tt => format!("{policy}, {tt} ms time slice"),
    }
}

/// The NVIDIA driver version in a VIB or bundle file name, e.g. `390.42` in
/// `NVIDIA-VMware_ESXi_6.7_Host_Driver_390.42-1OEM.670.0.0.7535516.vib`: the dotted number
/// before `-<n>OEM`, which `esxcli software vib list` shows as the VIB's version.
fn driver_version(path: &str) -> Option<String> {
    let file = path.rsplit('/').next()?;
    let oem = file.find("OEM")?;
    let head = file[..oem].trim_end_matches(|c: char| c.is_ascii_digit()).strip_suffix('-')?;
    // Past the last character that is not part of the version (which may be multi-byte).
    let start = head.char_indices().rev().find(|(_, c)| !(c.is_ascii_digit() || *c == '.')).map_or(0, |(i, c)| i + c.len_utf8());
    let version = &head[start..];
    let ok = version.starts_with(|c: char| c.is_ascii_digit()) && version.contains('.') && !version.ends_with('.');
    ok.then(|| version.to_string())
}

/// One line saying what a step does (header and step comment).
fn describe(ctx: &Ctx, action: &Action) -> String {
    match action {
        Action::EnableAbove4gDecoding => "MANUAL: enable above-4G decoding in the server BIOS".to_string(),
        Action::EnterMaintenanceMode => "enter maintenance mode".to_string(),
        Action::SetHostGraphics { policy } => {
            format!("set the host graphics type to SharedPassthru, assignment policy {}", policy.esxcli())
        }
        Action::Reboot { reason } => format!("reboot: {reason}"),
        Action::InstallHostDriver { path } => {
            let file = path.rsplit('/').next().unwrap_or(path);
            format!("install the NVIDIA vGPU manager {file}")
        }
        Action::EnablePassthrough { gpus } => format!("enable passthrough (DirectPath I/O) on {}", ctx.gpu_list(gpus)),
        Action::EnablePassthroughInClient { gpus } => format!("MANUAL: enable passthrough on {} in the vSphere Client", ctx.gpu_list(gpus)),
        Action::SetMixedSize { gpu } => format!("set {} to mixed-size vGPU mode", ctx.gpu_list(&[*gpu])),
        Action::SetModuleParameters { rmpvmrl, vgpu_migration } => {
            let dwords = crate::plan::registry_dwords(*rmpvmrl, *vgpu_migration);
            match rmpvmrl {
                Some(v) => format!("set the nvidia module parameters: {dwords} ({})", scheduler_name(*v)),
                None => format!("set the nvidia module parameters: {dwords} (vGPU migration)"),
            }
        }
        Action::VerifyHostDriver => "verify the vGPU manager: VIB, nvidia module, nvidia-smi, Host VGPU mode, host graphics".to_string(),
        Action::VerifyPassthrough { gpus } => format!("verify passthrough is enabled on {}", ctx.gpu_list(gpus)),
        Action::DisableEcc { gpus } => format!("disable ECC on {}", ctx.gpu_list(gpus)),
        Action::VerifyEccDisabled { gpus } => format!("verify ECC is disabled on {}", ctx.gpu_list(gpus)),
        Action::ExitMaintenanceMode => "exit maintenance mode".to_string(),
        other => format!("MANUAL: {other:?} (not a host step)"),
    }
}

/// What the operator does by hand before running the script.
fn before_running(ctx: &Ctx, action: &Action) -> Option<String> {
    match action {
        Action::EnableAbove4gDecoding => Some(format!(
            "in the server BIOS of {}, enable \"above 4G decoding\" (also called \"memory mapped I/O above 4 GB\" or \"PCI 64-bit resource handling above 4G\", usually in the PCI section)",
            ctx.name
        )),
        Action::EnablePassthroughInClient { gpus } => Some(format!(
            "in the vSphere Client, host {} > Configure > Hardware > PCI Devices > Edit, tick {} and click OK",
            ctx.name,
            ctx.gpu_list(gpus)
        )),
        Action::InstallHostDriver { path } => Some(format!("copy the VIB to {path} on the host")),
        _ => None,
    }
}

fn render_phase(ctx: &Ctx, index: usize, steps: &[&Step], maintenance_before: bool) -> String {
    let host = ctx.model.host(ctx.host);
    let total = ctx.names.len();
    let this = &ctx.names[index];
    let next = ctx.names.get(index + 1);
    let ends_with_reboot = steps.last().is_some_and(|s| matches!(s.action, Action::Reboot { .. }));
    let last_is_exit = steps.last().is_some_and(|s| matches!(s.action, Action::ExitMaintenanceMode));
    let next_text = match next {
        Some(next) if ends_with_reboot => format!("when the host is back up (still in maintenance mode), run {next}"),
        Some(next) => format!("run {next}"),
        None if last_is_exit => "done: exit maintenance mode was the last step".to_string(),
        None => "done: this is the last script".to_string(),
    };

    let mut body = Script::new();
    let mut maintenance = maintenance_before;
    // A phase that only verifies and exits maintenance mode changes nothing, so re-running it
    // after the host was released is a harmless check; every other phase needs the host still
    // in maintenance mode.
    let changes = steps.iter().any(|s| {
        !s.action.manual()
            && !matches!(
                s.action,
                Action::VerifyHostDriver
                    | Action::VerifyPassthrough { .. }
                    | Action::VerifyEccDisabled { .. }
                    | Action::ExitMaintenanceMode
            )
    });
    if maintenance_before {
        body.comment(&format!("The host stays in maintenance mode from {} until the last script.", ctx.names[0]));
        body.open("if ! esxcli system maintenanceMode get | grep -q Enabled; then");
        if changes {
            body.fail(&format!(
                "{} is not in maintenance mode; enter it again (esxcli system maintenanceMode set --enable true) and re-run {this}",
                ctx.name
            ));
        } else {
            body.say(&format!("{}: not in maintenance mode (already released?); {this} only verifies the host", ctx.name));
        }
        body.close();
        body.line("");
    }
    let count = steps.len();
    for (k, step) in steps.iter().enumerate() {
        let manual = step.action.manual();
        let what = describe(ctx, &step.action);
        body.comment(&format!("Step {} of {count}: {what}", k + 1));
        if let Action::Reboot { reason } = step.action {
            body.comment(&format!("Why: {reason} ({})", step.why));
        } else {
            body.comment(&format!("Why: {}", step.why));
        }
        if manual {
            manual_step(ctx, &mut body, step);
        } else {
            match &step.action {
                Action::EnterMaintenanceMode => {
                    enter_maintenance(ctx, &mut body);
                    maintenance = true;
                }
                Action::Reboot { .. } => {
                    if !maintenance {
                        body.open("if ! esxcli system maintenanceMode get | grep -q Enabled; then");
                        body.fail(&format!("{} must be in maintenance mode before it reboots", ctx.name));
                        body.close();
                    }
                    let msg = match next {
                        Some(next) => format!("{}: rebooting now. When the host is back up, run {next} in its ESXi shell.", ctx.name),
                        None => format!("{}: rebooting now; this was the last script.", ctx.name),
                    };
                    body.say(&msg);
                    body.line("reboot");
                }
                Action::SetHostGraphics { policy } => set_graphics(ctx, &mut body, policy.esxcli()),
                Action::InstallHostDriver { path } => install_driver(ctx, &mut body, path),
                Action::EnablePassthrough { gpus } => enable_passthrough(ctx, &mut body, gpus),
                Action::SetMixedSize { gpu } => set_mixed_size(ctx, &mut body, *gpu),
                Action::SetModuleParameters { rmpvmrl, vgpu_migration } => {
                    set_module_parameters(ctx, &mut body, &crate::plan::registry_dwords(*rmpvmrl, *vgpu_migration))
                }
                Action::VerifyHostDriver => verify_driver(ctx, &mut body),
                Action::VerifyPassthrough { gpus } => verify_passthrough(ctx, &mut body, gpus),
                Action::DisableEcc { gpus } => disable_ecc(ctx, &mut body, gpus),
                Action::VerifyEccDisabled { gpus } => verify_ecc(ctx, &mut body, gpus),
                Action::ExitMaintenanceMode => {
                    exit_maintenance(ctx, &mut body);
                    maintenance = false;
                }
                other => body.comment(&format!("Not a host step: {other:?}")),
            }
        }
        body.line("");
    }
    if !ends_with_reboot {
        body.say(&format!("{}: {this} finished; {next_text}.", ctx.name));
    }

    let mut script = Script::new();
    script.line("#!/bin/sh");
    script.comment(&format!("gpuc runbook for host {} ({}), ESXi {}.", ctx.name, host.address, host.esxi.value));
    script.comment(&format!("Phase {} of {total}: {this}", index + 1));
    for step in steps {
        script.comment(&format!("  - {}", describe(ctx, &step.action)));
    }
    let before: Vec<String> = steps.iter().filter_map(|s| before_running(ctx, &s.action)).collect();
    if !before.is_empty() {
        script.comment("Before running it:");
        for b in &before {
            script.comment(&format!("  - {b}"));
        }
    }
    script.comment(&format!("Next: {next_text}."));
    script.comment(&format!("Run it as root in the ESXi shell of {} (SSH or DCUI): sh ./{this}", ctx.name));
    script.comment("Re-running it is harmless: every step checks the host's state before changing it.");
    script.comment("Generated by gpuc; edit the .gpu spec, not this file.");
    script.line("");
    script.line("set -eu");
    script.line("");
    if body.uses_fail {
        script.line("fail() {");
        script.line("  echo \"gpuc: $*\" >&2");
        script.line("  exit 1");
        script.line("}");
        script.line("");
    }
    script.text.push_str(&body.text);
    while script.text.ends_with("\n\n") {
        script.text.pop();
    }
    script.text
}

fn manual_step(ctx: &Ctx, s: &mut Script, step: &Step) {
    match &step.action {
        Action::EnableAbove4gDecoding => {
            s.comment("MANUAL, not done by this script (seed §5.1.1): before running this script, enable");
            s.comment("\"above 4G decoding\" in the server BIOS (the name varies by vendor: \"memory mapped I/O");
            s.comment("above 4 GB\", \"PCI 64-bit resource handling above 4G\"; usually in the PCI section).");
            s.say(&format!(
                "{}: reminder: above-4G decoding must be enabled in the server BIOS (GPUs mapping 16 GB or more); this script assumes it is.",
                ctx.name
            ));
        }
        Action::EnablePassthroughInClient { gpus } => {
            let list = ctx.gpu_list(gpus);
            s.comment(&format!(
                "MANUAL, not done by this script: ESXi {} has no esxcli command for passthrough.",
                ctx.model.host(ctx.host).esxi.value
            ));
            s.comment(&format!("vSphere Client: host {} > Configure > Hardware > PCI Devices > Edit,", ctx.name));
            s.comment(&format!("tick {list}, click OK; then this script reboots the host and the"));
            s.comment("devices become available for passthrough (seed §5.1.2). Do it before running this script.");
            s.say(&format!(
                "{}: reminder: passthrough must be ticked in the vSphere Client (Configure > Hardware > PCI Devices > Edit) for {list} before the reboot at the end of this script.",
                ctx.name
            ));
        }
        other => {
            s.comment(&format!("MANUAL, not done by this script: {}", describe(ctx, other)));
            s.say(&format!("{}: manual step: {}", ctx.name, describe(ctx, other)));
        }
    }
}

fn enter_maintenance(ctx: &Ctx, s: &mut Script) {
    s.comment("All VMs of the host must be powered off or moved away first.");
    s.open("if esxcli system maintenanceMode get | grep -q Enabled; then");
    s.say(&format!("{}: already in maintenance mode", ctx.name));
    s.mid("else");
    s.line("esxcli system maintenanceMode set --enable true");
    s.close();
}

fn exit_maintenance(ctx: &Ctx, s: &mut Script) {
    s.open("if esxcli system maintenanceMode get | grep -q Enabled; then");
    s.line("esxcli system maintenanceMode set --enable false");
    s.mid("else");
    s.say(&format!("{}: already out of maintenance mode", ctx.name));
    s.close();
}

fn graphics_ok_condition(policy: &str) -> String {
    format!(
        "printf '%s\\n' \"$graphics\" | grep -q 'Default Graphics Type: *SharedPassthru' && printf '%s\\n' \"$graphics\" | grep -q {}",
        sh_quote(&format!("Shared Passthru Assignment Policy: *{policy}"))
    )
}

fn set_graphics(ctx: &Ctx, s: &mut Script, policy: &str) {
    s.line("graphics=$(esxcli graphics host get)");
    s.open(&format!("if {}; then", graphics_ok_condition(policy)));
    s.say(&format!("{}: host graphics already SharedPassthru, {policy}", ctx.name));
    s.mid("else");
    s.line(&format!("esxcli graphics host set --default-type SharedPassthru --shared-passthru-assignment-policy {policy}"));
    s.close();
}

fn install_driver(ctx: &Ctx, s: &mut Script, path: &str) {
    let quoted = sh_quote(path);
    let flag = if path.to_ascii_lowercase().ends_with(".zip") { "-d" } else { "-v" };
    let file = path.rsplit('/').next().unwrap_or(path);
    s.comment("The path must be absolute (esxcli software vib install); esxcli may print \"Reboot Required: false\",");
    s.comment("but NVIDIA asks for a reboot anyway: this script ends with one.");
    match driver_version(path) {
        Some(version) => {
            s.open(&format!("if esxcli software vib list | grep -i nvidia | grep -qF -- {}; then", sh_quote(&format!("{version}-"))));
            s.say(&format!("{}: the NVIDIA vGPU manager {version} is already installed", ctx.name));
            s.mid("elif esxcli software vib list | grep -qi nvidia; then");
            s.line("esxcli software vib list | grep -i nvidia");
            s.fail(&format!(
                "{}: another NVIDIA VIB is installed (above), not {version}; remove it or update it by hand (esxcli software vib update {flag} {}), then re-run this script",
                ctx.name,
                sh_quote(path)
            ));
        }
        None => {
            s.open("if esxcli software vib list | grep -qi nvidia; then");
            s.say(&format!("{}: an NVIDIA VIB is already installed:", ctx.name));
            s.line("esxcli software vib list | grep -i nvidia");
        }
    }
    s.mid("else");
    s.open(&format!("if [ ! -f {quoted} ]; then"));
    s.fail(&format!("{}: {path} does not exist; copy {file} to that datastore path first", ctx.name));
    s.close();
    s.line(&format!("esxcli software vib install {flag} {quoted}"));
    s.close();
}

/// `awk` printing the Enabled column of `esxcli hardware pci pcipassthru list` for one device.
fn passthru_state(pci: &str) -> String {
    format!("state=$(esxcli hardware pci pcipassthru list | awk -v dev={} 'tolower($1) == dev {{ print $2 }}')", sh_quote(pci))
}

fn missing_pci(ctx: &Ctx, s: &mut Script, gpu: GpuId) {
    s.fail(&format!("{} has no PCI address in the spec; add `pci` to the gpu block", ctx.label(gpu)));
}

fn enable_passthrough(ctx: &Ctx, s: &mut Script, gpus: &[GpuId]) {
    s.comment("The hex address as esxcli hardware pci list shows it; takes effect at the reboot (ref §4.3).");
    for &g in gpus {
        let Some(pci) = ctx.pci(g) else {
            missing_pci(ctx, s, g);
            continue;
        };
        s.line(&passthru_state(&pci));
        s.open("if [ \"$state\" = true ]; then");
        s.say(&format!("{} ({pci}): passthrough already enabled", ctx.label(g)));
        s.mid("else");
        s.line(&format!("esxcli hardware pci pcipassthru set -d {} -e true", sh_quote(&pci)));
        s.close();
    }
}

fn verify_passthrough(ctx: &Ctx, s: &mut Script, gpus: &[GpuId]) {
    s.line("esxcli hardware pci pcipassthru list");
    for &g in gpus {
        let Some(pci) = ctx.pci(g) else {
            missing_pci(ctx, s, g);
            continue;
        };
        s.line(&passthru_state(&pci));
        s.open("if [ \"$state\" != true ]; then");
        s.fail(&format!("{} ({pci}) is not enabled for passthrough", ctx.label(g)));
        s.close();
    }
}

fn set_mixed_size(ctx: &Ctx, s: &mut Script, gpu: GpuId) {
    let Some(pci) = ctx.pci(gpu) else {
        missing_pci(ctx, s, gpu);
        return;
    };
    s.comment("The flag spelling (--vgpu-mode MixedSize) is from the ESXi 8.0 U3 ESXCLI reference (ref §4.2);");
    s.comment("the device block of esxcli graphics device list is searched for \"MixedSize\".");
    s.open(&format!(
        "if esxcli graphics device list | awk -v dev={} 'index(tolower($0), dev) == 1 {{ on = 1; next }} /^[^[:space:]]/ {{ on = 0 }} on' | grep -Eqi 'mixed ?size'; then",
        sh_quote(&pci)
    ));
    s.say(&format!("{} ({pci}): already in mixed-size vGPU mode", ctx.label(gpu)));
    s.mid("else");
    s.line(&format!("esxcli graphics device set --device-id {} --vgpu-mode MixedSize", sh_quote(&pci)));
    s.close();
}

fn set_module_parameters(ctx: &Ctx, s: &mut Script, dwords: &str) {
    s.comment("-p replaces the module's whole parameter string (ref §4.4); the old value is printed first.");
    s.line("params=$(esxcli system module parameters list -m nvidia)");
    s.open(&format!(
        "if printf '%s\\n' \"$params\" | grep -E '^NVreg_RegistryDwords[[:space:]]' | grep -qE -- {}; then",
        // The whole value, between blanks: `0x01` must not match inside `0x01;...`.
        sh_quote(&format!("[[:space:]]{dwords}([[:space:]]|$)"))
    ));
    s.say(&format!("{}: the nvidia module already has NVreg_RegistryDwords={dwords}", ctx.name));
    s.mid("else");
    s.say(&format!("{}: nvidia module parameters before the change:", ctx.name));
    s.line("printf '%s\\n' \"$params\" | grep -E '^NVreg_' || true");
    s.line(&format!("esxcli system module parameters set -m nvidia -p {}", sh_quote(&format!("NVreg_RegistryDwords={dwords}"))));
    s.close();
}

fn verify_driver(ctx: &Ctx, s: &mut Script) {
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
    s.line("graphics=$(esxcli graphics host get)");
    s.line("printf '%s\\n' \"$graphics\"");
    s.open(&format!("if ! {{ {}; }}; then", graphics_ok_condition(policy)));
    s.fail(&format!("{}: host graphics is not SharedPassthru with policy {policy} (esxcli graphics host get)", ctx.name));
    s.close();
    s.say(&format!("{}: the NVIDIA vGPU manager is installed and running", ctx.name));
}

fn ecc_block(pci: &str) -> String {
    format!("nvidia-smi -i {} -q | grep -i -A2 'Ecc Mode'", sh_quote(pci))
}

fn disable_ecc(ctx: &Ctx, s: &mut Script, gpus: &[GpuId]) {
    s.comment("The ECC mode changes at the next reboot, so \"Pending: Disabled\" means it is already done.");
    for &g in gpus {
        let Some(pci) = ctx.pci(g) else {
            missing_pci(ctx, s, g);
            continue;
        };
        s.open(&format!("if {} | grep -Eq 'Pending *: *(Disabled|N/A)'; then", ecc_block(&pci)));
        s.say(&format!("{} ({pci}): ECC already disabled or pending disable", ctx.label(g)));
        s.mid("else");
        s.line(&format!("nvidia-smi -i {} -e 0", sh_quote(&pci)));
        s.close();
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write as _;
    use std::path::PathBuf;
    use std::process::Command;

    /// The scripts of the first host of a spec text.
    fn build(text: &str) -> Vec<(String, String)> {
        let checked = crate::test_support::checked(text);
        let plan = crate::plan::plan(&checked.model, &checked.analysis).expect("a plan");
        scripts(&checked.model, &plan, HostId(0))
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
        assert!(first.trim_end().ends_with("\nreboot"), "{first}");
        assert!(line_of(first, "maintenanceMode set --enable true") < line_of(first, "graphics host set"));
        assert!(first.contains("run 2-driver.sh"));
        // BIOS declared: no reminder.
        assert!(!first.contains("above-4G decoding must be enabled"));

        // Maintenance mode is entered (phase 1) before the VIB install (phase 2), which
        // re-checks it first.
        let second = &scripts[1].1;
        let install = format!("esxcli software vib install -v '{GUIDE_VIB}'");
        assert!(second.contains(&install), "{second}");
        assert!(line_of(second, "if ! esxcli system maintenanceMode get | grep -q Enabled") < line_of(second, &install));
        assert!(!scripts[0].1.contains("vib install"));
        assert!(second.contains("-p 'NVreg_RegistryDwords=RmPVMRL=0x01'"));
        assert!(second.trim_end().ends_with("\nreboot"));

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
        assert!(first.contains("# MANUAL, not done by this script (seed §5.1.1)"));
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
        assert!(all
            .contains("esxcli software vib install -d '/vmfs/volumes/ds 1/NVD-VMware-x86_64-550.54.10-1OEM.800.1.0.20613240-bundle.zip'"));
        assert!(all.contains("grep -qF -- '550.54.10-'"));
        assert!(all.contains("esxcli hardware pci pcipassthru set -d '0000:5e:00.0' -e true"));
        assert!(all.contains("esxcli graphics device set --device-id '0000:3b:00.0' --vgpu-mode MixedSize"));
        assert!(all.contains("8.0 U3 ESXCLI reference"));
        assert!(all.contains("-p 'NVreg_RegistryDwords=RmPVMRL=0x00030001'"));
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
  "esxcli system maintenanceMode get") get mm Disabled; echo ;;
  "esxcli system maintenanceMode set --enable true") printf Enabled > "$S/mm" ;;
  "esxcli system maintenanceMode set --enable false") printf Disabled > "$S/mm" ;;
  "esxcli graphics host get") printf '   Default Graphics Type: %s\n   Shared Passthru Assignment Policy: %s\n' "$(get type Shared)" "$(get policy Performance)" ;;
  "esxcli graphics host set --default-type "*) printf %s "$5" > "$S/type"; printf %s "$7" > "$S/policy" ;;
  "esxcli software vib list") echo "Name Version Vendor"; cat "$S/vibs" 2>/dev/null || true ;;
  "esxcli software vib install "*) in_mm; f=$(basename "$5"); echo "${f%.*} NVIDIA VMwareAccepted" >> "$S/vibs" ;;
  "esxcli system module parameters list -m nvidia") printf 'Name Type Value Description\n---- ---- ----- -----\nNVreg_RegistryDwords  string  %s  dwords\n' "$(get dwords '')" ;;
  "esxcli system module parameters set -m nvidia -p "*) v=$8; printf %s "${v#NVreg_RegistryDwords=}" > "$S/dwords" ;;
  "esxcli hardware pci pcipassthru list") echo "Device ID  Enabled"; for d in 0000:09:00.0 0000:0a:00.0 0000:0b:00.0 0000:3b:00.0 0000:5e:00.0; do if [ -f "$S/pt-$d" ]; then echo "$d true"; else echo "$d false"; fi; done ;;
  "esxcli hardware pci pcipassthru set -d "*" -e true") in_mm; : > "$S/pt-$6" ;;
  "esxcli graphics device list") for d in 0000:3b:00.0 0000:5e:00.0; do echo "$d"; echo "   Vendor Name: NVIDIA"; echo "   vGPU Mode: $(get "mode-$d" SameSize)"; done ;;
  "esxcli graphics device set --device-id "*" --vgpu-mode MixedSize") printf %s "$7" > "$S/mode-$5" ;;
  "vmkload_mod -l") echo "Name Used Size"; if [ -f "$S/loaded" ]; then echo "nvidia 2 1234"; fi ;;
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
        fn new(tag: &str) -> FakeHost {
            use std::os::unix::fs::PermissionsExt;
            let dir = std::env::temp_dir().join(format!("gpuc-runbook-sim-{tag}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            for sub in ["bin", "state", "ds1", "scripts"] {
                std::fs::create_dir_all(dir.join(sub)).unwrap();
            }
            let stub = dir.join("bin/stub");
            std::fs::write(&stub, STUB).unwrap();
            std::fs::set_permissions(&stub, std::fs::Permissions::from_mode(0o755)).unwrap();
            for name in ["esxcli", "nvidia-smi", "vmkload_mod", "reboot"] {
                std::os::unix::fs::symlink(&stub, dir.join("bin").join(name)).unwrap();
            }
            FakeHost { dir }
        }

        fn vib(&self) -> String {
            let path = self.dir.join("ds1/NVIDIA-VMware_ESXi_6.7_Host_Driver_390.42-1OEM.670.0.0.7535516.vib");
            std::fs::write(&path, "vib").unwrap();
            path.to_str().unwrap().to_string()
        }

        /// Runs one script; returns (success, stdout + stderr).
        fn run(&self, name: &str, text: &str) -> (bool, String) {
            let path = self.dir.join("scripts").join(name);
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
        let host = FakeHost::new("guide");
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
        for mutation in ["vib install", "graphics host set", "parameters set", "-e 0"] {
            assert!(!log.contains(mutation), "re-run did `{mutation}` again:\n{log}");
        }
        assert_eq!(host.state("vibs").lines().count(), 1);
    }

    #[test]
    fn verification_fails_when_the_state_is_wrong() {
        let host = FakeHost::new("wrong");
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
        let host = FakeHost::new("esx80");
        let scripts =
            build(&NEW_HOST.replace("/vmfs/volumes/ds 1/NVD-VMware-x86_64-550.54.10-1OEM.800.1.0.20613240-bundle.zip", &host.vib()));
        for (name, text) in &scripts {
            let (ok, out) = host.run(name, text);
            assert!(ok, "{name} failed:\n{out}");
        }
        assert_eq!(host.state("mode-0000:3b:00.0"), "MixedSize");
        assert_eq!(host.state("dwords"), "RmPVMRL=0x00030001");
        assert_eq!(host.state("policy"), "Consolidation");
        host.take_log();
        let (ok, out) = host.run(&scripts[1].0, &scripts[1].1);
        assert!(!ok, "not in maintenance mode any more:\n{out}");
        for (name, text) in &scripts {
            assert!(host.run(name, text).0, "{name}");
        }
        let log = host.take_log();
        for mutation in ["vib install", "graphics host set", "parameters set", "pcipassthru set", "graphics device set"] {
            assert!(!log.contains(mutation), "re-run did `{mutation}` again:\n{log}");
        }
    }
}
