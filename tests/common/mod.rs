//! Helpers shared by the integration tests.
#![allow(dead_code)]

use gpuc::diagnostics::render;
use gpuc::load::FileSystem;
use gpuc::{check, Checked, Input};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// The real file system, paths relative to the crate root (where `cargo test` runs).
pub struct Disk;

impl FileSystem for Disk {
    fn read(&self, path: &Path) -> std::io::Result<String> {
        std::fs::read_to_string(path)
    }
}

/// Files held in memory.
#[derive(Default)]
pub struct Memory(pub HashMap<PathBuf, String>);

impl FileSystem for Memory {
    fn read(&self, path: &Path) -> std::io::Result<String> {
        self.0.get(path).cloned().ok_or_else(|| std::io::Error::new(std::io::ErrorKind::NotFound, "not in memory"))
    }
}

pub fn check_file(path: &Path) -> Checked {
    check(&Input { files: vec![path.to_path_buf()], catalogs: Vec::new() }, &Disk).expect("the file is readable")
}

pub fn check_text(text: &str) -> Checked {
    let name = PathBuf::from("spec.gpu");
    let fs = Memory(HashMap::from([(name.clone(), text.to_string())]));
    check(&Input { files: vec![name], catalogs: Vec::new() }, &fs).expect("in memory")
}

/// Every diagnostic rendered as the CLI prints it without colour.
pub fn rendered(checked: &Checked) -> String {
    let mut out = String::new();
    for d in &checked.diagnostics {
        out.push_str(&render::human(d, &checked.sources, false, 100));
        out.push('\n');
    }
    out.push_str(&render::summary(&checked.diagnostics));
    out.push('\n');
    out
}

/// Files under `dir` ending in `ext`, sorted.
pub fn files_in(dir: &str, ext: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{dir}: {e}"))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == ext))
        .collect();
    files.sort();
    files
}
