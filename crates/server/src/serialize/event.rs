//! An event as Sentry's `EventSerializer` shows it: the stored (snake_case) event turned into
//! the API's camelCase `entries`, `tags` as `[{key, value}]`, `contexts`, `user`, `sdk`, ….

use serde_json::{json, Map, Value};
use vigil_store::StoredEvent;

use super::iso;

/// Interfaces in the order Sentry lists them (exception or message first).
const ENTRY_ORDER: &[&str] = &[
    "exception",
    "message",
    "logentry",
    "threads",
    "stacktrace",
    "csp",
    "hpkp",
    "expectct",
    "expectstaple",
    "breadcrumbs",
    "request",
    "template",
    "debug_meta",
    "spans",
];

/// Sets `previousEventID`/`nextEventID`: the issue's events just older and newer than this
/// one, so that a reader can step through an issue's events (`null` at either end).
pub fn set_neighbours(body: &mut Value, older: Option<String>, newer: Option<String>) {
    body["nextEventID"] = newer.map(Value::String).unwrap_or(Value::Null);
    body["previousEventID"] = older.map(Value::String).unwrap_or(Value::Null);
}

/// The full event body (`GET …/events/{id}/`, `…/events/latest/`).
pub fn serialize_event(event: &StoredEvent) -> Value {
    let data = &event.data;
    let get = |key: &str| data.get(key).cloned().unwrap_or(Value::Null);
    let mut out = summary_fields(event);
    let obj = out.as_object_mut().expect("summary is an object");
    obj.insert("entries".into(), Value::Array(entries(data)));
    obj.insert(
        "contexts".into(),
        data.get("contexts").cloned().unwrap_or_else(|| json!({})),
    );
    obj.insert("sdk".into(), get("sdk"));
    obj.insert(
        "context".into(),
        data.get("extra").cloned().unwrap_or_else(|| json!({})),
    );
    obj.insert(
        "packages".into(),
        data.get("modules").cloned().unwrap_or_else(|| json!({})),
    );
    obj.insert(
        "metadata".into(),
        data.get("metadata").cloned().unwrap_or_else(|| json!({})),
    );
    obj.insert(
        "errors".into(),
        data.get("errors").cloned().unwrap_or_else(|| json!([])),
    );
    obj.insert(
        "fingerprints".into(),
        data.get("hashes").cloned().unwrap_or_else(|| json!([])),
    );
    obj.insert(
        "groupingConfig".into(),
        data.get("grouping_config")
            .cloned()
            .unwrap_or_else(|| json!({"id": vigil_processing::grouping::CONFIG_ID})),
    );
    obj.insert("dist".into(), get("dist"));
    obj.insert(
        "release".into(),
        match data.get("release").and_then(Value::as_str) {
            Some(version) => json!({"version": version, "shortVersion": version}),
            None => Value::Null,
        },
    );
    obj.insert("environment".into(), get("environment"));
    obj.insert("crashFile".into(), Value::Null);
    obj.insert("userReport".into(), Value::Null);
    obj.insert("sdkUpdates".into(), json!([]));
    obj.insert("nextEventID".into(), Value::Null);
    obj.insert("previousEventID".into(), Value::Null);
    obj.insert(
        "_meta".into(),
        data.get("_meta").cloned().unwrap_or_else(|| json!({})),
    );
    out
}

/// The fields shown in event lists (`GET /issues/{id}/events/`).
pub fn summary_fields(event: &StoredEvent) -> Value {
    let data = &event.data;
    let message = data
        .pointer("/logentry/formatted")
        .or_else(|| data.pointer("/logentry/message"))
        .and_then(Value::as_str)
        .unwrap_or("");
    json!({
        "id": event.event_id,
        "eventID": event.event_id,
        "groupID": event.issue_id.map(|id| id.to_string()),
        "projectID": event.project_id.to_string(),
        "size": event.size,
        "title": event.title,
        "message": if message.is_empty() { event.title.as_str() } else { message },
        "location": data.get("location").cloned().unwrap_or(Value::Null),
        "culprit": event.culprit,
        "platform": event.platform,
        "type": event.event_type,
        "event.type": event.event_type,
        "dateCreated": iso(event.timestamp),
        "dateReceived": iso(event.received),
        "user": user(data),
        "tags": tags(event),
        "crashFile": null,
    })
}

