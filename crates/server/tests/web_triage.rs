//! Triage in the web UI, as a browser drives it: the assignee picker, notes with their
//! Markdown preview (raw HTML shown as text), the timeline, the list's views, merge from the
//! list and unmerge from the issue page.

mod common;

use common::page::{csrf_of, Session};
use common::{ingest, Harness};
use serde_json::json;
use vigil_store::prelude::*;

async fn issue_of(h: &Harness, n: u32, fingerprint: &str) -> i64 {
    let event = json!({"message": format!("boom {fingerprint}"), "level": "error",
                       "fingerprint": [fingerprint], "platform": "python"});
    let event_id = ingest(h, n, &event).await;
    h.store
        .event_by_id(h.project.id, &event_id)
        .await
        .expect("read")
        .and_then(|e| e.issue_id)
        .expect("grouped")
}

#[tokio::test]
async fn assign_note_and_views_from_the_issue_page() {
    let h = Harness::new().await;
    let dev = h.member_of("default", "dev@example.com").await;
    let id = issue_of(&h, 1, "a").await;
    let session = Session::admin(&h).await;
    let path = format!("/organizations/default/issues/{id}/");
    let page = session.shown(&path).await;
    assert!(page.body.contains("Unassigned"), "{}", page.body);
    let csrf = csrf_of(&page.body);

    let assignee = format!("user:{}", dev.id);
    let answer = session
        .post(
            &format!("{path}triage/"),
            &[("csrf", &csrf), ("assignedTo", &assignee)],
        )
        .await;
    assert!(answer.status.is_redirection(), "{}", answer.body);
    let answer = session
        .post(
            &format!("{path}triage/"),
            &[("csrf", &csrf), ("isBookmarked", "true")],
        )
        .await;
    assert!(answer.status.is_redirection(), "{}", answer.body);

    let draft = "Cache **stampede**, see [run](javascript:alert(1)) <script>alert(2)</script>";
    let preview = session
        .post(
            &format!("{path}notes/"),
            &[("csrf", &csrf), ("text", draft), ("action", "preview")],
        )
        .await;
    assert_eq!(preview.status, 200, "{}", preview.body);
    assert!(
        preview.body.contains("<strong>stampede</strong>"),
        "{}",
        preview.body
    );
    assert!(
        preview.body.contains("&lt;script&gt;alert(2)"),
        "{}",
        preview.body
    );
    assert!(
        !preview.body.contains("<script>alert(2)"),
        "raw HTML stays text"
    );
    assert!(
        !preview.body.to_lowercase().contains("href=\"javascript:"),
        "no script links"
    );
    assert!(preview.body.contains("href=\"#\""), "{}", preview.body);
    assert!(h
        .store
        .issue_activities(id)
        .await
        .expect("read")
        .iter()
        .all(|a| a.kind != "note"));

    let saved = session
        .post(
            &format!("{path}notes/"),
            &[("csrf", &csrf), ("text", draft), ("action", "save")],
        )
        .await;
    assert!(saved.status.is_redirection(), "{}", saved.body);
    let page = session.shown(&path).await;
    assert!(
        page.body.contains("assigned this issue to dev@example.com"),
        "{}",
        page.body
    );
    assert!(page.body.contains("left a note"));
    assert!(page.body.contains("<strong>stampede</strong>"));
    assert!(page.body.contains("Remove bookmark"));

    let list = |view: &str| format!("/organizations/default/issues/?view={view}&query=");
    let assigned_to_me = session.shown(&list("assigned")).await;
    assert!(
        assigned_to_me.body.contains("No issues match"),
        "assigned to dev, not the admin"
    );
    let bookmarks = session.shown(&list("bookmarks")).await;
    assert!(bookmarks.body.contains("boom a"), "{}", bookmarks.body);
    let dev_session = Session::login(&h, "dev@example.com").await;
    let mine = dev_session.shown(&list("assigned")).await;
    assert!(mine.body.contains("boom a"), "{}", mine.body);
}

#[tokio::test]
async fn merge_from_the_list_and_unmerge_from_the_issue_page() {
    let h = Harness::new().await;
    let one = issue_of(&h, 1, "a").await;
    let two = issue_of(&h, 2, "b").await;
    ingest(
        &h,
        3,
        &json!({"message": "boom b", "fingerprint": ["b"], "platform": "python"}),
    )
    .await;
    let session = Session::admin(&h).await;
    let list = session.shown("/organizations/default/issues/").await;
    let csrf = csrf_of(&list.body);
    let (one_id, two_id) = (one.to_string(), two.to_string());
    let answer = session
        .post(
            "/organizations/default/issues/bulk/",
            &[
                ("csrf", &csrf),
                ("id", &one_id),
                ("id", &two_id),
                ("action", "merge"),
            ],
        )
        .await;
    assert!(answer.status.is_redirection(), "{}", answer.body);
    assert!(
        h.store.issue_by_id(one).await.expect("read").is_none(),
        "merged into two"
    );
    let merged = h
        .store
        .issue_by_id(two)
        .await
        .expect("read")
        .expect("primary");
    assert_eq!(merged.times_seen, 3);

    let path = format!("/organizations/default/issues/{two}/");
    let page = session.shown(&path).await;
    assert!(page.body.contains("Grouping hashes"), "{}", page.body);
    let hashes = h.store.issue_hashes(two).await.expect("hashes");
    let csrf = csrf_of(&page.body);
    let answer = session
        .post(
            &format!("{path}unmerge/"),
            &[("csrf", &csrf), ("hash", &hashes[0])],
        )
        .await;
    assert!(answer.status.is_redirection(), "{}", answer.body);
    let target = answer.location().to_owned();
    assert!(target.contains("/issues/"), "{target}");
    let page = session.shown(&target).await;
    assert!(
        page.body.contains("unmerged a hash from issue"),
        "{}",
        page.body
    );
    let left = h
        .store
        .issue_by_id(two)
        .await
        .expect("read")
        .expect("still there");
    let split: i64 = target
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .and_then(|id| id.parse().ok())
        .expect("the new issue's id");
    let split = h
        .store
        .issue_by_id(split)
        .await
        .expect("read")
        .expect("new issue");
    assert_eq!(left.times_seen + split.times_seen, 3, "{left:?} {split:?}");
    assert_eq!(h.store.issue_hashes(two).await.expect("hashes").len(), 1);
}
