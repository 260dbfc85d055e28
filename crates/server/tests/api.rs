//! The `/api/0/` web API through the real router and a real SQLite store: Sentry's paths, JSON
//! shapes, statuses and pagination, and no data for callers without access.

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::{ingest, Harness};
use serde_json::{json, Value};

fn error_event(exc_type: &str, value: &str, environment: &str) -> Value {
    json!({
        "platform": "python",
        "environment": environment,
        "level": "error",
        "exception": {"values": [{"type": exc_type, "value": value, "stacktrace": {"frames": [
            {"module": "shop.views", "function": "checkout", "filename": "shop/views.py", "lineno": 12,
             "context_line": "    total = 1 / 0", "in_app": true}
        ]}}]},
        "request": {"url": "http://shop.example/checkout?x=1", "method": "POST"},
        "user": {"id": "7", "email": "sam@example.com"},
    })
}

/// A fresh harness that has taken the same production error twice (events 1 and 2), with the
/// status and body of its organization's issue list: one issue seen twice.
async fn harness_with_an_issue_seen_twice(
    exc_type: &str,
    value: &str,
) -> (Harness, StatusCode, Value) {
    let h = Harness::new().await;
    let event = error_event(exc_type, value, "production");
    ingest(&h, 1, &event).await;
    ingest(&h, 2, &event).await;
    let (status, _, issues) = h.get("/api/0/organizations/default/issues/").await;
    (h, status, issues)
}

/// The entry of `kind` (`exception`, `request`, …) in an event as the API shows it.
fn entry<'a>(event: &'a Value, kind: &str) -> &'a Value {
    event["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .find(|e| e["type"] == kind)
        .unwrap_or_else(|| panic!("{kind} entry"))
}

/// Sets the status of issue `id` through the API; the answer's status and body.
async fn put_issue_status(h: &Harness, id: &str, status: &str) -> (StatusCode, Value) {
    let (code, _, body) = h
        .api(
            "PUT",
            &format!("/api/0/issues/{id}/"),
            Some(json!({"status": status})),
        )
        .await;
    (code, body)
}

/// Creates a release of the organization `default` from `body`; the answer's status and body.
async fn create_release(h: &Harness, body: Value) -> (StatusCode, Value) {
    let writer = h.writer().await;
    h.call_as(
        &writer,
        "POST",
        "/api/0/organizations/default/releases/",
        Some(body),
    )
    .await
}

#[tokio::test]
async fn api_without_or_with_a_bad_token_gets_no_data() {
    let h = Harness::new().await;
    ingest(&h, 1, &error_event("KeyError", "'sku'", "production")).await;
    let request = Request::get("/api/0/organizations/default/issues/")
        .body(Body::empty())
        .expect("request");
    let (status, _, body) = h.send(request).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        body["detail"],
        "Authentication credentials were not provided."
    );
    let request = Request::get("/api/0/organizations/default/issues/")
        .header("authorization", "Bearer sntryu_0000")
        .body(Body::empty())
        .expect("request");
    assert_eq!(h.send(request).await.0, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn other_organizations_are_not_found() {
    let h = Harness::new().await;
    h.project_in("other", "secret", None).await;
    // A member (not admin) of `default` only.
    let user = h.member_of("default", "member@example.com").await;
    let token = h.token_for(user.id, &[]).await;
    let get = |path: &str| {
        Request::get(path)
            .header("authorization", format!("Bearer {token}"))
            .body(Body::empty())
            .expect("request")
    };
    assert_eq!(
        h.send(get("/api/0/organizations/other/issues/")).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        h.send(get("/api/0/projects/other/secret/keys/")).await.0,
        StatusCode::NOT_FOUND
    );
    let (status, _, projects) = h.send(get("/api/0/projects/")).await;
    assert_eq!(status, StatusCode::OK);
    let slugs: Vec<&str> = projects
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|p| p["slug"].as_str())
        .collect();
    assert_eq!(slugs, vec!["shop"]);
}

#[tokio::test]
async fn issue_has_sentrys_fields_and_counts_events() {
    let (_h, status, issues) =
        harness_with_an_issue_seen_twice("ZeroDivisionError", "division by zero").await;
    assert_eq!(status, StatusCode::OK);
    let issues = issues.as_array().expect("list");
    assert_eq!(issues.len(), 1);
    let issue = &issues[0];
    assert_eq!(issue["title"], "ZeroDivisionError: division by zero");
    assert_eq!(issue["culprit"], "shop.views in checkout");
    assert_eq!(issue["count"], "2", "count is a string, as in Sentry");
    assert_eq!(issue["userCount"], 1);
    assert_eq!(issue["shortId"], "SHOP-1");
    assert_eq!(issue["status"], "unresolved");
    assert_eq!(issue["issueCategory"], "error");
    assert_eq!(issue["project"]["slug"], "shop");
    assert_eq!(issue["metadata"]["type"], "ZeroDivisionError");
    let id = issue["id"].as_str().expect("string id");
    assert_eq!(
        issue["permalink"],
        format!("http://127.0.0.1:9000/organizations/default/issues/{id}/")
    );
    assert!(issue["firstSeen"].as_str().expect("date").ends_with('Z'));
}

