//! The `Store` contract of event attachments and user reports, on both backends: kept by the
//! event id they name (before or after the event), listed by event and issue, stored once per
//! item key, deleted one by one and by retention.

mod common;

use common::{error_event, event_id, project, project_named, save_one};
use vigil_store::prelude::*;
use vigil_store::{IssueStatus, NewAttachment, NewEvent, NewUserReport, StoreError};

common::suite_on_both_backends!(
    attachments_are_kept_by_event_and_listed_without_bytes,
    attachments_of_one_item_key_are_stored_once,
    an_attachment_is_deleted_alone,
    issue_attachments_follow_the_events_of_the_issue,
    a_report_before_its_event_links_when_the_event_arrives,
    project_reports_leave_out_resolved_issues_unless_asked,
    a_second_posted_report_replaces_the_first_within_five_minutes,
    retention_deletes_attachments_and_reports_with_their_time,
);

const AT: f64 = 1_700_000_000.0;

fn attachment(project_id: i64, event: &str, name: &str, bytes: &[u8], key: &str) -> NewAttachment {
    NewAttachment {
        project_id,
        event_id: event.into(),
        name: name.into(),
        content_type: "text/plain".into(),
        attachment_type: "event.attachment".into(),
        sha1: format!("sha1-of-{name}"),
        received: AT,
        payload: bytes.to_vec(),
        dedup_key: Some(key.into()),
    }
}

fn report(project_id: i64, event: &str, comments: &str, received: f64) -> NewUserReport {
    NewUserReport {
        project_id,
        event_id: event.into(),
        name: "Jane".into(),
        email: "jane@example.com".into(),
        comments: comments.into(),
        received,
        dedup_key: None,
    }
}

/// An error event of its own issue (by `hash`).
fn hashed_event(project_id: i64, n: u32, hash: &str) -> NewEvent {
    let mut event = error_event(project_id, event_id(n), AT);
    event.hashes = vec![hash.into()];
    event
}

async fn attachments_are_kept_by_event_and_listed_without_bytes(store: &dyn Store) {
    let (_, shop) = project(store, "acme").await;
    let (_, api) = project_named(store, "acme", "api").await;
    let event = event_id(1);
    store
        .save_attachments(vec![
            attachment(shop, &event, "a.txt", b"hello", "q1:1"),
            attachment(shop, &event, "b.log", b"second file", "q1:2"),
            attachment(api, &event, "other.txt", b"x", "q1:1"),
        ])
        .await
        .unwrap();
    let listed = store.event_attachments(shop, &event).await.unwrap();
    let names: Vec<(&str, i64)> = listed.iter().map(|a| (a.name.as_str(), a.size)).collect();
    assert_eq!(names, [("a.txt", 5), ("b.log", 11)]);
    assert_eq!(listed[0].sha1, "sha1-of-a.txt");
    assert_eq!(listed[0].content_type, "text/plain");
    let one = store
        .event_attachment(shop, &event, listed[1].id)
        .await
        .unwrap()
        .expect("the second attachment");
    assert_eq!(one, listed[1]);
    let bytes = store
        .attachment_payload(shop, &event, listed[1].id)
        .await
        .unwrap();
    assert_eq!(bytes.as_deref(), Some(&b"second file"[..]));
    // Another project's attachment is not found through this one, nor under another event.
    let other = store.event_attachments(api, &event).await.unwrap();
    assert_eq!(other.len(), 1);
    assert_eq!(
        store
            .attachment_payload(shop, &event, other[0].id)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .event_attachment(shop, &event_id(2), listed[0].id)
            .await
            .unwrap(),
        None
    );
}

async fn attachments_of_one_item_key_are_stored_once(store: &dyn Store) {
    let (_, shop) = project(store, "acme").await;
    let event = event_id(1);
    for _ in 0..2 {
        store
            .save_attachments(vec![attachment(shop, &event, "a.txt", b"hello", "q1:1")])
            .await
            .unwrap();
    }
    assert_eq!(
        store.event_attachments(shop, &event).await.unwrap().len(),
        1
    );
}

async fn an_attachment_is_deleted_alone(store: &dyn Store) {
    let (_, shop) = project(store, "acme").await;
    let event = event_id(1);
    store
        .save_attachments(vec![
            attachment(shop, &event, "a.txt", b"1", "q:1"),
            attachment(shop, &event, "b.txt", b"2", "q:2"),
        ])
        .await
        .unwrap();
    let listed = store.event_attachments(shop, &event).await.unwrap();
    assert!(store
        .delete_attachment(shop, &event, listed[0].id)
        .await
        .unwrap());
    assert!(!store
        .delete_attachment(shop, &event, listed[0].id)
        .await
        .unwrap());
    let left = store.event_attachments(shop, &event).await.unwrap();
    assert_eq!(left, listed[1..]);
}

