//! The end-to-end proof of inbound filters: through the real ingest endpoint of the real
//! binary, an event hit by each filter (browser extensions, localhost, legacy browsers, web
//! crawlers, health-check transactions, the custom error-message and release filters set
//! through the project's `options`, Sentry's chunk-load and React hydration filters) is
//! counted (`vigil_events_filtered_total`) and not stored: not in the project's issues, its
//! event 404. An event hit by none is stored. Turning the crawler filter off lets the same
//! event through; an IP range set through `options` drops the good event, and clearing it
//! lets it through again. CSP reports about Sentry's default ignored sources and about a
//! project's additional ones are dropped at the security endpoint's events; turning the
//! defaults off lets an extension's report through.
//!
//! On SQLite and on PostgreSQL (`VIGIL_TEST_DATABASE_URL`), from one test body, one server per
//! backend.

mod common;

use common::backend::{test_on_both_backends, Backend, Server};
use common::{Dsn, Vigil};
use serde_json::{json, Value};

const IE_10: &str = "Mozilla/5.0 (compatible; MSIE 10.0; Windows NT 6.1; Trident/6.0)";
const GOOGLEBOT: &str = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)";
const CHROME: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/142.0.0.0 Safari/537.36";
const PROJECT: &str = "/api/0/projects/default/web/";

/// A browser error as @sentry/browser sends it, with `patch` merged over it. The user's
/// address is set so that the sender's (127.0.0.1, which the localhost filter would catch) is
/// not inferred.
fn browser_error(ty: &str, value: &str, patch: Value) -> Value {
    let mut event = json!({
        "platform": "javascript",
        "release": "web@2.0.0",
        "environment": "production",
        "exception": {"values": [{
            "type": ty,
            "value": value,
            "stacktrace": {"frames": [{
                "filename": "https://shop.example.com/assets/app.js",
                "abs_path": "https://shop.example.com/assets/app.js",
                "function": "render", "lineno": 10, "colno": 3, "in_app": true
            }]},
            "mechanism": {"type": "onerror", "handled": false}
        }]},
        "request": {"url": "https://shop.example.com/cart", "headers": {"User-Agent": CHROME}},
        "user": {"ip_address": "198.51.100.7"},
        "sdk": {"name": "sentry.javascript.browser", "version": "11.12.0"}
    });
    merge(&mut event, patch);
    event
}

fn merge(target: &mut Value, patch: Value) {
    match (target, patch) {
        (Value::Object(t), Value::Object(p)) => {
            for (k, v) in p {
                merge(t.entry(k).or_insert(Value::Null), v);
            }
        }
        (t, p) => *t = p,
    }
}

/// A transaction named `name`, as the Python SDK sends one.
fn transaction(name: &str, n: u32) -> Value {
    json!({
        "type": "transaction",
        "platform": "python",
        "transaction": name,
        "start_timestamp": now() - 1.0,
        "timestamp": now(),
        "contexts": {"trace": {
            "trace_id": format!("{n:032x}"), "span_id": format!("{n:016x}"), "op": "http.server"
        }},
        "spans": []
    })
}

fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// Sends `payload` as an `event` or `transaction` item with the id `n`; asserts it was
/// accepted (filters drop after the acknowledgement, as Relay's outcomes do).
fn send(vigil: &Vigil, dsn: &Dsn, item_type: &str, n: u32, payload: &Value) -> String {
    let event_id = format!("{n:032x}");
    let payload = payload.to_string();
    let body = format!(
        "{{\"event_id\":\"{event_id}\"}}\n{{\"type\":\"{item_type}\",\"length\":{}}}\n{payload}\n",
        payload.len()
    );
    let auth = format!(
        "Sentry sentry_key={}, sentry_version=7, sentry_client=filters-e2e/1.0",
        dsn.public_key
    );
    let answer = vigil
        .http()
        .post(vigil.url(&format!("/api/{}/envelope/", dsn.project_id)))
        .header("X-Sentry-Auth", auth)
        .body(body)
        .send()
        .expect("POST envelope");
    assert_eq!(answer.status().as_u16(), 200, "{item_type} {n}");
    event_id
}

/// A counter of `/metrics`.
fn metric(vigil: &Vigil, name: &str) -> u64 {
    let text = vigil
        .http()
        .get(vigil.url("/metrics"))
        .send()
        .and_then(|r| r.text())
        .expect("GET /metrics");
    text.lines()
        .find_map(|line| line.strip_prefix(&format!("{name} ")))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {name} in /metrics"))
}

fn event_status(vigil: &Vigil, event_id: &str) -> u16 {
    vigil
        .api_get(&format!("{PROJECT}events/{event_id}/"), &[])
        .status
}

