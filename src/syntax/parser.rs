//! A hand-written recursive-descent parser for the language of `grammar/gpu.pest`.
//!
//! The grammar file stays the specification; this parser accepts exactly the texts it
//! accepts (`tests/grammar.rs` and the `parse` fuzz target hold the two to each other) and
//! builds the same tree pest's pairs used to give. It replaced pest because pest ran at
//! 15-19 MB/s and kept every token of a file alive at once, too slow and too large for the
//! 10,000-host budget (PERFORMANCE.md). It works on bytes: every token of the language is
//! ASCII, and other characters only appear inside strings and comments.
//!
//! Where pest backtracks, this parser looks ahead at most one token and a keyword: a `key`
//! followed by `name {` or `{` opens a nested block, otherwise it starts an attribute; a
//! value starting with a name is a placement when `on` and a name follow it.
//!
//! It recovers, so one run reports every syntax error of a file, each at its cause:
//! - a malformed literal (`pci 0000:0g:00.0`, `memory 16GiB2`, `release 6.`, `"\q"`) is
//!   reported with its own code at the literal, its attribute is left out, and parsing goes on
//!   right after it; so does a string not closed on its line, after the line;
//! - a nested block not closed before a block that opens on the next lines (`gpu g0 { ...`
//!   then `gpu g1 { ... }`) is reported at its `{`, keeps what it holds, and the entity goes
//!   on with the next block;
//! - any other fault abandons the entity it is in and resumes at the next line that opens a
//!   top-level item (`kind name {`, `import "`, `catalog "`). When such a line lies between
//!   the entity's `{` and the fault, the fault is a consequence of a block never closed: it is
//!   reported at the innermost `{` still open there, with the next block as a second label.
//!
//! The entity that failed keeps the entries that parsed before the fault, and its span is
//! listed in [`File::damaged`], so that later stages can tell follow-on findings from real ones.

use super::ast::*;
use crate::diagnostics::{Code, Diagnostic};
use crate::source::{FileId, Span};
use smallvec::SmallVec;

/// Parses one file: the tree of what parsed, and every syntax error (none for a valid file).
pub fn parse(file: FileId, text: &str) -> (File<'_>, Vec<Diagnostic>) {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get()).min(8);
    parse_in_pieces(file, text, cores).unwrap_or_else(|| parse_whole(file, text))
}

fn parse_whole(file: FileId, text: &str) -> (File<'_>, Vec<Diagnostic>) {
    let mut items = Vec::new();
    let (file, errors) = parse_each(file, text, &mut |item, _| items.push(item));
    (File { items, ..file }, errors)
}

/// Parses one file and hands each item to `each` as soon as it is parsed, with the span of
/// the item when it has a syntax error inside (see [`File::damaged`]): a large estate is
/// lowered while it is parsed, and no tree of a whole file exists. Returns the file without
/// its items, and every syntax error.
pub fn parse_each<'t>(file: FileId, text: &'t str, each: &mut dyn FnMut(Item<'t>, Option<Span>)) -> (File<'t>, Vec<Diagnostic>) {
    let mut parser = Parser::new(file, text);
    parser.items_each(0, text.len(), each);
    (File { file, items: Vec::new(), comments: parser.comments, damaged: parser.damaged }, parser.errors)
}

/// Files at least this large are parsed in pieces, one per core: a 100,000-host estate is
/// 170 MB, and its parse was a quarter of its check.
const PIECES_ABOVE: usize = 1 << 20;

