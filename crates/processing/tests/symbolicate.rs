//! Symbolication of JavaScript events with uploaded source maps, on a real app: the shop in
//! `tests/fixtures/sourcemaps/app/` bundled and minified twice by esbuild (the second build
//! has one more module, so its minified names differ), with the V8 stack traces the bundles
//! really throw (`generate.sh` makes them all). The files come from an in-memory
//! `ArtifactLookup` that records what it was asked, as the store's would answer.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde_json::{json, Value};
use vigil_processing::json::Json;
use vigil_processing::symbolicate::{
    ArtifactLookup, FileType, LookupError, SourceFile, SourceMapCaches, Symbolication,
};
use vigil_processing::{process_event, NormalizeContext, ProcessedEvent};

const MINIFIED_URL: &str = "https://shop.example.com/static/app.min.js";
const MAP_URL: &str = "https://shop.example.com/static/app.min.js.map";

fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/sourcemaps")
}

fn read(path: &str) -> Vec<u8> {
    let path = fixture_dir().join(path);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// One build's outputs.
struct Build {
    minified: Vec<u8>,
    map: Vec<u8>,
    event: Value,
    debug_id: String,
    release: String,
}

fn build(n: u32) -> Build {
    let event: Value =
        serde_json::from_slice(&read(&format!("build{n}/event.json"))).expect("event.json is JSON");
    let debug_id = event["debug_meta"]["images"][0]["debug_id"]
        .as_str()
        .expect("the event names the bundle's debug ID")
        .to_owned();
    let release = event["release"].as_str().expect("a release").to_owned();
    Build {
        minified: read(&format!("build{n}/app.min.js")),
        map: read(&format!("build{n}/app.min.js.map")),
        event,
        debug_id,
        release,
    }
}

/// A file as an upload makes it: its id changes with its content.
fn file(url: &str, bytes: &[u8], headers: &[(&str, &str)]) -> SourceFile {
    SourceFile {
        id: format!("{url}#{:x}", md5_like(bytes)),
        url: url.to_owned(),
        bytes: Arc::from(bytes),
        headers: headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    }
}

/// A content checksum good enough for ids (FNV-1a).
fn md5_like(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf29ce484222325u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x100000001b3)
    })
}

/// The project's uploads, in memory: files by debug ID and type, release files by URL; every
/// question is recorded.
#[derive(Default)]
struct MemoryLookup {
    by_debug_id: Vec<(String, FileType, SourceFile)>,
    by_url: Vec<(String, Option<String>, SourceFile)>,
    asked: Mutex<Vec<String>>,
    fail: bool,
}

impl MemoryLookup {
    fn with_debug_id(mut self, debug_id: &str, ty: FileType, file: SourceFile) -> Self {
        self.by_debug_id.push((debug_id.to_owned(), ty, file));
        self
    }

    fn with_release_file(mut self, release: &str, file: SourceFile) -> Self {
        self.by_url.push((release.to_owned(), None, file));
        self
    }

    fn asked(&self) -> Vec<String> {
        self.asked.lock().map(|a| a.clone()).unwrap_or_default()
    }
}

impl ArtifactLookup for MemoryLookup {
    fn by_debug_id(&self, debug_id: &str, ty: FileType) -> Result<Option<SourceFile>, LookupError> {
        if let Ok(mut asked) = self.asked.lock() {
            asked.push(format!("debug-id {debug_id} {}", ty.as_str()));
        }
        if self.fail {
            return Err(LookupError("database is locked".into()));
        }
        Ok(self
            .by_debug_id
            .iter()
            .find(|(id, t, _)| id == debug_id && *t == ty)
            .map(|(_, _, file)| file.clone()))
    }

    fn by_url(
        &self,
        release: &str,
        dist: Option<&str>,
        url: &str,
    ) -> Result<Option<SourceFile>, LookupError> {
        if let Ok(mut asked) = self.asked.lock() {
            asked.push(format!("url {release} {url}"));
        }
        if self.fail {
            return Err(LookupError("database is locked".into()));
        }
        Ok(self
            .by_url
            .iter()
            .find(|(r, d, file)| r == release && d.as_deref() == dist && file.url == url)
            .map(|(_, _, file)| file.clone()))
    }
}

