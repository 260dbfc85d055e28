//! Sentry's issue search through the real binary's API, on SQLite and on PostgreSQL from one
//! test body: three issues reported by the real `sentry-sdk` (`tests/python/search_events.py`:
//! dated back, with their own release, environment, level, users and tags), two of them then
//! resolved and ignored through the API, and a table of searches, each term beside its
//! negation, checked for exactly the issues it must list. Also: an event id or a short id
//! typed alone answers just its issue with `X-Sentry-Direct-Hit: 1`, and keys Sentry gives a
//! meaning Vigil does not answer are a 400 naming the key.

mod common;

use common::backend::{test_on_both_backends, Backend, Server};
use common::python::run_python;
use common::Vigil;
use serde_json::{json, Value};

const CHECKOUT: &str = "ValueError: upstream timeout after 30s";
const LOGIN: &str = "KeyError: 'user'";
const CONNECTION: &str = "ConnectionRefusedError: connection refused by db:5432";

/// Searches and the issues each lists, last seen first (checkout 1 h ago, connection 3 h,
/// login 9 d). `{LOGIN_EVENT}` is an event id of login, `{CONNECTION}` connection's short id.
const TABLE: &[(&str, &[&str])] = &[
    ("", &[CHECKOUT, CONNECTION, LOGIN]),
    ("times_seen:>10", &[CHECKOUT]),
    ("!times_seen:>10", &[CONNECTION, LOGIN]),
    ("times_seen:<=2", &[LOGIN]),
    ("user.count:>5", &[CHECKOUT]),
    ("!user.count:>5", &[CONNECTION, LOGIN]),
    ("age:-24h", &[CHECKOUT]),
    ("!age:-24h", &[CONNECTION, LOGIN]),
    ("firstSeen:-3h", &[CHECKOUT]),
    ("firstSeen:+14d", &[CONNECTION]),
    ("lastSeen:+7d", &[LOGIN]),
    ("!lastSeen:+7d", &[CHECKOUT, CONNECTION]),
    ("event.timestamp:+15d", &[CONNECTION]),
    ("!event.timestamp:+15d", &[CHECKOUT, CONNECTION, LOGIN]),
    ("release:[shop@1.0,shop@2.0]", &[CHECKOUT, LOGIN]),
    ("!release:[shop@1.0,shop@2.0]", &[CONNECTION]),
    (
        "level:fatal OR release:shop@2.0 is:unresolved",
        &[CONNECTION],
    ),
    ("(level:fatal OR release:shop@2.0) is:resolved", &[LOGIN]),
    ("message:*timeout*", &[CHECKOUT]),
    ("!message:*timeout*", &[CONNECTION, LOGIN]),
    ("url:*/checkout/*", &[CHECKOUT]),
    ("!url:*/checkout/*", &[CONNECTION, LOGIN]),
    ("transaction:/api/*", &[CHECKOUT, LOGIN]),
    ("error.type:ValueError", &[CHECKOUT]),
    ("!error.type:ValueError", &[CONNECTION, LOGIN]),
    ("error.type:*Refused*", &[CONNECTION]),
    ("error.value:\"upstream timeout after 30s\"", &[CHECKOUT]),
    ("error.handled:0", &[CHECKOUT]),
    ("error.handled:1", &[CONNECTION, LOGIN]),
    ("error.unhandled:true", &[CHECKOUT]),
    ("!error.unhandled:true", &[CONNECTION, LOGIN]),
    ("level:warning", &[LOGIN]),
    ("!level:warning", &[CHECKOUT, CONNECTION]),
    ("is:unresolved", &[CHECKOUT]),
    // The Sentry UI's default search.
    ("is:unresolved issue.priority:[high, medium]", &[CHECKOUT]),
    ("!issue.priority:high", &[LOGIN]),
    ("is:resolved", &[LOGIN]),
    ("is:ignored", &[CONNECTION]),
    ("!is:unresolved", &[CONNECTION, LOGIN]),
    ("environment:production", &[CHECKOUT]),
    ("!environment:production", &[CONNECTION, LOGIN]),
    ("tags[customer_tier]:gold", &[CONNECTION]),
    ("customer_tier:gold", &[CONNECTION]),
    ("!customer_tier:gold", &[CHECKOUT, LOGIN]),
    ("timeout", &[CHECKOUT]),
    ("\"refused by\"", &[CONNECTION]),
    ("id:{LOGIN_EVENT}", &[LOGIN]),
    ("!id:{LOGIN_EVENT}", &[CHECKOUT, CONNECTION]),
    ("issue:{CONNECTION}", &[CONNECTION]),
];

