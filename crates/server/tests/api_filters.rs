//! A project's inbound filters through Sentry's `GET /filters/`, `PUT /filters/{filter_id}/`
//! and the project's `options` (`GET` / `PUT /api/0/projects/{org}/{project}/`), on the real
//! router and a real SQLite store (the store's suite runs the filters on PostgreSQL too): the
//! list's shape and a new project's defaults, each toggle and the legacy-browser subfilters,
//! unknown filters 404, bad bodies and options 400 naming the field, no change without project
//! write access, and an event the changed filters drop not stored.

mod common;

use axum::http::StatusCode;
use common::Harness;
use serde_json::{json, Value};
use vigil_store::prelude::*;
use vigil_store::{InboundFilters, LegacyBrowsers};

const LIST: &str = "/api/0/projects/default/shop/filters/";
const PROJECT: &str = "/api/0/projects/default/shop/";

fn filter_path(id: &str) -> String {
    format!("{LIST}{id}/")
}

async fn writer(h: &Harness) -> String {
    let user = h.member_of("default", "writer@example.com").await;
    h.token_for(user.id, &["project:write"]).await
}

async fn stored(h: &Harness) -> InboundFilters {
    h.store
        .inbound_filters(h.project.id)
        .await
        .expect("filters")
}

/// The `active` of filter `id` in the list.
fn active(list: &Value, id: &str) -> Value {
    list.as_array()
        .into_iter()
        .flatten()
        .find(|f| f["id"] == id)
        .map(|f| f["active"].clone())
        .unwrap_or_else(|| panic!("{id} not in {list}"))
}

#[tokio::test]
async fn the_list_has_sentrys_shape_and_a_new_projects_defaults() {
    let h = Harness::new().await;
    let (status, _, list) = h.get(LIST).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    let names: Vec<&str> = list
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|f| f["name"].as_str())
        .collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted, "sorted by name as Sentry sorts them");
    assert_eq!(names.len(), 5);
    let localhost = &list[1];
    assert_eq!(
        localhost,
        &json!({
            "id": "localhost",
            "active": false,
            "description": "This applies to both IPv4 (``127.0.0.1``) and IPv6 (``::1``) addresses.",
            "name": "Filter out events coming from localhost",
            "hello": "localhost - Filter out events coming from localhost",
        })
    );
    assert_eq!(active(&list, "browser-extensions"), json!(true));
    assert_eq!(active(&list, "web-crawlers"), json!(true));
    assert_eq!(active(&list, "filtered-transaction"), json!(true));
    assert_eq!(
        active(&list, "legacy-browsers"),
        json!([
            "android",
            "chrome",
            "edge",
            "firefox",
            "ie",
            "opera",
            "opera_mini",
            "safari"
        ])
    );
    let (_, _, project) = h.get(PROJECT).await;
    assert_eq!(
        project["options"],
        json!({
            "filters:blacklisted_ips": "",
            "filters:releases": "",
            "filters:error_messages": "",
            "filters:react-hydration-errors": true,
            "filters:chunk-load-error": true,
            "sentry:csp_ignored_sources_defaults": true,
            "sentry:csp_ignored_sources": "",
        })
    );
}

