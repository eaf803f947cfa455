//! The untyped syntax tree. Owns its data and carries spans.

use crate::source::{FileId, Span};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ident {
    pub text: String,
    pub span: Span,
}

#[derive(Debug)]
pub struct File {
    pub file: FileId,
    pub items: Vec<Item>,
    /// Every comment, in source order, kept for a formatter.
    pub comments: Vec<Comment>,
}

#[derive(Debug)]
pub struct Comment {
    pub text: String,
    pub span: Span,
}

#[derive(Debug)]
pub enum Item {
    /// `import "path"`.
    Import(StringLit),
    /// `catalog "path"`.
    Catalog(StringLit),
    /// `license|host|vm|bitfusion name { ... }`.
    Entity(Entity),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EntityKind {
    License,
    Host,
    Vm,
    Bitfusion,
}

#[derive(Debug)]
pub struct Entity {
    pub kind: EntityKind,
    pub keyword: Span,
    pub name: NamePattern,
    pub body: Body,
}

/// A name, or a name with a range suffix (`dev[1..4]`).
#[derive(Debug)]
pub struct NamePattern {
    pub ident: Ident,
    pub range: Option<RangeSuffix>,
    pub span: Span,
}

/// `[first..last]`; the bounds keep their text so leading zeros can set the padding.
#[derive(Debug)]
pub struct RangeSuffix {
    pub first: Ident,
    pub last: Ident,
    pub span: Span,
}

#[derive(Debug)]
pub struct Body {
    pub entries: Vec<Entry>,
    pub span: Span,
}

#[derive(Debug)]
pub enum Entry {
    Attribute(Attribute),
    Block(Block),
}

#[derive(Debug)]
pub struct Block {
    pub key: Ident,
    pub name: Option<Ident>,
    pub body: Body,
    pub span: Span,
}

#[derive(Debug)]
pub struct Attribute {
    pub key: Ident,
    pub values: Vec<Value>,
    pub span: Span,
}

#[derive(Clone, Debug)]
pub struct StringLit {
    /// The text with escapes resolved.
    pub value: String,
    pub span: Span,
}

#[derive(Clone, Debug)]
pub struct Value {
    pub kind: ValueKind,
    pub span: Span,
}

#[derive(Clone, Debug)]
pub enum ValueKind {
    /// `16GiB`: the number text and the unit text.
    Quantity {
        number: String,
        unit: String,
    },
    /// `0000:09:00.0`, as written.
    Pci(String),
    /// `7070`, `0.5`, `6.2`, as written.
    Number(String),
    Str(String),
    /// `efi`, `esx14`, or `esx14.g0`.
    Reference(Reference),
    /// `grid_v100d-8q on esx14.g2`.
    Placed {
        item: Ident,
        target: Reference,
    },
}

/// A name, or a GPU addressed through its host (`esx14.g0`).
#[derive(Clone, Debug)]
pub struct Reference {
    pub first: Ident,
    pub second: Option<Ident>,
    pub span: Span,
}

impl ValueKind {
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
