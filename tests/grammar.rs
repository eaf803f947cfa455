//! `grammar/gpu.pest` is the language's specification; the compiler parses with a
//! hand-written parser for speed. These tests hold the two to each other: on every example,
//! spec and regression file, on tricky snippets and on thousands of mutations of them, pest
//! accepts a text exactly when `gpuc`'s parser reports no syntax error (of any code: malformed
//! literals have their own).

mod common;
#[path = "../benches/fleet/mod.rs"]
mod fleet;

use pest::Parser as _;

#[derive(pest_derive::Parser)]
#[grammar = "grammar/gpu.pest"]
struct Grammar;

fn grammar_accepts(text: &str) -> bool {
    Grammar::parse(Rule::file, text).is_ok()
}

fn gpuc_accepts(text: &str) -> bool {
    gpuc::syntax::parse(gpuc::source::FileId(0), text).1.is_empty()
}

#[track_caller]
fn assert_agree(text: &str) {
    let (grammar, gpuc) = (grammar_accepts(text), gpuc_accepts(text));
    assert_eq!(grammar, gpuc, "the grammar {} but gpuc {}:\n{text}", verdict(grammar), verdict(gpuc));
}

fn verdict(accepts: bool) -> &'static str {
    if accepts {
        "accepts"
    } else {
        "rejects"
    }
}

fn corpus() -> Vec<String> {
    let mut texts: Vec<String> = ["examples", "examples/estate", "tests/rules", "tests/guide", "tests/fuzz-regressions"]
        .iter()
        .flat_map(|dir| common::files_in(dir, "gpu"))
        .map(|path| std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
        .collect();
    texts.push(fleet::estate(3, 5));
    texts
}

#[test]
fn every_corpus_file_parses_alike() {
    for text in corpus() {
        assert_agree(&text);
    }
}

/// Places where the grammar backtracks or where tokens touch.
#[test]
fn tricky_snippets_parse_alike() {
    let bodies = [
        "pci 3b:00.0",
        "pci 0000:3b:00.0",
        "pci 0000:3b:00",
        "pci 1e:00.0x",
        "memory 1.GiB",
        "memory 1.5GiB",
        "memory 16 GiB",
        "memory 16GiB2",
        "release 6.",
        "release 6.2.1",
        "release 6.2.",
        "value 1e5",
        "vgpu grid_p100-8q on esx14.g0",
        "vgpu a.b on c.d, e on f",
        "vgpu x on 5",
        "vgpu x on",
        "vgpu x # comment\n on # more\n esx.g1",
        "vgpu x\non\ny",
        "host esx.",
        "host esx.g0.g1",
        "gpu g0 { model x }",
        "gpu g0 x { model x }",
        "gpu { model x }",
        "bios { x { } }",
        "gpu g0 { model x\n  gpu g1 { model y }",
        "gpu g0 { model x\n  gpu g1 { model y } }",
        "guest { driver \"a\\\"b\" }",
        "name \"a\\qb\"",
        "name \"open",
        "name \"two\nlines\"",
        "name \"cr\rline\"",
        "list a, b,c ,d",
        "list a,",
        "a b c d",
        "x = 1",
        "# only a comment\r",
        "on on on on",
        "é 1",
        "v \"é\"",
    ];
    for body in bodies {
        assert_agree(&format!("vm a {{\n  {body}\n}}\n"));
    }
    let files = [
        "",
        "\u{feff}host a {}",
        "import\"x.gpu\"",
        "import x",
        "imports \"x\"",
        "catalog \"b.yaml\" catalog \"c.yaml\"",
        "licence l {}",
        "license l[1..2] {}",
        "host-a {}",
        "host a[1..2] {}",
        "host a[ 1 .. 2 ] {}",
        "host a[1 # c\n ..2] {}",
        "host a [1..2] {}",
        "host a[1..] {}",
        "host a[1...2] {}",
        "host a[01..16]{}",
        "vm a {",
        "vm a { }}",
        "vm a { x 1 } # trailing",
        "vm {}",
        "vm 1a {}",
        "bitfusion p { server s { gpus 1 } client c { share 0.5 } }",
        "host h { # c1\n # c2\n}",
    ];
    for file in files {
        assert_agree(file);
    }
}

#[test]
fn mutated_corpus_files_parse_alike() {
    let corpus = corpus();
    for seed in 0..3000u64 {
        let text = &corpus[seed as usize % corpus.len()];
        assert_agree(&common::mutate(text, seed));
    }
}

/// `3b:00.0` once parsed as the quantity `3b` followed by a stray `:`.
#[test]
fn a_short_pci_address_whose_bus_starts_with_a_digit_is_an_address() {
    let spec = "host h {\n  address \"10.0.0.1\"\n  esxi \"8.0 U2\"\n  gpu g0 { model tesla-p100-16gb pci 3b:00.0 use passthrough }\n}\n";
    let checked = common::check_text(spec);
    assert!(!checked.has_errors(), "{}", common::rendered(&checked));
    assert_eq!(checked.model.gpus[0].pci.as_ref().map(|p| p.value.to_string()).unwrap_or_default(), "0000:3b:00.0");
}
