//! The real `sentry-cli` (PyPI `sentry-cli`, pinned in `tests/python/requirements.txt`) against
//! the real binary, as a team's scripts run it: `issues list|resolve|mute|unresolve`, `events
//! list`, `releases new|archive|restore|list`. sentry-cli prints success for answers it does not
//! check, so each command's effect is read back through Vigil's own API as well as from what
//! the command printed.
//!
//! The errors come from the real Python SDK (`tests/python/mcp_events.py`). On SQLite and on
//! PostgreSQL, one server per backend.

mod common;

use common::backend::{test_on_both_backends, Backend, Server};
use common::python::{run_python, sentry_cli_command};
use common::{run_ok, Vigil};
use serde_json::Value;

/// Runs `sentry-cli ARGS` against `vigil` for the `shop` project; asserts it succeeded and
/// returns what it printed.
#[track_caller]
fn sentry_cli(vigil: &Vigil, args: &[&str]) -> String {
    run_ok(
        sentry_cli_command(vigil, args),
        &format!("sentry-cli {args:?}"),
    )
}

fn issue_status(vigil: &Vigil, id: &str) -> String {
    let issue = vigil
        .api_get(&format!("/api/0/issues/{id}/"), &[])
        .ok("GET issue");
    issue["status"].as_str().unwrap_or_default().to_owned()
}

fn release(vigil: &Vigil, version: &str) -> Value {
    vigil
        .api_get(
            &format!("/api/0/organizations/default/releases/{version}/"),
            &[],
        )
        .ok("GET release")
}

/// The versions a release list shows (open ones unless `status` asks otherwise).
fn listed_releases(vigil: &Vigil, status: Option<&str>) -> Vec<String> {
    let query: Vec<(&str, &str)> = status.map(|s| ("status", s)).into_iter().collect();
    let list = vigil
        .api_get("/api/0/organizations/default/releases/", &query)
        .ok("GET releases");
    list.as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r["version"].as_str().map(str::to_owned))
        .collect()
}

fn a_teams_scripts_drive_vigil_with_sentry_cli(backend: Backend) {
    let server = Server::start(backend);
    let vigil = &server.vigil;
    let dsn = vigil.create_project("shop", "python");
    let sent = run_python("mcp_events.py", &[&dsn.raw]);
    vigil.settle();
    let issues = vigil.project_issues("shop", "");
    let id_of = |title: &str| -> String {
        issues
            .iter()
            .find(|i| i["title"] == title)
            .and_then(|i| i["id"].as_str())
            .unwrap_or_else(|| panic!("no issue {title:?}"))
            .to_owned()
    };
    let error_id = id_of("ZeroDivisionError: division by zero");
    let message_id = id_of("payment gateway timeout");

    // `issues list` shows both, with their short ids and statuses.
    let listed = sentry_cli(vigil, &["issues", "list"]);
    for issue in &issues {
        for field in ["shortId", "title"] {
            let value = issue[field].as_str().expect(field);
            assert!(
                listed.contains(value),
                "issues list lacks {value}:\n{listed}"
            );
        }
    }
    assert_eq!(listed.matches("unresolved").count(), 2, "{listed}");

    // Resolve, mute and unresolve change the issue in Vigil.
    let resolved = sentry_cli(vigil, &["issues", "resolve", "-i", &message_id]);
    assert!(resolved.contains("resolved"), "{resolved}");
    assert_eq!(issue_status(vigil, &message_id), "resolved");
    assert_eq!(
        issue_status(vigil, &error_id),
        "unresolved",
        "only the one named"
    );
    sentry_cli(vigil, &["issues", "mute", "-i", &error_id]);
    assert_eq!(issue_status(vigil, &error_id), "ignored");
    sentry_cli(vigil, &["issues", "unresolve", "-i", &error_id]);
    assert_eq!(issue_status(vigil, &error_id), "unresolved");

    // `events list` shows every event the SDK sent, newest first, with its title.
    let events = sentry_cli(vigil, &["events", "list"]);
    let mut positions = Vec::new();
    for id in sent[0]["event_ids"].as_array().expect("event ids") {
        let hex = id.as_str().expect("an id");
        let dashed = format!(
            "{}-{}-{}-{}-{}",
            &hex[..8],
            &hex[8..12],
            &hex[12..16],
            &hex[16..20],
            &hex[20..]
        );
        let at = events
            .find(&dashed)
            .unwrap_or_else(|| panic!("events list lacks {dashed}:\n{events}"));
        positions.push(at);
    }
    assert!(
        positions.windows(2).all(|w| w[0] > w[1]),
        "not newest first:\n{events}"
    );
    assert!(events.contains("payment gateway timeout"), "{events}");

    // Releases: the SDK's release is listed; archived it leaves the list and says so,
    // restored it is back.
    let version = "shop@1.4.2";
    let releases = sentry_cli(vigil, &["releases", "list"]);
    assert!(releases.contains(version), "{releases}");
    sentry_cli(vigil, &["releases", "new", "shop@2.0.0"]);
    sentry_cli(vigil, &["releases", "archive", version]);
    assert_eq!(release(vigil, version)["status"], "archived");
    assert_eq!(listed_releases(vigil, None), ["shop@2.0.0"]);
    assert_eq!(listed_releases(vigil, Some("archived")), [version]);
    let releases = sentry_cli(vigil, &["releases", "list"]);
    assert!(
        !releases.contains(version),
        "archived yet listed:\n{releases}"
    );
    sentry_cli(vigil, &["releases", "restore", version]);
    assert_eq!(release(vigil, version)["status"], "open");
    let releases = sentry_cli(vigil, &["releases", "list"]);
    assert!(
        releases.contains(version),
        "restored yet not listed:\n{releases}"
    );
}

test_on_both_backends!(
    a_teams_scripts_drive_vigil_with_sentry_cli,
    sentry_cli_works_against_sqlite,
    sentry_cli_works_against_postgres
);
