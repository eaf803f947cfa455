//! `gpuc fmt`: one layout for every `.gpu` file, taken from the bundled examples.
//!
//! - Blocks: `kind name {` on its own line, their entries indented two spaces each level, the
//!   `}` on its own line. A block written on one line (its `{` and `}` on the same line, as
//!   `bios { above_4g_decoding true }`) stays on one line: `{ `, its entries two spaces apart,
//!   ` }`; an empty one is `{}`. A block written over several lines stays so.
//! - Attributes: one per line, `key value`, a list as `a, b, c`, a placement as `type on gpu`.
//! - Alignment: in a run of attributes and one-line blocks on consecutive lines (no blank or
//!   comment line between), the values and the `{` start in one column: each key (a block's
//!   `key name`) is padded to the longest of the run plus one space. The one-line blocks of a
//!   run form a table: each of their attributes is padded to the widest at its position plus
//!   two spaces.
//! - Values, names, keywords (`license` or `licence`) and the text of strings are kept as
//!   written: formatting never changes what a file means.
//! - Comments stay where they were written. A comment on its own line stays on its own line,
//!   indented as the entries around it; a comment after code stays after it, starting in
//!   column 34, or two spaces after the code when the code is longer. A comment written inside
//!   an attribute or a block's header (between a key and its value, say) goes on its own line
//!   just before it. Trailing whitespace is removed.
//! - Blank lines: one between top-level blocks (and before the comments directly above a
//!   block); elsewhere a blank line written is kept, several are one, none is added, and none
//!   stays just inside a `{` or before a `}`.
//!
//! The result is a fixed point (`format` of its output returns it unchanged), which
//! `tests/fmt.rs` checks on every example, rule spec, guide spec and generated fleets, along
//! with the comments and the checked model being the same before and after.

use crate::diagnostics::Diagnostic;
use crate::source::FileId;
use crate::syntax::ast::{Attribute, Block, Body, Comment, Entity, Entry, Item, StringLit, Value, ValueKind};
use crate::syntax::parse;

/// Trailing comments start in this column (0-based) unless the code before them is longer.
const COMMENT_COLUMN: usize = 33;
const INDENT: &str = "  ";

/// The file laid out canonically, or its syntax errors (a file that does not parse is not
/// formatted: its meaning is not known).
pub fn format(file: FileId, text: &str) -> Result<String, Vec<Diagnostic>> {
    let (tree, errors) = parse(file, text);
    if !errors.is_empty() {
        return Err(errors);
    }
    let mut formatter = Formatter { text, comments: &tree.comments, next_comment: 0, lines: Vec::new() };
    formatter.items(&tree.items);
    Ok(render(&formatter.lines))
}

enum Line<'t> {
    Blank,
    /// Indented code, and the comment that follows it on its line.
    Code {
        text: String,
        comment: Option<&'t str>,
    },
    /// A comment on its own line, indented.
    Comment(String),
}

fn render(lines: &[Line]) -> String {
    let mut out = String::new();
    for line in lines {
        match line {
            Line::Blank => {}
            Line::Code { text, comment: None } | Line::Comment(text) => out.push_str(text),
            Line::Code { text, comment: Some(comment) } => {
                let column = COMMENT_COLUMN.max(text.chars().count() + 2);
                out.push_str(&format!("{text:<column$}{comment}"));
            }
        }
        out.push('\n');
    }
    out
}

struct Formatter<'a, 't> {
    text: &'t str,
    comments: &'a [Comment<'t>],
    /// The first comment not yet written out.
    next_comment: usize,
    lines: Vec<Line<'t>>,
}

