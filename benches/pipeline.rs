//! Benchmarks of the pipeline at estate scale, on estates from the fleet generator.
//!
//! ```sh
//! cargo bench --bench pipeline -- --sample-count 5 --sample-size 1   # 1 to 10,000 hosts
//! GPUC_BENCH_100K=1 cargo bench --bench pipeline -- check --sample-count 3 --sample-size 1
//!                                                 # also 100,000 hosts (2.2 GB of RAM)
//! cargo bench --bench pipeline -- check --sample-count 10   # one group
//! ```
//!
//! Stages, each on an estate prepared outside the timed region (the files live in memory):
//!
//! - `pest`: pest on the grammar (`grammar/gpu.pest`), walking every pair, no tree: the
//!   grammar's reference parser, which the compiler used before its hand-written one; kept
//!   to compare against.
//! - `load`: read + parse + syntax tree + catalog (`gpuc::load::load`); the closest public
//!   thing to "parse alone" (the parser itself is private to the library).
//! - `rules`: the rules alone (`gpuc::check::check` on an already lowered model).
//! - `check`: load + parse + lower + rules (`gpuc::check`), what `gpuc check` does minus the
//!   rendering; lowering costs about `check - load - rules`.
//! - `plan`: `gpuc::plan::plan` on a checked estate.
//! - `emit`: `gpuc::emit::artefacts` on a checked, planned estate (texts only, no disk).
//! - `end_to_end`: check + plan + emit, what `gpuc build` computes (it writes as it renders).
//! - `check_violations`: `gpuc::check` of an estate with 2 violations of every rule the
//!   generator plants (the error paths, did-you-mean, E1201 occupancy messages).
//! - `check_files`: `gpuc::check` of the estate split into a top file and 16 rack files.

#[path = "fleet/mod.rs"]
mod fleet;

use divan::Bencher;
use gpuc::diagnostics::Diagnostics;
use gpuc::source::Sources;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

fn main() {
    divan::main();
}

/// Host counts: 1, 100, 1,000 and 10,000; 100,000 too when `GPUC_BENCH_100K` is set (its
/// estate alone takes a minute to generate and a gigabyte to hold).
fn sizes() -> Vec<usize> {
    let mut sizes = vec![1, 100, 1000, 10_000];
    if std::env::var_os("GPUC_BENCH_100K").is_some() {
        sizes.push(100_000);
    }
    sizes
}

const SEED: u64 = 1;

/// An in-memory file system.
struct MemFs(HashMap<PathBuf, String>);

impl gpuc::load::FileSystem for MemFs {
    fn read(&self, path: &Path) -> std::io::Result<String> {
        self.0.get(path).cloned().ok_or_else(|| std::io::Error::from(std::io::ErrorKind::NotFound))
    }
}

struct Estate {
    input: gpuc::Input,
    fs: MemFs,
}

impl Estate {
    fn one(text: String) -> Self {
        Self::many(vec![("estate.gpu".to_string(), text)])
    }

    fn many(files: Vec<(String, String)>) -> Self {
        let root = PathBuf::from(&files[0].0);
        let fs = MemFs(files.into_iter().map(|(p, t)| (PathBuf::from(p), t)).collect());
        Estate { input: gpuc::Input { files: vec![root], ..Default::default() }, fs }
    }

    fn bytes(&self) -> usize {
        self.fs.0.values().map(String::len).sum()
    }

    fn check(&self) -> gpuc::Checked {
        gpuc::check(&self.input, &self.fs).expect("the estate is in memory")
    }

    fn checked(&self) -> gpuc::Checked {
        let checked = self.check();
        assert!(!checked.has_errors(), "the generated estate has errors");
        checked
    }
}

/// The library's grammar, derived again: the parser stage alone, without building the AST.
mod grammar {
    #[derive(pest_derive::Parser)]
    #[grammar = "grammar/gpu.pest"]
    pub struct GpuParser;
}

#[divan::bench(args = sizes())]
fn pest(bencher: Bencher, hosts: usize) {
    use pest::Parser as _;
    let text = fleet::estate(hosts, SEED);
    bencher.counter(divan::counter::BytesCount::new(text.len())).bench_local(|| {
        let pairs = grammar::GpuParser::parse(grammar::Rule::file, &text).expect("the estate parses");
        pairs.flatten().count()
    });
}

#[divan::bench(args = sizes())]
fn load(bencher: Bencher, hosts: usize) {
    let estate = Estate::one(fleet::estate(hosts, SEED));
    bencher.counter(divan::counter::BytesCount::new(estate.bytes())).bench_local(|| {
        let mut sources = Sources::default();
        let mut diags = Diagnostics::default();
        let texts = gpuc::load::Texts::default();
        let loaded = gpuc::load::load(&estate.input.files, &[], None, &estate.fs, &texts, &mut sources, &mut diags, None);
        assert!(!diags.has_errors());
        loaded.map(|l| l.files.len()).unwrap_or(0)
    });
}

#[divan::bench(args = sizes())]
fn rules(bencher: Bencher, hosts: usize) {
    let estate = Estate::one(fleet::estate(hosts, SEED));
    let checked = estate.checked();
    bencher.bench_local(|| {
        let mut diags = Diagnostics::default();
        gpuc::check::check(&checked.model, &mut diags)
    });
}

#[divan::bench(args = sizes())]
fn check(bencher: Bencher, hosts: usize) {
    let estate = Estate::one(fleet::estate(hosts, SEED));
    bencher.counter(divan::counter::BytesCount::new(estate.bytes())).bench_local(|| estate.check());
}

#[divan::bench(args = sizes())]
fn plan(bencher: Bencher, hosts: usize) {
    let checked = Estate::one(fleet::estate(hosts, SEED)).checked();
    bencher.bench_local(|| gpuc::plan::plan(&checked.model, &checked.analysis).expect("plan"));
}

#[divan::bench(args = sizes())]
fn emit(bencher: Bencher, hosts: usize) {
    let checked = Estate::one(fleet::estate(hosts, SEED)).checked();
    let plan = gpuc::plan::plan(&checked.model, &checked.analysis).expect("plan");
    bencher.bench_local(|| gpuc::emit::artefacts(&checked, &plan));
}

#[divan::bench(args = sizes())]
fn end_to_end(bencher: Bencher, hosts: usize) {
    let estate = Estate::one(fleet::estate(hosts, SEED));
    bencher.counter(divan::counter::BytesCount::new(estate.bytes())).bench_local(|| {
        let checked = estate.checked();
        let plan = gpuc::plan::plan(&checked.model, &checked.analysis).expect("plan");
        gpuc::emit::artefacts(&checked, &plan)
    });
}

#[divan::bench(args = sizes())]
fn check_violations(bencher: Bencher, hosts: usize) {
    let estate = Estate::one(fleet::estate_with_violations(hosts, SEED, 2));
    assert!(estate.check().has_errors());
    bencher.counter(divan::counter::BytesCount::new(estate.bytes())).bench_local(|| estate.check());
}

#[divan::bench(args = sizes())]
fn check_files(bencher: Bencher, hosts: usize) {
    let estate = Estate::many(fleet::estate_files(hosts, SEED, 16));
    estate.checked();
    bencher.counter(divan::counter::BytesCount::new(estate.bytes())).bench_local(|| estate.check());
}
