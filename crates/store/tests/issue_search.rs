//! Sentry's issue search, term by term, on both backends: three issues made so that every
//! term of the table finds something different from its negation, each search checked for
//! exactly the issues it must find (in the list's order, last seen first).

mod common;

use common::{event_id, project};
use serde_json::json;
use vigil_store::prelude::*;
use vigil_store::search::parse_search;
use vigil_store::{IssueQuery, IssueStatus, NewEvent, Project};

common::suite_on_both_backends!(every_search_term_differs_from_its_negation);

/// Seconds in an hour and a day.
const H: f64 = 3_600.0;
const D: f64 = 86_400.0;

fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or_default()
}

/// The searches, and the titles (of "checkout", "connection", "login") each must find; `{B}`
/// stands for an event id of "login", `{C}` for the short id of "connection", `{DAY}` for the
/// day "connection" was first seen (`YYYY-MM-DD`).
const TABLE: &[(&str, &[&str])] = &[
    ("", &["checkout", "connection", "login"]),
    // Counts.
    ("times_seen:>10", &["checkout"]),
    ("!times_seen:>10", &["connection", "login"]),
    ("times_seen:12", &["checkout"]),
    ("times_seen:<=2", &["login"]),
    ("timesSeen:>=5", &["checkout", "connection"]),
    ("user.count:>5", &["checkout"]),
    ("!user.count:>5", &["connection", "login"]),
    ("user.count:>=1 user.count:<=1", &["login"]),
    // Times, relative: `-` within, `+` older than.
    ("age:-24h", &["checkout"]),
    ("!age:-24h", &["connection", "login"]),
    ("firstSeen:-3h", &["checkout"]),
    ("firstSeen:-1h", &[]),
    ("firstSeen:+7d", &["connection", "login"]),
    ("firstSeen:+2w", &["connection"]),
    ("lastSeen:+7d", &["login"]),
    ("!lastSeen:+7d", &["checkout", "connection"]),
    ("lastSeen:-150m", &["checkout"]),
    ("event.timestamp:-90m", &["checkout"]),
    (
        "!event.timestamp:-90m",
        &["checkout", "connection", "login"],
    ),
    ("event.timestamp:+15d", &["connection"]),
    // Times, absolute.
    ("firstSeen:{DAY}", &["connection"]),
    ("!firstSeen:{DAY}", &["checkout", "login"]),
    ("firstSeen:>{DAY}", &["checkout", "connection", "login"]),
    ("!firstSeen:>={DAY}", &[]),
    ("firstSeen:<{DAY}", &[]),
    // Lists, OR / AND, parentheses.
    ("release:[shop@1.0,shop@2.0]", &["checkout", "login"]),
    ("!release:[shop@1.0, shop@2.0]", &["connection"]),
    (
        "release:shop@1.0 OR level:fatal",
        &["checkout", "connection"],
    ),
    // AND binds tighter: fatal, or (2.0 and unresolved, which "login" is not).
    (
        "level:fatal OR release:shop@2.0 is:unresolved",
        &["connection"],
    ),
    ("(level:fatal OR release:shop@2.0) is:resolved", &["login"]),
    (
        "level:fatal OR release:shop@2.0 AND is:resolved",
        &["connection", "login"],
    ),
    ("(timeout OR refused) !is:ignored", &["checkout"]),
    // Wildcards and message.
    ("message:*timeout*", &["checkout"]),
    ("!message:*timeout*", &["connection", "login"]),
    ("message:TIMEOUT", &["checkout"]),
    ("url:*/checkout/*", &["checkout"]),
    ("!url:*/checkout/*", &["connection", "login"]),
    ("transaction:/api/*", &["checkout", "login"]),
    ("!transaction:/api/*", &["connection"]),
    ("url:https://shop.example/login", &["login"]),
    // Errors.
    ("error.type:ValueError", &["checkout"]),
    ("!error.type:ValueError", &["connection", "login"]),
    ("error.type:*Error", &["checkout", "login"]),
    ("error.value:\"upstream timeout after 30s\"", &["checkout"]),
    ("!error.value:*refused*", &["checkout", "login"]),
    ("error.handled:0", &["checkout"]),
    ("error.handled:1", &["connection", "login"]),
    ("error.unhandled:true", &["checkout"]),
    ("!error.unhandled:true", &["connection", "login"]),
    ("error.mechanism:celery", &["connection"]),
    ("issue.priority:high", &["checkout", "connection"]),
    ("!issue.priority:high", &["login"]),
    ("issue.priority:[medium,low]", &["login"]),
    ("level:warning", &["login"]),
    ("!level:warning", &["checkout", "connection"]),
    // Status.
    ("is:unresolved", &["checkout"]),
    ("!is:unresolved", &["connection", "login"]),
    ("is:resolved", &["login"]),
    ("is:ignored", &["connection"]),
    ("is:archived", &["connection"]),
    ("is:new", &["checkout"]),
    ("!is:new", &["connection", "login"]),
    // Tags, environment, release, project.
    ("environment:production", &["checkout"]),
    ("!environment:production", &["connection", "login"]),
    ("release:shop@3.0", &["connection"]),
    ("firstRelease:shop@3.0", &["connection"]),
    ("!firstRelease:shop@3.0", &["checkout", "login"]),
    ("tags[customer_tier]:gold", &["connection"]),
    ("customer_tier:gold", &["connection"]),
    ("!customer_tier:gold", &["checkout", "login"]),
    ("customer_tier:\"\"", &["checkout", "login"]),
    ("has:customer_tier", &["connection"]),
    ("project:shop", &["checkout", "connection", "login"]),
    ("!project:shop", &[]),
    // Free text over title, culprit and message.
    ("timeout", &["checkout"]),
    ("\"auth in login\"", &["login"]),
    ("conn*refused", &["connection"]),
    // Ids.
    ("id:{B}", &["login"]),
    ("!id:{B}", &["checkout", "connection"]),
    ("issue:{C}", &["connection"]),
    ("!issue:{C}", &["checkout", "login"]),
];

