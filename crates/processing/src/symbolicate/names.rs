//! What a symbolicated frame shows: the function name picked from what the source map knows,
//! and the source lines around the frame's line.

/// Names that say nothing about the function; the caller's name for it, or the minified name,
/// is better.
const USELESS_NAMES: [&str; 3] = ["<anonymous>", "__webpack_require__", "__webpack_modules__"];

/// The function name of a mapped frame, as Sentry picks it: the enclosing scope's original
/// name; when that says nothing, the name the calling frame used for this function (its
/// token's original name); else the scope's name if the frame had no name at all; else the
/// minified name.
pub fn function_for_token<'a>(
    minified_name: Option<&'a str>,
    scope_name: &'a str,
    caller_token_name: Option<&'a str>,
) -> &'a str {
    if !USELESS_NAMES.contains(&scope_name) {
        return scope_name;
    }
    if let Some(name) = caller_token_name.filter(|n| !n.is_empty()) {
        return name;
    }
    minified_name.unwrap_or(scope_name)
}

/// Folds runs of one property name, except the last part, into `{name#count}`:
/// `bar.foo.foo.onError` → `bar.{foo#2}.onError` (long names from nested object literals).
pub fn fold_function_name(name: &str) -> String {
    let Some((head, tail)) = name.rsplit_once('.') else {
        return name.to_owned();
    };
    let mut out = String::with_capacity(name.len());
    let mut parts = head.split('.').peekable();
    while let Some(part) = parts.next() {
        let mut count = 1;
        while parts.peek() == Some(&part) {
            parts.next();
            count += 1;
        }
        if !out.is_empty() {
            out.push('.');
        }
        if count == 1 {
            out.push_str(part);
        } else {
            out.push_str(&format!("{{{part}#{count}}}"));
        }
    }
    out.push('.');
    out.push_str(tail);
    out
}

/// Lines of context on each side of a frame's line.
pub const CONTEXT_LINES: usize = 5;

/// The lines before, at and after line `lineno` (1-based) of `source`, each cut to about 140
/// characters around `column` (minified code is one very long line). `None` when the file has
/// no such line.
pub fn context_lines(
    source: &str,
    lineno: usize,
    column: usize,
) -> Option<(Vec<String>, String, Vec<String>)> {
    let lineno = lineno.max(1);
    let start = lineno.saturating_sub(CONTEXT_LINES).saturating_sub(1);
    let before = lineno - 1 - start;
    let mut lines = source.lines().skip(start);
    let pre: Vec<String> = (&mut lines)
        .take(before)
        .map(|line| trim_line(line, column))
        .collect();
    if pre.len() < before {
        return None;
    }
    let line = trim_line(lines.next()?, column);
    let post = lines
        .take(CONTEXT_LINES)
        .map(|line| trim_line(line, column))
        .collect();
    Some((pre, line, post))
}

/// [`context_lines`] over a source whose lines are indexed (`line(i)` is 0-based line `i`,
/// without its line break): a minified bundle's single line is sliced, not scanned.
pub fn context_lines_indexed<'s>(
    line: impl Fn(usize) -> Option<&'s str>,
    lineno: usize,
    column: usize,
) -> Option<(Vec<String>, String, Vec<String>)> {
    let lineno = lineno.max(1);
    let start = lineno.saturating_sub(CONTEXT_LINES).saturating_sub(1);
    let pre = (start..lineno - 1)
        .map(|i| line(i).map(|l| trim_line(l, column)))
        .collect::<Option<Vec<_>>>()?;
    let current = trim_line(line(lineno - 1)?, column);
    let post = (lineno..lineno + CONTEXT_LINES)
        .map_while(|i| line(i).map(|l| trim_line(l, column)))
        .collect();
    Some((pre, current, post))
}