/// The parse of a large file as pieces split at lines that open an item, parsed side by side,
/// or `None` when a piece has a syntax error or an item runs past its piece's end. Then the
/// file is parsed whole, so that recovery, which may cross a split, reports what it always
/// did. Otherwise the result is the whole-file parse: the parser carries nothing from one
/// item to the next, and each piece starts where the previous one's last item ended.
fn parse_in_pieces(file: FileId, text: &str, cores: usize) -> Option<(File<'_>, Vec<Diagnostic>)> {
    if cores < 2 || text.len() < PIECES_ABOVE {
        return None;
    }
    let probe = Parser::new(file, text);
    let mut bounds = vec![0];
    for k in 1..cores {
        let from = text.len() * k / cores;
        match probe.next_item_line(from.max(bounds[bounds.len() - 1] + 1)) {
            Some(at) if at < text.len() => bounds.push(at),
            _ => break,
        }
    }
    bounds.push(text.len());
    if bounds.len() < 3 {
        return None;
    }
    let pieces: Vec<Option<(Vec<Item<'_>>, Vec<Comment<'_>>)>> = std::thread::scope(|scope| {
        let parse_piece = |start: usize, stop: usize| {
            let mut parser = Parser::new(file, text);
            let (items, end) = parser.items(start, stop);
            (end == stop && parser.errors.is_empty()).then_some((items, parser.comments))
        };
        let rest: Vec<_> = bounds[1..].windows(2).map(|w| scope.spawn(move || parse_piece(w[0], w[1]))).collect();
        let first = parse_piece(bounds[0], bounds[1]);
        std::iter::once(first).chain(rest.into_iter().map(|handle| handle.join().ok().flatten())).collect()
    });
    let mut items = Vec::with_capacity(pieces.iter().flatten().map(|(items, _)| items.len()).sum());
    let mut comments = Vec::new();
    for piece in pieces {
        let (piece_items, piece_comments) = piece?;
        items.extend(piece_items);
        comments.extend(piece_comments);
    }
    Some((File { file, items, comments, damaged: Vec::new() }, Vec::new()))
}

/// Why parsing of an item or an entry stopped.
enum SyntaxError {
    /// Something else was expected at this offset.
    Expected { at: usize, expected: &'static str },
    /// A fault whose cause is known and whose extent is small (a malformed literal, a string
    /// not closed, a nested block not closed before the next one): reported, then parsing
    /// goes on at `end`.
    Local { diagnostic: Box<Diagnostic>, end: usize },
}

impl SyntaxError {
    /// Where the fault is.
    fn at(&self) -> usize {
        match self {
            SyntaxError::Expected { at, .. } => *at,
            SyntaxError::Local { diagnostic, .. } => diagnostic.primary.span.start as usize,
        }
    }
}

type Parsed<T> = Result<T, SyntaxError>;

const TOP_LEVEL_ITEM: &str = "a top-level item (`import`, `catalog`, `license`, `host`, `vm`, `bitfusion`)";
const ENTRY: &str = "an attribute, a nested block or `}`";
const NESTED_ENTRY: &str = "an attribute or `}`";
const VALUE: &str = "a value";
const STRING: &str = "a string in double quotes (closed on the same line)";
const NAME: &str = "a name";
const OPEN_BRACE: &str = "a `{`";

struct Parser<'t> {
    file: FileId,
    text: &'t str,
    bytes: &'t [u8],
    /// Every comment, in source order. Lookahead may skip the same trivia twice, so a comment
    /// is kept only when it starts after the last one kept.
    comments: Vec<Comment<'t>>,
    /// The entries of the bodies being parsed, innermost last; a body takes its own off the
    /// end when it closes, so each body's list is allocated once, at its exact size.
    entries: Vec<Entry<'t>>,
    /// Every syntax error so far, in the order found.
    errors: Vec<Diagnostic>,
    /// The spans of entities with a syntax error inside.
    damaged: Vec<Span>,
}

impl<'t> Parser<'t> {
    fn new(file: FileId, text: &'t str) -> Self {
        Parser { file, text, bytes: text.as_bytes(), comments: Vec::new(), entries: Vec::new(), errors: Vec::new(), damaged: Vec::new() }
    }

    fn span(&self, start: usize, end: usize) -> Span {
        Span::new(self.file, start, end)
    }

