//! `gpuc fmt` on every example, rule spec, guide spec, generated fleets and mutations of them
//! that still parse: formatting is a fixed point, keeps every comment in order, and never
//! changes what the file means (the checked model and the diagnostics are the same).

mod common;
#[path = "../benches/fleet/mod.rs"]
mod fleet;

use gpuc::source::FileId;
use std::process::{Command, Stdio};

fn format(text: &str) -> Option<String> {
    gpuc::fmt::format(FileId(0), text).ok()
}

fn comments(text: &str) -> Vec<String> {
    gpuc::syntax::parse(FileId(0), text).0.comments.iter().map(|c| c.text.trim_end().to_string()).collect()
}

/// The checked model, what checking derived and the diagnostics, without the byte offsets of
/// spans (formatting moves text, not meaning).
fn meaning(text: &str) -> String {
    let checked = common::check_text(text);
    let diagnostics: Vec<(String, String)> = checked.diagnostics.iter().map(|d| (d.code.to_string(), d.message.clone())).collect();
    without_offsets(&format!("{:?}\n{:?}\n{diagnostics:?}", checked.model, checked.analysis))
}

/// `text` with the numbers after `start: ` and `end: ` removed.
fn without_offsets(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(['s', 'e']) {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        let field = ["start: ", "end: "].into_iter().find(|f| rest.starts_with(f));
        match field {
            Some(field) => {
                out.push_str(field);
                rest = rest[field.len()..].trim_start_matches(|c: char| c.is_ascii_digit());
            }
            None => {
                out.push_str(&rest[..1]);
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

#[track_caller]
fn assert_formats_faithfully(name: &str, text: &str) {
    let Some(once) = format(text) else {
        assert!(!gpuc::syntax::parse(FileId(0), text).1.is_empty(), "{name}: refused without a syntax error");
        return;
    };
    assert_eq!(format(&once).as_deref(), Some(once.as_str()), "{name}: formatting twice differs:\n{once}");
    assert_eq!(comments(&once), comments(text), "{name}: the comments changed:\n{once}");
    assert_eq!(meaning(&once), meaning(text), "{name}: the meaning changed:\n{once}");
}

fn corpus() -> Vec<(String, String)> {
    let mut texts: Vec<(String, String)> = ["examples", "examples/estate", "tests/rules", "tests/guide", "tests/fuzz-regressions"]
        .iter()
        .flat_map(|dir| common::files_in(dir, "gpu"))
        .map(|path| (path.display().to_string(), std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))))
        .collect();
    for seed in 0..4 {
        texts.push((format!("fleet seed {seed}"), fleet::estate(1 + seed as usize, seed)));
        texts.push((format!("fleet seed {seed} with violations"), fleet::estate_with_violations(3, seed, 1)));
    }
    texts
}

#[test]
fn every_corpus_file_formats_faithfully() {
    for (name, text) in corpus() {
        assert_formats_faithfully(&name, &text);
    }
}

/// Mutations put comments, line breaks and tokens where no example has them.
#[test]
fn mutated_corpus_files_format_faithfully() {
    let corpus = corpus();
    let mut parsed = 0;
    for seed in 0..2000u64 {
        let (name, text) = &corpus[seed as usize % corpus.len()];
        let mutated = common::mutate(text, seed);
        if gpuc::syntax::parse(FileId(0), &mutated).1.is_empty() {
            parsed += 1;
            assert_formats_faithfully(&format!("{name}, mutation {seed}"), &mutated);
        }
    }
    assert!(parsed > 200, "only {parsed} mutations parse: the property is barely exercised");
}

#[test]
fn layout_of_a_messy_file() {
    let messy = "# top\n\n\n\nimport   \"a.gpu\"   # trailing\ncatalog \"b.yaml\"\nhost h {   # the host\n    address \"h\"\n  esxi \"8.0\" memory 1GiB # m\n\n\n  gpu g0 {model x pci 00:01.0}\n  gpu g10 { model yy  pci 00:02.0 use vgpu }\n  nvidia {\n  # inside\n  release \"17.1\"\n\n  }\n}\nvm v[1..2]{host h\n  vgpu a # between\n  on h.g0, b\n  on h.g10 }\n# end\n";
    let expected = "# top

import \"a.gpu\"                   # trailing
catalog \"b.yaml\"

host h {                         # the host
  address \"h\"
  esxi    \"8.0\"
  memory  1GiB                   # m

  gpu g0  { model x   pci 00:01.0 }
  gpu g10 { model yy  pci 00:02.0  use vgpu }
  nvidia {
    # inside
    release \"17.1\"
  }
}

vm v[1..2] {
  host h
  # between
  vgpu a on h.g0, b on h.g10
}

# end
";
    assert_eq!(format(messy).as_deref(), Some(expected));
}

fn gpuc(args: &[&str], stdin: &str) -> (i32, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_gpuc"))
        .args(args)
        .env("NO_COLOR", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("gpuc runs");
    std::io::Write::write_all(&mut child.stdin.take().expect("stdin"), stdin.as_bytes()).expect("written");
    let out = child.wait_with_output().expect("gpuc ends");
    (out.status.code().expect("an exit code"), String::from_utf8_lossy(&out.stdout).into(), String::from_utf8_lossy(&out.stderr).into())
}

#[test]
fn the_examples_are_formatted() {
    let (code, stdout, stderr) = gpuc(&["fmt", "--check", "examples"], "");
    assert_eq!(code, 0, "files that would change:\n{stdout}{stderr}");
}

#[test]
fn fmt_reads_stdin_and_check_lists_what_would_change() {
    let (code, stdout, _) = gpuc(&["fmt"], "vm a {host h}\n");
    assert_eq!((code, stdout.as_str()), (0, "vm a { host h }\n"));
    let (code, stdout, _) = gpuc(&["fmt", "-"], "vm a {\nhost h\n}\n");
    assert_eq!((code, stdout.as_str()), (0, "vm a {\n  host h\n}\n"));
    let (code, stdout, _) = gpuc(&["fmt", "--check", "-"], "vm a {\nhost h\n}\n");
    assert_eq!((code, stdout.as_str()), (1, "<stdin>\n"));
    let (code, stdout, _) = gpuc(&["fmt", "--check"], "vm a {\n  host h\n}\n");
    assert_eq!((code, stdout.as_str()), (0, ""));
}

#[test]
fn fmt_refuses_a_file_with_syntax_errors_and_reports_them_all() {
    let (code, stdout, stderr) = gpuc(&["fmt"], "vm a { memory = 1GiB }\nvm b { memory 1GiB2 }\n");
    assert_eq!(code, 1);
    assert_eq!(stdout, "", "nothing is written");
    assert!(stderr.contains("E0001") && stderr.contains("E0012"), "{stderr}");
}

#[test]
fn fmt_formats_files_in_place() {
    let dir = std::env::temp_dir().join(format!("gpuc-fmt-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temporary folder");
    let file = dir.join("a.gpu");
    std::fs::write(&file, "vm a {\nhost h # where\n}\n").expect("written");
    let (code, _, stderr) = gpuc(&["fmt", file.to_str().expect("utf-8")], "");
    let formatted = std::fs::read_to_string(&file).expect("readable");
    std::fs::remove_dir_all(&dir).expect("removed");
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(formatted, "vm a {\n  host h                         # where\n}\n");
}
