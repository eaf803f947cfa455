//! `gpuc diff` through the real binary: what a change to an example needs (snapshots), a
//! firmware switch called out, a side with errors refused, and a one-VM change to a
//! 1,000-host estate staying a short pull-request comment.

#[path = "../benches/fleet/mod.rs"]
mod fleet;

use std::path::Path;
use std::process::{Command, Output};

/// Runs gpuc in `dir`, so the paths in its output are the relative ones the test wrote.
fn gpuc_in(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gpuc")).current_dir(dir).args(args).env("NO_COLOR", "1").output().expect("gpuc runs")
}

fn stdout(out: &Output) -> String {
    assert_eq!(out.status.code(), Some(0), "stderr:\n{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout.clone()).expect("UTF-8 output")
}

/// A folder holding `old/<name>` and `new/<name>`.
fn versions(name: &str, old: &str, new: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("a temporary folder");
    for (side, text) in [("old", old), ("new", new)] {
        std::fs::create_dir(dir.path().join(side)).expect("a folder");
        std::fs::write(dir.path().join(side).join(name), text).expect("the spec is written");
    }
    dir
}

/// `text` with each `(from, to)` replaced once; each `from` must be there.
fn edited(text: &str, edits: &[(&str, &str)]) -> String {
    edits.iter().fold(text.to_string(), |text, (from, to)| {
        assert!(text.contains(from), "`{from}` is not in the text");
        text.replacen(from, to, 1)
    })
}

/// The lab example, changed the way a pull request would: the trainer gives up a P100, viz1
/// gets more memory, the host's scheduler and the licence server's port change.
fn lab_versions() -> tempfile::TempDir {
    let lab = std::fs::read_to_string("examples/lab.gpu").expect("examples/lab.gpu");
    let changed = edited(
        &lab,
        &[
            ("scheduler equal_share ", "scheduler fixed_share "),
            ("passthrough esx14.g0, esx14.g1\n", "passthrough esx14.g0\n"),
            ("  memory   32GiB\n  cpus     8", "  memory   48GiB\n  cpus     8"),
            ("port        7070 ", "port        7071 "),
            // The trainer keeps one GPU, so a client can borrow one at most.
            ("gpus 2  share 0.25", "gpus 1  share 0.25"),
        ],
    );
    versions("lab.gpu", &lab, &changed)
}

#[test]
fn a_change_to_the_lab_reports_reboots_power_offs_and_keys() {
    let dir = lab_versions();
    let human = stdout(&gpuc_in(dir.path(), &["diff", "old/lab.gpu", "new/lab.gpu"]));
    insta::assert_snapshot!("lab_human", human);
    let markdown = stdout(&gpuc_in(dir.path(), &["diff", "--format", "markdown", "old/lab.gpu", "new/lab.gpu"]));
    insta::assert_snapshot!("lab_markdown", markdown);
    let json: serde_json::Value =
        serde_json::from_str(&stdout(&gpuc_in(dir.path(), &["diff", "--format", "json", "old/lab.gpu", "new/lab.gpu"]))).expect("JSON");
    assert_eq!(json["version"], 1);
    assert_eq!(json["summary"]["reboots"], 2, "{json}");
    assert_eq!(json["hosts"][0]["phases"], serde_json::json!(["2-driver.sh", "3-ecc.sh"]), "{json}");
    assert_eq!(json["summary"]["vms_powered_off"], 5, "every VM of the host in maintenance mode: {json}");
}

#[test]
fn the_same_estate_needs_nothing() {
    let lab = std::fs::read_to_string("examples/lab.gpu").expect("examples/lab.gpu");
    let dir = versions("lab.gpu", &lab, &lab);
    let human = stdout(&gpuc_in(dir.path(), &["diff", "old", "new"]));
    assert_eq!(human, "old -> new: no change to what the estate needs\n");
}

const T4_HOST: &str = r#"
host esx20 {
  address "esx20.lab.local"
  esxi    "8.0 U3"
  memory  512GiB
  gpu g0 { model tesla-t4  pci 0000:3b:00.0  use passthrough }
}
vm render1 {
  host        esx20
  memory      16GiB
  firmware    bios
  passthrough esx20.g0
}
"#;

#[test]
fn a_firmware_switch_is_called_out() {
    let dir = versions("t4.gpu", T4_HOST, &edited(T4_HOST, &[("firmware    bios", "firmware    efi")]));
    let human = stdout(&gpuc_in(dir.path(), &["diff", "old/t4.gpu", "new/t4.gpu"]));
    assert!(human.contains("~ firmware = \"bios\" -> \"efi\""), "{human}");
    assert!(human.contains("firmware BIOS -> EFI: a guest OS installed under BIOS does not boot after the switch"), "{human}");
    // The host's runbook is the same, so only the VM is powered off, for its own keys.
    assert!(!human.contains("host esx20"), "{human}");
    assert!(human.contains("power off: its .vmx keys change"), "{human}");
    let markdown = stdout(&gpuc_in(dir.path(), &["diff", "--format", "markdown", "old/t4.gpu", "new/t4.gpu"]));
    assert!(markdown.contains("> [!WARNING]\n> **render1**: firmware BIOS -> EFI"), "{markdown}");
}

#[test]
fn a_version_with_errors_is_reported_and_not_compared() {
    let broken = edited(T4_HOST, &[("memory      16GiB", "memory      16")]);
    let dir = versions("t4.gpu", T4_HOST, &broken);
    let out = gpuc_in(dir.path(), &["diff", "old/t4.gpu", "new/t4.gpu"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("error: new/t4.gpu does not check"), "{stderr}");
    assert!(stderr.contains("new/t4.gpu:"), "the diagnostic names the file: {stderr}");
}

#[test]
fn diff_needs_two_versions() {
    let dir = versions("t4.gpu", T4_HOST, T4_HOST);
    let out = gpuc_in(dir.path(), &["diff", "old/t4.gpu"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("compares two files or folders"));
}

/// A GitHub comment holds at most 65,536 characters; "a few kilobytes" is the goal.
#[test]
fn a_one_vm_change_to_a_thousand_hosts_is_a_short_comment() {
    let estate = fleet::estate(1000, 1);
    let at = estate.find("vm vg00500-0 {").expect("the fleet has VM vg00500-0");
    let (head, tail) = estate.split_at(at);
    let changed = format!("{head}{}", tail.replacen("cpus   8", "cpus   4", 1));
    let dir = versions("fleet.gpu", &estate, &changed);
    let markdown = stdout(&gpuc_in(dir.path(), &["diff", "--format", "markdown", "old/fleet.gpu", "new/fleet.gpu"]));
    assert!(markdown.len() < 4096, "{} bytes:\n{markdown}", markdown.len());
    assert!(markdown.contains("| vg00500-0 | esx00500 | changed |"), "{markdown}");
    assert!(markdown.contains("`~ numvcpus = \"8\" -> \"4\"`"), "{markdown}");
    assert!(markdown.contains("| Hosts with runbook steps to run | 0 of 1000 |"), "{markdown}");
}
