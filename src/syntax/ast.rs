//! The untyped syntax tree. It borrows its text from the source (`'s`) and carries spans; it
//! is kept small (no string copies, one value inline per attribute), because a whole estate's
//! tree is alive while it is lowered.

use crate::source::{FileId, Span};
use smallvec::SmallVec;
use std::borrow::Cow;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ident<'s> {
    pub text: &'s str,
    pub span: Span,
}

#[derive(Debug)]
pub struct File<'s> {
    pub file: FileId,
    pub items: Vec<Item<'s>>,
    /// Every comment, in source order, kept for a formatter.
    pub comments: Vec<Comment<'s>>,
    /// The spans of entities with a syntax error inside: they hold only what parsed, so what
    /// later stages find inside them may follow from the syntax error alone.
    pub damaged: Vec<Span>,
}

#[derive(Debug)]
pub struct Comment<'s> {
    pub text: &'s str,
    pub span: Span,
}

#[derive(Debug)]
pub enum Item<'s> {
    /// `import "path"`.
    Import(StringLit<'s>),
    /// `catalog "path"`.
    Catalog(StringLit<'s>),
    /// `license|host|vm|bitfusion name { ... }`.
    Entity(Entity<'s>),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EntityKind {
    License,
    Host,
    Vm,
    Bitfusion,
}

#[derive(Debug)]
pub struct Entity<'s> {
    pub kind: EntityKind,
    pub keyword: Span,
    pub name: NamePattern<'s>,
    pub body: Body<'s>,
}

/// A name, or a name with a range suffix (`dev[1..4]`, boxed: rare and large).
#[derive(Debug)]
pub struct NamePattern<'s> {
    pub ident: Ident<'s>,
    pub range: Option<Box<RangeSuffix<'s>>>,
    pub span: Span,
}

/// `[first..last]`; the bounds keep their text so leading zeros can set the padding.
#[derive(Debug)]
pub struct RangeSuffix<'s> {
    pub first: Ident<'s>,
    pub last: Ident<'s>,
    pub span: Span,
}

#[derive(Debug)]
pub struct Body<'s> {
    pub entries: Vec<Entry<'s>>,
    pub span: Span,
}

#[derive(Debug)]
pub enum Entry<'s> {
    Attribute(Attribute<'s>),
    /// Boxed: blocks are few, attributes many, and an entry is as large as its largest kind.
    Block(Box<Block<'s>>),
}

#[derive(Debug)]
pub struct Block<'s> {
    pub key: Ident<'s>,
    pub name: Option<Ident<'s>>,
    pub body: Body<'s>,
    pub span: Span,
}

/// `key value, value`. Attributes are most of a tree, so the span is computed, not stored.
#[derive(Debug)]
pub struct Attribute<'s> {
    pub key: Ident<'s>,
    /// Almost every attribute has one value, which is kept inline; there is always one.
    pub values: SmallVec<[Value<'s>; 1]>,
}

impl Attribute<'_> {
    /// From the key to the end of the last value.
    pub fn span(&self) -> Span {
        self.values.last().map_or(self.key.span, |last| self.key.span.to(last.span))
    }
}

#[derive(Clone, Debug)]
pub struct StringLit<'s> {
    /// The text with escapes resolved (borrowed when it has none).
    pub value: Cow<'s, str>,
    pub span: Span,
}

/// A value: its kind with the text as written (a slice of the source), and where it is.
#[derive(Clone, Debug)]
pub struct Value<'s> {
    pub kind: ValueKind<'s>,
    pub span: Span,
}

/// Each kind keeps only its text; the parts (a quantity's number and unit, a string's
/// escapes, a reference's two names) are taken apart on demand, which keeps a value at 40
/// bytes: a large estate's tree holds about a million of them.
#[derive(Clone, Debug)]
pub enum ValueKind<'s> {
    /// `16GiB`, as written: see [`crate::quantity::split`].
    Quantity(&'s str),
    /// `0000:09:00.0`, as written.
    Pci(&'s str),
    /// `7070`, `0.5`, `6.2`, as written.
    Number(&'s str),
    /// The text between the quotes, escapes not yet resolved: see [`unescape`].
    Str(&'s str),
    /// `efi`, `esx14`, or `esx14.g0`; the value's span is the reference's: see [`Value::reference`].
    Reference(&'s str),
    /// `grid_v100d-8q on esx14.g2` (boxed: rare, and twice the size of the others).
    Placed(Box<Placed<'s>>),
}

impl<'s> Value<'s> {
    /// The value as a reference, when it is one.
    pub fn reference(&self) -> Option<Reference<'s>> {
        match self.kind {
            ValueKind::Reference(text) => Some(Reference { text, span: self.span }),
            _ => None,
        }
    }
}

/// A string's text with its escapes (`\"`, `\\`, `\n`, `\t`) resolved; borrowed when it has
/// none. The parser has already rejected any other escape.
pub fn unescape(raw: &str) -> Cow<'_, str> {
    if !raw.contains('\\') {
        return Cow::Borrowed(raw);
    }
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some(other) => out.push(other),
            None => {}
        }
    }
    Cow::Owned(out)
}

/// `item on target`.
#[derive(Clone, Debug)]
pub struct Placed<'s> {
    /// As written: a vGPU type, which has no `.` (lowering says so when it has one).
    pub item: Reference<'s>,
    pub target: Reference<'s>,
}

/// A name, or a GPU addressed through its host (`esx14.g0`): the text as written, split on
/// demand.
#[derive(Clone, Copy, Debug)]
pub struct Reference<'s> {
    pub text: &'s str,
    pub span: Span,
}

impl<'s> Reference<'s> {
    fn part(&self, offset: usize, text: &'s str) -> Ident<'s> {
        let start = self.span.start as usize + offset;
        Ident { text, span: Span::new(self.span.file, start, start + text.len()) }
    }

    /// `esx14` in `esx14.g0`, or the whole name.
    pub fn first(&self) -> Ident<'s> {
        let first = self.text.split_once('.').map_or(self.text, |(first, _)| first);
        self.part(0, first)
    }

    /// `g0` in `esx14.g0`.
    pub fn second(&self) -> Option<Ident<'s>> {
        let (first, second) = self.text.split_once('.')?;
        Some(self.part(first.len() + 1, second))
    }
}

impl ValueKind<'_> {
    /// What the value is, for "expected a size, found a string" messages.
    pub fn describe(&self) -> &'static str {
        match self {
            ValueKind::Quantity { .. } => "a quantity",
            ValueKind::Pci(_) => "a PCI address",
            ValueKind::Number(_) => "a number",
            ValueKind::Str(_) => "a string",
            ValueKind::Reference(_) => "a name",
            ValueKind::Placed { .. } => "a placement (`type on gpu`)",
        }
    }
}
