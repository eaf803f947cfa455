//! pest front end. `GpuParser` and its `Rule`s stay private to this module: the rest of the
//! compiler only sees the owned AST of [`super::ast`].

use super::ast::*;
use crate::diagnostics::{Code, Diagnostic};
use crate::source::{FileId, Span};
use pest::iterators::Pair;
use pest::Parser;

#[derive(pest_derive::Parser)]
#[grammar = "grammar/gpu.pest"]
struct GpuParser;

/// Parses one file. pest does not recover, so a syntax error is a single diagnostic.
pub fn parse(file: FileId, text: &str) -> Result<File, Box<Diagnostic>> {
    let mut pairs = GpuParser::parse(Rule::file, text).map_err(|e| Box::new(syntax_error(file, text, e)))?;
    let Some(root) = pairs.next() else {
        return Ok(File { file, items: Vec::new(), comments: Vec::new() });
    };
    let mut builder = Builder { file, comments: Vec::new() };
    let mut items = Vec::new();
    for pair in root.into_inner() {
        match pair.as_rule() {
            Rule::import => items.push(Item::Import(builder.first_string(pair))),
            Rule::catalog => items.push(Item::Catalog(builder.first_string(pair))),
            Rule::license => items.push(Item::Entity(builder.entity(EntityKind::License, pair))),
            Rule::host => items.push(Item::Entity(builder.entity(EntityKind::Host, pair))),
            Rule::vm => items.push(Item::Entity(builder.entity(EntityKind::Vm, pair))),
            Rule::bitfusion => items.push(Item::Entity(builder.entity(EntityKind::Bitfusion, pair))),
            Rule::COMMENT => builder.comment(&pair),
            _ => {}
        }
    }
    builder.comments.sort_by_key(|c| c.span);
    Ok(File { file, items, comments: builder.comments })
}

/// Walks pest pairs into AST nodes. The shapes it relies on are guaranteed by the grammar;
/// where a shape is missing anyway, the node gets an empty value rather than a panic.
struct Builder {
    file: FileId,
    comments: Vec<Comment>,
}

impl Builder {
    fn span(&self, pair: &Pair<Rule>) -> Span {
        let s = pair.as_span();
        Span::new(self.file, s.start(), s.end())
    }

    fn ident(&self, pair: &Pair<Rule>) -> Ident {
        Ident { text: pair.as_str().to_string(), span: self.span(pair) }
    }

    fn comment(&mut self, pair: &Pair<Rule>) {
        let span = self.span(pair);
        self.comments.push(Comment { text: pair.as_str().to_string(), span });
    }

