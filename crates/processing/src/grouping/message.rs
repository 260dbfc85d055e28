//! Messages and exception values as grouping sees them (Sentry's `message:v1` strategy and
//! `normalize_message_for_grouping`).
//!
//! A message groups by its template when the SDK sent one (`Failed to charge user %s`), else
//! by the formatted text; either way only its first two non-empty lines count, and variable
//! parts are replaced by placeholders ([`crate::parameterize`]).

use std::sync::LazyLock;

use regex::Regex;

use super::component::Component;
use super::input::LogEntry;
use crate::parameterize::parameterize;

/// Sentry's snapshot `database_error` shows a double-quoted SQL savepoint name replaced by
/// `<quoted_identifier>` (`RELEASE SAVEPOINT "s140078941939520_x761"`): savepoint names are
/// generated per transaction (Django's `s<thread id>_x<n>`) and would otherwise split one
/// database error into an issue per request.
static SAVEPOINT: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r#"(?i)\b(SAVEPOINT\s+)"[^"]+""#).expect("valid regex"));

/// Cuts `message` to its first two non-empty lines (marking the cut with `...`) and replaces
/// variable parts with placeholders.
pub fn normalize_message_for_grouping(message: &str) -> String {
    let lines: Vec<&str> = split_lines(message)
        .into_iter()
        .filter(|l| !l.trim().is_empty())
        .take(2)
        .collect();
    let mut trimmed = lines.join("\n");
    if trimmed != message {
        trimmed.push_str("...");
    }
    let parameterized = parameterize(&trimmed).into_owned();
    SAVEPOINT
        .replace_all(&parameterized, "${1}<quoted_identifier>")
        .into_owned()
}

/// Python's `str.splitlines()`: every Unicode line boundary, `\r\n` counted once.
fn split_lines(s: &str) -> Vec<&str> {
    let mut lines = Vec::new();
    let mut start = 0;
    let mut iter = s.char_indices().peekable();
    while let Some((i, c)) = iter.next() {
        let boundary = matches!(
            c,
            '\n' | '\r'
                | '\u{0b}'
                | '\u{0c}'
                | '\u{1c}'
                | '\u{1d}'
                | '\u{1e}'
                | '\u{85}'
                | '\u{2028}'
                | '\u{2029}'
        );
        if boundary {
            lines.push(&s[start..i]);
            let mut end = i + c.len_utf8();
            if c == '\r' {
                if let Some((j, '\n')) = iter.peek().copied() {
                    iter.next();
                    end = j + 1;
                }
            }
            start = end;
        }
    }
    if start < s.len() {
        lines.push(&s[start..]);
    }
    lines
}

/// The `message` component of the `default` variant.
pub fn message_component(entry: &LogEntry) -> Component {
    let raw = entry
        .message
        .as_deref()
        .or(entry.formatted.as_deref())
        .unwrap_or_default();
    let normalized = normalize_message_for_grouping(raw);
    if normalized.is_empty() {
        return Component::empty("message");
    }
    let changed = normalized != raw;
    let component = Component::leaf("message", normalized);
    if changed {
        component.with_hint("stripped event-specific values")
    } else {
        component
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_two_non_empty_lines() {
        assert_eq!(normalize_message_for_grouping("a\n\nb\nc"), "a\nb...");
        assert_eq!(normalize_message_for_grouping("one line"), "one line");
        assert_eq!(normalize_message_for_grouping("trailing\n"), "trailing...");
    }

    #[test]
    fn template_wins_over_formatted() {
        let entry = LogEntry {
            message: Some("Failed to charge user %s".into()),
            formatted: Some("Failed to charge user 42".into()),
        };
        assert_eq!(
            message_component(&entry).contributing_values(),
            vec!["Failed to charge user %s"]
        );
    }

    #[test]
    fn savepoint_names_are_placeholders() {
        assert_eq!(
            normalize_message_for_grouping("SQL: RELEASE SAVEPOINT \"s140078941939520_x761\""),
            "SQL: RELEASE SAVEPOINT <quoted_identifier>"
        );
    }

    #[test]
    fn split_lines_like_python() {
        assert_eq!(split_lines("a\r\nb\rc\n"), vec!["a", "b", "c"]);
    }
}
