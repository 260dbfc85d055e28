//! One event as the issue page shows it, drawn from the API's serialization of the event
//! ([`crate::serialize::serialize_event`]), so that the page and `/api/0/` cannot disagree
//! on what an event holds: the exception chain with its frames (source context with the line
//! marked, local variables), breadcrumbs, the request, the user, contexts, the SDK, tags and
//! the raw JSON.

use maud::{html, Markup};
use serde_json::Value;

/// Values of request headers and cookies that are never shown.
const FILTERED: &str = "[Filtered]";

/// Header names whose values hold credentials.
fn is_secret_header(name: &str) -> bool {
    matches!(
        name.to_ascii_lowercase().as_str(),
        "cookie"
            | "set-cookie"
            | "authorization"
            | "proxy-authorization"
            | "x-csrftoken"
            | "x-api-key"
    )
}

/// A JSON value as text: strings as they are, the rest as compact JSON.
pub fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn str_at<'a>(value: &'a Value, key: &str) -> &'a str {
    value.get(key).and_then(Value::as_str).unwrap_or("")
}

/// The `data` of the first entry of a type.
fn entry<'a>(event: &'a Value, kind: &str) -> Option<&'a Value> {
    event
        .get("entries")?
        .as_array()?
        .iter()
        .find(|e| e.get("type").and_then(Value::as_str) == Some(kind))
        .and_then(|e| e.get("data"))
}

/// The stored event's `_meta` below some value: what data scrubbing did to it, as Relay marks
/// it (`{"": {"rem": [[rule, type, …]]}}` beside the value's key). The page shows the mark on
/// the values it touched, as Sentry does, so that a `[Filtered]` says which rule put it there.
#[derive(Clone, Copy)]
struct Meta<'a>(Option<&'a Value>);

impl<'a> Meta<'a> {
    fn of(data: &'a Value) -> Self {
        Meta(data.get("_meta"))
    }

    fn at(self, key: &str) -> Self {
        Meta(self.0.and_then(|meta| meta.get(key)))
    }

    fn index(self, index: usize) -> Self {
        self.at(&index.to_string())
    }

    /// What happened to this value and everything under it, for a tooltip:
    /// `Filtered by the data-scrubbing rule @password:filter`. `None` when nothing did.
    fn note(self) -> Option<String> {
        let mut remarks = Vec::new();
        if let Some(meta) = self.0 {
            collect_remarks(meta, &mut remarks);
        }
        if remarks.is_empty() {
            return None;
        }
        remarks.dedup();
        let lines: Vec<String> = remarks
            .iter()
            .map(|(rule, kind)| format!("{} by the data-scrubbing rule {rule}", remark_verb(kind)))
            .collect();
        Some(lines.join("; "))
    }
}

/// `(rule, type)` of every remark at and below a `_meta` node.
fn collect_remarks(meta: &Value, out: &mut Vec<(String, String)>) {
    let Some(object) = meta.as_object() else {
        return;
    };
    for (key, value) in object {
        if key.is_empty() {
            let remarks = value.get("rem").and_then(Value::as_array);
            for remark in remarks.into_iter().flatten() {
                let rule = remark.get(0).and_then(Value::as_str).unwrap_or("?");
                let kind = remark.get(1).and_then(Value::as_str).unwrap_or("");
                out.push((rule.to_owned(), kind.to_owned()));
            }
        } else {
            collect_remarks(value, out);
        }
    }
}

/// Relay's remark types, as Sentry's UI words them.
fn remark_verb(kind: &str) -> &'static str {
    match kind {
        "x" => "Removed",
        "s" => "Replaced",
        "m" => "Masked",
        "p" => "Pseudonymized",
        "e" => "Encrypted",
        _ => "Changed",
    }
}

/// A value as text, marked with what scrubbing did to it when it did something.
fn marked(value: &str, meta: Meta<'_>) -> Markup {
    html! {
        @match meta.note() {
            Some(note) => span.scrubbed title=(note) { (value) },
            None => (value),
        }
    }
}

