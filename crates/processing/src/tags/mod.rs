//! The tags Sentry derives when it saves an event, and the other per-event facts issues are
//! searched and counted by (the user, whether it was handled, its searchable text).
//!
//! Sentry's `event_manager` adds tags to the client's own in three layers, and which one wins a
//! name matters for search: attributes and interfaces (`level`, `environment`, `release` …,
//! `handled`/`mechanism` from the first exception, one tag per indexed context field such as
//! `browser`, `os.name`, `runtime`) replace a client tag of the same name (`set_tag`), while
//! plugin tags (`url`) only fill names the client left free. Contexts Relay would have derived
//! from the request's User-Agent (browser, OS, device) count as contexts. All of this reads a
//! normalized event.

mod user_agent;

use std::borrow::Cow;
use std::collections::BTreeMap;

use crate::json::{Json, Object};
use crate::normalize::{header_name, MAX_TAG_CHARS};

/// Longest searchable text kept (Sentry's `SENTRY_MAX_MESSAGE_LENGTH`).
const MAX_SEARCH_TEXT_CHARS: usize = 8192;

/// Tags of a normalized event: the client's own plus the derived ones, keys without the
/// `sentry:` prefix, one value per key, sorted by key.
pub fn derive_tags(event: &Json<'_>) -> Vec<(String, String)> {
    let mut tags: BTreeMap<String, String> = BTreeMap::new();

    // The client's own tags (already cleaned by normalization; the first of a key wins).
    if let Some(pairs) = event.get("tags").and_then(Json::as_array) {
        for pair in pairs {
            if let (Some(k), Some(v)) = (
                pair.get(0).and_then(Json::as_str),
                pair.get(1).and_then(Json::as_str),
            ) {
                set_tag(&mut tags, k, v, false);
            }
        }
    }

    // Plugin tags fill only what the client left free.
    if let Some(url) = request_url(event) {
        set_tag(&mut tags, "url", url, false);
    }

    // Attribute and interface tags replace the client's.
    for key in [
        "level",
        "logger",
        "environment",
        "release",
        "dist",
        "transaction",
    ] {
        if let Some(v) = str_field(event, key) {
            set_tag(&mut tags, key, v, true);
        }
    }
    if let Some(user) = user_tag(event) {
        set_tag(&mut tags, "user", &user, true);
    }
    for (key, value) in user_field_tags(event) {
        set_tag(&mut tags, key, &value, true);
    }
    if let Some(mechanism) = first_mechanism(event) {
        if let Some(ty) = mechanism.get("type").and_then(Json::as_str) {
            set_tag(&mut tags, "mechanism", ty, true);
        }
        if let Some(handled) = mechanism.get("handled").and_then(Json::as_bool) {
            set_tag(
                &mut tags,
                "handled",
                if handled { "yes" } else { "no" },
                true,
            );
        }
    }
    for (key, value) in context_tags(event) {
        set_tag(&mut tags, &key, &value, true);
    }

    tags.into_iter().collect()
}

/// Sets one tag unless it is invalid; `replace` says whether it overrides an existing value
/// (Sentry's `set_tag`) or only fills a free name (plugin tags).
fn set_tag(tags: &mut BTreeMap<String, String>, key: &str, value: &str, replace: bool) {
    let value = value.trim();
    if !is_valid_tag(key, value) {
        return;
    }
    if replace || !tags.contains_key(key) {
        tags.insert(key.to_owned(), value.to_owned());
    }
}

/// The user's fields Sentry's search knows (`user.email:`, `user.id:`, `user.username:`,
/// `user.ip:`), as search-only tags: the `user` tag holds just one of them, so an issue whose
/// users have ids would otherwise never match `user.email:`.
fn user_field_tags(event: &Json<'_>) -> Vec<(&'static str, String)> {
    let Some(user) = event.get("user").and_then(Json::as_object) else {
        return Vec::new();
    };
    [
        ("id", "user.id"),
        ("email", "user.email"),
        ("username", "user.username"),
        ("ip_address", "user.ip"),
    ]
    .into_iter()
    .filter_map(|(field, key)| {
        let value = match user.get(field)? {
            Json::String(s) => s.trim().to_owned(),
            Json::Number(n) => n.to_string(),
            _ => return None,
        };
        (!value.is_empty()).then_some((key, value))
    })
    .collect()
}

/// Tags derived only so issues can be searched by them (`user.email` …); the `user` tag already
/// shows who was affected, so tag lists and facets leave these out, as Sentry's do.
pub fn is_search_only_tag(key: &str) -> bool {
    key.starts_with("user.")
}

