//! Grouping and titles against Sentry's own answers.
//!
//! - `shared/conformance/grouping/`: Sentry's hashes for its test inputs (`cases/` +
//!   `expected.json`) and pairs of real SDK events that Sentry puts in one issue or two.
//! - `tests/grouping_cases/`: more of Sentry's grouping inputs (test data only), each with the
//!   hash Sentry's `newstyle:2023-01-11` snapshot shows for it.
//! - insta snapshots of title, culprit, metadata and hashes for the error events that real
//!   SDKs sent (`shared/fixtures/sdk-payloads/`).

use std::fs;
use std::path::{Path, PathBuf};

use serde_json::Value;
use vigil_processing::grouping::grouping_variants;
use vigil_processing::json::Json;
use vigil_processing::{derive_summary, group_event};

fn shared() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared")
}

/// The entries of `dir` that `keep` accepts, sorted.
fn sorted_entries(dir: &Path, keep: impl Fn(&Path) -> bool) -> Vec<PathBuf> {
    let mut entries: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| keep(p))
        .collect();
    entries.sort();
    entries
}

fn read_json(path: &Path) -> Value {
    let text =
        fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("parsing {}: {e}", path.display()))
}

/// An event to group, as the pipeline holds it.
fn read_event(path: &Path) -> Json<'static> {
    Json::from(read_json(path))
}

/// Why a case disagrees, with the tree we built, so a failure explains itself.
fn explain(name: &str, event: &Json<'_>) -> String {
    let mut out = format!("--- {name}\n");
    for v in grouping_variants(event) {
        out.push_str(&format!("{}: {:?}\n", v.name, v.hash));
        if let Some(c) = &v.component {
            out.push_str(&c.render());
        }
    }
    out
}

#[test]
fn conformance_cases_hash_like_sentry() {
    let dir = shared().join("conformance/grouping");
    let expected = read_json(&dir.join("expected.json"));
    let cases = expected.as_object().expect("expected.json is an object");
    let (mut exact, mut total, mut titles, mut title_total) = (0, 0, 0, 0);
    let mut failures = String::new();
    for (name, want) in cases.iter().filter(|(k, _)| !k.starts_with('_')) {
        total += 1;
        let event = read_event(&dir.join("cases").join(format!("{name}.json")));
        let got = group_event(&event);
        if got.hashes.first().map(String::as_str) == want["hash"].as_str() {
            exact += 1;
        } else {
            failures.push_str(&format!("want {} {}\n", want["variant"], want["hash"]));
            failures.push_str(&explain(name, &event));
        }
        if let Some(title) = want.get("title").and_then(Value::as_str) {
            title_total += 1;
            let got_title = derive_summary(&event).title;
            if got_title == title {
                titles += 1;
            } else {
                failures.push_str(&format!(
                    "--- {name}: title {got_title:?}, want {title:?}\n"
                ));
            }
        }
    }
    println!("grouping: exact={exact}/{total} titles={titles}/{title_total}");
    assert!(failures.is_empty(), "{failures}");
}

#[test]
fn conformance_pairs_group_like_sentry() {
    let dir = shared().join("conformance/grouping/pairs");
    let names = sorted_entries(&dir, |_| true);
    let (mut agree, mut failures) = (0, String::new());
    for pair in &names {
        let want_same = fs::read_to_string(pair.join("expect.txt"))
            .expect("expect.txt")
            .trim()
            == "same";
        let a = read_event(&pair.join("a.json"));
        let b = read_event(&pair.join("b.json"));
        let same = group_event(&a).hashes.first() == group_event(&b).hashes.first();
        if same == want_same {
            agree += 1;
        } else {
            failures.push_str(&format!("pair {}: want same={want_same}\n", pair.display()));
            failures.push_str(&explain("a", &a));
            failures.push_str(&explain("b", &b));
        }
    }
    println!("grouping: pairs={agree}/{}", names.len());
    assert!(failures.is_empty(), "{failures}");
}

/// `tests/grouping_cases/NAME.json` is a Sentry grouping input; `NAME.expected.json` holds
/// `{"hash": …, "variant": …}` from Sentry's snapshot of it (and a `title` where checked).
#[test]
fn sentry_snapshot_cases_hash_like_sentry() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/grouping_cases");
    let inputs = sorted_entries(&dir, |p| {
        p.extension().is_some_and(|e| e == "json")
            && !p.to_string_lossy().ends_with(".expected.json")
    });
    let mut failures = String::new();
    for input in &inputs {
        let expected_path = input.with_extension("expected.json");
        let want = read_json(&expected_path);
        let event = read_event(input);
        let got = group_event(&event);
        let name = input
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        if got.hashes.first().map(String::as_str) != want["hash"].as_str() {
            failures.push_str(&format!("want {} {}\n", want["variant"], want["hash"]));
            failures.push_str(&explain(&name, &event));
        } else if got.variant != want["variant"].as_str().unwrap_or_default() {
            failures.push_str(&format!(
                "--- {name}: variant {}, want {}\n",
                got.variant, want["variant"]
            ));
        }
        if let Some(title) = want.get("title").and_then(Value::as_str) {
            let got_title = derive_summary(&event).title;
            if got_title != title {
                failures.push_str(&format!(
                    "--- {name}: title {got_title:?}, want {title:?}\n"
                ));
            }
        }
    }
    println!(
        "grouping: snapshot cases={}/{}",
        inputs.len() - failures.matches("--- ").count(),
        inputs.len()
    );
    assert!(inputs.len() >= 30, "only {} cases", inputs.len());
    assert!(failures.is_empty(), "{failures}");
}

