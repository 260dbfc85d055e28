//! Title, culprit, metadata and location of an event, as Sentry derives them
//! (`eventtypes/error.py`, `eventtypes/base.py`, `eventtypes/security.py`, `culprit.py`).
//!
//! These are what an issue list shows: `ZeroDivisionError: division by zero` from
//! `shop.views in checkout`. Like grouping they read normalized events but tolerate raw ones.

use serde_json::{json, Map, Value};

use crate::grouping::input::CertificateReport;
use crate::grouping::input::{interface, read_logentry, str_field, values_list, EventView};
use crate::grouping::{main_exception_index, security};
use crate::json::Json;

/// Longest culprit Sentry stores.
const MAX_CULPRIT: usize = 200;
/// Longest title line.
const MAX_TITLE: usize = 100;

/// What an issue list shows for an event.
#[derive(Debug, Clone, PartialEq)]
pub struct EventSummary {
    pub title: String,
    pub culprit: String,
    /// `type`, `value`, `filename`, `function` for errors; `title` for messages; `directive`,
    /// `uri`, `message` for CSP reports. A `Value`: it is small and goes to the store as it is.
    pub metadata: Value,
    /// Where it happened: the crash frame's file for errors, the blocked URI for CSP.
    pub location: Option<String>,
}

/// Derives title, culprit, metadata and location of an event.
pub fn derive_summary(event: &Json<'_>) -> EventSummary {
    summarize(&EventView::new(event))
}

/// [`derive_summary`] over an event already read, so that the pipeline reads it once and the
/// stack trace rules run once for grouping and the culprit together.
pub(crate) fn summarize(view: &EventView<'_>) -> EventSummary {
    let event = view.raw;
    let is_transaction = str_field(event, "type") == Some("transaction");
    let (title, metadata, location) = if is_transaction {
        let name = str_field(event, "transaction")
            .unwrap_or("<unlabeled transaction>")
            .to_owned();
        (name.clone(), json!({ "title": name }), None)
    } else if let Some(csp) = view.csp {
        csp_summary(csp)
    } else if let Some((kind, report)) = view.certificate {
        certificate_summary(kind, report)
    } else if !view.exceptions.is_empty() {
        error_summary(event, view)
    } else {
        default_summary(event)
    };
    EventSummary {
        title,
        culprit: culprit(event, view),
        metadata,
        location,
    }
}

fn error_summary(event: &Json<'_>, view: &EventView<'_>) -> (String, Value, Option<String>) {
    let Some(exception) = main_exception_index(view).and_then(|i| view.exceptions.get(i)) else {
        return default_summary(event);
    };
    let mut metadata = Map::new();
    let value = exception.value.as_deref().unwrap_or("");
    metadata.insert("value".into(), Value::String(trim(value, 1024)));
    let synthetic = exception.mechanism_flag("synthetic");
    // A synthetic exception's type is the SDK's invention; it must not name the issue.
    let ty = (!synthetic).then(|| trim(exception.ty.as_deref().unwrap_or("Error"), 128));
    if let Some(ty) = &ty {
        metadata.insert("type".into(), Value::String(ty.clone()));
    }
    let frame = crash_frame(view, |f| {
        !matches!(
            str_field(f, "function"),
            None | Some("<redacted>" | "<unknown>")
        )
    });
    let filename = frame
        .and_then(|f| str_field(f, "filename"))
        .map(str::to_owned);
    let function = frame
        .and_then(|f| str_field(f, "function"))
        .map(str::to_owned);
    if let Some(f) = &filename {
        metadata.insert("filename".into(), Value::String(f.clone()));
    }
    if let Some(f) = &function {
        metadata.insert("function".into(), Value::String(f.clone()));
    }
    if synthetic {
        metadata.insert("synthetic".into(), Value::Bool(true));
    }
    let title = match ty {
        Some(ty) if value.is_empty() => ty,
        Some(ty) => format!("{ty}: {}", truncate(first_line(value), MAX_TITLE)),
        None => function.unwrap_or_else(|| "<unknown>".to_owned()),
    };
    (title, Value::Object(metadata), filename)
}

