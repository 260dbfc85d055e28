//! Client fingerprints (`fingerprint` in the event) and their variables.
//!
//! A fingerprint replaces default grouping; `{{ default }}` in it stands for the default
//! grouping's values, and other `{{ var }}` placeholders are filled from the event
//! (`{{ transaction }}`, `{{ type }}`, `{{ tags.NAME }}`, …) as Sentry's
//! `resolve_fingerprint_values` does.

use std::sync::LazyLock;

use regex::Regex;

use super::input::{str_field, EventView};
use crate::json::Json;

static VARIABLE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\{\{\s*(\S+?)\s*\}\}").expect("valid regex"));
static DEFAULT: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^\{\{\s*default\s*\}\}$").expect("valid regex"));

/// The event's fingerprint as strings; absent, empty or unreadable means `["{{ default }}"]`.
pub fn event_fingerprint(event: &Json<'_>) -> Vec<String> {
    let entries: Vec<String> = event
        .get("fingerprint")
        .and_then(Json::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(|v| match v {
                    Json::String(s) => Some(s.as_ref().to_owned()),
                    Json::Number(n) => Some(n.to_string()),
                    Json::Bool(b) => Some(if *b { "True" } else { "False" }.to_owned()),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default();
    if entries.is_empty() {
        vec!["{{ default }}".to_owned()]
    } else {
        entries
    }
}

/// Whether an entry is the `{{ default }}` placeholder.
pub fn is_default(entry: &str) -> bool {
    DEFAULT.is_match(entry)
}

/// Fills the variables of every entry but `{{ default }}`; unknown variables stay as written.
pub fn resolve(entries: &[String], view: &EventView<'_>) -> Vec<String> {
    entries
        .iter()
        .map(|entry| {
            if is_default(entry) {
                return entry.clone();
            }
            VARIABLE
                .replace_all(entry, |caps: &regex::Captures<'_>| {
                    variable_value(&caps[1], view).unwrap_or_else(|| caps[0].to_owned())
                })
                .into_owned()
        })
        .collect()
}

fn variable_value(var: &str, view: &EventView<'_>) -> Option<String> {
    let event = view.raw;
    let last = view.exceptions.last();
    let frame = crash_frame(view);
    let frame_field = |key: &str| frame.and_then(|f| str_field(f, key)).map(str::to_owned);
    let or = |v: Option<String>, missing: &str| {
        Some(
            v.filter(|s| !s.is_empty())
                .unwrap_or_else(|| missing.to_owned()),
        )
    };
    match var {
        "transaction" => or(
            str_field(event, "transaction").map(str::to_owned),
            "<no-transaction>",
        ),
        "message" => or(
            view.logentry
                .as_ref()
                .and_then(|l| l.formatted.as_deref().or(l.message.as_deref()))
                .or_else(|| last.and_then(|e| e.value.as_deref()))
                .map(str::to_owned),
            "<no-message>",
        ),
        "type" | "error.type" => or(
            last.and_then(|e| e.ty.as_deref()).map(str::to_owned),
            "<no-type>",
        ),
        "value" | "error.value" => or(
            last.and_then(|e| e.value.as_deref()).map(str::to_owned),
            "<no-value>",
        ),
        "function" | "stack.function" => or(frame_field("function"), "<no-function>"),
        "path" | "stack.abs_path" => or(
            frame_field("abs_path").or_else(|| frame_field("filename")),
            "<no-abs-path>",
        ),
        "stack.filename" => or(frame_field("filename"), "<no-filename>"),
        "module" | "stack.module" => or(frame_field("module"), "<no-module>"),
        "package" | "stack.package" => or(
            frame_field("package").map(|p| p.rsplit(['/', '\\']).next().unwrap_or(&p).to_owned()),
            "<no-package>",
        ),
        "level" => or(str_field(event, "level").map(str::to_owned), "<no-level>"),
        "logger" => or(str_field(event, "logger").map(str::to_owned), "<no-logger>"),
        _ => {
            let tag = var.strip_prefix("tags.")?;
            Some(tag_value(event, tag).unwrap_or_else(|| format!("<no-value-for-tag-{tag}>")))
        }
    }
}

/// A tag's value from `tags` as a list of pairs or an object.
fn tag_value(event: &Json<'_>, tag: &str) -> Option<String> {
    let text = |v: &Json<'_>| match v {
        Json::String(s) => Some(s.as_ref().to_owned()),
        Json::Null => None,
        other => Some(other.to_string()),
    };
    match event.get("tags")? {
        Json::Array(pairs) => pairs
            .iter()
            .find_map(|p| match p.as_array().map(Vec::as_slice) {
                Some([k, v]) if k.as_str() == Some(tag) => text(v),
                _ => None,
            }),
        Json::Object(map) => map.get(tag).and_then(text),
        _ => None,
    }
}

/// The frame an error happened in (Sentry's `get_crash_frame_from_event_data`): the newest
/// in-app frame, else the newest frame, of the last exception (or the event's stack trace, or
/// its only thread).
pub fn crash_frame<'a>(view: &EventView<'a>) -> Option<&'a Json<'a>> {
    crash_frame_filtered(view.raw, |_| true)
}