async fn issue_attachments_follow_the_events_of_the_issue(store: &dyn Store) {
    let (_, shop) = project(store, "acme").await;
    let first = save_one(store, hashed_event(shop, 1, "a")).await[0].issue_id;
    let other = save_one(store, hashed_event(shop, 2, "b")).await[0].issue_id;
    assert_ne!(first, other);
    store
        .save_attachments(vec![
            attachment(shop, &event_id(1), "one.txt", b"1", "q:1"),
            attachment(shop, &event_id(2), "two.txt", b"2", "q:2"),
            // Its event is not stored (yet): on no issue.
            attachment(shop, &event_id(3), "three.txt", b"3", "q:3"),
        ])
        .await
        .unwrap();
    let of_first = store.issue_attachments(shop, first, 10).await.unwrap();
    assert_eq!(of_first.len(), 1);
    assert_eq!(of_first[0].name, "one.txt");
    // The event arrives after its attachment: the attachment is the issue's from then on.
    save_one(store, hashed_event(shop, 3, "a")).await;
    let names: Vec<String> = store
        .issue_attachments(shop, first, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.name)
        .collect();
    assert_eq!(names, ["three.txt", "one.txt"], "newest first");
    assert_eq!(
        store.issue_attachments(shop, first, 1).await.unwrap().len(),
        1
    );
}

async fn a_report_before_its_event_links_when_the_event_arrives(store: &dyn Store) {
    let (_, shop) = project(store, "acme").await;
    let mut early = report(shop, &event_id(1), "it broke", AT);
    early.dedup_key = Some("q:0".into());
    store
        .save_user_reports(vec![early.clone(), early])
        .await
        .unwrap();
    let listed = store.event_user_reports(shop, &event_id(1)).await.unwrap();
    assert_eq!(listed.len(), 1, "one item key is stored once");
    assert_eq!(listed[0].issue_id, None);
    assert_eq!(listed[0].comments, "it broke");
    let issue = save_one(store, hashed_event(shop, 1, "a")).await[0].issue_id;
    let on_issue = store.issue_user_reports(shop, issue, 0, 10).await.unwrap();
    assert_eq!(on_issue.len(), 1);
    assert_eq!(on_issue[0].issue_id, Some(issue));
    assert_eq!(on_issue[0].name, "Jane");
    assert_eq!(on_issue[0].email, "jane@example.com");
    // Another issue has none.
    let other = save_one(store, hashed_event(shop, 2, "b")).await[0].issue_id;
    assert!(store
        .issue_user_reports(shop, other, 0, 10)
        .await
        .unwrap()
        .is_empty());
}

async fn project_reports_leave_out_resolved_issues_unless_asked(store: &dyn Store) {
    let (_, shop) = project(store, "acme").await;
    let resolved = save_one(store, hashed_event(shop, 1, "a")).await[0].issue_id;
    save_one(store, hashed_event(shop, 2, "b")).await;
    store
        .save_user_reports(vec![
            report(shop, &event_id(1), "on the resolved one", AT),
            report(shop, &event_id(2), "on the open one", AT + 1.0),
            report(shop, &event_id(3), "no event yet", AT + 2.0),
        ])
        .await
        .unwrap();
    common::set_status(store, resolved, IssueStatus::Resolved).await;
    let comments = |reports: Vec<vigil_store::UserReport>| -> Vec<String> {
        reports.into_iter().map(|r| r.comments).collect()
    };
    assert_eq!(
        comments(store.project_user_reports(shop, true, 0, 10).await.unwrap()),
        ["no event yet", "on the open one"]
    );
    assert_eq!(
        comments(
            store
                .project_user_reports(shop, false, 0, 10)
                .await
                .unwrap()
        ),
        ["no event yet", "on the open one", "on the resolved one"]
    );
    assert_eq!(
        comments(store.project_user_reports(shop, false, 1, 1).await.unwrap()),
        ["on the open one"]
    );
}

async fn a_second_posted_report_replaces_the_first_within_five_minutes(store: &dyn Store) {
    let (_, shop) = project(store, "acme").await;
    let first = store
        .submit_user_report(report(shop, &event_id(1), "first", AT))
        .await
        .unwrap();
    let second = store
        .submit_user_report(report(shop, &event_id(1), "second", AT + 60.0))
        .await
        .unwrap();
    assert_eq!(second.id, first.id);
    assert_eq!(second.comments, "second");
    assert_eq!(
        store
            .event_user_reports(shop, &event_id(1))
            .await
            .unwrap()
            .len(),
        1
    );
    let late = store
        .submit_user_report(report(shop, &event_id(1), "too late", AT + 60.0 + 301.0))
        .await;
    assert!(matches!(late, Err(StoreError::Conflict(_))), "{late:?}");
}

async fn retention_deletes_attachments_and_reports_with_their_time(store: &dyn Store) {
    let (_, shop) = project(store, "acme").await;
    let mut old = attachment(shop, &event_id(1), "old.txt", b"1", "q:1");
    old.received = AT - 100.0;
    let new = attachment(shop, &event_id(2), "new.txt", b"2", "q:2");
    store.save_attachments(vec![old, new]).await.unwrap();
    store
        .save_user_reports(vec![
            report(shop, &event_id(1), "old", AT - 100.0),
            report(shop, &event_id(2), "new", AT),
        ])
        .await
        .unwrap();
    let pass = store.delete_expired(AT - 10.0, 1000).await.unwrap();
    assert_eq!((pass.attachments, pass.user_reports), (1, 1));
    assert!(store
        .event_attachments(shop, &event_id(1))
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        store
            .event_attachments(shop, &event_id(2))
            .await
            .unwrap()
            .len(),
        1
    );
    assert!(store
        .event_user_reports(shop, &event_id(1))
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        store
            .event_user_reports(shop, &event_id(2))
            .await
            .unwrap()
            .len(),
        1
    );
}