fn default_summary(event: &Json<'_>) -> (String, Value, Option<String>) {
    let message = read_logentry(event)
        .and_then(|l| l.formatted.or(l.message))
        .unwrap_or_default();
    let message = message.trim();
    let title = if message.is_empty() {
        "<unlabeled event>".to_owned()
    } else {
        truncate(first_line(message), MAX_TITLE)
    };
    (title.clone(), json!({ "title": title }), None)
}

/// Sentry's security event for a certificate report: titled by its message, located at the
/// host (`metadata.origin`).
fn certificate_summary(
    kind: CertificateReport,
    report: &Json<'_>,
) -> (String, Value, Option<String>) {
    let hostname = security::certificate_hostname(report);
    let message = kind.message(hostname);
    let metadata = json!({ "message": message, "origin": hostname });
    (message, metadata, Some(hostname.to_owned()))
}

fn csp_summary(csp: &Json<'_>) -> (String, Value, Option<String>) {
    let directive = security::effective_directive(csp).unwrap_or_default();
    let uri = security::normalized_blocked_uri(csp);
    let message = csp_message(csp, directive, &uri);
    let metadata = json!({ "directive": directive, "uri": uri, "message": message });
    (message, metadata, Some(uri))
}

/// Sentry's CSP titles: `Blocked 'script' from 'cdn.example.com'`, `Blocked inline 'style'`, …
fn csp_message(csp: &Json<'_>, effective_directive: &str, uri: &str) -> String {
    let local = security::local_script_violation_type(csp);
    let directive = local.unwrap_or(effective_directive);
    let inline = uri == "'self'";
    let from = |what: &str| format!("Blocked {what} from '{uri}'");
    let known = match (directive, inline) {
        ("child-src", false) => Some(from("'child'")),
        ("child-src", true) => Some("Blocked inline 'child'".to_owned()),
        ("connect-src", false) => Some(format!("Blocked connection to '{uri}'")),
        ("font-src", false) => Some(from("font")),
        ("form-action", false) => Some(format!("Blocked form action to '{uri}'")),
        ("img-src", false) => Some(from("image")),
        ("manifest-src", false) => Some(from("manifest")),
        ("media-src", false) => Some(from("media")),
        ("object-src", false) => Some(from("'object'")),
        ("object-src", true) => Some("Blocked inline 'object'".to_owned()),
        ("script-src" | "script-src-elem" | "script-src-attr", false) => Some(from("'script'")),
        ("script-src" | "script-src-elem" | "script-src-attr", true) => {
            Some("Blocked unsafe (eval() or inline) 'script'".to_owned())
        }
        ("style-src" | "style-src-elem" | "style-src-attr", false) => Some(from("'style'")),
        ("style-src" | "style-src-elem" | "style-src-attr", true) => {
            Some("Blocked inline 'style'".to_owned())
        }
        ("unsafe-inline", true) => Some("Blocked unsafe inline 'script'".to_owned()),
        ("unsafe-eval", true) => Some("Blocked unsafe eval() 'script'".to_owned()),
        _ => None,
    };
    known.unwrap_or_else(|| {
        if inline {
            format!("Blocked inline '{directive}'")
        } else {
            from(&format!("'{directive}'"))
        }
    })
}

/// The culprit: what the client said, else the transaction, else the crash frame, else the
/// request URL (Sentry's `get_culprit` and `generate_culprit`).
fn culprit(event: &Json<'_>, view: &EventView<'_>) -> String {
    if let Some(c) = str_field(event, "culprit").or_else(|| str_field(event, "transaction")) {
        return truncate(c, MAX_CULPRIT);
    }
    let exceptions =
        interface(event, &["exception", "sentry.interfaces.Exception"]).map(|e| match e {
            Json::Object(o) if !o.contains_key("values") => std::slice::from_ref(e),
            other => values_list(other),
        });
    let has_frames = |st: &&Json<'_>| {
        st.get("frames")
            .and_then(Json::as_array)
            .is_some_and(|f| !f.is_empty())
    };
    let stacktrace = match exceptions.filter(|e| !e.is_empty()) {
        Some(excs) => {
            // Synthetic exceptions get no culprit.
            let last_synthetic = excs
                .last()
                .and_then(|e| e.get("mechanism"))
                .and_then(|m| m.get("synthetic"));
            if last_synthetic.and_then(Json::as_bool) == Some(true) {
                return String::new();
            }
            excs.iter()
                .rev()
                .filter_map(|e| e.get("stacktrace"))
                .find(has_frames)
        }
        None => {
            interface(event, &["stacktrace", "sentry.interfaces.Stacktrace"]).filter(has_frames)
        }
    };
    let from_frames = stacktrace.and_then(|st| stacktrace_culprit(st, view));
    let culprit = from_frames.or_else(|| {
        let request = interface(event, &["request", "sentry.interfaces.Http"])?;
        str_field(request, "url").map(str::to_owned)
    });
    truncate(&culprit.unwrap_or_default(), MAX_CULPRIT)
}

