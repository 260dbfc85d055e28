//! Retention on SQLite: expired events go in bounded batches, and their issues count exactly
//! what remains (events, hours, tag values, users); issues left empty go with their hashes, and
//! a later event of such a hash starts a new issue.

use serde_json::json;
use tempfile::TempDir;
use vigil_store::sqlite::SqliteStore;
use vigil_store::{NewEvent, RetentionPass, Store};

const DAY: f64 = 86_400.0;
const NOW: f64 = 1_790_000_000.0;

fn event(project_id: i64, n: u32, hash: &str, at: f64, user: &str, browser: &str) -> NewEvent {
    let event_id = format!("{n:032x}");
    NewEvent {
        project_id,
        event_id: event_id.clone(),
        event_type: "error".into(),
        timestamp: at,
        received: at,
        level: "error".into(),
        platform: "python".into(),
        title: format!("Error {hash}"),
        culprit: "shop.views".into(),
        metadata: json!({}),
        hashes: vec![hash.to_owned()],
        environment: Some("production".into()),
        release: None,
        transaction: None,
        user_tag: Some(user.to_owned()),
        tags: vec![("browser".into(), browser.to_owned())],
        is_unhandled: false,
        message: String::new(),
        data: json!({"event_id": event_id, "message": format!("event {n} of {hash}")}),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_events_are_deleted_and_uncounted() {
    let dir = TempDir::new().expect("temp dir");
    let store = SqliteStore::open(&dir.path().join("vigil.sqlite3")).expect("open");
    let org = store.ensure_organization("acme").await.expect("org");
    let (project, _) = store
        .create_project(org.id, "shop", Some("python"))
        .await
        .expect("project");
    let old = NOW - 100.0 * DAY;
    let recent = NOW - DAY;
    let p = project.id;
    // Issue "a": three expired events (users u1, u2; Chrome twice, Firefox once), two recent
    // (u2 again; Chrome). Issue "b": only expired events.
    store
        .save_events(vec![
            event(p, 1, "a", old, "u1", "Chrome"),
            event(p, 2, "a", old + 1.0, "u2", "Chrome"),
            event(p, 3, "a", old + 2.0, "u1", "Firefox"),
            event(p, 4, "b", old + 3.0, "u3", "Safari"),
            event(p, 5, "b", old + 4.0, "u3", "Safari"),
        ])
        .await
        .expect("old events");
    store
        .save_events(vec![
            event(p, 6, "a", recent, "u2", "Chrome"),
            event(p, 7, "a", recent + 1.0, "u2", "Chrome"),
        ])
        .await
        .expect("recent events");
    let issue_a = store
        .event_by_id(p, &format!("{:032x}", 6))
        .await
        .unwrap()
        .unwrap()
        .issue_id
        .unwrap();
    let issue_b = store
        .event_by_id(p, &format!("{:032x}", 4))
        .await
        .unwrap()
        .unwrap()
        .issue_id
        .unwrap();

    // Batches of two until nothing is left to delete.
    let cutoff = NOW - 90.0 * DAY;
    let mut total = RetentionPass::default();
    let mut passes = 0;
    loop {
        let pass = store
            .delete_expired(cutoff, 2)
            .await
            .expect("retention pass");
        assert!(
            pass.events <= 2,
            "a pass deletes at most its limit: {pass:?}"
        );
        passes += 1;
        total.events += pass.events;
        total.issues += pass.issues;
        if pass.events == 0 {
            break;
        }
    }
    assert_eq!(
        passes, 4,
        "5 expired events in batches of 2, then an empty pass"
    );
    assert_eq!(total.events, 5);
    assert_eq!(total.issues, 1, "issue b had only expired events");

    for n in 1..=5u32 {
        assert!(
            store
                .event_by_id(p, &format!("{n:032x}"))
                .await
                .unwrap()
                .is_none(),
            "event {n}"
        );
    }
    for n in 6..=7u32 {
        assert!(
            store
                .event_by_id(p, &format!("{n:032x}"))
                .await
                .unwrap()
                .is_some(),
            "event {n}"
        );
    }
    let a = store
        .issue_by_id(issue_a)
        .await
        .unwrap()
        .expect("issue a stays");
    assert_eq!(a.times_seen, 2, "only the recent events count");
    assert_eq!(a.user_count, 1, "u1 had only expired events; u2 remains");
    let tags = store.issue_tag_values(issue_a).await.unwrap();
    let count = |key: &str, value: &str| {
        tags.iter()
            .find(|t| t.key == key && t.value == value)
            .map(|t| t.times_seen)
    };
    assert_eq!(count("browser", "Chrome"), Some(2));
    assert_eq!(count("browser", "Firefox"), None, "its only event expired");
    assert_eq!(count("environment", "production"), Some(2));
    let hours = store.issue_hourly_counts(&[issue_a], 0.0).await.unwrap();
    assert_eq!(hours.iter().map(|(_, _, n)| n).sum::<i64>(), 2);
    assert!(hours.iter().all(|(_, hour, _)| *hour as f64 >= cutoff));
    assert!(
        store.issue_by_id(issue_b).await.unwrap().is_none(),
        "issue b is deleted"
    );

    // A new event of b's hash makes a new issue, and reads back (its old reference is gone).
    let saved = store
        .save_events(vec![event(p, 8, "b", NOW, "u3", "Safari")])
        .await
        .expect("new event of an expired hash");
    assert!(saved[0].new_issue);
    assert_ne!(saved[0].issue_id, issue_b);
    let again = store
        .event_by_id(p, &format!("{:032x}", 8))
        .await
        .unwrap()
        .expect("stored");
    assert_eq!(again.data["message"], "event 8 of b");
    let b2 = store
        .issue_by_id(saved[0].issue_id)
        .await
        .unwrap()
        .expect("new issue");
    assert_eq!((b2.times_seen, b2.user_count), (1, 1));
}