#[tokio::test]
async fn latest_event_has_entries_tags_and_context() {
    let h = Harness::new().await;
    let first = ingest(
        &h,
        1,
        &error_event("ZeroDivisionError", "division by zero", "production"),
    )
    .await;
    let second = ingest(
        &h,
        2,
        &error_event("ZeroDivisionError", "division by zero", "production"),
    )
    .await;
    let (_, _, issues) = h.get("/api/0/projects/default/shop/issues/").await;
    let id = issues[0]["id"].as_str().expect("id").to_string();
    let (status, _, event) = h.get(&format!("/api/0/issues/{id}/events/latest/")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(event["eventID"], second);
    assert_eq!(event["previousEventID"], first);
    assert_eq!(event["groupID"], id);
    let exception = entry(&event, "exception");
    let frame = &exception["data"]["values"][0]["stacktrace"]["frames"][0];
    assert_eq!(frame["contextLine"], "    total = 1 / 0");
    assert_eq!(frame["lineNo"], 12);
    assert_eq!(frame["inApp"], true);
    let request = entry(&event, "request");
    assert_eq!(request["data"]["method"], "POST");
    assert_eq!(request["data"]["url"], "http://shop.example/checkout");
    let tags = event["tags"].as_array().expect("tags");
    assert!(tags.contains(&json!({"key": "environment", "value": "production"})));
    assert!(tags.contains(&json!({"key": "user", "value": "id:7"})));

    let (status, _, by_id) = h
        .get(&format!("/api/0/projects/default/shop/events/{first}/"))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(by_id["eventID"], first);
    let dashed = format!(
        "{}-{}-{}-{}-{}",
        &first[0..8],
        &first[8..12],
        &first[12..16],
        &first[16..20],
        &first[20..]
    );
    // The dashed UUID form finds the event too; an unknown id is not found.
    for (event_id, expected) in [
        (dashed.as_str(), StatusCode::OK),
        ("ffffffffffffffffffffffffffffffff", StatusCode::NOT_FOUND),
    ] {
        h.expect_status(
            &format!("/api/0/projects/default/shop/events/{event_id}/"),
            expected,
        )
        .await;
    }
}

#[tokio::test]
async fn resolving_moves_the_issue_between_searches() {
    let h = Harness::new().await;
    ingest(&h, 1, &error_event("KeyError", "'sku'", "production")).await;
    let (_, _, issues) = h.get("/api/0/organizations/default/issues/").await;
    let id = issues[0]["id"].as_str().expect("id").to_string();
    let (status, issue) = put_issue_status(&h, &id, "resolved").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(issue["status"], "resolved");
    let (_, _, unresolved) = h
        .get("/api/0/organizations/default/issues/?query=is:unresolved")
        .await;
    assert_eq!(unresolved, json!([]));
    let (_, _, resolved) = h
        .get("/api/0/organizations/default/issues/?query=is%3Aresolved")
        .await;
    assert_eq!(resolved[0]["id"], id);
    let (status, body) = put_issue_status(&h, &id, "sleeping").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["status"].is_array());
    // A new event regresses it.
    ingest(&h, 2, &error_event("KeyError", "'sku'", "production")).await;
    let (_, _, issue) = h.get(&format!("/api/0/issues/{id}/")).await;
    assert_eq!(issue["status"], "unresolved");
    assert_eq!(issue["substatus"], "regressed");
}