/// The newest in-app frame's culprit, else the newest frame's.
fn stacktrace_culprit(stacktrace: &Json<'_>, view: &EventView<'_>) -> Option<String> {
    let mut default = None;
    for (frame, in_app) in frames_newest_first(stacktrace, view)? {
        let culprit = frame_culprit(frame, view.platform);
        if in_app {
            if culprit.is_some() {
                return culprit;
            }
        } else if default.is_none() {
            default = Some(culprit);
        }
    }
    default.flatten()
}

/// `module in function` (Python and most), `function(module)` (JavaScript), `function`
/// (native).
fn frame_culprit(frame: &Json<'_>, platform: Option<&str>) -> Option<String> {
    let platform = str_field(frame, "platform").or(platform);
    let function = str_field(frame, "function");
    if matches!(platform, Some("objc" | "cocoa" | "native")) {
        return Some(function.unwrap_or("?").to_owned());
    }
    let location = str_field(frame, "module").or_else(|| str_field(frame, "filename"))?;
    Some(match platform {
        Some("javascript" | "node") => format!("{}({location})", function.unwrap_or("?")),
        _ => format!("{location} in {}", function.unwrap_or("?")),
    })
}

/// The frame an error happened in, among frames that pass `keep`: the newest in-app one, else
/// the newest (Sentry's `get_crash_frame_from_event_data`).
fn crash_frame<'a>(view: &EventView<'a>, keep: impl Fn(&Json<'a>) -> bool) -> Option<&'a Json<'a>> {
    let event = view.raw;
    let has_frames = |st: &&Json<'_>| {
        st.get("frames")
            .and_then(Json::as_array)
            .is_some_and(|f| !f.is_empty())
    };
    let exceptions =
        interface(event, &["exception", "sentry.interfaces.Exception"]).map(|e| match e {
            Json::Object(o) if !o.contains_key("values") => std::slice::from_ref(e),
            other => values_list(other),
        });
    let stacktrace = exceptions
        .and_then(|e| e.last())
        .and_then(|e| e.get("stacktrace"))
        .filter(has_frames)
        .or_else(|| {
            interface(event, &["stacktrace", "sentry.interfaces.Stacktrace"]).filter(has_frames)
        })
        .or_else(|| match interface(event, &["threads"]).map(values_list) {
            Some([only]) => only.get("stacktrace").filter(has_frames),
            _ => None,
        })?;
    let mut default = None;
    for (frame, in_app) in frames_newest_first(stacktrace, view)? {
        if !keep(frame) {
            continue;
        }
        if in_app {
            return Some(frame);
        }
        default = default.or(Some(frame));
    }
    default
}

/// The frames of a stack trace (those that are objects), newest first, each with whether it is
/// in-app.
fn frames_newest_first<'a>(
    stacktrace: &'a Json<'a>,
    view: &EventView<'_>,
) -> Option<Vec<(&'a Json<'a>, bool)>> {
    let frames: Vec<&Json<'a>> = stacktrace
        .get("frames")?
        .as_array()?
        .iter()
        .filter(|f| f.is_object())
        .collect();
    let in_app = view.frames_in_app(stacktrace);
    Some(
        frames
            .into_iter()
            .enumerate()
            .rev()
            .map(|(idx, frame)| (frame, in_app.get(idx).copied().unwrap_or(false)))
            .collect(),
    )
}

/// Python's `str.splitlines()[0]`: the text up to the first line break.
fn first_line(s: &str) -> &str {
    s.split([
        '\n', '\r', '\u{0b}', '\u{0c}', '\u{1c}', '\u{1d}', '\u{1e}', '\u{85}', '\u{2028}',
        '\u{2029}',
    ])
    .next()
    .unwrap_or("")
}