    fn ident_at(&self, start: usize, end: usize) -> Ident<'t> {
        Ident { text: &self.text[start..end], span: self.span(start, end) }
    }

    fn byte(&self, at: usize) -> Option<u8> {
        self.bytes.get(at).copied()
    }

    fn expected<T>(&self, at: usize, expected: &'static str) -> Parsed<T> {
        Err(SyntaxError::Expected { at, expected })
    }

    /// Skips whitespace and comments (pest's implicit `WHITESPACE` and `COMMENT`), keeping
    /// the comments.
    fn skip(&mut self, mut at: usize) -> usize {
        while let Some(b) = self.byte(at) {
            match b {
                b' ' | b'\t' | b'\r' | b'\n' => at += 1,
                b'#' => {
                    let end = self.bytes[at..].iter().position(|&c| c == b'\n' || c == b'\r').map_or(self.bytes.len(), |n| at + n);
                    if self.comments.last().is_none_or(|c| (c.span.start as usize) < at) {
                        self.comments.push(Comment { text: &self.text[at..end], span: self.span(at, end) });
                    }
                    at = end;
                }
                _ => break,
            }
        }
        at
    }

    /// The end of the identifier starting at `at` (`ident` in the grammar), if one does.
    fn ident_end(&self, at: usize) -> Option<usize> {
        let first = self.byte(at)?;
        if !(first.is_ascii_alphabetic() || first == b'_') {
            return None;
        }
        Some(run_end(self.bytes, at + 1, is_ident_char))
    }

    /// `item*` from `start` until an item ends at or past `stop`, resuming after each fault;
    /// with where the last one ended (`stop` when it ended right before it).
    fn items(&mut self, start: usize, stop: usize) -> (Vec<Item<'t>>, usize) {
        let mut items = Vec::new();
        let end = self.items_each(start, stop, &mut |item, _| items.push(item));
        (items, end)
    }

    /// [`Parser::items`], handing each item to `each` with its span when it is damaged.
    fn items_each(&mut self, start: usize, stop: usize, each: &mut dyn FnMut(Item<'t>, Option<Span>)) -> usize {
        let mut at = self.skip(start);
        while at < stop {
            let damaged_before = self.damaged.len();
            let end = match self.item(at) {
                Ok((item, end)) => {
                    each(item, self.damaged.get(damaged_before).copied());
                    end
                }
                Err(fault) => self.report(None, fault),
            };
            at = self.skip(end);
        }
        at
    }

    /// Records `fault` and returns where parsing resumes: after a local fault, else at the
    /// next line that opens an item. `open` is the `{` of the entity the fault is in.
    fn report(&mut self, open: Option<usize>, fault: SyntaxError) -> usize {
        let at = fault.at();
        if let SyntaxError::Local { diagnostic, end } = fault {
            self.errors.push(*diagnostic);
            return end;
        }
        if let Some((diagnostic, resume)) = open.and_then(|open| self.unclosed_block(open, at)) {
            self.errors.push(diagnostic);
            return resume;
        }
        self.errors.push(fault.into_diagnostic(self.file, self.text));
        self.next_item_line(at + 1).unwrap_or(self.bytes.len())
    }

    /// The fault at `at`, inside the body opening at `open`, as a block never closed: when a
    /// line opening an item lies between the two, or the file ends inside the body. Returns
    /// the diagnostic (at the innermost `{` still open) and where parsing resumes.
    fn unclosed_block(&self, open: usize, at: usize) -> Option<(Diagnostic, usize)> {
        let next_item = self.next_item_line(open + 1).filter(|&line| line <= at);
        let limit = next_item.unwrap_or(self.bytes.len());
        if next_item.is_none() && at < self.bytes.len() {
            return None;
        }
        let brace = innermost_open_brace(self.bytes, open, limit)?;
        let mut diagnostic =
            Diagnostic::new(Code::Syntax, "a block is never closed", self.span(brace, brace + 1), "this `{` has no matching `}`");
        diagnostic = match next_item {
            Some(line) => {
                let header_end = self.ident_end(line).unwrap_or(line + 1);
                diagnostic
                    .with_label(self.span(line, header_end), "the next block starts here")
                    .with_help("add the missing `}` before the next block")
            }
            None => diagnostic.with_help("add the missing `}` at the end of the block"),
        };
        Some((diagnostic, limit))
    }

    /// The offset of the first token at or after `from` that opens a line and an item:
    /// `import "`, `catalog "`, or `kind name {` (with a range after a host's or VM's name).
    fn next_item_line(&self, from: usize) -> Option<usize> {
        let mut line = self.bytes[..from.min(self.bytes.len())].iter().rposition(|&b| b == b'\n').map_or(0, |n| n + 1);
        while line < self.bytes.len() {
            let token = run_end(self.bytes, line, |b| b == b' ' || b == b'\t');
            if token >= from && self.opens_item(token) {
                return Some(token);
            }
            line = self.bytes[token..].iter().position(|&b| b == b'\n').map_or(self.bytes.len(), |n| token + n + 1);
        }
        None
    }

    fn opens_item(&self, at: usize) -> bool {
        let Some(word_end) = self.ident_end(at) else { return false };
        let blank = |from: usize| run_end(self.bytes, from, |b| b == b' ' || b == b'\t');
        match &self.text[at..word_end] {
            "import" | "catalog" => self.byte(blank(word_end)) == Some(b'"'),
            "license" | "licence" | "host" | "vm" | "bitfusion" => {
                let name = blank(word_end);
                let Some(mut after) = self.ident_end(name) else { return false };
                if self.byte(after) == Some(b'[') {
                    after = run_end(self.bytes, after, |b| b != b']' && b != b'\n') + 1;
                }
                self.byte(blank(after)) == Some(b'{')
            }
            _ => false,
        }
    }

    /// One item and where it ends; an entity whose body has a fault ends where parsing resumes.
    fn item(&mut self, at: usize) -> Parsed<(Item<'t>, usize)> {
        let Some(word_end) = self.ident_end(at) else { return self.expected(at, TOP_LEVEL_ITEM) };
        let keyword = self.span(at, word_end);
        let kind = match &self.text[at..word_end] {
            "import" => return self.path_item(word_end, Item::Import),
            "catalog" => return self.path_item(word_end, Item::Catalog),
            "license" | "licence" => EntityKind::License,
            "host" => EntityKind::Host,
            "vm" => EntityKind::Vm,
            "bitfusion" => EntityKind::Bitfusion,
            _ => return self.expected(at, TOP_LEVEL_ITEM),
        };
        let name_start = self.skip(word_end);
        let Some(name_end) = self.ident_end(name_start) else { return self.expected(name_start, NAME) };
        let ident = self.ident_at(name_start, name_end);
        // Only hosts and VMs take a range, written right after the name.
        let ranged = matches!(kind, EntityKind::Host | EntityKind::Vm) && self.byte(name_end) == Some(b'[');
        let (range, pattern_end) = if ranged {
            let (range, end) = self.range(name_end)?;
            (Some(range), end)
        } else {
            (None, name_end)
        };
        let name = NamePattern { ident, range, span: self.span(name_start, pattern_end) };
        let body_start = self.skip(pattern_end);
        if self.byte(body_start) != Some(b'{') {
            return self.expected(body_start, OPEN_BRACE);
        }
        let errors_before = self.errors.len();
        let (mut body, fault) = self.body(body_start, true);
        let end = match fault {
            None => body.span.end as usize,
            Some(fault) => {
                let resume = self.report(Some(body_start), fault);
                // Entries swallowed from the blocks after an unclosed one are not this entity's.
                body.entries.retain(|entry| entry_end(entry) <= resume);
                body.span = self.span(body_start, resume);
                resume
            }
        };
        if self.errors.len() > errors_before {
            self.damaged.push(self.span(at, end));
        }
        Ok((Item::Entity(Entity { kind, keyword, name, body }), end))
    }

    /// `import "path"` or `catalog "path"`, after the keyword.
    fn path_item(&mut self, keyword_end: usize, item: fn(StringLit<'t>) -> Item<'t>) -> Parsed<(Item<'t>, usize)> {
        let start = self.skip(keyword_end);
        if self.byte(start) != Some(b'"') {
            return self.expected(start, STRING);
        }
        let (string, end) = self.string(start)?;
        Ok((item(string), end))
    }

    /// `[first..last]`, with whitespace allowed inside the brackets.
    fn range(&mut self, open: usize) -> Parsed<(Box<RangeSuffix<'t>>, usize)> {
        let first_start = self.skip(open + 1);
        let first = self.digits(first_start)?;
        let dots = self.skip(first.span.end as usize);
        if !self.bytes[dots..].starts_with(b"..") {
            return self.expected(dots, "`..`");
        }
        let last_start = self.skip(dots + 2);
        let last = self.digits(last_start)?;
        let close = self.skip(last.span.end as usize);
        if self.byte(close) != Some(b']') {
            return self.expected(close, "`]`");
        }
        Ok((Box::new(RangeSuffix { first, last, span: self.span(open, close + 1) }), close + 1))
    }

    fn digits(&self, at: usize) -> Parsed<Ident<'t>> {
        let end = run_end(self.bytes, at, |b| b.is_ascii_digit());
        if end == at {
            return self.expected(at, "digits");
        }
        Ok(self.ident_at(at, end))
    }

    /// `{ entry* }` at the `{` at `open`; an entity's body (`blocks`) also takes nested
    /// blocks. On a fault, the body holds the entries before it (a nested block with the
    /// fault left out) and the fault is returned beside it.
    fn body(&mut self, open: usize, blocks: bool) -> (Body<'t>, Option<SyntaxError>) {
        let first_entry = self.entries.len();
        let mut at = self.skip(open + 1);
        let fault = loop {
            if self.byte(at) == Some(b'}') {
                let entries = self.entries.drain(first_entry..).collect();
                return (Body { entries, span: self.span(open, at + 1) }, None);
            }
            if !blocks {
                if let Some(fault) = self.next_block_in_nested(open, at) {
                    break fault;
                }
            }
            match self.entry(at, blocks) {
                Ok(end) => at = self.skip(end),
                Err(fault) => break fault,
            }
        };
        let entries = self.entries.drain(first_entry..).collect();
        (Body { entries, span: self.span(open, at) }, Some(fault))
    }

    /// A block opening on its own line inside a nested block (which holds attributes only),
    /// at `at`: the nested block opening at `open` was not closed before it. The enclosing
    /// body goes on with the block at `at`.
    fn next_block_in_nested(&mut self, open: usize, at: usize) -> Option<SyntaxError> {
        let key_end = self.ident_end(at)?;
        let after_key = self.skip(key_end);
        self.block_start(after_key)?;
        if !self.bytes[..at].iter().rev().take_while(|&&b| b != b'\n').all(|&b| b == b' ' || b == b'\t') {
            return None;
        }
        let diagnostic =
            Diagnostic::new(Code::Syntax, "a block is never closed", self.span(open, open + 1), "this `{` has no matching `}`")
                .with_label(self.span(at, key_end), "the next block starts here")
                .with_help("add the missing `}` before the next block");
        Some(SyntaxError::Local { diagnostic: Box::new(diagnostic), end: at })
    }

    /// One entry at `at`, kept in `entries` unless all its values were malformed; returns its end.
    fn entry(&mut self, at: usize, blocks: bool) -> Parsed<usize> {
        let entry_kind = if blocks { ENTRY } else { NESTED_ENTRY };
        let Some(key_end) = self.ident_end(at) else { return self.expected(at, entry_kind) };
        let key = self.ident_at(at, key_end);
        let after_key = self.skip(key_end);
        if let (true, Some((name, body_start))) = (blocks, self.block_start(after_key)) {
            let (body, fault) = self.body(body_start, false);
            // A block not closed before the next one keeps what it holds; any other fault
            // leaves it out.
            let end = match fault {
                None => body.span.end as usize,
                Some(SyntaxError::Local { diagnostic, end }) => {
                    self.errors.push(*diagnostic);
                    end
                }
                Some(fault) => return Err(fault),
            };
            self.entries.push(Entry::Block(Box::new(Block { span: key.span.to(body.span), key, name, body })));
            return Ok(end);
        }
        let (attribute, end) = self.attribute(key, after_key)?;
        self.entries.extend(attribute.map(Entry::Attribute));
        Ok(end)
    }

    /// After a key: `name {` or `{` opens a nested block. Returns the name and where the
    /// block's `{` is.
    fn block_start(&mut self, at: usize) -> Option<(Option<Ident<'t>>, usize)> {
        if self.byte(at) == Some(b'{') {
            return Some((None, at));
        }
        let name_end = self.ident_end(at)?;
        let open = self.skip(name_end);
        (self.byte(open) == Some(b'{')).then(|| (Some(self.ident_at(at, name_end)), open))
    }

    /// `key value ("," value)*`, the values starting at `at`, and where it ends. A malformed
    /// value is reported and left out; an attribute left with no value is none.
    fn attribute(&mut self, key: Ident<'t>, at: usize) -> Parsed<(Option<Attribute<'t>>, usize)> {
        let mut values: SmallVec<[Value<'t>; 1]> = SmallVec::new();
        let mut next = at;
        let end = loop {
            let end = match self.value(next) {
                Ok(value) => {
                    let end = value.span.end as usize;
                    values.push(value);
                    end
                }
                Err(SyntaxError::Local { diagnostic, end }) => {
                    self.errors.push(*diagnostic);
                    end
                }
                Err(fault) => return Err(fault),
            };
            let comma = self.skip(end);
            if self.byte(comma) != Some(b',') {
                break end;
            }
            next = self.skip(comma + 1);
        };
        Ok(((!values.is_empty()).then_some(Attribute { key, values }), end))
    }

    /// One value, tried in the grammar's order: string, placement, PCI address, quantity,
    /// number, reference.
    fn value(&mut self, at: usize) -> Parsed<Value<'t>> {
        let Some(first) = self.byte(at) else { return self.expected(at, VALUE) };
        if first == b'"' {
            let end = self.string_end(at)?;
            return Ok(Value { kind: ValueKind::Str(&self.text[at + 1..end - 1]), span: self.span(at, end) });
        }
        if let Some(placed) = self.placed(at) {
            return Ok(placed);
        }
        let recognised = if let Some(end) = pci_end(self.bytes, at) {
            Some((ValueKind::Pci(&self.text[at..end]), end))
        } else if let Some(end) = quantity_end(self.bytes, at) {
            Some((ValueKind::Quantity(&self.text[at..end]), end))
        } else if let Some(end) = number_end(self.bytes, at) {
            Some((ValueKind::Number(&self.text[at..end]), end))
        } else {
            self.reference(at).map(|reference| (ValueKind::Reference(reference.text), reference.span.end as usize))
        };
        // No value of the language is followed by `:` or `.`, nor by a letter or a digit: a
        // literal that runs on is malformed as a whole.
        let literal_end = run_end(self.bytes, at, |b| is_ident_char(b) || b == b':' || b == b'.');
        match recognised {
            Some((kind, end)) if end == literal_end => Ok(Value { kind, span: self.span(at, end) }),
            _ => match self.malformed_literal(at, literal_end) {
                Some(fault) => Err(fault),
                None => match recognised {
                    Some((kind, end)) => Ok(Value { kind, span: self.span(at, end) }),
                    None => self.expected(at, VALUE),
                },
            },
        }
    }

    /// The literal `at..end` as a malformed PCI address, quantity or number, by its shape:
    /// a `:` makes it an address, a leading digit a quantity (with a letter) or a number.
    fn malformed_literal(&self, at: usize, end: usize) -> Option<SyntaxError> {
        let text = &self.text[at..end];
        let starts_with_digit = text.starts_with(|c: char| c.is_ascii_digit());
        let (code, what, label, help) = match text.split_once(':') {
            Some((bus, _)) if starts_with_digit || bus.bytes().all(|b| b.is_ascii_hexdigit()) => (
                Code::MalformedPci,
                "a PCI address",
                "not domain:bus:device.function in hex",
                "write a PCI address as `domain:bus:device.function` in hex digits, e.g. `0000:3b:00.0`, as `esxcli hardware pci list` shows it",
            ),
            _ if !starts_with_digit => return None,
            _ if text.bytes().any(|b| b.is_ascii_alphabetic()) => (
                Code::MalformedQuantity,
                "a quantity",
                "not a number directly followed by its unit",
                "write a number directly followed by its unit and nothing after it, e.g. `16GiB`, `512MiB`, `3ms`",
            ),
            _ => (
                Code::MalformedNumber,
                "a number",
                "not digits separated by single dots",
                "write digits separated by single dots, e.g. `7070`, `0.5`, `6.2`; a version in quotes (`\"6.7.0 U1\"`) may hold any text",
            ),
        };
        let shown: String = text.chars().take(40).collect();
        let diagnostic = Diagnostic::new(code, format!("`{shown}` is not {what}"), self.span(at, end), label).with_help(help);
        Some(SyntaxError::Local { diagnostic: Box::new(diagnostic), end })
    }

    /// `item on target`, or nothing (and no comment kept twice) when the text is not one.
    fn placed(&mut self, at: usize) -> Option<Value<'t>> {
        let item = self.reference(at)?;
        let on = self.skip(item.span.end as usize);
        let on_end = self.ident_end(on)?;
        if &self.text[on..on_end] != "on" {
            return None;
        }
        let target_start = self.skip(on_end);
        let target = self.reference(target_start)?;
        let span = self.span(at, target.span.end as usize);
        Some(Value { kind: ValueKind::Placed(Box::new(Placed { item, target })), span })
    }

    /// `name` or `name.name`, without whitespace.
    fn reference(&self, at: usize) -> Option<Reference<'t>> {
        let first_end = self.ident_end(at)?;
        let end = match self.byte(first_end) {
            Some(b'.') => self.ident_end(first_end + 1).unwrap_or(first_end),
            _ => first_end,
        };
        Some(Reference { text: &self.text[at..end], span: self.span(at, end) })
    }

    /// A string starting at its opening quote; returns it and the offset past its closing one.
    fn string(&self, open: usize) -> Parsed<(StringLit<'t>, usize)> {
        let end = self.string_end(open)?;
        Ok((StringLit { value: unescape(&self.text[open + 1..end - 1]), span: self.span(open, end) }, end))
    }

    /// The offset past the closing quote of the string opening at `open`, its escapes checked.
    fn string_end(&self, open: usize) -> Parsed<usize> {
        let mut at = open + 1;
        loop {
            match self.byte(at) {
                Some(b'"') => break,
                Some(b'\\') => match self.byte(at + 1) {
                    Some(b'"' | b'\\' | b'n' | b't') => at += 2,
                    _ => return Err(self.bad_escape(at)),
                },
                None | Some(b'\n' | b'\r') => return Err(self.unclosed_string(open, at)),
                Some(_) => at += 1,
            }
        }
        Ok(at + 1)
    }

    /// A string never closed on its line: parsing resumes on the next line.
    fn unclosed_string(&self, open: usize, end: usize) -> SyntaxError {
        let diagnostic = Diagnostic::new(Code::Syntax, "a string is not closed", self.span(open, end), "this string has no closing `\"`")
            .with_help("close the string with `\"` on the same line; write `\\n` for a line break inside it");
        SyntaxError::Local { diagnostic: Box::new(diagnostic), end }
    }

    /// An unknown escape at `backslash`: parsing resumes after the string.
    fn bad_escape(&self, backslash: usize) -> SyntaxError {
        let end = self.text[backslash + 1..].chars().next().map_or(backslash + 1, |c| backslash + 1 + c.len_utf8());
        let written = &self.text[backslash..end];
        let diagnostic = Diagnostic::new(
            Code::UnknownEscape,
            format!("`{}` is not an escape", written.escape_debug()),
            self.span(backslash, end),
            "unknown escape",
        )
        .with_help("strings take the escapes `\\\"`, `\\\\`, `\\n` and `\\t`; write `\\\\` for a backslash");
        // The string goes on to its closing quote, or to the end of its line.
        let mut at = end;
        let end = loop {
            match self.byte(at) {
                Some(b'"') => break at + 1,
                Some(b'\\') if self.byte(at + 1).is_some_and(|b| b != b'\n' && b != b'\r') => at += 2,
                None | Some(b'\n' | b'\r') => break at,
                Some(_) => at += 1,
            }
        };
        SyntaxError::Local { diagnostic: Box::new(diagnostic), end }
    }
}

