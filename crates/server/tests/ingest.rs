//! Ingest endpoints driven through the real router and a real SQLite store: what SDKs send is
//! stored, and every kind of bad input gets its 4xx and reason without taking good items down.

mod common;

use std::io::Write;

use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use common::Harness;
use serde_json::Value;
use vigil_store::prelude::*;
use vigil_store::Outcome;

fn event_envelope(event_id: &str, event: &str) -> Vec<u8> {
    format!(
        "{{\"event_id\":\"{event_id}\"}}\n{{\"type\":\"event\",\"length\":{}}}\n{event}\n",
        event.len()
    )
    .into_bytes()
}

/// The body of a POST that sends [`EVENT`] as `9ec79c33…`.
fn event_body() -> Body {
    Body::from(event_envelope("9ec79c33ec9942ab8353589fcb2e04dc", EVENT))
}

/// A POST of [`EVENT`] to `path`, with no auth header.
fn post_event(path: String) -> Request<Body> {
    Request::post(path).body(event_body()).expect("request")
}

/// POSTs [`EVENT`] to `path` with no auth header and checks that it is refused with `status`
/// and the one-line reason `detail`.
async fn assert_event_refused(h: &Harness, path: String, status: StatusCode, detail: &str) {
    let (answered, _, body) = h.send(post_event(path.clone())).await;
    assert_eq!(answered, status, "{path}");
    assert_eq!(body["detail"], detail, "{path}");
}

/// Sends `request`, checks that it is answered with `status`, and gives the answer's headers
/// (the rate limit and CORS headers these tests look at).
async fn headers_of_answer(h: &Harness, request: Request<Body>, status: StatusCode) -> HeaderMap {
    let (answered, headers, _) = h.send(request).await;
    assert_eq!(answered, status);
    headers
}

/// The text of the header `name`, which must be there and be ASCII.
fn header_text<'a>(headers: &'a HeaderMap, name: &str) -> &'a str {
    headers[name].to_str().expect("ascii")
}

const EVENT: &str = r#"{"exception":{"values":[{"type":"ZeroDivisionError","value":"division by zero"}]},"platform":"python"}"#;

#[tokio::test]
async fn event_with_header_auth_is_stored_and_readable() {
    let h = Harness::new().await;
    let id = "9ec79c33ec9942ab8353589fcb2e04dc";
    let (status, body) = h.post_envelope(event_envelope(id, EVENT)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["id"], id);
    let stored = h
        .store
        .event_by_id(h.project.id, id)
        .await
        .expect("read")
        .expect("stored");
    assert!(stored.issue_id.is_some());
}

#[tokio::test]
async fn missing_auth_is_401() {
    let h = Harness::new().await;
    // Each ingest endpoint asks for the key on its own path: the envelope one only after it
    // looked for a DSN in the envelope's header.
    for endpoint in ["envelope", "store", "security"] {
        let path = format!("/api/{}/{endpoint}/", h.project.id);
        let reason = "missing authorization information";
        assert_event_refused(&h, path, StatusCode::UNAUTHORIZED, reason).await;
    }
}