/// [`crash_frame`] among frames that pass `keep`.
pub fn crash_frame_filtered<'a>(
    event: &'a Json<'a>,
    keep: impl Fn(&Json<'a>) -> bool,
) -> Option<&'a Json<'a>> {
    let frames_of = |st: Option<&'a Json<'a>>| {
        st.and_then(|s| s.get("frames"))
            .and_then(Json::as_array)
            .filter(|f| !f.is_empty())
    };
    let exceptions = super::input::interface(event, &["exception", "sentry.interfaces.Exception"]);
    let last_exception = exceptions.and_then(|e| match e {
        Json::Object(o) if !o.contains_key("values") => Some(e),
        other => super::input::values_list(other).last(),
    });
    let frames = frames_of(last_exception.and_then(|e| e.get("stacktrace")))
        .or_else(|| {
            frames_of(super::input::interface(
                event,
                &["stacktrace", "sentry.interfaces.Stacktrace"],
            ))
        })
        .or_else(|| {
            let threads =
                super::input::interface(event, &["threads"]).map(super::input::values_list)?;
            match threads {
                [only] => frames_of(only.get("stacktrace")),
                _ => None,
            }
        })?;
    let mut default = None;
    for frame in frames.iter().rev().filter(|f| f.is_object() && keep(f)) {
        if frame.get("in_app").and_then(Json::as_bool) == Some(true) {
            return Some(frame);
        }
        default = default.or(Some(frame));
    }
    default
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
    fn default_placeholder_spellings() {
        assert!(is_default("{{ default }}") && is_default("{{default}}"));
        assert!(!is_default("{{ default }} x"));
    }

    #[test]
    fn variables_are_resolved() {
        let event = json!({"transaction": "/checkout", "level": "error", "tags": [["region", "eu"]],
            "exception": {"values": [{"type": "E", "value": "v", "stacktrace": {"frames": [{"function": "f", "in_app": true}]}}]}});
        let view = EventView::new(&event);
        let entries: Vec<String> = [
            "{{ transaction }}",
            "{{ type }}",
            "{{function}}",
            "{{ tags.region }}",
            "{{ tags.x }}",
            "{{ nope }}",
            "x-{{ level }}",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        assert_eq!(
            resolve(&entries, &view),
            vec![
                "/checkout",
                "E",
                "f",
                "eu",
                "<no-value-for-tag-x>",
                "{{ nope }}",
                "x-error"
            ]
        );
    }

    #[test]
    fn missing_fingerprint_is_default() {
        assert_eq!(
            event_fingerprint(&json!({"fingerprint": []})),
            vec!["{{ default }}"]
        );
        assert_eq!(
            event_fingerprint(&json!({"fingerprint": ["a", 1]})),
            vec!["a", "1"]
        );
    }
}