fn is_ident_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'-'
}

/// The end of the run of bytes matching `keep` that starts at `at`.
fn run_end(bytes: &[u8], at: usize, keep: impl Fn(u8) -> bool) -> usize {
    bytes.get(at..).map_or(at, |rest| at + rest.iter().take_while(|&&b| keep(b)).count())
}

fn digits_end(bytes: &[u8], at: usize) -> Option<usize> {
    let end = run_end(bytes, at, |b| b.is_ascii_digit());
    (end > at).then_some(end)
}

fn hex_end(bytes: &[u8], at: usize) -> Option<usize> {
    let end = run_end(bytes, at, |b| b.is_ascii_hexdigit());
    (end > at).then_some(end)
}

/// `at` if no identifier character follows (the grammar's `!ident_char`).
fn word_boundary(bytes: &[u8], at: usize) -> Option<usize> {
    (!bytes.get(at).copied().is_some_and(is_ident_char)).then_some(at)
}

/// `.digits` at `at`, if there.
fn fraction_end(bytes: &[u8], at: usize) -> Option<usize> {
    (bytes.get(at) == Some(&b'.')).then(|| digits_end(bytes, at + 1)).flatten()
}

/// `quantity = @{ digits ~ ("." ~ digits)? ~ ASCII_ALPHA+ ~ !ident_char }`
fn quantity_end(bytes: &[u8], at: usize) -> Option<usize> {
    let number = digits_end(bytes, at)?;
    let number = fraction_end(bytes, number).unwrap_or(number);
    let unit = run_end(bytes, number, |b| b.is_ascii_alphabetic());
    if unit == number {
        return None;
    }
    word_boundary(bytes, unit)
}

