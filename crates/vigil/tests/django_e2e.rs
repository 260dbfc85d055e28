//! The scenario Vigil exists for: a Django app with the official `sentry-sdk` reports an
//! exception from a real HTTP request, and it is an issue the web API shows with its stack,
//! request and tags. Also a Celery task failure through `CeleryIntegration`.
//!
//! The apps are `tests/python/django_app.py` and `celery_app.py`, run with the venv that
//! `scripts/test.sh` installs (`.venv/bin/python`, or `$VIGIL_TEST_PYTHON`).
//!
//! The server runs on SQLite, the default; the first two scenarios run once more with the
//! server on a fresh PostgreSQL database of `VIGIL_TEST_DATABASE_URL` (`scripts/test.sh` starts
//! a throwaway cluster), from the same test bodies.

mod common;

use common::backend::{test_on_both_backends, Backend, Server};
use common::python::{request_django_paths, run_python};
use common::{entry, tags, Dsn, Vigil};
use serde_json::{json, Value};

const ZERO_DIVISION_TITLE: &str = "ZeroDivisionError: division by zero";
const KEY_ERROR_TITLE: &str = "KeyError: 'sku-404'";

/// Requests each path of the Django app over HTTP; asserts each view failed with a 500.
fn request_django(dsn: &Dsn, paths: &[&str]) {
    for result in request_django_paths(dsn, &[], paths) {
        assert_eq!(
            result["status"], 500,
            "the failing view did not fail: {result}"
        );
    }
}

/// A server with project `shop` (platform python) and its DSN.
struct Shop {
    server: Server,
    dsn: Dsn,
}

/// A server with project `shop`, after its Django app failed at each of `paths`.
fn shop_after_requests(backend: Backend, paths: &[&str]) -> Shop {
    let server = Server::start(backend);
    let dsn = server.vigil.create_project("shop", "python");
    request_django(&dsn, paths);
    Shop { server, dsn }
}
/// Waits until project `shop` has an issue titled `title` for which `ready` holds.
fn wait_for_issue(vigil: &Vigil, title: &str, ready: impl Fn(&Value) -> bool) -> Value {
    let issues = vigil.api_poll(
        &format!("issue {title:?}"),
        "/api/0/projects/default/shop/issues/",
        &[("query", "is:unresolved")],
        |list| {
            list.as_array()
                .is_some_and(|l| l.iter().any(|i| i["title"] == title && ready(i)))
        },
    );
    issues
        .as_array()
        .and_then(|l| l.iter().find(|i| i["title"] == title))
        .cloned()
        .expect("the poll returned a list with the issue")
}

fn issue_id(issue: &Value) -> String {
    issue["id"]
        .as_str()
        .unwrap_or_else(|| panic!("issue id is not a string: {issue}"))
        .to_string()
}

/// The JSON of `GET /api/0/issues/{id}/{rest}`, e.g. `rest` = `events/`.
fn get_issue_resource(vigil: &Vigil, id: &str, rest: &str) -> Value {
    let path = format!("/api/0/issues/{id}/{rest}");
    vigil.api_get(&path, &[]).ok(&format!("GET {path}"))
}

fn titles(issues: &[Value]) -> Vec<&str> {
    issues
        .iter()
        .map(|i| i["title"].as_str().unwrap_or("<no title>"))
        .collect()
}

test_on_both_backends!(
    zero_division_becomes_an_issue,
    django_zero_division_becomes_an_issue_with_stack_request_and_environment,
    on_postgres_django_zero_division_becomes_an_issue_with_stack_request_and_environment
);

test_on_both_backends!(
    same_error_counts_and_another_opens_an_issue,
    the_same_error_again_counts_on_its_issue_and_another_exception_opens_a_second_issue,
    on_postgres_the_same_error_again_counts_on_its_issue_and_another_opens_a_second_issue
);

