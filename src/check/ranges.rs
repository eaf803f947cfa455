//! `vm dev[1..4] { ... }` declares four VMs with one body, and the rules run per VM. A
//! finding every member has is a fault of the body: it is reported once, naming the range,
//! not four times. A finding only some members have (the fifth VM that does not fit on the
//! GPUs) stays reported for each of them.

use super::Out;
use crate::diagnostics::{Code, Diagnostic};
use crate::model::Model;
use crate::source::Span;
use rustc_hash::FxHashMap as HashMap;

/// A range, known by the span of its name pattern (shared by its members).
struct Range<'m> {
    written: &'m str,
    members: usize,
}

pub fn collapse(model: &Model, out: Out) -> Out {
    if out.is_empty() {
        return out;
    }
    let mut ranges: HashMap<Span, Range> = HashMap::default();
    let mut member_of: HashMap<&str, Span> = HashMap::default();
    for vm in &model.vms {
        let Some(written) = vm.range.as_deref() else { continue };
        ranges.entry(vm.span).or_insert(Range { written, members: 0 }).members += 1;
        member_of.insert(&vm.name, vm.span);
    }
    if ranges.is_empty() {
        return out;
    }
    // Each finding that names a member, rewritten to name its range; findings that are equal
    // once rewritten are one group, which stands for the body if every member is in it.
    let rewritten: Vec<Option<(Span, &str, Diagnostic)>> = out
        .iter()
        .map(|d| {
            let (member, range) = named_member(&d.message, &member_of)?;
            Some((range, member, renamed(d, member, ranges[&range].written)))
        })
        .collect();
    let mut groups: HashMap<(Span, Code, Span), Vec<Vec<usize>>> = HashMap::default();
    for (index, entry) in rewritten.iter().enumerate() {
        let Some((range, _, d)) = entry else { continue };
        let alike = groups.entry((*range, d.code, d.primary.span)).or_default();
        match alike.iter_mut().find(|group| rewritten[group[0]].as_ref().is_some_and(|(_, _, first)| first == d)) {
            Some(group) => group.push(index),
            None => alike.push(vec![index]),
        }
    }
    let mut fates = vec![Fate::Keep; out.len()];
    for (&(range, _, _), alike) in &groups {
        for group in alike {
            let mut members: Vec<&str> = group.iter().filter_map(|&i| rewritten[i].as_ref().map(|(_, member, _)| *member)).collect();
            members.sort_unstable();
            members.dedup();
            if members.len() == ranges[&range].members {
                fates[group[0]] = Fate::StandFor;
                for &i in &group[1..] {
                    fates[i] = Fate::Drop;
                }
            }
        }
    }
    out.into_iter()
        .zip(rewritten)
        .zip(fates)
        .filter_map(|((original, rewritten), fate)| match fate {
            Fate::Keep => Some(original),
            Fate::StandFor => rewritten.map(|(_, _, d)| d),
            Fate::Drop => None,
        })
        .collect()
}

/// What becomes of one finding.
#[derive(Clone, Copy)]
enum Fate {
    Keep,
    /// Replaced by its rewritten form, which names the range and stands for its group.
    StandFor,
    /// Another finding of its group stands for it.
    Drop,
}

/// The first name quoted in `message` (between backticks) that is a range member's.
fn named_member<'m>(message: &str, member_of: &HashMap<&'m str, Span>) -> Option<(&'m str, Span)> {
    message.split('`').skip(1).step_by(2).find_map(|quoted| member_of.get_key_value(quoted).map(|(&name, &range)| (name, range)))
}

/// `d` with every quoted mention of `member` replaced by the range as written.
fn renamed(d: &Diagnostic, member: &str, written: &str) -> Diagnostic {
    let (from, to) = (format!("`{member}`"), format!("`{written}`"));
    let mut d = d.clone();
    d.message = d.message.replace(&from, &to);
    d.primary.text = d.primary.text.replace(&from, &to);
    d.help = d.help.replace(&from, &to);
    for label in &mut d.secondary {
        label.text = label.text.replace(&from, &to);
    }
    for note in &mut d.notes {
        *note = note.replace(&from, &to);
    }
    d
}
