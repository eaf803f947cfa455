//! `gpuc build`: every artefact of every example snapshotted, scripts that parse, byte-stable
//! output, atomic writes, and the properties the plan/emit issue asks to see.

mod common;
#[path = "../benches/fleet/mod.rs"]
mod fleet;

use gpuc::emit::{artefacts, Artefact};
use std::path::{Path, PathBuf};
use std::process::Command;

fn build(path: &Path) -> Vec<Artefact> {
    let checked = common::check_file(path);
    assert!(!checked.has_errors(), "{}: {}", path.display(), common::rendered(&checked));
    let plan = gpuc::plan::plan(&checked.model, &checked.analysis).expect("no cycle");
    artefacts(&checked, &plan)
}

fn build_text(text: &str) -> Vec<Artefact> {
    let checked = common::check_text(text);
    assert!(!checked.has_errors(), "{}", common::rendered(&checked));
    let plan = gpuc::plan::plan(&checked.model, &checked.analysis).expect("no cycle");
    artefacts(&checked, &plan)
}

fn file<'a>(artefacts: &'a [Artefact], path: &str) -> &'a str {
    artefacts.iter().find(|a| a.path == path).map(|a| a.text.as_str()).unwrap_or_else(|| panic!("no {path}"))
}

/// The scripts of one host, concatenated in phase order.
fn runbook(artefacts: &[Artefact], host: &str) -> String {
    let prefix = format!("hosts/{host}/");
    artefacts.iter().filter(|a| a.path.starts_with(&prefix)).map(|a| a.text.as_str()).collect()
}

