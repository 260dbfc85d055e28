//! Ingest quotas through the real router and a real SQLite store: a project's rate limits per
//! category (set through the API), spike protection against a seeded hourly baseline (switched
//! through Sentry's spike-protections endpoint), the answers SDKs back off by, and two limiters
//! leasing one shared counter as two nodes do.

mod common;

use std::sync::Arc;

use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use common::Harness;
use serde_json::json;
use vigil_protocol::rate_limits::parse_rate_limits;
use vigil_server::ingest::rate_limit::{Quota, QuotaLimiter, SLICES_PER_WINDOW};
use vigil_store::prelude::*;
use vigil_store::{HourlyVolume, ProjectKey};

const EVENT: &str = r#"{"message":"boom","platform":"python"}"#;

fn transaction() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs_f64();
    json!({
        "type": "transaction", "transaction": "/checkout", "platform": "python",
        "start_timestamp": now - 1.0, "timestamp": now,
        "contexts": {"trace": {"trace_id": "4c79f60c11214eb38604f4ae0781bfb2",
                               "span_id": "fa90fdead5f74052", "op": "http.server"}},
        "spans": []
    })
    .to_string()
}

/// An envelope of the given `(item type, payload)` items.
fn envelope(items: &[(&str, &str)]) -> Vec<u8> {
    let mut out = String::from("{}\n");
    for (ty, payload) in items {
        out.push_str(&format!(
            "{{\"type\":\"{ty}\",\"length\":{}}}\n{payload}\n",
            payload.len()
        ));
    }
    out.into_bytes()
}

/// POSTs an envelope with `key` (without waiting for the workers): status and headers.
async fn post(h: &Harness, key: &ProjectKey, body: Vec<u8>) -> (StatusCode, HeaderMap) {
    let request = Request::post(format!("/api/{}/envelope/", key.project_id))
        .header(
            "x-sentry-auth",
            format!("Sentry sentry_key={}, sentry_version=7", key.public_key),
        )
        .body(Body::from(body))
        .expect("request");
    let (status, headers, _) = h.send_only(request).await;
    (status, headers)
}

fn limits_header(headers: &HeaderMap) -> String {
    headers
        .get("x-sentry-rate-limits")
        .map(|v| v.to_str().expect("ascii").to_owned())
        .unwrap_or_default()
}

