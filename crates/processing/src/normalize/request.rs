//! The HTTP request an event happened in.
//!
//! SDKs spell the same request several ways: headers as an object or as pairs, in any case;
//! query strings and cookies as raw strings, objects or pairs; the query inside the URL or
//! beside it. Sentry stores one form (Relay's `Request` schema and `normalize_request`):
//! headers, query and cookies as `[name, value]` pairs, header names in `Title-Case`, the URL
//! without query and fragment (they go to `query_string` and `fragment` unless those were sent),
//! and a string body parsed when it is JSON or a form.

use std::sync::LazyLock;

use regex::Regex;
use std::borrow::Cow;

use crate::json::{Json, Object, Str};

use super::errors::EventErrors;
use super::limits;
use super::shape::{drop_unless, take_object};
use super::value::{join, json_lenient_string, lenient_string, remove_nulls};

static METHOD: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^[A-Z\-_]{3,32}$").expect("static regex for HTTP methods is valid")
});

/// Normalizes `request`.
pub(crate) fn normalize_request(event: &mut Object<'_>, errors: &mut EventErrors) {
    let Some(mut request) = take_object(event, "request", "request", errors) else {
        return;
    };
    remove_nulls(&mut request);

    for key in [
        "url",
        "fragment",
        "protocol",
        "api_target",
        "inferred_content_type",
    ] {
        drop_unless(&mut request, key, "request", errors, Json::is_string);
    }
    normalize_method(&mut request, errors);
    normalize_pairs(&mut request, "headers", header_key, errors);
    normalize_query(&mut request, errors);
    normalize_cookies(&mut request, errors);
    normalize_url(&mut request);
    normalize_data(&mut request);
    match request.get("env") {
        Some(Json::Object(_)) | None => {}
        Some(_) => {
            let v = request.shift_remove("env");
            errors.invalid("request.env", v.as_ref());
        }
    }

    limits::trim_field(&mut request, "url", 256, 40);
    limits::trim_field(&mut request, "fragment", 1024, 100);
    for (key, bag) in [
        ("data", limits::LARGE),
        ("headers", limits::LARGE),
        ("env", limits::LARGE),
        ("cookies", limits::MEDIUM),
        ("query_string", limits::SMALL),
    ] {
        if let Some(value) = request.get_mut(key) {
            if !limits::trim_databag(value, bag) {
                request.shift_remove(key);
            }
        }
    }
    // Empty collections say nothing (Relay skips them when serializing).
    for key in ["headers", "cookies", "query_string", "env", "fragment"] {
        if request.get(key).is_some_and(super::value::is_empty) {
            request.shift_remove(key);
        }
    }
    if !request.is_empty() {
        event.insert("request", Json::Object(request));
    }
}

fn normalize_method(request: &mut Object<'_>, errors: &mut EventErrors) {
    let Some(raw) = request.get("method") else {
        return;
    };
    let method = raw.as_str().map(str::to_ascii_uppercase);
    match method {
        Some(m) if METHOD.is_match(&m) => {
            request.insert("method", Json::from(m));
        }
        _ => {
            let v = request.shift_remove("method");
            errors.invalid("request.method", v.as_ref());
        }
    }
}

/// `content-type` → `Content-Type`: the first letter and every letter after a dash upper-cased,
/// the rest left alone (Relay's `HeaderName`).
pub(crate) fn header_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut upper = true;
    for c in name.chars() {
        if upper {
            out.extend(c.to_uppercase());
        } else {
            out.push(c);
        }
        upper = c == '-';
    }
    out
}

