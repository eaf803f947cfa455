#!/usr/bin/env node
// The tree-sitter grammar and gpuc agree on which texts are .gpu syntax.
//
// Every example, rule spec, guide spec and fuzz regression of the repository, every ```gpu
// block of README.md and docs/, and every case of test/corpus, is parsed by both. A text has an ERROR or MISSING node in tree-sitter's tree
// if and only if `gpuc check` reports a syntax error (E0001) in that file; a corpus case marked
// `:error` must be a syntax error to gpuc too, and every other case must not be. Then the same
// for MUTATIONS texts made from those files by one small edit each (a character deleted,
// doubled or inserted, a piece copied elsewhere), drawn from a fixed seed so every run tries
// the same ones: the edits a user makes while typing, where the two parsers are most likely
// to part.
//
// Usage: node test/agreement.js   (from editors/tree-sitter-gpu)
// Environment: TREE_SITTER (default `tree-sitter`), GPUC (default <repo>/target/debug/gpuc).

'use strict';

const { execFileSync, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const grammarDir = path.resolve(__dirname, '..');
const repoRoot = path.resolve(grammarDir, '..', '..');
const treeSitter = process.env.TREE_SITTER || 'tree-sitter';
const gpuc = process.env.GPUC || path.join(repoRoot, 'target', 'debug', 'gpuc');

/**
 * The diagnostics that mean "this text is not .gpu syntax": a syntax error (E0001), or a
 * malformed literal, which gpuc reports under its own code (E0011 number, E0012 quantity,
 * E0013 escape) and, for a PCI address, under E0201 "is not a PCI address" (E0201 is also the
 * code of a well-formed address with an out-of-range part, which is valid syntax).
 */
const SYNTAX_CODES = new Set(['E0001', 'E0011', 'E0012', 'E0013']);
const isSyntax = (d) => SYNTAX_CODES.has(d.code) || (d.code === 'E0201' && / is not a PCI address$/.test(d.message));

/** How many mutated texts to try, and the seed that picks them. */
const MUTATIONS = 200;
const SEED = 20261129;

/** Characters that the mutations insert: the grammar's punctuation and the starts of tokens. */
const INSERTED = ' \n{}[].,:"#_-=0a9fGx\\';

/** The repository's own .gpu files, relative to its root. */
const CORPUS_DIRS = ['examples', 'tests/rules', 'tests/guide', 'tests/fuzz-regressions'];

function gpuFilesUnder(dir) {
  const absolute = path.join(repoRoot, dir);
  return fs
    .readdirSync(absolute, { recursive: true })
    .filter((name) => name.endsWith('.gpu'))
    .map((name) => path.join(absolute, name))
    .sort();
}

/** The ```gpu code blocks of README.md and of every .md file under docs/, written to files. */
function markdownCases(scratch) {
  const docs = path.join(repoRoot, 'docs');
  const pages = [path.join(repoRoot, 'README.md')];
  if (fs.existsSync(docs)) {
    pages.push(...fs.readdirSync(docs, { recursive: true }).filter((f) => f.endsWith('.md')).map((f) => path.join(docs, f)));
  }
  const cases = [];
  for (const page of pages.sort()) {
    const text = fs.readFileSync(page, 'utf8');
    for (const match of text.matchAll(/^```gpu\n([\s\S]*?)^```$/gm)) {
      const line = text.slice(0, match.index).split('\n').length;
      const target = path.join(scratch, `markdown-${cases.length}.gpu`);
      fs.writeFileSync(target, match[1]);
      cases.push({ file: target, label: `${path.relative(repoRoot, page)}:${line}`, expectError: undefined });
    }
  }
  return cases;
}

/**
 * The inputs of test/corpus/*.txt, written to files: tree-sitter's corpus format is a header
 * between `===` lines (a name, then attributes such as `:error`), the input, a `---` line and
 * the expected tree.
 */
function corpusCases(scratch) {
  const corpusDir = path.join(grammarDir, 'test', 'corpus');
  const cases = [];
  for (const file of fs.readdirSync(corpusDir).filter((f) => f.endsWith('.txt')).sort()) {
    const text = fs.readFileSync(path.join(corpusDir, file), 'utf8');
    const pattern = /^={3,}\n([^\n]*)\n((?::[^\n]*\n)*)={3,}\n([\s\S]*?)\n-{3,}\n/gm;
    for (const match of text.matchAll(pattern)) {
      const [, name, attributes, input] = match;
      const target = path.join(scratch, `${file.replace(/\.txt$/, '')}-${cases.length}.gpu`);
      fs.writeFileSync(target, input.replace(/^\n+/, '').replace(/\n+$/, '\n'));
      cases.push({ file: target, label: `test/corpus/${file}: ${name}`, expectError: attributes.includes(':error') });
    }
  }
  if (cases.length === 0) {
    throw new Error(`no cases found in ${corpusDir}`);
  }
  return cases;
}

/** A deterministic pseudo-random integer below `bound` (a linear congruential generator). */
function randomBelow(state, bound) {
  state.value = (state.value * 1103515245 + 12345) % 2147483648;
  return state.value % bound;
}

/** MUTATIONS texts, each one edit away from one of `files`, written to `scratch`. */
function mutations(files, scratch) {
  const state = { value: SEED };
  const cases = [];
  for (let index = 0; index < MUTATIONS; index += 1) {
    const { file, label } = files[randomBelow(state, files.length)];
    const text = fs.readFileSync(file, 'utf8');
    const at = randomBelow(state, text.length);
    const edits = [
      ['deleted', () => text.slice(0, at) + text.slice(at + 1)],
      ['doubled', () => text.slice(0, at) + text[at] + text.slice(at)],
      ['inserted', () => text.slice(0, at) + INSERTED[randomBelow(state, INSERTED.length)] + text.slice(at)],
      [
        'copied',
        () => {
          const from = randomBelow(state, text.length);
          return text.slice(0, at) + text.slice(from, from + 1 + randomBelow(state, 12)) + text.slice(at);
        },
      ],
    ];
    const [edit, apply] = edits[randomBelow(state, edits.length)];
    const target = path.join(scratch, `mutation-${index}.gpu`);
    fs.writeFileSync(target, apply());
    const line = text.slice(0, at).split('\n').length;
    cases.push({ file: target, label: `mutation ${index}: ${label}, a character ${edit} on line ${line}`, expectError: undefined });
  }
  return cases;
}

/** Whether tree-sitter's tree of `file` has an ERROR or MISSING node. */
function treeSitterRejects(file) {
  const result = spawnSync(treeSitter, ['parse', '--no-ranges', file], { cwd: grammarDir, encoding: 'utf8' });
  if (result.error) {
    throw result.error;
  }
  if (!result.stdout.startsWith('(')) {
    throw new Error(`tree-sitter parse ${file} printed no tree:\n${result.stdout}${result.stderr}`);
  }
  return /\((ERROR|MISSING)\b/.test(result.stdout);
}

/** The diagnostics gpuc reports in `file` itself (not in the files it imports). */
function gpucDiagnostics(file) {
  const result = spawnSync(gpuc, ['check', '--format', 'json', file], { cwd: repoRoot, encoding: 'utf8' });
  if (result.error) {
    throw result.error;
  }
  let report;
  try {
    report = JSON.parse(result.stdout);
  } catch {
    throw new Error(`gpuc check --format json ${file} printed no JSON (exit ${result.status}):\n${result.stderr}`);
  }
  return report.diagnostics.filter((d) => path.resolve(repoRoot, d.file) === file);
}

const verdict = (rejects) => (rejects ? 'syntax error' : 'valid syntax');

function main() {
  execFileSync(treeSitter, ['generate'], { cwd: grammarDir, stdio: 'inherit' });
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'gpu-agreement-'));
  const files = CORPUS_DIRS.flatMap(gpuFilesUnder).map((file) => ({
    file,
    label: path.relative(repoRoot, file),
    expectError: undefined,
  }));
  const cases = [...files, ...markdownCases(scratch), ...corpusCases(scratch), ...mutations(files, scratch)];
  let passed = 0;
  let failed = 0;
  for (const { file, label, expectError } of cases) {
    const treeSitterSays = treeSitterRejects(file);
    const diagnostics = gpucDiagnostics(file);
    const gpucSays = diagnostics.some(isSyntax);
    const problems = [];
    if (treeSitterSays !== gpucSays) {
      const reported = diagnostics.map((d) => `${d.code} at ${d.line}:${d.column} ${d.message}`).join('; ');
      problems.push(
        `tree-sitter: ${verdict(treeSitterSays)}, gpuc: ${verdict(gpucSays)} [${reported}]; text kept in ${file}`,
      );
    }
    if (expectError !== undefined && gpucSays !== expectError) {
      problems.push(`the corpus expects ${verdict(expectError)}, gpuc: ${verdict(gpucSays)}`);
    }
    if (problems.length === 0) {
      passed += 1;
      console.log(`ok ${label}: ${verdict(gpucSays)}`);
    } else {
      failed += 1;
      console.log(`FAIL ${label}: ${problems.join('; ')}`);
    }
  }
  console.log(`agreement: ${passed} passed, ${failed} failed`);
  process.exitCode = failed === 0 && passed > 0 ? 0 : 1;
  // A failure's text stays behind for a look; a clean run leaves nothing.
  if (failed === 0) {
    fs.rmSync(scratch, { recursive: true, force: true });
  }
}

main();
