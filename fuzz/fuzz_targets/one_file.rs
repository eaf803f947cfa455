//! Shared by the fuzz targets: the input served as the only file, `fuzz.gpu`.

use gpuc::load::FileSystem;
use std::path::{Path, PathBuf};

/// Serves the fuzz input as `fuzz.gpu`; every other path (imports, catalogs) is missing.
pub struct OneFile<'a>(pub &'a str);

impl FileSystem for OneFile<'_> {
    fn read(&self, path: &Path) -> std::io::Result<String> {
        if path == Path::new("fuzz.gpu") {
            Ok(self.0.to_string())
        } else {
            Err(std::io::Error::new(std::io::ErrorKind::NotFound, "not in the fuzz input"))
        }
    }
}

/// Loads, parses, lowers and checks the input.
pub fn check(text: &str) -> gpuc::Checked {
    let input = gpuc::Input { files: vec![PathBuf::from("fuzz.gpu")], ..Default::default() };
    gpuc::check(&input, &OneFile(text)).expect("fuzz.gpu is always readable")
}