/// How an event's stack traces are shown, with the links that switch each way.
#[derive(Debug, Default)]
pub struct FramesView {
    /// System (not in-app) frames too.
    pub full: bool,
    /// The frames as the SDK sent them (`raw_stacktrace`), before source maps applied.
    pub minified: bool,
    pub full_toggle: String,
    pub minified_toggle: String,
}

/// Every section of an event.
pub fn render(event: &Value, data: &Value, view: &FramesView) -> Markup {
    let meta = Meta::of(data);
    let full_frames = view.full;
    html! {
        (processing_errors(data))
        @if let Some(exception) = entry(event, "exception") {
            (exceptions(exception, view, meta.at("exception")))
        }
        @if let Some(message) = entry(event, "message") {
            section.message { h2 { "Message" } pre { (text(&message["formatted"])) } }
        }
        @if let Some(stacktrace) = entry(event, "stacktrace") {
            section.exception { h2 { "Stack trace" } (frames(stacktrace, full_frames, meta.at("stacktrace"))) }
        }
        @if let Some(threads) = entry(event, "threads") {
            (threads_section(threads, full_frames, meta.at("threads")))
        }
        @if let Some(crumbs) = entry(event, "breadcrumbs") {
            (breadcrumbs(crumbs, meta.at("breadcrumbs")))
        }
        @if let Some(request) = entry(event, "request") {
            (request_section(request, meta.at("request")))
        }
        (tags(event))
        (user(event, meta.at("user")))
        (contexts(event, meta.at("contexts")))
        (extra(event, meta.at("extra")))
        (sdk(event))
        (raw_json(data))
    }
}

fn exceptions(exception: &Value, view: &FramesView, meta: Meta) -> Markup {
    let values: Vec<&Value> = exception
        .get("values")
        .and_then(Value::as_array)
        .map(|v| v.iter().collect())
        .unwrap_or_default();
    let has_system = exception
        .get("hasSystemFrames")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let has_raw = values
        .iter()
        .any(|exc| exc.get("rawStacktrace").is_some_and(Value::is_object));
    let minified = view.minified && has_raw;
    let full_frames = view.full;
    html! {
        section.exception #exception {
            div.section-head {
                h2 { "Exception" }
                @if has_raw {
                    a.toggle.minified-toggle href=(view.minified_toggle) {
                        @if minified { "Show original" } @else { "Show minified" }
                    }
                }
                @if has_system {
                    a.toggle href=(view.full_toggle) {
                        @if full_frames { "Show in-app frames only" } @else { "Show full stack trace" }
                    }
                }
            }
            // The last exception is the one raised; the earlier ones caused it. Sentry shows
            // the raised one first.
            @for (i, (index, exc)) in values.iter().enumerate().rev().enumerate() {
                @let meta = meta.at("values").index(index);
                div.exc {
                    @if i > 0 { p.chained { "The above exception was the direct cause of, or happened while handling:" } }
                    h3 {
                        span.exc-type { (str_at(exc, "type")) }
                        @if !str_at(exc, "module").is_empty() { span.exc-module { " (" (str_at(exc, "module")) ")" } }
                    }
                    p.exc-value { (marked(&text(&exc["value"]), meta.at("value"))) }
                    @if let Some(mechanism) = exc.get("mechanism").filter(|m| m.is_object()) {
                        p.mechanism {
                            "mechanism: " code { (str_at(mechanism, "type")) }
                            @match mechanism.get("handled").and_then(Value::as_bool) {
                                Some(false) => { " " span.badge.unhandled { "unhandled" } }
                                Some(true) => { " " span.badge { "handled" } }
                                None => {}
                            }
                        }
                    }
                    @if let Some(st) = exc.get("rawStacktrace").filter(|s| minified && s.is_object()) {
                        (frames(st, full_frames, meta.at("raw_stacktrace")))
                    } @else if let Some(st) = exc.get("stacktrace").filter(|s| s.is_object()) {
                        (frames(st, full_frames, meta.at("stacktrace")))
                    }
                }
            }
        }
    }
}

