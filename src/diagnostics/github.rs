//! GitHub Actions workflow commands: one `::error` or `::warning` line per diagnostic, which
//! the runner turns into an annotation on the file and lines of a pull request.
//!
//! The syntax and its escaping are those of `@actions/core` (`packages/core/src/command.ts`
//! in github.com/actions/toolkit): in the message `%`, CR and LF become `%25`, `%0D`, `%0A`;
//! in a property value `:` and `,` also become `%3A` and `%2C`. Documented in GitHub's
//! "Workflow commands for GitHub Actions" (`error` and `warning` take `file`, `line`, `col`,
//! `endLine`, `endColumn` and `title`).

use super::render::{message_with_help, relative_path, JsonSpan};
use super::{Diagnostic, Severity};
use crate::source::Sources;
use std::fmt::Write as _;
use std::path::Path;

/// Every diagnostic as a workflow command, one per line. Labels other than the primary one
/// have no place in an annotation, so they are named in its message (`file:line:column: text`).
/// `base` is the working directory that file names are made relative to.
pub fn render(diagnostics: &[Diagnostic], sources: &Sources, base: Option<&Path>) -> String {
    let mut out = String::new();
    for d in diagnostics {
        let at = JsonSpan::of(d.primary.span, sources);
        let command = match d.severity() {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        let mut message = message_with_help(d);
        for label in &d.secondary {
            let place = JsonSpan::of(label.span, sources);
            let file = relative_path(&place.file, base);
            let _ = write!(message, "\n{file}:{}:{}: {}", place.line, place.column, label.text);
        }
        let _ = writeln!(
            out,
            "::{command} file={},line={},col={},endLine={},endColumn={},title={}::{}",
            escape_property(&relative_path(&at.file, base)),
            at.line,
            at.column,
            at.end_line,
            at.end_column,
            escape_property(d.code.as_str()),
            escape_data(&message),
        );
    }
    out
}

fn escape_data(text: &str) -> String {
    text.replace('%', "%25").replace('\r', "%0D").replace('\n', "%0A")
}

fn escape_property(text: &str) -> String {
    escape_data(text).replace(':', "%3A").replace(',', "%2C")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_as_actions_core_does() {
        assert_eq!(escape_data("50% of\r\nit: a, b"), "50%25 of%0D%0Ait: a, b");
        assert_eq!(escape_property("C:\\a,b%\n"), "C%3A\\a%2Cb%25%0A");
    }
}
