//! Triage on both backends: ignore conditions lifted by ingest, merge, delete, the per-user
//! marks and the list filters built on them, activities.

mod common;

use common::{event_id, project, save_one, stored_issue};
use serde_json::json;
use vigil_store::{IssueQuery, IssueStatus, NewEvent, Snooze, Store};

fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs_f64()
}

/// Event `n` of `project_id` with grouping hash `hash` and user `user`, a second old.
fn event(project_id: i64, n: u32, hash: &str, user: Option<&str>) -> NewEvent {
    NewEvent {
        hashes: vec![hash.to_owned()],
        user_tag: user.map(str::to_owned),
        // Processing keeps the hashes in the event, where unmerge finds them.
        data: json!({"event_id": event_id(n), "hashes": [hash]}).into(),
        ..common::error_event(project_id, event_id(n), now() - 1.0)
    }
}

async fn issue_of(
    store: &dyn Store,
    project_id: i64,
    n: u32,
    hash: &str,
    user: Option<&str>,
) -> i64 {
    save_one(store, event(project_id, n, hash, user)).await[0].issue_id
}

async fn ignore_until_n_more_events_lifts_at_the_nth(store: &dyn Store) {
    let (_, p) = project(store, "acme").await;
    let id = issue_of(store, p, 1, "a", None).await;
    let snooze = Snooze {
        count: Some(2),
        ..Snooze::default()
    };
    assert!(store
        .ignore_issue(id, "archived_until_condition_met", &snooze)
        .await
        .unwrap());
    let triage = store.issue_triage(id, None).await.unwrap().unwrap();
    assert_eq!(triage.snooze.count, Some(2));
    assert_eq!(triage.snooze_times_seen, Some(1));
    save_one(store, event(p, 2, "a", None)).await;
    assert_eq!(stored_issue(store, id).await.status, IssueStatus::Ignored);
    let saved = save_one(store, event(p, 3, "a", None)).await;
    assert!(
        saved[0].reappeared,
        "the event that met the condition made it reappear"
    );
    let issue = stored_issue(store, id).await;
    assert_eq!(issue.status, IssueStatus::Unresolved);
    assert_eq!(issue.substatus, "ongoing");
    let triage = store.issue_triage(id, None).await.unwrap().unwrap();
    assert_eq!(
        triage.snooze,
        Snooze::default(),
        "the conditions end with the ignore"
    );
    let activities = store.issue_activities(id).await.unwrap();
    assert_eq!(activities[0].kind, "set_unresolved");
    assert_eq!(activities[0].user_id, None);
    assert_eq!(activities[0].data["event_id"], event_id(3));
    let again = save_one(store, event(p, 3, "a", None)).await;
    assert!(
        again[0].duplicate && again[0].reappeared,
        "a duplicate reports the same"
    );
}

async fn ignore_until_n_more_users_counts_distinct_users(store: &dyn Store) {
    let (_, p) = project(store, "acme").await;
    let id = issue_of(store, p, 1, "a", Some("id:1")).await;
    let snooze = Snooze {
        user_count: Some(2),
        ..Snooze::default()
    };
    store
        .ignore_issue(id, "archived_until_condition_met", &snooze)
        .await
        .unwrap();
    save_one(store, event(p, 2, "a", Some("id:1"))).await;
    save_one(store, event(p, 3, "a", Some("id:2"))).await;
    assert_eq!(
        stored_issue(store, id).await.status,
        IssueStatus::Ignored,
        "one new user"
    );
    save_one(store, event(p, 4, "a", Some("id:2"))).await;
    assert_eq!(
        stored_issue(store, id).await.status,
        IssueStatus::Ignored,
        "same user again"
    );
    save_one(store, event(p, 5, "a", Some("id:3"))).await;
    assert_eq!(
        stored_issue(store, id).await.status,
        IssueStatus::Unresolved
    );
}

async fn ignore_windows_count_the_recent_events_and_users(store: &dyn Store) {
    let (_, p) = project(store, "acme").await;
    let events = issue_of(store, p, 1, "a", Some("id:1")).await;
    let users = issue_of(store, p, 2, "b", Some("id:1")).await;
    let by_events = Snooze {
        count: Some(3),
        window: Some(60),
        ..Snooze::default()
    };
    let by_users = Snooze {
        user_count: Some(2),
        user_window: Some(60),
        ..Snooze::default()
    };
    store
        .ignore_issue(events, "archived_until_condition_met", &by_events)
        .await
        .unwrap();
    store
        .ignore_issue(users, "archived_until_condition_met", &by_users)
        .await
        .unwrap();
    // Within the last hour: the first event counts too (two of three events, one of two users).
    save_one(store, event(p, 3, "a", Some("id:1"))).await;
    save_one(store, event(p, 4, "b", Some("id:1"))).await;
    assert_eq!(
        stored_issue(store, events).await.status,
        IssueStatus::Ignored
    );
    assert_eq!(
        stored_issue(store, users).await.status,
        IssueStatus::Ignored
    );
    save_one(store, event(p, 5, "a", Some("id:1"))).await;
    save_one(store, event(p, 6, "b", Some("id:2"))).await;
    assert_eq!(
        stored_issue(store, events).await.status,
        IssueStatus::Unresolved
    );
    assert_eq!(
        stored_issue(store, users).await.status,
        IssueStatus::Unresolved
    );
}

