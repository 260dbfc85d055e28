//! Events compressed against their hash's reference event (SQLite): every event reads back
//! exactly, whether it brought the reference, followed it in the same batch, came in a later
//! batch, or after the store was opened again; and the events that follow a reference take a
//! fraction of the space.

use serde_json::{json, Value};
use tempfile::TempDir;
use vigil_store::prelude::*;
use vigil_store::sqlite::SqliteStore;
use vigil_store::NewEvent;

const T0: f64 = 1_767_225_600.0;

/// A realistic event body: a stack trace and request that are the same for every event of
/// `hash`, and what varies per event (id, time, a local, a breadcrumb).
fn event(project_id: i64, n: u32, hash: &str) -> NewEvent {
    let event_id = format!("{n:032x}");
    let frames: Vec<Value> = (0..30)
        .map(|i| {
            json!({
                "filename": format!("shop/module_{i}.py"),
                "function": format!("handler_{i}_{hash}"),
                "lineno": 100 + i,
                "context_line": format!("    result = compute_{i}(request, order_id)"),
                "pre_context": ["def view(request):", "    order_id = request.GET['id']"],
                "vars": {"order_id": format!("'{}'", n * 7 + i), "request": "<WSGIRequest>"},
                "in_app": i % 3 == 0,
            })
        })
        .collect();
    let data = json!({
        "event_id": event_id,
        "timestamp": T0 + f64::from(n),
        "platform": "python",
        "exception": {"values": [{"type": "ZeroDivisionError", "value": "division by zero",
                                  "stacktrace": {"frames": frames}}]},
        "request": {"url": "https://shop.example/checkout", "method": "POST",
                    "headers": {"User-Agent": "Mozilla/5.0", "Accept": "*/*"}},
        "breadcrumbs": {"values": [{"category": "query", "message": format!("SELECT * FROM orders WHERE id = {n}")}]},
        "sdk": {"name": "sentry.python.django", "version": "2.75.0"},
    });
    NewEvent {
        project_id,
        event_id,
        event_type: "error".into(),
        timestamp: T0 + f64::from(n),
        received: T0 + f64::from(n) + 0.5,
        level: "error".into(),
        platform: "python".into(),
        title: "ZeroDivisionError: division by zero".into(),
        culprit: "shop.views in checkout".into(),
        metadata: json!({"type": "ZeroDivisionError"}),
        hashes: vec![hash.to_owned()],
        environment: Some("production".into()),
        release: None,
        transaction: None,
        user_tag: None,
        trace_id: None,
        tags: vec![("environment".into(), "production".into())],
        is_unhandled: true,
        message: String::new(),
        data: data.into(),
    }
}

fn stored_bytes(path: &std::path::Path, sql: &str) -> i64 {
    let conn = rusqlite::Connection::open(path).expect("open");
    conn.query_row(sql, [], |row| row.get(0)).expect("query")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_compressed_against_references_read_back_exactly() {
    let dir = TempDir::new().expect("temp dir");
    let path = dir.path().join("vigil.sqlite3");
    let store = SqliteStore::open(&path).expect("open");
    let org = store.ensure_organization("acme").await.expect("org");
    let (project, _) = store
        .create_project(org.id, "shop", Some("python"))
        .await
        .expect("project");

    // First batch: hash "a" is new and brings three events (the first becomes the reference,
    // the other two follow it inside the batch); hash "b" one event.
    let mut expected = Vec::new();
    let first: Vec<NewEvent> = vec![
        event(project.id, 1, "a"),
        event(project.id, 2, "a"),
        event(project.id, 3, "b"),
        event(project.id, 4, "a"),
    ];
    expected.extend(first.iter().map(|e| (e.event_id.clone(), e.data.clone())));
    store.save_events(first).await.expect("first batch");
    // Later batches follow the stored references.
    for batch in 0..4u32 {
        let events: Vec<NewEvent> = (0..25u32)
            .map(|i| {
                event(
                    project.id,
                    100 + batch * 25 + i,
                    if i % 2 == 0 { "a" } else { "b" },
                )
            })
            .collect();
        expected.extend(events.iter().map(|e| (e.event_id.clone(), e.data.clone())));
        store.save_events(events).await.expect("later batch");
    }

    for (event_id, data) in &expected {
        let stored = store
            .event_by_id(project.id, event_id)
            .await
            .expect("read")
            .expect("stored");
        assert_eq!(stored.data, data.to_value(), "event {event_id}");
    }
    // A list of one issue's events decodes them all (one reference loaded for many rows).
    let issue_id = store
        .event_by_id(project.id, &expected[0].0)
        .await
        .expect("read")
        .expect("stored")
        .issue_id;
    let listed = store
        .issue_events(issue_id.expect("grouped"), 0, 1000)
        .await
        .expect("list");
    assert_eq!(listed.len(), 3 + 4 * 13, "the events of hash a");
    assert!(listed.iter().all(|e| !e.data.is_null()));

    // Opened again, with nothing in memory, events still decode and new ones use the stored
    // references rather than making new ones.
    drop(store);
    let store = SqliteStore::open(&path).expect("reopen");
    store
        .save_events(vec![event(project.id, 999, "a")])
        .await
        .expect("after reopen");
    let again = store
        .event_by_id(project.id, &format!("{:032x}", 999))
        .await
        .expect("read")
        .expect("stored");
    assert_eq!(again.data, event(project.id, 999, "a").data.to_value());
    drop(store);

    assert_eq!(
        stored_bytes(&path, "SELECT count(*) FROM event_references"),
        2,
        "one reference per hash"
    );
    assert_eq!(
        stored_bytes(
            &path,
            "SELECT count(*) FROM events WHERE reference_id IS NULL"
        ),
        0
    );
    let followers = stored_bytes(
        &path,
        "SELECT CAST(avg(length(data)) AS INTEGER) FROM events e
         WHERE e.id NOT IN (SELECT min(id) FROM events GROUP BY reference_id)",
    );
    let reference = stored_bytes(
        &path,
        "SELECT CAST(avg(length(data)) AS INTEGER) FROM event_references",
    );
    assert!(
        followers * 2 < reference,
        "an event that follows a reference ({followers} B) should take a fraction of one \
         compressed alone ({reference} B)"
    );
}
