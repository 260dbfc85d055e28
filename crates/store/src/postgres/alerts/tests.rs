//! Alert bookkeeping raced by two nodes on one database, what the store suite (one node)
//! cannot show: firings recorded once, each notification claimed by one sender. Run on the
//! server `VIGIL_TEST_DATABASE_URL` names, as the suite is.

use std::collections::HashSet;

use serde_json::json;

use super::super::TestDatabase;
use super::*;
use crate::prelude::*;
use crate::test_events::error_event;
use crate::{NewEvent, NewNotification};

const T0: f64 = 1_700_000_000.0;

async fn nodes() -> (TestDatabase, [PgStore; 2]) {
    let database = TestDatabase::create()
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    let a = PgStore::connect(database.url()).await.unwrap();
    let b = PgStore::connect(database.url()).await.unwrap();
    (database, [a, b])
}

/// (project, rule, issue) on `store`.
async fn setup(store: &PgStore) -> (i64, i64, i64) {
    let org = store.ensure_organization("acme").await.unwrap();
    let (project, _) = store.create_project(org.id, "shop", None).await.unwrap();
    let rule = store.alert_rules(project.id).await.unwrap()[0].id;
    let event = NewEvent {
        title: "ValueError".into(),
        ..error_event(project.id, 1, T0, &["a"])
    };
    let issue = store.save_events(vec![event]).await.unwrap()[0].issue_id;
    (project.id, rule, issue)
}

fn firing(project_id: i64, rule_id: i64, issue_id: i64, key: &str, at: f64) -> Firing {
    Firing {
        rule_id,
        project_id,
        issue_id,
        event_id: key.to_owned(),
        trigger: "frequency".into(),
        at,
        frequency_secs: 1800.0,
        dedup_key: format!("{rule_id}:{issue_id}:frequency:{key}"),
        notifications: vec![NewNotification {
            kind: "webhook".into(),
            target: format!("http://hooks.test/{key}"),
            payload: json!({}),
        }],
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_firing_one_rule_for_one_issue_fire_once_per_frequency() {
    let (_database, [a, b]) = nodes().await;
    let (project, rule, issue) = setup(&a).await;
    const ROUNDS: u32 = 25;
    for round in 0..ROUNDS {
        let at = T0 + f64::from(round) * 3600.0;
        let shared = format!("shared-{round}");
        // Each node fires for an event of its own and for one both process; in opposite
        // orders, so that their row locks can meet in a cycle (a deadlock is retried).
        let on_a = vec![
            firing(project, rule, issue, &shared, at),
            firing(project, rule, issue, &format!("a-{round}"), at),
        ];
        let on_b = vec![
            firing(project, rule, issue, &format!("b-{round}"), at),
            firing(project, rule, issue, &shared, at),
        ];
        let (fired_a, fired_b) = tokio::join!(a.record_firings(on_a), b.record_firings(on_b));
        let fired = [fired_a.unwrap(), fired_b.unwrap()].concat();
        assert_eq!(
            fired.iter().filter(|f| **f).count(),
            1,
            "round {round}: {fired:?}"
        );
    }
    let notifications = b.list_notifications(project, 1000).await.unwrap();
    assert_eq!(notifications.len(), ROUNDS as usize);
    let firings: i64 = a
        .client()
        .await
        .unwrap()
        .query_one("SELECT count(*) FROM alert_firings", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(firings, i64::from(ROUNDS), "skipped firings are not kept");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_claiming_share_no_notification_and_leases_end() {
    let (_database, [a, b]) = nodes().await;
    let (project, rule, issue) = setup(&a).await;
    let mut one = firing(project, rule, issue, "one", T0);
    one.frequency_secs = 0.0;
    assert_eq!(a.record_firings(vec![one]).await.unwrap(), vec![true]);
    let many: Vec<NewNotification> = (0..80)
        .map(|n| NewNotification {
            kind: "webhook".into(),
            target: format!("http://hooks.test/{n}"),
            payload: json!({"n": n}),
        })
        .collect();
    let mut big = firing(project, rule, issue, "big", T0 + 1.0);
    big.frequency_secs = 0.0;
    big.notifications = many;
    assert_eq!(b.record_firings(vec![big]).await.unwrap(), vec![true]);

    let claim = |store: PgStore| async move {
        let mut ids = Vec::new();
        loop {
            let claimed = store
                .claim_notifications(&["webhook"], T0 + 5.0, 7, 60.0)
                .await
                .unwrap();
            if claimed.is_empty() {
                return ids;
            }
            ids.extend(claimed.iter().map(|n| n.id));
        }
    };
    let (on_a, on_b) = tokio::join!(claim(a.clone()), claim(b.clone()));
    let all = [on_a, on_b].concat();
    let distinct: HashSet<i64> = all.iter().copied().collect();
    assert_eq!(all.len(), distinct.len(), "claimed twice: {all:?}");
    assert_eq!(distinct.len(), 81);

    // Held until the lease ends, then another node may take them again.
    assert!(a
        .claim_notifications(&["webhook"], T0 + 64.0, 100, 60.0)
        .await
        .unwrap()
        .is_empty());
    let again = b
        .claim_notifications(&["webhook"], T0 + 65.0, 100, 60.0)
        .await
        .unwrap();
    assert_eq!(again.len(), 81);
}
