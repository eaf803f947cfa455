// External scanner for the .gpu grammar: the three literals that start like one another.
//
// grammar/gpu.pest tries a value's alternatives in order (pci_address, quantity, number, ...)
// and ends each literal with `!ident_char`, a lookahead that tree-sitter's regular tokens
// cannot express. This scanner reads the run of characters that any literal or reference
// could be made of, and returns the first of pest's three alternatives that is exactly that
// run. Anything else it leaves to the grammar's own tokens (an identifier or reference such
// as `af` or `esx14.g0`), so `port 7070_x` or `pci 0000:09:00.0use` has an ERROR node here,
// as gpuc reports a syntax error for it.
//
// A literal shorter than the run is never valid either: the rest starts with `.` or `:`,
// which pest accepts nowhere after a value. Returning no token gives the same verdict.

#include "tree_sitter/parser.h"

#include <stdbool.h>
#include <stdint.h>

enum TokenType {
  PCI_ADDRESS,
  QUANTITY,
  NUMBER,
  // Never valid in a parse state; all external tokens are valid only during error recovery.
  ERROR_RECOVERY,
};

/// Longer runs are not taken as literals (gpuc would refuse such a number anyway).
#define MAX_RUN 256

void *tree_sitter_gpu_external_scanner_create(void) { return NULL; }

void tree_sitter_gpu_external_scanner_destroy(void *payload) { (void)payload; }

unsigned tree_sitter_gpu_external_scanner_serialize(void *payload, char *buffer) {
  (void)payload;
  (void)buffer;
  return 0;
}

void tree_sitter_gpu_external_scanner_deserialize(void *payload, const char *buffer,
                                                  unsigned length) {
  (void)payload;
  (void)buffer;
  (void)length;
}

static bool is_digit(int32_t c) { return c >= '0' && c <= '9'; }

static bool is_alpha(int32_t c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

static bool is_hex(int32_t c) { return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

/// pest's `ident_char`: ASCII_ALPHANUMERIC | "_" | "-".
static bool is_ident_char(int32_t c) { return is_digit(c) || is_alpha(c) || c == '_' || c == '-'; }

/// The characters a literal or a reference is made of.
static bool is_run_char(int32_t c) { return is_ident_char(c) || c == '.' || c == ':'; }

/// PEG repetition `class+` from `*at`: false if not even one.
static bool one_or_more(const char *run, int length, int *at, bool (*class)(int32_t)) {
  int start = *at;
  while (*at < length && class(run[*at])) {
    *at += 1;
  }
  return *at > start;
}

static bool literal(const char *run, int length, int *at, char c) {
  if (*at < length && run[*at] == c) {
    *at += 1;
    return true;
  }
  return false;
}

/// `hex+ ~ ":" ~ hex+ ~ (":" ~ hex+)? ~ "." ~ hex+`: the length it matches, or 0.
static int pci_address(const char *run, int length) {
  int at = 0;
  if (!one_or_more(run, length, &at, is_hex) || !literal(run, length, &at, ':') ||
      !one_or_more(run, length, &at, is_hex)) {
    return 0;
  }
  int before_domain_part = at;
  if (!(literal(run, length, &at, ':') && one_or_more(run, length, &at, is_hex))) {
    at = before_domain_part;
  }
  if (!literal(run, length, &at, '.') || !one_or_more(run, length, &at, is_hex)) {
    return 0;
  }
  return at;
}

/// `digits ~ ("." ~ digits)? ~ ASCII_ALPHA+`
static int quantity(const char *run, int length) {
  int at = 0;
  if (!one_or_more(run, length, &at, is_digit)) {
    return 0;
  }
  int before_fraction = at;
  if (!(literal(run, length, &at, '.') && one_or_more(run, length, &at, is_digit))) {
    at = before_fraction;
  }
  return one_or_more(run, length, &at, is_alpha) ? at : 0;
}

/// `digits ~ ("." ~ digits)*`
static int number(const char *run, int length) {
  int at = 0;
  if (!one_or_more(run, length, &at, is_digit)) {
    return 0;
  }
  for (;;) {
    int before_part = at;
    if (!(literal(run, length, &at, '.') && one_or_more(run, length, &at, is_digit))) {
      return before_part;
    }
  }
}

bool tree_sitter_gpu_external_scanner_scan(void *payload, TSLexer *lexer,
                                           const bool *valid_symbols) {
  (void)payload;
  if (valid_symbols[ERROR_RECOVERY] ||
      !(valid_symbols[PCI_ADDRESS] || valid_symbols[QUANTITY] || valid_symbols[NUMBER])) {
    return false;
  }
  // pest's WHITESPACE; a comment is left to the grammar, which calls again after it.
  while (lexer->lookahead == ' ' || lexer->lookahead == '\t' || lexer->lookahead == '\r' ||
         lexer->lookahead == '\n') {
    lexer->advance(lexer, true);
  }
  char run[MAX_RUN];
  int length = 0;
  while (!lexer->eof(lexer) && is_run_char(lexer->lookahead)) {
    if (length == MAX_RUN) {
      return false;
    }
    run[length++] = (char)lexer->lookahead;
    lexer->advance(lexer, false);
  }
  if (length == 0) {
    return false;
  }
  // pest's order; the first alternative that matches is the only one it tries to the end.
  if (pci_address(run, length) == length) {
    lexer->result_symbol = PCI_ADDRESS;
  } else if (quantity(run, length) == length) {
    lexer->result_symbol = QUANTITY;
  } else if (number(run, length) == length) {
    lexer->result_symbol = NUMBER;
  } else {
    return false;
  }
  return valid_symbols[lexer->result_symbol];
}
