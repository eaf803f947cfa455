//! Output that changes only where the estate changed: a VM inserted at the top of each example
//! changes that VM's files and the lines that concern it, and nothing else (no line numbers in
//! headers, no step renumbering, no graph node ids shifted). Both builds run the real `gpuc
//! build` on copies of `examples/` under the same relative path, so plan.md's header matches.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The VM every case inserts; its name is what "concerns it" means in a changed line.
const NEW_VM: &str = "probe";

struct Case {
    example: &'static str,
    /// The VM block inserted above the first line of the example.
    vm: &'static str,
    /// Files that exist only after the insertion.
    added: &'static [&'static str],
    /// Files that change, each only in hunks that mention the new VM.
    changed: &'static [&'static str],
}

/// Where an example's hosts have a free GPU, the new VM takes it; where every GPU is in use,
/// it is a VM without a GPU (which has no files and no steps, so nothing may change at all).
const CASES: &[Case] = &[
    Case { example: "lab.gpu", vm: "vm probe {\n  host   esx14\n  memory 8GiB\n  cpus   2\n}", added: &[], changed: &[] },
    Case { example: "bitfusion-pool.gpu", vm: "vm probe {\n  host   esx40\n  memory 8GiB\n}", added: &[], changed: &[] },
    Case {
        example: "brownfield.gpu",
        vm: "vm probe {\n  host        esx21\n  memory      16GiB\n  firmware    efi\n  passthrough esx21.g2\n}",
        added: &["vms/probe.vmx"],
        // The first VM the rollout configures brings the playbook's play for VMs.
        changed: &["ansible/inventory.yml", "ansible/site.yml", "graph.dot", "plan.md"],
    },
    Case {
        example: "current-estate.gpu",
        vm: "vm probe {\n  host     esx11\n  memory   64GiB\n  firmware efi\n  vgpu     H100-80C on esx11.g3\n  guest    { os linux  driver \"550.54.15\"  cuda \"12.4\"  license nls }\n}",
        // Its guest takes the gridd.conf the estate's other vGPU guests of licence nls share.
        added: &["vms/probe.vmx"],
        // The host's first script lists the vGPU VMs to move off it: the new VM is one. The
        // Ansible inventory lists the VMs and guests the rollout configures.
        changed: &["ansible/inventory.yml", "graph.dot", "hosts/esx11/1-graphics.sh", "plan.md"],
    },
    Case { example: "mig.gpu", vm: "vm probe {\n  host   esx31\n  memory 8GiB\n}", added: &[], changed: &[] },
    Case { example: "multi-gpu-trainer.gpu", vm: "vm probe {\n  host   esx21\n  memory 8GiB\n}", added: &[], changed: &[] },
    Case { example: "passthrough-workstation.gpu", vm: "vm probe {\n  host   esx14\n  memory 8GiB\n}", added: &[], changed: &[] },
    Case { example: "vgpu-p100.gpu", vm: "vm probe {\n  host   esx14\n  memory 8GiB\n}", added: &[], changed: &[] },
];

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("gpuc-stability-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("creatable");
    for entry in std::fs::read_dir(from).expect("readable").flatten() {
        let path = entry.path();
        let target = to.join(entry.file_name());
        if path.is_dir() {
            copy_dir(&path, &target);
        } else {
            std::fs::copy(&path, &target).expect("copyable");
        }
    }
}