fn zero_division_becomes_an_issue(backend: Backend) {
    let Shop { server, .. } = &shop_after_requests(backend, &["/sentry-debug/"]);
    let vigil = &server.vigil;

    let issue = wait_for_issue(vigil, ZERO_DIVISION_TITLE, |_| true);
    let unresolved = vigil.project_issues("shop", "is:unresolved");
    assert_eq!(
        titles(&unresolved),
        [ZERO_DIVISION_TITLE],
        "one unresolved issue expected"
    );
    assert_eq!(issue["status"], "unresolved", "{issue}");
    assert_eq!(
        issue["count"], "1",
        "count is a string, as Sentry's: {issue}"
    );
    assert_eq!(issue["level"], "error", "{issue}");
    assert_eq!(issue["metadata"]["type"], "ZeroDivisionError", "{issue}");
    assert_eq!(issue["metadata"]["value"], "division by zero", "{issue}");
    assert_eq!(issue["project"]["slug"], "shop", "{issue}");
    assert_eq!(issue["shortId"], "SHOP-1", "{issue}");
    assert_eq!(issue["type"], "error", "{issue}");
    assert_eq!(issue["issueCategory"], "error", "{issue}");
    assert!(
        issue["userCount"].is_u64(),
        "userCount is a number: {issue}"
    );
    for field in ["firstSeen", "lastSeen"] {
        assert!(
            issue[field].as_str().is_some_and(|t| t.ends_with('Z')),
            "{field} is not an ISO 8601 UTC time: {issue}"
        );
    }
    assert!(
        issue["permalink"]
            .as_str()
            .is_some_and(|p| p.starts_with(&vigil.base_url)),
        "permalink is not under the public URL: {issue}"
    );

    let id = issue_id(&issue);
    let event = get_issue_resource(vigil, &id, "events/latest/");
    assert_eq!(
        event["groupID"],
        id.as_str(),
        "the latest event is not the issue's: {event}"
    );

    let exception = entry(&event, "exception")
        .unwrap_or_else(|| panic!("latest event has no exception entry: {event}"));
    let frames = exception["values"][0]["stacktrace"]["frames"]
        .as_array()
        .unwrap_or_else(|| panic!("exception has no frames: {exception}"));
    let frame = frames
        .iter()
        .find(|f| f["contextLine"].as_str().map(str::trim) == Some("division_by_zero = 1 / 0"))
        .unwrap_or_else(|| panic!("no frame with the dividing line as context: {frames:?}"));
    assert_eq!(frame["function"], "trigger_error", "{frame}");
    assert_eq!(frame["inApp"], true, "the view's frame is in-app: {frame}");
    assert!(frame["lineNo"].is_u64(), "lineNo is a number: {frame}");
    assert!(
        frame["vars"]["request"].is_string(),
        "the frame keeps the view's locals: {frame}"
    );
    assert!(
        frame["context"].as_array().is_some_and(|c| c.len() > 1),
        "the frame carries surrounding context lines as [lineno, line]: {frame}"
    );

    let request = entry(&event, "request")
        .unwrap_or_else(|| panic!("latest event has no request entry: {event}"));
    let url = request["url"].as_str().unwrap_or_default();
    assert!(
        url.starts_with("http://127.0.0.1:") && url.ends_with("/sentry-debug/"),
        "request URL is {url:?}"
    );
    assert_eq!(request["method"], "GET", "{request}");

    let event_tags = tags(&event);
    assert!(
        event_tags.contains(&("environment".to_string(), "production".to_string())),
        "no environment=production tag: {event_tags:?}"
    );
}

fn same_error_counts_and_another_opens_an_issue(backend: Backend) {
    let Shop { server, dsn } = &shop_after_requests(backend, &["/sentry-debug/"]);
    let vigil = &server.vigil;
    let first = wait_for_issue(vigil, ZERO_DIVISION_TITLE, |_| true);

    request_django(dsn, &["/sentry-debug/"]);
    let again = wait_for_issue(vigil, ZERO_DIVISION_TITLE, |i| i["count"] == "2");
    assert_eq!(
        issue_id(&again),
        issue_id(&first),
        "the second event made another issue"
    );
    let id = issue_id(&first);
    let events = get_issue_resource(vigil, &id, "events/");
    assert_eq!(
        events.as_array().map(Vec::len),
        Some(2),
        "the issue lists both events: {events}"
    );

    request_django(dsn, &["/checkout/"]);
    let key_error = wait_for_issue(vigil, KEY_ERROR_TITLE, |_| true);
    assert_ne!(
        issue_id(&key_error),
        id,
        "the KeyError joined the ZeroDivisionError issue"
    );
    let unresolved = vigil.project_issues("shop", "is:unresolved");
    let mut found = titles(&unresolved);
    found.sort_unstable();
    assert_eq!(
        found,
        [KEY_ERROR_TITLE, ZERO_DIVISION_TITLE],
        "two issues expected"
    );
}