/// `n` events of one issue: `title`'s, from `first` to `last` seconds before now, with `users`
/// distinct users and these fields.
#[allow(clippy::too_many_arguments)]
fn issue_events(
    project_id: i64,
    ids: std::ops::Range<u32>,
    title: &str,
    (ty, value): (&str, &str),
    culprit: &str,
    level: &str,
    unhandled: bool,
    release: &str,
    tags: &[(&str, &str)],
    users: u32,
    (first, last): (f64, f64),
) -> Vec<NewEvent> {
    let count = ids.len() as u32;
    let now = now();
    ids.clone()
        .enumerate()
        .map(|(i, n)| {
            let i = i as u32;
            let at = if count == 1 {
                now - last
            } else {
                now - first + (first - last) * f64::from(i) / f64::from(count - 1)
            };
            let user = (users > 0).then(|| format!("id:{}", i % users));
            let mut all_tags: Vec<(String, String)> = tags
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            all_tags.push(("release".into(), release.into()));
            if let Some(user) = &user {
                all_tags.push(("user".into(), user.clone()));
            }
            NewEvent {
                title: format!("{ty}: {value}"),
                culprit: culprit.into(),
                metadata: json!({"type": ty, "value": value}),
                hashes: vec![title.to_owned()],
                level: level.into(),
                is_unhandled: unhandled,
                release: Some(release.into()),
                environment: tags
                    .iter()
                    .find(|(k, _)| *k == "environment")
                    .map(|(_, v)| v.to_string()),
                user_tag: user,
                tags: all_tags,
                message: value.into(),
                ..common::error_event(project_id, event_id(n), at)
            }
        })
        .collect()
}

async fn every_search_term_differs_from_its_negation(store: &dyn Store) {
    let (org, project_id) = project(store, "acme").await;
    let mut events = issue_events(
        project_id,
        1..13,
        "checkout",
        ("ValueError", "upstream timeout after 30s"),
        "shop.views in checkout",
        "error",
        true,
        "shop@1.0",
        &[
            ("environment", "production"),
            ("url", "https://shop.example/checkout/pay"),
            ("transaction", "/api/checkout"),
        ],
        6,
        (2.0 * H, H),
    );
    events.extend(issue_events(
        project_id,
        20..22,
        "login",
        ("KeyError", "'user'"),
        "shop.auth in login",
        "warning",
        false,
        "shop@2.0",
        &[
            ("environment", "staging"),
            ("url", "https://shop.example/login"),
            ("transaction", "/api/login"),
        ],
        1,
        (10.0 * D, 9.0 * D),
    ));
    events.extend(issue_events(
        project_id,
        30..35,
        "connection",
        ("ConnectionRefused", "connection refused by db:5432"),
        "shop.tasks in sync",
        "fatal",
        false,
        "shop@3.0",
        &[
            ("environment", "development"),
            ("customer_tier", "gold"),
            ("mechanism", "celery"),
        ],
        0,
        (20.0 * D, 3.0 * H),
    ));
    let saved = store.save_events(events).await.unwrap();
    let issue_of = |n: u32| {
        saved
            .iter()
            .find(|s| s.event_id == event_id(n))
            .map(|s| s.issue_id)
            .unwrap()
    };
    let (login, connection) = (issue_of(20), issue_of(30));
    common::set_status(store, login, IssueStatus::Resolved).await;
    common::set_status(store, connection, IssueStatus::Ignored).await;

    let connection = common::stored_issue(store, connection).await;
    let shop: Project = store.project_by_id(project_id).await.unwrap().unwrap();
    let day = &vigil_protocol::timestamp::format_iso(connection.first_seen)[..10];
    let fill = |search: &str| {
        search
            .replace("{B}", &event_id(21))
            .replace("{C}", &shop.short_id(connection.short_id))
            .replace("{DAY}", day)
    };
    let mut failures = Vec::new();
    for (search, expected) in TABLE {
        let search = fill(search);
        let query = IssueQuery {
            organization_id: org,
            search: parse_search(&search).unwrap_or_else(|e| panic!("{search}: {e}")),
            limit: 100,
            ..IssueQuery::default()
        };
        let found: Vec<String> = store
            .search_issues(&query)
            .await
            .unwrap()
            .into_iter()
            .map(|issue| {
                issue
                    .culprit
                    .rsplit(' ')
                    .next()
                    .unwrap_or_default()
                    .to_owned()
            })
            .collect();
        let found: Vec<&str> = found
            .iter()
            .map(|c| match c.as_str() {
                "sync" => "connection",
                other => other,
            })
            .collect();
        if found != *expected {
            failures.push(format!(
                "{search:?}: found {found:?}, expected {expected:?}"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