/// The `user` tag: `id:…`, else `email:…`, else `username:…`, else `ip:…` (Sentry's
/// `EventUser.tag_value`). Distinct values of it are an issue's "users affected".
pub fn user_tag(event: &Json<'_>) -> Option<String> {
    let user = event.get("user")?.as_object()?;
    [
        ("id", "id"),
        ("email", "email"),
        ("username", "username"),
        ("ip_address", "ip"),
    ]
    .into_iter()
    .find_map(|(field, prefix)| {
        let value = user.get(field)?.as_str()?.trim();
        (!value.is_empty()).then(|| format!("{prefix}:{value}"))
    })
}

/// Text to match free-text search against: the formatted message, then each exception's type
/// and value not already part of it (Sentry's `search_message`).
pub fn search_text(event: &Json<'_>) -> String {
    let mut text = event
        .get("logentry")
        .and_then(|l| l.get("formatted").or_else(|| l.get("message")))
        .and_then(Json::as_str)
        .unwrap_or_default()
        .to_owned();
    for exception in exception_values(event).iter().rev() {
        for key in ["type", "value"] {
            let Some(part) = exception.get(key).and_then(Json::as_str) else {
                continue;
            };
            if !part.is_empty() && !text.contains(part) {
                if !text.is_empty() {
                    text.push(' ');
                }
                text.push_str(part);
            }
        }
    }
    let text = text.trim();
    match text.char_indices().nth(MAX_SEARCH_TEXT_CHARS) {
        Some((cut, _)) => text[..cut].to_owned(),
        None => text.to_owned(),
    }
}

/// Whether any exception's mechanism says `handled: false` (Sentry's "unhandled" flag).
pub fn is_unhandled(event: &Json<'_>) -> bool {
    exception_values(event).iter().any(|e| {
        e.get("mechanism")
            .and_then(|m| m.get("handled"))
            .and_then(Json::as_bool)
            == Some(false)
    })
}

fn exception_values<'v, 'a>(event: &'v Json<'a>) -> &'v [Json<'a>] {
    event
        .get("exception")
        .and_then(|e| e.get("values"))
        .and_then(Json::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
}

/// Sentry derives `mechanism` and `handled` from the first exception in the list.
fn first_mechanism<'v, 'a>(event: &'v Json<'a>) -> Option<&'v Object<'a>> {
    exception_values(event)
        .first()?
        .get("mechanism")?
        .as_object()
}

fn str_field<'a>(event: &'a Json<'_>, key: &str) -> Option<&'a str> {
    event.get(key)?.as_str()
}

/// `request.url` without query or fragment (normalization already moved them out; this guards
/// events that were not normalized).
fn request_url<'a>(event: &'a Json<'_>) -> Option<&'a str> {
    let url = event.get("request")?.get("url")?.as_str()?;
    let end = url.find(['?', '#']).unwrap_or(url.len());
    Some(&url[..end])
}

/// How Sentry indexes a context type: tag suffix → fields it is made of (all required).
fn indexed_fields(ty: &str) -> &'static [(&'static str, &'static [&'static str])] {
    match ty {
        "browser" | "os" | "runtime" => &[("", &["name", "version"]), ("name", &["name"])],
        "device" => &[("", &["model"]), ("family", &["family"])],
        "gpu" => &[("name", &["name"]), ("vendor", &["vendor_name"])],
        "trace" => &[("", &["trace_id"])],
        _ => &[],
    }
}

/// Tags from contexts, named by the context's alias (`os.name`, sentry-cli's `rust.name`), plus
/// the browser, OS and device Relay would have read from the User-Agent when no context says.
fn context_tags(event: &Json<'_>) -> Vec<(String, String)> {
    let mut tags = Vec::new();
    let contexts = event.get("contexts").and_then(Json::as_object);
    let mut types_present: Vec<&str> = Vec::new();
    let mut aliases_present: Vec<&str> = Vec::new();
    for (alias, context) in contexts.into_iter().flatten() {
        let Some(context) = context.as_object() else {
            continue;
        };
        let ty = context.get("type").and_then(Json::as_str).unwrap_or(alias);
        types_present.push(ty);
        aliases_present.push(alias);
        for (suffix, fields) in indexed_fields(ty) {
            let parts: Option<Vec<Cow<'_, str>>> = fields
                .iter()
                .map(|f| context.get(f).and_then(scalar_text))
                .collect();
            let Some(parts) = parts else { continue };
            let key = if suffix.is_empty() {
                alias.to_owned()
            } else {
                format!("{alias}.{suffix}")
            };
            tags.push((key, parts.join(" ")));
        }
    }

    let Some(ua) = user_agent_header(event) else {
        return tags;
    };
    let info = user_agent::parse(ua);
    if let Some(browser) = info.browser.filter(|_| !types_present.contains(&"browser")) {
        if let Some(version) = &browser.version {
            tags.push(("browser".into(), format!("{} {version}", browser.name)));
        }
        tags.push(("browser.name".into(), browser.name));
    }
    if let Some(device) = info.device.filter(|_| !types_present.contains(&"device")) {
        tags.push(("device".into(), device.clone()));
        tags.push(("device.family".into(), device));
    }
    // A server SDK's own `os` context describes the server; the visitor's OS goes to
    // `client_os` then, as Relay files it.
    let platform = str_field(event, "platform").unwrap_or("other");
    let os_alias = if platform == "javascript" {
        "os"
    } else {
        "client_os"
    };
    if let Some(os) = info.os.filter(|_| !aliases_present.contains(&os_alias)) {
        if let Some(version) = &os.version {
            tags.push((os_alias.to_owned(), format!("{} {version}", os.name)));
        }
        tags.push((format!("{os_alias}.name"), os.name));
    }
    tags
}