fn issue_titles(vigil: &Vigil) -> Vec<String> {
    let mut titles: Vec<String> = vigil
        .project_issues("web", "")
        .iter()
        .filter_map(|i| i["title"].as_str().map(str::to_owned))
        .collect();
    titles.sort();
    titles
}

test_on_both_backends!(
    filtered_events_are_counted_not_stored,
    each_filter_drops_its_event_and_keeps_the_good_one,
    on_postgres_each_filter_drops_its_event_and_keeps_the_good_one
);

fn filtered_events_are_counted_not_stored(backend: Backend) {
    let server = Server::start(backend);
    let vigil = &server.vigil;
    let dsn = vigil.create_project("web", "javascript");

    // A new project's defaults plus localhost and the custom filters.
    let answer = vigil.api_put(
        &format!("{PROJECT}filters/localhost/"),
        &json!({"active": true}),
    );
    assert_eq!(answer.status, 204, "{}", answer.body);
    let options = json!({"options": {
        "filters:error_messages": "*ResizeObserver loop*",
        "filters:releases": "web@0.9.*",
    }});
    vigil.api_put(PROJECT, &options).ok("PUT options");

    let filtered_before = metric(vigil, "vigil_events_filtered_total");
    let transactions_before = metric(vigil, "vigil_transactions_processed_total");
    let crawler = browser_error(
        "TypeError",
        "Cannot read properties of undefined (reading 'cart')",
        json!({"request": {"headers": {"User-Agent": GOOGLEBOT}}}),
    );
    let dropped: Vec<(&str, &str, Value)> = vec![
        (
            "browser-extensions",
            "event",
            browser_error(
                "TypeError",
                "n is undefined",
                json!({"exception": {"values": [{"type": "TypeError", "value": "n is undefined", "stacktrace": {"frames": [{
                    "abs_path": "chrome-extension://aapbdbdomjkkjkaonfhkkikfgjllcleb/content.js",
                    "filename": "chrome-extension://aapbdbdomjkkjkaonfhkkikfgjllcleb/content.js",
                    "function": "inject"
                }]}}]}}),
            ),
        ),
        (
            "localhost",
            "event",
            browser_error("Error", "local only", json!({"request": {"url": "http://localhost:3000/cart"}})),
        ),
        (
            "legacy-browsers",
            "event",
            browser_error("TypeError", "Object doesn't support this action", json!({"request": {"headers": {"User-Agent": IE_10}}})),
        ),
        ("web-crawlers", "event", crawler.clone()),
        ("filtered-transaction", "transaction", transaction("/healthz", 1)),
        (
            "error-message",
            "event",
            browser_error("Error", "ResizeObserver loop completed with undelivered notifications.", json!({})),
        ),
        (
            "release-version",
            "event",
            browser_error("Error", "old release", json!({"release": "web@0.9.4"})),
        ),
        (
            "chunk-load-error",
            "event",
            browser_error("ChunkLoadError", "Loading chunk 3662 failed.", json!({})),
        ),
        (
            "react-hydration-errors",
            "event",
            browser_error(
                "Error",
                "Minified React error #418; visit https://react.dev/errors/418?args[]= for the full message",
                json!({}),
            ),
        ),
    ];
    let mut dropped_ids = Vec::new();
    for (n, (filter, item_type, payload)) in dropped.iter().enumerate() {
        let id = send(vigil, &dsn, item_type, 100 + n as u32, payload);
        dropped_ids.push((filter, id));
    }
    let good = browser_error("GoodError", "kept", json!({}));
    let good_id = send(vigil, &dsn, "event", 1, &good);
    send(
        vigil,
        &dsn,
        "transaction",
        2,
        &transaction("/api/checkout", 2),
    );
    vigil.settle();

    assert_eq!(issue_titles(vigil), ["GoodError: kept"]);
    assert_eq!(event_status(vigil, &good_id), 200);
    for (filter, id) in &dropped_ids {
        assert_eq!(
            event_status(vigil, id),
            404,
            "{filter}: event {id} was stored"
        );
    }
    assert_eq!(
        metric(vigil, "vigil_events_filtered_total") - filtered_before,
        dropped.len() as u64
    );
    assert_eq!(
        metric(vigil, "vigil_transactions_processed_total") - transactions_before,
        1,
        "the health check is dropped, the checkout kept"
    );

    // Turning the crawler filter off lets the same event through.
    let answer = vigil.api_put(
        &format!("{PROJECT}filters/web-crawlers/"),
        &json!({"active": false}),
    );
    assert_eq!(answer.status, 204, "{}", answer.body);
    let crawler_id = send(vigil, &dsn, "event", 200, &crawler);
    vigil.settle();
    assert_eq!(
        event_status(vigil, &crawler_id),
        200,
        "the crawler's event is kept now"
    );
    assert_eq!(
        issue_titles(vigil),
        [
            "GoodError: kept",
            "TypeError: Cannot read properties of undefined (reading 'cart')"
        ]
    );

    // The sender's address (this test's, 127.0.0.1) in a blocked range drops even the good
    // event; clearing the range lets it through.
    let block = json!({"options": {"filters:blacklisted_ips": "10.0.0.0/8\n127.0.0.0/8"}});
    vigil.api_put(PROJECT, &block).ok("PUT blacklisted_ips");
    let blocked_id = send(vigil, &dsn, "event", 300, &good);
    vigil.settle();
    assert_eq!(
        event_status(vigil, &blocked_id),
        404,
        "sent from a blocked address"
    );
    vigil
        .api_put(
            PROJECT,
            &json!({"options": {"filters:blacklisted_ips": ""}}),
        )
        .ok("clear blacklisted_ips");
    let again_id = send(vigil, &dsn, "event", 301, &good);
    vigil.settle();
    assert_eq!(event_status(vigil, &again_id), 200);
    assert_eq!(
        metric(vigil, "vigil_events_filtered_total") - filtered_before,
        dropped.len() as u64 + 1
    );

    // CSP reports: an extension's (Sentry's default ignored sources) and one from an additional
    // ignored source are dropped, the site's own is kept. (Reports carry no user address but
    // the sender's, 127.0.0.1, which the localhost filter would take: turned off first.)
    let answer = vigil.api_put(
        &format!("{PROJECT}filters/localhost/"),
        &json!({"active": false}),
    );
    assert_eq!(answer.status, 204, "{}", answer.body);
    let csp_options = json!({"options": {"sentry:csp_ignored_sources": "*.ads.example"}});
    vigil
        .api_put(PROJECT, &csp_options)
        .ok("PUT csp_ignored_sources");
    let csp_before = metric(vigil, "vigil_events_filtered_total");
    send_csp(
        vigil,
        &dsn,
        "chrome-extension://aapbdbdomjkkjkaonfhkkikfgjllcleb/inject.js",
    );
    send_csp(vigil, &dsn, "https://tracker.ads.example/pixel.js");
    send_csp(vigil, &dsn, "https://cdn.partner.example/widget.js");
    vigil.settle();
    let csp_titles = |vigil: &Vigil| -> Vec<String> {
        issue_titles(vigil)
            .into_iter()
            .filter(|t| t.starts_with("Blocked"))
            .collect()
    };
    assert_eq!(
        csp_titles(vigil),
        ["Blocked 'script' from 'cdn.partner.example'"]
    );
    assert_eq!(metric(vigil, "vigil_events_filtered_total") - csp_before, 2);
    let defaults_off = json!({"options": {"sentry:csp_ignored_sources_defaults": false}});
    vigil
        .api_put(PROJECT, &defaults_off)
        .ok("PUT csp defaults off");
    send_csp(
        vigil,
        &dsn,
        "chrome-extension://aapbdbdomjkkjkaonfhkkikfgjllcleb/inject.js",
    );
    vigil.settle();
    assert_eq!(
        csp_titles(vigil),
        [
            "Blocked 'script' from 'cdn.partner.example'",
            "Blocked 'script' from 'chrome-extension://aapbdbdomjkkjkaonfhkkikfgjllcleb'"
        ]
    );
}

/// Posts a browser's CSP violation report about a script from `blocked_uri` to the security
/// endpoint; asserts it was accepted.
fn send_csp(vigil: &Vigil, dsn: &Dsn, blocked_uri: &str) {
    let report = json!({"csp-report": {
        "document-uri": "https://shop.example/cart",
        "referrer": "",
        "violated-directive": "script-src",
        "effective-directive": "script-src",
        "original-policy": "script-src 'self'; report-uri /csp",
        "disposition": "enforce",
        "blocked-uri": blocked_uri,
        "status-code": 200,
    }});
    let answer = vigil
        .http()
        .post(vigil.url(&format!(
            "/api/{}/security/?sentry_key={}",
            dsn.project_id, dsn.public_key
        )))
        .header("Content-Type", "application/csp-report")
        .header("User-Agent", CHROME)
        .body(report.to_string())
        .send()
        .expect("POST security report");
    assert!(
        answer.status().is_success(),
        "{blocked_uri}: {}",
        answer.status()
    );
}
