//! Span grouping: a span's description with its variable parts replaced, so that spans of one
//! group are "the same query" or "the same call".
//!
//! Sentry (Relay's span description scrubbing) does this per kind of span, and so does this
//! module: SQL statements get their literals replaced by `%s` and their `IN (…)` and
//! `VALUES (…)` lists collapsed; HTTP calls keep the method, origin and path, with ids in the
//! path replaced by `*` and the query string dropped; Redis commands keep the command only;
//! anything else gets its numbers, UUIDs and hex ids replaced by `*`. Placeholders a driver
//! already put in (`%s`, `$1`, `?`, `:name`) are kept, so a statement and its parameterized
//! twin group together.

use std::sync::LazyLock;

use regex::{Captures, Regex};

/// One placeholder, of any driver's spelling.
const PLACEHOLDER: &str = r"(?:%s|\?|\$\d+|:\w+|%\(\w+\)s)";

/// `IN (%s, %s, …)`: one list of placeholders after `IN`.
static IN_LIST: LazyLock<Regex> = LazyLock::new(|| {
    let list = format!(r"\(\s*{PLACEHOLDER}(?:\s*,\s*{PLACEHOLDER})*\s*\)");
    Regex::new(&format!(r"(?i)\b(IN)\s*{list}")).expect("IN-list pattern is valid")
});

/// `VALUES (%s, %s), (%s, %s)`: the rows of a multi-row insert.
static VALUES_LIST: LazyLock<Regex> = LazyLock::new(|| {
    let list = format!(r"\(\s*{PLACEHOLDER}(?:\s*,\s*{PLACEHOLDER})*\s*\)");
    Regex::new(&format!(r"(?i)\b(VALUES)\s*{list}(?:\s*,\s*{list})*"))
        .expect("VALUES-list pattern is valid")
});

/// A dashed UUID, or a run of hex digits between word boundaries (a number, a hex id, or an
/// ordinary word such as `cafe`, told apart in [`scrub_identifier`]).
static IDENTIFIER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"\b[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}\b|\b[0-9A-Fa-f]+\b",
    )
    .expect("identifier pattern is valid")
});

/// The group of a span: its description with literals and ids replaced, chosen by its op.
pub fn span_group(op: &str, description: &str) -> String {
    let description = description.trim();
    if description.is_empty() {
        return String::new();
    }
    if op.starts_with("db.redis") || op.starts_with("cache") {
        return redis_command(description);
    }
    if op.starts_with("db") {
        return normalize_sql(description);
    }
    if op.starts_with("http") || op.starts_with("resource") {
        return normalize_http(description);
    }
    scrub_identifiers(description)
}

/// Parameterizes a SQL statement: string and number literals become `%s`, comments go,
/// placeholder lists collapse to one, whitespace runs become one space.
pub(crate) fn normalize_sql(sql: &str) -> String {
    let chars: Vec<char> = sql.chars().collect();
    let mut out = String::with_capacity(sql.len());
    let mut space = false;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c.is_whitespace() {
            space = true;
            i += 1;
            continue;
        }
        if c == '-' && next == Some('-') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
            space = true;
            continue;
        }
        if c == '/' && next == Some('*') {
            i += 2;
            while i < chars.len() && !(chars[i] == '*' && chars.get(i + 1) == Some(&'/')) {
                i += 1;
            }
            i += 2;
            space = true;
            continue;
        }
        if space && !out.is_empty() {
            out.push(' ');
        }
        space = false;
        match c {
            '\'' => {
                // A prefix such as E'…', N'…' or X'…' is part of the literal.
                if out.ends_with(['E', 'e', 'N', 'n', 'X', 'x', 'B', 'b']) {
                    let before = out[..out.len() - 1].chars().next_back();
                    if !before.is_some_and(is_identifier_char) {
                        out.pop();
                    }
                }
                i = skip_string(&chars, i);
                out.push_str("%s");
            }
            '"' | '`' => {
                // A quoted identifier: kept as written.
                let end = chars[i + 1..]
                    .iter()
                    .position(|&q| q == c)
                    .map_or(chars.len(), |p| i + 1 + p + 1);
                out.extend(&chars[i..end]);
                i = end;
            }
            c if c.is_ascii_digit() => {
                let previous = i.checked_sub(1).map(|p| chars[p]);
                if previous.is_some_and(|p| is_identifier_char(p) || matches!(p, '$' | ':' | '@')) {
                    // `t1`, `$1`, `:1`: part of a name or a placeholder.
                    out.push(c);
                    i += 1;
                } else {
                    i = skip_number(&chars, i);
                    out.push_str("%s");
                }
            }
            _ => {
                out.push(c);
                i += 1;
            }
        }
    }
    let out = out.trim_end_matches([';', ' ']);
    let out = IN_LIST.replace_all(out, "${1} (%s)");
    VALUES_LIST.replace_all(&out, "${1} (%s)").into_owned()
}

fn is_identifier_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// The index after the string literal starting at `start` (a `'`), with `''` and `\'`
/// escapes; the end of the text when it is not closed (a truncated statement).
fn skip_string(chars: &[char], start: usize) -> usize {
    let mut i = start + 1;
    while i < chars.len() {
        match chars[i] {
            '\\' => i += 2,
            '\'' if chars.get(i + 1) == Some(&'\'') => i += 2,
            '\'' => return i + 1,
            _ => i += 1,
        }
    }
    chars.len()
}

