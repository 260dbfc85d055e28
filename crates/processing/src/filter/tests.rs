use serde_json::{json, Value};
use vigil_model::{InboundFilters, LegacyBrowsers};

use super::*;
use crate::normalize::{normalize_event, NormalizeContext};

const CHROME_156: &str = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/156.0.0.0 Safari/537.36";
const IE_10: &str = "Mozilla/5.0 (compatible; MSIE 10.0; Windows NT 6.1; Trident/6.0)";
const GOOGLEBOT: &str = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)";

fn none() -> InboundFilters {
    InboundFilters::none()
}

/// A browser error as @sentry/browser sends it, with `patch` merged over it.
fn browser_event(patch: Value) -> Value {
    let mut event = json!({
        "event_id": "9ec79c33ec9942ab8353589fcb2e04dc",
        "platform": "javascript",
        "release": "shop@1.4.0",
        "exception": {"values": [{
            "type": "TypeError",
            "value": "Cannot read properties of undefined (reading 'id')",
            "stacktrace": {"frames": [
                {"filename": "https://shop.example.com/assets/app.js", "abs_path": "https://shop.example.com/assets/app.js", "function": "render", "lineno": 10, "colno": 3, "in_app": true}
            ]},
            "mechanism": {"type": "onerror", "handled": false}
        }]},
        "request": {
            "url": "https://shop.example.com/cart",
            "headers": {"User-Agent": CHROME_156}
        },
        "user": {"ip_address": "{{auto}}"},
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

/// The filter `settings` drop `event` by, after normalization as the worker runs it.
fn run(event: &Value, settings: InboundFilters) -> Option<&'static str> {
    let ctx = NormalizeContext {
        received: 1_795_574_444.0,
        client_ip: Some("203.0.113.9".into()),
        ..NormalizeContext::default()
    };
    let text = event.to_string();
    let raw = Json::parse(text.as_bytes()).expect("json");
    let normalized = normalize_event(raw, &ctx).expect("normalizes");
    check(
        &normalized,
        &Filters::new(settings),
        ctx.client_ip.as_deref(),
    )
    .map(FilterId::as_str)
}

#[test]
fn a_plain_browser_error_passes_sentrys_new_project_defaults() {
    assert_eq!(
        run(&browser_event(json!({})), InboundFilters::default()),
        None
    );
}

#[test]
fn browser_extension_frames_and_values() {
    let on = || InboundFilters {
        browser_extensions: true,
        ..none()
    };
    let frame = |path: &str| {
        browser_event(json!({"exception": {"values": [{
            "type": "TypeError", "value": "x is undefined",
            "stacktrace": {"frames": [
                {"abs_path": "https://shop.example.com/assets/app.js", "function": "a"},
                {"abs_path": path, "function": "b"}
            ]}
        }]}}))
    };
    for path in [
        "chrome-extension://aapbdbdomjkkjkaonfhkkikfgjllcleb/content.js",
        "moz-extension://2f1a/inject.js",
        "safari-extension://com.example/script.js",
        "https://connect.facebook.net/en_US/sdk.js",
        "https://fscr.kaspersky-labs.com/B-9B72-7B7/main.js",
    ] {
        assert_eq!(
            run(&frame(path), on()),
            Some("browser-extensions"),
            "{path}"
        );
    }
    // Only the innermost (last) frame counts, as in Relay.
    let outer = browser_event(json!({"exception": {"values": [{
        "type": "TypeError", "value": "x",
        "stacktrace": {"frames": [
            {"abs_path": "chrome-extension://abc/content.js"},
            {"abs_path": "https://shop.example.com/assets/app.js"}
        ]}
    }]}}));
    assert_eq!(run(&outer, on()), None);
    let value = browser_event(json!({"exception": {"values": [{
        "type": "Error", "value": "Extension context invalidated."
    }]}}));
    assert_eq!(run(&value, on()), Some("browser-extensions"));
    assert_eq!(run(&value, none()), None);
    assert_eq!(run(&frame("https://shop.example.com/x.js"), on()), None);
}

#[test]
fn localhost_by_address_url_and_host_header() {
    let on = || InboundFilters {
        localhost: true,
        ..none()
    };
    let cases = [
        (json!({"user": {"ip_address": "127.0.0.1"}}), true),
        (json!({"user": {"ip_address": "::1"}}), true),
        (
            json!({"request": {"url": "http://localhost:3000/cart"}}),
            true,
        ),
        (
            json!({"request": {"url": "http://foo.localhost/cart"}}),
            true,
        ),
        (json!({"request": {"url": "http://127.0.0.1:8000/"}}), true),
        (
            json!({"request": {"url": "file:///Users/maisey/leaderboard.html"}}),
            true,
        ),
        (json!({"request": {"url": "http://localhost.com/"}}), false),
        (json!({"request": {"url": "http://foolocalhost/"}}), false),
        (
            json!({"request": {"headers": {"X-Forwarded-For": "::1"}}}),
            true,
        ),
        (json!({"user": {"ip_address": "133.12.12.1"}}), false),
    ];
    for (patch, filtered) in cases {
        let event = browser_event(patch.clone());
        let expected = filtered.then_some("localhost");
        assert_eq!(run(&event, on()), expected, "{patch}");
    }
    // The Host header counts only when the event has no URL.
    let mut no_url = browser_event(json!({"request": {"headers": {"Host": "localhost:3000"}}}));
    no_url["request"]
        .as_object_mut()
        .expect("request")
        .remove("url");
    assert_eq!(run(&no_url, on()), Some("localhost"));
    let with_url = browser_event(json!({"request": {"headers": {"Host": "localhost:3000"}}}));
    assert_eq!(run(&with_url, on()), None);
}

#[test]
fn legacy_browsers_by_subfilter() {
    let ie10 = browser_event(json!({"request": {"headers": {"User-Agent": IE_10}}}));
    let with = |legacy| InboundFilters {
        legacy_browsers: legacy,
        ..none()
    };
    assert_eq!(
        run(&ie10, InboundFilters::default()),
        Some("legacy-browsers")
    );
    assert_eq!(
        run(&ie10, with(LegacyBrowsers::only(["ie10"]))),
        Some("legacy-browsers")
    );
    assert_eq!(
        run(&ie10, with(LegacyBrowsers::only(["ie9", "safari"]))),
        None
    );
    // Relay's default set stops below IE 10.
    assert_eq!(run(&ie10, with(LegacyBrowsers::Default)), None);
    assert_eq!(run(&ie10, with(LegacyBrowsers::Off)), None);
    let chrome = browser_event(json!({}));
    assert_eq!(run(&chrome, with(LegacyBrowsers::only(["chrome"]))), None);
}

#[test]
fn web_crawlers_by_user_agent() {
    let on = || InboundFilters {
        web_crawlers: true,
        ..none()
    };
    for ua in [
        GOOGLEBOT,
        "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
        "Twitterbot/1.0",
        "Mozilla/5.0 (compatible; HubSpot Crawler; web-crawlers@hubspot.com)",
    ] {
        let event = browser_event(json!({"request": {"headers": {"User-Agent": ua}}}));
        assert_eq!(run(&event, on()), Some("web-crawlers"), "{ua}");
    }
    for ua in [
        CHROME_156,
        "APIs-Google (+https://developers.google.com/webmasters/APIs-Google.html)",
        "safari",
    ] {
        let event = browser_event(json!({"request": {"headers": {"User-Agent": ua}}}));
        assert_eq!(run(&event, on()), None, "{ua}");
    }
}

#[test]
fn custom_error_messages_releases_and_ips() {
    let event = browser_event(json!({}));
    let messages = |p: &[&str]| InboundFilters {
        error_messages: p.iter().map(|s| s.to_string()).collect(),
        ..none()
    };
    assert_eq!(
        run(&event, messages(&["typeerror: cannot read*"])),
        Some("error-message")
    );
    // An exception is matched as `Type: value` whole, not its value alone.
    assert_eq!(run(&event, messages(&["Cannot read properties*"])), None);
    assert_eq!(
        run(&event, messages(&["*Cannot read properties*"])),
        Some("error-message")
    );
    assert_eq!(run(&event, messages(&["TypeError"])), None);
    let message = json!({"event_id": "9ec79c33ec9942ab8353589fcb2e04dc", "message": "Payment gateway timed out after 30s"});
    assert_eq!(
        run(&message, messages(&["*gateway timed out*"])),
        Some("error-message")
    );

    let releases = |p: &[&str]| InboundFilters {
        releases: p.iter().map(|s| s.to_string()).collect(),
        ..none()
    };
    assert_eq!(
        run(&event, releases(&["shop@1.*"])),
        Some("release-version")
    );
    assert_eq!(run(&event, releases(&["shop@2.*"])), None);

    let ips = |p: &[&str]| InboundFilters {
        blacklisted_ips: p.iter().map(|s| s.to_string()).collect(),
        ..none()
    };
    assert_eq!(run(&event, ips(&["203.0.113.0/24"])), Some("ip-address"));
    assert_eq!(run(&event, ips(&["203.0.113.9"])), Some("ip-address"));
    assert_eq!(run(&event, ips(&["198.51.100.0/24", "::1"])), None);
}

#[test]
fn health_check_transactions_only() {
    let on = || InboundFilters {
        filtered_transaction: true,
        ..none()
    };
    let transaction = |name: &str| {
        json!({
            "type": "transaction", "transaction": name,
            "start_timestamp": 1_795_574_440.0, "timestamp": 1_795_574_441.0,
            "contexts": {"trace": {"trace_id": "4c79f60c11214eb38604f4ae0781bfb2", "span_id": "fa90fdead5f74052"}}
        })
    };
    for name in [
        "/api/health",
        "/healthz",
        "GET /readyz",
        "HealthCheckView",
        "/ping",
        "/heartbeat/now",
    ] {
        assert_eq!(
            run(&transaction(name), on()),
            Some("filtered-transaction"),
            "{name}"
        );
    }
    for name in ["/api/checkout", "/healthy-recipes/list", "/pingback"] {
        assert_eq!(run(&transaction(name), on()), None, "{name}");
    }
    // An error whose transaction is a health check is kept.
    let error = browser_event(json!({"transaction": "/health"}));
    assert_eq!(run(&error, on()), None);
}

#[test]
fn generic_chunk_load_and_hydration_errors() {
    let exception = |ty: &str, value: &str| {
        browser_event(json!({"exception": {"values": [{"type": ty, "value": value}]}}))
    };
    let chunk = InboundFilters {
        chunk_load_error: true,
        ..none()
    };
    let hydration = InboundFilters {
        react_hydration_errors: true,
        ..none()
    };
    assert_eq!(
        run(
            &exception("ChunkLoadError", "Loading chunk 3662 failed."),
            chunk.clone()
        ),
        Some("chunk-load-error")
    );
    assert_eq!(
        run(
            &exception(
                "Error",
                "Uncaught (in promise): ChunkLoadError: Loading chunk 175 failed."
            ),
            chunk.clone()
        ),
        Some("chunk-load-error")
    );
    assert_eq!(
        run(
            &exception(
                "ChunkLoadError",
                "Failed to load chunk /_next/static/chunks/1.js"
            ),
            chunk.clone()
        ),
        Some("chunk-load-error")
    );
    assert_eq!(
        run(
            &exception("TypeError", "Loading chunk 3 failed."),
            chunk.clone()
        ),
        None
    );
    let minified = "Minified React error #423; visit https://reactjs.org/docs/error-decoder.html?invariant=423 for the full message";
    assert_eq!(
        run(&exception("Error", minified), hydration.clone()),
        Some("react-hydration-errors")
    );
    assert_eq!(
        run(
            &exception(
                "Error",
                "Minified React error #418; visit https://react.dev/errors/418?args[]=text"
            ),
            hydration.clone()
        ),
        Some("react-hydration-errors")
    );
    assert_eq!(
        run(
            &exception(
                "Error",
                "Minified React error #185; visit https://react.dev/errors/185"
            ),
            hydration
        ),
        None
    );
    assert_eq!(run(&exception("Error", minified), none()), None);
}

#[test]
fn the_first_filter_in_relays_order_names_the_outcome() {
    let event = browser_event(json!({
        "request": {"headers": {"User-Agent": GOOGLEBOT}},
        "exception": {"values": [{"type": "Error", "value": "Extension context invalidated"}]}
    }));
    let both = InboundFilters {
        browser_extensions: true,
        web_crawlers: true,
        ..none()
    };
    assert_eq!(run(&event, both.clone()), Some("browser-extensions"));
    let with_release = InboundFilters {
        releases: vec!["shop@*".into()],
        ..both
    };
    assert_eq!(run(&event, with_release), Some("release-version"));
}

#[test]
fn categories_follow_the_event_type() {
    let cat = |v: Value| {
        let text = v.to_string();
        category(&Json::parse(text.as_bytes()).expect("json"))
    };
    assert_eq!(cat(json!({"type": "transaction"})), "transaction");
    assert_eq!(cat(json!({"type": "csp"})), "security");
    assert_eq!(cat(json!({"type": "error"})), "error");
    assert_eq!(cat(json!({})), "error");
}