/// The build's files uploaded with debug IDs, as `sentry-cli sourcemaps upload` does.
fn debug_id_upload(build: &Build) -> MemoryLookup {
    MemoryLookup::default()
        .with_debug_id(
            &build.debug_id,
            FileType::MinifiedSource,
            file(
                "~/static/app.min.js",
                &build.minified,
                &[
                    ("debug-id", &build.debug_id),
                    ("sourcemap", "app.min.js.map"),
                ],
            ),
        )
        .with_debug_id(
            &build.debug_id,
            FileType::SourceMap,
            file(
                "~/static/app.min.js.map",
                &build.map,
                &[("debug-id", &build.debug_id)],
            ),
        )
}

/// The build's files uploaded as release files (`sentry-cli sourcemaps upload --release`),
/// without headers: the map is found through the file's `sourceMappingURL` comment.
fn release_upload(build: &Build) -> MemoryLookup {
    MemoryLookup::default()
        .with_release_file(
            &build.release,
            file("~/static/app.min.js", &build.minified, &[]),
        )
        .with_release_file(
            &build.release,
            file("~/static/app.min.js.map", &build.map, &[]),
        )
}

fn without_debug_meta(mut event: Value) -> Value {
    if let Some(object) = event.as_object_mut() {
        object.remove("debug_meta");
    }
    event
}

fn context(symbolication: Option<Symbolication>) -> NormalizeContext {
    NormalizeContext {
        received: 1_795_574_487.0,
        symbolication,
        ..NormalizeContext::default()
    }
}

fn process(event: &Value, lookup: Arc<MemoryLookup>, caches: Arc<SourceMapCaches>) -> Processed {
    let symbolication = Symbolication::new(lookup, caches, true);
    process_with(event, Some(symbolication))
}

fn process_with(event: &Value, symbolication: Option<Symbolication>) -> Processed {
    let bytes = serde_json::to_vec(event).expect("serializable");
    let raw = Json::parse(&bytes).expect("valid JSON");
    let processed = process_event(raw, &context(symbolication))
        .expect("the event is processed")
        .kept()
        .expect("no filter drops it");
    let data: Value = serde_json::from_str(processed.data.as_str()).expect("stored JSON");
    Processed { processed, data }
}

struct Processed {
    processed: ProcessedEvent,
    data: Value,
}

impl Processed {
    fn frames(&self) -> &Vec<Value> {
        self.data["exception"]["values"][0]["stacktrace"]["frames"]
            .as_array()
            .expect("frames")
    }

    fn raw_frames(&self) -> &Vec<Value> {
        self.data["exception"]["values"][0]["raw_stacktrace"]["frames"]
            .as_array()
            .expect("raw frames")
    }

    fn top(&self) -> &Value {
        self.frames().last().expect("a frame")
    }

    fn errors(&self) -> Vec<Value> {
        self.data["errors"].as_array().cloned().unwrap_or_default()
    }
}