#[test]
fn resolving_an_issue_moves_it_from_unresolved_to_resolved_search() {
    let Shop { server, .. } = &shop_after_requests(Backend::Sqlite, &["/sentry-debug/"]);
    let vigil = &server.vigil;
    let id = issue_id(&wait_for_issue(vigil, ZERO_DIVISION_TITLE, |_| true));
    let path = format!("/api/0/issues/{id}/");

    let updated = vigil
        .api_put(&path, &json!({"status": "resolved"}))
        .ok("PUT status resolved");
    assert_eq!(updated["status"], "resolved", "the PUT answer: {updated}");
    let issue = vigil.api_get(&path, &[]).ok("GET the resolved issue");
    assert_eq!(issue["status"], "resolved", "{issue}");

    let org_issues = |query: &str| {
        let list = vigil
            .api_get("/api/0/organizations/default/issues/", &[("query", query)])
            .ok(&format!("GET org issues query={query}"));
        list.as_array()
            .unwrap_or_else(|| panic!("org issues are not a list: {list}"))
            .iter()
            .map(issue_id)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        org_issues("is:resolved"),
        [id],
        "is:resolved finds the issue"
    );
    assert!(
        org_issues("is:unresolved").is_empty(),
        "is:unresolved still finds the issue"
    );
}

#[test]
fn celery_task_failure_is_its_own_issue_with_the_task_name_as_culprit() {
    let Shop { server, dsn } = &shop_after_requests(Backend::Sqlite, &["/sentry-debug/"]);
    let vigil = &server.vigil;
    let results = run_python("celery_app.py", &[&dsn.raw]);
    assert_eq!(
        results,
        [json!({"task": "shop.tasks.send_invoice", "state": "FAILURE"})],
        "the task did not fail as it should"
    );

    let title = "ConnectionError: SMTP server refused the connection for order 1234";
    let task_issue = wait_for_issue(vigil, title, |_| true);
    assert_eq!(
        task_issue["culprit"], "shop.tasks.send_invoice",
        "{task_issue}"
    );
    let django_issue = wait_for_issue(vigil, ZERO_DIVISION_TITLE, |_| true);
    assert_ne!(
        issue_id(&task_issue),
        issue_id(&django_issue),
        "task and view share an issue"
    );
}

#[test]
fn issue_search_filters_by_environment_level_and_free_text() {
    let Shop { server, .. } =
        &shop_after_requests(Backend::Sqlite, &["/sentry-debug/", "/checkout/"]);
    let vigil = &server.vigil;
    wait_for_issue(vigil, ZERO_DIVISION_TITLE, |_| true);
    wait_for_issue(vigil, KEY_ERROR_TITLE, |_| true);

    let search = |query: &str| {
        let mut found: Vec<String> = vigil
            .project_issues("shop", query)
            .iter()
            .map(|i| i["title"].as_str().unwrap_or("<no title>").to_string())
            .collect();
        found.sort_unstable();
        found
    };
    let both = [KEY_ERROR_TITLE, ZERO_DIVISION_TITLE];
    assert_eq!(search("is:unresolved environment:production"), both);
    assert_eq!(search("is:unresolved level:error"), both);
    assert!(
        search("environment:staging").is_empty(),
        "no event came from staging"
    );
    assert!(search("level:warning").is_empty(), "no event is a warning");
    assert_eq!(
        search("is:unresolved ZeroDivisionError"),
        [ZERO_DIVISION_TITLE]
    );
}
