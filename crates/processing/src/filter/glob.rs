//! Relay's glob patterns (`relay-pattern`, as its inbound filters use them): `*` any run of
//! characters (line breaks included), `?` one character, `[a-z]` / `[!a-z]` a class, `{a,b}`
//! alternatives, `\` escapes the next character; matched against the whole text, ignoring case.
//! An empty text matches nothing. A pattern that does not parse is left out, as Relay leaves it
//! out.
//!
//! Patterns become one anchored regular expression per list, compiled when the project's
//! settings are read, not per event.

use regex::{Regex, RegexBuilder};

/// A list of glob patterns compiled into one matcher.
#[derive(Debug, Clone)]
pub struct GlobList {
    regex: Option<Regex>,
}

impl GlobList {
    /// The patterns that parse, as one matcher; nothing matches an empty list.
    pub fn new<S: AsRef<str>>(patterns: &[S]) -> GlobList {
        let parts: Vec<String> = patterns
            .iter()
            .filter_map(|p| translate(p.as_ref()))
            .filter(|re| build(re).is_some())
            .collect();
        let regex = if parts.is_empty() {
            None
        } else {
            build(&parts.join("|"))
        };
        GlobList { regex }
    }

    /// Whether any pattern matches all of `text` (never an empty one).
    pub fn is_match(&self, text: &str) -> bool {
        !text.is_empty() && self.regex.as_ref().is_some_and(|re| re.is_match(text))
    }

    pub fn is_empty(&self) -> bool {
        self.regex.is_none()
    }
}

fn build(pattern: &str) -> Option<Regex> {
    RegexBuilder::new(pattern)
        .case_insensitive(true)
        .dot_matches_new_line(true)
        .build()
        .ok()
}

/// `pattern` as an anchored regular expression, `None` when it does not parse (an unclosed
/// `{`, a stray `}` is taken literally as Relay takes it).
pub(crate) fn translate(pattern: &str) -> Option<String> {
    let mut out = String::with_capacity(pattern.len() + 8);
    out.push_str("(?:^");
    let mut depth = 0usize;
    let mut chars = pattern.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '*' => {
                while chars.peek() == Some(&'*') {
                    chars.next();
                }
                out.push_str(".*");
            }
            '?' => out.push('.'),
            '\\' => match chars.next() {
                Some(next) => push_literal(&mut out, next),
                None => return None,
            },
            '[' => {
                let mut class = String::new();
                let mut closed = false;
                let mut first = true;
                while let Some(k) = chars.next() {
                    match k {
                        ']' if !first || !class.is_empty() => {
                            closed = true;
                            break;
                        }
                        '!' | '^' if first => class.push('^'),
                        '\\' => match chars.next() {
                            Some(next) => push_class_literal(&mut class, next),
                            None => return None,
                        },
                        '-' => class.push('-'),
                        other => push_class_literal(&mut class, other),
                    }
                    first = false;
                }
                if !closed || class.is_empty() || class == "^" {
                    return None;
                }
                out.push('[');
                out.push_str(&class);
                out.push(']');
            }
            '{' => {
                depth += 1;
                out.push_str("(?:");
            }
            ',' if depth > 0 => out.push('|'),
            '}' if depth > 0 => {
                depth -= 1;
                out.push(')');
            }
            other => push_literal(&mut out, other),
        }
    }
    if depth > 0 {
        return None;
    }
    out.push_str("$)");
    Some(out)
}

fn push_literal(out: &mut String, c: char) {
    let mut buf = [0u8; 4];
    out.push_str(&regex::escape(c.encode_utf8(&mut buf)));
}

fn push_class_literal(out: &mut String, c: char) {
    if matches!(c, '[' | ']' | '\\' | '^' | '&' | '~' | '-') {
        out.push('\\');
    }
    out.push(c);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn globs(patterns: &[&str]) -> GlobList {
        GlobList::new(patterns)
    }

    #[test]
    fn globs_match_as_relays() {
        assert!(globs(&["foo"]).is_match("foo"));
        assert!(globs(&["foo"]).is_match("FOO"));
        assert!(!globs(&["foo"]).is_match("nope"));
        assert!(!globs(&["foo"]).is_match("foobar"));
        assert!(globs(&["foo*"]).is_match("foobarblub"));
        assert!(globs(&["*blub"]).is_match("foobarblub"));
        assert!(globs(&["*bar*"]).is_match("foobarblub"));
        assert!(globs(&["*foo*"]).is_match("foo\n"));
        assert!(globs(&["foo*bar"]).is_match("foo\nbar"));
        assert!(globs(&["foo*\n*bar"]).is_match("foo \n bar"));
        assert!(globs(&["1.18.[0-4].*"]).is_match("1.18.4.2153-2aa83397b"));
        assert!(!globs(&["1.18.[0-4].*"]).is_match("1.18.5.2153-2aa83397b"));
        assert!(!globs(&["1.18.[!0-4].*"]).is_match("1.18.4.2153-2aa83397b"));
        assert!(globs(&["1.18.[!0-4].*"]).is_match("1.18.5.2153-2aa83397b"));
        assert!(!globs(&["!1.18.4.*"]).is_match("1.18.4.2153-2aa83397b"));
        let braces = globs(&[r"/api/0/organizations/\{organization_slug\}/event*"]);
        assert!(braces.is_match("/api/0/organizations/{organization_slug}/event/foobar"));
        assert!(!braces.is_match(r"/api/0/organizations/\{organization_slug\}/event/foobar"));
        let alternatives = globs(&["*invariant={418,419,423}*"]);
        assert!(alternatives.is_match("see ?invariant=423 for"));
        assert!(!alternatives.is_match("see ?invariant=424 for"));
        assert!(globs(&["a?c"]).is_match("abc"));
        assert!(globs(&["1.2.(3)+"]).is_match("1.2.(3)+"));
    }

    #[test]
    fn empty_texts_and_patterns_match_nothing_and_bad_patterns_are_left_out() {
        assert!(!globs(&[""]).is_match("foo"));
        assert!(!globs(&[""]).is_match(""));
        assert!(!globs(&["*"]).is_match(""));
        assert!(globs(&["*"]).is_match("x"));
        assert!(globs(&[]).is_empty());
        let mixed = globs(&["{unclosed", "[", "ok*"]);
        assert!(mixed.is_match("okay"));
        assert!(!mixed.is_match("{unclosed"));
    }
}
