//! A tolerant read of the parts of an event that grouping and titles look at.
//!
//! `group_event` and `derive_summary` get normalized events, but must also cope with raw SDK
//! payloads: `exception` as `{"values": [...]}` or a bare list, legacy `sentry.interfaces.*`
//! keys, a top-level `stacktrace` that Relay would move into the only exception, `message` as a
//! string or an object, and fields of the wrong type. Everything here reads JSON and never
//! panics; anything unreadable is treated as absent.

use std::borrow::Cow;
use std::cell::OnceCell;

use super::enhancers::{self, FrameVerdict};
use crate::json::Json;

/// The interfaces of an event, each looked up under its current and legacy names.
pub struct EventView<'a> {
    pub raw: &'a Json<'a>,
    pub platform: Option<&'a str>,
    pub exceptions: Vec<ExceptionView<'a>>,
    /// Top-level stack trace, when Relay would not have moved it into an exception.
    pub stacktrace: Option<StacktraceView<'a>>,
    pub threads: Vec<&'a Json<'a>>,
    pub logentry: Option<LogEntry<'a>>,
    pub template: Option<&'a Json<'a>>,
    pub csp: Option<&'a Json<'a>>,
    /// A certificate report (HPKP, Expect-CT, Expect-Staple): its kind and its interface.
    pub certificate: Option<(CertificateReport, &'a Json<'a>)>,
}

/// The security reports about a host's certificate, each Sentry's interface of its own
/// (`hpkp`, `expectct`, `expectstaple`), grouped and titled alike by the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CertificateReport {
    Hpkp,
    ExpectCt,
    ExpectStaple,
}

impl CertificateReport {
    /// Every kind, in Sentry's order of precedence (`SecurityReportType::from_json`).
    pub const ALL: [CertificateReport; 3] = [
        CertificateReport::Hpkp,
        CertificateReport::ExpectStaple,
        CertificateReport::ExpectCt,
    ];

    /// The event's field (and event type) holding the report.
    pub fn interface(self) -> &'static str {
        match self {
            CertificateReport::Hpkp => "hpkp",
            CertificateReport::ExpectCt => "expectct",
            CertificateReport::ExpectStaple => "expectstaple",
        }
    }

    /// The id of Sentry's grouping strategy (`hpkp:v1`, `expect-ct:v1`, `expect-staple:v1`),
    /// which is also the component's id and its salt.
    pub fn strategy(self) -> &'static str {
        match self {
            CertificateReport::Hpkp => "hpkp",
            CertificateReport::ExpectCt => "expect-ct",
            CertificateReport::ExpectStaple => "expect-staple",
        }
    }

    /// Sentry's message (and so the title) for a report about `hostname`.
    pub fn message(self, hostname: &str) -> String {
        match self {
            CertificateReport::Hpkp => {
                format!("Public key pinning validation failed for '{hostname}'")
            }
            CertificateReport::ExpectCt => format!("Expect-CT failed for '{hostname}'"),
            CertificateReport::ExpectStaple => format!("Expect-Staple failed for '{hostname}'"),
        }
    }
}

/// One exception of the chain, oldest first as SDKs send them. `ty` and `value` borrow from the
/// event unless they had to be written out (numbers, `Type: value` split by Relay's rule).
pub struct ExceptionView<'a> {
    pub ty: Option<Cow<'a, str>>,
    pub value: Option<Cow<'a, str>>,
    pub mechanism: Option<&'a Json<'a>>,
    pub stacktrace: Option<StacktraceView<'a>>,
}

/// A stack trace: frames oldest call first, crashing frame last.
#[derive(Clone)]
pub struct StacktraceView<'a> {
    /// The stack trace as sent, so that a reader holding the JSON can find this view again.
    pub raw: &'a Json<'a>,
    pub frames: Vec<FrameView<'a>>,
    /// The built-in rules' verdicts, computed on first use: grouping and the culprit both need
    /// them, and running the rules is the dearest step of grouping. Keyed by the family of the
    /// event's platform, the only thing outside the frames that the rules look at.
    verdicts: OnceCell<(Family, Vec<FrameVerdict>)>,
}

