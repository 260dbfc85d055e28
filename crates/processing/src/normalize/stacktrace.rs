//! Stack traces and their frames, wherever they appear (an exception, a thread, the event).
//!
//! What grouping and the UI read from a frame must have one spelling: `filename` is the short
//! name, `abs_path` the full path or URL (Relay's `process_non_raw_frame`), so a browser frame
//! sent as `filename: "http://host/app.js"` becomes `abs_path` = the URL and `filename` =
//! `/app.js`. Frame `vars` are a databag with Relay's "medium" bound, and very long traces are
//! cut and slimmed the way Relay's trimming does it.

use crate::json::{Json, Object, Str};

use super::errors::EventErrors;
use super::limits::{self, dispose};
use super::shape::drop_unless;
use super::value::{is_empty, join, remove_nulls};

/// Frames kept at most, the newest ones (Relay's hard limit).
const MAX_FRAMES: usize = 250;
/// Frames beyond this many lose `vars` and context lines in the middle of the trace (Sentry's
/// `slim_frame_data`).
const FRAME_ALLOWANCE: usize = 50;

/// Normalizes the stack trace at `value`; `false` when it is unusable and must be removed.
///
/// `raw` is set for `raw_stacktrace`, which keeps the frames exactly as the SDK sent them
/// (Relay applies the path fix-up to processed frames only).
pub(crate) fn normalize_stacktrace(
    value: &mut Json<'_>,
    path: &str,
    raw: bool,
    errors: &mut EventErrors,
) -> bool {
    let Json::Object(st) = value else {
        if !value.is_null() {
            errors.invalid(path, Some(value));
        }
        return false;
    };
    remove_nulls(st);
    let frames = match st.shift_remove("frames") {
        Some(Json::Array(frames)) => frames,
        Some(other) => {
            errors.discard(&join(path, "frames"), other);
            return false;
        }
        None => {
            // No frames at all: nothing to show or group by.
            return false;
        }
    };

    let frames_path = join(path, "frames");
    let mut kept = Vec::with_capacity(frames.len().min(MAX_FRAMES));
    let skip = frames.len().saturating_sub(MAX_FRAMES);
    for (i, frame) in frames.into_iter().enumerate() {
        if i < skip {
            dispose(frame);
            continue;
        }
        match frame {
            Json::Object(mut frame) => {
                if !frame_is_normal(&frame, raw) {
                    normalize_frame(&mut frame, &join(&frames_path, i), raw, errors);
                }
                kept.push(Json::Object(frame));
            }
            other => {
                errors.discard(&join(&frames_path, i), other);
            }
        }
    }
    slim_frames(&mut kept);
    st.insert("frames", Json::Array(kept));
    true
}

/// Longest frame paths and function names (characters) and how far past that they are kept.
const PATH_CHARS: (usize, usize) = (256, 40);
const FUNCTION_CHARS: (usize, usize) = (256, 20);

/// Whether [`normalize_frame`] would leave `frame` exactly as it is: no nulls, every known
/// field of its type and within its length, no `vars` (which it moves to the end), and paths
/// that `fix_paths` has nothing to fill in. Most frames SDKs send are like that, and one pass
/// over their keys is much cheaper than the two dozen lookups of the repair.
fn frame_is_normal<'a>(frame: &Object<'a>, raw: bool) -> bool {
    let mut abs_path = None;
    let mut filename = None;
    // Bytes bound characters from above: a string this short in bytes is never trimmed.
    let short = |v: &Json<'a>, (max, allowance): (usize, usize)| matches!(v, Json::String(s) if s.len() <= max + allowance);
    for (key, value) in frame {
        let normal = match key {
            _ if value.is_null() => false,
            "abs_path" => {
                abs_path = value.as_str();
                short(value, PATH_CHARS)
            }
            "filename" => {
                filename = value.as_str();
                short(value, PATH_CHARS)
            }
            "function" | "raw_function" | "symbol" => short(value, FUNCTION_CHARS),
            "module" | "package" | "context_line" => value.is_string(),
            "lineno" | "colno" => matches!(value, Json::Number(n) if n.as_u64().is_some()),
            "in_app" => value.is_boolean(),
            "pre_context" | "post_context" => {
                matches!(value, Json::Array(lines) if lines.iter().all(Json::is_string))
            }
            "vars" => false,
            _ => true,
        };
        if !normal {
            return false;
        }
    }
    // `fix_paths` moves a lone `filename` to `abs_path` and derives a missing `filename`.
    raw || ((abs_path.is_some_and(|p| !p.is_empty()) || filename.is_none())
        && (filename.is_some_and(|f| !f.is_empty()) || abs_path.is_none()))
}