    /// The children of a pair, with comments moved aside.
    fn children<'i>(&mut self, pair: Pair<'i, Rule>) -> Vec<Pair<'i, Rule>> {
        let mut out = Vec::new();
        for child in pair.into_inner() {
            if child.as_rule() == Rule::COMMENT {
                self.comment(&child);
            } else {
                out.push(child);
            }
        }
        out
    }

    fn first_string(&mut self, pair: Pair<Rule>) -> StringLit {
        let span = self.span(&pair);
        let string = self.children(pair).into_iter().find(|p| p.as_rule() == Rule::string);
        match string {
            Some(p) => self.string(p),
            None => StringLit { value: String::new(), span },
        }
    }

    fn string(&self, pair: Pair<Rule>) -> StringLit {
        let span = self.span(&pair);
        let raw = pair.into_inner().next().map(|p| p.as_str()).unwrap_or("");
        StringLit { value: unescape(raw), span }
    }

    fn entity(&mut self, kind: EntityKind, pair: Pair<Rule>) -> Entity {
        let span = self.span(&pair);
        let mut keyword = span;
        let mut name = None;
        let mut body = None;
        for child in self.children(pair) {
            match child.as_rule() {
                Rule::kw_license | Rule::kw_host | Rule::kw_vm | Rule::kw_bitfusion => keyword = self.span(&child),
                Rule::name => {
                    let ident = self.ident(&child);
                    name = Some(NamePattern { span: ident.span, ident, range: None });
                }
                Rule::name_pattern => name = Some(self.name_pattern(child)),
                Rule::body => body = Some(self.body(child)),
                _ => {}
            }
        }
        let empty_ident = Ident { text: String::new(), span: keyword };
        Entity {
            kind,
            keyword,
            name: name.unwrap_or(NamePattern { ident: empty_ident, range: None, span: keyword }),
            body: body.unwrap_or(Body { entries: Vec::new(), span }),
        }
    }

    fn name_pattern(&mut self, pair: Pair<Rule>) -> NamePattern {
        let span = self.span(&pair);
        let mut ident = Ident { text: String::new(), span };
        let mut range = None;
        for child in self.children(pair) {
            match child.as_rule() {
                Rule::ident => ident = self.ident(&child),
                Rule::range => {
                    let rspan = self.span(&child);
                    let bounds: Vec<Ident> =
                        self.children(child).iter().filter(|p| p.as_rule() == Rule::digits).map(|p| self.ident(p)).collect();
                    if let [first, last] = bounds.as_slice() {
                        range = Some(RangeSuffix { first: first.clone(), last: last.clone(), span: rspan });
                    }
                }
                _ => {}
            }
        }
        NamePattern { ident, range, span }
    }

    fn body(&mut self, pair: Pair<Rule>) -> Body {
        let span = self.span(&pair);
        let mut entries = Vec::new();
        for child in self.children(pair) {
            match child.as_rule() {
                Rule::attribute => entries.push(Entry::Attribute(self.attribute(child))),
                Rule::block => entries.push(Entry::Block(self.block(child))),
                _ => {}
            }
        }
        Body { entries, span }
    }

    fn block(&mut self, pair: Pair<Rule>) -> Block {
        let span = self.span(&pair);
        let mut key = Ident { text: String::new(), span };
        let mut name = None;
        let mut body = Body { entries: Vec::new(), span };
        for child in self.children(pair) {
            match child.as_rule() {
                Rule::key => key = self.ident(&child),
                Rule::name => name = Some(self.ident(&child)),
                Rule::block_body => body = self.body(child),
                _ => {}
            }
        }
        Block { key, name, body, span }
    }

    fn attribute(&mut self, pair: Pair<Rule>) -> Attribute {
        let span = self.span(&pair);
        let mut key = Ident { text: String::new(), span };
        let mut values = Vec::new();
        for child in self.children(pair) {
            match child.as_rule() {
                Rule::key => key = self.ident(&child),
                _ => values.extend(self.value(child)),
            }
        }
        Attribute { key, values, span }
    }

    fn value(&mut self, pair: Pair<Rule>) -> Option<Value> {
        let span = self.span(&pair);
        let kind = match pair.as_rule() {
            Rule::quantity => {
                let text = pair.as_str();
                let split = text.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(text.len());
                let (number, unit) = text.split_at(split);
                ValueKind::Quantity { number: number.to_string(), unit: unit.to_string() }
            }
            Rule::pci_address => ValueKind::Pci(pair.as_str().to_string()),
            Rule::number => ValueKind::Number(pair.as_str().to_string()),
            Rule::string => ValueKind::Str(self.string(pair).value),
            Rule::reference => ValueKind::Reference(self.reference(&pair)),
            Rule::placed => {
                let refs: Vec<Reference> =
                    self.children(pair).iter().filter(|p| p.as_rule() == Rule::reference).map(|p| self.reference(p)).collect();
                let [item, target] = <[Reference; 2]>::try_from(refs).ok()?;
                ValueKind::Placed { item: item.first, target }
            }
            _ => return None,
        };
        Some(Value { kind, span })
    }

    fn reference(&self, pair: &Pair<Rule>) -> Reference {
        let span = self.span(pair);
        let text = pair.as_str();
        let (first, second) = match text.split_once('.') {
            Some((a, b)) => (a, Some(b)),
            None => (text, None),
        };
        let at = |offset: usize, len: usize| Span::new(self.file, span.start as usize + offset, span.start as usize + offset + len);
        Reference {
            first: Ident { text: first.to_string(), span: at(0, first.len()) },
            second: second.map(|b| Ident { text: b.to_string(), span: at(first.len() + 1, b.len()) }),
            span,
        }
    }
}

