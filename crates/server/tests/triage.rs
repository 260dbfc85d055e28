//! Triage through Sentry's API on the real router and store: the fields of an issue update,
//! ignore conditions lifted by later events, merge, delete, notes with mentions, activities,
//! and the 400s for what Vigil does not apply.

mod common;

use axum::http::StatusCode;
use common::{ingest, Harness};
use serde_json::{json, Value};
use vigil_store::prelude::*;

/// An event grouped by `fingerprint`, from `user`.
fn event(fingerprint: &str, user: &str) -> Value {
    json!({"message": format!("boom {fingerprint}"), "level": "error",
           "fingerprint": [fingerprint], "user": {"id": user}, "platform": "python"})
}

/// Sends event `n` and returns the id of its issue.
async fn issue_of(h: &Harness, n: u32, fingerprint: &str, user: &str) -> String {
    let event_id = ingest(h, n, &event(fingerprint, user)).await;
    let stored = h
        .store
        .event_by_id(h.project.id, &event_id)
        .await
        .expect("read")
        .expect("stored");
    stored.issue_id.expect("grouped").to_string()
}

fn kinds(activities: &Value) -> Vec<String> {
    activities["activity"]
        .as_array()
        .expect("activity list")
        .iter()
        .map(|a| a["type"].as_str().unwrap_or_default().to_owned())
        .collect()
}

#[tokio::test]
async fn update_fields_are_applied_shown_and_recorded() {
    let h = Harness::new().await;
    let dev = h.member_of("default", "dev@example.com").await;
    let id = issue_of(&h, 1, "a", "u1").await;
    let path = format!("/api/0/issues/{id}/");

    let (status, _, body) = h
        .api(
            "PUT",
            &path,
            Some(
                json!({"assignedTo": format!("user:{}", dev.id), "isBookmarked": true,
                        "hasSeen": true, "isSubscribed": true}),
            ),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["assignedTo"]["email"], "dev@example.com");
    assert_eq!(body["isBookmarked"], true);
    assert_eq!(body["hasSeen"], true);
    assert_eq!(body["isSubscribed"], true);

    let (_, _, body) = h
        .api(
            "PUT",
            &path,
            Some(json!({"assignedTo": "", "isBookmarked": false, "hasSeen": false})),
        )
        .await;
    assert_eq!(body["assignedTo"], Value::Null);
    assert_eq!(body["isBookmarked"], false);
    assert_eq!(body["hasSeen"], false);

    let (_, _, body) = h
        .api("PUT", &path, Some(json!({"status": "resolved"})))
        .await;
    assert_eq!(body["status"], "resolved");
    let (_, _, body) = h
        .api(
            "PUT",
            &path,
            Some(json!({"status": "unresolved", "inbox": false})),
        )
        .await;
    assert_eq!(body["status"], "unresolved");
    assert_eq!(body["inbox"], Value::Null, "reviewed");

    let (_, _, activities) = h.get(&format!("/api/0/issues/{id}/activities/")).await;
    assert_eq!(
        kinds(&activities),
        vec![
            "mark_reviewed",
            "set_unresolved",
            "set_resolved",
            "unassigned",
            "assigned",
            "first_seen"
        ]
    );
    let assigned = &activities["activity"][4];
    assert_eq!(assigned["data"]["assigneeEmail"], "dev@example.com");
    assert_eq!(assigned["user"]["email"], common::ADMIN_EMAIL);
    let (_, _, issue) = h.get(&path).await;
    assert_eq!(kinds(&json!({"activity": issue["activity"]})).len(), 6);

    // The assignee was emailed through the outbox.
    let sent = h
        .store
        .list_notifications(h.project.id, 10)
        .await
        .expect("outbox");
    assert!(
        sent.iter()
            .any(|n| n.target == "dev@example.com" && n.trigger == "assigned"),
        "{sent:?}"
    );
}

#[tokio::test]
async fn what_vigil_does_not_apply_is_refused_naming_the_field() {
    let h = Harness::new().await;
    let id = issue_of(&h, 1, "a", "u1").await;
    let path = format!("/api/0/issues/{id}/");
    for (body, field) in [
        (json!({"isPublic": true}), "isPublic"),
        (json!({"assignedTo": "nobody@example.com"}), "assignedTo"),
        (
            json!({"status": "resolved", "statusDetails": {"inRelease": "1.0"}}),
            "inRelease",
        ),
        (
            json!({"status": "resolved", "statusDetails": {"inNextRelease": true}}),
            "inNextRelease",
        ),
        (
            json!({"status": "ignored", "statusDetails": {"ignoreWindow": 60}}),
            "ignoreWindow",
        ),
        (
            json!({"status": "ignored", "statusDetails": {"ignoreCount": -1}}),
            "ignoreCount",
        ),
        (json!({"status": "sleeping"}), "status"),
        (json!({"status": "resolvedInNextRelease"}), "status"),
        (
            json!({"substatus": "archived_until_escalating"}),
            "substatus",
        ),
        (json!({"merge": 1}), "merge"),
        (json!({"hasSeen": "maybe"}), "hasSeen"),
    ] {
        let (status, _, answer) = h.api("PUT", &path, Some(body.clone())).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body} → {answer}");
        assert!(answer.get(field).is_some(), "{body} → {answer}");
    }
    let (_, _, issue) = h.get(&path).await;
    assert_eq!(
        issue["status"], "unresolved",
        "nothing of a refused update applies"
    );
}