/// `pci_address = @{ hex+ ~ ":" ~ hex+ ~ (":" ~ hex+)? ~ "." ~ hex+ ~ !ident_char }`
fn pci_end(bytes: &[u8], at: usize) -> Option<usize> {
    let colon = hex_end(bytes, at)?;
    if bytes.get(colon) != Some(&b':') {
        return None;
    }
    let mut end = hex_end(bytes, colon + 1)?;
    if bytes.get(end) == Some(&b':') {
        end = hex_end(bytes, end + 1)?;
    }
    if bytes.get(end) != Some(&b'.') {
        return None;
    }
    word_boundary(bytes, hex_end(bytes, end + 1)?)
}

/// `number = @{ digits ~ ("." ~ digits)* ~ !ident_char }`
fn number_end(bytes: &[u8], at: usize) -> Option<usize> {
    let mut end = digits_end(bytes, at)?;
    while let Some(next) = fraction_end(bytes, end) {
        end = next;
    }
    word_boundary(bytes, end)
}

impl SyntaxError {
    fn into_diagnostic(self, file: FileId, text: &str) -> Diagnostic {
        let (at, expected) = match self {
            SyntaxError::Expected { at, expected } => (at, expected),
            SyntaxError::Local { diagnostic, .. } => return *diagnostic,
        };
        let start = at.min(text.len());
        // Point at the whole offending token rather than one character.
        let token_end = text
            .get(start..)
            .and_then(|rest| rest.find(|c: char| c.is_whitespace() || "{}\",".contains(c)))
            .map_or(text.len(), |len| start + len.max(1));
        let token_end = token_end.min(text.len());
        let found = text.get(start..token_end).filter(|t| !t.is_empty());
        let found_text = found.map_or("end of file".to_string(), |t| format!("`{}`", t.chars().take(40).collect::<String>()));
        let help = match found {
            _ if expected == TOP_LEVEL_ITEM => "a file holds `import`, `catalog`, `license`, `host`, `vm` and `bitfusion` items; check the spelling of the keyword and that every `{` is closed".to_string(),
            Some(t) if expected == VALUE && t.starts_with('=') => "attributes are written `key value`, without `=`".to_string(),
            Some(t) if expected == VALUE && t.starts_with('{') => "nested blocks hold attributes only; write the values of the inner block as attributes".to_string(),
            _ => format!("write {expected} here"),
        };
        Diagnostic::new(
            Code::Syntax,
            format!("expected {expected}, found {found_text}"),
            Span::new(file, start, token_end),
            format!("expected {expected}"),
        )
        .with_help(help)
    }
}

