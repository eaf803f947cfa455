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
    check(&Input { files: vec![path.to_path_buf()], ..Default::default() }, &Disk).expect("the file is readable")
}

pub fn check_text(text: &str) -> Checked {
    let name = PathBuf::from("spec.gpu");
    let fs = Memory(HashMap::from([(name.clone(), text.to_string())]));
    check(&Input { files: vec![name], ..Default::default() }, &fs).expect("in memory")
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

/// splitmix64, for mutations that are the same on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self, below: usize) -> usize {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        ((z ^ (z >> 31)) % below.max(1) as u64) as usize
    }
}

/// Pieces of the language, inserted by [`mutate`].
const TOKENS: &[&str] = &[
    "{",
    "}",
    "\"",
    " on ",
    " vgpu ",
    " passthrough ",
    " 0GiB ",
    " 99999999TiB ",
    " host ",
    "[1..3]",
    " efi ",
    " bios ",
    ",",
    " esx00000.g0 ",
    "#",
    " \u{e9} ",
    ".",
    ":",
    "\\",
    "\r",
    "\n",
];

/// `text` with one to six deletions, token insertions or copied runs, the same for a seed.
pub fn mutate(text: &str, seed: u64) -> String {
    let mut rng = Rng(seed);
    let mut text: Vec<char> = text.chars().collect();
    for _ in 0..1 + rng.next(6) {
        let at = rng.next(text.len());
        match rng.next(3) {
            0 => {
                let len = rng.next(40).min(text.len() - at);
                text.drain(at..at + len);
            }
            1 => text.splice(at..at, TOKENS[rng.next(TOKENS.len())].chars()).for_each(drop),
            _ => {
                let from = rng.next(text.len());
                let len = rng.next(60).min(text.len() - from);
                let copy: Vec<char> = text[from..from + len].to_vec();
                text.splice(at..at, copy).for_each(drop);
            }
        }
    }
    text.into_iter().collect()
}