fn tags(event: &StoredEvent) -> Value {
    let mut tags: Vec<(&String, &String)> = event
        .tags
        .iter()
        .filter(|(k, _)| !vigil_processing::tags::is_search_only_tag(k))
        .map(|(k, v)| (k, v))
        .collect();
    tags.sort();
    Value::Array(
        tags.into_iter()
            .map(|(k, v)| json!({"key": k.strip_prefix("sentry:").unwrap_or(k), "value": v}))
            .collect(),
    )
}

pub(super) fn user(data: &Value) -> Value {
    let Some(user) = data.get("user").and_then(Value::as_object) else {
        return Value::Null;
    };
    let field = |k: &str| user.get(k).cloned().unwrap_or(Value::Null);
    json!({
        "id": field("id"),
        "email": field("email"),
        "username": field("username"),
        "ip_address": field("ip_address"),
        "name": field("name"),
        "geo": field("geo"),
        "data": field("data"),
    })
}

/// The interfaces of an event as Sentry's `entries`; transactions share them.
pub(super) fn entries(data: &Value) -> Vec<Value> {
    let mut out = Vec::new();
    for &kind in ENTRY_ORDER {
        let Some(value) = data.get(kind) else {
            continue;
        };
        if value.is_null() {
            continue;
        }
        let entry = match kind {
            "exception" => json!({"type": "exception", "data": exception(value)}),
            "logentry" => json!({"type": "message", "data": message(value)}),
            "message" if data.get("logentry").is_none() => {
                json!({"type": "message", "data": message(value)})
            }
            "message" => continue,
            "stacktrace" => json!({"type": "stacktrace", "data": stacktrace(value)}),
            "threads" => json!({"type": "threads", "data": threads(value)}),
            "breadcrumbs" => {
                let crumbs = values(value);
                if crumbs.is_empty() {
                    continue;
                }
                json!({"type": "breadcrumbs", "data": {"values": crumbs.iter().map(breadcrumb).collect::<Vec<_>>()}})
            }
            "request" => json!({"type": "request", "data": request(value)}),
            "debug_meta" => json!({"type": "debugmeta", "data": value}),
            other => json!({"type": other, "data": value}),
        };
        out.push(entry);
    }
    out
}

/// `{"values": [...]}` or a bare list, as a slice.
fn values(value: &Value) -> Vec<Value> {
    match value {
        Value::Array(items) => items.clone(),
        Value::Object(obj) => obj
            .get("values")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default(),
        _ => Vec::new(),
    }
}