fn position(text: &str, needle: &str) -> usize {
    text.find(needle).unwrap_or_else(|| panic!("`{needle}` not found in:\n{text}"))
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("gpuc-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

fn gpuc(args: &[&str]) -> i32 {
    Command::new(env!("CARGO_BIN_EXE_gpuc")).args(args).output().expect("runs").status.code().expect("exit code")
}

/// Every file below `dir` with its bytes, sorted by path.
fn tree(dir: &Path) -> Vec<(String, Vec<u8>)> {
    fn walk(base: &Path, dir: &Path, out: &mut Vec<(String, Vec<u8>)>) {
        for entry in std::fs::read_dir(dir).expect("readable").flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(base, &path, out);
            } else {
                let rel = path.strip_prefix(base).expect("below").to_string_lossy().into_owned();
                out.push((rel, std::fs::read(&path).expect("readable")));
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

#[test]
fn every_artefact_of_every_example() {
    insta::glob!("../examples", "*.gpu", |path| {
        let relative = path.strip_prefix(env!("CARGO_MANIFEST_DIR")).unwrap_or(path);
        let artefacts = build(relative);
        // Ansible's fixed files are the same in every build: named here, shown once in the repository.
        let fixed = |a: &Artefact| {
            gpuc::emit::ansible::FIXED.iter().any(|(path, text)| a.path.strip_prefix("ansible/") == Some(path) && a.text == *text)
        };
        let document: String = artefacts
            .iter()
            .map(|a| if fixed(a) { format!("===== {} ===== (fixed)\n", a.path) } else { format!("===== {} =====\n{}\n", a.path, a.text) })
            .collect();
        let source = std::fs::read_to_string(path).expect("readable");
        insta::with_settings!({ description => source, omit_expression => true, prepend_module_to_snapshot => false }, {
            insta::assert_snapshot!(document);
        });
    });
}

#[test]
fn every_emitted_script_passes_sh_n() {
    let dir = scratch("sh-n");
    for example in common::files_in("examples", "gpu") {
        for a in build(&example).iter().filter(|a| a.path.ends_with(".sh")) {
            let path = dir.join(a.path.replace('/', "_"));
            std::fs::write(&path, &a.text).expect("writable");
            let out = Command::new("sh").arg("-n").arg(&path).output().expect("sh runs");
            assert!(out.status.success(), "{} {}: {}", example.display(), a.path, String::from_utf8_lossy(&out.stderr));
        }
    }
}

#[test]
fn building_twice_gives_identical_bytes() {
    let dir = scratch("twice");
    let (a, b) = (dir.join("a"), dir.join("b"));
    for out in [&a, &b] {
        assert_eq!(gpuc(&["build", "examples/current-estate.gpu", "-o", out.to_str().expect("utf-8")]), 0);
    }
    assert_eq!(tree(&a), tree(&b));
    assert_eq!(build(Path::new("examples/lab.gpu")), build(Path::new("examples/lab.gpu")));
}

#[test]
fn the_written_folder_holds_exactly_the_artefacts() {
    // `gpuc build` renders and writes part by part on several threads; what lands on disk is
    // still exactly the library's artefacts, plus the marker, with scripts executable.
    let dir = scratch("exact");
    for example in ["examples/lab.gpu", "examples/bitfusion-pool.gpu", "examples/current-estate.gpu"] {
        let out = dir.join(Path::new(example).file_stem().expect("name"));
        assert_eq!(gpuc(&["build", example, "-o", out.to_str().expect("utf-8")]), 0);
        let mut expected: Vec<(String, Vec<u8>)> = build(Path::new(example)).into_iter().map(|a| (a.path, a.text.into_bytes())).collect();
        expected.push((".gpuc-output".to_string(), b"written by gpuc build; gpuc build may replace this folder\n".to_vec()));
        expected.sort();
        assert_eq!(tree(&out), expected, "{example}");
        #[cfg(unix)]
        for (path, _) in &expected {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(out.join(path)).expect("written").permissions().mode() & 0o111;
            assert_eq!(mode != 0, path.ends_with(".sh"), "{example}: {path} executable only if a script");
        }
    }
}

#[test]
fn a_failing_spec_leaves_the_output_untouched() {
    let dir = scratch("atomic");
    let out = dir.join("out");
    let out_str = out.to_str().expect("utf-8");
    assert_eq!(gpuc(&["build", "examples/lab.gpu", "-o", out_str]), 0);
    let before = tree(&out);
    assert_eq!(gpuc(&["build", "tests/guide/three-p100-8q-on-one-p100.gpu", "-o", out_str]), 1);
    assert_eq!(tree(&out), before);
    // A rebuild of a good spec replaces the folder gpuc wrote.
    assert_eq!(gpuc(&["build", "examples/vgpu-p100.gpu", "-o", out_str]), 0);
    assert!(out.join("hosts/esx14/1-graphics.sh").is_file());
    assert!(!out.join("vms/trainer.vmx").exists(), "files of the earlier build are gone");
    // No staging folders are left beside it.
    assert_eq!(std::fs::read_dir(&dir).expect("readable").count(), 1);
}

#[test]
fn a_folder_gpuc_did_not_write_is_not_replaced_without_force() {
    let dir = scratch("foreign");
    let out = dir.join("mine");
    std::fs::create_dir_all(&out).expect("dir");
    std::fs::write(out.join("notes.txt"), "keep me").expect("file");
    let out_str = out.to_str().expect("utf-8");
    assert_eq!(gpuc(&["build", "examples/lab.gpu", "-o", out_str]), 2);
    assert_eq!(std::fs::read_to_string(out.join("notes.txt")).expect("kept"), "keep me");
    assert_eq!(gpuc(&["build", "--force", "examples/lab.gpu", "-o", out_str]), 0);
    assert!(out.join("plan.md").is_file() && !out.join("notes.txt").exists());
}

#[test]
fn adversarial_names_are_rejected_by_the_grammar_or_quoted() {
    for name in ["\"a b\"", "$(reboot)", "../etc", "a;b", "`id`", "a\nb"] {
        let checked = common::check_text(&format!("vm {name} {{ host h memory 1GiB }}"));
        assert!(checked.diagnostics.iter().any(|d| d.code == gpuc::diagnostics::Code::Syntax), "{name:?} must be a syntax error");
    }
    for address in ["$(reboot)", "a b", "x'y", "../../x"] {
        let checked = common::check_text(&format!("host h {{ address \"{address}\" esxi \"8.0\" }}"));
        assert!(checked.has_errors(), "address {address:?} must be refused");
    }
    let checked = common::check_text("host h { address \"h\" esxi \"8.0\" nvidia { vib \"/vmfs/volumes/d/x'; reboot; '.vib\" } }");
    assert!(checked.has_errors(), "a quote in the VIB path is refused");
    // A datastore path with spaces is legal and reaches the script single-quoted.
    let artefacts = build_text(
        "license l { server \"10.0.0.1\" }\nhost h { address \"h\" esxi \"7.0 U3\" nvidia { vib \"/vmfs/volumes/data store 1/NVIDIA host driver.vib\" release \"13.0\" } gpu g { model tesla-t4 pci 0000:3b:00.0 use vgpu } }\nvm v { host h memory 8GiB vgpu grid_t4-4q guest { driver \"470.63\" license l } }\n",
    );
    assert!(runbook(&artefacts, "h").contains("'/vmfs/volumes/data store 1/NVIDIA host driver.vib'"));
    assert!(artefacts.iter().all(|a| !a.path.contains("..") && !a.path.starts_with('/')));
}

#[test]
fn vgpu_host_runbook_follows_the_guide() {
    let artefacts = build(Path::new("examples/vgpu-p100.gpu"));
    let script = runbook(&artefacts, "esx14");
    let enter = position(&script, "esxcli system maintenanceMode set --enable true");
    let graphics = position(&script, "--default-type SharedPassthru");
    let first_reboot = position(&script, "\n  reboot\n");
    let install = position(&script, "esxcli software vib install -v '/");
    let exit = script.rfind("esxcli system maintenanceMode set --enable false").expect("exits maintenance mode");
    assert!(enter < graphics && graphics < first_reboot && first_reboot < install && install < exit);
    let last_esxcli = script.rfind("esxcli ").expect("esxcli");
    assert!(exit >= last_esxcli - 4 || script[exit..].matches("esxcli system maintenanceMode set").count() == 1);
    assert!(!script[exit..].contains("esxcli software") && !script[exit..].contains("esxcli graphics"));
    // vGPU software 6.2 is before 9.0: ECC is disabled, then the host reboots again.
    assert!(script.contains("-e 0"));
}

#[test]
fn ecc_is_disabled_only_before_vgpu_9() {
    let spec = |release: &str| {
        format!(
            "license l {{ server \"10.0.0.1\" }}\nhost h {{ address \"h\" esxi \"6.7.0 U3\" nvidia {{ vib \"/vmfs/volumes/d/nvidia.vib\" release \"{release}\" }} gpu g {{ model tesla-v100d-32gb pci 0000:3b:00.0 use vgpu }} }}\nvm v {{ host h memory 16GiB vgpu grid_v100d-8q guest {{ license l }} }}\n"
        )
    };
    assert!(runbook(&build_text(&spec("8.0")), "h").contains("nvidia-smi -i 0000:3b:00.0 -e 0"));
    assert!(!runbook(&build_text(&spec("9.0")), "h").contains("-e 0"));
}

#[test]
fn ecc_declared_off_is_disabled_on_every_release() {
    // R14: a GPU may state the ECC it wants. `ecc off` is a runbook step whether the release
    // needs it (8.0) or not (9.0); `ecc on` from 9.0, or nothing said, is left alone.
    let spec = |release: &str, ecc: &str| {
        format!(
            "license l {{ server \"10.0.0.1\" }}\nhost h {{ address \"h\" esxi \"6.7.0 U3\" nvidia {{ vib \"/vmfs/volumes/d/nvidia.vib\" release \"{release}\" }} gpu g {{ model tesla-v100d-32gb pci 0000:3b:00.0 use vgpu {ecc} }} }}\nvm v {{ host h memory 16GiB vgpu grid_v100d-8q guest {{ license l }} }}\n"
        )
    };
    assert!(runbook(&build_text(&spec("8.0", "ecc off")), "h").contains("nvidia-smi -i 0000:3b:00.0 -e 0"));
    assert!(runbook(&build_text(&spec("9.0", "ecc off")), "h").contains("nvidia-smi -i 0000:3b:00.0 -e 0"));
    assert!(!runbook(&build_text(&spec("9.0", "ecc on")), "h").contains("-e 0"));
}

#[test]
fn two_p100_passthrough_fragment_holds_the_guide_settings() {
    let artefacts = build(Path::new("examples/lab.gpu"));
    let vmx = file(&artefacts, "vms/trainer.vmx");
    for line in
        ["firmware = \"efi\"", "pciPassthru.use64bitMMIO = \"TRUE\"", "pciPassthru.64bitMMIOSizeGB = \"64\"", "sched.mem.pin = \"TRUE\""]
    {
        assert!(vmx.lines().any(|l| l == line), "{line} missing:\n{vmx}");
    }
    let value = |key: &str| vmx.lines().find_map(|l| l.strip_prefix(&format!("{key} = "))).unwrap_or_else(|| panic!("{key}"));
    assert_eq!(value("sched.mem.min"), value("memSize"));
    let keys: Vec<&str> = vmx.lines().filter(|l| !l.starts_with('#')).collect();
    let mut sorted = keys.clone();
    sorted.sort_unstable();
    assert_eq!(keys, sorted, "keys are sorted");
}

#[test]
fn licensed_vgpu_guest_and_flexdirect_client() {
    let artefacts = build(Path::new("examples/lab.gpu"));
    // viz1 and dev1-dev3 are vGPU guests of licence main: one shared file; trainer asks for vWS.
    assert!(file(&artefacts, "guests/gridd/main.vgpu.conf").lines().any(|l| l == "FeatureType=1"));
    assert!(file(&artefacts, "guests/gridd/main.vws.conf").lines().any(|l| l == "FeatureType=2"));
    let gridd: Vec<&str> = artefacts.iter().map(|a| a.path.as_str()).filter(|p| p.starts_with("guests/")).collect();
    assert_eq!(gridd, ["guests/gridd/main.vgpu.conf", "guests/gridd/main.vws.conf"]);
    // Each guest's licence step names the file it takes.
    let plan = file(&artefacts, "plan.md");
    for (vm, conf) in [("dev1", "main.vgpu.conf"), ("dev3", "main.vgpu.conf"), ("trainer", "main.vws.conf")] {
        let step = format!("In `{vm}`: copy `guests/gridd/{conf}` to `/etc/nvidia/gridd.conf`");
        assert!(plan.contains(&step), "{step}");
    }
    let pool = build(Path::new("examples/bitfusion-pool.gpu"));
    let conf = pool.iter().find(|a| a.path.ends_with("servers.conf") && a.text.lines().count() > 1).expect("a client with two servers");
    assert!(conf.text.lines().all(|l| gpuc::model::values::check_address(l).is_ok()), "one address per line:\n{}", conf.text);
}

#[test]
fn graph_command_prints_dot_and_mermaid() {
    let out = Command::new(env!("CARGO_BIN_EXE_gpuc")).args(["graph", "examples/lab.gpu"]).output().expect("runs");
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("digraph plan {"));
    let out = Command::new(env!("CARGO_BIN_EXE_gpuc")).args(["graph", "--format", "mermaid", "examples/lab.gpu"]).output().expect("runs");
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("flowchart TD"));
    assert_eq!(gpuc(&["graph", "tests/guide/three-p100-8q-on-one-p100.gpu"]), 1);
}

#[test]
fn no_build_output_cites_an_internal_document() {
    // What gpuc writes names public documents; "seed §" and "ref §" are DESIGN.md's shorthands.
    for example in common::files_in("examples", "gpu") {
        for a in build(&example) {
            for internal in ["seed §", "ref §"] {
                assert!(!a.text.contains(internal), "{} {}: `{internal}` in:\n{}", example.display(), a.path, a.text);
            }
        }
    }
}

/// A vGPU 17 host on ESXi 8.0 U3; `{nvidia}` and `{installed}` are filled in per test.
fn brownfield_host(nvidia: &str, installed: &str) -> String {
    format!(
        "host h {{\n  address \"h.lab\"\n  esxi \"8.0 U3\"\n  bios {{ above_4g_decoding true }}\n  nvidia {{ {nvidia} }}\n  installed {{ {installed} }}\n  gpu g0 {{ model nvidia-l40s pci 0000:3b:00.0 use vgpu }}\n  gpu g1 {{ model nvidia-l40s pci 0000:5e:00.0 use passthrough }}\n}}\n"
    )
}

#[test]
fn an_installed_release_needs_no_vib_and_a_host_in_its_spec_state_no_script() {
    let spec = brownfield_host("release \"17.1\"", "release \"17.1\" graphics shared_direct passthrough g1");
    let artefacts = build_text(&spec);
    assert!(artefacts.iter().all(|a| !a.path.starts_with("hosts/")), "no script for a host with nothing to change");
    assert!(file(&artefacts, "plan.md").contains("- `h` (h.lab): nothing to change"));
    // Another release installed and no file to update with: E1301 stays.
    let checked = common::check_text(&brownfield_host("release \"17.1\"", "release \"16.4\""));
    assert!(checked.diagnostics.iter().any(|d| d.code == gpuc::diagnostics::Code::NoHostDriver), "{}", common::rendered(&checked));
    // No `installed` release at all: E1301 stays too.
    let checked = common::check_text(&brownfield_host("release \"17.1\"", "graphics shared_direct"));
    assert!(checked.diagnostics.iter().any(|d| d.code == gpuc::diagnostics::Code::NoHostDriver));
}

#[test]
fn only_what_differs_is_planned() {
    let zip = "/vmfs/volumes/ds1/NVD-VGPU-800_550.54.16-1OEM.800.1.0.20613240_1.zip";
    // Graphics and passthrough in place: the component install and its reboot, nothing else.
    let artefacts = build_text(&brownfield_host(&format!("vib \"{zip}\" release \"17.1\""), "graphics shared_direct passthrough g1"));
    let script = runbook(&artefacts, "h");
    assert!(script.contains(&format!("esxcli software vib install -d '{zip}'")) && script.contains("vib install -d \"$daemon_zip\""));
    assert!(!script.contains("graphics host set") && !script.contains("pcipassthru set"), "{script}");
    assert!(script.contains("if ! /etc/init.d/nvdGpuMgmtDaemon status; then"));
    // Another release installed: an update with the daemon stopped, and the guests' branch in plan.md.
    let artefacts =
        build_text(&brownfield_host(&format!("vib \"{zip}\" release \"17.1\""), "release \"16.4\" graphics shared_direct passthrough g1"));
    let script = runbook(&artefacts, "h");
    let stop = position(&script, "/etc/init.d/nvdGpuMgmtDaemon stop");
    assert!(stop < position(&script, &format!("esxcli software vib update -d '{zip}'")), "{script}");
    assert!(!script.contains("vib install -d '"));
    assert!(file(&artefacts, "plan.md").contains("Upgrade from vGPU 16.4 to 17.1: the guests need a guest driver of branch R550"));
    // A GPU enabled for passthrough today that the spec shares by vGPU: passthrough off first.
    let artefacts = build_text(&brownfield_host(
        &format!("vib \"{zip}\" release \"17.1\""),
        "release \"17.1\" graphics shared_direct passthrough g0, g1",
    ));
    let script = runbook(&artefacts, "h");
    assert!(script.contains("esxcli hardware pci pcipassthru set -d '0000:3b:00.0' -e false") && !script.contains("-e true"), "{script}");
    // Image-managed: the cluster image instead of esxcli, by hand.
    let artefacts = build_text(
        &brownfield_host(&format!("vib \"{zip}\" release \"17.1\""), "graphics shared_direct passthrough g1")
            .replace("  esxi", "  image_managed true\n  esxi"),
    );
    let script = runbook(&artefacts, "h");
    assert!(!script.lines().any(|l| l.trim_start().starts_with("esxcli software vib")), "{script}");
    assert!(file(&artefacts, "plan.md").contains("Updates > Hosts > Image > Edit > Components > Add Components"));
}

#[test]
fn the_installed_block_names_the_hosts_own_gpus_and_valid_versions() {
    let has = |text: &str, code: gpuc::diagnostics::Code| common::check_text(text).diagnostics.iter().any(|d| d.code == code);
    let unknown_gpu = brownfield_host("release \"17.1\"", "release \"17.1\" passthrough g7");
    assert!(has(&unknown_gpu, gpuc::diagnostics::Code::UnknownReference), "a GPU the host does not have");
    let bad_release = brownfield_host("release \"17.1\"", "release \"seventeen\"");
    assert!(has(&bad_release, gpuc::diagnostics::Code::InvalidValue));
    let unknown_key = brownfield_host("release \"17.1\"", "release \"17.1\" vgpu_mode g0");
    assert!(has(&unknown_key, gpuc::diagnostics::Code::UnknownAttribute));
}

fn planned(text: &str) -> (gpuc::Checked, gpuc::plan::Plan) {
    let checked = common::check_text(text);
    assert!(!checked.has_errors(), "{}", common::rendered(&checked));
    let plan = gpuc::plan::plan(&checked.model, &checked.analysis).expect("no cycle");
    (checked, plan)
}

#[test]
fn a_1000_host_fleet_gets_a_mermaid_summary_a_pull_request_renders() {
    use gpuc::emit::graph;
    let (checked, plan) = planned(&fleet::estate(1000, 1));
    // The full Mermaid graph of 1,000 hosts is megabytes; the summary (hosts counted by phase)
    // stays within Mermaid's default limits.
    let mermaid = graph::mermaid(&checked.model, &plan);
    assert!(mermaid.len() <= graph::MERMAID_MAX_TEXT, "{} characters", mermaid.len());
    assert!(mermaid.lines().filter(|l| l.contains(" --> ")).count() <= graph::MERMAID_MAX_EDGES);
    assert!(mermaid.contains("  note[\"Summary of ") && mermaid.contains("  subgraph phase_1[\"Phase 1\"]"), "{mermaid}");
    let counted: usize = mermaid
        .lines()
        .filter(|l| l.trim_start().starts_with("hosts_p1_"))
        .filter_map(|l| l.rsplit(": ").next()?.split(' ').next()?.parse::<usize>().ok())
        .sum();
    let with_steps = checked.model.host_ids().filter(|&h| plan.host_steps(h).next().is_some()).count();
    assert_eq!(counted, with_steps, "every host with steps is counted in phase 1:\n{mermaid}");
}

#[test]
fn plan_md_is_split_per_host_above_the_threshold() {
    use gpuc::emit::plan_md::{hosts_with_steps, SPLIT_ABOVE_HOSTS};
    let (checked, plan) = planned(&fleet::estate(SPLIT_ABOVE_HOSTS, 1));
    assert!(artefacts(&checked, &plan).iter().all(|a| !a.path.starts_with("plan/")));

    // One host more: plan.md is an index; each host with steps has its own part, named like
    // its scripts' folder.
    let (checked, plan) = planned(&fleet::estate(SPLIT_ABOVE_HOSTS + 1, 1));
    let artefacts = artefacts(&checked, &plan);
    let index = file(&artefacts, "plan.md");
    let parts: Vec<&Artefact> = artefacts.iter().filter(|a| a.path.starts_with("plan/")).collect();
    let with_steps = hosts_with_steps(&checked.model, &plan).into_iter().filter(|&h| h).count();
    assert!(with_steps > SPLIT_ABOVE_HOSTS && parts.len() == with_steps, "{} parts", parts.len());
    for part in &parts {
        let host = part.path.strip_prefix("plan/").and_then(|p| p.strip_suffix(".md")).expect("plan/<host>.md");
        assert!(part.text.starts_with(&format!("# Plan for host {host}\n")), "{}", part.path);
        assert!(part.text.contains(&format!("### Phase 1: `hosts/{host}/1-")), "{}", part.text);
        assert!(index.contains(&format!("[plan/{host}.md](plan/{host}.md)")), "the index links {host}");
    }
    assert!(!index.contains("apply the .vmx fragment") && index.contains("## Bitfusion pool"), "{index}");
}