fn unescape(raw: &str) -> String {
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
    out
}

fn syntax_error(file: FileId, text: &str, error: pest::error::Error<Rule>) -> Diagnostic {
    use pest::error::{ErrorVariant, InputLocation};
    let (start, end) = match error.location {
        InputLocation::Pos(p) => (p, p),
        InputLocation::Span((s, e)) => (s, e),
    };
    // Point at the whole offending token rather than one character.
    let token_end = text
        .get(start..)
        .map(|rest| rest.find(|c: char| c.is_whitespace() || "{}\",".contains(c)).unwrap_or(rest.len()))
        .map_or(end, |len| start + len.max(1))
        .min(text.len())
        .max(end);
    let span = Span::new(file, start, token_end);
    let found = match text.get(start..token_end) {
        Some("") | None => "end of file".to_string(),
        Some(t) => format!("`{}`", t.chars().take(40).collect::<String>()),
    };
    let expected = match &error.variant {
        ErrorVariant::ParsingError { positives, .. } => {
            let mut phrases: Vec<&str> = positives.iter().filter_map(|r| phrase(*r)).collect();
            phrases.sort_unstable();
            phrases.dedup();
            phrases
        }
        ErrorVariant::CustomError { .. } => Vec::new(),
    };
    let expected_text = match expected.as_slice() {
        [] => "something else".to_string(),
        [one] => one.to_string(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    };
    if found == "end of file" {
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
    let help = if expected.contains(&"a top-level item (`import`, `catalog`, `license`, `host`, `vm`, `bitfusion`)") {
        "a file holds `import`, `catalog`, `license`, `host`, `vm` and `bitfusion` items; check the spelling of the keyword and that every `{` is closed".to_string()
    } else if found == "end of file" {
        "a block is not closed: add the missing `}`".to_string()
    } else {
        format!("write {expected_text} here")
    };
    Diagnostic::new(Code::Syntax, format!("expected {expected_text}, found {found}"), span, format!("expected {expected_text}"))
        .with_help(help)
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

/// How a grammar rule is named in a message; `None` hides helper rules.
fn phrase(rule: Rule) -> Option<&'static str> {
    Some(match rule {
        Rule::EOI | Rule::import | Rule::catalog | Rule::license | Rule::host | Rule::vm | Rule::bitfusion => {
            "a top-level item (`import`, `catalog`, `license`, `host`, `vm`, `bitfusion`)"
        }
        Rule::kw_import | Rule::kw_catalog | Rule::kw_license | Rule::kw_host | Rule::kw_vm | Rule::kw_bitfusion => {
            "a top-level item (`import`, `catalog`, `license`, `host`, `vm`, `bitfusion`)"
        }
        Rule::body | Rule::block_body => "a `{`",
        Rule::block | Rule::attribute | Rule::key => "an attribute, a nested block or `}`",
        Rule::placed | Rule::quantity | Rule::pci_address | Rule::number | Rule::reference => "a value",
        Rule::string => "a string in double quotes (closed on the same line)",
        Rule::string_inner | Rule::escape => "a string character or escape (`\\\"`, `\\\\`, `\\n`, `\\t`)",
        Rule::name | Rule::name_pattern | Rule::ident => "a name",
        Rule::range => "a range such as `[1..4]`",
        Rule::digits => "digits",
        Rule::kw_on => "`on`",
        _ => return None,
    })
}
