//! The issue list's search box through the real router and a real SQLite store: an event id
//! or a short id typed alone opens its issue, a search that cannot be parsed is a 400 page
//! saying why (naming the key), and the new terms filter the list shown.

mod common;

use axum::http::StatusCode;
use common::page::Session;
use common::{ingest, Harness};
use serde_json::{json, Value};

fn error(exc_type: &str, value: &str, level: &str) -> Value {
    json!({
        "platform": "python",
        "level": level,
        "exception": {"values": [{"type": exc_type, "value": value,
            "mechanism": {"type": "generic", "handled": exc_type != "ValueError"}}]},
        "request": {"url": "http://shop.example/checkout/pay", "method": "POST"},
    })
}

#[tokio::test]
async fn ids_typed_alone_open_their_issue_and_bad_searches_say_why() {
    let h = Harness::new().await;
    let value_event = ingest(&h, 1, &error("ValueError", "timeout after 30s", "error")).await;
    ingest(&h, 2, &error("KeyError", "'user'", "warning")).await;
    let issues = h.issues().await;
    let value_issue = issues
        .iter()
        .find(|i| i.title.starts_with("ValueError"))
        .expect("the ValueError issue");
    let short_id = h.project.short_id(value_issue.short_id);
    let session = Session::admin(&h).await;
    let list = "/organizations/default/issues/";
    let issue_page = format!("/organizations/default/issues/{}/", value_issue.id);

    for typed in [
        value_event.clone(),
        short_id.clone(),
        short_id.to_lowercase(),
    ] {
        let page = session.get(&format!("{list}?query={typed}")).await;
        assert!(page.status.is_redirection(), "{typed}: {}", page.status);
        assert_eq!(page.location(), issue_page, "{typed}");
    }
    // The same through the API: just that issue, marked as Sentry marks a direct hit.
    let (status, headers, body) = h
        .get(&format!(
            "/api/0/organizations/default/issues/?query={short_id}"
        ))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["X-Sentry-Direct-Hit"], "1");
    assert_eq!(body.as_array().map(Vec::len), Some(1));
    assert_eq!(body[0]["id"], value_issue.id.to_string());

    for (query, named) in [
        ("assigned%3Amy_teams", "`assigned`"),
        ("times_seen%3Amany", "`times_seen`"),
        ("%28level%3Aerror", "parenthesis"),
    ] {
        let page = session.get(&format!("{list}?query={query}")).await;
        assert_eq!(page.status, StatusCode::BAD_REQUEST, "{query}");
        assert!(
            page.body.contains("Invalid search"),
            "{query}: {}",
            page.body
        );
        assert!(page.body.contains(named), "{query}: {}", page.body);
    }

    let shown = |query: &'static str| {
        let session = &session;
        async move { session.get(&format!("{list}?query={query}")).await.body }
    };
    let handled = shown("error.handled%3A0").await;
    assert!(handled.contains("ValueError") && !handled.contains("KeyError: "));
    let either = shown("level%3Awarning+OR+error.type%3AValue*").await;
    assert!(either.contains("ValueError") && either.contains("KeyError: "));
    let url = shown("%21url%3A*%2Fcheckout%2F*").await;
    assert!(url.contains("No issues match"), "{url}");
}
