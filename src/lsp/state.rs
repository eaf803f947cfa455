//! The documents the editor has open, and the estate each one was last checked as.

use crate::load::FileSystem;
use crate::source::{FileId, SourceFile};
use crate::{check, Checked, Input};
use lsp_types::{Position, Range, Url};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// One open document checked as the root of its estate: itself and what it imports.
pub struct Estate {
    pub checked: Checked,
    /// The root document's file in `checked.sources`.
    pub root: FileId,
}

impl Estate {
    /// The file of the estate read from `path`.
    pub fn file_of(&self, path: &Path) -> Option<FileId> {
        self.checked.sources.iter().find(|(_, file)| Path::new(&file.name) == path).map(|(id, _)| id)
    }

    pub fn source(&self, id: FileId) -> &SourceFile {
        self.checked.sources.get(id).expect("a file id taken from these sources")
    }

    /// The LSP range of a span (UTF-16 columns, as LSP counts by default).
    pub fn range(&self, span: crate::source::Span) -> Range {
        let file = self.source(span.file);
        Range::new(position(file, span.start as usize), position(file, span.end as usize))
    }

    pub fn url(&self, id: FileId) -> Option<Url> {
        Url::from_file_path(&self.source(id).name).ok()
    }
}

/// Open documents (their text as the editor holds it) and the estate of each.
#[derive(Default)]
pub struct State {
    pub documents: HashMap<PathBuf, String>,
    pub estates: HashMap<PathBuf, Estate>,
}

impl State {
    /// Checks the estate rooted at an open document, reading open documents from memory.
    pub fn recheck(&mut self, root: &Path) {
        let input = Input { files: vec![root.to_path_buf()], ..Default::default() };
        let overlay = Overlay { documents: &self.documents };
        match check(&input, &overlay) {
            Ok(checked) => {
                let mut estate = Estate { checked, root: FileId(0) };
                match estate.file_of(root) {
                    Some(id) => {
                        estate.root = id;
                        self.estates.insert(root.to_path_buf(), estate);
                    }
                    None => {
                        self.estates.remove(root);
                    }
                }
            }
            Err(_) => {
                self.estates.remove(root);
            }
        }
    }

    /// The open roots whose estate holds `path` (the document itself among them).
    pub fn roots_holding(&self, path: &Path) -> Vec<PathBuf> {
        let mut roots: Vec<PathBuf> = self
            .estates
            .iter()
            .filter(|(root, estate)| root.as_path() != path && estate.file_of(path).is_some())
            .map(|(root, _)| root.clone())
            .collect();
        roots.sort();
        if self.documents.contains_key(path) {
            roots.insert(0, path.to_path_buf());
        }
        roots
    }

    /// The estate that answers a question about an open document: its own.
    pub fn estate_of(&self, url: &Url) -> Option<(&Estate, FileId)> {
        let path = url.to_file_path().ok()?;
        let estate = self.estates.get(&path)?;
        Some((estate, estate.root))
    }
}

/// Open documents first, then the disk: what the user sees is what is checked.
struct Overlay<'a> {
    documents: &'a HashMap<PathBuf, String>,
}

impl FileSystem for Overlay<'_> {
    fn read(&self, path: &Path) -> std::io::Result<String> {
        if let Some(text) = self.documents.get(path) {
            return Ok(text.clone());
        }
        String::from_utf8(self.read_bytes(path)?).map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
    }

    fn read_bytes(&self, path: &Path) -> std::io::Result<Vec<u8>> {
        if let Some(text) = self.documents.get(path) {
            return Ok(text.clone().into_bytes());
        }
        crate::load::refuse_oversized(std::fs::metadata(path)?.len())?;
        std::fs::read(path)
    }
}

/// The LSP position of a byte offset.
pub fn position(file: &SourceFile, offset: usize) -> Position {
    let offset = offset.min(file.text.len());
    let line = file.line_index(offset);
    let start = file.line_offset(line);
    let character = file.text.get(start..offset).map_or(0, |s| s.encode_utf16().count());
    Position::new(line as u32, character as u32)
}

/// The byte offset of an LSP position (clamped to its line).
pub fn offset(file: &SourceFile, at: Position) -> usize {
    let start = file.line_offset(at.line as usize);
    let end = file.line_offset(at.line as usize + 1);
    let line = file.text.get(start..end).unwrap_or("");
    let mut units = 0;
    for (i, c) in line.char_indices() {
        if units >= at.character as usize || c == '\n' {
            return start + i;
        }
        units += c.len_utf16();
    }
    end
}