/// Sentry's `truncatechars`: at most `max` characters, the last three `...` when cut.
fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_owned();
    }
    let mut out: String = s.chars().take(max.saturating_sub(3)).collect();
    out.push_str("...");
    out
}

/// Sentry's `trim` for metadata strings: at most `max` characters.
fn trim(s: &str, max: usize) -> String {
    truncate(s, max)
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

    #[test]
    fn error_title_is_type_and_first_line_of_value() {
        let s = derive_summary(
            &json!({"exception": {"values": [{"type": "ZeroDivisionError", "value": "division by zero\nmore"}]}}),
        );
        assert_eq!(s.title, "ZeroDivisionError: division by zero");
        assert_eq!(s.metadata["type"], "ZeroDivisionError");
    }

    #[test]
    fn error_without_value_is_just_the_type() {
        let s = derive_summary(&json!({"exception": [{"type": "KeyError", "value": ""}]}));
        assert_eq!(s.title, "KeyError");
    }

    #[test]
    fn long_values_are_truncated() {
        let s = derive_summary(
            &json!({"exception": {"values": [{"type": "E", "value": "x".repeat(300)}]}}),
        );
        assert_eq!(s.title, format!("E: {}...", "x".repeat(97)));
    }

    #[test]
    fn python_culprit_is_module_in_function_of_top_in_app_frame() {
        let s = derive_summary(
            &json!({"platform": "python", "exception": {"values": [{"type": "E", "stacktrace": {"frames": [
            {"module": "shop.views", "function": "checkout", "in_app": true},
            {"module": "django.core", "function": "inner", "abs_path": "/venv/lib/site-packages/django/core.py", "in_app": true}]}}]}}),
        );
        assert_eq!(s.culprit, "shop.views in checkout");
        assert_eq!(s.metadata["function"], "checkout");
    }

    #[test]
    fn javascript_culprit_is_function_of_file() {
        let s = derive_summary(
            &json!({"platform": "node", "exception": {"values": [{"type": "E", "stacktrace": {"frames": [
            {"filename": "/srv/app.js", "function": "loadCart", "in_app": true}]}}]}}),
        );
        assert_eq!(s.culprit, "loadCart(/srv/app.js)");
        assert_eq!(s.location.as_deref(), Some("/srv/app.js"));
    }

    #[test]
    fn transaction_is_the_culprit() {
        let s = derive_summary(
            &json!({"transaction": "shop.tasks.send_invoice", "exception": {"values": [{"type": "E"}]}}),
        );
        assert_eq!(s.culprit, "shop.tasks.send_invoice");
    }

    #[test]
    fn message_title() {
        assert_eq!(
            derive_summary(&json!({"logentry": {"formatted": "  hello\nworld"}})).title,
            "hello"
        );
        assert_eq!(derive_summary(&json!({})).title, "<unlabeled event>");
        assert_eq!(
            derive_summary(&json!("not an object")).title,
            "<unlabeled event>"
        );
    }

    #[test]
    fn csp_title() {
        let s = derive_summary(
            &json!({"csp": {"effective_directive": "script-src", "blocked_uri": "https://YYY"}}),
        );
        assert_eq!(s.title, "Blocked 'script' from 'YYY'");
    }

    #[test]
    fn certificate_reports_are_titled_by_host() {
        let ct = derive_summary(&json!({"expectct": {"hostname": "www.example.com", "port": 443}}));
        assert_eq!(ct.title, "Expect-CT failed for 'www.example.com'");
        assert_eq!(ct.metadata["origin"], "www.example.com");
        assert_eq!(ct.location.as_deref(), Some("www.example.com"));
        let pins = derive_summary(&json!({"hpkp": {"hostname": "shop.example", "known_pins": []}}));
        assert_eq!(
            pins.title,
            "Public key pinning validation failed for 'shop.example'"
        );
    }

    #[test]
    fn synthetic_exception_is_titled_by_function() {
        let s = derive_summary(
            &json!({"exception": {"values": [{"type": "SIGSEGV", "value": "x", "mechanism": {"type": "signal", "synthetic": true},
            "stacktrace": {"frames": [{"function": "crash", "in_app": true}]}}]}}),
        );
        assert_eq!(s.title, "crash");
        assert_eq!(s.culprit, "");
    }
}
