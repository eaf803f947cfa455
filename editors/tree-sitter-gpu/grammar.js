/**
 * @file Tree-sitter grammar for .gpu files (gpuc).
 *
 * A transcription of grammar/gpu.pest, which stays the single source of truth: rules keep
 * pest's names (`placement` is pest's `placed`), and test/agreement.js holds the two to the
 * same verdict on every example and rule spec of the repository and on edits of them.
 *
 * Where pest and tree-sitter differ in how they lex, this grammar makes up the difference:
 * - pest tries a value's alternatives in order (placed, pci_address, quantity, number,
 *   string, reference) and ends each literal with `!ident_char`; tree-sitter takes the
 *   longest token and has no lookahead. src/scanner.c lexes the three literals the way pest
 *   does, so `7070_x` or `0000:09:00.0use` is an ERROR here as it is a syntax error there.
 * - pest keywords end with `!ident_char` too; `word` (keyword extraction) does the same, and
 *   a keyword is one only where pest expects it (`host` is also a key, `on` also a value).
 */

/// <reference types="tree-sitter-cli/dsl" />
// @ts-check

const IDENT = /[A-Za-z_][A-Za-z0-9_-]*/;

/**
 * `rule` once, then any number of `, rule`.
 * @param {RuleOrLiteral} rule
 */
function commaSeparated(rule) {
  return seq(rule, repeat(seq(',', rule)));
}

module.exports = grammar({
  name: 'gpu',

  // pest's WHITESPACE is exactly these four characters; COMMENT may stand between any tokens
  // of a non-atomic rule.
  extras: $ => [/[ \t\r\n]/, $.comment],

  // `0000:09:00.0` or `09:00.0`; `16GiB`, `512MiB`, `3ms`; `7070`, `0.5`, `6.2`, `390.42`.
  externals: $ => [$.pci_address, $.quantity, $.number, $._error_recovery],

  word: $ => $.identifier,

  rules: {
    source_file: $ => repeat($._item),

    _item: $ => choice($.import, $.catalog, $.license, $.host, $.vm, $.bitfusion),

    // `import "racks/r1.gpu"`
    import: $ => seq('import', field('path', $.string)),

    // `catalog "boards.yaml"`
    catalog: $ => seq('catalog', field('path', $.string)),

    // `license main { ... }`; both spellings are accepted.
    license: $ => seq(
      choice('license', 'licence'),
      field('name', $.identifier),
      field('body', $.body),
    ),

    // `host esx14 { ... }`, `host esx[01..16] { ... }`
    host: $ => seq('host', $._name_pattern, field('body', $.body)),

    // `vm trainer { ... }`, `vm dev[1..4] { ... }`
    vm: $ => seq('vm', $._name_pattern, field('body', $.body)),

    // `bitfusion pool { ... }`
    bitfusion: $ => seq('bitfusion', field('name', $.identifier), field('body', $.body)),

    // pest's name_pattern is compound-atomic: no space between the name and its range.
    _name_pattern: $ => seq(field('name', $.identifier), optional(field('range', $.range))),

    // `[01..16]`; inside the brackets space and comments are allowed, as in pest's `!{}`.
    range: $ => seq(
      token.immediate('['),
      field('first', $.integer),
      '..',
      field('last', $.integer),
      ']',
    ),

    body: $ => seq('{', repeat(choice($.block, $.attribute)), '}'),

    // `gpu g0 { ... }`, `bios { ... }`: a nested block holds attributes only.
    block: $ => seq(
      field('kind', $.identifier),
      optional(field('name', $.identifier)),
      field('body', $.block_body),
    ),

    block_body: $ => seq('{', repeat($.attribute), '}'),

    // `key value` or `key value, value, ...`
    attribute: $ => seq(field('key', $.identifier), commaSeparated(field('value', $._value))),

    _value: $ => choice(
      $.placement,
      $.pci_address,
      $.quantity,
      $.number,
      $.string,
      $.reference,
    ),

    // `grid_v100d-8q on esx14.g2`. pest tries this first, so a reference followed by `on`
    // always starts a placement (prec), never ends the attribute before a key named `on`.
    placement: $ => prec(1, seq(
      field('type', $.reference),
      'on',
      field('gpu', $.reference),
    )),

    // The bounds of a range: pest's `digits`.
    integer: _ => /[0-9]+/,

    // `esx14`, `efi`, `grid_p100-8q`, or `esx14.g0`: one token, no space around the dot.
    reference: $ => seq(
      $.identifier,
      optional(seq(token.immediate('.'), alias(token.immediate(IDENT), $.identifier))),
    ),

    string: $ => seq(
      '"',
      repeat(choice($.string_content, $.escape_sequence)),
      token.immediate('"'),
    ),

    string_content: _ => token.immediate(prec(1, /[^"\\\r\n]+/)),

    escape_sequence: _ => token.immediate(/\\["\\nt]/),

    identifier: _ => IDENT,

    // pest's NEWLINE is "\n", "\r\n" or "\r": a comment ends at any of them.
    comment: _ => token(seq('#', /[^\r\n]*/)),
  },
});
