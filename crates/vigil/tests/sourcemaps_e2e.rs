//! Source maps end to end, as a team ships a browser app: `tests/browser-app` is bundled and
//! minified by the real `esbuild` (with the real `@sentry/browser` in the bundle), the real
//! `sentry-cli sourcemaps inject` and `sourcemaps upload` send its maps to the binary, and the
//! page runs in headless Chromium (`tests/python/load_page.py`) until its checkout fails.
//!
//! The story, in one issue: the first build fails before its maps are uploaded (stored
//! minified, with a processing error naming the file the map was missing for); its maps are
//! uploaded and the same build fails again (now read as the code people wrote, in the same
//! issue); a rebuild whose minifier chose other names, uploaded by release and not by debug ID,
//! fails too and still lands in that issue. On SQLite and on PostgreSQL.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::backend::{test_on_both_backends, Backend, Server};
use common::python::{run_python, sentry_cli_command};
use common::{poll, repo_root, run_ok, Dsn, Vigil};
use serde_json::Value;

const CODE: &str = "BOGUS";
const TITLE: &str = "Error: Unknown discount code: BOGUS";

fn node_bin(name: &str) -> PathBuf {
    let bin = repo_root().join("tests/node/node_modules/.bin").join(name);
    assert!(
        bin.exists(),
        "no {} : run `bash scripts/test.sh` once (it runs `npm ci` in tests/node)",
        bin.display()
    );
    bin
}

/// Bundles and minifies the app from `entry` into `out` (with `index.html`), as a CI build does.
fn build(entry: &str, out: &Path) {
    let app = repo_root().join("tests/browser-app");
    let mut esbuild = Command::new(node_bin("esbuild"));
    esbuild
        .current_dir(&app)
        .arg(entry)
        .args(["--bundle", "--minify", "--sourcemap", "--format=iife"])
        .arg(format!("--outfile={}", out.join("app.min.js").display()))
        // `@sentry/browser` comes from the test's Node packages; `money-utils` from the app's own.
        .env("NODE_PATH", repo_root().join("tests/node/node_modules"));
    run_ok(esbuild, &format!("esbuild {entry}"));
    std::fs::copy(app.join("index.html"), out.join("index.html")).expect("copy index.html");
}

fn sentry_cli(vigil: &Vigil, args: &[&str]) -> String {
    run_ok(
        sentry_cli_command(vigil, args),
        &format!("sentry-cli {args:?}"),
    )
}

/// Loads the built page in Chromium with the project's DSN and `release`; the checkout fails.
fn load(dist: &Path, dsn: &Dsn, release: &str) {
    let query = format!("dsn={}&release={release}&code={CODE}", urlencode(&dsn.raw));
    let result = run_python(
        "load_page.py",
        &[dist.to_str().expect("utf-8 path"), &query],
    );
    assert!(!result.is_empty(), "load_page.py printed nothing");
}

fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The project's issues with the checkout's title, and the newest event of the only one, once
/// it has `events` events.
fn issue_with_events(vigil: &Vigil, events: usize) -> (String, Vec<Value>) {
    poll(
        "the checkout's events",
        Duration::from_secs(60),
        || -> Result<(String, Vec<Value>), String> {
            let issues: Vec<Value> = vigil
                .project_issues("shop", "")
                .into_iter()
                .filter(|issue| issue["title"] == TITLE)
                .collect();
            if issues.len() != 1 {
                let titles: Vec<&Value> = issues.iter().map(|i| &i["title"]).collect();
                return Err(format!(
                    "{} issues titled {TITLE:?}: {titles:?}",
                    issues.len()
                ));
            }
            let id = issues[0]["id"].as_str().unwrap_or_default().to_owned();
            let list = vigil
                .api_get(&format!("/api/0/issues/{id}/events/"), &[("full", "true")])
                .ok("GET issue events");
            let list = list.as_array().cloned().unwrap_or_default();
            if list.len() < events {
                return Err(format!("issue {id} has {} events", list.len()));
            }
            Ok((id, list))
        },
    )
}

/// The stored event (as the API gives it) by id.
fn event(vigil: &Vigil, event_id: &str) -> Value {
    vigil
        .api_get(
            &format!("/api/0/projects/default/shop/events/{event_id}/"),
            &[],
        )
        .ok("GET event")
}

fn exception(event: &Value) -> &Value {
    let entry = common::entry(event, "exception").expect("an exception entry");
    &entry["values"][0]
}

/// The innermost frame (frames are sent outermost first).
fn top_frame(stacktrace: &Value) -> &Value {
    stacktrace["frames"]
        .as_array()
        .and_then(|frames| frames.last())
        .unwrap_or_else(|| panic!("no frames in {stacktrace}"))
}