/// The fields of a frame that grouping and culprits read.
#[derive(Clone, Debug, Default)]
pub struct FrameView<'a> {
    pub abs_path: Option<&'a str>,
    pub filename: Option<&'a str>,
    pub module: Option<&'a str>,
    pub function: Option<&'a str>,
    pub raw_function: Option<&'a str>,
    pub package: Option<&'a str>,
    pub platform: Option<&'a str>,
    pub context_line: Option<&'a str>,
    pub lineno: Option<&'a Json<'a>>,
    pub colno: Option<&'a Json<'a>>,
    pub in_app: Option<bool>,
    pub has_sourcemap: bool,
    pub has_surrounding_context: bool,
}

/// The message slot (`logentry`, legacy `sentry.interfaces.Message`, or top-level `message`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LogEntry<'a> {
    /// The template (`Failed to charge user %s`), when the SDK sent one.
    pub message: Option<Cow<'a, str>>,
    /// The message as the user saw it.
    pub formatted: Option<Cow<'a, str>>,
}

/// `event[key]` under the first of `keys` that is present and not null.
pub fn interface<'a>(event: &'a Json<'a>, keys: &[&str]) -> Option<&'a Json<'a>> {
    keys.iter()
        .find_map(|k| event.get(*k).filter(|v| !v.is_null()))
}

/// A string field; empty strings count as absent, as they do for Sentry's `get_path(...) or`.
pub fn str_field<'a>(v: &'a Json<'_>, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Json::as_str).filter(|s| !s.is_empty())
}

/// The list under `values` of an interface that may also be sent as a bare list.
pub fn values_list<'v, 'a>(v: &'v Json<'a>) -> &'v [Json<'a>] {
    match v {
        Json::Array(items) => items,
        Json::Object(_) => v
            .get("values")
            .and_then(Json::as_array)
            .map(Vec::as_slice)
            .unwrap_or(&[]),
        _ => &[],
    }
}

/// Renders a scalar the way it would have been written as text (numbers, bools); a string
/// stays borrowed.
fn scalar_text<'a>(v: &'a Json<'_>) -> Option<Cow<'a, str>> {
    match v {
        Json::String(s) => Some(Cow::Borrowed(s)),
        Json::Number(n) => Some(Cow::Owned(n.to_string())),
        Json::Bool(b) => Some(Cow::Owned(b.to_string())),
        _ => None,
    }
}

impl<'a> EventView<'a> {
    pub fn new(raw: &'a Json<'a>) -> Self {
        let platform = str_field(raw, "platform");
        let mut exceptions: Vec<ExceptionView<'a>> =
            interface(raw, &["exception", "sentry.interfaces.Exception"])
                .map(|v| match v {
                    // raven sent a single exception object without `values`
                    Json::Object(o) if !o.contains_key("values") => std::slice::from_ref(v),
                    _ => values_list(v),
                })
                .unwrap_or(&[])
                .iter()
                .filter_map(ExceptionView::new)
                .collect();

        let mut stacktrace = interface(raw, &["stacktrace", "sentry.interfaces.Stacktrace"])
            .map(StacktraceView::new);
        // Relay moves a top-level stack trace into the only exception when it has none.
        if exceptions.len() == 1 && exceptions[0].stacktrace.is_none() && stacktrace.is_some() {
            exceptions[0].stacktrace = stacktrace.take();
        }

        let threads = interface(raw, &["threads", "sentry.interfaces.Threads"])
            .map(values_list)
            .unwrap_or(&[]);
        EventView {
            raw,
            platform,
            exceptions,
            stacktrace,
            threads: threads.iter().filter(|t| t.is_object()).collect(),
            logentry: read_logentry(raw),
            template: interface(raw, &["template", "sentry.interfaces.Template"])
                .filter(|v| v.is_object()),
            csp: interface(raw, &["csp", "sentry.interfaces.Csp"]).filter(|v| v.is_object()),
            certificate: CertificateReport::ALL.into_iter().find_map(|kind| {
                interface(raw, &[kind.interface()])
                    .filter(|v| v.is_object())
                    .map(|v| (kind, v))
            }),
        }
    }
}

impl EventView<'_> {
    /// The in-app flag of each frame of `stacktrace` after the built-in rules, as Sentry writes
    /// it back into the event before deriving culprits and titles. `stacktrace` is a stack trace
    /// of this event; when this view already read it, its cached verdicts are reused.
    pub fn frames_in_app(&self, stacktrace: &Json<'_>) -> Vec<bool> {
        let known = self
            .exceptions
            .iter()
            .filter_map(|e| e.stacktrace.as_ref())
            .chain(&self.stacktrace)
            .find(|st| std::ptr::eq(st.raw, stacktrace));
        match known {
            Some(st) => st.in_app(self.platform),
            None => StacktraceView::new(stacktrace).in_app(self.platform),
        }
    }
}