fn lines(values: &Value) -> Vec<&str> {
    values
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

#[test]
fn top_frame_becomes_the_original_function_file_line_and_context() {
    let build1 = build(1);
    let lookup = Arc::new(debug_id_upload(&build1));
    let out = process(&build1.event, lookup.clone(), Arc::default());

    let top = out.top();
    assert_eq!(top["function"], "applyDiscount");
    assert_eq!(top["filename"], "../src/checkout.js");
    assert_eq!(top["abs_path"], "https://shop.example.com/src/checkout.js");
    assert_eq!(top["module"], "src/checkout");
    assert_eq!(top["lineno"], 5);
    assert_eq!(top["colno"], 23);
    assert_eq!(top["context_line"], "  const rate = coupon.percent / 100;");
    assert_eq!(
        lines(&top["pre_context"]),
        [
            "import { formatPrice } from './format.js';",
            "",
            "export function applyDiscount(cart, coupon) {",
            "  const subtotal = cart.items.reduce((sum, item) => sum + item.price * item.qty, 0);",
        ]
    );
    assert_eq!(
        lines(&top["post_context"]),
        [
            "  const total = subtotal - subtotal * rate;",
            "  return formatPrice(total, cart.currency);",
            "}",
            "",
            "export function checkout(cart) {",
        ]
    );
    assert_eq!(
        top["data"],
        json!({"sourcemap": MAP_URL, "resolved_with": "debug-id", "symbolicated": true})
    );
    assert_eq!(
        top["in_app"], true,
        "the SDK's flag stays for the app's own code"
    );

    // Every frame, oldest first; the arrow function passed to `mapEach` is named by its
    // caller (`callback`), as Sentry names it.
    let functions: Vec<&str> = out
        .frames()
        .iter()
        .filter_map(|f| f["function"].as_str())
        .collect();
    assert_eq!(
        functions,
        [
            "globalThis.startShop",
            "submitOrders",
            "mapEach",
            "callback",
            "checkout",
            "applyDiscount"
        ]
    );
    let files: Vec<&str> = out
        .frames()
        .iter()
        .filter_map(|f| f["filename"].as_str())
        .collect();
    assert_eq!(
        files,
        [
            "../src/main.js",
            "../src/main.js",
            "../node_modules/some-lib/index.js",
            "../src/main.js",
            "../src/checkout.js",
            "../src/checkout.js"
        ]
    );

    // The minified frames are kept for the UI's toggle, with the minified code around them.
    let raw_top = out.raw_frames().last().expect("a raw frame");
    assert_eq!(raw_top["function"], "l");
    assert_eq!(raw_top["abs_path"], MINIFIED_URL);
    assert_eq!(
        (raw_top["lineno"].clone(), raw_top["colno"].clone()),
        (json!(1), json!(164))
    );
    assert!(raw_top["context_line"]
        .as_str()
        .is_some_and(|l| l.contains("o.percent/100")));
    assert!(raw_top.get("data").is_none());
    assert_eq!(out.raw_frames().len(), out.frames().len());

    // Title, culprit and metadata come from the original frames.
    assert_eq!(
        out.processed.title,
        "TypeError: Cannot read properties of undefined (reading 'percent')"
    );
    assert!(
        out.processed.culprit.contains("applyDiscount"),
        "culprit {}",
        out.processed.culprit
    );
    assert!(out.errors().is_empty(), "{:?}", out.errors());
    // Looked up once per file, by debug ID.
    let id = &build1.debug_id;
    assert_eq!(
        lookup.asked(),
        [
            format!("debug-id {id} minified_source"),
            format!("debug-id {id} source_map")
        ]
    );
}

#[test]
fn node_modules_frames_are_out_of_app() {
    let build1 = build(1);
    let out = process(
        &build1.event,
        Arc::new(debug_id_upload(&build1)),
        Arc::default(),
    );
    let library = &out.frames()[2];
    assert_eq!(library["function"], "mapEach");
    assert_eq!(
        library["abs_path"],
        "https://shop.example.com/node_modules/some-lib/index.js"
    );
    assert_eq!(library["in_app"], false);
    assert_eq!(
        library["context_line"],
        "    results.push(callback(items[index], index));"
    );
    let in_app: Vec<bool> = out
        .frames()
        .iter()
        .map(|f| f["in_app"].as_bool().unwrap_or(false))
        .collect();
    assert_eq!(in_app, [true, true, false, true, true, true]);
}

#[test]
fn two_builds_with_different_minified_names_group_into_one_hash() {
    let (build1, build2) = (build(1), build(2));
    // The bundles really differ: other names and columns for the same functions.
    let raw_top = |b: &Build| {
        let frames = b.event["exception"]["values"][0]["stacktrace"]["frames"].clone();
        frames
            .as_array()
            .and_then(|f| f.last().cloned())
            .unwrap_or_default()
    };
    assert_ne!(raw_top(&build1)["function"], raw_top(&build2)["function"]);
    assert_ne!(raw_top(&build1)["colno"], raw_top(&build2)["colno"]);
    // Unsymbolicated, they are two issues.
    let plain1 = process_with(&build1.event, None);
    let plain2 = process_with(&build2.event, None);
    assert_ne!(plain1.processed.hashes, plain2.processed.hashes);

    // Build 1 by debug ID, build 2 by release and URL: one issue.
    let caches = Arc::new(SourceMapCaches::default());
    let out1 = process(
        &build1.event,
        Arc::new(debug_id_upload(&build1)),
        caches.clone(),
    );
    let out2 = process(
        &without_debug_meta(build2.event.clone()),
        Arc::new(release_upload(&build2)),
        caches,
    );
    assert_eq!(out1.processed.title, out2.processed.title);
    assert_eq!(out1.processed.culprit, out2.processed.culprit);
    assert_eq!(out2.top()["function"], "applyDiscount");
    assert_ne!(out1.processed.hashes[0], plain1.processed.hashes[0]);
    // Each also carries its minified frames' hash, after the original one: the issue its build
    // opened before the maps were uploaded is found by it.
    let original = |out: &Processed, plain: &Processed| {
        let hashes = &out.processed.hashes;
        assert!(hashes.ends_with(&plain.processed.hashes), "{hashes:?}");
        hashes[..hashes.len() - plain.processed.hashes.len()].to_vec()
    };
    assert_eq!(original(&out1, &plain1), original(&out2, &plain2));
}

#[test]
fn release_files_are_found_by_url_and_source_mapping_url() {
    let build2 = build(2);
    let lookup = Arc::new(release_upload(&build2));
    // A cache-busting query string: the file is found under its name without it.
    let mut event = without_debug_meta(build2.event.clone());
    for frame in event["exception"]["values"][0]["stacktrace"]["frames"]
        .as_array_mut()
        .into_iter()
        .flatten()
    {
        frame["filename"] = json!(format!("{MINIFIED_URL}?v=2"));
    }
    let out = process(&event, lookup.clone(), Arc::default());
    let top = out.top();
    assert_eq!(top["function"], "applyDiscount");
    assert_eq!(top["lineno"], 5);
    assert_eq!(top["data"]["resolved_with"], "release");
    assert_eq!(top["data"]["sourcemap"], format!("{MAP_URL}"));
    assert!(out.errors().is_empty(), "{:?}", out.errors());
    let release = &build2.release;
    assert_eq!(
        lookup.asked(),
        [
            format!("url {release} {MINIFIED_URL}?v=2"),
            format!("url {release} {MINIFIED_URL}"),
            format!("url {release} ~/static/app.min.js?v=2"),
            format!("url {release} ~/static/app.min.js"),
            // The file's `//# debugId=` comment is tried first for its map…
            format!("debug-id {} source_map", build2.debug_id),
            // …then `//# sourceMappingURL=app.min.js.map`, relative to the file's URL.
            format!("url {release} {MAP_URL}"),
            format!("url {release} ~/static/app.min.js.map"),
        ]
    );
}

#[test]
fn a_map_inline_as_a_data_url_is_used() {
    use base64::Engine as _;
    let build1 = build(1);
    let text = String::from_utf8(build1.minified.clone()).expect("UTF-8");
    let encoded = base64::engine::general_purpose::STANDARD.encode(&build1.map);
    let inline = text.replace(
        "//# sourceMappingURL=app.min.js.map",
        &format!("//# sourceMappingURL=data:application/json;charset=utf-8;base64,{encoded}"),
    );
    let lookup = MemoryLookup::default().with_release_file(
        &build1.release,
        file("~/static/app.min.js", inline.as_bytes(), &[]),
    );
    let out = process(
        &without_debug_meta(build1.event.clone()),
        Arc::new(lookup),
        Arc::default(),
    );
    assert_eq!(out.top()["function"], "applyDiscount");
    // An inline map has no URL of its own: the minified file's names it.
    assert_eq!(out.top()["data"]["sourcemap"], MINIFIED_URL);
}

#[test]
fn a_missing_map_keeps_the_event_with_an_error_naming_the_file() {
    let build1 = build(1);
    let lookup = MemoryLookup::default().with_debug_id(
        &build1.debug_id,
        FileType::MinifiedSource,
        file("~/static/app.min.js", &build1.minified, &[]),
    );
    let out = process(&build1.event, Arc::new(lookup), Arc::default());
    let top = out.top();
    assert_eq!(top["function"], "l");
    assert_eq!(top["abs_path"], MINIFIED_URL);
    assert_eq!(top["data"], json!({"symbolicated": false}));
    // The minified code around the frame is still shown.
    assert!(top["context_line"]
        .as_str()
        .is_some_and(|l| l.contains("percent")));
    assert_eq!(
        out.errors(),
        [
            json!({"symbolicator_type": "missing_sourcemap", "type": "js_no_source", "url": MINIFIED_URL})
        ]
    );
    assert!(out.data["exception"]["values"][0]
        .get("raw_stacktrace")
        .is_some());

    // Nothing uploaded at all: the minified file is missing.
    let out = process(
        &build1.event,
        Arc::new(MemoryLookup::default()),
        Arc::default(),
    );
    assert_eq!(out.top()["function"], "l");
    assert!(out.top().get("context_line").is_none());
    assert_eq!(
        out.errors(),
        [
            json!({"symbolicator_type": "missing_source", "type": "js_no_source", "url": MINIFIED_URL})
        ]
    );
}

#[test]
fn a_corrupt_map_is_named_in_the_error() {
    let build1 = build(1);
    let mut truncated = build1.map.clone();
    truncated.truncate(truncated.len() / 2);
    let bad_mappings = br#"{"version":3,"sources":["a.js"],"names":[],"mappings":"!!!"}"#;
    for broken in [
        truncated,
        b"not a source map".to_vec(),
        b"[1, 2, 3]".to_vec(),
        bad_mappings.to_vec(),
        vec![0xff, 0xfe, 0x00],
    ] {
        let lookup = MemoryLookup::default()
            .with_release_file(
                &build1.release,
                file("~/static/app.min.js", &build1.minified, &[]),
            )
            .with_release_file(
                &build1.release,
                file("~/static/app.min.js.map", &broken, &[]),
            );
        let out = process(
            &without_debug_meta(build1.event.clone()),
            Arc::new(lookup),
            Arc::default(),
        );
        assert_eq!(out.top()["function"], "l");
        assert_eq!(
            out.top()["data"],
            json!({"resolved_with": "release", "symbolicated": false}),
            "{:?}",
            out.errors()
        );
        assert_eq!(
            out.errors(),
            [
                json!({"symbolicator_type": "malformed_sourcemap", "type": "js_invalid_source", "url": MAP_URL})
            ],
            "map {:?}",
            String::from_utf8_lossy(&broken[..broken.len().min(40)])
        );
    }
}

#[test]
fn a_map_pointing_at_nothing_is_named_in_the_error() {
    let build1 = build(1);
    // A reference to a map that was never uploaded.
    let text = String::from_utf8(build1.minified.clone()).expect("UTF-8");
    let elsewhere = text.replace(
        "sourceMappingURL=app.min.js.map",
        "sourceMappingURL=maps/gone.js.map",
    );
    let lookup = MemoryLookup::default().with_release_file(
        &build1.release,
        file("~/static/app.min.js", elsewhere.as_bytes(), &[]),
    );
    let out = process(
        &without_debug_meta(build1.event.clone()),
        Arc::new(lookup),
        Arc::default(),
    );
    assert_eq!(out.top()["function"], "l");
    assert_eq!(
        out.errors(),
        [
            json!({"symbolicator_type": "missing_sourcemap", "type": "js_no_source", "url": MINIFIED_URL})
        ]
    );

    // A map whose mappings cover none of the frames' positions.
    let empty = br#"{"version":3,"sources":["../src/checkout.js"],"names":[],"mappings":""}"#;
    let lookup = MemoryLookup::default()
        .with_release_file(
            &build1.release,
            file("~/static/app.min.js", &build1.minified, &[]),
        )
        .with_release_file(&build1.release, file("~/static/app.min.js.map", empty, &[]));
    let out = process(
        &without_debug_meta(build1.event.clone()),
        Arc::new(lookup),
        Arc::default(),
    );
    assert_eq!(out.top()["function"], "l");
    let errors = out.errors();
    assert_eq!(errors.len(), 6, "one per frame position: {errors:?}");
    assert!(errors.contains(&json!({
        "symbolicator_type": "invalid_location",
        "type": "js_invalid_sourcemap_location",
        "column": 164,
        "row": 1,
        "source": MINIFIED_URL,
    })));
}

#[test]
fn a_map_without_sources_content_uses_uploaded_sources_or_says_so() {
    let build1 = build(1);
    let mut map: Value = serde_json::from_slice(&build1.map).expect("map JSON");
    let sources = map["sourcesContent"].take();
    let map = serde_json::to_vec(&map).expect("JSON");
    let upload = || {
        MemoryLookup::default()
            .with_release_file(
                &build1.release,
                file("~/static/app.min.js", &build1.minified, &[]),
            )
            .with_release_file(&build1.release, file("~/static/app.min.js.map", &map, &[]))
    };
    let out = process(
        &without_debug_meta(build1.event.clone()),
        Arc::new(upload()),
        Arc::default(),
    );
    assert_eq!(out.top()["function"], "applyDiscount");
    assert_eq!(out.top()["lineno"], 5);
    assert!(out.top().get("context_line").is_none());
    assert!(out.errors().contains(&json!({
        "symbolicator_type": "missing_source_content",
        "type": "js_missing_sources_content",
        "source": "https://shop.example.com/src/checkout.js",
        "sourcemap": MAP_URL,
    })));

    // The original source uploaded as a release file of its own fills the gap.
    let checkout = sources[1].as_str().expect("checkout.js's source");
    let lookup = upload().with_release_file(
        &build1.release,
        file("~/src/checkout.js", checkout.as_bytes(), &[]),
    );
    let out = process(
        &without_debug_meta(build1.event.clone()),
        Arc::new(lookup),
        Arc::default(),
    );
    assert_eq!(
        out.top()["context_line"],
        "  const rate = coupon.percent / 100;"
    );
    assert!(!out
        .errors()
        .iter()
        .any(|e| e["source"] == "https://shop.example.com/src/checkout.js"));
}

#[test]
fn a_store_failure_keeps_the_event_unsymbolicated_with_an_error() {
    let build1 = build(1);
    let lookup = MemoryLookup {
        fail: true,
        ..MemoryLookup::default()
    };
    let out = process(&build1.event, Arc::new(lookup), Arc::default());
    assert_eq!(out.top()["function"], "l");
    assert_eq!(
        out.errors(),
        [
            json!({"type": "js_generic_fetch_error", "url": MINIFIED_URL, "reason": "database is locked"})
        ]
    );
    assert_eq!(
        out.processed.hashes,
        process_with(&build1.event, None).processed.hashes
    );
}

#[test]
fn the_warm_path_reuses_the_built_map() {
    let build1 = build(1);
    let caches = Arc::new(SourceMapCaches::default());
    let lookup = Arc::new(debug_id_upload(&build1));
    let first = process(&build1.event, lookup.clone(), caches.clone());
    let cold = caches.stats();
    assert_eq!((cold.builds, cold.hits), (1, 0));
    assert_eq!(
        (cold.sources_prepared, cold.source_hits, cold.entries),
        (1, 0, 2)
    );
    assert!(cold.bytes > build1.minified.len());
    // Another event, another batch (a new handle over the same caches): no second build, and
    // the minified file is not read again.
    let second = process(&build1.event, lookup.clone(), caches.clone());
    let warm = caches.stats();
    assert_eq!((warm.builds, warm.hits), (1, 1));
    assert_eq!(
        (warm.sources_prepared, warm.source_hits, warm.entries),
        (1, 1, 2)
    );
    assert_eq!(warm.bytes, cold.bytes);
    assert_eq!(first.data["exception"], second.data["exception"]);
    // The files are still looked up per event (the store knows what is newest).
    assert_eq!(lookup.asked().len(), 4);
}

#[test]
fn events_of_other_platforms_are_left_alone() {
    let build1 = build(1);
    let mut event = build1.event.clone();
    event["platform"] = json!("python");
    let lookup = Arc::new(debug_id_upload(&build1));
    let out = process(&event, lookup.clone(), Arc::default());
    assert_eq!(out.top()["function"], "l");
    assert!(out.data["exception"]["values"][0]
        .get("raw_stacktrace")
        .is_none());
    assert!(lookup.asked().is_empty());
    // …unless a frame says it is JavaScript.
    event["exception"]["values"][0]["stacktrace"]["frames"][5]["platform"] = json!("javascript");
    let out = process(&event, lookup, Arc::default());
    assert_eq!(out.top()["function"], "applyDiscount");
}

#[test]
fn node_frames_of_built_in_modules_are_not_looked_up() {
    let lookup = Arc::new(MemoryLookup::default());
    let event = json!({
        "platform": "node",
        "release": "api@1",
        "exception": {"values": [{"type": "Error", "value": "boom", "stacktrace": {"frames": [
            {"filename": "node:internal/process/task_queues", "function": "processTicksAndRejections", "lineno": 95, "colno": 5, "in_app": true},
            {"abs_path": "/srv/api/dist/server.js", "filename": "dist/server.js", "function": "handle", "lineno": 3, "colno": 10, "in_app": true},
        ]}}]},
    });
    let out = process(&event, lookup.clone(), Arc::default());
    assert_eq!(out.frames()[0]["in_app"], false);
    assert_eq!(
        lookup.asked(),
        [
            "url api@1 /srv/api/dist/server.js",
            "url api@1 ~/srv/api/dist/server.js"
        ]
    );
    assert_eq!(
        out.errors(),
        [
            json!({"symbolicator_type": "missing_source", "type": "js_no_source", "url": "/srv/api/dist/server.js"})
        ]
    );
}

#[test]
fn symbolicated_event_snapshot() {
    let build1 = build(1);
    let out = process(
        &build1.event,
        Arc::new(debug_id_upload(&build1)),
        Arc::default(),
    );
    let exception = &out.data["exception"]["values"][0];
    let snapshot = json!({
        "title": out.processed.title,
        "culprit": out.processed.culprit,
        "metadata": out.processed.metadata,
        "hashes": out.processed.hashes,
        "stacktrace": exception["stacktrace"],
        "raw_stacktrace": exception["raw_stacktrace"],
    });
    insta::assert_json_snapshot!("symbolicated_build1", snapshot);
}

/// The stored event of each build keeps its other fields: only frames, `raw_stacktrace` and
/// `errors` change.
#[test]
fn only_frames_change() {
    let build1 = build(1);
    let plain = process_with(&build1.event, None);
    let out = process(
        &build1.event,
        Arc::new(debug_id_upload(&build1)),
        Arc::default(),
    );
    let strip = |v: &Value| {
        let mut v = v.clone();
        if let Some(o) = v.as_object_mut() {
            for key in [
                "exception",
                "culprit",
                "metadata",
                "hashes",
                "location",
                "tags",
                "title",
            ] {
                o.remove(key);
            }
        }
        v
    };
    assert_eq!(strip(&plain.data), strip(&out.data));
    let keys = |v: &Value| -> BTreeMap<String, ()> {
        v["exception"]["values"][0]
            .as_object()
            .map(|o| o.keys().map(|k| (k.clone(), ())).collect())
            .unwrap_or_default()
    };
    let mut expected = keys(&plain.data);
    expected.insert("raw_stacktrace".into(), ());
    assert_eq!(keys(&out.data), expected);
}

/// Threads' stack traces are symbolicated too, each keeping its own `raw_stacktrace`.
#[test]
fn thread_stack_traces_are_symbolicated() {
    let build1 = build(1);
    let mut event = build1.event.clone();
    let frames = event["exception"]["values"][0]["stacktrace"].take();
    if let Some(exception) = event["exception"]["values"][0].as_object_mut() {
        exception.remove("stacktrace");
    }
    event["threads"] = json!({"values": [{"id": 1, "crashed": true, "stacktrace": frames}]});
    let out = process(&event, Arc::new(debug_id_upload(&build1)), Arc::default());
    let thread = &out.data["threads"]["values"][0];
    let top = thread["stacktrace"]["frames"]
        .as_array()
        .and_then(|f| f.last())
        .cloned()
        .unwrap_or_default();
    assert_eq!(top["function"], "applyDiscount");
    let keys: Vec<&str> = thread
        .as_object()
        .map(|o| o.keys().map(String::as_str).collect())
        .unwrap_or_default();
    assert_eq!(keys, ["id", "crashed", "stacktrace", "raw_stacktrace"]);
    assert_eq!(thread["raw_stacktrace"]["frames"][5]["function"], "l");
}

#[test]
fn without_uploads_only_browser_events_are_looked_at() {
    let node_event = json!({
        "platform": "node",
        "release": "api@1",
        "exception": {"values": [{"type": "Error", "value": "boom", "stacktrace": {"frames": [
            {"abs_path": "/srv/api/dist/server.js", "filename": "dist/server.js", "function": "handle", "lineno": 3, "colno": 10, "in_app": true},
        ]}}]},
    });
    let lookup = Arc::new(MemoryLookup::default());
    let without = |lookup: &Arc<MemoryLookup>| {
        let handle: Arc<dyn ArtifactLookup> = lookup.clone();
        Some(Symbolication::new(handle, Arc::default(), false))
    };
    let out = process_with(&node_event, without(&lookup));
    assert!(
        lookup.asked().is_empty(),
        "a server's files are not looked up"
    );
    assert!(out.errors().is_empty());
    assert_eq!(out.top()["function"], "handle");
    assert!(out.data["exception"]["values"][0]
        .get("raw_stacktrace")
        .is_none());

    // A browser's bundle is, so that its missing map is reported.
    let build1 = build(1);
    let out = process_with(&build1.event, without(&lookup));
    assert!(!lookup.asked().is_empty());
    assert!(out
        .errors()
        .iter()
        .any(|error| error["type"] == "js_no_source" && error["url"] == MINIFIED_URL));
}
