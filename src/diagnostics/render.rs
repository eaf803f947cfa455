//! Rendering diagnostics: graphical (miette) for people, JSON for editors and CI (GitHub
//! workflow commands and SARIF live beside this file). The CLI picks one; the library never
//! prints.

use super::{Diagnostic, Label, Severity};
use crate::source::{FileId, SourceFile, Sources, Span};
use miette::{GraphicalReportHandler, GraphicalTheme, LabeledSpan, MietteError, MietteSpanContents, SourceCode, SourceSpan, SpanContents};
use serde::Serialize;
use std::fmt;
use std::path::Path;

/// Renders one diagnostic as text. `color` picks the themed or the plain output; `width`
/// wraps long lines.
pub fn human(d: &Diagnostic, sources: &Sources, color: bool, width: usize) -> String {
    let theme = if color { GraphicalTheme::unicode() } else { GraphicalTheme::unicode_nocolor() };
    let handler = GraphicalReportHandler::new_themed(theme).with_width(width).with_links(false);
    let report = Report::new(d, d.primary.span.file, sources);
    let mut out = String::new();
    if handler.render_report(&mut out, &report).is_err() {
        // The renderer failed (it should not); fall back to one plain line.
        out = format!("{}[{}]: {}\n", severity_word(d.severity()), d.code, d.message);
    }
    out
}

/// "2 errors, 1 warning".
pub fn summary(diagnostics: &[Diagnostic]) -> String {
    let errors = diagnostics.iter().filter(|d| d.is_error()).count();
    let warnings = diagnostics.len() - errors;
    let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    format!("{}, {}", plural(errors, "error"), plural(warnings, "warning"))
}

fn severity_word(s: Severity) -> &'static str {
    match s {
        Severity::Error => "error",
        Severity::Warning => "warning",
    }
}

/// A diagnostic seen through miette's protocol. miette draws the labels of one file; a label
/// in another file becomes a note naming its place (`file:line:column`).
struct Report<'a> {
    d: &'a Diagnostic,
    file: FileId,
    code: FileCode<'a>,
    help: Option<String>,
}

impl<'a> Report<'a> {
    fn new(d: &'a Diagnostic, file: FileId, sources: &'a Sources) -> Report<'a> {
        let mut help = d.help.clone();
        let elsewhere = d.secondary.iter().filter(|l| l.span.file != file).map(|l| {
            let (line, column) = sources.line_col(l.span.file, l.span.start);
            let name = sources.get(l.span.file).map_or("?", |f| f.name.as_str());
            format!("{}: {name}:{line}:{column}", l.text)
        });
        for note in elsewhere.chain(d.notes.iter().cloned()) {
            help.push_str("\nnote: ");
            help.push_str(&note);
        }
        Report { d, file, code: FileCode::of(sources, file), help: (!help.is_empty()).then_some(help) }
    }
}

impl fmt::Debug for Report<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.d.message)
    }
}

impl fmt::Display for Report<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.d.message)
    }
}

impl std::error::Error for Report<'_> {}

fn source_span(span: Span) -> SourceSpan {
    SourceSpan::new((span.start as usize).into(), (span.end - span.start) as usize)
}

impl miette::Diagnostic for Report<'_> {
    fn code<'b>(&'b self) -> Option<Box<dyn fmt::Display + 'b>> {
        Some(Box::new(self.d.code))
    }

    fn severity(&self) -> Option<miette::Severity> {
        Some(match self.d.severity() {
            Severity::Error => miette::Severity::Error,
            Severity::Warning => miette::Severity::Warning,
        })
    }

    fn help<'b>(&'b self) -> Option<Box<dyn fmt::Display + 'b>> {
        self.help.as_ref().map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn SourceCode> {
        Some(&self.code)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        let primary = LabeledSpan::new_primary_with_span(Some(self.d.primary.text.clone()), source_span(self.d.primary.span));
        let secondary = self
            .d
            .secondary
            .iter()
            .filter(|l| l.span.file == self.file)
            .map(|l| LabeledSpan::new_with_span(Some(l.text.clone()), source_span(l.span)));
        Some(Box::new(std::iter::once(primary).chain(secondary)))
    }
}

/// One source file as miette reads it, named after the file.
struct FileCode<'a> {
    file: Option<&'a SourceFile>,
}

