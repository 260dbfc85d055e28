//! The walk over the event: which fields Relay's event schema lets scrubbing touch (its `pii`
//! field attributes), and which rules each value gets.
//!
//! Relay scrubs a value when its field is `pii = "true"` and a selector of the configuration
//! matches its path, or `pii = "maybe"` and a selector naming the key matches. With the
//! selectors Sentry's settings produce, that is: every string, number, array and object under
//! a `pii = "true"` field (extra, frame vars, request data, …), except the exclusions; plus the
//! explicit paths (IP fields, `$logentry.formatted`, the cookie selectors), which also reach
//! `maybe` fields (tags, the known contexts). `pii = "false"` fields are never entered.
//! Selectors match paths from the end (`*.cookies.sessionid` matches `request.cookies.sessionid`
//! and `extra.x.cookies.sessionid`), keys case-insensitively; a `[key, value]` pair's value
//! sits at the path of its key.

use std::borrow::Cow;

use crate::json::{Json, Object};

use super::config::Applications;
use super::meta::{MetaTree, Path};
use super::redact::{Redactor, RemarkType};
use super::rules::{self, Replace, FILTERED};

/// How a struct field is scrubbed.
#[derive(Clone, Copy)]
pub(super) enum Field {
    /// `pii = "false"` / `"maybe"`: never touched.
    Skip,
    /// `pii = "true"`: the value and everything in it.
    Data,
    /// `pii = "maybe"`: only explicit selectors (see [`Spot::maybe`]).
    Maybe,
    /// `pii = "true"` and a known IP field (`@anything:remove` with IP scrubbing).
    IpData,
    /// `request.headers`: data, but `user-agent` is excluded.
    Headers,
    /// `contexts.response.headers`: data (the names normalized, as for request headers).
    ResponseHeaders,
    /// `request.env`: data, and `REMOTE_ADDR` is an IP field.
    Env,
    /// `logentry.formatted`: only the `$logentry.formatted` replace rules.
    Formatted,
    /// A struct of this kind.
    Struct(Kind),
    /// An array of structs of this kind.
    Each(Kind),
    /// `{"values": [struct, …]}`.
    Values(Kind),
    /// The event's contexts.
    Contexts,
}

/// The structs of Relay's event schema whose fields differ in `pii`.
#[derive(Clone, Copy)]
pub(super) enum Kind {
    Event,
    User,
    Geo,
    Request,
    LogEntry,
    Sdk,
    Breadcrumb,
    Exception,
    Thread,
    Stacktrace,
    Frame,
    Mechanism,
    Csp,
    Template,
    Span,
    /// A struct whose fields are all `pii = "true"` (hpkp, unknown contexts, …).
    AllData,
    /// A context whose fields are all `pii = "maybe"` (os, device, …).
    MaybeData,
    /// A context whose fields are all `pii = "false"` (replay, feedback, …).
    NoData,
    TraceContext,
    ResponseContext,
}

/// The event fields Relay knows that are never scrubbed; any other unknown field is `other`,
/// which is `pii = "true"`.
const EVENT_SKIP: &[&str] = &[
    "_meta",
    "event_id",
    "level",
    "version",
    "type",
    "fingerprint",
    "culprit",
    "transaction",
    "transaction_info",
    "time_spent",
    "logger",
    "modules",
    "platform",
    "timestamp",
    "start_timestamp",
    "received",
    "release",
    "dist",
    "environment",
    "site",
    "tags",
    "debug_meta",
    "ingest_path",
    "errors",
    "key_id",
    "project",
    "grouping_config",
    "checksum",
    "measurements",
    "breakdowns",
    "scraping_attempts",
    "_metrics",
    "_dsc",
    "_performance_issues_spans",
];