#[tokio::test]
async fn each_filter_is_toggled_and_legacy_browsers_take_subfilters() {
    let h = Harness::new().await;
    let token = writer(&h).await;
    for (id, on) in [
        ("localhost", true),
        ("browser-extensions", false),
        ("web-crawlers", false),
        ("filtered-transaction", false),
    ] {
        let (status, body) = h
            .call_as(
                &token,
                "PUT",
                &filter_path(id),
                Some(json!({ "active": on })),
            )
            .await;
        assert_eq!(status, StatusCode::NO_CONTENT, "{id}: {body}");
        let (_, _, list) = h.get(LIST).await;
        assert_eq!(active(&list, id), json!(on), "{id}");
    }
    let legacy = filter_path("legacy-browsers");
    let cases = [
        (
            json!({"subfilters": ["safari", "ie11", "ie11"]}),
            json!(["ie11", "safari"]),
        ),
        (json!({"active": true}), json!(true)),
        (json!({"active": false}), json!(false)),
        (
            json!({"subfilters": ["edge_pre_79"]}),
            json!(["edge_pre_79"]),
        ),
        (json!({"subfilters": []}), json!(false)),
    ];
    for (body, shown) in cases {
        let (status, answer) = h.call_as(&token, "PUT", &legacy, Some(body.clone())).await;
        assert_eq!(status, StatusCode::NO_CONTENT, "{body}: {answer}");
        let (_, _, list) = h.get(LIST).await;
        assert_eq!(active(&list, "legacy-browsers"), shown, "{body}");
    }
    let expected = InboundFilters {
        localhost: true,
        browser_extensions: false,
        web_crawlers: false,
        filtered_transaction: false,
        legacy_browsers: LegacyBrowsers::Off,
        ..InboundFilters::default()
    };
    assert_eq!(stored(&h).await, expected);
}

#[tokio::test]
async fn unknown_filters_are_404_and_bad_bodies_400_naming_the_field() {
    let h = Harness::new().await;
    let token = writer(&h).await;
    for id in ["nope", "chunk-load-error", "error-message"] {
        let (status, _) = h
            .call_as(
                &token,
                "PUT",
                &filter_path(id),
                Some(json!({"active": true})),
            )
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{id}");
    }
    let cases: Vec<(&str, Value, &str)> = vec![
        ("localhost", json!({"active": "yes"}), "active"),
        ("localhost", json!({"active": null}), "active"),
        ("localhost", json!({"subfilters": ["ie"]}), "subfilters"),
        ("web-crawlers", json!({"enabled": true}), "enabled"),
        (
            "legacy-browsers",
            json!({"subfilters": ["netscape"]}),
            "subfilters",
        ),
        ("legacy-browsers", json!({"subfilters": "ie"}), "subfilters"),
    ];
    for (id, body, field) in cases {
        let (status, answer) = h
            .call_as(&token, "PUT", &filter_path(id), Some(body.clone()))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{id} {body}: {answer}");
        assert!(
            answer[field][0].as_str().is_some_and(|r| !r.is_empty()),
            "{answer}"
        );
    }
    let (status, _) = h
        .call_as(
            &token,
            "PUT",
            &filter_path("localhost"),
            Some(json!([true])),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        stored(&h).await,
        InboundFilters::default(),
        "nothing applied"
    );
}

