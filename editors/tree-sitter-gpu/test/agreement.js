#!/usr/bin/env node
// The tree-sitter grammar and gpuc agree on which texts are .gpu syntax.
//
// Every example, rule spec, guide spec and fuzz regression of the repository, and every case
// of test/corpus, is parsed by both. A text has an ERROR or MISSING node in tree-sitter's tree
// if and only if `gpuc check` reports a syntax error (E0001) in that file; a corpus case marked
// `:error` must be a syntax error to gpuc too, and every other case must not be.
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

/** The diagnostic codes that mean "this text is not .gpu syntax". */
const SYNTAX_CODES = new Set(['E0001']);

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

/** The syntax diagnostics gpuc reports in `file` itself (not in files it imports). */
function gpucSyntaxErrors(file) {
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
  const name = path.relative(repoRoot, file);
  return report.diagnostics.filter(
    (d) => SYNTAX_CODES.has(d.code) && (d.file === file || d.file === name || path.resolve(repoRoot, d.file) === file),
  );
}

function main() {
  execFileSync(treeSitter, ['generate'], { cwd: grammarDir, stdio: 'inherit' });
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'gpu-agreement-'));
  try {
    const files = CORPUS_DIRS.flatMap(gpuFilesUnder).map((file) => ({
      file,
      label: path.relative(repoRoot, file),
      expectError: undefined,
    }));
    let passed = 0;
    let failed = 0;
    for (const { file, label, expectError } of [...files, ...corpusCases(scratch)]) {
      const treeSitterSays = treeSitterRejects(file);
      const gpucSays = gpucSyntaxErrors(file).length > 0;
      const verdict = (rejects) => (rejects ? 'syntax error' : 'valid syntax');
      const problems = [];
      if (treeSitterSays !== gpucSays) {
        problems.push(`tree-sitter: ${verdict(treeSitterSays)}, gpuc: ${verdict(gpucSays)}`);
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
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true });
  }
}

main();