#[tokio::test]
async fn project_limit_drops_its_category_and_keeps_the_rest() {
    let h = Harness::new().await;
    let w = h.token_for(h.admin.id, &["project:write"]).await;
    let path = "/api/0/projects/default/shop/";
    let (status, project) = h
        .call_as(
            &w,
            "PUT",
            path,
            Some(json!({"vigilRateLimits": {"error": {"window": 3600, "count": 2}}})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{project}");
    assert_eq!(
        project["vigilRateLimits"],
        json!({"error": {"window": 3600, "count": 2}, "transaction": null})
    );
    assert_eq!(project["vigilSpikeProtection"], json!(true));
    assert_eq!(
        h.get(path).await.2["vigilRateLimits"],
        project["vigilRateLimits"]
    );

    for _ in 0..2 {
        let (status, headers) = post(&h, &h.key, envelope(&[("event", EVENT)])).await;
        assert_eq!(status, StatusCode::OK);
        assert!(headers.get("x-sentry-rate-limits").is_none());
    }
    // Over the limit with a transaction beside the event: the event is dropped, the
    // transaction queued, and the answer is Relay's 200 naming the limit.
    let tx = transaction();
    let (status, headers) = post(
        &h,
        &h.key,
        envelope(&[("event", EVENT), ("transaction", &tx)]),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let header = limits_header(&headers);
    assert!(
        header.ends_with(":default;error;security:project:project_quota"),
        "{header}"
    );
    assert!(
        headers.get("retry-after").is_none(),
        "a 200 has no Retry-After"
    );
    let limits = parse_rate_limits(&header);
    assert!(limits[0].retry_after_secs >= 1 && limits[0].retry_after_secs <= 3600);
    // Only the event: nothing is left to queue, so 429 with Retry-After.
    let (status, headers) = post(&h, &h.key, envelope(&[("event", EVENT)])).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert!(headers.get("retry-after").is_some());
    assert!(limits_header(&headers).contains("project_quota"));
    h.settle().await;
    assert_eq!(
        h.issues().await.iter().map(|i| i.times_seen).sum::<i64>(),
        2
    );

    // A transaction limit leaves errors alone (the error limit lifted).
    let (status, _) = h
        .call_as(
            &w,
            "PUT",
            path,
            Some(json!({"vigilRateLimits": {"error": null, "transaction": {"window": 60, "count": 1}}})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        post(&h, &h.key, envelope(&[("transaction", &tx)])).await.0,
        StatusCode::OK
    );
    let (status, headers) = post(&h, &h.key, envelope(&[("transaction", &tx)])).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert!(
        limits_header(&headers).ends_with(":transaction;span:project:project_quota"),
        "{}",
        limits_header(&headers)
    );
    assert_eq!(
        post(&h, &h.key, envelope(&[("event", EVENT)])).await.0,
        StatusCode::OK,
        "errors flow again"
    );
}

#[tokio::test]
async fn project_limit_fields_are_checked() {
    let h = Harness::new().await;
    let w = h.token_for(h.admin.id, &["project:write"]).await;
    let path = "/api/0/projects/default/shop/";
    for body in [
        json!({"vigilRateLimits": {"session": {"window": 60, "count": 1}}}),
        json!({"vigilRateLimits": {"error": {"window": 0, "count": 1}}}),
        json!({"vigilRateLimits": {"error": {"window": 60, "count": -1}}}),
        json!({"vigilRateLimits": {"error": {"window": 60}}}),
        json!({"vigilRateLimits": [1]}),
    ] {
        let (status, answer) = h.call_as(&w, "PUT", path, Some(body.clone())).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert!(answer.get("vigilRateLimits").is_some(), "{body}: {answer}");
    }
    let (status, answer) = h
        .call_as(&w, "PUT", path, Some(json!({"vigilSpikeProtection": "no"})))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    assert_eq!(
        h.store.project_quotas(h.project.id).await.expect("read"),
        vigil_store::ProjectQuotas::default(),
        "nothing refused was stored"
    );
}

/// Seeds `per_hour` accepted items of `category` for each of the last 7 days' hours.
async fn seed_baseline(h: &Harness, project_id: i64, category: &str, per_hour: i64) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64;
    let hour = now - now % 3600;
    let volume: Vec<_> = (1..=7 * 24)
        .map(|h| HourlyVolume {
            project_id,
            category: category.into(),
            hour: hour - h * 3600,
            count: per_hour,
        })
        .collect();
    h.store.add_hourly_volume(&volume).await.expect("seed");
}

/// Sends `n` one-event envelopes: how many were answered 200, and the headers of the last
/// answer that was not.
async fn burst(h: &Harness, key: &ProjectKey, n: usize) -> (usize, Option<HeaderMap>) {
    let mut accepted = 0;
    let mut refused = None;
    for _ in 0..n {
        let (status, headers) = post(h, key, envelope(&[("event", EVENT)])).await;
        match status {
            StatusCode::OK => accepted += 1,
            StatusCode::TOO_MANY_REQUESTS => refused = Some(headers),
            other => panic!("unexpected {other}"),
        }
    }
    (accepted, refused)
}

/// Waits out the last minute of a clock hour, so that a test's burst stays in one hour of
/// spike protection.
fn clear_of_the_hour_end() {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    let left = 3600 - now % 3600;
    if left < 60 {
        std::thread::sleep(std::time::Duration::from_secs(left + 1));
    }
}

#[tokio::test]
async fn spike_protection_cuts_a_burst_and_spares_other_projects() {
    clear_of_the_hour_end();
    // Threshold: max(10, 5 × average hourly volume).
    let h = Harness::with_config(|c| {
        c.quotas.spike_protection_multiple = 5.0;
        c.quotas.spike_protection_floor = 10;
    })
    .await;
    let w = h.token_for(h.admin.id, &["project:write"]).await;
    let api = h.project_in("default", "api", Some("python")).await;
    let api_key = h.store.list_keys(api.id).await.expect("keys").remove(0);
    let other_org = h.project_in("other", "web", Some("python")).await;
    let other_key = h
        .store
        .list_keys(other_org.id)
        .await
        .expect("keys")
        .remove(0);
    seed_baseline(&h, h.project.id, "error", 4).await; // threshold 20 an hour
    seed_baseline(&h, api.id, "error", 100).await; // threshold 500 an hour

    // The usual traffic flows.
    assert_eq!(burst(&h, &h.key, 5).await, (5, None));
    // A burst far over five times the baseline is cut at the threshold.
    let (accepted, refused) = burst(&h, &h.key, 60).await;
    assert_eq!(accepted, 15, "20 an hour, 5 already in");
    let headers = refused.expect("the rest was refused");
    let header = limits_header(&headers);
    assert!(
        header.ends_with(":default;error;security:project:spike_protection"),
        "{header}"
    );
    let retry_after: u64 = headers["retry-after"]
        .to_str()
        .expect("ascii")
        .parse()
        .expect("seconds");
    assert!((1..=3600).contains(&retry_after), "until the hour ends");
    // Another project of the organization, and a project of another organization (floor only,
    // no history), are not affected.
    assert_eq!(burst(&h, &api_key, 30).await, (30, None));
    assert_eq!(burst(&h, &other_key, 10).await, (10, None));

    // Sentry's endpoint turns it off for the project: the burst goes through.
    let (status, _) = h
        .call_as(
            &w,
            "DELETE",
            "/api/0/organizations/default/spike-protections/",
            Some(json!({"projects": ["shop"]})),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(burst(&h, &h.key, 10).await, (10, None));
    let (status, _, project) = h.get("/api/0/projects/default/shop/").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(project["vigilSpikeProtection"], json!(false));
    // `$all` turns it on again for every project of the organization.
    let (status, answer) = h
        .call_as(
            &w,
            "POST",
            "/api/0/organizations/default/spike-protections/",
            Some(json!({"projects": ["$all"]})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    assert_eq!(answer["projects"], json!(["shop", "api"]));
    assert_eq!(burst(&h, &h.key, 3).await.0, 0, "the hour is spent");
    // A project it does not know is a 400 naming the field.
    let (status, answer) = h
        .call_as(
            &w,
            "POST",
            "/api/0/organizations/default/spike-protections/",
            Some(json!({"projects": ["nope"]})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(answer.get("projects").is_some(), "{answer}");
    // What was accepted is counted for the next hours' baseline.
    vigil_server::jobs::quotas::flush(&h.state).await;
    let hour = {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_secs() as i64;
        now - now % 3600
    };
    let counted: i64 = h
        .store
        .hourly_volume(h.project.id, "error", hour - 3600, hour + 3600)
        .await
        .expect("volume")
        .iter()
        .filter(|v| v.hour >= hour - 60)
        .map(|v| v.count)
        .sum();
    // Near an hour boundary the burst may straddle two hours; both are read.
    assert!(counted >= 30, "{counted}");
}

/// Two limiters leasing from one store are two nodes: together they admit the limit, never
/// more, and at most one slice each less.
#[tokio::test]
async fn two_nodes_leasing_one_counter_admit_the_limit_together() {
    let h = Harness::new().await;
    let store: Arc<dyn vigil_store::Store> = h.store.clone();
    let nodes = [
        QuotaLimiter::shared(store.clone()),
        QuotaLimiter::shared(store),
    ];
    let quota = Quota {
        key: "key:test".into(),
        limit: 100,
        window_secs: 3600,
    };
    let now = 7200.0 * 1000.0;
    let mut admitted = 0;
    for i in 0..400 {
        if nodes[i % 2].admit(&quota, 1, now).await.is_ok() {
            admitted += 1;
        }
    }
    assert!(admitted <= 100, "{admitted}");
    let slice = (quota.limit / SLICES_PER_WINDOW).max(1);
    assert!(admitted >= 100 - 2 * slice, "{admitted}");
    // Both are told when the window ends.
    assert_eq!(nodes[0].admit(&quota, 1, now + 10.0).await, Err(3590));
    assert_eq!(nodes[1].admit(&quota, 1, now + 10.0).await, Err(3590));
}

/// The rate-limits page, linked from the project settings, changes what ingest enforces.
#[tokio::test]
async fn rate_limits_page_sets_the_project_quotas() {
    use common::page::{csrf_of, Session};
    let h = Harness::new().await;
    let session = Session::admin(&h).await;
    let settings = session
        .shown("/settings/default/projects/shop/performance/")
        .await;
    let path = "/settings/default/projects/shop/rate-limits/";
    assert!(
        settings.body.contains(path),
        "linked from the settings page"
    );
    let form = session.shown(path).await;
    assert!(form.body.contains("name=\"spike_protection\" checked"));
    let token = csrf_of(&form.body);
    let refused = session
        .post(
            path,
            &[
                ("csrf", &token),
                ("error_count", "-3"),
                ("error_window", "60"),
            ],
        )
        .await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert!(
        refused.body.contains("Errors: the count"),
        "{}",
        refused.body
    );
    // The unticked box is not sent: spike protection goes off.
    let saved = session
        .post(
            path,
            &[
                ("csrf", &token),
                ("error_count", "1"),
                ("error_window", "3600"),
                ("transaction_count", ""),
                ("transaction_window", "60"),
            ],
        )
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    let quotas = h.store.project_quotas(h.project.id).await.expect("read");
    assert_eq!(
        quotas,
        vigil_store::ProjectQuotas {
            errors: Some(vigil_store::KeyRateLimit {
                count: 1,
                window_secs: 3600
            }),
            transactions: None,
            spike_protection: false,
        }
    );
    let again = session.get(saved.location()).await;
    assert!(again.body.contains("Saved."));
    assert!(!again.body.contains("name=\"spike_protection\" checked"));
    // Ingest applies it from the next request.
    assert_eq!(
        post(&h, &h.key, envelope(&[("event", EVENT)])).await.0,
        StatusCode::OK
    );
    let (status, headers) = post(&h, &h.key, envelope(&[("event", EVENT)])).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert!(limits_header(&headers).contains(":project:project_quota"));

    // The organization-wide switch turns spike protection on for every project, as `$all`.
    let api = h.project_in("default", "api", Some("python")).await;
    let mut off = h.store.project_quotas(api.id).await.expect("read");
    off.spike_protection = false;
    h.store
        .set_project_quotas(api.id, &off)
        .await
        .expect("write");
    let switched = session
        .post(
            "/settings/default/spike-protection/",
            &[("csrf", &token), ("project", "shop"), ("action", "on")],
        )
        .await;
    assert_eq!(switched.status, StatusCode::SEE_OTHER, "{}", switched.body);
    for id in [h.project.id, api.id] {
        assert!(
            h.store
                .project_quotas(id)
                .await
                .expect("read")
                .spike_protection
        );
    }
    assert_eq!(
        h.store
            .project_quotas(h.project.id)
            .await
            .expect("read")
            .errors,
        quotas.errors,
        "the limits are kept"
    );
    let bad = session
        .post(
            "/settings/default/spike-protection/",
            &[("csrf", &token), ("project", "shop"), ("action", "maybe")],
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
}
