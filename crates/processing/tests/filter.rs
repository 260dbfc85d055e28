//! Inbound filters on the events real SDKs sent (`../shared/fixtures/sdk-payloads`): a new
//! project's defaults keep every one of them (none is noise), and the browser error of
//! @sentry/browser is dropped by each filter once it carries what that filter looks for (a
//! chrome-extension:// frame, an old or crawling User-Agent, a localhost page, a release or
//! message pattern), through `process_event` as the worker calls it, and kept with the filter
//! off.

mod common;

use std::sync::Arc;

use serde_json::{json, Value};
use vigil_model::{InboundFilters, LegacyBrowsers};
use vigil_processing::filter::Filters;
use vigil_processing::json::Json;
use vigil_processing::normalize::normalize_event;
use vigil_processing::performance::{process_transaction, Thresholds};
use vigil_processing::{filter, process_event, NormalizeContext, Outcome};

use common::fixture_events;

#[test]
fn a_new_projects_defaults_keep_every_sdk_fixture_event() {
    let events = fixture_events();
    assert!(events.len() > 20, "{} fixture events", events.len());
    for (name, bytes, ctx) in events {
        assert_eq!(ctx.filters.settings(), &InboundFilters::default());
        let raw = Json::parse(&bytes).expect("JSON");
        let is_transaction = raw.get("type").and_then(Json::as_str) == Some("transaction")
            || name.ends_with("_transaction");
        let outcome = if is_transaction {
            process_transaction(raw, 1, &ctx, &Thresholds::default())
                .map(|o| o.kept().is_some())
                .unwrap_or(true)
        } else {
            match process_event(raw, &ctx) {
                Ok(Outcome::Kept(_)) | Err(_) => true,
                Ok(Outcome::Filtered(f)) => panic!("{name}: filtered by {}", f.filter),
            }
        };
        assert!(outcome, "{name}: filtered");
    }
}

/// The @sentry/browser error of the fixtures (an uncaught TypeError in headless Chromium),
/// with its context.
fn browser_error() -> (Value, NormalizeContext) {
    let (_, bytes, ctx) = fixture_events()
        .into_iter()
        .find(|(name, bytes, _)| {
            name.starts_with("browser-uncaught-error")
                && serde_json::from_slice::<Value>(bytes)
                    .is_ok_and(|e| e.get("exception").is_some())
        })
        .expect("the browser error fixture");
    (serde_json::from_slice(&bytes).expect("JSON"), ctx)
}

fn run(event: &Value, ctx: &NormalizeContext, filters: InboundFilters) -> Option<&'static str> {
    let ctx = NormalizeContext {
        filters: Arc::new(Filters::new(filters)),
        ..ctx.clone()
    };
    let text = event.to_string();
    match process_event(Json::parse(text.as_bytes()).expect("JSON"), &ctx).expect("processes") {
        Outcome::Kept(_) => None,
        Outcome::Filtered(f) => {
            assert_eq!(f.category, "error");
            Some(f.filter.as_str())
        }
    }
}

#[test]
fn the_browser_fixture_is_dropped_by_each_filter_once_it_carries_what_the_filter_reads() {
    let (event, ctx) = browser_error();
    assert_eq!(run(&event, &ctx, InboundFilters::default()), None);

    let mut extension = event.clone();
    let frames = extension["exception"]["values"][0]["stacktrace"]["frames"]
        .as_array_mut()
        .expect("frames");
    frames.push(json!({
        "filename": "chrome-extension://aapbdbdomjkkjkaonfhkkikfgjllcleb/content.js",
        "abs_path": "chrome-extension://aapbdbdomjkkjkaonfhkkikfgjllcleb/content.js",
        "function": "inject", "lineno": 1, "colno": 1, "in_app": false
    }));
    assert_eq!(
        run(&extension, &ctx, InboundFilters::default()),
        Some("browser-extensions")
    );
    let off = InboundFilters {
        browser_extensions: false,
        ..InboundFilters::default()
    };
    assert_eq!(run(&extension, &ctx, off), None);

    let with_ua = |ua: &str| {
        let mut e = event.clone();
        e["request"]["headers"]["User-Agent"] = json!(ua);
        e
    };
    let ie9 = with_ua("Mozilla/5.0 (compatible; MSIE 9.0; Windows NT 6.1; Trident/5.0)");
    assert_eq!(
        run(&ie9, &ctx, InboundFilters::default()),
        Some("legacy-browsers")
    );
    let off = InboundFilters {
        legacy_browsers: LegacyBrowsers::Off,
        ..InboundFilters::default()
    };
    assert_eq!(run(&ie9, &ctx, off), None);
    let bot = with_ua("Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)");
    assert_eq!(
        run(&bot, &ctx, InboundFilters::default()),
        Some("web-crawlers")
    );

    // The fixture's page is served from 127.0.0.1: the localhost filter (off by default) drops
    // it.
    let localhost = InboundFilters {
        localhost: true,
        ..InboundFilters::default()
    };
    let url = event["request"]["url"].as_str().unwrap_or_default();
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    assert_eq!(run(&event, &ctx, localhost), Some("localhost"));

    let message = event["exception"]["values"][0]["value"]
        .as_str()
        .expect("value")
        .to_owned();
    let by_message = InboundFilters {
        error_messages: vec![format!("TypeError: {}*", &message[..message.len().min(12)])],
        ..InboundFilters::default()
    };
    assert_eq!(run(&event, &ctx, by_message), Some("error-message"));
    let by_ip = InboundFilters {
        blacklisted_ips: vec![format!("{}/32", common::CLIENT_IP)],
        ..InboundFilters::default()
    };
    assert_eq!(run(&event, &ctx, by_ip), Some("ip-address"));
}

#[test]
fn a_health_check_transaction_is_dropped_before_anything_is_made_of_it() {
    let (name, bytes, ctx) = fixture_events()
        .into_iter()
        .find(|(name, _, _)| name.ends_with("_transaction"))
        .expect("a transaction fixture");
    let mut transaction: Value = serde_json::from_slice(&bytes).expect("JSON");
    transaction["transaction"] = json!("/api/healthz");
    let text = transaction.to_string();
    let outcome = process_transaction(
        Json::parse(text.as_bytes()).expect("JSON"),
        1,
        &ctx,
        &Thresholds::default(),
    )
    .expect("processes");
    match outcome {
        Outcome::Filtered(f) => {
            assert_eq!(
                (f.filter.as_str(), f.category),
                ("filtered-transaction", "transaction")
            )
        }
        Outcome::Kept(_) => panic!("{name} renamed /api/healthz was kept"),
    }
    // A normalized error named like a health check is not a transaction: kept.
    let (event, ctx) = browser_error();
    let mut error = event;
    error["transaction"] = json!("/api/healthz");
    let text = error.to_string();
    let normalized = normalize_event(Json::parse(text.as_bytes()).expect("JSON"), &ctx).expect("n");
    assert_eq!(
        filter::check(&normalized, &ctx.filters, ctx.client_ip.as_deref()),
        None
    );
}