fn normalize_frame(frame: &mut Object<'_>, path: &str, raw: bool, errors: &mut EventErrors) {
    remove_nulls(frame);
    for key in [
        "filename",
        "abs_path",
        "function",
        "raw_function",
        "symbol",
        "module",
        "package",
        "context_line",
    ] {
        drop_unless(frame, key, path, errors, Json::is_string);
    }
    for key in ["lineno", "colno"] {
        match frame.get(key) {
            Some(Json::Number(n)) if n.as_u64().is_some() => {}
            Some(Json::String(s)) if s.parse::<u64>().is_ok() => {
                let n = s.parse::<u64>().unwrap_or_default();
                frame.insert(key, Json::from(n));
            }
            Some(_) => {
                let v = frame.shift_remove(key);
                errors.invalid(&join(path, key), v.as_ref());
            }
            None => {}
        }
    }
    if frame.get("in_app").is_some_and(|v| !v.is_boolean()) {
        let v = frame.shift_remove("in_app");
        errors.invalid(&join(path, "in_app"), v.as_ref());
    }
    for key in ["pre_context", "post_context"] {
        if let Some(Json::Array(lines)) = frame.get_mut(key) {
            // Lines the SDK could not read come as null; Sentry shows them as empty lines.
            for line in lines.iter_mut() {
                if !line.is_string() {
                    *line = Json::from(String::new());
                }
            }
        } else if frame.contains_key(key) {
            let v = frame.shift_remove(key);
            errors.invalid(&join(path, key), v.as_ref());
        }
    }

    normalize_vars(frame, path, errors);
    if !raw {
        fix_paths(frame);
    }

    let (max, allowance) = PATH_CHARS;
    limits::trim_field(frame, "filename", max, allowance);
    limits::trim_field(frame, "abs_path", max, allowance);
    let (max, allowance) = FUNCTION_CHARS;
    for key in ["function", "raw_function", "symbol"] {
        limits::trim_field(frame, key, max, allowance);
    }
}

/// `vars` is an object of locals; a list (some SDKs send positional arguments) becomes
/// `{"0": …, "1": …}`.
fn normalize_vars(frame: &mut Object<'_>, path: &str, errors: &mut EventErrors) {
    let Some(vars) = frame.shift_remove("vars") else {
        return;
    };
    let mut vars = match vars {
        Json::Object(map) => Json::Object(map),
        Json::Array(items) => Json::Object(
            items
                .into_iter()
                .enumerate()
                .map(|(i, v)| (i.to_string(), v))
                .collect(),
        ),
        other => {
            errors.discard(&join(path, "vars"), other);
            return;
        }
    };
    if limits::trim_databag(&mut vars, limits::MEDIUM) {
        frame.insert("vars", vars);
    }
}

/// Relay's `process_non_raw_frame`: a frame with only a `filename` gets it as `abs_path`, and a
/// URL `abs_path` gives the frame its path as `filename`.
fn fix_paths(frame: &mut Object<'_>) {
    if frame.get("abs_path").is_none_or(is_empty) {
        if let Some(filename) = frame.shift_remove("filename") {
            frame.insert("abs_path", filename);
        }
    }
    if frame.get("filename").is_none_or(is_empty) {
        let Some(Json::String(abs_path)) = frame.get("abs_path") else {
            return;
        };
        let mut filename = abs_path.clone();
        if is_url(abs_path) {
            if let Ok(url) = url::Url::parse(abs_path) {
                let path = url.path();
                if !path.is_empty() && path != "/" {
                    filename = Str::Owned(path.to_owned());
                }
            }
        }
        frame.insert("filename", Json::String(filename));
    }
}

fn is_url(path: &str) -> bool {
    ["file:", "http:", "https:", "applewebdata:"]
        .iter()
        .any(|scheme| path.starts_with(scheme))
}