impl<'t> Formatter<'_, 't> {
    fn newlines(&self, from: usize, to: usize) -> usize {
        self.text.get(from..to).map_or(0, |gap| gap.bytes().filter(|&b| b == b'\n').count())
    }

    fn comment(&self) -> Option<&Comment<'t>> {
        self.comments.get(self.next_comment)
    }

    /// A blank line, unless the output starts here, already ends with one, or opens a block.
    fn blank(&mut self) {
        let opens_block = |line: &Line| matches!(line, Line::Code { text, .. } if text.ends_with('{'));
        if self.lines.last().is_some_and(|last| !matches!(last, Line::Blank) && !opens_block(last)) {
            self.lines.push(Line::Blank);
        }
    }

    /// Writes the comments that start before `until` on their own lines, keeping a blank line
    /// written before one; returns where the last one ended (or `from`).
    fn comments_before(&mut self, until: usize, depth: usize, mut from: usize) -> usize {
        while let Some(&Comment { text, span }) = self.comment().filter(|c| (c.span.start as usize) < until) {
            if self.newlines(from, span.start as usize) >= 2 {
                self.blank();
            }
            self.lines.push(Line::Comment(format!("{}{}", INDENT.repeat(depth), text.trim_end())));
            self.next_comment += 1;
            from = span.end as usize;
        }
        from
    }

    /// The comment after `end` on the same line with nothing but blanks between, if any:
    /// it is written after the code that ends at `end`. Returns it and where it ends.
    fn trailing(&mut self, end: usize) -> (Option<&'t str>, usize) {
        let Some(&Comment { text, span }) = self.comment() else { return (None, end) };
        let between = self.text.get(end..span.start as usize).unwrap_or("x");
        if !between.bytes().all(|b| b == b' ' || b == b'\t') {
            return (None, end);
        }
        self.next_comment += 1;
        (Some(text.trim_end()), span.end as usize)
    }

    fn push_code(&mut self, depth: usize, text: String, end: usize) -> usize {
        let (comment, end) = self.trailing(end);
        self.lines.push(Line::Code { text: format!("{}{text}", INDENT.repeat(depth)), comment });
        end
    }

    fn items(&mut self, items: &[Item<'t>]) {
        let mut previous_end = 0;
        let mut previous_was_block = false;
        for item in items {
            let start = item_start(item);
            let is_block = matches!(item, Item::Entity(_));
            // The comments directly above a block (no blank line between) go with it.
            let above = self.comments[self.next_comment..].iter().take_while(|c| (c.span.start as usize) < start).count();
            let mut attached = 0;
            let mut next_start = start;
            for comment in self.comments[self.next_comment..self.next_comment + above].iter().rev() {
                if self.newlines(comment.span.end as usize, next_start) >= 2 {
                    break;
                }
                attached += 1;
                next_start = comment.span.start as usize;
            }
            for index in 0..above {
                let comment = &self.comments[self.next_comment];
                let starts_block = is_block && index == above - attached;
                if previous_was_block || starts_block || self.newlines(previous_end, comment.span.start as usize) >= 2 {
                    self.blank();
                }
                previous_was_block = false;
                previous_end = self.comments_before(comment.span.end as usize, 0, previous_end);
            }
            if previous_was_block || (is_block && attached == 0) || self.newlines(previous_end, start) >= 2 {
                self.blank();
            }
            previous_end = match item {
                Item::Import(path) => self.path_item("import", path),
                Item::Catalog(path) => self.path_item("catalog", path),
                Item::Entity(entity) => self.entity(entity),
            };
            previous_was_block = is_block;
        }
        if previous_was_block && self.comment().is_some() {
            self.blank();
        }
        self.comments_before(usize::MAX, 0, previous_end);
    }

    fn path_item(&mut self, keyword: &str, path: &StringLit) -> usize {
        self.comments_before(path.span.start as usize, 0, path.span.start as usize);
        self.push_code(0, format!("{keyword} {}", self.source(path.span.range())), path.span.end as usize)
    }

    fn entity(&mut self, entity: &Entity<'t>) -> usize {
        let name = &entity.name;
        let mut header = format!("{} {}", self.source(entity.keyword.range()), name.ident.text);
        if let Some(range) = &name.range {
            header.push_str(&format!("[{}..{}]", range.first.text, range.last.text));
        }
        self.block(0, header, &entity.body, entity.keyword.start as usize, &Alignment::default())
    }

    /// A block with `header` (`kind name` or `key name`), starting at `start`: on one line if
    /// written so (aligned by `alignment`), else over several. Returns where it ends, with its
    /// trailing comment.
    fn block(&mut self, depth: usize, header: String, body: &Body<'t>, start: usize, alignment: &Alignment) -> usize {
        let (open, close) = (body.span.start as usize, body.span.end as usize);
        if self.is_one_line(body) {
            self.comments_before(close, depth, start);
            let line = self.one_line(&header, alignment, body);
            return self.push_code(depth, line, close);
        }
        self.comments_before(open, depth, start);
        let after_open = self.push_code(depth, format!("{header} {{"), open + 1);
        self.entries(depth + 1, &body.entries, after_open);
        let last = body.entries.last().map_or(after_open, |entry| self.after_trailing(entry_end(entry)));
        self.comments_before(close - 1, depth + 1, last);
        while matches!(self.lines.last(), Some(Line::Blank)) {
            self.lines.pop();
        }
        self.push_code(depth, "}".to_string(), close)
    }

    fn is_one_line(&self, body: &Body) -> bool {
        !self.text[body.span.range()].contains('\n')
    }

    /// Whether the entry is written on one line (and so aligns with its neighbours).
    fn is_line(&self, entry: &Entry) -> bool {
        match entry {
            Entry::Attribute(_) => true,
            Entry::Block(block) => self.is_one_line(&block.body),
        }
    }

    /// The entries of a body written over several lines, from `from` (after its `{`), each
    /// run aligned.
    fn entries(&mut self, depth: usize, entries: &[Entry<'t>], from: usize) {
        let mut previous_end = from;
        let mut first = 0;
        while first < entries.len() {
            let run = &entries[first..self.run_end(entries, first)];
            let alignment = self.alignment(run);
            for entry in run {
                let start = entry_start(entry);
                previous_end = self.comments_before(start, depth, previous_end);
                if self.newlines(previous_end, start) >= 2 {
                    self.blank();
                }
                previous_end = match entry {
                    Entry::Attribute(attribute) => {
                        let end = attribute.span().end as usize;
                        self.comments_before(end, depth, start);
                        let text = self.attribute(attribute, alignment.key_width);
                        self.push_code(depth, text, end)
                    }
                    Entry::Block(block) => {
                        let header = block_header(block);
                        self.block(depth, header, &block.body, start, &alignment)
                    }
                };
            }
            first += run.len();
        }
    }

    /// The end (exclusive) of the run of entries aligned with the one at `first`: one-line
    /// entries on consecutive lines, with no comment line between them.
    fn run_end(&self, entries: &[Entry<'t>], first: usize) -> usize {
        let mut end = first + 1;
        if !self.is_line(&entries[first]) {
            return end;
        }
        while let Some(next) = entries.get(end) {
            let previous_end = self.after_trailing(entry_end(&entries[end - 1]));
            if !self.is_line(next)
                || self.newlines(previous_end, entry_start(next)) >= 2
                || self.comment_starts_in(previous_end, entry_end(next))
            {
                break;
            }
            end += 1;
        }
        end
    }

    fn alignment(&self, run: &[Entry<'t>]) -> Alignment {
        let mut alignment = Alignment::default();
        for entry in run {
            match entry {
                Entry::Attribute(attribute) => alignment.key_width = alignment.key_width.max(attribute.key.text.len()),
                Entry::Block(block) => {
                    alignment.key_width = alignment.key_width.max(block_header(block).len());
                    for (index, inner) in block.body.entries.iter().enumerate() {
                        let width = self.inline(inner).chars().count();
                        match alignment.columns.get_mut(index) {
                            Some(column) => *column = (*column).max(width),
                            None => alignment.columns.push(width),
                        }
                    }
                }
            }
        }
        alignment
    }

    /// Where the comment written after the code ending at `end` ends, or `end`.
    fn after_trailing(&self, end: usize) -> usize {
        let next = self.comments.partition_point(|c| (c.span.start as usize) < end);
        self.comments
            .get(next)
            .filter(|c| self.text[end..c.span.start as usize].bytes().all(|b| b == b' ' || b == b'\t'))
            .map_or(end, |c| c.span.end as usize)
    }

    fn comment_starts_in(&self, from: usize, to: usize) -> bool {
        let next = self.comments.partition_point(|c| (c.span.start as usize) < from);
        self.comments.get(next).is_some_and(|c| (c.span.start as usize) < to)
    }

    /// `key value, value`, the key padded to `key_width`.
    fn attribute(&self, attribute: &Attribute, key_width: usize) -> String {
        let values: Vec<String> = attribute.values.iter().map(|value| self.value(value)).collect();
        format!("{:<key_width$} {}", attribute.key.text, values.join(", "))
    }

    fn value(&self, value: &Value) -> String {
        match &value.kind {
            ValueKind::Placed(placed) => format!("{} on {}", placed.item.text, placed.target.text),
            _ => self.source(value.span.range()).to_string(),
        }
    }

    /// An entry of a block written on one line.
    fn inline(&self, entry: &Entry) -> String {
        match entry {
            Entry::Attribute(attribute) => self.attribute(attribute, 0),
            Entry::Block(block) => self.one_line(&block_header(block), &Alignment::default(), &block.body),
        }
    }

    /// `header { entry  entry }`, the `{` and the entries in the columns of `alignment`.
    fn one_line(&self, header: &str, alignment: &Alignment, body: &Body) -> String {
        let width = alignment.key_width.max(header.len()) + 1;
        let mut line = format!("{header:<width$}{{");
        let Some((last, rest)) = body.entries.split_last() else {
            line.push('}');
            return line;
        };
        for (index, entry) in rest.iter().enumerate() {
            let width = alignment.columns.get(index).copied().unwrap_or(0) + 1;
            line.push_str(&format!(" {:<width$}", self.inline(entry)));
        }
        line.push_str(&format!(" {} }}", self.inline(last)));
        line
    }

    fn source(&self, range: std::ops::Range<usize>) -> &'t str {
        &self.text[range]
    }
}

/// The widths a run of entries is aligned to.
#[derive(Default)]
struct Alignment {
    /// The longest key (or one-line block's `key name`) of the run.
    key_width: usize,
    /// The widest entry at each position in a run of one-line blocks.
    columns: Vec<usize>,
}

fn block_header(block: &Block) -> String {
    match &block.name {
        Some(name) => format!("{} {}", block.key.text, name.text),
        None => block.key.text.to_string(),
    }
}

fn item_start(item: &Item) -> usize {
    match item {
        Item::Import(path) | Item::Catalog(path) => path.span.start as usize,
        Item::Entity(entity) => entity.keyword.start as usize,
    }
}

fn entry_start(entry: &Entry) -> usize {
    match entry {
        Entry::Attribute(attribute) => attribute.key.span.start as usize,
        Entry::Block(block) => block.key.span.start as usize,
    }
}

fn entry_end(entry: &Entry) -> usize {
    match entry {
        Entry::Attribute(attribute) => attribute.span().end as usize,
        Entry::Block(block) => block.span.end as usize,
    }
}