fn threads_section(threads: &Value, full_frames: bool, meta: Meta) -> Markup {
    let values = threads.get("values").and_then(Value::as_array);
    html! {
        @if let Some(values) = values {
            @for (index, thread) in values.iter().enumerate().filter(|(_, t)| t.get("stacktrace").is_some_and(Value::is_object)) {
                section.exception {
                    h2 { "Thread " (text(&thread["name"])) @if thread["crashed"] == Value::Bool(true) { " (crashed)" } }
                    (frames(&thread["stacktrace"], full_frames, meta.at("values").index(index).at("stacktrace")))
                }
            }
        }
    }
}

/// Frames, most recent call first, as Sentry shows them; the newest in-app frame is open.
fn frames(stacktrace: &Value, full_frames: bool, meta: Meta) -> Markup {
    let all: Vec<&Value> = stacktrace
        .get("frames")
        .and_then(Value::as_array)
        .map(|f| f.iter().collect())
        .unwrap_or_default();
    let any_in_app = all.iter().any(|f| f["inApp"] == Value::Bool(true));
    // With their index among the stored frames, which `_meta` is keyed by.
    let shown: Vec<(usize, &Value)> = all
        .iter()
        .copied()
        .enumerate()
        .rev()
        .filter(|(_, f)| full_frames || !any_in_app || f["inApp"] == Value::Bool(true))
        .collect();
    let open_index = shown
        .iter()
        .position(|(_, f)| f["inApp"] == Value::Bool(true))
        .unwrap_or(0);
    let hidden = all.len() - shown.len();
    let meta = meta.at("frames");
    html! {
        ol.frames {
            @for (i, (index, f)) in shown.iter().enumerate() {
                (frame(f, i == open_index, meta.index(*index)))
            }
        }
        @if hidden > 0 {
            p.hidden-frames { (hidden) " system frame" @if hidden != 1 { "s" } " hidden" }
        }
    }
}

fn frame(f: &Value, open: bool, meta: Meta) -> Markup {
    let in_app = f["inApp"] == Value::Bool(true);
    let file = [
        str_at(f, "filename"),
        str_at(f, "absPath"),
        str_at(f, "module"),
    ]
    .into_iter()
    .find(|s| !s.is_empty())
    .unwrap_or("?");
    let function = str_at(f, "function");
    let line_no = f.get("lineNo").and_then(Value::as_i64);
    let context = f.get("context").and_then(Value::as_array);
    let vars = f
        .get("vars")
        .and_then(Value::as_object)
        .filter(|v| !v.is_empty());
    let has_body = context.is_some_and(|c| !c.is_empty()) || vars.is_some();
    html! {
        li class=(if in_app { "frame in-app" } else { "frame system" }) {
            details open[open && has_body] {
                summary {
                    span.file { (file) }
                    @if !function.is_empty() { " in " span.function { (function) } }
                    @if let Some(n) = line_no { " at line " span.lineno { (n) } }
                    @if in_app { " " span.badge.in-app-badge { "In App" } }
                }
                @if let Some(context) = context.filter(|c| !c.is_empty()) {
                    ol.context {
                        @for line in context {
                            @let n = line.get(0).and_then(Value::as_i64);
                            @let code = line.get(1).map(text).unwrap_or_default();
                            @if n.is_some() && n == line_no {
                                li.active aria-current="true" { span.ln { (n.unwrap_or_default()) } code { (code) } }
                            } @else {
                                li { span.ln { (n.unwrap_or_default()) } code { (code) } }
                            }
                        }
                    }
                }
                @if let Some(vars) = vars {
                    table.vars {
                        caption { "Local variables" }
                        @for (name, value) in vars {
                            tr { th { (name) } td { code { (marked(&text(value), meta.at("vars").at(name))) } } }
                        }
                    }
                }
            }
        }
    }
}

