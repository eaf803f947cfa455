//! "Did you mean" suggestions for unknown names.

/// The candidate closest to `word` by edit distance, when it is close enough to be a likely
/// typo: at most a third of the word's length (and at least 1) edits away. Ties go to the
/// first candidate, so the suggestion follows source order.
pub fn closest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let limit = (word.chars().count() / 3).max(1);
    let mut best: Option<(usize, &str)> = None;
    for candidate in candidates {
        let d = distance(&word.to_ascii_lowercase(), &candidate.to_ascii_lowercase());
        if d <= limit && best.is_none_or(|(bd, _)| d < bd) {
            best = Some((d, candidate));
        }
    }
    best.map(|(_, c)| c)
}

/// `help` text for an unknown name: a suggestion if one is close, else the list of what exists.
pub fn help_for<'a>(word: &str, what: &str, candidates: impl IntoIterator<Item = &'a str> + Clone) -> String {
    match closest(word, candidates.clone()) {
        Some(c) => format!("did you mean `{c}`?"),
        None => {
            let mut all: Vec<&str> = candidates.into_iter().collect();
            if all.is_empty() {
                return format!("no {what} is declared; declare one first");
            }
            let more = all.len().saturating_sub(12);
            all.truncate(12);
            let list = all.iter().map(|c| format!("`{c}`")).collect::<Vec<_>>().join(", ");
            if more > 0 {
                format!("known {what}s: {list} and {more} more")
            } else {
                format!("known {what}s: {list}")
            }
        }
    }
}

/// Edit distance where swapping two neighbouring letters counts as one edit (optimal string
/// alignment), since `esx41` for `esx14` is one slip, not two.
fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[i - 1][j] + 1).min(d[i][j - 1] + 1).min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = best;
        }
    }
    d[a.len()][b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_names_only() {
        assert_eq!(closest("esx41", ["esx14", "esx15"]), Some("esx14"));
        assert_eq!(closest("schedular", ["scheduler", "release"]), Some("scheduler"));
        assert_eq!(closest("zzz", ["esx14"]), None);
    }
}
