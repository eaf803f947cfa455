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

use super::ast::*;
use crate::diagnostics::{Code, Diagnostic};
use crate::source::{FileId, Span};
use smallvec::SmallVec;

/// Parses one file. A syntax error is a single diagnostic: the parser does not recover.
pub fn parse(file: FileId, text: &str) -> Result<File<'_>, Box<Diagnostic>> {
    let mut parser = Parser { file, text, bytes: text.as_bytes(), comments: Vec::new(), entries: Vec::new() };
    match parser.items() {
        Ok(items) => Ok(File { file, items, comments: parser.comments }),
        Err(error) => Err(Box::new(error.into_diagnostic(file, text))),
    }
}

/// Why parsing stopped.
enum SyntaxError {
    /// Something else was expected at this offset.
    Expected { at: usize, expected: &'static str },
    /// A more specific diagnostic than "expected X, found Y" (a string never closed, an
    /// unknown escape).
    Custom(Box<Diagnostic>),
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
}

impl<'t> Parser<'t> {
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

    /// `item*` up to the end of the file.
    fn items(&mut self) -> Parsed<Vec<Item<'t>>> {
        let mut items = Vec::new();
        let mut at = self.skip(0);
        while at < self.bytes.len() {
            let (item, end) = self.item(at)?;
            items.push(item);
            at = self.skip(end);
        }
        Ok(items)
    }

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
        let body = self.body(body_start, true)?;
        let end = body.span.end as usize;
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

    /// `{ entry* }`; an entity's body (`blocks`) also takes nested blocks.
    fn body(&mut self, open: usize, blocks: bool) -> Parsed<Body<'t>> {
        if self.byte(open) != Some(b'{') {
            return self.expected(open, OPEN_BRACE);
        }
        let first_entry = self.entries.len();
        let mut at = self.skip(open + 1);
        loop {
            if self.byte(at) == Some(b'}') {
                let entries = self.entries.drain(first_entry..).collect();
                return Ok(Body { entries, span: self.span(open, at + 1) });
            }
            let entry_kind = if blocks { ENTRY } else { NESTED_ENTRY };
            let Some(key_end) = self.ident_end(at) else { return self.expected(at, entry_kind) };
            let key = self.ident_at(at, key_end);
            let after_key = self.skip(key_end);
            let entry = match (blocks, self.block_start(after_key)) {
                (true, Some((name, body_start))) => {
                    let body = self.body(body_start, false)?;
                    Entry::Block(Box::new(Block { span: key.span.to(body.span), key, name, body }))
                }
                _ => Entry::Attribute(self.attribute(key, after_key)?),
            };
            let end = match &entry {
                Entry::Block(b) => b.span.end,
                Entry::Attribute(a) => a.span().end,
            };
            self.entries.push(entry);
            at = self.skip(end as usize);
        }
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

    /// `key value ("," value)*`, the values starting at `at`.
    fn attribute(&mut self, key: Ident<'t>, at: usize) -> Parsed<Attribute<'t>> {
        let mut values: SmallVec<[Value<'t>; 1]> = smallvec::smallvec![self.value(at)?];
        loop {
            let end = values[values.len() - 1].span.end as usize;
            let comma = self.skip(end);
            if self.byte(comma) != Some(b',') {
                break;
            }
            let next = self.skip(comma + 1);
            values.push(self.value(next)?);
        }
        Ok(Attribute { key, values })
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
        let (kind, end) = if let Some(end) = pci_end(self.bytes, at) {
            (ValueKind::Pci(&self.text[at..end]), end)
        } else if let Some(end) = quantity_end(self.bytes, at) {
            (ValueKind::Quantity(&self.text[at..end]), end)
        } else if let Some(end) = number_end(self.bytes, at) {
            (ValueKind::Number(&self.text[at..end]), end)
        } else if let Some(reference) = self.reference(at) {
            let end = reference.span.end as usize;
            (ValueKind::Reference(reference.text), end)
        } else {
            return self.expected(at, VALUE);
        };
        Ok(Value { kind, span: self.span(at, end) })
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

    fn unclosed_string(&self, open: usize, end: usize) -> SyntaxError {
        let diagnostic = Diagnostic::new(Code::Syntax, "a string is not closed", self.span(open, end), "this string has no closing `\"`")
            .with_help("close the string with `\"` on the same line; write `\\n` for a line break inside it");
        SyntaxError::Custom(Box::new(diagnostic))
    }

    fn bad_escape(&self, backslash: usize) -> SyntaxError {
        let end = self.text[backslash + 1..].chars().next().map_or(backslash + 1, |c| backslash + 1 + c.len_utf8());
        let written = &self.text[backslash..end];
        let diagnostic = Diagnostic::new(
            Code::Syntax,
            format!("`{}` is not an escape", written.escape_debug()),
            self.span(backslash, end),
            "unknown escape",
        )
        .with_help("strings take the escapes `\\\"`, `\\\\`, `\\n` and `\\t`; write `\\\\` for a backslash");
        SyntaxError::Custom(Box::new(diagnostic))
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

/// The value of a string's text; borrowed unless it has escapes.
impl SyntaxError {
    fn into_diagnostic(self, file: FileId, text: &str) -> Diagnostic {
        let (at, expected) = match self {
            SyntaxError::Expected { at, expected } => (at, expected),
            SyntaxError::Custom(diagnostic) => return *diagnostic,
        };
        let start = at.min(text.len());
        // Point at the whole offending token rather than one character.
        let token_end = text
            .get(start..)
            .and_then(|rest| rest.find(|c: char| c.is_whitespace() || "{}\",".contains(c)))
            .map_or(text.len(), |len| start + len.max(1));
        let token_end = token_end.min(text.len());
        let found = text.get(start..token_end).filter(|t| !t.is_empty());
        if found.is_none() {
            if let Some(open) = unclosed_brace(text) {
                return Diagnostic::new(
                    Code::Syntax,
                    "a block is never closed",
                    Span::new(file, open, open + 1),
                    "this `{` has no matching `}`",
                )
                .with_help("add the missing `}` at the end of the block");
            }
        }
        let found_text = found.map_or("end of file".to_string(), |t| format!("`{}`", t.chars().take(40).collect::<String>()));
        let help = match found {
            _ if expected == TOP_LEVEL_ITEM => "a file holds `import`, `catalog`, `license`, `host`, `vm` and `bitfusion` items; check the spelling of the keyword and that every `{` is closed".to_string(),
            Some(t) if expected == VALUE && t.starts_with('=') => "attributes are written `key value`, without `=`".to_string(),
            Some(t) if expected == VALUE && t.starts_with('{') => "nested blocks hold attributes only; write the values of the inner block as attributes".to_string(),
            None => "a block is not closed: add the missing `}`".to_string(),
            Some(_) => format!("write {expected} here"),
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

/// The offset of the last `{` left open at the end of the text (strings and comments skipped).
fn unclosed_brace(text: &str) -> Option<usize> {
    let mut open: Vec<usize> = Vec::new();
    let mut chars = text.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '#' => {
                for (_, c) in chars.by_ref() {
                    if c == '\n' {
                        break;
                    }
                }
            }
            '"' => {
                while let Some((_, c)) = chars.next() {
                    match c {
                        '\\' => {
                            chars.next();
                        }
                        '"' | '\n' => break,
                        _ => {}
                    }
                }
            }
            '{' => open.push(i),
            '}' => {
                open.pop();
            }
            _ => {}
        }
    }
    open.pop()
}