/// What went wrong while the event was processed (`errors`), as Sentry's "There were problems
/// processing this event" box: for a browser error, which file's source map was missing or
/// broken, so that the team knows why its frames are still minified.
fn processing_errors(data: &Value) -> Markup {
    let errors: Vec<&Value> = data
        .get("errors")
        .and_then(Value::as_array)
        .map(|errors| errors.iter().filter(|e| e.is_object()).collect())
        .unwrap_or_default();
    html! {
        @if !errors.is_empty() {
            section.processing-errors #processing-errors {
                h2 { "There were problems processing this event" }
                ul {
                    @for error in errors {
                        @let kind = str_at(error, "type");
                        li {
                            (processing_error_text(kind))
                            @for key in ["url", "name", "value"] {
                                @if let Some(detail) = error.get(key).filter(|v| !v.is_null()) {
                                    " " code { (text(detail)) }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Sentry's wording for the processing errors people meet most.
fn processing_error_text(kind: &str) -> String {
    match kind {
        "js_no_source" => "No source map was found for".into(),
        "js_invalid_source" => "The source map could not be read:".into(),
        "js_invalid_sourcemap" => "The source map is invalid:".into(),
        "js_missing_sources_content" | "js_no_source_content" => {
            "The source map has no source content for".into()
        }
        "js_invalid_sourcemap_location" => {
            "The source map has no mapping for the location in".into()
        }
        "js_missing_source" => "The original source file was not found:".into(),
        "js_scraping_disabled" => "Fetching the source is disabled for".into(),
        "invalid_data" => "Discarded invalid value".into(),
        "invalid_attribute" => "Discarded unknown attribute".into(),
        "value_too_long" => "Discarded value that was too long".into(),
        "past_timestamp" => "The timestamp was too far in the past".into(),
        "future_timestamp" => "The timestamp was in the future".into(),
        "clock_drift" => "Clock drift was corrected".into(),
        other => format!("{other}:"),
    }
}

fn breadcrumbs(crumbs: &Value, meta: Meta) -> Markup {
    let values = crumbs
        .get("values")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    html! {
        section.breadcrumbs #breadcrumbs {
            h2 { "Breadcrumbs" }
            ol.timeline {
                // Newest first, next to the exception they led to.
                @for (index, crumb) in values.iter().enumerate().rev() {
                    @let meta = meta.at("values").index(index);
                    @let category = str_at(crumb, "category");
                    @let kind = str_at(crumb, "type");
                    li class={ "crumb crumb-" (crumb_class(category, kind)) " crumb-level-" (str_at(crumb, "level")) } {
                        span.crumb-time { (crumb_time(str_at(crumb, "timestamp"))) }
                        span.crumb-category { (if category.is_empty() { kind } else { category }) }
                        div.crumb-body {
                            @if !str_at(crumb, "message").is_empty() {
                                @if category == "query" {
                                    code.sql { (str_at(crumb, "message")) }
                                } @else {
                                    span { (marked(str_at(crumb, "message"), meta.at("message"))) }
                                }
                            }
                            @if let Some(data) = crumb.get("data").and_then(Value::as_object).filter(|d| !d.is_empty()) {
                                @if kind == "http" || category == "httplib" || category == "fetch" || category == "xhr" {
                                    span.http {
                                        (text(&data.get("method").cloned().unwrap_or(Value::Null))) " "
                                        (text(&data.get("url").cloned().unwrap_or(Value::Null))) " "
                                        @if let Some(code) = data.get("status_code") { "→ " (text(code)) }
                                    }
                                } @else {
                                    dl.crumb-data {
                                        @for (k, v) in data { dt { (k) } dd { (marked(&text(v), meta.at("data").at(k))) } }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn crumb_class(category: &str, kind: &str) -> &'static str {
    match (category, kind) {
        ("query", _) => "query",
        (_, "http") | ("httplib" | "fetch" | "xhr", _) => "http",
        ("navigation", _) | (_, "navigation") => "navigation",
        (_, "error") => "error",
        _ if category.starts_with("ui.") => "ui",
        _ => "log",
    }
}

/// `HH:MM:SS.mmm` of an ISO time.
fn crumb_time(iso: &str) -> &str {
    iso.split_once('T')
        .map(|(_, t)| t.get(..12).unwrap_or(t))
        .unwrap_or(iso)
}

/// `[name, value]` pairs. `meta` is the stored field's, which is an object keyed by name (the
/// request's headers, cookies, query string arrive as objects or pairs; Relay keys both
/// forms' `_meta` by the pair's index).
fn pairs_table(pairs: &Value, filter_values: bool, meta: Meta) -> Markup {
    let rows = pairs.as_array().map(Vec::as_slice).unwrap_or_default();
    html! {
        table.kv {
            @for (index, pair) in rows.iter().enumerate() {
                @let name = pair.get(0).map(text).unwrap_or_default();
                @let value = pair.get(1).map(text).unwrap_or_default();
                @let meta = match meta.at(&name) { Meta(None) => meta.index(index).at("1"), by_name => by_name };
                tr {
                    th { (name) }
                    td { @if filter_values || is_secret_header(&name) { span.filtered { (marked(FILTERED, meta)) } } @else { (marked(&value, meta)) } }
                }
            }
        }
    }
}

fn request_section(request: &Value, meta: Meta) -> Markup {
    let has = |k: &str| {
        request
            .get(k)
            .is_some_and(|v| !v.is_null() && v.as_array().is_none_or(|a| !a.is_empty()))
    };
    html! {
        section.request #request {
            h2 { "Request" }
            p.request-line {
                strong { (str_at(request, "method")) } " " code { (str_at(request, "url")) }
            }
            @if has("query") { h3 { "Query" } (pairs_table(&request["query"], false, meta.at("query_string"))) }
            @if has("data") {
                h3 { "Body" }
                pre { (marked(&match &request["data"] { Value::String(s) => s.clone(), other => serde_json::to_string_pretty(other).unwrap_or_default() }, meta.at("data"))) }
            }
            @if has("headers") { h3 { "Headers" } (pairs_table(&request["headers"], false, meta.at("headers"))) }
            @if has("cookies") { h3 { "Cookies" } (pairs_table(&request["cookies"], true, meta.at("cookies"))) }
            @if let Some(env) = request.get("env").and_then(Value::as_object).filter(|e| !e.is_empty()) {
                h3 { "Environment" }
                table.kv { @for (k, v) in env { tr { th { (k) } td { (marked(&text(v), meta.at("env").at(k))) } } } }
            }
        }
    }
}

fn tags(event: &Value) -> Markup {
    let tags = event.get("tags").and_then(Value::as_array);
    html! {
        @if let Some(tags) = tags.filter(|t| !t.is_empty()) {
            section.tags {
                h2 { "Tags" }
                ul.tag-list {
                    @for tag in tags {
                        li { span.tag-key { (str_at(tag, "key")) } span.tag-value { (str_at(tag, "value")) } }
                    }
                }
            }
        }
    }
}

fn object_table(object: &serde_json::Map<String, Value>, meta: Meta) -> Markup {
    html! {
        table.kv {
            @for (k, v) in object {
                @if !v.is_null() && k != "type" {
                    tr { th { (k) } td { (marked(&text(v), meta.at(k))) } }
                }
            }
        }
    }
}

fn user(event: &Value, meta: Meta) -> Markup {
    html! {
        @if let Some(user) = event.get("user").and_then(Value::as_object) {
            section.user #user {
                h2 { "User" }
                (object_table(user, meta))
            }
        }
    }
}

fn contexts(event: &Value, meta: Meta) -> Markup {
    let contexts = event
        .get("contexts")
        .and_then(Value::as_object)
        .filter(|c| !c.is_empty());
    html! {
        @if let Some(contexts) = contexts {
            section.contexts #contexts {
                h2 { "Contexts" }
                div.context-grid {
                    @for (name, value) in contexts {
                        @if let Some(object) = value.as_object() {
                            div.context {
                                h3 { (name) }
                                (object_table(object, meta.at(name)))
                            }
                        }
                    }
                }
            }
        }
    }
}

fn extra(event: &Value, meta: Meta) -> Markup {
    html! {
        @if let Some(extra) = event.get("context").and_then(Value::as_object).filter(|e| !e.is_empty()) {
            section.extra { h2 { "Additional data" } (object_table(extra, meta)) }
        }
    }
}

fn sdk(event: &Value) -> Markup {
    html! {
        @if let Some(sdk) = event.get("sdk").and_then(Value::as_object) {
            section.sdk #sdk {
                h2 { "SDK" }
                p { code { (sdk.get("name").map(text).unwrap_or_default()) } " " (sdk.get("version").map(text).unwrap_or_default()) }
                @if let Some(integrations) = sdk.get("integrations").and_then(Value::as_array).filter(|i| !i.is_empty()) {
                    p.integrations { "Integrations: " (integrations.iter().map(text).collect::<Vec<_>>().join(", ")) }
                }
            }
        }
    }
}

/// The stored event as JSON, with cookie values filtered as in the request section.
fn raw_json(data: &Value) -> Markup {
    let mut data = data.clone();
    if let Some(request) = data.get_mut("request").and_then(Value::as_object_mut) {
        if let Some(cookies) = request.get_mut("cookies") {
            filter_values(cookies);
        }
        if let Some(headers) = request.get_mut("headers") {
            filter_secret_headers(headers);
        }
    }
    let json = serde_json::to_string_pretty(&data).unwrap_or_default();
    html! {
        section.raw #raw {
            details {
                summary { h2 { "Raw JSON" } }
                pre.json { (json) }
            }
        }
    }
}

fn filter_values(value: &mut Value) {
    match value {
        Value::Object(map) => map
            .values_mut()
            .for_each(|v| *v = Value::String(FILTERED.into())),
        Value::Array(items) => items.iter_mut().for_each(|pair| {
            if let Some(v) = pair.get_mut(1) {
                *v = Value::String(FILTERED.into());
            }
        }),
        Value::String(s) if !s.is_empty() => *s = FILTERED.into(),
        _ => {}
    }
}

fn filter_secret_headers(headers: &mut Value) {
    match headers {
        Value::Object(map) => map.iter_mut().for_each(|(k, v)| {
            if is_secret_header(k) {
                *v = Value::String(FILTERED.into());
            }
        }),
        Value::Array(items) => items.iter_mut().for_each(|pair| {
            let secret = pair
                .get(0)
                .and_then(Value::as_str)
                .is_some_and(is_secret_header);
            if secret {
                if let Some(v) = pair.get_mut(1) {
                    *v = Value::String(FILTERED.into());
                }
            }
        }),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn cookies_and_credentials_are_filtered() {
        let request = json!({"method": "GET", "url": "http://x/", "cookies": [["sessionid", "s3cret"]],
                             "headers": [["Cookie", "sessionid=s3cret"], ["Host", "x"]], "query": []});
        let html = request_section(&request, Meta(None)).into_string();
        assert!(!html.contains("s3cret"), "{html}");
        assert!(html.contains("sessionid") && html.contains("Host"));
        let raw = raw_json(&json!({"request": {"cookies": {"sessionid": "s3cret"},
                                               "headers": {"Cookie": "sessionid=s3cret"}}}))
        .into_string();
        assert!(!raw.contains("s3cret"), "{raw}");
    }

    #[test]
    fn scrubbed_values_carry_the_rule_that_scrubbed_them() {
        let event = json!({
            "entries": [{"type": "request", "data": {
                "method": "GET", "url": "http://x/",
                "headers": [["X-Api-Token", "[Filtered]"], ["Host", "x"]],
                "query": [["token", "[Filtered]"], ["page", "2"]]}}],
            "context": {"password": "[Filtered]", "order": "7"},
        });
        let rem = |rule: &str| json!({"": {"rem": [[rule, "s", 0, 10]], "len": 24}});
        let data = json!({"_meta": {
            "request": {
                "headers": {"0": {"1": rem("@password:filter")}},
                "query_string": {"0": {"1": rem("@common:filter")}}},
            "extra": {"password": rem("strip-fields")}}});
        let html = render(&event, &data, &FramesView::default()).into_string();
        for rule in ["@password:filter", "@common:filter", "strip-fields"] {
            let mark = format!("title=\"Replaced by the data-scrubbing rule {rule}\"");
            assert_eq!(html.matches(&mark).count(), 1, "{mark} in {html}");
        }
        assert_eq!(html.matches("class=\"scrubbed\"").count(), 3, "{html}");
    }

    #[test]
    fn crumb_times_are_clock_times() {
        assert_eq!(crumb_time("2026-11-28T03:36:44.123456Z"), "03:36:44.123");
        assert_eq!(crumb_time(""), "");
    }
}
