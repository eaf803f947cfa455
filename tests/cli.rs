//! The real binary: exit codes, JSON shape, `explain`, and the guide's worked examples.

mod common;

use serde_json::Value;
use std::process::{Command, Output};

fn gpuc(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gpuc")).args(args).env("NO_COLOR", "1").output().expect("gpuc runs")
}

fn code(out: &Output) -> i32 {
    out.status.code().expect("gpuc exits with a code, not a signal")
}

fn json(args: &[&str]) -> (i32, Value) {
    let out = gpuc(args);
    let value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)));
    (code(&out), value)
}

fn vm<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["vms"].as_array().and_then(|vms| vms.iter().find(|v| v["name"] == name)).unwrap_or_else(|| panic!("no VM {name} in {report}"))
}

#[test]
fn every_example_checks_clean() {
    let examples = common::files_in("examples", "gpu");
    assert!(examples.len() >= 6, "the six examples of the issue");
    for example in examples {
        let out = gpuc(&["check", example.to_str().expect("utf-8 path")]);
        assert_eq!(code(&out), 0, "{}:\n{}", example.display(), String::from_utf8_lossy(&out.stderr));
    }
}

#[test]
fn a_folder_is_one_estate() {
    // `examples/estate/` holds the H100 rack that `current-estate.gpu` imports.
    assert_eq!(code(&gpuc(&["check", "examples/estate"])), 0);
    // The examples together are not one estate: several declare host `esx14`.
    let out = gpuc(&["check", "--format", "json", "examples"]);
    assert_eq!(code(&out), 1);
    assert!(String::from_utf8_lossy(&out.stdout).contains("E0101"));
}

#[test]
fn guide_two_p100s_need_a_64_gb_window() {
    let (exit, report) = json(&["check", "--format", "json", "tests/guide/two-p100-passthrough.gpu"]);
    assert_eq!(exit, 0, "{report}");
    let trainer = vm(&report, "trainer");
    assert_eq!(trainer["mmio_size_gb"], 64);
    assert_eq!(trainer["use_64bit_mmio"], true);
    assert_eq!(trainer["firmware"], "efi");
    assert_eq!(trainer["reservation_mb"], trainer["memory_mb"]);
}

#[test]
fn guide_one_v100_32gb_needs_64_gb() {
    let (exit, report) = json(&["check", "--format", "json", "tests/guide/one-v100-32gb-passthrough.gpu"]);
    assert_eq!(exit, 0, "{report}");
    assert_eq!(vm(&report, "v100")["mmio_size_gb"], 64);
}

#[test]
fn guide_three_p100_8q_on_one_p100_is_an_error_giving_the_limit() {
    let (exit, report) = json(&["check", "--format", "json", "tests/guide/three-p100-8q-on-one-p100.gpu"]);
    assert_eq!(exit, 1);
    let errors: Vec<&Value> = report["diagnostics"].as_array().expect("list").iter().filter(|d| d["severity"] == "error").collect();
    assert_eq!(errors.len(), 1, "{report}");
    assert_eq!(errors[0]["code"], "E1001");
    assert!(errors[0]["message"].as_str().is_some_and(|m| m.contains("at most 2")), "{}", errors[0]["message"]);
    assert_eq!(errors[0]["line"], 18);
    // The two that fit are placed on the GPU.
    assert_eq!(vm(&report, "ml1")["vgpus"][0]["gpu"], "esx14.g0");
}

#[test]
fn json_reports_placement_and_shape() {
    let (exit, report) = json(&["check", "--format", "json", "examples/lab.gpu"]);
    assert_eq!(exit, 0);
    assert_eq!(report["ok"], true);
    assert!(report["summary"]["errors"] == 0 && report["summary"]["warnings"].is_u64());
    for vm in report["vms"].as_array().expect("vms") {
        for key in [
            "name",
            "host",
            "firmware",
            "efi_required",
            "use_64bit_mmio",
            "mmio_size_gb",
            "memory_mb",
            "reservation_mb",
            "passthrough",
            "vgpus",
        ] {
            assert!(vm.get(key).is_some(), "VM facts lack `{key}`: {vm}");
        }
        for vgpu in vm["vgpus"].as_array().expect("list") {
            assert!(vgpu["gpu"].is_string(), "every vGPU of a clean spec is placed: {vm}");
        }
    }
}

#[test]
fn exit_codes() {
    assert_eq!(code(&gpuc(&["check", "tests/guide/three-p100-8q-on-one-p100.gpu"])), 1);
    assert_eq!(code(&gpuc(&["check", "does/not/exist.gpu"])), 2);
    assert_eq!(code(&gpuc(&["check"])), 2);
    assert_eq!(code(&gpuc(&["frobnicate"])), 2);
    assert_eq!(code(&gpuc(&["check", "--format", "xml", "examples/lab.gpu"])), 2);
    assert_eq!(code(&gpuc(&["--help"])), 0);
}