#[inline(always)]
pub(super) fn field(kind: Kind, key: &str) -> Field {
    match kind {
        Kind::Event => match key {
            "logentry" => Field::Struct(Kind::LogEntry),
            "user" => Field::Struct(Kind::User),
            "request" => Field::Struct(Kind::Request),
            "contexts" => Field::Contexts,
            "breadcrumbs" => Field::Values(Kind::Breadcrumb),
            "exception" => Field::Values(Kind::Exception),
            "threads" => Field::Values(Kind::Thread),
            "stacktrace" => Field::Struct(Kind::Stacktrace),
            "sdk" => Field::Struct(Kind::Sdk),
            "csp" => Field::Struct(Kind::Csp),
            // Objects of `pii = "true"` values, themselves included.
            "hpkp" | "expectct" | "expectstaple" => Field::Data,
            "template" => Field::Struct(Kind::Template),
            "spans" => Field::Each(Kind::Span),
            "tags" => Field::Maybe,
            _ if EVENT_SKIP.contains(&key) => Field::Skip,
            _ => Field::Data,
        },
        Kind::User => match key {
            "segment" => Field::Skip,
            "ip_address" => Field::IpData,
            "geo" => Field::Struct(Kind::Geo),
            _ => Field::Data,
        },
        // A geo's unknown fields are not `pii = "true"`, unlike a user's.
        Kind::Geo => match key {
            "country_code" | "city" | "subdivision" | "region" => Field::Data,
            _ => Field::Skip,
        },
        Kind::Request => match key {
            "url"
            | "method"
            | "inferred_content_type"
            | "api_target"
            | "protocol"
            | "body_size" => Field::Skip,
            "headers" => Field::Headers,
            "env" => Field::Env,
            _ => Field::Data,
        },
        Kind::LogEntry => match key {
            "message" => Field::Skip,
            "formatted" => Field::Formatted,
            _ => Field::Data,
        },
        Kind::Sdk => match key {
            "client_ip" => Field::IpData,
            _ => Field::Skip,
        },
        Kind::Breadcrumb => match key {
            "message" | "data" => Field::Data,
            _ => Field::Skip,
        },
        Kind::Exception => match key {
            "stacktrace" | "raw_stacktrace" => Field::Struct(Kind::Stacktrace),
            "mechanism" => Field::Struct(Kind::Mechanism),
            _ => Field::Skip,
        },
        Kind::Thread => match key {
            "stacktrace" | "raw_stacktrace" => Field::Struct(Kind::Stacktrace),
            _ => Field::Skip,
        },
        Kind::Stacktrace => match key {
            "frames" => Field::Each(Kind::Frame),
            _ => Field::Skip,
        },
        Kind::Frame => match key {
            "vars" => Field::Data,
            _ => Field::Skip,
        },
        Kind::Mechanism => match key {
            "description" | "data" => Field::Data,
            _ => Field::Skip,
        },
        Kind::Csp => match key {
            "blocked_uri" | "document_uri" | "referrer" => Field::Data,
            _ => Field::Skip,
        },
        Kind::Template => match key {
            "filename" | "abs_path" => Field::Data,
            _ => Field::Skip,
        },
        Kind::Span => match key {
            "data" => Field::Data,
            "sentry_tags" => Field::Skip,
            _ => Field::Maybe,
        },
        Kind::TraceContext => match key {
            "data" => Field::Data,
            _ => Field::Maybe,
        },
        Kind::ResponseContext => match key {
            "headers" => Field::ResponseHeaders,
            "cookies" | "data" => Field::Data,
            _ => Field::Maybe,
        },
        Kind::AllData => Field::Data,
        Kind::MaybeData => Field::Maybe,
        Kind::NoData => Field::Skip,
    }
}

/// The kind of a context, by its `type`.
pub(super) fn context_kind(ty: &str) -> Kind {
    match ty {
        "trace" => Kind::TraceContext,
        "response" => Kind::ResponseContext,
        "os" | "browser" | "runtime" | "device" | "app" | "gpu" | "culture" | "otel" | "flags"
        | "monitor" | "spring" | "memory_info" | "unity" => Kind::MaybeData,
        "replay" | "reprocessing" | "feedback" | "profile" => Kind::NoData,
        // Contexts this Relay does not know (`nel`, `cloud_resource`, custom ones, …) are
        // objects of `pii = "true"` values.
        _ => Kind::AllData,
    }
}