/// `thread_id` → `threadId`: the API's name of a stored field.
fn camel_case(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    let mut upper = false;
    for c in key.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// The fields `keys` of a stored object under their API names, in that order; null where one
/// is missing.
fn camel_fields(from: &Value, keys: &[&str]) -> Map<String, Value> {
    keys.iter()
        .map(|key| {
            (
                camel_case(key),
                from.get(*key).cloned().unwrap_or(Value::Null),
            )
        })
        .collect()
}

/// The stacktrace under `key` in the API's shape; null when there is none.
fn stacktrace_at(from: &Value, key: &str) -> Value {
    from.get(key)
        .filter(|s| !s.is_null())
        .map(stacktrace)
        .unwrap_or(Value::Null)
}

fn exception(value: &Value) -> Value {
    let values: Vec<Value> = values(value)
        .iter()
        .map(|exc| {
            let mut out = camel_fields(exc, &["type", "value", "module", "mechanism", "thread_id"]);
            out.insert("stacktrace".into(), stacktrace_at(exc, "stacktrace"));
            out.insert("rawStacktrace".into(), stacktrace_at(exc, "raw_stacktrace"));
            Value::Object(out)
        })
        .collect();
    let has_system_frames = values.iter().any(|exc| {
        exc.pointer("/stacktrace/frames")
            .and_then(Value::as_array)
            .is_some_and(|frames| {
                frames
                    .iter()
                    .any(|f| f.get("inApp") == Some(&Value::Bool(false)))
            })
    });
    json!({"values": values, "excOmitted": null, "hasSystemFrames": has_system_frames})
}

fn stacktrace(value: &Value) -> Value {
    let frames: Vec<Value> = value
        .get("frames")
        .and_then(Value::as_array)
        .map(|frames| frames.iter().map(frame).collect())
        .unwrap_or_default();
    let has_system_frames = frames
        .iter()
        .any(|f| f.get("inApp") == Some(&Value::Bool(false)));
    json!({
        "frames": frames,
        "framesOmitted": value.get("frames_omitted").cloned().unwrap_or(Value::Null),
        "registers": value.get("registers").cloned().unwrap_or(Value::Null),
        "hasSystemFrames": has_system_frames,
    })
}

/// A frame with its source as `context: [[lineno, line], …]` around `lineNo`.
fn frame(f: &Value) -> Value {
    let field = |k: &str| f.get(k).cloned().unwrap_or(Value::Null);
    let lineno = f.get("lineno").and_then(Value::as_i64);
    let mut context = Vec::new();
    if let Some(lineno) = lineno {
        let pre = f
            .get("pre_context")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let post = f
            .get("post_context")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let start = lineno - pre.len() as i64;
        for (i, line) in pre.into_iter().enumerate() {
            context.push(json!([start + i as i64, line]));
        }
        if let Some(line) = f.get("context_line").filter(|l| !l.is_null()) {
            context.push(json!([lineno, line]));
        }
        for (i, line) in post.into_iter().enumerate() {
            context.push(json!([lineno + 1 + i as i64, line]));
        }
    }
    json!({
        "filename": field("filename"),
        "absPath": field("abs_path"),
        "module": field("module"),
        "package": field("package"),
        "platform": field("platform"),
        "instructionAddr": field("instruction_addr"),
        "symbolAddr": field("symbol_addr"),
        "function": field("function"),
        "rawFunction": field("raw_function"),
        "symbol": field("symbol"),
        "context": context,
        "contextLine": field("context_line"),
        "lineNo": field("lineno"),
        "colNo": field("colno"),
        "inApp": f.get("in_app").and_then(Value::as_bool).unwrap_or(false),
        "trust": field("trust"),
        "errors": null,
        "lock": field("lock"),
        "sourceLink": null,
        "vars": field("vars"),
    })
}

fn threads(value: &Value) -> Value {
    let values: Vec<Value> = values(value)
        .iter()
        .map(|t| {
            let mut out = camel_fields(t, &["id", "name", "crashed", "current", "main", "state"]);
            // A thread that does not say is neither crashed nor current (the map keeps the
            // field where it stands).
            for flag in ["crashed", "current"] {
                if t.get(flag).is_none() {
                    out.insert(flag.into(), Value::Bool(false));
                }
            }
            out.insert("stacktrace".into(), stacktrace_at(t, "stacktrace"));
            out.insert("rawStacktrace".into(), Value::Null);
            Value::Object(out)
        })
        .collect();
    json!({"values": values})
}

fn message(value: &Value) -> Value {
    match value {
        Value::String(s) => json!({"formatted": s, "message": s, "params": null}),
        Value::Object(obj) => json!({
            "formatted": obj.get("formatted").or_else(|| obj.get("message")).cloned().unwrap_or(Value::Null),
            "message": obj.get("message").cloned().unwrap_or(Value::Null),
            "params": obj.get("params").cloned().unwrap_or(Value::Null),
        }),
        other => json!({"formatted": other.to_string(), "message": null, "params": null}),
    }
}

fn breadcrumb(crumb: &Value) -> Value {
    let timestamp = crumb
        .get("timestamp")
        .and_then(vigil_protocol::timestamp::parse_timestamp)
        .map(|ts| Value::String(iso(ts)))
        .unwrap_or(Value::Null);
    json!({
        "type": crumb.get("type").and_then(Value::as_str).unwrap_or("default"),
        "category": crumb.get("category").cloned().unwrap_or(Value::Null),
        "level": crumb.get("level").and_then(Value::as_str).unwrap_or("info"),
        "message": crumb.get("message").cloned().unwrap_or(Value::Null),
        "data": crumb.get("data").cloned().unwrap_or(Value::Null),
        "event_id": crumb.get("event_id").cloned().unwrap_or(Value::Null),
        "timestamp": timestamp,
    })
}

/// Pairs `[[name, value], …]` from an object or a list of pairs, as Sentry's API sends
/// headers, cookies and query strings.
fn pairs(value: Option<&Value>) -> Value {
    match value {
        Some(Value::Object(obj)) => Value::Array(
            obj.iter()
                .map(|(k, v)| {
                    json!([
                        k,
                        v.as_str()
                            .map(str::to_owned)
                            .unwrap_or_else(|| v.to_string())
                    ])
                })
                .collect(),
        ),
        Some(Value::Array(items)) => Value::Array(items.clone()),
        Some(Value::String(s)) if !s.is_empty() => Value::Array(
            url::form_urlencoded::parse(s.as_bytes())
                .map(|(k, v)| json!([k, v]))
                .collect(),
        ),
        _ => Value::Array(Vec::new()),
    }
}

fn request(value: &Value) -> Value {
    let field = |k: &str| value.get(k).cloned().unwrap_or(Value::Null);
    let mut out = Map::new();
    out.insert("apiTarget".into(), field("api_target"));
    out.insert("method".into(), field("method"));
    out.insert("url".into(), field("url"));
    out.insert("query".into(), pairs(value.get("query_string")));
    out.insert("fragment".into(), field("fragment"));
    out.insert("data".into(), field("data"));
    out.insert("headers".into(), pairs(value.get("headers")));
    out.insert("cookies".into(), pairs(value.get("cookies")));
    out.insert("env".into(), field("env"));
    out.insert("inferredContentType".into(), field("inferred_content_type"));
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_context_is_numbered_around_the_line() {
        let f = json!({"lineno": 10, "pre_context": ["a", "b"], "context_line": "c", "post_context": ["d"], "in_app": true});
        let out = frame(&f);
        assert_eq!(
            out["context"],
            json!([[8, "a"], [9, "b"], [10, "c"], [11, "d"]])
        );
        assert_eq!(out["lineNo"], 10);
        assert_eq!(out["inApp"], true);
    }

    /// The field names of the first item of `{"values": [...]}`, in order, joined by spaces.
    fn first_item_fields(list: &Value) -> String {
        list["values"][0]
            .as_object()
            .map(|o| o.keys().map(String::as_str).collect::<Vec<_>>().join(" "))
            .unwrap_or_default()
    }

    #[test]
    fn exceptions_and_threads_keep_sentrys_field_order_and_defaults() {
        let exc =
            exception(&json!({"values": [{"type": "E", "thread_id": 3, "stacktrace": null}]}));
        assert_eq!(
            first_item_fields(&exc),
            "type value module mechanism threadId stacktrace rawStacktrace"
        );
        assert_eq!(exc["values"][0]["threadId"], 3);
        assert_eq!(exc["values"][0]["stacktrace"], Value::Null);

        let threads = threads(&json!([{"id": 1, "crashed": true}, {"id": 2, "current": null}]));
        assert_eq!(
            first_item_fields(&threads),
            "id name crashed current main state stacktrace rawStacktrace"
        );
        assert_eq!(threads["values"][0]["crashed"], true);
        assert_eq!(threads["values"][0]["current"], false);
        assert_eq!(threads["values"][1]["crashed"], false);
        assert_eq!(threads["values"][1]["current"], Value::Null);
    }

    #[test]
    fn headers_become_pairs() {
        assert_eq!(pairs(Some(&json!({"Host": "x"}))), json!([["Host", "x"]]));
        assert_eq!(
            pairs(Some(&json!("a=1&b=2"))),
            json!([["a", "1"], ["b", "2"]])
        );
    }
}