#[tokio::test]
async fn search_filters_by_level_environment_and_text() {
    let h = Harness::new().await;
    ingest(&h, 1, &error_event("KeyError", "'sku'", "production")).await;
    ingest(&h, 2, &error_event("ValueError", "bad price", "staging")).await;
    let mut warning = error_event("TimeoutError", "gateway", "production");
    warning["level"] = json!("warning");
    ingest(&h, 3, &warning).await;
    let titles = |v: &Value| -> Vec<String> {
        let mut t: Vec<String> = v
            .as_array()
            .expect("list")
            .iter()
            .map(|i| i["title"].as_str().unwrap_or("").to_string())
            .collect();
        t.sort();
        t
    };
    for (query, expected) in [
        ("?query=environment:staging", vec!["ValueError: bad price"]),
        ("?query=level:warning", vec!["TimeoutError: gateway"]),
        (
            "?query=is:unresolved%20price",
            vec!["ValueError: bad price"],
        ),
        (
            "?query=!environment:staging",
            vec!["KeyError: 'sku'", "TimeoutError: gateway"],
        ),
        ("?environment=staging", vec!["ValueError: bad price"]),
    ] {
        let (_, _, r) = h
            .get(&format!("/api/0/organizations/default/issues/{query}"))
            .await;
        assert_eq!(titles(&r), expected, "{query}");
    }
    let (status, _, _) = h
        .get("/api/0/organizations/default/issues/?query=is:sleeping")
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn issue_lists_page_with_sentrys_link_header() {
    let h = Harness::new().await;
    for n in 0..3 {
        ingest(
            &h,
            n + 1,
            &error_event(&format!("Error{n}"), "boom", "production"),
        )
        .await;
    }
    let (_, headers, page1) = h.get("/api/0/organizations/default/issues/?limit=2").await;
    assert_eq!(page1.as_array().expect("list").len(), 2);
    let link = headers["link"].to_str().expect("ascii");
    assert!(
        link.contains("rel=\"next\"; results=\"true\"; cursor=\"0:2:0\""),
        "{link}"
    );
    let (_, headers, page2) = h
        .get("/api/0/organizations/default/issues/?limit=2&cursor=0:2:0")
        .await;
    assert_eq!(page2.as_array().expect("list").len(), 1);
    assert!(headers["link"]
        .to_str()
        .expect("ascii")
        .contains("rel=\"next\"; results=\"false\""));
    let (_, _, events) = h
        .get(&format!(
            "/api/0/issues/{}/events/",
            page2[0]["id"].as_str().expect("id")
        ))
        .await;
    assert_eq!(events.as_array().expect("events").len(), 1);
}

#[tokio::test]
async fn api_root_and_keys_answer_as_sentry_cli_expects() {
    let h = Harness::new().await;
    let (status, _, root) = h.get("/api/0/").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(root["user"]["email"], "admin@example.com");
    assert!(root["auth"]["scopes"].is_array());
    let (_, _, keys) = h.get("/api/0/projects/default/shop/keys/").await;
    let key = &keys[0];
    assert_eq!(key["public"], h.key.public_key);
    assert_eq!(
        key["dsn"]["public"],
        format!(
            "http://{}@127.0.0.1:9000/{}",
            h.key.public_key, h.project.id
        )
    );
    assert_eq!(key["isActive"], true);

    // Changing keys needs `project:write`: the harness's token reads only.
    let (status, _, refused) = h
        .api(
            "POST",
            "/api/0/projects/default/shop/keys/",
            Some(json!({"name": "CI"})),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{refused}");
    let writer = h.writer().await;
    let (status, created) = h
        .call_as(
            &writer,
            "POST",
            "/api/0/projects/default/shop/keys/",
            Some(json!({"name": "CI"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["name"], "CI");
    assert_eq!(created["isActive"], true);
    let public = created["public"].as_str().expect("public key").to_string();
    // Renamed with Sentry's `name`; a field Vigil does not apply is refused, naming it.
    let key_path = format!("/api/0/projects/default/shop/keys/{public}/");
    let (status, _, forbidden) = h
        .api("PUT", &key_path, Some(json!({"name": "CI runners"})))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{forbidden}");
    let (status, renamed) = h
        .call_as(
            &writer,
            "PUT",
            &key_path,
            Some(json!({"name": "CI runners"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{renamed}");
    assert_eq!(renamed["name"], "CI runners");
    let (status, refused) = h
        .call_as(
            &writer,
            "PUT",
            &key_path,
            Some(json!({"name": "x", "browserSdkVersion": "7.x"})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{refused}");
    assert!(refused["browserSdkVersion"][0].is_string(), "{refused}");
    let (status, blank) = h
        .call_as(&writer, "PUT", &key_path, Some(json!({"name": " "})))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{blank}");
    let (_, _, keys) = h.get("/api/0/projects/default/shop/keys/").await;
    let names: Vec<&str> = keys
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|k| k["name"].as_str())
        .collect();
    assert_eq!(
        names,
        ["Default", "CI runners"],
        "nothing but the rename applied"
    );
    // Deleting removes the key; deleting it again finds nothing.
    let (status, _, _) = h.api("DELETE", &key_path, None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    for expected in [StatusCode::NO_CONTENT, StatusCode::NOT_FOUND] {
        let (status, _) = h.call_as(&writer, "DELETE", &key_path, None).await;
        assert_eq!(status, expected);
    }
    let (_, _, keys) = h.get("/api/0/projects/default/shop/keys/").await;
    assert_eq!(keys.as_array().map(Vec::len), Some(1), "{keys}");
    let (_, _, orgs) = h.get("/api/0/organizations/").await;
    for field in [
        "id",
        "slug",
        "name",
        "dateCreated",
        "isEarlyAdopter",
        "require2FA",
        "requireEmailVerification",
        "features",
    ] {
        assert!(orgs[0].get(field).is_some(), "organization lacks {field}");
    }
}

#[tokio::test]
async fn releases_follow_sentry_clis_calls() {
    let h = Harness::new().await;
    let (status, release) = create_release(
        &h,
        json!({"version": "shop@1.4.2", "projects": ["shop"], "dateStarted": "2026-11-25T03:01:25.954400171Z"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(release["version"], "shop@1.4.2");
    assert!(release["dateCreated"].is_string());
    let (status, _) =
        create_release(&h, json!({"version": "shop@1.4.2", "projects": ["shop"]})).await;
    assert_eq!(status, StatusCode::ALREADY_REPORTED);
    // Writing releases needs `project:releases` (or project write access).
    let (status, _, _) = h
        .api(
            "POST",
            "/api/0/organizations/default/releases/",
            Some(json!({"version": "shop@9", "projects": ["shop"]})),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let writer = h.writer().await;
    let (status, finalized) = h
        .call_as(
            &writer,
            "PUT",
            "/api/0/organizations/default/releases/shop@1.4.2/",
            Some(json!({"projects": ["shop"], "dateReleased": "2026-11-25T03:01:25.986098933Z"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let released = finalized["dateReleased"].as_str().expect("finalized");
    // `set-commits` sends refs or commits: Vigil keeps none, and says so rather than answer 200.
    for (body, field) in [
        (
            json!({"refs": [{"repository": "acme/shop", "commit": "a1b2c3"}]}),
            "refs",
        ),
        (
            json!({"commits": [{"id": "a1b2c3", "repository": "acme/shop"}]}),
            "commits",
        ),
        (json!({"projects": ["shop"], "owner": "someone"}), "owner"),
    ] {
        let (status, refused) = h
            .call_as(
                &writer,
                "PUT",
                "/api/0/organizations/default/releases/shop@1.4.2/",
                Some(body.clone()),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {refused}");
        assert!(refused[field][0].is_string(), "{body}: {refused}");
    }
    let (status, _) = h
        .call_as(
            &writer,
            "PUT",
            "/api/0/organizations/default/releases/shop@1.4.2/",
            Some(json!({"refs": [], "commits": null})),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::OK,
        "empty commit fields ask for nothing"
    );
    assert!(released.starts_with("2026-11-25T03:01:25.98"), "{released}");
    let (status, deploy) = h
        .call_as(&writer, "POST", "/api/0/organizations/default/releases/shop@1.4.2/deploys/", Some(json!({"environment": "production", "dateFinished": "2026-11-25T03:01:26.015421178Z"})))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(deploy["environment"], "production");
    let (_, _, list) = h.get("/api/0/projects/default/shop/releases/").await;
    assert_eq!(list[0]["deployCount"], 1);
    let (status, body) = create_release(&h, json!({"version": "x", "projects": ["nope"]})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    h.expect_status(
        "/api/0/organizations/default/releases/unknown/",
        StatusCode::NOT_FOUND,
    )
    .await;
}

#[tokio::test]
async fn issue_lists_carry_hourly_stats_like_sentry() {
    let (h, _, issues) = harness_with_an_issue_seen_twice("KeyError", "'sku'").await;
    let series = issues[0]["stats"]["24h"].as_array().expect("24h stats");
    assert_eq!(series.len(), 24);
    let total: i64 = series.iter().map(|b| b[1].as_i64().expect("count")).sum();
    assert_eq!(total, 2, "both events are in the last 24 hours");
    assert!(
        series
            .windows(2)
            .all(|w| w[1][0].as_i64() > w[0][0].as_i64()),
        "oldest first"
    );
    let (_, _, issues) = h
        .get("/api/0/organizations/default/issues/?groupStatsPeriod=14d")
        .await;
    assert_eq!(
        issues[0]["stats"]["14d"]
            .as_array()
            .expect("14d stats")
            .len(),
        14
    );
    let (_, _, issues) = h
        .get("/api/0/organizations/default/issues/?groupStatsPeriod=")
        .await;
    assert!(issues[0].get("stats").is_none());
}