/// The `event` payloads of one captured request: a store body is one event; an envelope holds
/// items whose payload runs `length` bytes or, without a length, to the end of the line.
fn captured_events(request: &Path) -> Vec<Value> {
    let body = fs::read(request.join("body.decoded"))
        .or_else(|_| fs::read(request.join("body.bin")))
        .unwrap_or_default();
    let path = read_json(&request.join("request.json"))["path"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    if path.contains("/store/") {
        return serde_json::from_slice(&body).into_iter().collect();
    }
    let mut events = Vec::new();
    let mut rest = match body.iter().position(|b| *b == b'\n') {
        Some(i) => &body[i + 1..],
        None => return events,
    };
    while !rest.is_empty() {
        let header_end = rest.iter().position(|b| *b == b'\n').unwrap_or(rest.len());
        let header: Value = serde_json::from_slice(&rest[..header_end]).unwrap_or(Value::Null);
        rest = rest.get(header_end + 1..).unwrap_or(&[]);
        let len = header["length"]
            .as_u64()
            .map(|l| l as usize)
            .unwrap_or_else(|| rest.iter().position(|b| *b == b'\n').unwrap_or(rest.len()));
        let payload = rest.get(..len).unwrap_or(rest);
        if header["type"] == "event" {
            events.extend(serde_json::from_slice::<Value>(payload).ok());
        }
        rest = rest.get(len..).unwrap_or(&[]);
        if rest.first() == Some(&b'\n') {
            rest = &rest[1..];
        }
    }
    events
}

/// Title, culprit, metadata, location and grouping of every event a real SDK sent.
#[test]
fn sdk_events_summaries() {
    let root = shared().join("fixtures/sdk-payloads");
    let scenarios = sorted_entries(&root, |p| p.is_dir());
    let mut seen = 0;
    for scenario in scenarios {
        let name = scenario
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let mut requests: Vec<PathBuf> = fs::read_dir(&scenario)
            .into_iter()
            .flatten()
            .filter_map(|e| e.ok())
            .map(|e| e.path())
            .filter(|p| p.join("request.json").is_file())
            .collect();
        requests.sort();
        let events: Vec<Json<'static>> = requests
            .iter()
            .flat_map(|r| captured_events(r))
            .map(Json::from)
            .collect();
        for (n, event) in events.iter().enumerate() {
            seen += 1;
            let summary = derive_summary(event);
            let grouping = group_event(event);
            let snapshot = serde_json::json!({
                "title": summary.title,
                "culprit": summary.culprit,
                "metadata": summary.metadata,
                "location": summary.location,
                "variant": grouping.variant,
                "hashes": grouping.hashes,
            });
            insta::assert_json_snapshot!(format!("sdk__{name}__{n}"), snapshot);
        }
    }
    assert!(seen >= 15, "only {seen} events found in the fixtures");
}

/// Grouping and titles take any JSON without panicking.
#[test]
fn odd_input_never_panics() {
    let long = "user 12345 at 10.0.0.1 said é𝄞 ".repeat(400);
    let events = [
        serde_json::json!(null),
        serde_json::json!("event"),
        serde_json::json!({"exception": {"values": [null, 5, {"type": 7, "value": {"a": 1}}]}}),
        serde_json::json!({"exception": {"values": [{"type": "E", "stacktrace": {"frames": [null, 1, {"function": ["x"]}]}}]}}),
        serde_json::json!({"exception": {"values": [{"type": "E", "mechanism": {"exception_id": "x", "parent_id": []}}]}}),
        serde_json::json!({"threads": [{"crashed": true, "stacktrace": "nope"}], "platform": 3}),
        serde_json::json!({"logentry": {"message": 5, "params": "x"}, "fingerprint": [null, {"a": 1}, "{{ tags.x }}"]}),
        serde_json::json!({"message": {"formatted": long}, "checksum": 123}),
        serde_json::json!({"csp": {"blocked_uri": "::::", "effective_directive": 5}}),
        serde_json::json!({"platform": "native", "exception": [{"type": "E", "stacktrace": {"frames": [
            {"function": "<<<>>>((()))", "in_app": true}, {"function": "operator<<(a<b>)", "package": "/usr/lib/x"}]}}]}),
        serde_json::json!({"exception": {"values": [{"value": long}]}, "tags": {"x": null}}),
    ];
    for event in events.map(Json::from) {
        let event = &event;
        let grouping = group_event(event);
        assert!(!grouping.hashes.is_empty(), "no hash for {event}");
        let summary = derive_summary(event);
        assert!(!summary.title.is_empty());
    }
}
