//! Writing POSIX sh text: quoting, and a script being built line by line.

/// Quotes a string for POSIX sh: single quotes around it, each `'` written as `'\''`.
pub fn sh_quote(s: &str) -> String {
    let mut quoted = String::with_capacity(s.len() + 2);
    quoted.push('\'');
    for c in s.chars() {
        if c == '\'' {
            quoted.push_str("'\\''");
        } else {
            quoted.push(c);
        }
    }
    quoted.push('\'');
    quoted
}

/// A script being written: lines with two-space indentation inside `if` blocks.
pub(super) struct Script {
    pub text: String,
    indent: usize,
    pub uses_fail: bool,
    /// The script records its changes (`changed ...`) for the reboot at its end.
    pub uses_changed: bool,
}

impl Script {
    pub fn new() -> Script {
        // A phase script is a few KB: room for one from the start instead of a dozen regrowths.
        Script { text: String::with_capacity(8 << 10), indent: 0, uses_fail: false, uses_changed: false }
    }

    pub fn line(&mut self, s: &str) {
        self.line_of(&[s]);
    }

    /// One line joined from `parts` (scripts are most of a build's text, so lines are not
    /// formatted into temporary strings), indented unless it is empty.
    pub fn line_of(&mut self, parts: &[&str]) {
        if parts.iter().any(|p| !p.is_empty()) {
            for _ in 0..self.indent {
                self.text.push_str("  ");
            }
            parts.iter().for_each(|p| self.text.push_str(p));
        }
        self.text.push('\n');
    }

    pub fn comment(&mut self, s: &str) {
        let text = super::super::one_line(s);
        match text.trim_end() {
            "" => self.line("#"),
            text => self.line_of(&["# ", text]),
        }
    }

    pub fn say(&mut self, msg: &str) {
        self.line_of(&["echo ", &sh_quote(msg)]);
    }

    pub fn fail(&mut self, msg: &str) {
        self.uses_fail = true;
        self.line_of(&["fail ", &sh_quote(msg)]);
    }

    /// Records a change in the phase's pending file, so that the phase reboots.
    pub fn changed(&mut self, what: &str) {
        self.uses_changed = true;
        self.line_of(&["changed ", &sh_quote(what)]);
    }

    /// `if ...; then`, and indent.
    pub fn open(&mut self, s: &str) {
        self.line(s);
        self.indent += 1;
    }

    /// `else` / `elif ...; then` at the level of its `if`.
    pub fn mid(&mut self, s: &str) {
        self.indent = self.indent.saturating_sub(1);
        self.line(s);
        self.indent += 1;
    }

    pub fn close(&mut self) {
        self.close_with("fi");
    }

    /// Ends a block with `fi`, `done` or `esac`.
    pub fn close_with(&mut self, end: &str) {
        self.indent = self.indent.saturating_sub(1);
        self.line(end);
    }
}