/// Where a value sits, as far as the selectors care.
#[derive(Clone, Copy, Default)]
struct Spot<'k> {
    /// The key rules match on: the object key, or a pair's first element; none in arrays.
    key: Option<&'k str>,
    /// The key of the container (for `*.cookies.<name>`).
    parent_key: Option<&'k str>,
    /// How many keys deep the value is (a pair's value counts as one below its list).
    depth: u16,
    /// Below a `debug_meta` key (`debug_meta.**` is excluded).
    in_debug_meta: bool,
    /// In a `pii = "maybe"` field: only selectors naming the key explicitly apply (the cookie
    /// and IP field ones), not `$string` & co.
    maybe: bool,
    /// The value of a request header pair.
    header: bool,
    /// The children are request headers (`$http.headers`).
    headers: bool,
    /// The children are headers, whose names Relay normalizes (`x-api-key` → `X-Api-Key`)
    /// before any selector or rule sees them.
    header_names: bool,
    /// The children are `request.env`.
    env: bool,
    /// A known IP field.
    ip_field: bool,
    /// `logentry.formatted`.
    formatted: bool,
}

/// Strings Relay never scrubs.
pub(super) fn is_unscrubbable(s: &str) -> bool {
    matches!(s, "" | "true" | "false" | "null" | "undefined")
}

/// Whether every element is a `[key, value]` pair with a string key: Relay then scrubs each
/// value as if it were under that key.
pub(super) fn is_pair_list(items: &[Json<'_>]) -> bool {
    !items.is_empty()
        && items
            .iter()
            .all(|i| matches!(i, Json::Array(p) if p.len() == 2 && p[0].is_string()))
}

/// A header name as Relay keeps it: each `-`-separated part starts upper case.
pub(super) fn normalize_header_name(name: &str) -> Cow<'_, str> {
    let needs = name.split('-').any(|part| {
        part.chars()
            .next()
            .is_some_and(|c| !c.to_uppercase().eq(std::iter::once(c)))
    });
    if !needs {
        return Cow::Borrowed(name);
    }
    let mut out = String::with_capacity(name.len());
    for (i, part) in name.split('-').enumerate() {
        if i > 0 {
            out.push('-');
        }
        let mut chars = part.chars();
        if let Some(first) = chars.next() {
            out.extend(first.to_uppercase());
            out.push_str(chars.as_str());
        }
    }
    Cow::Owned(out)
}

/// Whether a cookie selector could match at `spot`: each needs the key or its container's key
/// to begin with `http.` or the container to be `cookies` (a first-byte test that most keys
/// fail, before the exact ones).
#[inline(always)]
fn may_name_cookie(key: Option<&str>, parent_key: Option<&str>) -> bool {
    let first = |k: Option<&str>| k.and_then(|k| k.as_bytes().first()).map(|c| c | 0x20);
    first(key) == Some(b'h') || matches!(first(parent_key), Some(b'h' | b'c'))
}

/// Where a child of the value at `spot` sits.
fn child_spot<'k>(spot: Spot<'k>, key: Option<&'k str>) -> Spot<'k> {
    Spot {
        key,
        parent_key: spot.key,
        depth: spot.depth + 1,
        // `debug_meta.**`: everything below a `debug_meta` key (not the key itself).
        in_debug_meta: spot.in_debug_meta
            || spot
                .key
                .is_some_and(|k| k.eq_ignore_ascii_case("debug_meta")),
        maybe: spot.maybe,
        header: spot.headers,
        ip_field: spot.env && key.is_some_and(|k| k.eq_ignore_ascii_case("REMOTE_ADDR")),
        ..Spot::default()
    }
}

