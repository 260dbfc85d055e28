//! Triage through the real binary, on SQLite and on PostgreSQL (`VIGIL_TEST_DATABASE_URL`):
//! events sent to the ingest endpoint, then Sentry's API as a client drives it: ignore until
//! N more events (the N-th brings the issue back), merge (later events land on the primary),
//! unmerge, a note and the activity that records it all, delete.

mod common;

use common::backend::{test_on_both_backends, Backend, Server};
use common::{Dsn, Vigil};
use serde_json::{json, Value};

/// Sends an error grouped by `fingerprint` with the id `n`; waits until it is stored.
fn send(vigil: &Vigil, dsn: &Dsn, n: u32, fingerprint: &str) -> String {
    let event_id = format!("{n:032x}");
    let payload = json!({"message": format!("boom {fingerprint}"), "level": "error",
                         "platform": "python", "fingerprint": [fingerprint],
                         "user": {"id": format!("u{n}")}})
    .to_string();
    let body = format!(
        "{{\"event_id\":\"{event_id}\"}}\n{{\"type\":\"event\",\"length\":{}}}\n{payload}\n",
        payload.len()
    );
    let auth = format!(
        "Sentry sentry_key={}, sentry_version=7, sentry_client=triage-e2e/1.0",
        dsn.public_key
    );
    let answer = vigil
        .http()
        .post(vigil.url(&format!("/api/{}/envelope/", dsn.project_id)))
        .header("X-Sentry-Auth", auth)
        .body(body)
        .send()
        .expect("POST envelope");
    assert_eq!(answer.status().as_u16(), 200, "event {n}");
    vigil.settle();
    event_id
}

/// The issue of a stored event.
fn issue_of(vigil: &Vigil, event_id: &str) -> String {
    let body = vigil
        .api_get(
            &format!("/api/0/projects/default/shop/events/{event_id}/"),
            &[],
        )
        .ok("GET event");
    body["groupID"].as_str().expect("groupID").to_owned()
}

fn call(vigil: &Vigil, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let request = vigil
        .http()
        .request(method.parse().expect("method"), vigil.url(path))
        .bearer_auth(&vigil.token);
    let request = match body {
        Some(body) => request.json(&body),
        None => request,
    };
    let answer = request.send().expect("request");
    let status = answer.status().as_u16();
    let text = answer.text().unwrap_or_default();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

fn triage_through_the_api(backend: Backend) {
    let server = Server::start(backend);
    let vigil = &server.vigil;
    let dsn = vigil.create_project("shop", "python");

    // Ignore until 2 more events: the second one brings it back.
    let a = issue_of(vigil, &send(vigil, &dsn, 1, "a"));
    let issue = format!("/api/0/issues/{a}/");
    let (status, body) = call(
        vigil,
        "PUT",
        &issue,
        Some(
            json!({"status": "ignored", "substatus": "archived_until_condition_met",
                    "statusDetails": {"ignoreCount": 2}}),
        ),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["statusDetails"]["ignoreCount"], 2);
    send(vigil, &dsn, 2, "a");
    assert_eq!(call(vigil, "GET", &issue, None).1["status"], "ignored");
    send(vigil, &dsn, 3, "a");
    assert_eq!(call(vigil, "GET", &issue, None).1["status"], "unresolved");

    // Merge: the issue with more events is the primary; later events of the other land there.
    let b = issue_of(vigil, &send(vigil, &dsn, 4, "b"));
    let (status, body) = call(
        vigil,
        "PUT",
        &format!("/api/0/projects/default/shop/issues/?id={a}&id={b}"),
        Some(json!({"merge": 1})),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["merge"]["parent"], a.as_str());
    assert_eq!(issue_of(vigil, &send(vigil, &dsn, 5, "b")), a);
    let merged = call(vigil, "GET", &issue, None).1;
    assert_eq!(merged["count"], "5");
    assert_eq!(merged["userCount"], 5);

    // Unmerge "b" again: its two events make a new issue.
    let hashes = call(vigil, "GET", &format!("{issue}hashes/"), None).1;
    let b_hash = hashes
        .as_array()
        .expect("hashes")
        .iter()
        .find(|h| h["latestEvent"]["title"] == "boom b")
        .and_then(|h| h["id"].as_str())
        .expect("b's hash")
        .to_owned();
    let (status, body) = call(vigil, "PUT", &format!("{issue}hashes/?id={b_hash}"), None);
    assert_eq!(status, 202, "{body}");
    let split = body["issues"][0].as_str().expect("new issue").to_owned();
    assert_eq!(
        call(vigil, "GET", &format!("/api/0/issues/{split}/"), None).1["count"],
        "2"
    );
    assert_eq!(call(vigil, "GET", &issue, None).1["count"], "3");

    // A note, and the activity of all of it.
    let (status, note) = call(
        vigil,
        "POST",
        &format!("{issue}comments/"),
        Some(json!({"text": "Seen in **checkout** only"})),
    );
    assert_eq!(status, 201, "{note}");
    let activity = call(vigil, "GET", &format!("{issue}activities/"), None).1;
    let kinds: Vec<&str> = activity["activity"]
        .as_array()
        .expect("activity")
        .iter()
        .filter_map(|a| a["type"].as_str())
        .collect();
    assert_eq!(
        kinds,
        vec![
            "note",
            "unmerge_source",
            "merge",
            "set_unresolved",
            "set_ignored",
            "first_seen"
        ]
    );

    // Delete: gone, and its hash starts a new issue.
    let (status, _) = call(vigil, "DELETE", &issue, None);
    assert_eq!(status, 202);
    assert_eq!(call(vigil, "GET", &issue, None).0, 404);
    assert_ne!(issue_of(vigil, &send(vigil, &dsn, 6, "a")), a);
}

test_on_both_backends!(triage_through_the_api, triage_on_sqlite, triage_on_postgres);