async fn status_by_hand_ends_the_conditions(store: &dyn Store) {
    let (_, p) = project(store, "acme").await;
    let id = issue_of(store, p, 1, "a", None).await;
    let snooze = Snooze {
        count: Some(1),
        ..Snooze::default()
    };
    store
        .ignore_issue(id, "archived_until_condition_met", &snooze)
        .await
        .unwrap();
    store
        .set_issue_status(id, IssueStatus::Ignored)
        .await
        .unwrap();
    save_one(store, event(p, 2, "a", None)).await;
    assert_eq!(
        stored_issue(store, id).await.status,
        IssueStatus::Ignored,
        "ignored forever now"
    );
}

async fn merge_moves_events_hashes_and_counts_to_the_primary(store: &dyn Store) {
    let (_, p) = project(store, "acme").await;
    let primary = issue_of(store, p, 1, "a", Some("id:1")).await;
    save_one(store, event(p, 2, "a", Some("id:1"))).await;
    let child = issue_of(store, p, 3, "b", Some("id:2")).await;
    store
        .add_activity(child, "note", &json!({"text": "hi"}), None)
        .await
        .unwrap();
    store.merge_issues(primary, &[child]).await.unwrap();
    assert!(store.issue_by_id(child).await.unwrap().is_none());
    let merged = stored_issue(store, primary).await;
    assert_eq!((merged.times_seen, merged.user_count), (3, 2));
    assert_eq!(store.issue_hashes(primary).await.unwrap(), vec!["a", "b"]);
    let tags = store.issue_tag_values(primary).await.unwrap();
    assert!(
        tags.iter().all(|t| t.times_seen == 3 || t.key == "user"),
        "{tags:?}"
    );
    assert!(store
        .issue_activities(primary)
        .await
        .unwrap()
        .iter()
        .any(|a| a.kind == "note"));
    let later = save_one(store, event(p, 4, "b", Some("id:3"))).await;
    assert_eq!(
        later[0].issue_id, primary,
        "a later event of the child's hash"
    );
    let merged = stored_issue(store, primary).await;
    assert_eq!((merged.times_seen, merged.user_count), (4, 3));
}

async fn unmerge_moves_a_hash_with_its_events_and_counts_to_a_new_issue(store: &dyn Store) {
    let (_, p) = project(store, "acme").await;
    let primary = issue_of(store, p, 1, "a", Some("id:1")).await;
    save_one(store, event(p, 2, "a", Some("id:1"))).await;
    let child = issue_of(store, p, 3, "b", Some("id:2")).await;
    store.merge_issues(primary, &[child]).await.unwrap();
    assert!(
        store.unmerge_hash(primary, "zz").await.unwrap().is_none(),
        "not its hash"
    );
    let split = store
        .unmerge_hash(primary, "b")
        .await
        .unwrap()
        .expect("unmerged");
    assert_ne!(split, primary);
    let (kept, moved) = (
        stored_issue(store, primary).await,
        stored_issue(store, split).await,
    );
    assert_eq!((kept.times_seen, kept.user_count), (2, 1));
    assert_eq!((moved.times_seen, moved.user_count), (1, 1));
    assert_ne!(kept.short_id, moved.short_id);
    assert_eq!(store.issue_hashes(primary).await.unwrap(), vec!["a"]);
    assert_eq!(store.issue_hashes(split).await.unwrap(), vec!["b"]);
    let moved_events = store.issue_events(split, 0, 10).await.unwrap();
    assert_eq!(moved_events.len(), 1);
    assert_eq!(moved_events[0].event_id, event_id(3));
    let kept_tags = store.issue_tag_values(primary).await.unwrap();
    assert!(
        kept_tags
            .iter()
            .all(|t| t.times_seen == 2 || t.key == "user"),
        "{kept_tags:?}"
    );
    let later = save_one(store, event(p, 4, "b", None)).await;
    assert_eq!(
        later[0].issue_id, split,
        "later events of the hash land on its new issue"
    );
    assert!(
        matches!(
            store.unmerge_hash(split, "b").await,
            Err(vigil_store::StoreError::Invalid(_))
        ),
        "an issue keeps its only hash"
    );
}