/// [`header_name`] of a name of the tree, copied only when its case changes.
fn header_key(name: Str<'_>) -> Str<'_> {
    let mut upper = true;
    let canonical = name.chars().all(|c| {
        let fits = !upper || c.to_uppercase().eq(std::iter::once(c));
        upper = c == '-';
        fits
    });
    if canonical {
        name
    } else {
        Cow::Owned(header_name(&name))
    }
}

/// Reads an object or `[name, value]` list into pairs of strings under `key`. Objects are sorted
/// by name, lists keep their order (Relay's `Headers`); multi-valued entries are joined by `,`.
fn normalize_pairs<'a>(
    request: &mut Object<'a>,
    key: &'static str,
    name: fn(Str<'a>) -> Str<'a>,
    errors: &mut EventErrors,
) {
    let Some(raw) = request.shift_remove(key) else {
        return;
    };
    let path = join("request", key);
    let pairs = match raw {
        Json::Object(map) => {
            let mut pairs: Vec<(Str<'a>, Str<'a>)> = map
                .into_iter()
                .filter_map(|(k, v)| pair_value(&v).map(|v| (name(k), v)))
                .collect();
            pairs.sort_by(|a, b| a.0.cmp(&b.0));
            pairs
        }
        Json::Array(items) => items
            .into_iter()
            .filter_map(|item| match item {
                Json::Array(kv) if kv.len() == 2 => {
                    let k = lenient_string(&kv[0])?;
                    Some((name(k), pair_value(&kv[1])?))
                }
                _ => None,
            })
            .collect(),
        other => {
            errors.discard(&path, other);
            return;
        }
    };
    request.insert(key, pairs_value(pairs));
}

/// A header or cookie value: text as it is, a list joined by commas, other scalars as text.
fn pair_value<'a>(value: &Json<'a>) -> Option<Str<'a>> {
    match value {
        Json::Array(parts) => Some(
            parts
                .iter()
                .filter_map(lenient_string)
                .collect::<Vec<_>>()
                .join(",")
                .into(),
        ),
        other => lenient_string(other),
    }
}

fn pairs_value<'a>(pairs: Vec<(Str<'a>, Str<'a>)>) -> Json<'a> {
    Json::Array(
        pairs
            .into_iter()
            .map(|(k, v)| Json::Array(vec![Json::String(k), Json::String(v)]))
            .collect(),
    )
}

/// `query_string`: a raw string (with or without `?`) is decoded into pairs; objects and pairs
/// keep their values, non-string values as JSON text.
fn normalize_query(request: &mut Object<'_>, errors: &mut EventErrors) {
    let Some(raw) = request.shift_remove("query_string") else {
        return;
    };
    let pairs = match raw {
        Json::String(s) => parse_query(&s),
        Json::Object(map) => map
            .into_iter()
            .filter_map(|(k, v)| json_lenient_string(&v).map(|v| (k, v)))
            .collect(),
        Json::Array(items) => items
            .iter()
            .filter_map(|item| match item {
                Json::Array(kv) if kv.len() == 2 => {
                    Some((lenient_string(&kv[0])?, json_lenient_string(&kv[1])?))
                }
                _ => None,
            })
            .collect(),
        other => {
            errors.discard("request.query_string", other);
            return;
        }
    };
    request.insert("query_string", pairs_value(pairs));
}

fn parse_query(s: &str) -> Vec<(Str<'static>, Str<'static>)> {
    let s = s.strip_prefix('?').unwrap_or(s);
    url::form_urlencoded::parse(s.as_bytes())
        .map(|(k, v)| (Cow::Owned(k.into_owned()), Cow::Owned(v.into_owned())))
        .collect()
}

/// `cookies` as pairs; a raw `a=b; c=d` string is split. A `Cookie` header says the same thing
/// and is moved into `cookies` (or dropped when cookies were given), as Relay does.
fn normalize_cookies(request: &mut Object<'_>, errors: &mut EventErrors) {
    if let Some(Json::String(raw)) = request.get("cookies") {
        let pairs = parse_cookies(raw);
        request.insert("cookies", pairs_value(pairs));
    } else {
        normalize_pairs(request, "cookies", std::convert::identity, errors);
    }

    let Some(Json::Array(headers)) = request.get_mut("headers") else {
        return;
    };
    let position = headers
        .iter()
        .position(|h| h.get(0).and_then(Json::as_str) == Some("Cookie"));
    let Some(position) = position else { return };
    let header = headers.remove(position);
    let has_cookies = request
        .get("cookies")
        .is_some_and(|c| !super::value::is_empty(c));
    if !has_cookies {
        if let Some(raw) = header.get(1).and_then(Json::as_str) {
            request.insert("cookies", pairs_value(parse_cookies(raw)));
        }
    }
}

fn parse_cookies(raw: &str) -> Vec<(Str<'static>, Str<'static>)> {
    raw.split(';')
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(|c| match c.split_once('=') {
            Some((k, v)) => (
                Cow::Owned(k.trim().to_owned()),
                Cow::Owned(v.trim().to_owned()),
            ),
            None => (Cow::Owned(c.to_owned()), Cow::Borrowed("")),
        })
        .collect()
}