/// Every file below `dir` with its text, by relative path.
fn tree(dir: &Path) -> BTreeMap<String, String> {
    fn walk(base: &Path, dir: &Path, out: &mut BTreeMap<String, String>) {
        for entry in std::fs::read_dir(dir).expect("readable").flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(base, &path, out);
            } else {
                let rel = path.strip_prefix(base).expect("below").to_string_lossy().replace('\\', "/");
                out.insert(rel, std::fs::read_to_string(&path).expect("text"));
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

/// Builds `example` inside `examples` (a copy) into `examples/out` and reads the output.
fn build(examples: &Path, example: &str) -> BTreeMap<String, String> {
    let output =
        Command::new(env!("CARGO_BIN_EXE_gpuc")).current_dir(examples).args(["build", example, "-o", "out"]).output().expect("gpuc runs");
    assert!(output.status.success(), "{example}: {}", String::from_utf8_lossy(&output.stderr));
    tree(&examples.join("out"))
}

/// A run of changed lines: what the old text had there and what the new one has.
#[derive(Debug, Default)]
struct Hunk<'a> {
    removed: Vec<&'a str>,
    added: Vec<&'a str>,
}

/// The hunks that turn `old` into `new`, by a longest common subsequence of lines. Hunks
/// separated only by blank lines are one (an inserted section's blank lines may match others).
fn hunks<'a>(old: &'a str, new: &'a str) -> Vec<Hunk<'a>> {
    let (a, b): (Vec<&str>, Vec<&str>) = (old.lines().collect(), new.lines().collect());
    // lcs[i][j]: the longest common subsequence of a[i..] and b[j..].
    let mut lcs = vec![vec![0u32; b.len() + 1]; a.len() + 1];
    for i in (0..a.len()).rev() {
        for j in (0..b.len()).rev() {
            lcs[i][j] = if a[i] == b[j] { lcs[i + 1][j + 1] + 1 } else { lcs[i + 1][j].max(lcs[i][j + 1]) };
        }
    }
    let mut out: Vec<Hunk> = Vec::new();
    let mut current = Hunk::default();
    let mut only_blank_since_last = false;
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        if i < a.len() && j < b.len() && a[i] == b[j] {
            if !current.removed.is_empty() || !current.added.is_empty() {
                out.push(std::mem::take(&mut current));
                only_blank_since_last = true;
            }
            only_blank_since_last &= a[i].trim().is_empty();
            i += 1;
            j += 1;
            continue;
        }
        if current.removed.is_empty() && current.added.is_empty() && only_blank_since_last {
            current = out.pop().unwrap_or_default();
        }
        if j < b.len() && (i == a.len() || lcs[i][j + 1] >= lcs[i + 1][j]) {
            current.added.push(b[j]);
            j += 1;
        } else {
            current.removed.push(a[i]);
            i += 1;
        }
    }
    if !current.removed.is_empty() || !current.added.is_empty() {
        out.push(current);
    }
    out
}

#[test]
fn a_vm_inserted_at_the_top_changes_only_what_concerns_it() {
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    for case in CASES {
        let dir = scratch(case.example.trim_end_matches(".gpu"));
        let (before_dir, after_dir) = (dir.join("before"), dir.join("after"));
        copy_dir(&examples, &before_dir);
        copy_dir(&examples, &after_dir);
        let spec = after_dir.join(case.example);
        let text = std::fs::read_to_string(&spec).expect("readable");
        std::fs::write(&spec, format!("{}\n\n{text}", case.vm)).expect("writable");

        let before = build(&before_dir, case.example);
        let after = build(&after_dir, case.example);
        let _ = std::fs::remove_dir_all(&dir);

        let added: Vec<&str> = after.keys().filter(|p| !before.contains_key(*p)).map(String::as_str).collect();
        let removed: Vec<&str> = before.keys().filter(|p| !after.contains_key(*p)).map(String::as_str).collect();
        let changed: Vec<&str> = before.iter().filter(|(p, t)| after.get(*p).is_some_and(|n| n != *t)).map(|(p, _)| p.as_str()).collect();
        assert_eq!(added, case.added, "{}: files added", case.example);
        assert!(removed.is_empty(), "{}: files removed: {removed:?}", case.example);
        assert_eq!(changed, case.changed, "{}: files changed", case.example);

        for path in changed {
            for hunk in hunks(&before[path], &after[path]) {
                let names_the_vm = hunk.added.iter().any(|line| line.contains(NEW_VM));
                let adds_the_vm_play =
                    path == "ansible/site.yml" && hunk.removed.is_empty() && hunk.added.iter().any(|line| line.trim() == "- name: GPU VMs");
                assert!(
                    (names_the_vm || adds_the_vm_play) && hunk.removed.len() <= hunk.added.len(),
                    "{}: {path} changes where the new VM is not concerned:\n{hunk:#?}",
                    case.example
                );
            }
        }
    }
}

#[test]
fn hunks_find_an_insertion_and_a_renumbering() {
    let old = "## a\n\n1. x\n2. y\n";
    let inserted = "## probe\n\n1. p\n\n## a\n\n1. x\n2. y\n";
    let found = hunks(old, inserted);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert!(found[0].removed.is_empty() && found[0].added.contains(&"## probe"));
    // Renumbered steps are hunks of their own, which name no new VM.
    let renumbered = "## probe\n\n1. p\n\n## a\n\n2. x\n3. y\n";
    let found = hunks(old, renumbered);
    assert!(found.iter().any(|h| h.removed == ["1. x", "2. y"] && !h.added.iter().any(|l| l.contains(NEW_VM))), "{found:#?}");
}