#[tokio::test]
async fn custom_filters_are_project_options() {
    let h = Harness::new().await;
    let token = writer(&h).await;
    let options = json!({"options": {
        "filters:error_messages": "*ResizeObserver loop*\n  TypeError: Failed to fetch  \n\n",
        "filters:releases": "shop@1.*",
        "filters:blacklisted_ips": "10.0.0.0/8\n2001:db8::1",
        "filters:react-hydration-errors": false,
        "filters:chunk-load-error": true,
        "sentry:csp_ignored_sources_defaults": false,
        "sentry:csp_ignored_sources": "*.ads.example\n chrome-extension://* ",
    }});
    let (status, body) = h.call_as(&token, "PUT", PROJECT, Some(options)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["options"],
        json!({
            "filters:blacklisted_ips": "10.0.0.0/8\n2001:db8::1",
            "filters:releases": "shop@1.*",
            "filters:error_messages": "*ResizeObserver loop*\nTypeError: Failed to fetch",
            "filters:react-hydration-errors": false,
            "filters:chunk-load-error": true,
            "sentry:csp_ignored_sources_defaults": false,
            "sentry:csp_ignored_sources": "*.ads.example\nchrome-extension://*",
        })
    );
    let (_, _, shown) = h.get(PROJECT).await;
    assert_eq!(shown, body, "PUT answers what GET shows");
    let saved = stored(&h).await;
    assert_eq!(
        saved.error_messages,
        ["*ResizeObserver loop*", "TypeError: Failed to fetch"]
    );
    assert!(!saved.react_hydration_errors);
    assert!(!saved.csp_ignored_sources_defaults);
    assert_eq!(
        saved.csp_ignored_sources,
        ["*.ads.example", "chrome-extension://*"]
    );

    let cases: Vec<(Value, &str)> = vec![
        (
            json!({"options": {"filters:blacklisted_ips": "10.0.0.1\n300.1.1.1"}}),
            "filters:blacklisted_ips",
        ),
        (
            json!({"options": {"filters:blacklisted_ips": "10.0.0.0/33"}}),
            "filters:blacklisted_ips",
        ),
        (
            json!({"options": {"filters:releases": ["1.0"]}}),
            "filters:releases",
        ),
        (
            json!({"options": {"filters:chunk-load-error": "1"}}),
            "filters:chunk-load-error",
        ),
        (
            json!({"options": {"sentry:csp_ignored_sources_defaults": "yes"}}),
            "sentry:csp_ignored_sources_defaults",
        ),
        (
            json!({"options": {"sentry:scrape_javascript": false}}),
            "options",
        ),
        (json!({"options": "filters:releases"}), "options"),
        // A refused option leaves the scrubbing settings beside it unchanged too.
        (
            json!({"dataScrubber": false, "options": {"filters:localhost": true}}),
            "options",
        ),
    ];
    for (body, field) in cases {
        let (status, answer) = h.call_as(&token, "PUT", PROJECT, Some(body.clone())).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {answer}");
        assert!(
            answer[field][0].as_str().is_some_and(|r| !r.is_empty()),
            "{body}: {answer}"
        );
    }
    let (_, _, after) = h.get(PROJECT).await;
    assert_eq!(after, shown, "nothing applied");
    // An empty value clears a list.
    let (status, body) = h
        .call_as(
            &token,
            "PUT",
            PROJECT,
            Some(json!({"options": {"filters:releases": ""}})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(stored(&h).await.releases.is_empty());
}

#[tokio::test]
async fn changing_filters_needs_project_write_access() {
    let h = Harness::new().await;
    let reader = h.member_of("default", "reader@example.com").await;
    let reader = h.token_for(reader.id, &["org:read", "project:read"]).await;
    let (status, list) = h.get_as(&reader, LIST).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    let (status, _) = h
        .call_as(
            &reader,
            "PUT",
            &filter_path("localhost"),
            Some(json!({"active": true})),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = h
        .call_as(
            &reader,
            "PUT",
            PROJECT,
            Some(json!({"options": {"filters:releases": "1.0"}})),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(stored(&h).await, InboundFilters::default());
    let outsider = h.member_of("other", "outsider@example.com").await;
    let outsider = h.token_for(outsider.id, &["project:write"]).await;
    let (status, _) = h.get_as(&outsider, LIST).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn an_event_a_changed_filter_drops_is_not_stored() {
    let h = Harness::new().await;
    let token = writer(&h).await;
    let event = |release: &str| {
        json!({
            "platform": "python",
            "release": release,
            "exception": {"values": [{"type": "ValueError", "value": "bad input"}]}
        })
    };
    let (status, body) = h
        .call_as(
            &token,
            "PUT",
            PROJECT,
            Some(json!({"options": {"filters:releases": "shop@1.*"}})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    common::ingest(&h, 1, &event("shop@1.2.0")).await;
    common::ingest(&h, 2, &event("shop@2.0.0")).await;
    let issues = h.issues().await;
    assert_eq!(issues.len(), 1, "only the release not filtered is stored");
    let (status, _, _) = h
        .get(&format!("/api/0/projects/default/shop/events/{:032x}/", 1))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _, _) = h
        .get(&format!("/api/0/projects/default/shop/events/{:032x}/", 2))
        .await;
    assert_eq!(status, StatusCode::OK);
    let metrics = h
        .state
        .metrics
        .events_filtered
        .load(std::sync::atomic::Ordering::Relaxed);
    assert_eq!(metrics, 1);
}
