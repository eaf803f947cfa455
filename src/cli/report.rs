//! Printing diagnostics: miette graphics on stderr, or one report on stdout (JSON with the
//! facts checking derived per VM, GitHub workflow commands, or SARIF). Output is built in
//! memory or through a buffer and written in large pieces: a 10,000-host estate with
//! thousands of findings must not cost a system call per line.

use super::Format;
use crate::check::Analysis;
use crate::diagnostics::render::{self, JsonDiagnostic};
use crate::diagnostics::{github, sarif, Code, Diagnostic};
use crate::load::RootUnreadable;
use crate::model::{Firmware, Model, VmId};
use crate::source::{SourceKind, Sources, Span};
use crate::Checked;
use serde::Serialize;
use std::io::{BufWriter, IsTerminal, Write};

pub(super) fn color_wanted() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && std::io::stderr().is_terminal()
}

/// Prints the diagnostics of `checked` in `format`.
pub(super) fn print(checked: &Checked, format: Format) -> std::io::Result<()> {
    match format {
        Format::Human => print_human(checked),
        Format::Json => print_json(checked),
        Format::Github => write_stdout(github::render(&checked.diagnostics, &checked.sources, working_directory().as_deref()).as_bytes()),
        Format::Sarif => {
            let log = sarif::render(&checked.diagnostics, &checked.sources, working_directory().as_deref());
            write_stdout(&pretty_json(&log)?)
        }
    }
}

/// The directory that report paths are made relative to.
fn working_directory() -> Option<std::path::PathBuf> {
    std::env::current_dir().ok()
}

fn write_stdout(bytes: &[u8]) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(bytes)?;
    out.flush()
}

fn pretty_json(value: &impl Serialize) -> std::io::Result<Vec<u8>> {
    let mut bytes = serde_json::to_vec_pretty(value).map_err(std::io::Error::other)?;
    bytes.push(b'\n');
    Ok(bytes)
}

fn print_human(checked: &Checked) -> std::io::Result<()> {
    let color = color_wanted();
    let mut err = BufWriter::with_capacity(1 << 16, std::io::stderr().lock());
    for d in &checked.diagnostics {
        write!(err, "{}", render::human(d, &checked.sources, color, 100))?;
        writeln!(err)?;
    }
    if checked.has_errors() {
        writeln!(err, "{}", render::summary(&checked.diagnostics))?;
    } else {
        writeln!(err, "{}", clean_summary(&checked.model, &checked.diagnostics))?;
    }
    err.flush()
}

/// `checked 3 hosts, 7 GPUs, 12 VMs: no problems` (or the warnings instead of "no problems").
fn clean_summary(model: &Model, warnings: &[Diagnostic]) -> String {
    let findings = if warnings.is_empty() { "no problems".to_string() } else { plural(warnings.len(), "warning") };
    format!(
        "checked {}, {}, {}: {findings}",
        plural(model.hosts.len(), "host"),
        plural(model.gpus.len(), "GPU"),
        plural(model.vms.len(), "VM")
    )
}

fn plural(n: usize, word: &str) -> String {
    format!("{n} {word}{}", if n == 1 { "" } else { "s" })
}

/// Why `--deny-warnings` failed a run that has no errors: `2 warnings denied by
/// --deny-warnings: W1603, W2006 (1 each)` names every code with its count.
pub(super) fn denied_warnings(diagnostics: &[Diagnostic]) -> Option<String> {
    let mut counts: Vec<(Code, usize)> = Vec::new();
    for d in diagnostics.iter().filter(|d| !d.is_error()) {
        match counts.iter_mut().find(|(c, _)| *c == d.code) {
            Some((_, n)) => *n += 1,
            None => counts.push((d.code, 1)),
        }
    }
    counts.sort();
    let total: usize = counts.iter().map(|(_, n)| n).sum();
    let codes: Vec<String> = counts.iter().map(|(c, n)| format!("{c} ×{n}")).collect();
    (total > 0).then(|| format!("{} denied by --deny-warnings: {}", plural(total, "warning"), codes.join(", ")))
}

