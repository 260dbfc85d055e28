//! The `Store` contract of ingest quotas, on both backends: a project's quotas, leases of a
//! shared counter (never past the limit, however many ask at once), and hourly volume.

mod common;

use common::{project, project_named};
use vigil_store::prelude::*;
use vigil_store::{HourlyVolume, KeyRateLimit, ProjectQuotas, QuotaLease, StoreError};

common::suite_on_both_backends!(
    project_quotas_default_then_set_per_project,
    unusable_project_limits_are_refused,
    leases_never_grant_past_the_limit,
    concurrent_leases_share_one_limit,
    hourly_volume_adds_up_per_project_category_and_hour,
);

fn lease(key: &str, window_start: i64, limit: i64, want: i64) -> QuotaLease {
    QuotaLease {
        key: key.into(),
        window_start,
        window_secs: 60,
        limit,
        want,
    }
}

async fn project_quotas_default_then_set_per_project(store: &dyn Store) {
    let (_, shop) = project(store, "acme").await;
    let (_, api) = project_named(store, "acme", "api").await;
    assert_eq!(
        store.project_quotas(shop).await.unwrap(),
        ProjectQuotas::default()
    );
    assert!(ProjectQuotas::default().spike_protection, "on by default");
    let set = ProjectQuotas {
        errors: Some(KeyRateLimit {
            count: 100,
            window_secs: 60,
        }),
        transactions: None,
        spike_protection: false,
    };
    store.set_project_quotas(shop, &set).await.unwrap();
    assert_eq!(store.project_quotas(shop).await.unwrap(), set);
    assert_eq!(
        store.project_quotas(api).await.unwrap(),
        ProjectQuotas::default()
    );
    let again = ProjectQuotas {
        errors: None,
        transactions: Some(KeyRateLimit {
            count: 0,
            window_secs: 3600,
        }),
        spike_protection: true,
    };
    store.set_project_quotas(shop, &again).await.unwrap();
    assert_eq!(
        store.project_quotas(shop).await.unwrap(),
        again,
        "written whole"
    );
}

async fn unusable_project_limits_are_refused(store: &dyn Store) {
    let (_, shop) = project(store, "acme").await;
    let bad = ProjectQuotas {
        errors: Some(KeyRateLimit {
            count: 5,
            window_secs: 0,
        }),
        ..ProjectQuotas::default()
    };
    assert!(matches!(
        store.set_project_quotas(shop, &bad).await,
        Err(StoreError::Invalid(_))
    ));
    assert_eq!(
        store.project_quotas(shop).await.unwrap(),
        ProjectQuotas::default()
    );
}

async fn leases_never_grant_past_the_limit(store: &dyn Store) {
    assert_eq!(
        store.lease_quota(&lease("k:1", 600, 10, 4)).await.unwrap(),
        4
    );
    assert_eq!(
        store.lease_quota(&lease("k:1", 600, 10, 4)).await.unwrap(),
        4
    );
    assert_eq!(
        store.lease_quota(&lease("k:1", 600, 10, 4)).await.unwrap(),
        2,
        "what is left"
    );
    assert_eq!(
        store.lease_quota(&lease("k:1", 600, 10, 4)).await.unwrap(),
        0
    );
    assert_eq!(
        store.lease_quota(&lease("k:1", 660, 10, 4)).await.unwrap(),
        4,
        "the next window starts empty"
    );
    assert_eq!(
        store.lease_quota(&lease("k:2", 600, 10, 11)).await.unwrap(),
        10,
        "counters are apart, and a first lease is capped too"
    );
    assert_eq!(
        store.lease_quota(&lease("k:1", 660, 2, 4)).await.unwrap(),
        0,
        "a limit lowered below what is used grants nothing"
    );
    assert_eq!(
        store.lease_quota(&lease("k:1", 660, 20, 4)).await.unwrap(),
        4,
        "raised again, the window goes on from what it used"
    );
    assert_eq!(
        store.lease_quota(&lease("k:3", 600, 0, 4)).await.unwrap(),
        0
    );
    assert_eq!(
        store.lease_quota(&lease("k:3", 600, 10, 0)).await.unwrap(),
        0
    );
    // Windows that ended are pruned; one still running is kept.
    let pruned = store.prune_quotas(700, 0).await.unwrap();
    assert_eq!(pruned, 3, "k:1, k:2 and k:3 at 600 (ended at 660)");
    assert_eq!(
        store
            .lease_quota(&lease("k:1", 660, 20, 100))
            .await
            .unwrap(),
        12,
        "the running window kept its count"
    );
}

async fn concurrent_leases_share_one_limit(store: &dyn Store) {
    let ask = lease("shared", 0, 25, 1);
    let asks = (0..40).map(|_| store.lease_quota(&ask));
    let granted: i64 = futures_util::future::join_all(asks)
        .await
        .into_iter()
        .map(|r| r.unwrap())
        .sum();
    assert_eq!(granted, 25);
}

async fn hourly_volume_adds_up_per_project_category_and_hour(store: &dyn Store) {
    let (_, shop) = project(store, "acme").await;
    let (_, api) = project_named(store, "acme", "api").await;
    let volume = |project_id, category: &str, hour, count| HourlyVolume {
        project_id,
        category: category.into(),
        hour,
        count,
    };
    store
        .add_hourly_volume(&[
            volume(shop, "error", 3600, 5),
            volume(shop, "error", 7200, 1),
            volume(shop, "transaction", 3600, 9),
            volume(api, "error", 3600, 100),
        ])
        .await
        .unwrap();
    store
        .add_hourly_volume(&[volume(shop, "error", 3600, 2)])
        .await
        .unwrap();
    store.add_hourly_volume(&[]).await.unwrap();
    assert_eq!(
        store.hourly_volume(shop, "error", 0, 10_800).await.unwrap(),
        vec![
            volume(shop, "error", 3600, 7),
            volume(shop, "error", 7200, 1)
        ]
    );
    assert_eq!(
        store
            .hourly_volume(shop, "error", 7200, 10_800)
            .await
            .unwrap(),
        vec![volume(shop, "error", 7200, 1)],
        "from is inclusive"
    );
    assert_eq!(
        store.hourly_volume(shop, "error", 0, 7200).await.unwrap(),
        vec![volume(shop, "error", 3600, 7)],
        "to is exclusive"
    );
    assert_eq!(
        store.prune_quotas(0, 7200).await.unwrap(),
        3,
        "the three counts of hour 3600"
    );
    assert_eq!(
        store.hourly_volume(api, "error", 0, 10_800).await.unwrap(),
        vec![]
    );
}