/// Moves `?query` and `#fragment` out of `url` into their fields (the fields win when both are
/// given), the way Relay's `normalize_url` does, with a fallback for URLs that do not parse.
fn normalize_url<'a>(request: &mut Object<'a>) {
    let Some(Json::String(url)) = request.get("url") else {
        return;
    };
    let mut url = url.to_string();
    // Old JavaScript SDKs ended truncated URLs with `…`; canonical URLs are ASCII.
    if let Some(stripped) = url.strip_suffix('\u{2026}') {
        url = format!("{stripped}...");
    }
    let has_query = request
        .get("query_string")
        .is_some_and(|q| !super::value::is_empty(q));
    let has_fragment = request
        .get("fragment")
        .is_some_and(|f| !super::value::is_empty(f));

    match url::Url::parse(&url) {
        Ok(mut parsed) => {
            if !has_query {
                let pairs: Vec<(Str<'a>, Str<'a>)> = parsed
                    .query_pairs()
                    .map(|(k, v)| (Cow::Owned(k.into_owned()), Cow::Owned(v.into_owned())))
                    .collect();
                if !pairs.is_empty() {
                    request.insert("query_string", pairs_value(pairs));
                }
            }
            if !has_fragment {
                if let Some(fragment) = parsed.fragment().filter(|f| !f.is_empty()) {
                    request.insert("fragment", Json::from(fragment.to_owned()));
                }
            }
            parsed.set_query(None);
            parsed.set_fragment(None);
            url = parsed.into();
        }
        Err(_) => {
            if let Some(index) = url.find('#') {
                let fragment = url[index + 1..].to_owned();
                if !fragment.is_empty() && !has_fragment {
                    request.insert("fragment", Json::from(fragment));
                }
                url.truncate(index);
            }
            if let Some(index) = url.find('?') {
                let pairs = parse_query(&url[index + 1..]);
                if !pairs.is_empty() && !has_query {
                    request.insert("query_string", pairs_value(pairs));
                }
                url.truncate(index);
            }
        }
    }
    request.insert("url", Json::from(url));
}

/// A string body that is JSON or a form is stored parsed, and `inferred_content_type` says
/// which; otherwise the `Content-Type` header (without parameters) is the best guess.
fn normalize_data(request: &mut Object<'_>) {
    // The body is taken out to be parsed, so what it parses to borrows from the payload too.
    let parsed = match request.get_mut("data") {
        Some(Json::String(slot)) => match parse_body(std::mem::take(slot)) {
            Ok(parsed) => Some(parsed),
            Err(text) => {
                *slot = text;
                None
            }
        },
        _ => None,
    };
    let content_type = match parsed {
        Some((content_type, data)) => {
            request.insert("data", data);
            Some(content_type.to_owned())
        }
        None => request
            .get("headers")
            .and_then(Json::as_array)
            .and_then(|headers| {
                headers
                    .iter()
                    .find(|h| h.get(0).and_then(Json::as_str) == Some("Content-Type"))
            })
            .and_then(|h| h.get(1))
            .and_then(Json::as_str)
            .map(|v| v.split(';').next().unwrap_or(v).trim().to_owned())
            .filter(|v| !v.is_empty()),
    };
    match content_type {
        Some(ct) => {
            request.insert("inferred_content_type", Json::from(ct));
        }
        None => {
            request.shift_remove("inferred_content_type");
        }
    }
}