impl<'a> ExceptionView<'a> {
    fn new(v: &'a Json<'a>) -> Option<Self> {
        let mut ty = v
            .get("type")
            .and_then(scalar_text)
            .filter(|s| !s.is_empty());
        let mut value = v.get("value").and_then(|x| match x {
            Json::Null => None,
            other => scalar_text(other).or_else(|| Some(Cow::Owned(other.to_string()))),
        });
        // Relay splits `"TypeError: x"` into type and value when the type is missing.
        if ty.is_none() {
            if let Some((t, rest)) = value.as_deref().and_then(split_type_prefix) {
                let (t, rest) = (t.to_owned(), rest.to_owned());
                ty = Some(Cow::Owned(t));
                value = Some(Cow::Owned(rest));
            }
        }
        // Relay drops exceptions that have neither a type nor a value.
        if ty.is_none() && value.as_deref().is_none_or(str::is_empty) {
            return None;
        }
        Some(ExceptionView {
            ty,
            value,
            mechanism: v.get("mechanism").filter(|m| m.is_object()),
            stacktrace: v
                .get("stacktrace")
                .filter(|s| s.is_object())
                .map(StacktraceView::new),
        })
    }

    /// `mechanism.<key>` as a bool (false when absent).
    pub fn mechanism_flag(&self, key: &str) -> bool {
        self.mechanism
            .and_then(|m| m.get(key))
            .and_then(Json::as_bool)
            .unwrap_or(false)
    }

    /// `mechanism.<key>` as an integer id (`exception_id`, `parent_id`).
    pub fn mechanism_id(&self, key: &str) -> Option<i64> {
        self.mechanism
            .and_then(|m| m.get(key))
            .and_then(Json::as_i64)
    }
}

/// `Name: rest` → (`Name`, `rest`) when `Name` is a single word, as Relay does.
fn split_type_prefix(value: &str) -> Option<(&str, &str)> {
    let (head, rest) = value.split_once(':')?;
    let word = !head.is_empty() && head.chars().all(|c| c.is_alphanumeric() || c == '_');
    word.then(|| (head, rest.trim()))
}

impl<'a> StacktraceView<'a> {
    pub fn new(v: &'a Json<'a>) -> Self {
        let frames = match v.get("frames") {
            Some(Json::Array(frames)) => frames
                .iter()
                .filter(|f| f.is_object())
                .map(FrameView::new)
                .collect(),
            _ => Vec::new(),
        };
        StacktraceView {
            raw: v,
            frames,
            verdicts: OnceCell::new(),
        }
    }

    /// What the built-in rules decided for each frame (see [`enhancers::apply`]).
    pub fn verdicts(&self, event_platform: Option<&str>) -> Cow<'_, [FrameVerdict]> {
        let family = Family::of(event_platform);
        let (cached_for, verdicts) = self
            .verdicts
            .get_or_init(|| (family, enhancers::apply(&self.frames, event_platform)));
        if *cached_for == family {
            Cow::Borrowed(verdicts)
        } else {
            Cow::Owned(enhancers::apply(&self.frames, event_platform))
        }
    }

    /// Whether each frame is in-app: a rule's verdict, else the SDK's flag, else not.
    pub fn in_app(&self, event_platform: Option<&str>) -> Vec<bool> {
        self.frames
            .iter()
            .zip(self.verdicts(event_platform).iter())
            .map(|(f, v)| v.in_app.map(|(app, _)| app).or(f.in_app).unwrap_or(false))
            .collect()
    }
}

