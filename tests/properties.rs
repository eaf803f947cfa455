//! Properties over generated estates (the fleet generator of `benches/fleet`): every valid
//! estate compiles cleanly through plan and emit, planted violations are all reported, and
//! mutated estates never panic.

mod common;
#[path = "../benches/fleet/mod.rs"]
mod fleet;

use std::collections::HashMap;
use std::path::PathBuf;

fn pipeline(checked: &gpuc::Checked) -> Vec<gpuc::emit::Artefact> {
    let plan = gpuc::plan::plan(&checked.model, &checked.analysis).expect("no cycle");
    gpuc::emit::artefacts(checked, &plan)
}

#[test]
fn generated_valid_estates_always_compile() {
    for seed in 0..12 {
        let hosts = 1 + (seed as usize % 6);
        let checked = common::check_text(&fleet::estate(hosts, seed));
        assert!(!checked.has_errors(), "seed {seed}, {hosts} hosts:\n{}", common::rendered(&checked));
        let artefacts = pipeline(&checked);
        assert!(artefacts.iter().filter(|a| a.path.starts_with("hosts/")).count() >= hosts, "seed {seed}: a runbook per host");
    }
}

#[test]
fn a_split_estate_compiles_like_one_file() {
    let files: HashMap<PathBuf, String> = fleet::estate_files(6, 7, 3).into_iter().map(|(p, t)| (p.into(), t)).collect();
    let checked =
        gpuc::check(&gpuc::Input { files: vec!["estate.gpu".into()], ..Default::default() }, &common::Memory(files)).expect("readable");
    assert!(!checked.has_errors(), "{}", common::rendered(&checked));
    let single = common::check_text(&fleet::estate(6, 7));
    assert_eq!(checked.model.vms.len(), single.model.vms.len());
}

#[test]
fn planted_violations_are_reported() {
    let clean = common::check_text(&fleet::estate(4, 3));
    let broken = common::check_text(&fleet::estate_with_violations(4, 3, 2));
    assert!(!clean.has_errors());
    assert!(broken.diagnostics.iter().filter(|d| d.is_error()).count() >= 2, "{}", common::rendered(&broken));
}

#[test]
fn mutated_estates_never_panic() {
    let base = fleet::estate(2, 11);
    for seed in 0..1500u64 {
        let mutated = common::mutate(&base, seed);
        let result = std::panic::catch_unwind(|| {
            let checked = common::check_text(&mutated);
            if !checked.has_errors() {
                pipeline(&checked);
            }
        });
        assert!(result.is_ok(), "seed {seed} panics on:\n{mutated}");
    }
}
