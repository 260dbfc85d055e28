//! Rate limits and spike protection across two `vigil serve` nodes on one PostgreSQL: the
//! nodes lease their slices of every window from one shared counter, so a DSN key's limit, a
//! project's limit and a project's spike threshold hold for the two together (the overshoot
//! bound is zero: see `ingest::rate_limit`). Requests alternate between the nodes; what is not
//! accepted is answered 429 with `Retry-After` and the category-aware `X-Sentry-Rate-Limits`.
//!
//! Needs `VIGIL_TEST_DATABASE_URL` (`scripts/test.sh` starts a throwaway cluster).

mod common;

use common::{Dsn, Vigil};
use serde_json::json;
use vigil_protocol::rate_limits::parse_rate_limits;
use vigil_store::postgres::{PgStore, TestDatabase};
use vigil_store::prelude::*;
use vigil_store::HourlyVolume;

const EVENT: &str = r#"{"message":"flood","platform":"python"}"#;

fn transaction() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs_f64();
    json!({
        "type": "transaction", "transaction": "/flood", "platform": "python",
        "start_timestamp": now - 1.0, "timestamp": now,
        "contexts": {"trace": {"trace_id": "4c79f60c11214eb38604f4ae0781bfb2",
                               "span_id": "fa90fdead5f74052", "op": "http.server"}},
        "spans": []
    })
    .to_string()
}

fn envelope(ty: &str, payload: &str) -> String {
    format!(
        "{{}}\n{{\"type\":\"{ty}\",\"length\":{}}}\n{payload}\n",
        payload.len()
    )
}

/// What the nodes answered to a run of requests.
#[derive(Debug, Default)]
struct Answers {
    accepted: usize,
    /// `(node, X-Sentry-Rate-Limits, Retry-After)` of each 429.
    refused: Vec<(usize, String, String)>,
}

/// Sends `n` envelopes of one `ty` item with `dsn`'s key, alternating between the nodes.
fn alternate(nodes: [&Vigil; 2], dsn: &Dsn, n: usize, ty: &str, payload: &str) -> Answers {
    let mut answers = Answers::default();
    for i in 0..n {
        let node = nodes[i % 2];
        let response = node
            .http()
            .post(node.url(&format!("/api/{}/envelope/", dsn.project_id)))
            .header(
                "x-sentry-auth",
                format!("Sentry sentry_key={}, sentry_version=7", dsn.public_key),
            )
            .body(envelope(ty, payload))
            .send()
            .expect("the node answers");
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned()
        };
        match response.status().as_u16() {
            200 => answers.accepted += 1,
            429 => {
                answers
                    .refused
                    .push((i % 2, header("x-sentry-rate-limits"), header("retry-after")))
            }
            other => panic!("node {} answered {other}", i % 2),
        }
    }
    answers
}

/// Every refusal names `suffix` (`categories:scope:reason`) with a wait of at most `window`
/// seconds, both nodes refused some, and `Retry-After` agrees with the header.
#[track_caller]
fn assert_refusals(answers: &Answers, suffix: &str, window: u64) {
    assert!(
        !answers.refused.is_empty(),
        "nothing was refused: {answers:?}"
    );
    for node in 0..2 {
        assert!(
            answers.refused.iter().any(|(n, _, _)| *n == node),
            "node {node} refused nothing: {answers:?}"
        );
    }
    for (_, header, retry_after) in &answers.refused {
        assert!(header.ends_with(suffix), "{header}");
        let limits = parse_rate_limits(header);
        assert_eq!(limits.len(), 1, "{header}");
        let secs = limits[0].retry_after_secs;
        assert!((1..=window).contains(&secs), "{header}");
        assert_eq!(retry_after, &secs.to_string());
    }
}

#[test]
fn key_and_project_limits_hold_across_two_nodes() {
    let database = TestDatabase::create_blocking().unwrap_or_else(|err| panic!("{err}"));
    let first = Vigil::start_on_database(database.url());
    let dsn = first.create_project("shop", "python");
    let second = Vigil::start_another_node(&first);
    let nodes = [&first, &second];

    // A key limit of 30 an hour, set before either node read the key.
    first.cli(&[
        "key",
        "rate-limit",
        &dsn.public_key,
        "--count",
        "30",
        "--window",
        "3600",
    ]);
    let answers = alternate(nodes, &dsn, 90, "event", EVENT);
    // Overshoot bound: none. Undershoot: at most one slice (30 / 20, at least 1) per node.
    assert!(answers.accepted <= 30, "{answers:?}");
    assert!(answers.accepted >= 28, "{answers:?}");
    assert_eq!(answers.accepted + answers.refused.len(), 90);
    assert_refusals(&answers, ":default;error;security:key:key_quota", 3600);

    // A project limit of 12 transactions a minute, through the API of one node.
    first
        .api_put(
            "/api/0/projects/default/shop/",
            &json!({"vigilRateLimits": {"transaction": {"window": 60, "count": 12}}}),
        )
        .ok("PUT vigilRateLimits");
    // The other node reads the project's quotas again within its cache's few seconds.
    std::thread::sleep(std::time::Duration::from_secs(6));
    let tx = transaction();
    let answers = alternate(nodes, &dsn, 40, "transaction", &tx);
    // Near a minute boundary the run may straddle two windows: at most two limits' worth; at
    // least the limit less one slice (12 / 20, at least 1) per node.
    assert!(answers.accepted >= 10, "{answers:?}");
    assert!(answers.accepted <= 24, "{answers:?}");
    assert_refusals(&answers, ":transaction;span:project:project_quota", 60);
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

#[test]
fn spike_protection_holds_across_two_nodes() {
    clear_of_the_hour_end();
    let database = TestDatabase::create_blocking().unwrap_or_else(|err| panic!("{err}"));
    let flags = [
        "--spike-protection-multiple",
        "5",
        "--spike-protection-floor",
        "10",
    ];
    let first = Vigil::start_on_database_with(database.url(), &flags);
    let shop = first.create_project("shop", "python");
    let api = first.create_project("api", "python");
    // A week of 4 errors an hour for shop (threshold 20 an hour), 100 for api (500), written
    // through the store as the nodes' hourly flushes would have.
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let store = PgStore::connect(database.url()).await.expect("store");
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_secs() as i64;
        let hour = now - now % 3600;
        for (project_id, per_hour) in [(&shop.project_id, 4), (&api.project_id, 100)] {
            let volume: Vec<_> = (1..=7 * 24)
                .map(|h| HourlyVolume {
                    project_id: project_id.parse().expect("numeric project id"),
                    category: "error".into(),
                    hour: hour - h * 3600,
                    count: per_hour,
                })
                .collect();
            store.add_hourly_volume(&volume).await.expect("seed");
        }
    });
    let second = Vigil::start_another_node_with(&first, &flags);
    let nodes = [&first, &second];

    // The usual traffic flows, then a burst is cut at 20 for the two nodes together.
    assert_eq!(alternate(nodes, &shop, 6, "event", EVENT).accepted, 6);
    let answers = alternate(nodes, &shop, 60, "event", EVENT);
    assert!(answers.accepted <= 14, "{answers:?}");
    assert!(answers.accepted >= 12, "{answers:?}");
    assert_refusals(
        &answers,
        ":default;error;security:project:spike_protection",
        3600,
    );
    // The other project is not affected.
    let answers = alternate(nodes, &api, 40, "event", EVENT);
    assert_eq!(answers.accepted, 40, "{answers:?}");
}
