//! `vigil serve` on PostgreSQL (`VIGIL_DATABASE_URL=postgres://…`): the real binary on a fresh
//! database of the server `VIGIL_TEST_DATABASE_URL` names (`scripts/test.sh` starts one; without
//! it this test fails rather than skips). Events sent to the ingest endpoints come back through
//! `/api/0/` grouped and counted, a project's scrubbing settings are kept, nothing is written to
//! the data dir, and a restart finds them.

mod common;

use std::time::Duration;

use common::Vigil;
use serde_json::Value;
use vigil_store::postgres::TestDatabase;

/// An event of `group`. Its timestamp follows its id, so that which copy of a re-sent event is
/// stored (two workers may take them in either order) cannot change which event is latest.
fn envelope(event_id: &str, group: &str, user: &str) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let timestamp = now - 600 + u64::from_str_radix(event_id, 16).unwrap_or(0);
    let event = format!(
        r#"{{"event_id":"{event_id}","timestamp":{timestamp},"platform":"python","level":"error","environment":"production","fingerprint":["{group}"],"user":{{"id":"{user}"}},"exception":{{"values":[{{"type":"ValueError","value":"bad value in {group}"}}]}}}}"#
    );
    format!(
        "{{\"event_id\":\"{event_id}\"}}\n{{\"type\":\"event\",\"length\":{}}}\n{event}\n",
        event.len()
    )
}

#[test]
fn serve_on_postgres_groups_counts_and_keeps_events() {
    let database = TestDatabase::create_blocking().unwrap_or_else(|err| panic!("{err}"));
    let mut vigil = Vigil::start_on_database(database.url());
    let dsn = vigil.create_project("shop", "python");
    let auth = format!(
        "Sentry sentry_key={}, sentry_version=7, sentry_client=pg-test/1.0",
        dsn.public_key
    );
    let send = |path: &str, body: String| {
        let response = vigil
            .http()
            .post(vigil.url(&format!("/api/{}/{path}/", dsn.project_id)))
            .header("x-sentry-auth", &auth)
            .body(body)
            .send()
            .expect("the server answers");
        assert_eq!(response.status(), 200, "POST {path}: {:?}", response.text());
    };
    // Group "checkout": three events from two users; group "login": one, through /store/.
    for (n, user) in [(1, "7"), (2, "7"), (3, "8")] {
        send("envelope", envelope(&format!("{n:032x}"), "checkout", user));
    }
    // The same event again: acknowledged, stored once.
    send(
        "envelope",
        envelope(&format!("{:032x}", 1), "checkout", "7"),
    );
    send(
        "store",
        r#"{"event_id":"0000000000000000000000000000abcd","platform":"python","fingerprint":["login"],"message":"login failed"}"#.into(),
    );
    vigil.settle();

    let issues = vigil.project_issues("shop", "is:unresolved");
    let by_title = |needle: &str| -> &Value {
        issues
            .iter()
            .find(|i| i["title"].as_str().is_some_and(|t| t.contains(needle)))
            .unwrap_or_else(|| panic!("no issue with {needle:?} in {issues:#?}"))
    };
    assert_eq!(issues.len(), 2, "{issues:#?}");
    let checkout = by_title("bad value in checkout");
    assert_eq!(checkout["count"], "3", "{checkout}");
    assert_eq!(checkout["userCount"], 2, "{checkout}");
    assert_eq!(by_title("login failed")["count"], "1");

    let issue_id = checkout["id"].as_str().expect("issue ids are strings");
    let events = vigil
        .api_get(&format!("/api/0/issues/{issue_id}/events/"), &[])
        .ok("GET the issue's events");
    assert_eq!(events.as_array().map(Vec::len), Some(3), "{events}");
    let latest = vigil
        .api_get(&format!("/api/0/issues/{issue_id}/events/latest/"), &[])
        .ok("GET the latest event");
    assert_eq!(latest["eventID"], format!("{:032x}", 3), "{latest}");
    let found = vigil.project_issues("shop", "environment:production checkout");
    assert_eq!(found.len(), 1, "{found:#?}");

    // A project's data-scrubbing settings are kept through Sentry's project endpoint.
    let project_path = "/api/0/projects/default/shop/";
    let scrubbing = serde_json::json!({"scrubIPAddresses": true, "sensitiveFields": ["iban"]});
    let changed = vigil
        .api_put(project_path, &scrubbing)
        .ok("PUT the project's scrubbing settings");
    assert_eq!(changed["scrubIPAddresses"], true, "{changed}");
    assert_eq!(changed["dataScrubber"], true, "{changed}");

    // Everything is in PostgreSQL: the data dir holds no database files.
    let files: Vec<String> = std::fs::read_dir(vigil.data_dir())
        .expect("read the data dir")
        .filter_map(|entry| entry.ok())
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .filter(|name| name.contains("sqlite"))
        .collect();
    assert!(files.is_empty(), "SQLite files in the data dir: {files:?}");

    let status = vigil.terminate(Duration::from_secs(20));
    assert!(status.success(), "exit after SIGTERM: {status}");
    vigil.restart();
    let again = vigil.project_issues("shop", "");
    assert_eq!(again.len(), 2, "after a restart: {again:#?}");
    let project = vigil
        .api_get(project_path, &[])
        .ok("GET the project after a restart");
    assert_eq!(project["scrubIPAddresses"], true, "{project}");
    assert_eq!(project["sensitiveFields"], serde_json::json!(["iban"]));
}