pub(crate) struct Walker<'c, 'a> {
    apps: Applications<'c>,
    meta: MetaTree<'a>,
    /// An earlier pass (the project's advanced rules) redacted strings: their redactions are
    /// read back from `_meta` so that these rules see them as Relay does.
    prior: bool,
}

impl<'c, 'a> Walker<'c, 'a> {
    /// Scrub `event` (its `_meta` included) as `apps` say.
    pub fn scrub(apps: Applications<'c>, event: &mut Object<'a>, prior: bool) {
        let mut walker = Walker {
            apps,
            meta: MetaTree::take_from(event),
            prior,
        };
        walker.fields(event, Kind::Event, &Path::ROOT, None);
        walker.meta.put_back(event);
    }

    fn fields(&mut self, obj: &mut Object<'_>, kind: Kind, path: &Path<'_>, own_key: Option<&str>) {
        let depth = path.depth() + 1;
        for (key, value) in obj.iter_mut() {
            let path = path.key(key);
            let spot = Spot {
                key: Some(key),
                parent_key: own_key,
                depth,
                ..Spot::default()
            };
            match field(kind, key) {
                Field::Skip => {}
                Field::Data => self.value(value, &path, spot),
                // Only the cookie selectors name keys that reach a `maybe` field: a scalar
                // none of them could match is not visited (most span fields).
                Field::Maybe
                    if !(matches!(value, Json::Array(_) | Json::Object(_))
                        || (self.apps.defaults && may_name_cookie(Some(key), own_key))) => {}
                Field::Maybe => self.value(
                    value,
                    &path,
                    Spot {
                        maybe: true,
                        ..spot
                    },
                ),
                Field::IpData => self.value(
                    value,
                    &path,
                    Spot {
                        ip_field: true,
                        ..spot
                    },
                ),
                Field::Headers => self.value(
                    value,
                    &path,
                    Spot {
                        headers: true,
                        header_names: true,
                        ..spot
                    },
                ),
                Field::ResponseHeaders => self.value(
                    value,
                    &path,
                    Spot {
                        header_names: true,
                        ..spot
                    },
                ),
                Field::Env => self.value(value, &path, Spot { env: true, ..spot }),
                Field::Formatted => self.value(
                    value,
                    &path,
                    Spot {
                        formatted: true,
                        ..spot
                    },
                ),
                Field::Struct(kind) => self.structure(value, kind, &path, key),
                Field::Each(kind) => {
                    if let Json::Array(items) = value {
                        for (i, item) in items.iter_mut().enumerate() {
                            self.structure(item, kind, &path.index(i), key);
                        }
                    }
                }
                Field::Values(kind) => match value {
                    Json::Object(wrapper) => {
                        for (k, items) in wrapper.iter_mut() {
                            if let ("values", Json::Array(items)) = (k, items) {
                                let path = path.key(k);
                                for (i, item) in items.iter_mut().enumerate() {
                                    self.structure(item, kind, &path.index(i), k);
                                }
                            }
                        }
                    }
                    Json::Array(items) => {
                        for (i, item) in items.iter_mut().enumerate() {
                            self.structure(item, kind, &path.index(i), key);
                        }
                    }
                    _ => {}
                },
                Field::Contexts => {
                    if let Json::Object(contexts) = value {
                        for (name, context) in contexts.iter_mut() {
                            let ty = context.get("type").and_then(Json::as_str).unwrap_or(name);
                            let path = path.key(name);
                            match context_kind(ty) {
                                // An unknown context is data, itself included.
                                Kind::AllData => self.value(
                                    context,
                                    &path,
                                    Spot {
                                        key: Some(name),
                                        parent_key: Some(key),
                                        depth: 2,
                                        ..Spot::default()
                                    },
                                ),
                                kind => self.structure(context, kind, &path, name),
                            }
                        }
                    }
                }
            }
        }
    }