impl<'a> FrameView<'a> {
    /// Reads a frame object in one pass over its keys: stack traces run to hundreds of frames,
    /// and a lookup per field would hash every key name again for each of them.
    fn new(v: &'a Json<'a>) -> Self {
        let mut frame = FrameView::default();
        let Some(object) = v.as_object() else {
            return frame;
        };
        let text = |x: &'a Json<'a>| x.as_str().filter(|s| !s.is_empty());
        let non_empty_list = |x: &Json<'_>| x.as_array().is_some_and(|a| !a.is_empty());
        for (key, x) in object {
            match key {
                "abs_path" => frame.abs_path = text(x),
                "filename" => frame.filename = text(x),
                "module" => frame.module = text(x),
                "function" => frame.function = text(x),
                "raw_function" => frame.raw_function = text(x),
                "package" => frame.package = text(x),
                "platform" => frame.platform = text(x),
                "context_line" => frame.context_line = x.as_str(),
                "lineno" => frame.lineno = Some(x).filter(|x| !x.is_null()),
                "colno" => frame.colno = Some(x).filter(|x| !x.is_null()),
                "in_app" => frame.in_app = x.as_bool(),
                "data" => {
                    frame.has_sourcemap = x.get("sourcemap").is_some_and(|s| !s.is_null());
                }
                "pre_context" | "post_context" => {
                    frame.has_surrounding_context |= non_empty_list(x);
                }
                _ => {}
            }
        }
        frame
    }
}

/// The message slot under any of its spellings.
pub fn read_logentry<'a>(event: &'a Json<'_>) -> Option<LogEntry<'a>> {
    let slot = interface(event, &["logentry", "sentry.interfaces.Message"]).or_else(|| {
        event
            .get("message")
            .filter(|m| !matches!(m, Json::Null | Json::Bool(false)))
    })?;
    let entry = match slot {
        Json::Object(_) => {
            let text = |key: &str| {
                slot.get(key)
                    .and_then(scalar_text)
                    .filter(|s| !s.is_empty())
            };
            LogEntry {
                message: text("message"),
                formatted: text("formatted"),
            }
        }
        Json::String(s) => LogEntry {
            message: None,
            formatted: Some(Cow::Borrowed(s.as_ref())).filter(|s| !s.is_empty()),
        },
        other => LogEntry {
            message: None,
            formatted: Some(Cow::Owned(other.to_string())),
        },
    };
    (entry.message.is_some() || entry.formatted.is_some()).then_some(entry)
}

/// The family of a platform that decides platform-specific grouping (Sentry's
/// `get_behavior_family_for_platform`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    Native,
    JavaScript,
    Other,
}

impl Family {
    pub fn of(platform: Option<&str>) -> Family {
        match platform {
            Some("objc" | "cocoa" | "swift" | "native" | "c") => Family::Native,
            Some("javascript" | "node") => Family::JavaScript,
            _ => Family::Other,
        }
    }
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
    fn exception_as_bare_list_and_legacy_key() {
        let e = json!({"sentry.interfaces.Exception": [{"type": "A", "value": "b"}]});
        let view = EventView::new(&e);
        assert_eq!(view.exceptions.len(), 1);
        assert_eq!(view.exceptions[0].ty.as_deref(), Some("A"));
    }

    #[test]
    fn top_level_stacktrace_moves_into_only_exception() {
        let e = json!({"exception": {"type": "A"}, "stacktrace": {"frames": [{"function": "f"}]}});
        let view = EventView::new(&e);
        assert!(view.stacktrace.is_none());
        assert_eq!(
            view.exceptions[0]
                .stacktrace
                .as_ref()
                .map(|s| s.frames.len()),
            Some(1)
        );
    }

    #[test]
    fn type_is_split_from_value() {
        let e = json!({"exception": {"values": [{"value": "TypeError: x is undefined"}]}});
        let view = EventView::new(&e);
        assert_eq!(view.exceptions[0].ty.as_deref(), Some("TypeError"));
        assert_eq!(view.exceptions[0].value.as_deref(), Some("x is undefined"));
    }

    #[test]
    fn message_spellings() {
        assert_eq!(
            read_logentry(&json!({"message": "hi"})).and_then(|l| l.formatted),
            Some("hi".into())
        );
        let e = json!({"logentry": {"message": "a %s", "params": [1]}});
        let l = read_logentry(&e).unwrap_or_default();
        assert_eq!(l.message.as_deref(), Some("a %s"));
        assert!(read_logentry(&json!({"message": false})).is_none());
    }

    #[test]
    fn wrong_types_are_absent() {
        let e =
            json!({"exception": 5, "stacktrace": "x", "threads": {"values": 3}, "logentry": []});
        let view = EventView::new(&e);
        assert!(view.exceptions.is_empty() && view.threads.is_empty());
    }
}
