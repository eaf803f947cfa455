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
        gpuc::check(&gpuc::Input { files: vec!["estate.gpu".into()], catalogs: Vec::new() }, &common::Memory(files)).expect("readable");
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
];

#[test]
fn mutated_estates_never_panic() {
    let base = fleet::estate(2, 11);
    for seed in 0..1500u64 {
        let mut rng = Rng(seed);
        let mut text: Vec<char> = base.chars().collect();
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
        let mutated: String = text.into_iter().collect();
        let result = std::panic::catch_unwind(|| {
            let checked = common::check_text(&mutated);
            if !checked.has_errors() {
                pipeline(&checked);
            }
        });
        assert!(result.is_ok(), "seed {seed} panics on:\n{mutated}");
    }
}