    fn structure(&mut self, value: &mut Json<'_>, kind: Kind, path: &Path<'_>, key: &str) {
        if let Json::Object(obj) = value {
            self.fields(obj, kind, path, Some(key));
        }
    }

    /// A `pii = "true"` value and everything in it.
    fn value(&mut self, value: &mut Json<'_>, path: &Path<'_>, spot: Spot<'_>) {
        let excluded = spot.in_debug_meta
            || spot.maybe
            || spot.formatted
            || spot.key.is_some_and(|k| {
                self.apps.is_safe(k) || (spot.header && k.eq_ignore_ascii_case("user-agent"))
            })
            || (!self.apps.safe_paths.is_empty() && self.apps.is_safe_path(path));
        match value {
            Json::Null | Json::Bool(_) => {}
            Json::String(s) => {
                if !is_unscrubbable(s) {
                    self.string(value, path, spot, excluded);
                }
            }
            Json::Number(_) | Json::Array(_) | Json::Object(_) => {
                if let Some(rule) = self.removal(spot, excluded) {
                    *value = Json::Null;
                    self.meta.record_removed(path, Cow::Borrowed(rule));
                    return;
                }
                self.children(value, path, spot);
            }
        }
    }

    fn children(&mut self, value: &mut Json<'_>, path: &Path<'_>, spot: Spot<'_>) {
        match value {
            Json::Object(obj) => {
                for (k, v) in obj.iter_mut() {
                    self.value(v, &path.key(k), child_spot(spot, Some(k)));
                }
            }
            Json::Array(items) if is_pair_list(items) => {
                for (i, pair) in items.iter_mut().enumerate() {
                    if let Json::Array(pair) = pair {
                        let path = path.index(i);
                        if let [Json::String(k), v] = pair.as_mut_slice() {
                            let name = if spot.header_names {
                                normalize_header_name(k)
                            } else {
                                Cow::Borrowed(k.as_ref())
                            };
                            self.value(v, &path.pair_value(&name), child_spot(spot, Some(&name)));
                        }
                    }
                }
            }
            Json::Array(items) => {
                for (i, v) in items.iter_mut().enumerate() {
                    self.value(v, &path.index(i), child_spot(spot, None));
                }
            }
            _ => {}
        }
    }