#[tokio::test]
async fn two_auth_sources_are_401() {
    let h = Harness::new().await;
    let request = Request::post(format!(
        "/api/{}/envelope/?sentry_key={}",
        h.project.id, h.key.public_key
    ))
    .header(
        "x-sentry-auth",
        format!("Sentry sentry_key={}", h.key.public_key),
    )
    .body(event_body())
    .expect("request");
    let (status, _, _) = h.send(request).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn unknown_key_is_403_and_malformed_key_is_400() {
    let h = Harness::new().await;
    let unknown = "ffffffffffffffffffffffffffffffff";
    let request = post_event(format!(
        "/api/{}/envelope/?sentry_key={unknown}",
        h.project.id
    ));
    assert_eq!(h.send(request).await.0, StatusCode::FORBIDDEN);
    let request = post_event(format!("/api/{}/envelope/?sentry_key=short", h.project.id));
    assert_eq!(h.send(request).await.0, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn key_of_another_project_is_403() {
    let h = Harness::new().await;
    let other = h.project_in("default", "other", None).await;
    let request = post_event(format!(
        "/api/{}/envelope/?sentry_key={}",
        other.id, h.key.public_key
    ));
    assert_eq!(h.send(request).await.0, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn disabled_key_is_403() {
    let h = Harness::new().await;
    h.store
        .set_key_active(h.key.id, false)
        .await
        .expect("disable");
    let (status, body) = h
        .post_envelope(event_envelope("9ec79c33ec9942ab8353589fcb2e04dc", EVENT))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
}

#[tokio::test]
async fn bad_project_path_is_400() {
    let h = Harness::new().await;
    let path = format!("/api/abc/envelope/?sentry_key={}", h.key.public_key);
    assert_event_refused(
        &h,
        path,
        StatusCode::BAD_REQUEST,
        "bad project path parameter",
    )
    .await;
}

#[tokio::test]
async fn malformed_envelopes_are_400_with_a_reason() {
    let h = Harness::new().await;
    for body in [
        b"not json\n".to_vec(),
        b"{}\n{\"type\":\"event\",\"length\":500}\n{}\n".to_vec(),
        b"{}\n{\"type\":\"event\",\"length\":2}\n{}x\n".to_vec(),
        b"{}\n[1,2]\n".to_vec(),
        Vec::new(),
    ] {
        let (status, reply) = h.post_envelope(body.clone()).await;
        assert_eq!(
            status,
            StatusCode::BAD_REQUEST,
            "{}",
            String::from_utf8_lossy(&body)
        );
        let detail = reply["detail"].as_str().expect("one-line reason");
        assert!(!detail.is_empty() && !detail.contains('\n'));
    }
}

#[tokio::test]
async fn bad_event_beside_good_session_keeps_the_session() {
    let h = Harness::new().await;
    let session = r#"{"sid":"b46006387e6a459d8c7fac4e31cf179a","init":true,"started":"2026-11-25T02:41:26.433Z","status":"ok","attrs":{"release":"a@1"}}"#;
    let bad_event = "{\"a\": \u{1}}";
    let body = format!(
        "{{}}\n{{\"type\":\"event\",\"length\":{}}}\n{bad_event}\n{{\"type\":\"session\",\"length\":{}}}\n{session}\n",
        bad_event.len(),
        session.len()
    );
    let (status, reply) = h.post_envelope(body.into_bytes()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{reply}");
    let sessions = h
        .store
        .raw_items(h.project.id, "session")
        .await
        .expect("read");
    assert_eq!(
        sessions.len(),
        1,
        "the good item beside the bad one is kept"
    );
}

#[tokio::test]
async fn invalid_utf8_and_deep_nesting_are_400_not_panics() {
    let h = Harness::new().await;
    let (status, _) = h
        .post_envelope(event_envelope(
            "9ec79c33ec9942ab8353589fcb2e04dc",
            "{\"message\": \"\u{0}\u{ff}\"}",
        ))
        .await;
    assert!(status == StatusCode::OK || status == StatusCode::BAD_REQUEST);
    let mut bytes = b"{}\n{\"type\":\"event\",\"length\":7}\n".to_vec();
    bytes.extend_from_slice(b"{\"a\":\xff}\n");
    assert_eq!(h.post_envelope(bytes).await.0, StatusCode::BAD_REQUEST);
    let deep = format!("{{\"extra\":{}1{}}}", "[".repeat(5000), "]".repeat(5000));
    let (status, _) = h
        .post_envelope(event_envelope("9ec79c33ec9942ab8353589fcb2e04dd", &deep))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn oversized_event_is_413() {
    let h = Harness::new().await;
    let big = format!("{{\"message\":\"{}\"}}", "x".repeat(2 * 1024 * 1024));
    let (status, reply) = h
        .post_envelope(event_envelope("9ec79c33ec9942ab8353589fcb2e04dc", &big))
        .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(
        reply["detail"],
        "envelope exceeded size limits for type 'event'"
    );
}

#[tokio::test]
async fn compression_bomb_is_413_and_lying_encoding_is_400() {
    let h = Harness::new().await;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(&vec![b' '; 300 * 1024 * 1024])
        .expect("compress");
    let bomb = gz.finish().expect("gzip");
    let request = h
        .envelope_request(())
        .header("content-encoding", "gzip")
        .body(Body::from(bomb))
        .expect("request");
    assert_eq!(h.send(request).await.0, StatusCode::PAYLOAD_TOO_LARGE);

    let request = h
        .envelope_request(())
        .header("content-encoding", "gzip")
        .body(event_body())
        .expect("request");
    assert_eq!(h.send(request).await.0, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn unknown_item_types_are_skipped() {
    let h = Harness::new().await;
    let body = format!(
        "{{\"event_id\":\"9ec79c33ec9942ab8353589fcb2e04dc\"}}\n{{\"type\":\"something_new\"}}\nwhatever\n{{\"type\":\"event\",\"length\":{}}}\n{EVENT}\n",
        EVENT.len()
    );
    let (status, reply) = h.post_envelope(body.into_bytes()).await;
    assert_eq!(status, StatusCode::OK, "{reply}");
}

#[tokio::test]
async fn envelope_dsn_authenticates_a_tunnel_and_must_match() {
    let h = Harness::new().await;
    let dsn = format!(
        "http://{}@127.0.0.1:9000/{}",
        h.key.public_key, h.project.id
    );
    let body = format!("{{\"dsn\":\"{dsn}\"}}\n{{\"type\":\"event\"}}\n{EVENT}\n");
    let request = Request::post(format!("/api/{}/envelope/", h.project.id))
        .body(Body::from(body))
        .expect("request");
    let (status, _, reply) = h.send(request).await;
    assert_eq!(status, StatusCode::OK, "{reply}");

    let wrong = "http://ffffffffffffffffffffffffffffffff@127.0.0.1:9000/1";
    let body = format!("{{\"dsn\":\"{wrong}\"}}\n{{\"type\":\"event\"}}\n{EVENT}\n");
    let request = h
        .envelope_request(())
        .body(Body::from(body))
        .expect("request");
    assert_eq!(h.send(request).await.0, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn cors_preflight_is_answered_without_auth() {
    let h = Harness::new().await;
    let request = Request::options(format!("/api/{}/envelope/", h.project.id))
        .header("origin", "http://shop.example")
        .header("access-control-request-method", "POST")
        .body(Body::empty())
        .expect("request");
    let headers = headers_of_answer(&h, request, StatusCode::OK).await;
    assert_eq!(headers["access-control-allow-origin"], "*");
    assert!(header_text(&headers, "access-control-expose-headers").contains("x-sentry-rate-limits"));
}

#[tokio::test]
async fn legacy_store_accepts_base64_zlib_and_numeric_level() {
    let h = Harness::new().await;
    let event = r#"{"event_id":"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","message":"hello from raven","level":40}"#;
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    z.write_all(event.as_bytes()).expect("compress");
    use base64::Engine;
    let body = base64::engine::general_purpose::STANDARD.encode(z.finish().expect("zlib"));
    let request = Request::post(format!("/api/{}/store/", h.project.id))
        .header(
            "x-sentry-auth",
            format!("Sentry sentry_version=6, sentry_key={}", h.key.public_key),
        )
        .body(Body::from(body))
        .expect("request");
    let (status, _, reply) = h.send(request).await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    let stored = h
        .store
        .event_by_id(h.project.id, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")
        .await
        .expect("read")
        .expect("stored");
    assert_eq!(stored.level, "error");
}

#[tokio::test]
async fn client_reports_are_counted_as_outcomes() {
    let h = Harness::new().await;
    let report = r#"{"timestamp":1795574446.5,"discarded_events":[{"reason":"before_send","category":"error","quantity":3}]}"#;
    let body = format!("{{}}\n{{\"type\":\"client_report\"}}\n{report}\n");
    let (status, reply) = h.post_envelope(body.into_bytes()).await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    assert_eq!(reply, serde_json::json!({}));
    let counts: Vec<(Outcome, &str, String, i64)> = outcomes_of(&h)
        .await
        .into_iter()
        .map(|r| (r.outcome, r.category.name(), r.reason, r.quantity))
        .collect();
    assert_eq!(
        counts,
        vec![(
            Outcome::ClientDiscard,
            "error",
            "before_send".to_string(),
            3
        )]
    );
}

/// Every outcome the harness project has, written or waiting in the accept side's counts.
async fn outcomes_of(h: &Harness) -> Vec<vigil_store::OutcomeRow> {
    h.state
        .outcomes
        .flush(&*h.state.store)
        .await
        .expect("flush");
    h.store
        .outcomes(&vigil_store::OutcomeQuery {
            project_ids: vec![h.project.id],
            since_hour: 0,
            until_hour: i64::MAX,
            ..vigil_store::OutcomeQuery::default()
        })
        .await
        .expect("read")
}

#[tokio::test]
async fn csp_report_becomes_a_csp_issue() {
    let h = Harness::new().await;
    let report = r#"{"csp-report": {"document-uri": "https://shop.example/checkout", "violated-directive": "script-src 'self'", "effective-directive": "script-src", "blocked-uri": "https://evil.example/x.js", "original-policy": "script-src 'self'; report-uri /csp"}}"#;
    let request = Request::post(format!(
        "/api/{}/security/?sentry_key={}&sentry_environment=production",
        h.project.id, h.key.public_key
    ))
    .header("content-type", "application/csp-report")
    .header(
        "user-agent",
        "Mozilla/5.0 (X11; Linux x86_64; rv:130.0) Gecko/20100101 Firefox/130.0",
    )
    .body(Body::from(report))
    .expect("request");
    let (status, _, _) = h.send(request).await;
    assert_eq!(status, StatusCode::OK);
    let (_, _, issues) = h.get("/api/0/organizations/default/issues/").await;
    let issue: &Value = &issues[0];
    assert_eq!(issue["title"], "Blocked 'script' from 'evil.example'");
    assert_eq!(issue["type"], "csp");
    // Counted as Relay counts a CSP report: in `security`.
    let counted: Vec<(Outcome, &str, i64)> = outcomes_of(&h)
        .await
        .into_iter()
        .map(|r| (r.outcome, r.category.name(), r.quantity))
        .collect();
    assert_eq!(counted, vec![(Outcome::Accepted, "security", 1)]);
}

#[tokio::test]
async fn over_the_memory_budget_is_429_with_rate_limit_headers() {
    let mut h = Harness::new().await;
    h.state.budget = vigil_server::ingest::body::MemoryBudget::new(64 * 1024);
    let big = format!("{{\"message\":\"{}\"}}", "x".repeat(200 * 1024));
    let request = h
        .envelope_request(())
        .body(Body::from(event_envelope(
            "9ec79c33ec9942ab8353589fcb2e04dc",
            &big,
        )))
        .expect("request");
    let headers = headers_of_answer(&h, request, StatusCode::TOO_MANY_REQUESTS).await;
    assert_eq!(headers["retry-after"], "5");
    assert!(header_text(&headers, "x-sentry-rate-limits").starts_with("5::organization"));
    // What was reserved is given back: a small envelope fits again.
    let (status, _) = h
        .post_envelope(event_envelope("9ec79c33ec9942ab8353589fcb2e04dd", EVENT))
        .await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn key_over_its_rate_limit_gets_429_scoped_to_the_key() {
    let h = Harness::new().await;
    let writer = h.writer().await;
    let (status, key) = h
        .call_as(
            &writer,
            "PUT",
            &format!("/api/0/projects/default/shop/keys/{}/", h.key.public_key),
            Some(serde_json::json!({"rateLimit": {"window": 3600, "count": 2}})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{key}");
    assert_eq!(
        key["rateLimit"],
        serde_json::json!({"window": 3600, "count": 2})
    );
    let ids = [
        "9ec79c33ec9942ab8353589fcb2e04d1",
        "9ec79c33ec9942ab8353589fcb2e04d2",
        "9ec79c33ec9942ab8353589fcb2e04d3",
    ];
    for id in &ids[..2] {
        assert_eq!(
            h.post_envelope(event_envelope(id, EVENT)).await.0,
            StatusCode::OK
        );
    }
    let request = h
        .envelope_request(())
        .body(Body::from(event_envelope(ids[2], EVENT)))
        .expect("request");
    let headers = headers_of_answer(&h, request, StatusCode::TOO_MANY_REQUESTS).await;
    let limits = header_text(&headers, "x-sentry-rate-limits");
    assert!(
        limits.contains(":default;error;security:key:key_quota"),
        "{limits}"
    );
    assert!(headers.get("retry-after").is_some());
    assert!(h
        .store
        .event_by_id(h.project.id, ids[1])
        .await
        .expect("read")
        .is_some());
    assert!(
        h.store
            .event_by_id(h.project.id, ids[2])
            .await
            .expect("read")
            .is_none(),
        "the limited event is dropped"
    );

    // `null` removes the limit.
    let (_, key) = h
        .call_as(
            &writer,
            "PUT",
            &format!("/api/0/projects/default/shop/keys/{}/", h.key.public_key),
            Some(serde_json::json!({"rateLimit": null})),
        )
        .await;
    assert_eq!(key["rateLimit"], Value::Null);
    assert_eq!(
        h.post_envelope(event_envelope(ids[2], EVENT)).await.0,
        StatusCode::OK
    );
}
