//! Printing diagnostics: miette graphics on stderr, or one report on stdout (JSON with the
//! facts checking derived per VM, GitHub workflow commands, or SARIF). Output is built in
//! memory or through a buffer and written in large pieces: a 10,000-host estate with
//! thousands of findings must not cost a system call per line.

use super::Format;
use crate::check::Analysis;
use crate::diagnostics::render::{self, JsonDiagnostic};
use crate::diagnostics::{github, sarif, Code, Diagnostic};
use crate::load::RootUnreadable;
use crate::model::{Firmware, Model};
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
struct JsonReport<'a> {
    version: u32,
    ok: bool,
    summary: JsonSummary,
    diagnostics: Vec<JsonDiagnostic>,
    vms: VmFacts<'a>,
}

#[derive(Serialize)]
struct JsonSummary {
    errors: usize,
    warnings: usize,
}

/// The derived facts of one VM.
#[derive(Serialize)]
struct JsonVm<'a> {
    name: &'a str,
    host: Option<&'a str>,
    /// `efi` when the GPUs require it or it is declared; `bios` when declared; else null.
    firmware: Option<&'static str>,
    efi_required: bool,
    use_64bit_mmio: bool,
    mmio_size_gb: Option<u64>,
    memory_mb: u64,
    reservation_mb: Option<u64>,
    passthrough: Vec<String>,
    vgpus: Vec<JsonVgpu<'a>>,
}

#[derive(Serialize)]
struct JsonVgpu<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    /// The GPU the vGPU was placed on (`host.gpu`); null when it could not be placed.
    gpu: Option<String>,
}

/// Every VM's facts, made one at a time while the report is written: a 100,000-host estate
/// has a million VMs, whose facts would otherwise be held twice, as records and as text.
struct VmFacts<'a>(&'a Checked);

impl Serialize for VmFacts<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let checked = self.0;
        let model: &Model = &checked.model;
        serializer.collect_seq(model.vm_ids().filter_map(|id| {
            let vm = model.vm(id);
            let facts = checked.analysis.vms.get(id.index())?;
            let firmware = match vm.firmware.as_ref().map(|f| f.value) {
                Some(Firmware::Bios) if !facts.efi => Some("bios"),
                Some(_) => Some("efi"),
                None => facts.efi.then_some("efi"),
            };
            Some(JsonVm {
                name: &vm.name,
                host: vm.host.map(|h| model.host(h).name.as_str()),
                firmware,
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
                    .map(|(i, r)| JsonVgpu {
                        kind: &r.type_name,
                        gpu: facts.placements.get(i).copied().flatten().map(|g| model.gpu_label(g)),
                    })
                    .collect(),
            })
        }))
    }
}

fn print_json(checked: &Checked) -> std::io::Result<()> {
    let diagnostics: Vec<JsonDiagnostic> = checked.diagnostics.iter().map(|d| JsonDiagnostic::of(d, &checked.sources)).collect();
    let errors = checked.diagnostics.iter().filter(|d| d.is_error()).count();
    let report = JsonReport {
        version: JSON_REPORT_VERSION,
        ok: errors == 0,
        summary: JsonSummary { errors, warnings: checked.diagnostics.len() - errors },
        diagnostics,
        vms: VmFacts(checked),
    };
    let mut out = BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
    serde_json::to_writer_pretty(&mut out, &report).map_err(std::io::Error::other)?;
    out.write_all(b"\n")?;
    out.flush()
}