fn sourcemaps(backend: Backend) {
    let server = Server::start(backend);
    let vigil = &server.vigil;
    let dsn = vigil.create_project("shop", "javascript");
    let work = tempfile::tempdir().expect("tempdir");
    let first = work.path().join("first");
    let rebuilt = work.path().join("rebuilt");
    build("src/main.js", &first);
    build("src/main-rebuilt.js", &rebuilt);
    sentry_cli(vigil, &["sourcemaps", "inject", first.to_str().unwrap()]);

    // 1. The first build fails before its maps are uploaded.
    load(&first, &dsn, "shop@1.0.0");
    let (issue_id, events) = issue_with_events(vigil, 1);
    let minified = event(vigil, events[0]["eventID"].as_str().unwrap_or_default());
    let frame = top_frame(&exception(&minified)["stacktrace"]).clone();
    assert!(
        frame["filename"]
            .as_str()
            .is_some_and(|f| f.ends_with("app.min.js")),
        "without maps the top frame stays minified: {frame}"
    );
    let errors = minified["errors"].as_array().cloned().unwrap_or_default();
    assert!(
        errors
            .iter()
            .any(|error| error.to_string().contains("app.min.js")),
        "the event says which file had no map: {errors:?}"
    );
    let cookie = vigil.web_login();
    let minified_id = minified["eventID"].as_str().unwrap_or_default().to_owned();
    let page = vigil.web_page(
        &cookie,
        &format!("/organizations/default/issues/{issue_id}/?event={minified_id}"),
    );
    assert!(
        page.contains("There were problems processing this event") && page.contains("app.min.js"),
        "the issue page says the map was missing"
    );

    // 2. The maps arrive; the same build fails again and reads as the code people wrote.
    let upload = sentry_cli(vigil, &["sourcemaps", "upload", first.to_str().unwrap()]);
    assert!(
        upload.contains("artifact bundle"),
        "sentry-cli uploaded an artifact bundle: {upload}"
    );
    load(&first, &dsn, "shop@1.0.0");
    let (second_issue, events) = issue_with_events(vigil, 2);
    assert_eq!(
        second_issue, issue_id,
        "the symbolicated event joined the issue"
    );
    let symbolicated = event(vigil, events[0]["eventID"].as_str().unwrap_or_default());
    let exception = exception(&symbolicated);
    let frame = top_frame(&exception["stacktrace"]);
    assert_eq!(frame["function"], "applyDiscount", "{frame}");
    assert!(
        frame["filename"]
            .as_str()
            .is_some_and(|f| f.ends_with("src/checkout.js")),
        "{frame}"
    );
    assert_eq!(frame["lineNo"], 6, "{frame}");
    assert!(
        frame["context"].to_string().contains("throw new Error"),
        "the source line is shown: {frame}"
    );
    assert_eq!(frame["inApp"], true, "{frame}");
    let raw = top_frame(&exception["rawStacktrace"]);
    assert!(
        raw["filename"]
            .as_str()
            .is_some_and(|f| f.ends_with("app.min.js")),
        "the minified frame is kept: {raw}"
    );
    let frames = exception["stacktrace"]["frames"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let library = frames
        .iter()
        .find(|f| {
            f["filename"]
                .to_string()
                .contains("node_modules/money-utils")
        })
        .unwrap_or_else(|| panic!("a frame in money-utils: {frames:?}"));
    assert_eq!(
        library["inApp"], false,
        "node_modules is not in app: {library}"
    );

    let symbolicated_id = symbolicated["eventID"].as_str().unwrap_or_default();
    let original = vigil.web_page(
        &cookie,
        &format!("/organizations/default/issues/{issue_id}/?event={symbolicated_id}"),
    );
    assert!(
        original.contains("applyDiscount") && original.contains("Show minified"),
        "the issue page shows the original frames, with the toggle"
    );
    let minified_page = vigil.web_page(
        &cookie,
        &format!(
            "/organizations/default/issues/{issue_id}/?event={symbolicated_id}&stack=minified"
        ),
    );
    let raw_function = raw["function"].as_str().unwrap_or_default();
    assert!(
        minified_page.contains("Show original")
            && minified_page.contains(&format!(">{raw_function}<")),
        "the toggle shows the minified frames ({raw_function})"
    );

    // The project's Source Maps page lists the bundle; its page lists the files with the
    // debug ID the event named.
    let debug_id = common::entry(&symbolicated, "debugmeta")
        .and_then(|meta| meta["images"][0]["debug_id"].as_str())
        .unwrap_or_else(|| panic!("the SDK sent the build's debug ID: {symbolicated}"))
        .to_owned();
    let listing = vigil.web_page(&cookie, "/settings/default/projects/shop/source-maps/");
    let bundle_href = listing
        .split("href=\"/settings/default/projects/shop/source-maps/")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_else(|| panic!("the Source Maps page links a bundle:\n{listing}"))
        .to_owned();
    let bundle_page = vigil.web_page(
        &cookie,
        &format!("/settings/default/projects/shop/source-maps/{bundle_href}"),
    );
    assert!(
        bundle_page.contains("~/app.min.js.map") && bundle_page.contains(&debug_id),
        "the bundle's page lists its files with their debug ID {debug_id}"
    );

    // 3. A rebuild with other minified names, uploaded by release (no debug IDs).
    sentry_cli(
        vigil,
        &[
            "sourcemaps",
            "upload",
            "--release",
            "shop@2.0.0",
            rebuilt.to_str().unwrap(),
        ],
    );
    load(&rebuilt, &dsn, "shop@2.0.0");
    let (third_issue, events) = issue_with_events(vigil, 3);
    assert_eq!(
        third_issue, issue_id,
        "the rebuild's error is the same issue"
    );
    let rebuilt_event = event(vigil, events[0]["eventID"].as_str().unwrap_or_default());
    let exception = self::exception(&rebuilt_event);
    assert_eq!(
        top_frame(&exception["stacktrace"])["function"],
        "applyDiscount"
    );
    let raw_function = top_frame(&exception["rawStacktrace"])["function"].clone();
    let first_raw = self::exception(&symbolicated)["rawStacktrace"].clone();
    assert_ne!(
        raw_function,
        top_frame(&first_raw)["function"],
        "the two builds' minified names differ"
    );
}

test_on_both_backends!(sourcemaps, sourcemaps_on_sqlite, sourcemaps_on_postgres);