fn titles(issues: &Value) -> Vec<String> {
    issues
        .as_array()
        .unwrap_or_else(|| panic!("a list: {issues}"))
        .iter()
        .map(|issue| issue["title"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// `GET` the project's issue list with `query` over 90 days: (status, direct hit, body).
fn search(vigil: &Vigil, query: &str) -> (u16, bool, Value) {
    let response = vigil
        .http()
        .get(vigil.url("/api/0/projects/default/shop/issues/"))
        .query(&[("query", query), ("statsPeriod", "90d"), ("limit", "100")])
        .bearer_auth(&vigil.token)
        .send()
        .unwrap_or_else(|e| panic!("GET issues {query:?}: {e}"));
    let status = response.status().as_u16();
    let hit = response.headers().get("X-Sentry-Direct-Hit").is_some();
    let body = response.json().unwrap_or(Value::Null);
    (status, hit, body)
}

fn searches_answer_as_sentry(backend: Backend) {
    let server = Server::start(backend);
    let vigil = &server.vigil;
    let dsn = vigil.create_project("shop", "python");
    let sent = run_python("search_events.py", &[&dsn.raw]);
    let ids = &sent[0];
    vigil.settle();

    let all = vigil.api_poll(
        "the three issues",
        "/api/0/projects/default/shop/issues/",
        &[("query", ""), ("statsPeriod", "90d")],
        |body| body.as_array().is_some_and(|issues| issues.len() == 3),
    );
    let issue = |title: &str| {
        all.as_array()
            .into_iter()
            .flatten()
            .find(|issue| issue["title"] == title)
            .unwrap_or_else(|| panic!("no issue {title:?} in {all}"))
            .clone()
    };
    for (title, status) in [(LOGIN, "resolved"), (CONNECTION, "ignored")] {
        let id = issue(title)["id"].as_str().expect("id").to_owned();
        vigil
            .api_put(
                &format!("/api/0/issues/{id}/"),
                &json!({ "status": status }),
            )
            .ok("PUT issue status");
    }
    let login_event = ids["login"][1].as_str().expect("an event id").to_owned();
    let connection = issue(CONNECTION);
    let short_id = connection["shortId"].as_str().expect("shortId").to_owned();

    let mut failures = Vec::new();
    for (query, expected) in TABLE {
        let query = query
            .replace("{LOGIN_EVENT}", &login_event)
            .replace("{CONNECTION}", &short_id);
        let (status, _, body) = search(vigil, &query);
        if status != 200 || titles(&body) != *expected {
            failures.push(format!("{query:?} answered {status}: {:?}", titles(&body)));
        }
    }
    assert!(failures.is_empty(), "{backend:?}:\n{}", failures.join("\n"));

    // An event id (as the SDK printed it, or as a UUID) or a short id alone: just its issue,
    // resolved or not, marked as a direct hit.
    let uuid = format!(
        "{}-{}-{}-{}-{}",
        &login_event[..8],
        &login_event[8..12],
        &login_event[12..16],
        &login_event[16..20],
        &login_event[20..]
    );
    for (query, expected) in [
        (login_event.as_str(), LOGIN),
        (uuid.as_str(), LOGIN),
        (short_id.as_str(), CONNECTION),
        (&short_id.to_lowercase(), CONNECTION),
    ] {
        let (status, hit, body) = search(vigil, query);
        assert_eq!((status, hit), (200, true), "{query}: {body}");
        assert_eq!(titles(&body), [expected], "{query}");
    }
    // Not an id of anything: searched as text, no direct hit.
    let (status, hit, body) = search(vigil, &"0".repeat(32));
    assert_eq!(
        (status, hit, titles(&body).len()),
        (200, false, 0),
        "{body}"
    );

    // Keys Vigil cannot answer, and values that are not what the key takes: 400 naming them.
    for (query, named) in [
        ("assigned:my_teams", "assigned"),
        ("subscribed:me", "subscribed"),
        ("is:linked", "is:linked"),
        ("transaction.duration:>1s", "transaction.duration"),
        ("count():>10", "count()"),
        ("times_seen:many", "times_seen"),
        ("firstSeen:-24x", "firstSeen"),
        ("browser:>5", "browser"),
        ("(level:error", "parenthesis"),
        ("level:error OR", "OR"),
    ] {
        let (status, _, body) = search(vigil, query);
        assert_eq!(status, 400, "{query}: {body}");
        let reason = body["query"][0].as_str().unwrap_or_default();
        assert!(reason.contains(named), "{query}: {body}");
    }
}

test_on_both_backends!(
    searches_answer_as_sentry,
    search_on_sqlite,
    search_on_postgres
);