/// A line as the UI can show it: lines up to 150 bytes whole, longer ones cut to 140 around
/// `column` (60 before it) with `{snip}` where something was cut.
fn trim_line(line: &str, column: usize) -> String {
    let len = line.len();
    if len <= 150 {
        return line.to_owned();
    }
    let column = column.min(len);
    let mut start = column.saturating_sub(60);
    if start < 5 {
        start = 0;
    }
    let mut end = (start + 140).min(len);
    if end > len.saturating_sub(5) {
        end = len;
    }
    if end == len {
        start = end.saturating_sub(140);
    }
    let start = floor_char_boundary(line, start);
    let end = floor_char_boundary(line, end);
    let mut out = String::with_capacity(end - start + 14);
    if start > 0 {
        out.push_str("{snip} ");
    }
    out.push_str(&line[start..end]);
    if end < len {
        out.push_str(" {snip}");
    }
    out
}

fn floor_char_boundary(text: &str, mut at: usize) -> usize {
    if at >= text.len() {
        return text.len();
    }
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    at
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_the_function_name() {
        assert_eq!(
            function_for_token(Some("l"), "applyDiscount", None),
            "applyDiscount"
        );
        assert_eq!(
            function_for_token(Some("l"), "<anonymous>", Some("onClick")),
            "onClick"
        );
        assert_eq!(function_for_token(Some("l"), "<anonymous>", Some("")), "l");
        assert_eq!(function_for_token(None, "<anonymous>", None), "<anonymous>");
    }

    #[test]
    fn folds_repeated_parts() {
        assert_eq!(fold_function_name("foo"), "foo");
        assert_eq!(fold_function_name("foo.foo"), "foo.foo");
        assert_eq!(fold_function_name("foo.foo.foo"), "{foo#2}.foo");
        assert_eq!(
            fold_function_name("bar.foo.foo.onError"),
            "bar.{foo#2}.onError"
        );
        assert_eq!(
            fold_function_name("bar.bar.bar.foo.foo.onError"),
            "{bar#3}.{foo#2}.onError"
        );
        assert_eq!(
            fold_function_name("bar.foo.foo.bar.bar.onError"),
            "bar.{foo#2}.{bar#2}.onError"
        );
    }

    #[test]
    fn context_around_a_line() {
        let source = (1..=20)
            .map(|n| format!("line {n}"))
            .collect::<Vec<_>>()
            .join("\n");
        let (pre, line, post) = context_lines(&source, 7, 0).unwrap_or_default();
        assert_eq!(pre, ["line 2", "line 3", "line 4", "line 5", "line 6"]);
        assert_eq!(line, "line 7");
        assert_eq!(post, ["line 8", "line 9", "line 10", "line 11", "line 12"]);
        let (pre, line, post) = context_lines(&source, 2, 0).unwrap_or_default();
        assert_eq!((pre.len(), line.as_str(), post.len()), (1, "line 2", 5));
        assert!(context_lines(&source, 21, 0).is_none());
        assert!(context_lines("", 1, 0).is_none());
    }

    #[test]
    fn indexed_context_is_the_same() {
        let source = (1..=20)
            .map(|n| format!("line {n} {}", "x".repeat(n * 10)))
            .collect::<Vec<_>>()
            .join("\n");
        let lines: Vec<&str> = source.lines().collect();
        for lineno in 0..23 {
            for column in [0, 30, 170] {
                assert_eq!(
                    context_lines_indexed(|i| lines.get(i).copied(), lineno, column),
                    context_lines(&source, lineno, column),
                    "line {lineno}, column {column}"
                );
            }
        }
    }

    #[test]
    fn long_lines_are_cut_around_the_column() {
        let line = "abcdefghij".repeat(30);
        assert_eq!(trim_line(&line, 0), format!("{} {{snip}}", &line[..140]));
        assert_eq!(
            trim_line(&line, 150),
            format!("{{snip}} {} {{snip}}", &line[90..230])
        );
        assert_eq!(trim_line(&line, 300), format!("{{snip}} {}", &line[160..]));
        let hearts = "❤️🧡💛".repeat(20);
        assert!(trim_line(&hearts, 70).contains("{snip}"));
    }
}