#[tokio::test]
async fn ignore_until_more_events_comes_back_with_the_nth() {
    let h = Harness::new().await;
    let id = issue_of(&h, 1, "a", "u1").await;
    let path = format!("/api/0/issues/{id}/");
    let (status, _, body) = h
        .api(
            "PUT",
            &path,
            Some(json!({"status": "ignored", "statusDetails": {"ignoreCount": 2}})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "ignored");
    assert_eq!(body["substatus"], "archived_until_condition_met");
    assert_eq!(body["statusDetails"]["ignoreCount"], 2);
    ingest(&h, 2, &event("a", "u1")).await;
    assert_eq!(h.get(&path).await.2["status"], "ignored");
    ingest(&h, 3, &event("a", "u1")).await;
    let (_, _, body) = h.get(&path).await;
    assert_eq!(body["status"], "unresolved");
    let (_, _, activities) = h.get(&format!("/api/0/issues/{id}/activities/")).await;
    assert_eq!(kinds(&activities)[..2], ["set_unresolved", "set_ignored"]);
    assert_eq!(activities["activity"][1]["data"]["ignoreCount"], 2);

    // Ignored for a number of users, through the bulk endpoint.
    let bulk = format!("/api/0/projects/default/shop/issues/?id={id}");
    let (status, _, body) = h
        .api(
            "PUT",
            &bulk,
            Some(json!({"status": "ignored", "statusDetails": {"ignoreUserCount": 1}})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["statusDetails"]["ignoreUserCount"], 1);
    ingest(&h, 4, &event("a", "u1")).await;
    assert_eq!(h.get(&path).await.2["status"], "ignored", "a known user");
    ingest(&h, 5, &event("a", "u2")).await;
    assert_eq!(h.get(&path).await.2["status"], "unresolved", "a new user");
}

#[tokio::test]
async fn merge_moves_everything_to_the_issue_seen_most() {
    let h = Harness::new().await;
    let small = issue_of(&h, 1, "small", "u1").await;
    let big = issue_of(&h, 2, "big", "u2").await;
    ingest(&h, 3, &event("big", "u2")).await;
    let (status, _, body) = h
        .api(
            "PUT",
            &format!("/api/0/projects/default/shop/issues/?id={small}&id={big}"),
            Some(json!({"merge": 1})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["merge"], json!({"parent": big, "children": [small]}));
    h.expect_status(&format!("/api/0/issues/{small}/"), StatusCode::NOT_FOUND)
        .await;
    let (_, _, issue) = h.get(&format!("/api/0/issues/{big}/")).await;
    assert_eq!(issue["count"], "3");
    assert_eq!(issue["userCount"], 2);
    let (_, _, hashes) = h.get(&format!("/api/0/issues/{big}/hashes/")).await;
    assert_eq!(hashes.as_array().map(Vec::len), Some(2), "{hashes}");
    assert_eq!(
        issue_of(&h, 4, "small", "u3").await,
        big,
        "later events land on the primary"
    );
    let (_, _, activities) = h.get(&format!("/api/0/issues/{big}/activities/")).await;
    assert_eq!(activities["activity"][0]["type"], "merge");
    assert_eq!(activities["activity"][0]["data"]["issues"][0]["id"], small);

    // Unmerge the small issue's hash: its events go to a new issue, later ones follow.
    let small_hash = hashes
        .as_array()
        .expect("hashes")
        .iter()
        .find(|h| {
            h["latestEvent"]["title"]
                .as_str()
                .is_some_and(|t| t.contains("small"))
        })
        .and_then(|h| h["id"].as_str())
        .expect("the small hash with its latest event")
        .to_owned();
    let (status, _, body) = h
        .api(
            "PUT",
            &format!("/api/0/issues/{big}/hashes/?id={small_hash}"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let split = body["issues"][0].as_str().expect("new issue").to_owned();
    let (_, _, issue) = h.get(&format!("/api/0/issues/{split}/")).await;
    assert_eq!(issue["count"], "2", "the small hash's two events");
    assert_eq!(issue["activity"][0]["type"], "unmerge_destination");
    let (_, _, issue) = h.get(&format!("/api/0/issues/{big}/")).await;
    assert_eq!(issue["count"], "2");
    assert_eq!(issue["activity"][0]["type"], "unmerge_source");
    assert_eq!(issue_of(&h, 5, "small", "u4").await, split);
    let (status, _, body) = h
        .api(
            "PUT",
            &format!("/api/0/issues/{split}/hashes/?id={small_hash}"),
            None,
        )
        .await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "an issue keeps one hash: {body}"
    );
}

#[tokio::test]
async fn deleted_issues_are_gone_and_their_hash_starts_afresh() {
    let h = Harness::new().await;
    let one = issue_of(&h, 1, "a", "u1").await;
    let two = issue_of(&h, 2, "b", "u1").await;
    let (status, _, _) = h
        .api("DELETE", &format!("/api/0/issues/{one}/"), None)
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    h.expect_status(&format!("/api/0/issues/{one}/"), StatusCode::NOT_FOUND)
        .await;
    let (status, _, _) = h
        .api(
            "DELETE",
            &format!("/api/0/organizations/default/issues/?id={two}"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    h.expect_status(&format!("/api/0/issues/{two}/"), StatusCode::NOT_FOUND)
        .await;
    let again = issue_of(&h, 3, "a", "u1").await;
    assert_ne!(again, one);
    let (_, _, events) = h.get(&format!("/api/0/issues/{again}/events/")).await;
    assert_eq!(
        events.as_array().map(Vec::len),
        Some(1),
        "the old events went with it"
    );
}

#[tokio::test]
async fn notes_are_written_edited_deleted_and_mentions_are_emailed() {
    let h = Harness::new().await;
    let dev = h.member_of("default", "dev@example.com").await;
    let id = issue_of(&h, 1, "a", "u1").await;
    let notes = format!("/api/0/issues/{id}/comments/");
    let (status, _, note) = h
        .api(
            "POST",
            &notes,
            Some(json!({"text": "Looks like **the cache**, @dev@example.com?", "mentions": []})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{note}");
    assert_eq!(note["type"], "note");
    assert_eq!(
        note["data"]["text"],
        "Looks like **the cache**, @dev@example.com?"
    );
    assert_eq!(note["user"]["email"], common::ADMIN_EMAIL);
    let sent = h
        .store
        .list_notifications(h.project.id, 10)
        .await
        .expect("outbox");
    assert!(
        sent.iter().any(|n| n.target == dev.email
            && n.trigger == "mention"
            && n.payload["text"]
                .as_str()
                .is_some_and(|t| t.contains("the cache"))),
        "{sent:?}"
    );
    let (_, _, issue) = h.get(&format!("/api/0/issues/{id}/")).await;
    assert_eq!(issue["numComments"], 1);
    assert_eq!(issue["isSubscribed"], true, "commenting subscribes");

    let note_path = format!("{notes}{}/", note["id"].as_str().expect("id"));
    let (status, _, edited) = h
        .api(
            "PUT",
            &note_path,
            Some(json!({"text": "It was the cache."})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(edited["data"]["text"], "It was the cache.");
    let (_, _, list) = h.get(&notes).await;
    assert_eq!(list[0]["data"]["text"], "It was the cache.");

    for (body, field) in [
        (json!({"text": ""}), "text"),
        (
            json!({"text": "hi", "mentions": ["user:99999"]}),
            "mentions",
        ),
        (json!({"text": "hi", "color": "red"}), "color"),
    ] {
        let (status, _, answer) = h.api("POST", &notes, Some(body.clone())).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body} → {answer}");
        assert!(answer.get(field).is_some(), "{answer}");
    }

    let (status, _, _) = h.api("DELETE", &note_path, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, _, list) = h.get(&notes).await;
    assert_eq!(list, json!([]));
    let (status, _, _) = h.api("DELETE", &note_path, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_search_box_finds_issues_by_assignee_bookmark_and_review() {
    let h = Harness::new().await;
    let dev = h.member_of("default", "dev@example.com").await;
    let mine = issue_of(&h, 1, "mine", "u1").await;
    let devs = issue_of(&h, 2, "devs", "u2").await;
    let nobodys = issue_of(&h, 3, "nobodys", "u3").await;
    let reviewed = issue_of(&h, 4, "reviewed", "u4").await;
    let h = &h;
    let put = |id: &str, body: Value| {
        let path = format!("/api/0/issues/{id}/");
        async move {
            let (status, _, answer) = h.api("PUT", &path, Some(body)).await;
            assert_eq!(status, StatusCode::OK, "{answer}");
        }
    };
    // The harness's token is the admin's: `me`.
    put(&mine, json!({"assignedTo": common::ADMIN_EMAIL})).await;
    put(&devs, json!({"assignedTo": format!("user:{}", dev.id)})).await;
    put(&nobodys, json!({"isBookmarked": true})).await;
    put(&reviewed, json!({"inbox": false})).await;

    let search = |query: &'static str| async move {
        let (status, _, list) = h
            .get(&format!(
                "/api/0/projects/default/shop/issues/?query={}",
                url::form_urlencoded::byte_serialize(query.as_bytes()).collect::<String>()
            ))
            .await;
        assert_eq!(status, StatusCode::OK, "{query}: {list}");
        let mut ids: Vec<String> = list
            .as_array()
            .expect("a list")
            .iter()
            .map(|i| i["id"].as_str().unwrap_or_default().to_owned())
            .collect();
        ids.sort();
        ids
    };
    let sorted = |ids: &[&String]| {
        let mut ids: Vec<String> = ids.iter().map(|s| s.to_string()).collect();
        ids.sort();
        ids
    };
    assert_eq!(search("assigned:me").await, sorted(&[&mine]));
    assert_eq!(search("assigned:dev@example.com").await, sorted(&[&devs]));
    assert_eq!(
        search("assigned:[me, none]").await,
        sorted(&[&mine, &nobodys, &reviewed])
    );
    assert_eq!(
        search("!assigned:me").await,
        sorted(&[&devs, &nobodys, &reviewed])
    );
    assert_eq!(search("is:assigned").await, sorted(&[&mine, &devs]));
    assert_eq!(
        search("is:unassigned").await,
        sorted(&[&nobodys, &reviewed])
    );
    assert_eq!(search("bookmarks:me").await, sorted(&[&nobodys]));
    assert_eq!(search("is:bookmarked").await, sorted(&[&nobodys]));
    assert_eq!(
        search("bookmarks:dev@example.com").await,
        Vec::<String>::new()
    );
    // For review: not reviewed, and unassigned or assigned to the searcher.
    assert_eq!(search("is:for_review").await, sorted(&[&mine, &nobodys]));
    assert_eq!(search("!is:for_review").await, sorted(&[&devs, &reviewed]));
    for bad in ["assigned:my_teams", "bookmarks:none", "is:linked"] {
        let (status, _, body) = h
            .get(&format!(
                "/api/0/projects/default/shop/issues/?query={}",
                url::form_urlencoded::byte_serialize(bad.as_bytes()).collect::<String>()
            ))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
    }
}

#[tokio::test]
async fn changing_issues_needs_event_write() {
    let h = Harness::new().await;
    let id = issue_of(&h, 1, "a", "u1").await;
    let reader = h.member_of("default", "reader@example.com").await;
    let token = h
        .token_for(reader.id, &["org:read", "project:read", "event:read"])
        .await;
    let path = format!("/api/0/issues/{id}/");
    for (method, path, body) in [
        ("PUT", path.clone(), Some(json!({"status": "resolved"}))),
        ("DELETE", path.clone(), None),
        (
            "POST",
            format!("{path}comments/"),
            Some(json!({"text": "a note"})),
        ),
        (
            "PUT",
            format!("/api/0/projects/default/shop/issues/?id={id}"),
            Some(json!({"status": "resolved"})),
        ),
    ] {
        let (status, body) = h.call_as(&token, method, &path, body).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{method} {path}: {body}");
    }
    // Reading is allowed, and nothing changed.
    let (status, issue) = h.call_as(&token, "GET", &path, None).await;
    assert_eq!(status, StatusCode::OK, "{issue}");
    assert_eq!(issue["status"], "unresolved");
    let (_, _, notes) = h.get(&format!("{path}comments/")).await;
    assert_eq!(notes.as_array().map(Vec::len), Some(0), "{notes}");
}

#[tokio::test]
async fn sentry_clis_snooze_duration_is_an_ignore_duration() {
    let h = Harness::new().await;
    let id = issue_of(&h, 1, "a", "u1").await;
    let path = format!("/api/0/projects/default/shop/issues/?id={id}");
    // `sentry-cli issues mute`: no duration.
    let (status, _, body) = h
        .api(
            "PUT",
            &path,
            Some(json!({"status": "ignored", "snoozeDuration": null})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, _, issue) = h.get(&format!("/api/0/issues/{id}/")).await;
    assert_eq!(issue["status"], "ignored");
    assert_eq!(issue["statusDetails"], json!({}), "{issue}");
    // A duration in minutes snoozes, as statusDetails.ignoreDuration does.
    let (status, _, body) = h
        .api(
            "PUT",
            &format!("/api/0/issues/{id}/"),
            Some(json!({"status": "ignored", "snoozeDuration": 30})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, _, issue) = h.get(&format!("/api/0/issues/{id}/")).await;
    assert!(issue["statusDetails"]["ignoreUntil"].is_string(), "{issue}");
    let (status, _, body) = h
        .api(
            "PUT",
            &format!("/api/0/issues/{id}/"),
            Some(json!({"status": "ignored", "snoozeDuration": -5})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
}