/// Past [`FRAME_ALLOWANCE`] frames, keeps the details of the frames at both ends of the trace
/// (where the crash and the entry point are) and drops `vars` and context lines in between,
/// system frames first.
fn slim_frames<'a>(frames: &mut [Json<'a>]) {
    let len = frames.len();
    if len <= FRAME_ALLOWANCE {
        return;
    }
    let is_app = |f: &Json<'a>| f.get("in_app").and_then(Json::as_bool) == Some(true);
    let app: Vec<usize> = (0..len).filter(|&i| is_app(&frames[i])).collect();
    let system: Vec<usize> = (0..len).filter(|&i| !is_app(&frames[i])).collect();

    let system_half = FRAME_ALLOWANCE.saturating_sub(app.len()) / 2;
    let system_slim = system
        .get(system_half..system.len().saturating_sub(system_half))
        .unwrap_or(&[]);
    let remaining = len
        .saturating_sub(FRAME_ALLOWANCE)
        .saturating_sub(system_slim.len());
    let app_half = app.len().saturating_sub(remaining) / 2;
    let app_slim = app
        .get(app_half..app.len().saturating_sub(app_half))
        .unwrap_or(&[]);

    for &i in system_slim.iter().chain(app_slim) {
        if let Some(Json::Object(frame)) = frames.get_mut(i) {
            for key in ["vars", "pre_context", "post_context"] {
                if let Some(v) = frame.shift_remove(key) {
                    dispose(v);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use super::*;

    fn run(v: Value) -> (Option<Value>, usize) {
        let mut v = Json::from(v);
        let mut errors = EventErrors::default();
        let keep = normalize_stacktrace(&mut v, "stacktrace", false, &mut errors);
        (keep.then(|| v.to_value()), errors.entries().len())
    }

    #[test]
    fn url_filename_becomes_abs_path_and_path() {
        let (st, _) = run(json!({"frames": [
            {"filename": "http://127.0.0.1:24594/sentry-browser.js", "function": "n", "lineno": 495},
            {"filename": "app/views.py", "abs_path": "/srv/app/views.py"},
            {"abs_path": "http://foo.com/"}
        ]}));
        assert_eq!(
            st,
            Some(json!({"frames": [
                {"abs_path": "http://127.0.0.1:24594/sentry-browser.js", "function": "n", "lineno": 495, "filename": "/sentry-browser.js"},
                {"filename": "app/views.py", "abs_path": "/srv/app/views.py"},
                {"abs_path": "http://foo.com/", "filename": "http://foo.com/"}
            ]}))
        );
    }

    #[test]
    fn vars_list_becomes_object_and_nulls_go() {
        let (st, _) = run(json!({"frames": [{"function": "f", "module": null, "vars": ["a", 1]}]}));
        assert_eq!(
            st,
            Some(json!({"frames": [{"function": "f", "vars": {"0": "a", "1": 1}}]}))
        );
    }

    #[test]
    fn garbage_frames_are_dropped_with_notes() {
        let (st, errors) =
            run(json!({"frames": [1, "x", {"function": 5, "lineno": "12", "in_app": "yes"}]}));
        assert_eq!(st, Some(json!({"frames": [{"lineno": 12}]})));
        assert_eq!(errors, 4);
        assert_eq!(run(json!("frames")).0, None);
        assert_eq!(run(json!({"frames": {"a": 1}})).0, None);
        assert_eq!(run(json!({"registers": {}})).0, None);
    }

    #[test]
    fn frames_called_normal_are_left_alone_by_the_repair() {
        let long = "x".repeat(300);
        let frames = [
            json!({"function": "f", "in_app": true, "instruction_addr": "0x0"}),
            json!({"function": "f", "abs_path": "/a/b.py", "filename": "b.py", "lineno": 3}),
            json!({"filename": "b.py", "lineno": 3}),
            json!({"abs_path": "/a/b.py", "colno": 1}),
            json!({"abs_path": "", "filename": "b.py"}),
            json!({"abs_path": "", "function": "f"}),
            json!({"abs_path": "/a", "filename": ""}),
            json!({"abs_path": "/a", "filename": "a", "module": null}),
            json!({"abs_path": "/a", "filename": "a", "lineno": "3"}),
            json!({"abs_path": "/a", "filename": "a", "lineno": -3}),
            json!({"abs_path": "/a", "filename": "a", "in_app": "yes"}),
            json!({"abs_path": "/a", "filename": "a", "pre_context": ["x", 1]}),
            json!({"abs_path": "/a", "filename": "a", "post_context": ["x"], "context_line": "y"}),
            json!({"abs_path": "/a", "filename": "a", "post_context": "x"}),
            json!({"abs_path": "/a", "filename": "a", "vars": {"a": 1}, "package": "p"}),
            json!({"abs_path": "/a", "filename": "a", "function": long}),
            json!({"abs_path": long, "filename": "a", "symbol": 5}),
        ];
        let mut normal = 0;
        for raw in [false, true] {
            for frame in &frames {
                let Json::Object(frame) = Json::from(frame.clone()) else {
                    unreachable!("every test frame is an object")
                };
                let mut repaired = frame.clone();
                let mut errors = EventErrors::default();
                normalize_frame(&mut repaired, "frame", raw, &mut errors);
                let untouched = serde_json::to_string(&repaired).ok()
                    == serde_json::to_string(&frame).ok()
                    && errors.entries().is_empty();
                if frame_is_normal(&frame, raw) {
                    normal += 1;
                    assert!(untouched, "{frame:?} is changed by the repair");
                }
            }
        }
        assert_eq!(normal, 11);
    }

    #[test]
    fn long_traces_are_cut_and_slimmed() {
        let frames: Vec<Value> = (0..300)
            .map(|i| json!({"function": format!("f{i}"), "vars": {"i": i}, "in_app": i % 2 == 0}))
            .collect();
        let (st, _) = run(json!({ "frames": frames }));
        let frames = st
            .as_ref()
            .and_then(|s| s["frames"].as_array())
            .cloned()
            .unwrap_or_default();
        assert_eq!(frames.len(), MAX_FRAMES);
        assert_eq!(frames[0]["function"], json!("f50"));
        let with_vars = frames.iter().filter(|f| f.get("vars").is_some()).count();
        assert_eq!(with_vars, FRAME_ALLOWANCE);
        // The newest in-app frame, where the crash is, keeps its locals.
        assert!(frames[MAX_FRAMES - 2].get("vars").is_some());
    }
}