/// A file named on the command line that cannot be read, as a checked estate with one
/// diagnostic at its (empty) start, so machine-read reports carry it like any other finding.
pub(super) fn unreadable(root: &RootUnreadable) -> Checked {
    let mut sources = Sources::default();
    let file = sources.add(root.path.clone(), String::new(), SourceKind::Spec);
    let diagnostic = Diagnostic::new(Code::ImportUnreadable, root.to_string(), Span::new(file, 0, 0), "cannot be read")
        .with_help("check the path, that the file exists and that it may be read");
    Checked { sources, model: Model::default(), analysis: Analysis::default(), diagnostics: vec![diagnostic] }
}

/// The version of the JSON report's shape, raised when a field is removed or changes meaning.
const JSON_REPORT_VERSION: u32 = 1;

#[derive(Serialize)]
struct JsonSummary {
    errors: usize,
    warnings: usize,
}

/// The JSON report, in serde_json's pretty layout. The VMs' facts are written by hand, one VM
/// at a time: a 100,000-host estate has a million VMs and 350 MB of facts, which serde took
/// 0.6 s to format and would otherwise hold as records and as text.
fn print_json(checked: &Checked) -> std::io::Result<()> {
    let diagnostics: Vec<JsonDiagnostic> = checked.diagnostics.iter().map(|d| JsonDiagnostic::of(d, &checked.sources)).collect();
    let errors = checked.diagnostics.iter().filter(|d| d.is_error()).count();
    let summary = JsonSummary { errors, warnings: checked.diagnostics.len() - errors };
    let mut out = BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
    write!(out, "{{\n  \"version\": {JSON_REPORT_VERSION},\n  \"ok\": {},\n  \"summary\": ", errors == 0)?;
    nested(&mut out, &summary)?;
    out.write_all(b",\n  \"diagnostics\": ")?;
    nested(&mut out, &diagnostics)?;
    out.write_all(b",\n  \"vms\": ")?;
    vm_facts(&mut out, checked)?;
    out.write_all(b"\n}\n")?;
    out.flush()
}

/// `efi` when the GPUs require it or it is declared; `bios` when declared; else none.
fn reported_firmware(vm: &crate::model::Vm, facts: &crate::check::VmFacts) -> Option<&'static str> {
    match vm.firmware.as_ref().map(|f| f.value) {
        Some(Firmware::Bios) if !facts.efi => Some("bios"),
        Some(_) => Some("efi"),
        None => facts.efi.then_some("efi"),
    }
}

fn number_or_null(out: &mut dyn Write, number: Option<u64>) -> std::io::Result<()> {
    match number {
        Some(n) => write!(out, "{n}"),
        None => out.write_all(b"null"),
    }
}

