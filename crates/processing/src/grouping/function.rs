//! Function-name normalization for grouping.
//!
//! Native symbols carry argument lists, template arguments, return types and compiler hashes
//! that change with a rebuild but not with the bug (`std::panicking::catch_unwind::<isize, …>`,
//! `foo::bar::h1a2b3c4d5e6f7a8b`). Sentry's `trim_native_function_name` reduces them to the
//! bare path (`std::panicking::catch_unwind::<T>`); this module does the same.

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::LazyLock;

use regex::Regex;

use super::input::Family;

static CPP_TRAILER: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(\bconst\b|&)$").expect("valid regex"));
static LAMBDA: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?:'lambda\d*'|<lambda_[a-f0-9]+>|<lambda_\d+>|lambda_[a-f0-9]+|\$_\d+)")
        .expect("valid regex")
});
static RUST_BLANKET: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^([A-Z] as )").expect("valid regex"));
static RUST_HASH: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"::h[a-z0-9]{16}$").expect("valid regex"));
static WINDECL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(?:__cdecl|__stdcall|__fastcall)\s+(.*)$").expect("valid regex")
});

/// The function name grouping uses for a frame's `function` on `platform` (Sentry's
/// `trim_function_name`): native names are trimmed, others are kept.
pub fn trim_function_name(function: &str, platform: Option<&str>) -> String {
    if Family::of(platform) == Family::Native {
        trim_native_function_name_remembered(function)
    } else {
        function.to_owned()
    }
}

/// Trimmed names this thread has already worked out. A native stack trace's symbols come back
/// in event after event of an application, and trimming one takes several passes and regex
/// searches over it; bounded like the rules' match cache, starting over when full.
#[derive(Default)]
struct TrimCache {
    trimmed: HashMap<Box<str>, Box<str>>,
}

/// Names [`TrimCache`] holds before it starts over.
const TRIM_CACHE_ENTRIES: usize = 4096;

thread_local! {
    static TRIM_CACHE: RefCell<TrimCache> = RefCell::default();
}

/// [`trim_native_function_name`], remembered per thread.
fn trim_native_function_name_remembered(function: &str) -> String {
    TRIM_CACHE.with(|cache| {
        let mut cache = cache.borrow_mut();
        if let Some(trimmed) = cache.trimmed.get(function) {
            return trimmed.to_string();
        }
        let trimmed = trim_native_function_name(function);
        if cache.trimmed.len() >= TRIM_CACHE_ENTRIES {
            cache.trimmed.clear();
        }
        cache
            .trimmed
            .insert(function.into(), trimmed.as_str().into());
        trimmed
    })
}

/// Reduces a demangled native symbol to the function's path.
///
/// Native stack traces run to dozens of frames, so each step below is skipped (and allocates
/// nothing) when the symbol has nothing for it to do.
pub fn trim_native_function_name(function: &str) -> String {
    if function == "<redacted>" || function == "<unknown>" {
        return function.to_owned();
    }
    let trimmed = function.trim();
    // Objective-C selectors are already what we want.
    if trimmed.starts_with('[') || trimmed.starts_with("+[") || trimmed.starts_with("-[") {
        return trimmed.to_owned();
    }
    if is_plain_path(trimmed) {
        return strip_rust_hash(trimmed.to_owned());
    }
    let mut f = trimmed.to_owned();
    while f.ends_with('&') || f.ends_with("const") {
        let Some(m) = CPP_TRAILER.find(&f) else { break };
        let end = f[..m.start()].trim_end().len();
        f.truncate(end);
    }
    // Operators contain the delimiters we balance on; hide them while we work.
    if f.contains("operator") {
        replace_in_place(&mut f, "operator<<", "operator⟨⟨");
        replace_in_place(&mut f, "operator<", "operator⟨");
        replace_in_place(&mut f, "operator()", "operator◯");
        replace_in_place(&mut f, "operator->", "operator⟿");
    }
    replace_in_place(&mut f, " -> ", " ⟿ ");
    replace_in_place(&mut f, "`anonymous namespace'", "〔anonymousnamespace〕");
    if let Cow::Owned(replaced) = LAMBDA.replace_all(&f, "lambda") {
        f = replaced;
    }

    if f.contains('(') {
        f = replace_enclosed(&f, '(', ')', &mut |inner, _| {
            if inner == "anonymous namespace" || inner == "operator" {
                format!("({inner})")
            } else {
                String::new()
            }
        });
    }
    if f.contains('<') {
        f = replace_enclosed(&f, '<', '>', &mut process_generics);
    }

    let mut tokens = split_func_tokens(&f);
    if tokens.len() > 1 && tokens.last().map(String::as_str) == Some("<T>") {
        tokens.pop();
        if let Some(last) = tokens.last_mut() {
            last.push_str(" <T>");
        }
    }
    // The name is left of a `->` return marker (Swift), else the last token.
    let at = match tokens.iter().position(|t| t == "⟿") {
        Some(i) if i > 0 => i - 1,
        _ => tokens.len().saturating_sub(1),
    };
    let mut out = match tokens.into_iter().nth(at).filter(|t| !t.is_empty()) {
        Some(mut t) => {
            if !t.is_ascii() {
                replace_in_place(&mut t, "⟨", "<");
                replace_in_place(&mut t, "◯", "()");
                replace_in_place(&mut t, "⟿", "->");
                replace_in_place(&mut t, "〔anonymousnamespace〕", "`anonymous namespace'");
            }
            t
        }
        None => function.to_owned(),
    };
    out = strip_rust_hash(out);
    match WINDECL.replace(&out, "$1") {
        Cow::Owned(replaced) => replaced,
        Cow::Borrowed(_) => out,
    }
}

