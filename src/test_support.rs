//! Unit-test helpers: run the real front end on a spec text held in memory.

use crate::load::FileSystem;
use crate::model::VmId;
use crate::{check, Checked, Input};
use std::path::Path;

/// One in-memory file, whatever the path asked for.
struct Spec(String);

impl FileSystem for Spec {
    fn read(&self, _: &Path) -> std::io::Result<String> {
        Ok(self.0.clone())
    }
}

/// Checks `text`, whatever it reports.
pub fn checked_with_errors(text: &str) -> Checked {
    match check(&Input { files: vec!["t.gpu".into()], ..Default::default() }, &Spec(text.to_string())) {
        Ok(c) => c,
        Err(e) => panic!("{e}"),
    }
}

/// Checks `text` and asserts that it has no errors.
pub fn checked(text: &str) -> Checked {
    let checked = checked_with_errors(text);
    let errors: Vec<_> = checked.diagnostics.iter().filter(|d| d.is_error()).collect();
    assert!(errors.is_empty(), "{errors:?}");
    checked
}

/// The id of the VM named `name`.
pub fn vm(checked: &Checked, name: &str) -> VmId {
    checked.model.vm_ids().find(|&id| checked.model.vm(id).name == name).unwrap_or_else(|| panic!("no VM {name}"))
}