    /// The rule that removes a non-string value (a key-only match), if any.
    fn removal(&self, spot: Spot<'_>, excluded: bool) -> Option<&'static str> {
        let key = spot.key.unwrap_or("");
        if !excluded {
            if self.apps.defaults && rules::is_password_or_token_key(key) {
                return Some(rules::PASSWORD_ID);
            }
            if self.apps.sensitive.iter().any(|f| key.contains(f)) {
                return Some(rules::STRIP_FIELDS_ID);
            }
        }
        if self.apps.ip && spot.ip_field {
            return Some(rules::ANYTHING_REMOVE_ID);
        }
        if self.apps.defaults && self.is_sensitive_cookie(spot) {
            return Some(rules::ANYTHING_FILTER_ID);
        }
        None
    }

    /// `*.cookies.<name>` and `*.'http.request.header.cookie.<name>'` (and set-cookie) for the
    /// session and CSRF cookies: `@anything:filter`.
    #[inline]
    fn is_sensitive_cookie(&self, spot: Spot<'_>) -> bool {
        may_name_cookie(spot.key, spot.parent_key)
            && spot.key.is_some_and(|k| {
                (spot.depth >= 3
                    && spot
                        .parent_key
                        .is_some_and(|p| p.eq_ignore_ascii_case("cookies"))
                    && rules::is_sensitive_cookie(k))
                    || (spot.depth >= 2 && rules::is_sensitive_cookie_header_key(k))
            })
    }

    /// A cookie header value (`*.'http.request.header.cookie'` and its children, and
    /// set-cookie): `@cookies:filter`.
    #[inline]
    fn is_cookie_header(&self, spot: Spot<'_>) -> bool {
        may_name_cookie(spot.key, spot.parent_key)
            && ((spot.depth >= 2 && spot.key.is_some_and(rules::is_cookie_header_key))
                || (spot.depth >= 3 && spot.parent_key.is_some_and(rules::is_cookie_header_key)))
    }

    fn string(&mut self, value: &mut Json<'_>, path: &Path<'_>, spot: Spot<'_>, excluded: bool) {
        let Json::String(s) = value else { return };
        // In a `maybe` field only the cookie selectors, which name keys, can apply.
        if spot.maybe
            && !(self.apps.defaults
                && (self.is_sensitive_cookie(spot) || self.is_cookie_header(spot)))
        {
            return;
        }
        let key = spot.key.unwrap_or("");
        let prior = if self.prior {
            self.meta.remarks_at(path)
        } else {
            Vec::new()
        };
        let mut r = Redactor::with_remarks(s, &prior);
        if !excluded {
            // In the order of the rule ids (see `rules`).
            if self.apps.defaults {
                r.apply_all(&rules::COMMON_BEFORE_IP);
            }
            if self.apps.ip {
                r.apply_all(&rules::IP_REPLACE);
            }
            if self.apps.defaults {
                if rules::is_password_or_token_key(key) {
                    r.replace_value(rules::PASSWORD_ID, FILTERED);
                } else if r.changed() || r.profile().password {
                    r.replace_value_if(rules::PASSWORD_ID, FILTERED, rules::is_password_like);
                }
                r.apply_all(&rules::COMMON_AFTER_PASSWORD);
            }
            if !self.apps.sensitive.is_empty() {
                let sensitive = &self.apps.sensitive;
                if sensitive.iter().any(|f| key.contains(f)) {
                    r.replace_value(rules::STRIP_FIELDS_ID, FILTERED);
                } else {
                    r.replace_value_if(rules::STRIP_FIELDS_ID, FILTERED, |t| {
                        sensitive.iter().any(|f| t.contains(f))
                    });
                }
            }
        }
        let removed = (self.apps.ip && spot.ip_field).then_some(rules::ANYTHING_REMOVE_ID);
        if removed.is_none() && self.apps.defaults {
            if spot.formatted {
                r.apply_all(&rules::LOGENTRY_FORMATTED);
            }
            if self.is_sensitive_cookie(spot) {
                r.apply_regex(
                    rules::ANYTHING_FILTER_ID,
                    &rules::ANYTHING,
                    Replace::Group(0),
                    FILTERED,
                );
            }
            if self.is_cookie_header(spot) {
                r.apply_ranges(
                    Cow::Borrowed(rules::COOKIES_FILTER_ID),
                    |_| Some((Cow::Borrowed(FILTERED), RemarkType::Substituted)),
                    rules::sensitive_cookie_values,
                );
            }
        }
        let redacted = r.redacted();
        self.meta
            .write_string(path, value, redacted, removed.map(Cow::Borrowed));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_names_as_relay_keeps_them() {
        assert_eq!(normalize_header_name("x-API-key.foo"), "X-API-Key.foo");
        assert_eq!(normalize_header_name("é-ü_x y"), "É-Ü_x y");
        assert!(matches!(
            normalize_header_name("User-Agent"),
            Cow::Borrowed(_)
        ));
        assert!(matches!(normalize_header_name("-1"), Cow::Borrowed(_)));
    }

    #[test]
    fn pair_lists_need_every_element_a_pair() {
        let pairs = Json::from(serde_json::json!([["a", 1], ["b", "c"]]));
        let mixed = Json::from(serde_json::json!([["a", 1], "b"]));
        assert!(is_pair_list(pairs.as_array().unwrap_or(&Vec::new())));
        assert!(!is_pair_list(mixed.as_array().unwrap_or(&Vec::new())));
        assert!(!is_pair_list(&[]));
    }
}