/// A context field as tag text (`str()` of the value in Sentry's format strings); a string
/// stays borrowed.
fn scalar_text<'a>(value: &'a Json<'_>) -> Option<Cow<'a, str>> {
    match value {
        Json::String(s) => Some(Cow::Borrowed(s)),
        Json::Number(n) => Some(Cow::Owned(n.to_string())),
        Json::Bool(b) => Some(Cow::Borrowed(if *b { "True" } else { "False" })),
        _ => None,
    }
}

/// The request's `User-Agent`, from headers as pairs or (unnormalized) as an object.
fn user_agent_header<'a>(event: &'a Json<'_>) -> Option<&'a str> {
    let headers = event.get("request")?.get("headers")?;
    let is_ua = |name: &str| header_name(name).eq_ignore_ascii_case("User-Agent");
    match headers {
        Json::Array(pairs) => pairs
            .iter()
            .find(|p| p.get(0).and_then(Json::as_str).is_some_and(is_ua))
            .and_then(|p| p.get(1))
            .and_then(Json::as_str),
        Json::Object(map) => map
            .iter()
            .find(|(k, _)| is_ua(k))
            .and_then(|(_, v)| v.as_str()),
        _ => None,
    }
}

/// Sentry indexes tags with a non-empty key and a non-empty, one-line value of at most 200
/// characters; others are not stored.
fn is_valid_tag(key: &str, value: &str) -> bool {
    !key.is_empty()
        && !value.is_empty()
        && key.chars().count() <= MAX_TAG_CHARS
        && value.chars().count() <= MAX_TAG_CHARS
        && !value.contains(['\n', '\r'])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `serde_json::json!` as a [`Json`] tree.
    macro_rules! json {
        ($($t:tt)+) => {
            crate::json::Json::from(serde_json::json!($($t)+))
        };
    }

    fn tag_map(event: &Json<'_>) -> BTreeMap<String, String> {
        derive_tags(event).into_iter().collect()
    }

    #[test]
    fn attributes_become_tags() {
        let event = json!({
            "level": "error", "logger": "shop.billing", "environment": "production",
            "release": "shop@1.4.2", "dist": "7", "transaction": "/checkout/",
            "tags": [["customer_tier", "gold"], ["server_name", "web-1"]],
            "request": {"url": "http://127.0.0.1:39441/sentry-debug/"},
            "user": {"id": "42", "email": "jane@example.com"}
        });
        let tags = derive_tags(&event);
        let keys: Vec<&str> = tags.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            keys,
            [
                "customer_tier",
                "dist",
                "environment",
                "level",
                "logger",
                "release",
                "server_name",
                "transaction",
                "url",
                "user",
                "user.email",
                "user.id"
            ]
        );
        let tags: BTreeMap<_, _> = tags.into_iter().collect();
        assert_eq!(tags["user"], "id:42");
        assert_eq!(tags["url"], "http://127.0.0.1:39441/sentry-debug/");
    }

    #[test]
    fn derived_tags_replace_client_tags_but_plugins_do_not() {
        let event = json!({
            "level": "warning",
            "tags": [["level", "custom"], ["url", "mine"]],
            "request": {"url": "http://x/y?z=1"}
        });
        let tags = tag_map(&event);
        assert_eq!(tags["level"], "warning");
        assert_eq!(tags["url"], "mine");
    }

    #[test]
    fn mechanism_of_the_first_exception() {
        let event = json!({"exception": {"values": [
            {"type": "KeyError", "mechanism": {"type": "chained", "handled": true}},
            {"type": "ZeroDivisionError", "mechanism": {"type": "django", "handled": false}}
        ]}});
        let tags = tag_map(&event);
        assert_eq!(tags["mechanism"], "chained");
        assert_eq!(tags["handled"], "yes");
        assert!(is_unhandled(&event));
        assert!(!is_unhandled(
            &json!({"exception": {"values": [{"type": "E"}]}})
        ));
    }

    #[test]
    fn contexts_are_indexed_by_alias() {
        let event = json!({"contexts": {
            "runtime": {"type": "runtime", "name": "CPython", "version": "3.11.7"},
            "rust": {"type": "runtime", "name": "rustc", "version": "1.96.1"},
            "os": {"type": "os", "name": "Debian", "version": "12.11\n"},
            "device": {"type": "device", "arch": "x86_64", "family": "Desktop"},
            "trace": {"type": "trace", "trace_id": "fab9154464b5423482d28a59e9379429"}
        }});
        let tags = tag_map(&event);
        assert_eq!(tags["runtime"], "CPython 3.11.7");
        assert_eq!(tags["runtime.name"], "CPython");
        assert_eq!(tags["rust"], "rustc 1.96.1");
        assert_eq!(tags["os"], "Debian 12.11");
        assert_eq!(tags["os.name"], "Debian");
        assert_eq!(tags["device.family"], "Desktop");
        assert!(!tags.contains_key("device"));
        assert_eq!(tags["trace"], "fab9154464b5423482d28a59e9379429");
    }

    #[test]
    fn user_agent_fills_missing_contexts() {
        let ua = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/156.0.0.0 Safari/537.36";
        let browser =
            json!({"platform": "javascript", "request": {"headers": [["User-Agent", ua]]}});
        let tags = tag_map(&browser);
        assert_eq!(tags["browser"], "Chrome 156.0.0");
        assert_eq!(tags["browser.name"], "Chrome");
        assert_eq!(tags["os.name"], "Linux");
        assert!(!tags.contains_key("os"));

        let server = json!({
            "platform": "python",
            "request": {"headers": {"user-agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/130.0"}},
            "contexts": {"browser": {"type": "browser", "name": "Own"}}
        });
        let tags = tag_map(&server);
        assert_eq!(tags["browser.name"], "Own");
        assert_eq!(tags["client_os.name"], "Linux");
    }

    #[test]
    fn user_fields_are_search_only_tags_beside_the_user_tag() {
        let event = json!({"user": {"id": "7", "email": " a@b.example ", "ip_address": "1.2.3.4"}});
        let tags = tag_map(&event);
        assert_eq!(tags["user"], "id:7");
        assert_eq!(tags["user.id"], "7");
        assert_eq!(tags["user.email"], "a@b.example");
        assert_eq!(tags["user.ip"], "1.2.3.4");
        assert!(!tags.contains_key("user.username"));
        assert!(is_search_only_tag("user.email") && !is_search_only_tag("user"));
    }

    #[test]
    fn user_tag_prefers_id_then_email_username_ip() {
        assert_eq!(
            user_tag(&json!({"user": {"id": "7", "email": "a@b"}})).as_deref(),
            Some("id:7")
        );
        assert_eq!(
            user_tag(&json!({"user": {"email": "a@b", "username": "u"}})).as_deref(),
            Some("email:a@b")
        );
        assert_eq!(
            user_tag(&json!({"user": {"username": "u"}})).as_deref(),
            Some("username:u")
        );
        assert_eq!(
            user_tag(&json!({"user": {"ip_address": "1.2.3.4"}})).as_deref(),
            Some("ip:1.2.3.4")
        );
        assert_eq!(user_tag(&json!({"user": {}})), None);
        assert_eq!(user_tag(&json!({})), None);
    }

    #[test]
    fn search_text_joins_message_and_exceptions() {
        let event = json!({
            "logentry": {"formatted": "KeyError: 'missing'"},
            "exception": {"values": [{"type": "KeyError", "value": "'missing'"}, {"type": "ValueError", "value": "bad"}]}
        });
        assert_eq!(search_text(&event), "KeyError: 'missing' ValueError bad");
        assert_eq!(search_text(&json!({})), "");
    }

    #[test]
    fn invalid_tag_values_are_skipped() {
        let event = json!({"tags": [["a", "x".repeat(201)], ["b", "two\nlines"], ["c", "ok"]], "level": "info"});
        let tags = tag_map(&event);
        assert!(!tags.contains_key("a") && !tags.contains_key("b"));
        assert_eq!(tags["c"], "ok");
    }
}
