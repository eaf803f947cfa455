//! Source files and spans. Every AST node, model entity and plan step points back here.

use serde::Serialize;
use std::sync::Arc;

/// Index of a file in [`Sources`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct FileId(pub u32);

/// A byte range in one source file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Span {
    pub file: FileId,
    pub start: u32,
    pub end: u32,
}

impl Span {
    pub fn new(file: FileId, start: usize, end: usize) -> Span {
        let clamp = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
        Span { file, start: clamp(start), end: clamp(end) }
    }

    /// The smallest span covering both (same file assumed; `self` wins otherwise).
    pub fn to(self, other: Span) -> Span {
        if self.file != other.file {
            return self;
        }
        Span { file: self.file, start: self.start.min(other.start), end: self.end.max(other.end) }
    }

    pub fn range(self) -> std::ops::Range<usize> {
        self.start as usize..self.end as usize
    }
}

/// What kind of text a file holds, which decides how it is parsed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SourceKind {
    /// A `.gpu` specification.
    Spec,
    /// A YAML GPU catalog (built in or the user's).
    Catalog,
}

#[derive(Debug)]
pub struct SourceFile {
    /// The path as the user gave it (or `<builtin catalog>`), shown in diagnostics.
    pub name: String,
    /// Shared with the syntax trees that borrow it while the estate is lowered. An `Arc` of
    /// the `String` as read, not an `Arc<str>`: that would copy a large estate's text.
    pub text: Arc<String>,
    pub kind: SourceKind,
    /// Byte offset of each line's start, so a position is found by binary search rather
    /// than by scanning the file (outputs name the spec line of every VM).
    line_starts: Vec<u32>,
}

impl SourceFile {
    /// The 0-based line holding a byte offset.
    pub fn line_index(&self, offset: usize) -> usize {
        self.line_starts.partition_point(|&start| start as usize <= offset).saturating_sub(1)
    }

    /// The byte offset where a 0-based line starts (the end of the text past the last line).
    pub fn line_offset(&self, line: usize) -> usize {
        self.line_starts.get(line).map_or(self.text.len(), |&s| s as usize)
    }
}

/// All files of one compilation, addressed by [`FileId`].
#[derive(Debug, Default)]
pub struct Sources {
    files: Vec<SourceFile>,
}

impl Sources {
    pub fn add(&mut self, name: impl Into<String>, text: impl Into<String>, kind: SourceKind) -> FileId {
        let id = FileId(u32::try_from(self.files.len()).unwrap_or(u32::MAX));
        let text = Arc::new(text.into());
        let line_starts = std::iter::once(0).chain(memchr::memchr_iter(b'\n', text.as_bytes()).map(|i| i as u32 + 1)).collect();
        self.files.push(SourceFile { name: name.into(), text, kind, line_starts });
        id
    }

    pub fn get(&self, id: FileId) -> Option<&SourceFile> {
        self.files.get(id.0 as usize)
    }

    pub fn iter(&self) -> impl Iterator<Item = (FileId, &SourceFile)> {
        self.files.iter().enumerate().map(|(i, f)| (FileId(i as u32), f))
    }

    /// The text a span covers ("" when the span is out of range).
    pub fn slice(&self, span: Span) -> &str {
        self.get(span.file).and_then(|f| f.text.get(span.range())).unwrap_or("")
    }

    /// 1-based line and column of a byte offset (columns count characters).
    pub fn line_col(&self, file: FileId, offset: u32) -> (usize, usize) {
        let Some(f) = self.get(file) else { return (1, 1) };
        let offset = offset.min(f.text.len() as u32);
        let line = f.line_starts.partition_point(|&start| start <= offset).max(1);
        let line_start = f.line_starts[line - 1] as usize;
        let col = f.text.get(line_start..offset as usize).map_or(0, |s| s.chars().count()) + 1;
        (line, col)
    }
}