/// The body parsed as JSON or as a form, or the text back when it is neither.
fn parse_body(text: Str<'_>) -> Result<(&'static str, Json<'_>), Str<'_>> {
    match text {
        Cow::Borrowed(raw) => parse_body_text(raw).ok_or(text),
        Cow::Owned(ref raw) => match parse_body_text(raw).map(|(ct, v)| (ct, v.into_owned())) {
            Some(parsed) => Ok(parsed),
            None => Err(text),
        },
    }
}

fn parse_body_text(raw: &str) -> Option<(&'static str, Json<'_>)> {
    if let Ok(value) = Json::parse_str(raw) {
        return Some(("application/json", value));
    }
    // Relay's guards against reading any word as a one-field form.
    if !raw.is_ascii() || raw.starts_with("<?xml") || raw.starts_with('{') || raw.starts_with('[') {
        return None;
    }
    let pairs = parse_query(raw);
    let plausible = pairs.len() > 1
        || pairs
            .first()
            .is_some_and(|(_, v)| !v.is_empty() && v != "=");
    if !plausible {
        return None;
    }
    let form: Object<'_> = pairs
        .into_iter()
        .map(|(k, v)| (k, Json::String(v)))
        .collect();
    Some(("application/x-www-form-urlencoded", Json::Object(form)))
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use super::*;
    use crate::normalize::errors::run_step_on_field;

    fn run(v: Value) -> (Value, usize) {
        run_step_on_field("request", v, normalize_request)
    }

    #[test]
    fn query_and_fragment_leave_the_url() {
        let (r, _) =
            run(json!({"url": "http://example.com/path?some=thing&a=%2F#else", "method": "get"}));
        assert_eq!(
            r,
            json!({
                "url": "http://example.com/path",
                "method": "GET",
                "query_string": [["some", "thing"], ["a", "/"]],
                "fragment": "else"
            })
        );
    }

    #[test]
    fn given_query_wins_over_the_url() {
        let (r, _) = run(
            json!({"url": "http://127.0.0.1:35939/orders/77?expand=items", "query_string": "expand=items&x"}),
        );
        assert_eq!(r["url"], json!("http://127.0.0.1:35939/orders/77"));
        assert_eq!(r["query_string"], json!([["expand", "items"], ["x", ""]]));
    }

    #[test]
    fn unparseable_urls_are_split_by_hand() {
        let (r, _) = run(json!({"url": "/relative/path?q=1#frag"}));
        assert_eq!(
            r,
            json!({"url": "/relative/path", "query_string": [["q", "1"]], "fragment": "frag"})
        );
    }

    #[test]
    fn headers_become_sorted_title_case_pairs() {
        let (r, _) =
            run(json!({"headers": {"user-agent": "UA", "accept": ["a", "b"], "X-Sentry": "7"}}));
        assert_eq!(
            r["headers"],
            json!([["Accept", "a,b"], ["User-Agent", "UA"], ["X-Sentry", "7"]])
        );
        let (r, _) = run(json!({"headers": [["b", "1"], ["a", "2"]]}));
        assert_eq!(r["headers"], json!([["B", "1"], ["A", "2"]]));
    }

    #[test]
    fn cookie_header_moves_to_cookies() {
        let (r, _) = run(json!({"headers": {"cookie": "a=b; c=d", "host": "x"}}));
        assert_eq!(
            r,
            json!({"headers": [["Host", "x"]], "cookies": [["a", "b"], ["c", "d"]]})
        );
        let (r, _) = run(json!({"headers": {"Cookie": "a=b"}, "cookies": {"foo": "bar"}}));
        assert_eq!(r, json!({"cookies": [["foo", "bar"]]}));
        let (r, _) = run(json!({"cookies": {}}));
        assert_eq!(r, Value::Null);
    }

    #[test]
    fn bodies_are_parsed() {
        let (r, _) = run(json!({"data": "{\"foo\":\"bar\"}"}));
        assert_eq!(
            r,
            json!({"data": {"foo": "bar"}, "inferred_content_type": "application/json"})
        );
        let (r, _) = run(json!({"data": "a=1&b=2"}));
        assert_eq!(
            r["inferred_content_type"],
            json!("application/x-www-form-urlencoded")
        );
        let (r, _) =
            run(json!({"data": "hello", "headers": {"content-type": "text/plain; charset=utf-8"}}));
        assert_eq!(r["data"], json!("hello"));
        assert_eq!(r["inferred_content_type"], json!("text/plain"));
    }

    #[test]
    fn garbage_is_noted_not_fatal() {
        let (r, errors) =
            run(json!({"method": "!!!!", "headers": 5, "url": 7, "query_string": true}));
        assert_eq!(r, Value::Null);
        assert_eq!(errors, 4);
        let (r, errors) = run(json!("http://x"));
        assert_eq!((r, errors), (Value::Null, 1));
    }

    #[test]
    fn header_names_keep_inner_case() {
        assert_eq!(header_name("x-forwarded-for"), "X-Forwarded-For");
        assert_eq!(header_name("WWW-authenticate"), "WWW-Authenticate");
        assert_eq!(header_name("-other-"), "-Other-");
    }
}