/// The index after the number starting at `start`: digits, a fraction, an exponent, or a hex
/// literal (`0x1F`).
fn skip_number(chars: &[char], start: usize) -> usize {
    let mut i = start;
    if chars[i] == '0' && matches!(chars.get(i + 1), Some('x' | 'X')) {
        i += 2;
        while i < chars.len() && chars[i].is_ascii_hexdigit() {
            i += 1;
        }
        return i;
    }
    while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == '.') {
        i += 1;
    }
    if i < chars.len() && matches!(chars[i], 'e' | 'E') {
        let mut j = i + 1;
        if j < chars.len() && matches!(chars[j], '+' | '-') {
            j += 1;
        }
        if j < chars.len() && chars[j].is_ascii_digit() {
            i = j;
            while i < chars.len() && chars[i].is_ascii_digit() {
                i += 1;
            }
        }
    }
    i
}

/// `GET user:42` → `GET *`: the command names the operation, the rest is data.
fn redis_command(description: &str) -> String {
    let mut words = description.split_whitespace();
    let command = words.next().unwrap_or_default().to_ascii_uppercase();
    if words.next().is_some() {
        format!("{command} *")
    } else {
        command
    }
}

/// `GET https://api.example.com/orders/77?expand=items` → `GET https://api.example.com/orders/*`.
fn normalize_http(description: &str) -> String {
    let (method, target) = match description.split_once(char::is_whitespace) {
        Some((method, rest))
            if !method.is_empty() && method.chars().all(|c| c.is_ascii_uppercase()) =>
        {
            (Some(method), rest.trim())
        }
        _ if description.chars().all(|c| c.is_ascii_uppercase()) => (Some(description), ""),
        _ => (None, description),
    };
    let target = normalize_url(target);
    match (method, target.is_empty()) {
        (Some(method), true) => method.to_owned(),
        (Some(method), false) => format!("{method} {target}"),
        (None, _) => target,
    }
}

/// Origin and path of a URL (absolute or just a path), ids in the path replaced, no query
/// string or fragment.
fn normalize_url(target: &str) -> String {
    if let Ok(url) = url::Url::parse(target) {
        if let Some(host) = url.host_str() {
            let port = url.port().map(|p| format!(":{p}")).unwrap_or_default();
            let path = normalize_path(url.path());
            let path = if path == "/" { "" } else { path.as_str() };
            return format!("{}://{host}{port}{path}", url.scheme());
        }
    }
    let path = target.split(['?', '#']).next().unwrap_or_default();
    normalize_path(path)
}

fn normalize_path(path: &str) -> String {
    path.split('/')
        .map(|segment| {
            if segment.is_empty() {
                String::new()
            } else {
                scrub_identifiers(segment)
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// Replaces numbers, UUIDs and hex ids (eight or more hex digits with at least one digit)
/// with `*`; words that happen to be hex (`cafe`, `added`) stay.
pub(crate) fn scrub_identifiers(text: &str) -> String {
    IDENTIFIER
        .replace_all(text, |caps: &Captures<'_>| {
            let word = &caps[0];
            if scrub_identifier(word) {
                "*".to_owned()
            } else {
                word.to_owned()
            }
        })
        .into_owned()
}

fn scrub_identifier(word: &str) -> bool {
    word.contains('-')
        || word.chars().all(|c| c.is_ascii_digit())
        || (word.len() >= 8 && word.chars().any(|c| c.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sql_literals_become_placeholders() {
        assert_eq!(
            normalize_sql("SELECT * FROM t WHERE a = 'x''y' AND b = 42 AND c = 1.5e3"),
            "SELECT * FROM t WHERE a = %s AND b = %s AND c = %s"
        );
    }

    #[test]
    fn sql_keeps_names_with_digits_and_placeholders() {
        assert_eq!(
            normalize_sql("SELECT t1.a FROM t1 WHERE id = $1 AND x = ? AND y = %s AND z = :name"),
            "SELECT t1.a FROM t1 WHERE id = $1 AND x = ? AND y = %s AND z = :name"
        );
    }

    #[test]
    fn sql_lists_collapse() {
        assert_eq!(
            normalize_sql("SELECT * FROM t WHERE id IN (1, 2,3) AND k in ($1, $2)"),
            "SELECT * FROM t WHERE id IN (%s) AND k in (%s)"
        );
        assert_eq!(
            normalize_sql("INSERT INTO t (a, b) VALUES (1, 'x'), (2, 'y');"),
            "INSERT INTO t (a, b) VALUES (%s)"
        );
    }

    #[test]
    fn sql_comments_and_whitespace_go() {
        assert_eq!(
            normalize_sql("SELECT /* hint */ a\n  FROM t -- trailing\n WHERE b = E'x'"),
            "SELECT a FROM t WHERE b = %s"
        );
    }

    #[test]
    fn sql_quoted_identifiers_stay() {
        assert_eq!(
            normalize_sql(r#"SELECT "t"."col1" FROM "t" WHERE "t"."id" = 7"#),
            r#"SELECT "t"."col1" FROM "t" WHERE "t"."id" = %s"#
        );
    }

    #[test]
    fn http_keeps_method_origin_and_path() {
        assert_eq!(
            span_group(
                "http.client",
                "GET https://api.example.com:8443/orders/77/items/3f2a9c1e8b7d6a5f?expand=1"
            ),
            "GET https://api.example.com:8443/orders/*/items/*"
        );
        assert_eq!(
            span_group(
                "http.client",
                "POST /users/123e4567-e89b-12d3-a456-426614174000/avatar"
            ),
            "POST /users/*/avatar"
        );
        assert_eq!(span_group("http.server", "GET"), "GET");
    }

    #[test]
    fn other_descriptions_lose_ids_only() {
        assert_eq!(
            span_group("function", "render product 42 of cafe deadbeef00"),
            "render product * of cafe *"
        );
        assert_eq!(span_group("db.redis", "GET user:42"), "GET *");
    }
}
