//! Parsing, lowering and checking of one file: any bytes, served as `fuzz.gpu`, never panic.
#![no_main]

use gpuc::load::FileSystem;
use libfuzzer_sys::fuzz_target;
use std::path::{Path, PathBuf};

/// Serves the fuzz input as `fuzz.gpu`; every other path (imports, catalogs) is missing.
struct OneFile<'a>(&'a str);

impl FileSystem for OneFile<'_> {
    fn read(&self, path: &Path) -> std::io::Result<String> {
        if path == Path::new("fuzz.gpu") {
            Ok(self.0.to_string())
        } else {
            Err(std::io::Error::new(std::io::ErrorKind::NotFound, "not in the fuzz input"))
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let input = gpuc::Input { files: vec![PathBuf::from("fuzz.gpu")], catalogs: Vec::new() };
    let _ = gpuc::check(&input, &OneFile(text)).expect("fuzz.gpu is always readable");
});
