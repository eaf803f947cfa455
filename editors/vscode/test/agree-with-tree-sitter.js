#!/usr/bin/env node
// The TextMate grammar colours every token as the tree-sitter highlights do.
//
// For each example, rule spec and guide spec of the repository that is valid syntax, every
// capture of editors/tree-sitter-gpu/queries/highlights.scm (from `tree-sitter query`) is
// compared, character by character, with the scopes vscode-textmate gives the same text: each
// capture name has one TextMate scope (CAPTURE_SCOPES), and that scope must be on every
// character of the capture. Files with syntax errors are left out: there the two recover
// differently, and both only need to be usable.
//
// Usage: node test/agree-with-tree-sitter.js   (from editors/vscode, after npm ci)
// Environment: TREE_SITTER (default `tree-sitter`).

'use strict';

const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const vsctm = require('vscode-textmate');
const oniguruma = require('vscode-oniguruma');

const vscodeDir = path.resolve(__dirname, '..');
const grammarDir = path.resolve(vscodeDir, '..', 'tree-sitter-gpu');
const repoRoot = path.resolve(vscodeDir, '..', '..');
const treeSitter = process.env.TREE_SITTER || 'tree-sitter';

/** Each highlight capture, and the TextMate scope (a prefix of it) that must carry it. */
const CAPTURE_SCOPES = {
  comment: 'comment.line.number-sign.gpu',
  'keyword.import': 'keyword.control.import.gpu',
  'keyword.type': 'storage.type.gpu',
  'keyword.operator': 'keyword.operator.placement.gpu',
  type: 'entity.name.type.gpu',
  property: 'variable.other.property.gpu',
  operator: 'keyword.operator.range.gpu',
  string: 'string.quoted.double.gpu',
  'string.escape': 'constant.character.escape.gpu',
  number: 'constant.numeric',
  constant: 'constant.other.pci-address.gpu',
  boolean: 'constant.language.boolean.gpu',
  variable: 'variable.other.reference.gpu',
  'punctuation.bracket': 'punctuation.section',
  'punctuation.delimiter': 'punctuation.separator.comma.gpu|punctuation.accessor.gpu',
};

const CORPUS_DIRS = ['examples', 'tests/rules', 'tests/guide', 'tests/fuzz-regressions'];

function gpuFiles() {
  return CORPUS_DIRS.flatMap((dir) =>
    fs
      .readdirSync(path.join(repoRoot, dir), { recursive: true })
      .filter((name) => name.endsWith('.gpu'))
      .map((name) => path.join(repoRoot, dir, name))
      .sort(),
  );
}

async function loadGrammar() {
  const wasm = fs.readFileSync(require.resolve('vscode-oniguruma/release/onig.wasm'));
  await oniguruma.loadWASM(wasm.buffer.slice(wasm.byteOffset, wasm.byteOffset + wasm.byteLength));
  const registry = new vsctm.Registry({
    onigLib: Promise.resolve({
      createOnigScanner: (patterns) => new oniguruma.OnigScanner(patterns),
      createOnigString: (text) => new oniguruma.OnigString(text),
    }),
    loadGrammar: async () => {
      const file = path.join(vscodeDir, 'syntaxes', 'gpu.tmLanguage.json');
      return vsctm.parseRawGrammar(fs.readFileSync(file, 'utf8'), file);
    },
  });
  return registry.loadGrammar('source.gpu');
}

/** Per line, per UTF-16 column, the TextMate scopes of that character. */
function textMateScopes(grammar, lines) {
  let state = vsctm.INITIAL;
  return lines.map((line) => {
    const result = grammar.tokenizeLine(line, state);
    state = result.ruleStack;
    const scopes = new Array(line.length);
    for (const token of result.tokens) {
      for (let column = token.startIndex; column < Math.min(token.endIndex, line.length); column += 1) {
        scopes[column] = token.scopes;
      }
    }
    return scopes;
  });
}

/** The captures of highlights.scm in `file`: name, row, and UTF-16 start and end columns. */
function treeSitterCaptures(file, lines) {
  const query = path.join(grammarDir, 'queries', 'highlights.scm');
  const result = spawnSync(treeSitter, ['query', '--captures', query, file], { cwd: grammarDir, encoding: 'utf8' });
  if (result.status !== 0) {
    throw new Error(`tree-sitter query failed on ${file}:\n${result.stdout}${result.stderr}`);
  }
  const pattern = /capture: (?:\d+ - )?([\w.]+), start: \((\d+), (\d+)\), end: \((\d+), (\d+)\)/;
  const utf16Column = (row, byteColumn) => Buffer.from(lines[row], 'utf8').subarray(0, byteColumn).toString('utf8').length;
  const captures = [];
  for (const line of result.stdout.split('\n')) {
    const match = pattern.exec(line);
    if (match) {
      const [, name, startRow, startByte, endRow, endByte] = match;
      const row = Number(startRow);
      const lastRow = Number(endRow);
      // Only single-line tokens are captured; a multi-line capture would be a query bug.
      if (row !== lastRow) {
        throw new Error(`${file}: capture @${name} spans lines ${row + 1}..${lastRow + 1}`);
      }
      captures.push({ name, row, start: utf16Column(row, Number(startByte)), end: utf16Column(row, Number(endByte)) });
    }
  }
  return captures;
}

function hasSyntaxError(file) {
  const result = spawnSync(treeSitter, ['parse', '--no-ranges', file], { cwd: grammarDir, encoding: 'utf8' });
  return /\((ERROR|MISSING)\b/.test(result.stdout);
}

async function main() {
  const grammar = await loadGrammar();
  let passed = 0;
  let failed = 0;
  for (const file of gpuFiles()) {
    const label = path.relative(repoRoot, file);
    if (hasSyntaxError(file)) {
      console.log(`skip ${label}: not valid syntax`);
      continue;
    }
    const lines = fs.readFileSync(file, 'utf8').split(/\r?\n/);
    const scopes = textMateScopes(grammar, lines);
    const captures = treeSitterCaptures(file, lines);
    const disagreements = [];
    for (const { name, row, start, end } of captures) {
      const wanted = CAPTURE_SCOPES[name];
      if (wanted === undefined) {
        disagreements.push(`@${name} has no TextMate scope in CAPTURE_SCOPES`);
        continue;
      }
      const prefixes = wanted.split('|');
      for (let column = start; column < end; column += 1) {
        const actual = scopes[row][column] || [];
        if (!actual.some((scope) => prefixes.some((prefix) => scope.startsWith(prefix)))) {
          const text = lines[row].slice(start, end);
          disagreements.push(
            `${label}:${row + 1}:${start + 1} \`${text}\`: @${name} wants ${wanted}, TextMate gives ${actual.join(' ')}`,
          );
          break;
        }
      }
    }
    if (captures.length === 0) {
      disagreements.push(`${label}: tree-sitter captured nothing`);
    }
    if (disagreements.length === 0) {
      passed += 1;
      console.log(`ok ${label}: ${captures.length} tokens agree`);
    } else {
      failed += 1;
      console.log(`FAIL ${label}: ${disagreements.length} tokens disagree`);
      for (const line of disagreements.slice(0, 10)) {
        console.log(`  ${line}`);
      }
    }
  }
  console.log(`highlights: ${passed} passed, ${failed} failed`);
  process.exitCode = failed === 0 && passed > 0 ? 0 : 1;
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
