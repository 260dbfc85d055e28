use serde_json::json;
use vigil_store::{sqlite::SqliteStore, NewEvent, Store};
fn mk(p: i64, n: u32, tags: u32, big: bool) -> NewEvent {
    NewEvent {
        project_id: p,
        event_id: format!("{n:032x}"),
        event_type: "error".into(),
        timestamp: 1.7e9 + n as f64,
        received: 1.7e9 + n as f64,
        level: "error".into(),
        platform: "python".into(),
        title: "T".into(),
        culprit: "c".into(),
        metadata: json!({"value": "v"}),
        hashes: vec![format!("h{}", n % 50)],
        environment: Some("prod".into()),
        release: Some("r1".into()),
        transaction: None,
        user_tag: Some(format!("id:{}", n % 300)),
        tags: (0..tags)
            .map(|i| (format!("k{i}"), format!("v{}", (n + i) % 5)))
            .collect(),
        is_unhandled: false,
        message: "m".into(),
        data: if big {
            json!({"exception": {"values": [{"type": "E", "value": "x".repeat(3000), "stacktrace": {"frames": (0..20).map(|i| json!({"function": format!("f{i}"), "lineno": i, "filename": "app/views.py"})).collect::<Vec<_>>()}}]}})
        } else {
            json!({})
        },
    }
}
async fn run(label: &str, batch: u32, tags: u32, big: bool) {
    let dir = tempfile::TempDir::new().unwrap();
    let store = SqliteStore::open(&dir.path().join("v.sqlite3")).unwrap();
    let org = store.ensure_organization("a").await.unwrap();
    let (p, _) = store.create_project(org.id, "s", None).await.unwrap();
    let mut n = 0u32;
    let total = 20000;
    let events: Vec<Vec<NewEvent>> = (0..total / batch)
        .map(|_| {
            (0..batch)
                .map(|_| {
                    n += 1;
                    mk(p.id, n, tags, big)
                })
                .collect()
        })
        .collect();
    let start = std::time::Instant::now();
    for b in events {
        store.save_events(b).await.unwrap();
    }
    let el = start.elapsed();
    eprintln!("{label}: {:.0}/s", total as f64 / el.as_secs_f64());
}
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throughput() {
    run("b200 t8 big", 200, 8, true).await;
    run("b200 t8 small", 200, 8, false).await;
    run("b200 t0 small", 200, 0, false).await;
    run("b1000 t0 small", 1000, 0, false).await;
    run("b10 t0 small", 10, 0, false).await;
    let start = std::time::Instant::now();
    let e = mk(1, 1, 8, true);
    for _ in 0..20000 {
        let j = serde_json::to_vec(&e.data).unwrap();
        let _ = zstd::encode_all(j.as_slice(), 1).unwrap();
    }
    eprintln!(
        "encode only: {:.0}/s",
        20000.0 / start.elapsed().as_secs_f64()
    );
}