async fn deleted_issue_goes_and_its_hash_makes_a_new_one(store: &dyn Store) {
    let (_, p) = project(store, "acme").await;
    let id = issue_of(store, p, 1, "a", None).await;
    store
        .add_activity(id, "note", &json!({"text": "x"}), None)
        .await
        .unwrap();
    assert!(store.delete_issue(id).await.unwrap());
    assert!(store.issue_by_id(id).await.unwrap().is_none());
    assert!(store.event_by_id(p, &event_id(1)).await.unwrap().is_none());
    assert!(store.issue_activities(id).await.unwrap().is_empty());
    let again = issue_of(store, p, 2, "a", None).await;
    assert!(again > id, "a new issue, never the deleted one's id");
    assert!(!store.delete_issue(id).await.unwrap());
}

async fn marks_are_per_user_and_filter_the_list(store: &dyn Store) {
    let (org, p) = project(store, "acme").await;
    let alice = common::user(store, "alice@example.com", "x", false).await;
    let bob = common::user(store, "bob@example.com", "x", false).await;
    let one = issue_of(store, p, 1, "a", None).await;
    let two = issue_of(store, p, 2, "b", None).await;
    store.set_assignee(one, Some(alice.id)).await.unwrap();
    store.set_bookmark(two, alice.id, true).await.unwrap();
    store
        .set_seen(two, alice.id, Some(now() + 10.0))
        .await
        .unwrap();
    store
        .set_subscription(two, alice.id, false, "unknown", false)
        .await
        .unwrap();
    store
        .set_subscription(two, alice.id, true, "commented", true)
        .await
        .unwrap();
    let alices = store
        .issue_triage(two, Some(alice.id))
        .await
        .unwrap()
        .unwrap();
    assert!(alices.bookmarked && alices.seen_at.is_some());
    assert_eq!(
        alices.subscribed,
        Some(false),
        "participating does not undo an unsubscribe"
    );
    let bobs = store
        .issue_triage(two, Some(bob.id))
        .await
        .unwrap()
        .unwrap();
    assert!(!bobs.bookmarked && bobs.seen_at.is_none() && bobs.subscribed.is_none());
    store
        .set_subscription(two, bob.id, true, "commented", true)
        .await
        .unwrap();
    let bobs = store
        .issue_triage(two, Some(bob.id))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (bobs.subscribed, bobs.subscription_reason.as_deref()),
        (Some(true), Some("commented"))
    );

    let ids = |query: IssueQuery| async move {
        let issues = store.search_issues(&query).await.unwrap();
        let mut ids: Vec<i64> = issues.iter().map(|i| i.id).collect();
        ids.sort_unstable();
        ids
    };
    let base = IssueQuery {
        organization_id: org,
        limit: 10,
        ..IssueQuery::default()
    };
    let assigned = IssueQuery {
        assigned_to: Some(alice.id),
        ..base.clone()
    };
    assert_eq!(ids(assigned).await, vec![one]);
    let bookmarks = IssueQuery {
        bookmarked_by: Some(alice.id),
        ..base.clone()
    };
    assert_eq!(ids(bookmarks).await, vec![two]);
    let for_bob = IssueQuery {
        for_review_by: Some(bob.id),
        ..base.clone()
    };
    assert_eq!(ids(for_bob.clone()).await, vec![two], "one is alice's");
    store.set_reviewed(two, Some(now())).await.unwrap();
    assert!(ids(for_bob).await.is_empty());
    let for_alice = IssueQuery {
        for_review_by: Some(alice.id),
        ..base.clone()
    };
    assert_eq!(ids(for_alice).await, vec![one]);
    store.set_assignee(one, None).await.unwrap();
    assert_eq!(
        store
            .issue_triage(one, None)
            .await
            .unwrap()
            .unwrap()
            .assignee_id,
        None
    );
}

async fn notes_are_activities_that_can_be_edited_and_deleted(store: &dyn Store) {
    let (_, p) = project(store, "acme").await;
    let id = issue_of(store, p, 1, "a", None).await;
    let note = store
        .add_activity(id, "note", &json!({"text": "first"}), None)
        .await
        .unwrap();
    assert_eq!(note.data, json!({"text": "first"}));
    let edited = store
        .update_activity_data(note.id, &json!({"text": "second"}))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(edited.data["text"], "second");
    assert_eq!(
        store.activity_by_id(note.id).await.unwrap().unwrap().data["text"],
        "second"
    );
    assert!(store.delete_activity(note.id).await.unwrap());
    assert!(store.activity_by_id(note.id).await.unwrap().is_none());
    assert!(!store.delete_activity(note.id).await.unwrap());
}

common::suite_on_both_backends!(
    ignore_until_n_more_events_lifts_at_the_nth,
    ignore_until_n_more_users_counts_distinct_users,
    ignore_windows_count_the_recent_events_and_users,
    status_by_hand_ends_the_conditions,
    merge_moves_events_hashes_and_counts_to_the_primary,
    unmerge_moves_a_hash_with_its_events_and_counts_to_a_new_issue,
    deleted_issue_goes_and_its_hash_makes_a_new_one,
    marks_are_per_user_and_filter_the_list,
    notes_are_activities_that_can_be_edited_and_deleted,
);