#[test]
fn deny_warnings_turns_warnings_into_failure_and_names_them() {
    // The lab has a Bitfusion pool, which carries the W2006 warning.
    assert_eq!(code(&gpuc(&["check", "examples/lab.gpu"])), 0);
    let out = gpuc(&["check", "--deny-warnings", "examples/lab.gpu"]);
    assert_eq!(code(&out), 1);
    let last = String::from_utf8_lossy(&out.stderr).lines().last().unwrap_or_default().to_string();
    assert_eq!(last, "error: 1 warning denied by --deny-warnings: W2006 ×1");
    // In a machine format the report stays on stdout and the reason on stderr.
    let out = gpuc(&["check", "--deny-warnings", "--format", "json", "examples/lab.gpu"]);
    assert_eq!(code(&out), 1);
    assert_eq!(String::from_utf8_lossy(&out.stderr), "error: 1 warning denied by --deny-warnings: W2006 ×1\n");
}

#[test]
fn a_run_without_findings_says_what_it_checked() {
    let out = gpuc(&["check", "examples/passthrough-workstation.gpu"]);
    assert_eq!(code(&out), 0);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.starts_with("checked 1 host, ") && stderr.ends_with(": no problems\n"), "{stderr}");
}

#[test]
fn human_output_has_code_span_label_and_help_without_colour() {
    let out = gpuc(&["check", "tests/guide/three-p100-8q-on-one-p100.gpu"]);
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(text.contains("E1001"), "{text}");
    assert!(text.contains("three-p100-8q-on-one-p100.gpu:18:"), "{text}");
    assert!(text.contains("help:"), "{text}");
    assert!(!text.contains('\u{1b}'), "NO_COLOR and a pipe mean no escape codes");
}

#[test]
fn explain_lists_and_explains_every_code() {
    let out = gpuc(&["explain", "--list"]);
    assert_eq!(code(&out), 0);
    let list = String::from_utf8_lossy(&out.stdout);
    for c in gpuc::diagnostics::Code::ALL {
        let line = list.lines().find(|l| l.starts_with(c.as_str())).unwrap_or_else(|| panic!("{c} not listed"));
        assert!(line.contains(c.title()));
        let page = gpuc(&["explain", c.as_str()]);
        assert_eq!(code(&page), 0);
        assert!(String::from_utf8_lossy(&page.stdout).starts_with(&format!("{c}: ")));
    }
    assert_eq!(code(&gpuc(&["explain", "E4242"])), 2);
    assert_eq!(code(&gpuc(&["explain", "e1001"])), 0);
}

#[test]
fn completions_and_manual_pages_come_from_the_command_line() {
    let bash = gpuc(&["completions", "bash"]);
    assert_eq!(code(&bash), 0);
    let script = String::from_utf8_lossy(&bash.stdout);
    assert!(script.starts_with("_gpuc() {"), "{script}");
    assert!(script.contains("--git") && script.contains("--deny-warnings"), "every command's options: {script}");
    for (shell, marker) in [("zsh", "#compdef gpuc"), ("fish", "complete -c gpuc"), ("powershell", "Register-ArgumentCompleter")] {
        let out = gpuc(&["completions", shell]);
        assert_eq!(code(&out), 0, "{shell}");
        assert!(String::from_utf8_lossy(&out.stdout).contains(marker), "{shell} script without `{marker}`");
    }
    assert_eq!(code(&gpuc(&["completions", "tcsh"])), 2, "an unknown shell is a usage error");

    let man = gpuc(&["man"]);
    assert_eq!(code(&man), 0);
    let page = String::from_utf8_lossy(&man.stdout);
    assert!(page.contains(".TH gpuc 1"), "{page}");
    assert!(page.contains("gpuc\\-diff(1)"), "the page names each command's page: {page}");
    assert_eq!(man.stdout, gpuc(&["man"]).stdout, "the same page every time");

    let folder = std::env::temp_dir().join(format!("gpuc-man-{}", std::process::id()));
    std::fs::create_dir_all(&folder).expect("a folder");
    let out = gpuc(&["man", "--output", folder.to_str().expect("UTF-8 path")]);
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
    let diff_page = std::fs::read_to_string(folder.join("gpuc-diff.1")).expect("a page per command");
    assert!(diff_page.contains("\\-\\-git"), "{diff_page}");
    let _ = std::fs::remove_dir_all(&folder);
}