/// A list that is a field of a VM, its items written by `item`, as serde_json pretty-prints it
/// at that depth.
fn array<'o, T>(
    out: &mut (dyn Write + 'o),
    items: &[T],
    mut item: impl FnMut(&mut (dyn Write + 'o), usize, &T) -> std::io::Result<()>,
) -> std::io::Result<()> {
    if items.is_empty() {
        return out.write_all(b"[]");
    }
    for (i, x) in items.iter().enumerate() {
        out.write_all(if i == 0 { b"[\n        " } else { b",\n        " })?;
        item(out, i, x)?;
    }
    out.write_all(b"\n      ]")
}

/// `value` as serde_json pretty-prints it one level deep: its own layout, every line after the
/// first indented two more spaces.
fn nested(out: &mut impl Write, value: &impl Serialize) -> std::io::Result<()> {
    let text = serde_json::to_vec_pretty(value).map_err(std::io::Error::other)?;
    for (i, line) in text.split(|&b| b == b'\n').enumerate() {
        if i > 0 {
            out.write_all(b"\n  ")?;
        }
        out.write_all(line)?;
    }
    Ok(())
}

/// VMs whose facts one thread formats at a time: the main thread and a helper take turns, so
/// that a 100,000-host estate's 350 MB of facts take both cores and never more than two
/// chunks of memory.
const VMS_PER_CHUNK: usize = 4096;

/// The derived facts of every VM, as the `vms` array one level deep: `name`, `host`,
/// `firmware` (`efi` when the GPUs require it or it is declared, `bios` when declared, else
/// null), `efi_required`, `use_64bit_mmio`, `mmio_size_gb`, `memory_mb`, `reservation_mb`,
/// `passthrough` (GPUs as `host.gpu`) and `vgpus` (`type`, and the `gpu` it was placed on or
/// null).
fn vm_facts<W: Write>(out: &mut W, checked: &Checked) -> std::io::Result<()> {
    // Checking derives facts for every VM, or for none when the estate did not load.
    let count = checked.model.vms.len().min(checked.analysis.vms.len());
    if count == 0 {
        return out.write_all(b"[]");
    }
    let chunk = |k: usize| k * VMS_PER_CHUNK..count.min((k + 1) * VMS_PER_CHUNK);
    let format = |out: &mut dyn Write, k: usize| chunk(k).try_for_each(|id| vm_fact(out, checked, VmId(id as u32)));
    out.write_all(b"[")?;
    let chunks = count.div_ceil(VMS_PER_CHUNK);
    if chunks == 1 {
        format(out, 0)?;
    } else {
        std::thread::scope(|scope| {
            // The helper formats the odd chunks into buffers that come back to it once written.
            let (formatted, odd) = std::sync::mpsc::sync_channel::<std::io::Result<Vec<u8>>>(1);
            let (written, free) = std::sync::mpsc::channel::<Vec<u8>>();
            scope.spawn(move || {
                for k in (1..chunks).step_by(2) {
                    let mut buffer = free.try_recv().unwrap_or_default();
                    buffer.clear();
                    let result = format(&mut buffer, k).map(|()| buffer);
                    if formatted.send(result).is_err() {
                        return;
                    }
                }
            });
            for k in 0..chunks {
                if k % 2 == 0 {
                    format(out, k)?;
                } else {
                    let buffer = odd.recv().map_err(std::io::Error::other)??;
                    out.write_all(&buffer)?;
                    let _ = written.send(buffer);
                }
            }
            Ok::<(), std::io::Error>(())
        })?;
    }
    out.write_all(b"\n  ]")
}

/// One VM's facts, after a comma unless it is the first.
fn vm_fact(out: &mut dyn Write, checked: &Checked, id: VmId) -> std::io::Result<()> {
    let model: &Model = &checked.model;
    let string = |out: &mut dyn Write, text: &str| serde_json::to_writer(out, text).map_err(std::io::Error::other);
    let vm = model.vm(id);
    let facts = checked.analysis.vm(id);
    out.write_all(if id.0 > 0 { b",\n    {\n      \"name\": " } else { b"\n    {\n      \"name\": " })?;
    string(out, &vm.name)?;
    out.write_all(b",\n      \"host\": ")?;
    match vm.host {
        Some(h) => string(out, &model.host(h).name)?,
        None => out.write_all(b"null")?,
    }
    out.write_all(b",\n      \"firmware\": ")?;
    match reported_firmware(vm, facts) {
        Some(f) => write!(out, "\"{f}\"")?,
        None => out.write_all(b"null")?,
    }
    write!(
        out,
        ",\n      \"efi_required\": {},\n      \"use_64bit_mmio\": {},\n      \"mmio_size_gb\": ",
        facts.efi,
        facts.mmio.is_some()
    )?;
    number_or_null(out, facts.mmio.map(|m| m.as_gib_ceil()))?;
    write!(out, ",\n      \"memory_mb\": {},\n      \"reservation_mb\": ", vm.memory.value.as_mib_ceil())?;
    number_or_null(out, facts.reservation.map(|r| r.as_mib_ceil()))?;
    out.write_all(b",\n      \"passthrough\": ")?;
    array(out, &vm.passthrough, |out, _, gpu| string(out, &model.gpu_label(gpu.value)))?;
    out.write_all(b",\n      \"vgpus\": ")?;
    array(out, &vm.vgpus, |out, i, request| {
        out.write_all(b"{\n          \"type\": ")?;
        string(out, &request.type_name)?;
        out.write_all(b",\n          \"gpu\": ")?;
        match facts.placements.get(i).copied().flatten() {
            Some(g) => string(out, &model.gpu_label(g))?,
            None => out.write_all(b"null")?,
        }
        out.write_all(b"\n        }")
    })?;
    out.write_all(b"\n    }")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What `vm_facts` writes, as serde would write it: the layout it must match.
    #[derive(Serialize)]
    struct SerdeVm<'a> {
        name: &'a str,
        host: Option<&'a str>,
        firmware: Option<&'static str>,
        efi_required: bool,
        use_64bit_mmio: bool,
        mmio_size_gb: Option<u64>,
        memory_mb: u64,
        reservation_mb: Option<u64>,
        passthrough: Vec<String>,
        vgpus: Vec<SerdeVgpu<'a>>,
    }

    #[derive(Serialize)]
    struct SerdeVgpu<'a> {
        #[serde(rename = "type")]
        kind: &'a str,
        gpu: Option<String>,
    }

    fn serde_facts(checked: &Checked) -> Vec<SerdeVm<'_>> {
        let model = &checked.model;
        model
            .vm_ids()
            .filter_map(|id| {
                let vm = model.vm(id);
                let facts = checked.analysis.vms.get(id.index())?;
                Some(SerdeVm {
                    name: &vm.name,
                    host: vm.host.map(|h| model.host(h).name.as_str()),
                    firmware: reported_firmware(vm, facts),
                    efi_required: facts.efi,
                    use_64bit_mmio: facts.mmio.is_some(),
                    mmio_size_gb: facts.mmio.map(|m| m.as_gib_ceil()),
                    memory_mb: vm.memory.value.as_mib_ceil(),
                    reservation_mb: facts.reservation.map(|r| r.as_mib_ceil()),
                    passthrough: vm.passthrough.iter().map(|g| model.gpu_label(g.value)).collect(),
                    vgpus: vm
                        .vgpus
                        .iter()
                        .enumerate()
                        .map(|(i, r)| SerdeVgpu {
                            kind: &r.type_name,
                            gpu: facts.placements.get(i).copied().flatten().map(|g| model.gpu_label(g)),
                        })
                        .collect(),
                })
            })
            .collect()
    }

    #[test]
    fn vm_facts_are_written_as_serde_json_pretty_prints_them() {
        // Passthrough with two GPUs, vGPUs placed and not, a VM on an unknown host, BIOS and
        // EFI, reservations and none, and an estate with no VM at all.
        let spec = "host h {\n  esxi \"8.0 U3\"\n  bios { above_4g_decoding true }\n  nvidia { vib \"/vmfs/volumes/ds1/NVIDIA-VMware.vib\" release \"17.0\" }\n  gpu g0 { model tesla-v100d-32gb pci 0000:3b:00.0 use passthrough }\n  gpu g1 { model tesla-v100d-32gb pci 0000:5e:00.0 use passthrough }\n  gpu g2 { model tesla-t4 pci 0000:86:00.0 use vgpu }\n}\nlicense nls { token \"client_configuration_token.tok\" }\nvm a { host h memory 64GiB reservation 64GiB firmware efi passthrough g0, g1 }\nvm b { host h memory 16GiB firmware bios vgpu nvidia_t4-4q, nvidia_t4-16q guest { license nls } }\nvm c { host nowhere memory 8GiB }\n";
        // More VMs than three chunks, so that both threads format some.
        let many = format!("{spec}vm many[1..{}] {{ host h memory 4GiB }}\n", 3 * VMS_PER_CHUNK + 5);
        for text in [spec, "license nls { token \"client_configuration_token.tok\" }\n", &many] {
            let checked = crate::test_support::checked_with_errors(text);
            let mut ours = Vec::new();
            vm_facts(&mut ours, &checked).unwrap();
            let mut theirs = Vec::new();
            nested(&mut theirs, &serde_facts(&checked)).unwrap();
            assert_eq!(String::from_utf8(ours).unwrap(), String::from_utf8(theirs).unwrap());
        }
    }
}