/// Where an entry ends.
fn entry_end(entry: &Entry) -> usize {
    match entry {
        Entry::Block(block) => block.span.end as usize,
        Entry::Attribute(attribute) => attribute.span().end as usize,
    }
}

/// The innermost `{` opened in `from..to` and still open at `to` (strings and comments
/// skipped).
fn innermost_open_brace(bytes: &[u8], from: usize, to: usize) -> Option<usize> {
    let mut open: Vec<usize> = Vec::new();
    let mut at = from;
    while at < to {
        match bytes[at] {
            b'#' => at = run_end(bytes, at, |b| b != b'\n'),
            b'"' => {
                at += 1;
                while at < to && !matches!(bytes[at], b'"' | b'\n') {
                    at += if bytes[at] == b'\\' { 2 } else { 1 };
                }
            }
            b'{' => open.push(at),
            b'}' => {
                open.pop();
            }
            _ => {}
        }
        at += 1;
    }
    open.pop()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A file over [`PIECES_ABOVE`]: hosts with nested blocks, VMs, and a comment before each
    /// host, so that splits fall next to comments and inside bodies.
    fn large_estate() -> String {
        let mut text = String::from("license nls { token \"client_configuration_token.tok\" }\n");
        for h in 0..6000 {
            text.push_str(&format!(
                "# rack {h}\nhost esx{h} {{\n  esxi \"8.0 U3\"\n  gpu g0 {{ model tesla-t4 pci 0000:3b:00.0 use vgpu }}\n}}\n"
            ));
            text.push_str(&format!("vm v{h} {{ host esx{h} memory 16GiB vgpu nvidia_t4-4q guest {{ license nls }} }}\n"));
        }
        assert!(text.len() > PIECES_ABOVE);
        text
    }

    #[test]
    fn a_large_file_parsed_in_pieces_gives_the_whole_file_parse() {
        let text = large_estate();
        let whole = parse_whole(FileId(0), &text);
        for cores in [2, 3, 8] {
            let pieces = parse_in_pieces(FileId(0), &text, cores).expect("a valid file splits");
            assert_eq!(format!("{pieces:?}"), format!("{whole:?}"), "{cores} pieces");
        }
    }

    #[test]
    fn a_large_file_with_a_syntax_error_is_parsed_whole() {
        let mut text = large_estate();
        let middle = text.len() / 2;
        let at = text[middle..].find("memory 16GiB").expect("a VM past the middle") + middle;
        text.replace_range(at..at + "memory 16GiB".len(), "memory 16GiB2");
        assert!(parse_in_pieces(FileId(0), &text, 2).is_none());
        let (_, errors) = parse(FileId(0), &text);
        assert_eq!(errors.len(), 1, "{errors:?}");
    }
}