/// A bare path such as `std::rt::lang_start_internal::{closure#0}` or `__libc_start_main`:
/// printable ASCII without spaces, brackets, references, quotes, lambda or `const` markers, so
/// that every step of [`trim_native_function_name`] but the hash removal leaves it as it is.
fn is_plain_path(f: &str) -> bool {
    !f.is_empty()
        && f.bytes().all(|b| {
            b.is_ascii_graphic()
                && !matches!(
                    b,
                    b'(' | b')' | b'<' | b'>' | b'[' | b']' | b'&' | b'`' | b'$' | b'\''
                )
        })
        && !f.contains("lambda")
        && !f.ends_with("const")
}

/// Drops Rust's `::h0123456789abcdef` symbol hash.
fn strip_rust_hash(f: String) -> String {
    match RUST_HASH.replace(&f, "") {
        Cow::Owned(replaced) => replaced,
        Cow::Borrowed(_) => f,
    }
}

/// `s.replace(from, to)`, without allocating when `from` does not occur.
fn replace_in_place(s: &mut String, from: &str, to: &str) {
    if s.contains(from) {
        *s = s.replace(from, to);
    }
}

/// Generic arguments become `<T>`, except Rust's leading `<Type as Trait>` which becomes the
/// trait path.
fn process_generics(inner: &str, start: usize) -> String {
    if inner == "lambda" || LAMBDA.is_match(inner) {
        return format!("<{inner}>");
    }
    if start > 0 {
        return "<T>".to_owned();
    }
    let inner = RUST_BLANKET.replace(inner, "");
    let inner = replace_enclosed(&inner, '<', '>', &mut process_generics);
    inner.split(" as ").next().unwrap_or_default().to_owned()
}

/// Replaces every outermost `open … close` span with `replace(inner, index_of_open)`.
fn replace_enclosed(
    s: &str,
    open: char,
    close: char,
    replace: &mut dyn FnMut(&str, usize) -> String,
) -> String {
    if !s.contains(open) {
        return s.to_owned();
    }
    let mut out = String::with_capacity(s.len());
    let mut depth = 0usize;
    let mut start = 0usize;
    let mut start_char = 0usize;
    for (char_idx, (byte_idx, c)) in s.char_indices().enumerate() {
        if c == open {
            if depth == 0 {
                start = byte_idx + c.len_utf8();
                start_char = char_idx;
            }
            depth += 1;
        } else if c == close && depth > 0 {
            depth -= 1;
            if depth == 0 {
                out.push_str(&replace(&s[start..byte_idx], start_char));
            }
        } else if depth == 0 {
            out.push(c);
        }
    }
    out
}

/// Splits on spaces that are not inside brackets.
fn split_func_tokens(s: &str) -> Vec<String> {
    let mut tokens = Vec::new();
    let mut depth = 0usize;
    let mut start = 0usize;
    for (i, c) in s.char_indices() {
        match c {
            '(' | '<' | '[' => depth += 1,
            ')' | '>' | ']' => depth = depth.saturating_sub(1),
            ' ' if depth == 0 => {
                tokens.push(s[start..i].to_owned());
                start = i + 1;
            }
            _ => {}
        }
    }
    tokens.push(s[start..].to_owned());
    tokens
}

#[cfg(test)]
mod tests {
    use super::trim_native_function_name as trim;

    #[test]
    fn cpp_signatures() {
        assert_eq!(trim("int main(int, char**)"), "main");
        assert_eq!(
            trim("void foo::bar<int>::baz(std::string const&) const"),
            "foo::bar<T>::baz"
        );
        assert_eq!(trim("operator<<(std::ostream&, Foo const&)"), "operator<<");
    }

    #[test]
    fn rust_symbols() {
        assert_eq!(
            trim(
                "std::panicking::catch_unwind::<isize, std::rt::lang_start_internal::{closure#0}>"
            ),
            "std::panicking::catch_unwind::<T>"
        );
        assert_eq!(
            trim("<F as core::ops::function::FnOnce<()>>::call_once"),
            "core::ops::function::FnOnce<T>::call_once"
        );
        assert_eq!(trim("rustapp::main::h0123456789abcdef"), "rustapp::main");
        assert_eq!(trim("<unknown>"), "<unknown>");
    }

    #[test]
    fn objc_is_kept() {
        assert_eq!(
            trim("-[UIApplication sendEvent:]"),
            "-[UIApplication sendEvent:]"
        );
    }
}