impl<'a> FileCode<'a> {
    fn of(sources: &'a Sources, file: FileId) -> FileCode<'a> {
        FileCode { file: sources.get(file) }
    }
}

impl SourceCode for FileCode<'_> {
    /// miette scans a `str` from its start to find a span's lines; on a large file with many
    /// diagnostics that is quadratic. It is given only the lines around the span (found with
    /// the file's line index), and its answer is shifted back to file positions: the first
    /// line and the offset, not the line count, which miette adds to the first line to decide
    /// whether two labels' snippets touch (shifting it too merged labels thousands of lines
    /// apart into one snippet).
    fn read_span<'b>(&'b self, span: &SourceSpan, before: usize, after: usize) -> Result<Box<dyn SpanContents<'b> + 'b>, MietteError> {
        let Some(file) = self.file else { return Err(MietteError::OutOfBounds) };
        let first_line = file.line_index(span.offset()).saturating_sub(before + 1);
        let last_line = file.line_index(span.offset() + span.len()) + after + 2;
        let start = file.line_offset(first_line);
        let window = file.text.get(start..file.line_offset(last_line)).ok_or(MietteError::OutOfBounds)?;
        let shifted = SourceSpan::new(span.offset().saturating_sub(start).into(), span.len());
        let inner = window.read_span(&shifted, before, after)?;
        Ok(Box::new(MietteSpanContents::new_named(
            file.name.clone(),
            inner.data(),
            SourceSpan::new((inner.span().offset() + start).into(), inner.span().len()),
            inner.line() + first_line,
            inner.column(),
            inner.line_count(),
        )))
    }
}

/// A position for machine-read reports: file name, 1-based line and column of the first
/// character, 1-based line and column just past the last one (exclusive, as SARIF's
/// `endColumn`), and byte offsets. Columns count characters.
#[derive(Serialize)]
pub struct JsonSpan {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub end_line: usize,
    pub end_column: usize,
    pub start: u32,
    pub end: u32,
}

impl JsonSpan {
    pub fn of(span: Span, sources: &Sources) -> JsonSpan {
        let (line, column) = sources.line_col(span.file, span.start);
        let (end_line, end_column) = sources.line_col(span.file, span.end.max(span.start));
        let file = sources.get(span.file).map_or_else(String::new, |f| f.name.clone());
        JsonSpan { file, line, column, end_line, end_column, start: span.start, end: span.end }
    }
}

/// The message with the help line and the notes after it, for reports that have one text
/// field per finding (GitHub annotations, SARIF results).
pub fn message_with_help(d: &Diagnostic) -> String {
    let mut text = d.message.clone();
    if !d.help.is_empty() {
        text.push_str("\nhelp: ");
        text.push_str(&d.help);
    }
    for note in &d.notes {
        text.push_str("\nnote: ");
        text.push_str(note);
    }
    text
}

#[derive(Serialize)]
pub struct JsonLabel {
    #[serde(flatten)]
    pub span: JsonSpan,
    pub text: String,
    pub primary: bool,
}

#[derive(Serialize)]
pub struct JsonDiagnostic {
    pub code: &'static str,
    pub severity: Severity,
    pub rule: &'static str,
    pub message: String,
    #[serde(flatten)]
    pub span: JsonSpan,
    pub labels: Vec<JsonLabel>,
    pub help: String,
    pub notes: Vec<String>,
    /// The fix-it: replace the text of `span` with `replacement`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<JsonFix>,
}

#[derive(Serialize)]
pub struct JsonFix {
    #[serde(flatten)]
    pub span: JsonSpan,
    pub replacement: String,
}

impl JsonDiagnostic {
    pub fn of(d: &Diagnostic, sources: &Sources) -> JsonDiagnostic {
        let label = |l: &Label, primary| JsonLabel { span: JsonSpan::of(l.span, sources), text: l.text.clone(), primary };
        JsonDiagnostic {
            code: d.code.as_str(),
            severity: d.severity(),
            rule: d.code.rule(),
            message: d.message.clone(),
            span: JsonSpan::of(d.primary.span, sources),
            labels: std::iter::once(label(&d.primary, true)).chain(d.secondary.iter().map(|l| label(l, false))).collect(),
            help: d.help.clone(),
            notes: d.notes.clone(),
            fix: d.fix.as_ref().map(|f| JsonFix { span: JsonSpan::of(f.span, sources), replacement: f.replacement.clone() }),
        }
    }
}

/// A file's name as CI tools match it against the repository: relative to `base` (the working
/// directory) when it lies below it, with `/` separators and no leading `./`. Names outside
/// `base` stay as they are.
pub fn relative_path(name: &str, base: Option<&Path>) -> String {
    let path = Path::new(name);
    let relative = match base {
        Some(base) if path.is_absolute() => path.strip_prefix(base).unwrap_or(path),
        _ => path,
    };
    let text = relative.to_string_lossy().replace('\\', "/");
    let mut rest = text.as_str();
    while let Some(stripped) = rest.strip_prefix("./") {
        rest = stripped;
    }
    rest.to_string()
}
