//! The `Store` contract, as behaviour.
//!
//! Every case is an `async fn(&dyn Store)` in [`cases`], so the same bodies run on every
//! backend: `common::suite_on_both_backends!` turns the list of cases into `#[tokio::test]`s for
//! each backend's fixture: SQLite, and PostgreSQL (a fresh database per test on the server
//! `VIGIL_TEST_DATABASE_URL` names; without it the PostgreSQL tests fail, they never skip), so
//! the two cannot drift. Backend-specific checks (files, migrations, nodes racing) are at the
//! bottom.

mod common;

use std::path::Path;

use common::{event_id, project, test_database};
use serde_json::json;
use tempfile::TempDir;
use vigil_store::postgres::PgStore;
use vigil_store::prelude::*;
use vigil_store::search::parse_search;
use vigil_store::sqlite::SqliteStore;
use vigil_store::{
    hour_of, DataCategory, DeliveryOutcomes, InboundFilters, IssueQuery, IssueSort, IssueStatus,
    LegacyBrowsers, NewDeploy, NewEvent, Outcome, OutcomeQuery, OutcomeRow, ProjectKey, RawItem,
    ReleaseFields, ReleaseQuery, RetentionPass, ScrubbingSettings, StoreError, StoredEvent,
    TagValueCount, NO_REASON,
};

// The cases live in `mod cases`; the suite calls them from here.
use cases::*;

common::suite_on_both_backends!(
    ping_answers,
    organization_is_created_once,
    project_gets_one_active_default_key,
    project_slug_is_unique_per_organization,
    project_of_missing_organization_is_not_found,
    user_email_is_unique_case_insensitively,
    admins_read_every_organization_members_their_own,
    token_is_found_by_hash_with_its_user_and_scopes,
    events_sharing_a_hash_form_one_issue,
    issues_are_numbered_per_project,
    duplicate_event_id_counts_once,
    distinct_users_are_counted_once_per_issue,
    tag_values_are_counted_per_issue,
    newest_event_sets_title_and_level_older_one_does_not,
    one_batch_counts_like_one_event_at_a_time,
    resolved_issue_regresses_on_new_event,
    status_changes_set_substatus_and_resolved_at,
    search_by_status_level_and_unhandled,
    search_by_tag_negated_tag_and_has,
    search_by_issue_category_and_type,
    search_by_text_in_title_culprit_and_metadata,
    search_by_environment_time_and_project,
    search_is_scoped_to_the_organization,
    search_sorts_and_pages,
    event_reads_round_trip_the_data,
    invalid_event_is_rejected_before_anything_is_written,
    event_of_unknown_project_is_not_found,
    concurrent_batches_count_every_event,
    raw_items_keep_their_payload,
    outcomes_are_summed_per_hour_and_read_by_filter,
    delivery_outcomes_count_once_per_source,
    retention_deletes_outcomes_of_ended_hours,
    jobs_are_claimed_once_per_interval,
    expired_events_are_deleted_and_uncounted,
    releases_are_created_once_and_updated,
    events_create_releases_and_count_new_issues,
    deploys_belong_to_their_release,
    hourly_counts_bucket_events_by_hour,
    key_rate_limit_is_set_and_cleared,
    secret_is_made_once_and_kept,
    keys_are_added_and_deleted,
    project_tag_values_sum_over_its_issues,
    event_neighbours_step_through_an_issue,
    scrubbing_settings_default_then_changed_per_project,
    scrubbing_settings_with_unusable_field_lists_are_refused,
    inbound_filters_default_then_changed_per_project,
    inbound_filters_with_bad_ip_entries_are_refused,
);

/// A moment in 2023, so tests never depend on the clock.
const T0: f64 = 1_700_000_000.0;

/// An error event in `project_id` grouped by `hashes`, at `T0 + offset` seconds (received half a
/// second later), in release `shop@1.0`.
fn event(project_id: i64, n: u32, hashes: &[&str], offset: f64) -> NewEvent {
    NewEvent {
        received: T0 + offset + 0.5,
        title: "ZeroDivisionError: division by zero".into(),
        metadata: json!({"type": "ZeroDivisionError", "value": "division by zero"}),
        hashes: hashes.iter().map(|h| h.to_string()).collect(),
        release: Some("shop@1.0".into()),
        tags: vec![
            ("environment".into(), "production".into()),
            ("release".into(), "shop@1.0".into()),
        ],
        message: "division by zero".into(),
        data: json!({"event_id": event_id(n), "exception": {"values": [{"type": "ZeroDivisionError"}]}}).into(),
        ..common::error_event(project_id, event_id(n), T0 + offset)
    }
}

fn query(organization_id: i64, search: &str) -> IssueQuery {
    IssueQuery {
        organization_id,
        search: parse_search(search).unwrap(),
        limit: 100,
        ..IssueQuery::default()
    }
}

/// Titles of the issues the search finds, in its order.
/// The first ten releases of an organization, or of one project, or matching a version text.
fn releases_of(organization_id: i64, project_id: Option<i64>, query: Option<&str>) -> ReleaseQuery {
    ReleaseQuery {
        organization_id,
        project_id,
        query: query.map(str::to_owned),
        status: None,
        offset: 0,
        limit: 10,
    }
}

async fn titles(store: &dyn Store, query: &IssueQuery) -> Vec<String> {
    store
        .search_issues(query)
        .await
        .unwrap()
        .into_iter()
        .map(|issue| issue.title)
        .collect()
}

/// (key, value, times seen) of each of `values`.
fn tag_summary(values: &[TagValueCount]) -> Vec<(&str, &str, i64)> {
    values
        .iter()
        .map(|v| (v.key.as_str(), v.value.as_str(), v.times_seen))
        .collect()
}

/// The key whose public part is `public_key`, if any.
async fn key_of(store: &dyn Store, public_key: &str) -> Option<ProjectKey> {
    store.key_by_public_key(public_key).await.unwrap()
}

/// Events of `project_id`, one per (n, hash, offset) of `events`.
fn events_of(project_id: i64, events: &[(u32, &str, f64)]) -> Vec<NewEvent> {
    events
        .iter()
        .map(|&(n, hash, offset)| event(project_id, n, &[hash], offset))
        .collect()
}

/// Checks each (search, titles it finds in order) of `cases` in organization `org`.
async fn assert_searches(store: &dyn Store, org: i64, cases: &[(&str, &[&str])]) {
    for (search, expected) in cases {
        assert_eq!(
            titles(store, &query(org, search)).await,
            *expected,
            "search {search:?}"
        );
    }
}

mod cases {
    use super::*;

    pub async fn ping_answers(store: &dyn Store) {
        store.ping().await.unwrap();
    }

    pub async fn organization_is_created_once(store: &dyn Store) {
        let first = store.ensure_organization("acme").await.unwrap();
        let again = store.ensure_organization("acme").await.unwrap();
        assert_eq!(first, again);
        assert_eq!(first.name, "acme");
        assert_eq!(
            store.organization_by_slug("acme").await.unwrap(),
            Some(first.clone())
        );
        assert_eq!(
            store.organization_by_id(first.id).await.unwrap(),
            Some(first.clone())
        );
        assert_eq!(store.organization_by_slug("other").await.unwrap(), None);
        let other = store.ensure_organization("other").await.unwrap();
        assert_eq!(
            store.list_organizations().await.unwrap(),
            vec![first, other]
        );
    }

    pub async fn project_gets_one_active_default_key(store: &dyn Store) {
        let org = store.ensure_organization("acme").await.unwrap();
        let (project, key) = store
            .create_project(org.id, "shop", Some("python"))
            .await
            .unwrap();
        assert_eq!(project.slug, "shop");
        assert_eq!(project.name, "shop");
        assert_eq!(project.platform.as_deref(), Some("python"));
        assert_eq!(project.organization_id, org.id);
        assert_eq!(key.project_id, project.id);
        assert_eq!(key.label, "Default");
        assert!(key.is_active);
        for part in [&key.public_key, &key.secret_key] {
            assert_eq!(part.len(), 32);
            assert!(part
                .chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
        }
        assert_ne!(key.public_key, key.secret_key);

        assert_eq!(key_of(store, &key.public_key).await, Some(key.clone()));
        assert_eq!(key_of(store, &"0".repeat(32)).await, None);
        assert_eq!(
            store.list_keys(project.id).await.unwrap(),
            vec![key.clone()]
        );
        assert_eq!(
            store.project_by_id(project.id).await.unwrap(),
            Some(project.clone())
        );
        assert_eq!(
            store.project_by_slug(org.id, "shop").await.unwrap(),
            Some(project.clone())
        );
        assert_eq!(store.project_by_slug(org.id, "blog").await.unwrap(), None);

        let (blog, _) = store.create_project(org.id, "blog", None).await.unwrap();
        let other = store.ensure_organization("other").await.unwrap();
        let (api, _) = store.create_project(other.id, "api", None).await.unwrap();
        assert_eq!(
            store.list_projects(Some(org.id)).await.unwrap(),
            vec![project.clone(), blog.clone()]
        );
        assert_eq!(
            store.list_projects(None).await.unwrap(),
            vec![project, blog, api]
        );

        store.set_key_active(key.id, false).await.unwrap();
        let found = key_of(store, &key.public_key).await.unwrap();
        assert!(
            !found.is_active,
            "a disabled key is still found; the caller checks it"
        );
        assert!(matches!(
            store.set_key_active(key.id + 1000, true).await,
            Err(StoreError::NotFound(_))
        ));
    }

    pub async fn project_slug_is_unique_per_organization(store: &dyn Store) {
        let acme = store.ensure_organization("acme").await.unwrap();
        let other = store.ensure_organization("other").await.unwrap();
        store.create_project(acme.id, "shop", None).await.unwrap();
        let again = store.create_project(acme.id, "shop", None).await;
        assert!(matches!(again, Err(StoreError::Conflict(_))), "{again:?}");
        store.create_project(other.id, "shop", None).await.unwrap();
        assert_eq!(store.list_projects(Some(acme.id)).await.unwrap().len(), 1);
    }

    pub async fn project_of_missing_organization_is_not_found(store: &dyn Store) {
        let result = store.create_project(4242, "shop", None).await;
        assert!(matches!(result, Err(StoreError::NotFound(_))), "{result:?}");
    }

    pub async fn user_email_is_unique_case_insensitively(store: &dyn Store) {
        assert_eq!(store.count_users().await.unwrap(), 0);
        let ann = common::user(store, "Ann@Example.com", "$argon2id$x", false).await;
        assert_eq!(ann.email, "Ann@Example.com", "the e-mail is kept as typed");
        assert!(!ann.is_admin);
        assert_eq!(
            store.user_by_email("ann@example.COM").await.unwrap(),
            Some(ann.clone())
        );
        assert_eq!(store.user_by_id(ann.id).await.unwrap(), Some(ann.clone()));
        let again = store
            .create_user("ANN@example.com", "$argon2id$y", true)
            .await;
        assert!(matches!(again, Err(StoreError::Conflict(_))), "{again:?}");
        common::user(store, "bob@example.com", "$argon2id$z", true).await;
        assert_eq!(store.count_users().await.unwrap(), 2);
        assert_eq!(
            store.user_by_email("carol@example.com").await.unwrap(),
            None
        );
    }

    pub async fn admins_read_every_organization_members_their_own(store: &dyn Store) {
        let acme = store.ensure_organization("acme").await.unwrap();
        let other = store.ensure_organization("other").await.unwrap();
        let admin = common::user(store, "admin@example.com", "h", true).await;
        let ann = common::user(store, "ann@example.com", "h", false).await;
        assert_eq!(store.organizations_of_user(ann.id).await.unwrap(), vec![]);
        store.add_member(other.id, ann.id, "member").await.unwrap();
        store.add_member(other.id, ann.id, "owner").await.unwrap();
        assert_eq!(
            store.organizations_of_user(ann.id).await.unwrap(),
            vec![other.clone()]
        );
        assert_eq!(
            store.organizations_of_user(admin.id).await.unwrap(),
            vec![acme, other]
        );
        assert!(matches!(
            store.add_member(1, ann.id, "emperor").await,
            Err(StoreError::Invalid(_))
        ));
    }

    pub async fn token_is_found_by_hash_with_its_user_and_scopes(store: &dyn Store) {
        let ann = common::user(store, "ann@example.com", "h", false).await;
        let scopes = vec!["project:read".to_string(), "event:write".to_string()];
        let token = store.create_token(ann.id, "ab12", &scopes).await.unwrap();
        assert_eq!(token.user_id, ann.id);
        assert_eq!(token.scopes, scopes);
        let (found, user) = store.token_by_hash("ab12").await.unwrap().unwrap();
        assert_eq!(found, token);
        assert_eq!(user, ann);
        assert_eq!(store.token_by_hash("cd34").await.unwrap(), None);
        let again = store.create_token(ann.id, "ab12", &[]).await;
        assert!(matches!(again, Err(StoreError::Conflict(_))), "{again:?}");
    }

    pub async fn events_sharing_a_hash_form_one_issue(store: &dyn Store) {
        let (_, project) = project(store, "acme").await;
        let first = common::save_one(store, event(project, 1, &["a"], 0.0)).await;
        assert!(first[0].new_issue && !first[0].duplicate && !first[0].regressed);

        // Found by its second hash; it brings hash `b`, which is mapped to the issue too.
        let second = common::save_one(store, event(project, 2, &["b", "a"], 60.0)).await;
        assert_eq!(second[0].issue_id, first[0].issue_id);
        assert!(!second[0].new_issue);
        let third = common::save_one(store, event(project, 3, &["b"], 30.0)).await;
        assert_eq!(third[0].issue_id, first[0].issue_id);

        let issue = common::stored_issue(store, first[0].issue_id).await;
        assert_eq!(issue.times_seen, 3);
        assert_eq!(issue.first_seen, T0);
        assert_eq!(issue.last_seen, T0 + 60.0);
        assert_eq!(issue.status, IssueStatus::Unresolved);
        assert_eq!(issue.substatus, "new");
        assert_eq!(issue.title, "ZeroDivisionError: division by zero");
        assert_eq!(issue.culprit, "shop.views in checkout");
        assert_eq!(issue.metadata["type"], "ZeroDivisionError");
        assert_eq!(issue.event_type, "error");
        assert_eq!(issue.platform, "python");
        assert_eq!(issue.first_release.as_deref(), Some("shop@1.0"));
        assert_eq!(issue.resolved_at, None);

        let other = common::save_one(store, event(project, 4, &["c"], 0.0)).await;
        assert!(other[0].new_issue);
        assert_ne!(other[0].issue_id, first[0].issue_id);
    }

    pub async fn issues_are_numbered_per_project(store: &dyn Store) {
        let org = store.ensure_organization("acme").await.unwrap();
        let (shop, _) = store.create_project(org.id, "shop", None).await.unwrap();
        let (blog, _) = store.create_project(org.id, "blog", None).await.unwrap();
        let saved = store
            .save_events(vec![
                event(shop.id, 1, &["a"], 0.0),
                event(shop.id, 2, &["b"], 0.0),
                event(blog.id, 3, &["a"], 0.0),
            ])
            .await
            .unwrap();
        let short_ids = |i: usize| {
            let id = saved[i].issue_id;
            async move { common::stored_issue(store, id).await.short_id }
        };
        assert_eq!(short_ids(0).await, 1);
        assert_eq!(short_ids(1).await, 2);
        assert_eq!(
            short_ids(2).await,
            1,
            "the same hash in another project is another issue"
        );
        assert_ne!(saved[2].issue_id, saved[0].issue_id);
    }

    pub async fn duplicate_event_id_counts_once(store: &dyn Store) {
        let (_, project) = project(store, "acme").await;
        let batch = common::save(store, events_of(project, &[(1, "a", 0.0), (1, "a", 5.0)])).await;
        assert!(!batch[0].duplicate);
        assert!(
            batch[1].duplicate,
            "a repeat inside one batch is a duplicate"
        );
        assert_eq!(batch[1].issue_id, batch[0].issue_id);
        assert!(
            batch[1].new_issue,
            "a duplicate reports the flags its first copy got, so alerts fire the same"
        );

        let later = common::save_one(store, event(project, 1, &["z"], 9.0)).await;
        assert!(later[0].duplicate);
        assert_eq!(
            later[0].issue_id, batch[0].issue_id,
            "the issue it already has"
        );

        let issue = common::stored_issue(store, batch[0].issue_id).await;
        assert_eq!(issue.times_seen, 1);
        assert_eq!(issue.last_seen, T0);
        assert_eq!(store.issue_events(issue.id, 0, 10).await.unwrap().len(), 1);
        assert_eq!(
            store.issue_tag_values(issue.id).await.unwrap()[0].times_seen,
            1
        );
    }

    pub async fn distinct_users_are_counted_once_per_issue(store: &dyn Store) {
        let (_, project) = project(store, "acme").await;
        let with_user = |n, user: Option<&str>| NewEvent {
            user_tag: user.map(str::to_owned),
            ..event(project, n, &["a"], f64::from(n))
        };
        let saved = store
            .save_events(vec![
                with_user(1, Some("id:7")),
                with_user(2, Some("id:7")),
                with_user(3, Some("email:b@example.com")),
                with_user(4, None),
            ])
            .await
            .unwrap();
        let issue = common::stored_issue(store, saved[0].issue_id).await;
        assert_eq!(issue.times_seen, 4);
        assert_eq!(issue.user_count, 2);
    }

    pub async fn tag_values_are_counted_per_issue(store: &dyn Store) {
        let (_, project) = project(store, "acme").await;
        let tagged = |n, browser: &str, offset| NewEvent {
            tags: vec![
                ("browser".into(), browser.into()),
                ("os".into(), "Linux".into()),
            ],
            // Not among the tags: taken from the field.
            environment: Some("production".into()),
            release: None,
            ..event(project, n, &["a"], offset)
        };
        let saved = store
            .save_events(vec![
                tagged(1, "Firefox", 10.0),
                tagged(2, "Chrome", 0.0),
                tagged(3, "Chrome", 20.0),
            ])
            .await
            .unwrap();
        let values = store.issue_tag_values(saved[0].issue_id).await.unwrap();
        assert_eq!(
            tag_summary(&values),
            vec![
                ("browser", "Chrome", 2),
                ("browser", "Firefox", 1),
                ("environment", "production", 3),
                ("os", "Linux", 3),
            ]
        );
        assert_eq!((values[0].first_seen, values[0].last_seen), (T0, T0 + 20.0));
    }

    pub async fn project_tag_values_sum_over_its_issues(store: &dyn Store) {
        let (_, elsewhere) = project(store, "other").await;
        let (_, project) = project(store, "acme").await;
        let in_env = |project, n, hash: &str, env: &str, offset| NewEvent {
            environment: Some(env.into()),
            tags: vec![("environment".into(), env.into())],
            ..event(project, n, &[hash], offset)
        };
        store
            .save_events(vec![
                in_env(project, 1, "a", "production", 0.0),
                in_env(project, 2, "a", "production", 10.0),
                in_env(project, 3, "b", "production", 20.0),
                in_env(project, 4, "b", "staging", 30.0),
                in_env(elsewhere, 5, "a", "other", 40.0),
            ])
            .await
            .unwrap();
        let values = store
            .project_tag_values(project, "environment", 10)
            .await
            .unwrap();
        assert_eq!(
            tag_summary(&values),
            [
                ("environment", "staging", 1),
                ("environment", "production", 3)
            ]
        );
        assert_eq!((values[1].first_seen, values[1].last_seen), (T0, T0 + 20.0));
        let one = store
            .project_tag_values(project, "environment", 1)
            .await
            .unwrap();
        assert_eq!(one.len(), 1);
        assert!(store
            .project_tag_values(project, "nope", 10)
            .await
            .unwrap()
            .is_empty());
    }

    pub async fn event_neighbours_step_through_an_issue(store: &dyn Store) {
        let (_, project) = project(store, "acme").await;
        // Events 2 and 3 share a timestamp: received time orders them.
        let saved = store
            .save_events(vec![
                event(project, 1, &["a"], 0.0),
                event(project, 2, &["a"], 10.0),
                NewEvent {
                    received: T0 + 20.0,
                    ..event(project, 3, &["a"], 10.0)
                },
                event(project, 4, &["a"], 30.0),
                event(project, 5, &["b"], 5.0),
            ])
            .await
            .unwrap();
        let issue = saved[0].issue_id;
        let order: Vec<String> = store
            .issue_events(issue, 0, 10)
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.event_id)
            .collect();
        assert_eq!(order, [event_id(4), event_id(3), event_id(2), event_id(1)]);
        let neighbours = |id: &str| {
            let id = id.to_owned();
            async move {
                store
                    .issue_event_neighbours(issue, project, &id)
                    .await
                    .unwrap()
            }
        };
        for (i, id) in order.iter().enumerate() {
            let (older, newer) = neighbours(id).await;
            assert_eq!(older.as_ref(), order.get(i + 1), "older than {id}");
            assert_eq!(
                newer.as_ref(),
                i.checked_sub(1).and_then(|j| order.get(j)),
                "newer than {id}"
            );
        }
        assert_eq!(
            neighbours(&event_id(5)).await,
            (None, None),
            "an event of another issue"
        );
        assert_eq!(neighbours(&event_id(99)).await, (None, None));
    }

    pub async fn newest_event_sets_title_and_level_older_one_does_not(store: &dyn Store) {
        let (_, project) = project(store, "acme").await;
        let with = |n, title: &str, level: &str, offset| NewEvent {
            title: title.into(),
            level: level.into(),
            is_unhandled: n == 2,
            ..event(project, n, &["a"], offset)
        };
        let saved = common::save_one(store, with(1, "first", "error", 10.0)).await;
        common::save_one(store, with(2, "newer", "fatal", 20.0)).await;
        common::save_one(store, with(3, "late old", "info", 0.0)).await;
        let issue = common::stored_issue(store, saved[0].issue_id).await;
        assert_eq!(issue.title, "newer");
        assert_eq!(issue.level, "fatal");
        assert_eq!(issue.first_seen, T0, "an old event moves first_seen back");
        assert_eq!(issue.last_seen, T0 + 20.0);
        assert!(
            issue.is_unhandled,
            "one unhandled event makes the issue unhandled"
        );
    }

    /// The batch's tally must add up to what event-by-event saving gives.
    pub async fn one_batch_counts_like_one_event_at_a_time(store: &dyn Store) {
        let org = store.ensure_organization("acme").await.unwrap();
        let (single, _) = store.create_project(org.id, "single", None).await.unwrap();
        let (batched, _) = store.create_project(org.id, "batched", None).await.unwrap();
        let events = |project_id, first_id: u32| {
            let offsets = [50.0, 10.0, 7300.0, 30.0, 7300.0, 0.0];
            offsets
                .iter()
                .enumerate()
                .map(|(i, offset)| {
                    let n = u32::try_from(i).unwrap();
                    NewEvent {
                        title: format!("title at {offset}"),
                        level: ["error", "warning", "fatal"][i % 3].into(),
                        user_tag: ["id:1", "id:2", ""][i % 3].to_owned().into(),
                        tags: vec![("browser".into(), ["Firefox", "Chrome"][i % 2].into())],
                        is_unhandled: i == 3,
                        release: (i > 0).then(|| format!("shop@{i}")),
                        ..event(project_id, first_id + n, &["a"], *offset)
                    }
                })
                .collect::<Vec<_>>()
        };
        for event in events(single.id, 100) {
            common::save_one(store, event).await;
        }
        let saved = store.save_events(events(batched.id, 200)).await.unwrap();
        assert!(saved[0].new_issue && saved[1..].iter().all(|s| !s.new_issue));

        let issue_of = |project_id| async move {
            let mut q = query(org.id, "");
            q.project_ids = vec![project_id];
            let mut issues = store.search_issues(&q).await.unwrap();
            assert_eq!(issues.len(), 1);
            issues.remove(0)
        };
        let (one, all) = (issue_of(single.id).await, issue_of(batched.id).await);
        assert_eq!(one.times_seen, 6);
        assert_eq!(one.user_count, 2, "the empty user tag is no user");
        assert_eq!(
            one.title, "title at 7300",
            "the later of two equally new events wins"
        );
        assert_eq!(one.level, "warning");
        assert!(one.is_unhandled);
        assert_eq!(
            one.first_release.as_deref(),
            Some("shop@1"),
            "the first release seen, when the first event had none"
        );
        assert_eq!((one.first_seen, one.last_seen), (T0, T0 + 7300.0));
        let comparable = |issue: vigil_store::Issue| vigil_store::Issue {
            id: 0,
            project_id: 0,
            ..issue
        };
        assert_eq!(comparable(one.clone()), comparable(all.clone()));
        assert_eq!(
            store.issue_tag_values(one.id).await.unwrap(),
            store.issue_tag_values(all.id).await.unwrap()
        );
    }

    pub async fn resolved_issue_regresses_on_new_event(store: &dyn Store) {
        let (_, project) = project(store, "acme").await;
        let saved = common::save_one(store, event(project, 1, &["a"], 0.0)).await;
        let id = saved[0].issue_id;
        common::set_status(store, id, IssueStatus::Resolved).await;
        let again = common::save_one(store, event(project, 2, &["a"], 60.0)).await;
        assert!(again[0].regressed);
        let issue = common::stored_issue(store, id).await;
        assert_eq!(issue.status, IssueStatus::Unresolved);
        assert_eq!(issue.substatus, "regressed");
        assert_eq!(issue.resolved_at, None);
        let once_more = common::save_one(store, event(project, 3, &["a"], 70.0)).await;
        assert!(
            !once_more[0].regressed,
            "an unresolved issue does not regress"
        );

        common::set_status(store, id, IssueStatus::Ignored).await;
        let ignored = common::save_one(store, event(project, 4, &["a"], 80.0)).await;
        assert!(!ignored[0].regressed);
        let issue = common::stored_issue(store, id).await;
        assert_eq!(issue.status, IssueStatus::Ignored, "ignored stays ignored");
        assert_eq!(issue.times_seen, 4);
    }

    pub async fn status_changes_set_substatus_and_resolved_at(store: &dyn Store) {
        let (_, project) = project(store, "acme").await;
        let saved = common::save_one(store, event(project, 1, &["a"], 0.0)).await;
        let id = saved[0].issue_id;

        let resolved = common::set_status(store, id, IssueStatus::Resolved)
            .await
            .unwrap();
        assert_eq!(resolved.status, IssueStatus::Resolved);
        assert_eq!(resolved.substatus, "");
        let resolved_at = resolved.resolved_at.expect("resolving sets resolved_at");
        let again = common::set_status(store, id, IssueStatus::Resolved)
            .await
            .unwrap();
        assert_eq!(
            again.resolved_at,
            Some(resolved_at),
            "resolving twice keeps the first time"
        );

        let ignored = common::set_status(store, id, IssueStatus::Ignored)
            .await
            .unwrap();
        assert_eq!(ignored.status, IssueStatus::Ignored);
        assert_eq!(ignored.substatus, "archived_forever");
        assert_eq!(ignored.resolved_at, None);

        let reopened = common::set_status(store, id, IssueStatus::Unresolved)
            .await
            .unwrap();
        assert_eq!(reopened.status, IssueStatus::Unresolved);
        assert_eq!(reopened.substatus, "ongoing");
        assert_eq!(store.issue_by_id(id).await.unwrap(), Some(reopened));

        assert_eq!(
            common::set_status(store, id + 1000, IssueStatus::Resolved).await,
            None
        );
    }

    pub async fn search_by_status_level_and_unhandled(store: &dyn Store) {
        let (org, project) = project(store, "acme").await;
        let issue = |n, title: &str, level: &str, unhandled| NewEvent {
            title: title.into(),
            level: level.into(),
            is_unhandled: unhandled,
            ..event(project, n, &[title], f64::from(n))
        };
        let saved = store
            .save_events(vec![
                issue(1, "one", "error", true),
                issue(2, "two", "warning", false),
                issue(3, "three", "error", false),
            ])
            .await
            .unwrap();
        common::set_status(store, saved[1].issue_id, IssueStatus::Resolved).await;

        assert_searches(
            store,
            org,
            &[
                ("is:unresolved", &["three", "one"]),
                ("is:resolved", &["two"]),
                ("!is:resolved", &["three", "one"]),
                ("level:error", &["three", "one"]),
                ("!level:error", &["two"]),
                ("is:unresolved level:warning", &[]),
                ("is:unhandled", &["one"]),
                ("is:handled", &["three", "two"]),
                ("", &["three", "two", "one"]),
            ],
        )
        .await;
    }

    pub async fn search_by_issue_category_and_type(store: &dyn Store) {
        let (org, project) = project(store, "acme").await;
        let issue = |n, title: &str, event_type: &str| NewEvent {
            title: title.into(),
            event_type: event_type.into(),
            ..event(project, n, &[title], f64::from(n))
        };
        store
            .save_events(vec![
                issue(1, "ZeroDivisionError", "error"),
                issue(2, "N+1 Query", "performance_n_plus_one_db_queries"),
                issue(3, "Slow DB Query", "performance_slow_db_query"),
                issue(4, "a message", "default"),
            ])
            .await
            .unwrap();
        assert_searches(
            store,
            org,
            &[
                (
                    "issue.category:performance",
                    &["Slow DB Query", "N+1 Query"],
                ),
                ("issue.category:error", &["a message", "ZeroDivisionError"]),
                ("!issue.category:error", &["Slow DB Query", "N+1 Query"]),
                (
                    "issue.type:performance_n_plus_one_db_queries",
                    &["N+1 Query"],
                ),
            ],
        )
        .await;
    }

    pub async fn search_by_tag_negated_tag_and_has(store: &dyn Store) {
        let (org, project) = project(store, "acme").await;
        let issue = |n, title: &str, tags: &[(&str, &str)]| NewEvent {
            title: title.into(),
            tags: tags
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            environment: None,
            release: None,
            ..event(project, n, &[title], f64::from(n))
        };
        store
            .save_events(vec![
                issue(
                    1,
                    "firefox",
                    &[("browser", "Firefox"), ("url", "http://x/a b")],
                ),
                issue(2, "chrome", &[("browser", "Chrome")]),
                issue(3, "server", &[("server_name", "web-1")]),
                // The same issue seen in Chrome too: it matches both browsers.
                issue(4, "firefox", &[("browser", "Chrome")]),
            ])
            .await
            .unwrap();
        assert_searches(
            store,
            org,
            &[
                ("browser:Firefox", &["firefox"]),
                ("browser:Chrome", &["firefox", "chrome"]),
                ("!browser:Chrome", &["server"]),
                // Tag values match case-sensitively.
                ("browser:firefox", &[]),
                (r#"url:"http://x/a b""#, &["firefox"]),
                ("has:server_name", &["server"]),
                ("!has:browser", &["server"]),
            ],
        )
        .await;
    }

    pub async fn search_by_text_in_title_culprit_and_metadata(store: &dyn Store) {
        let (org, project) = project(store, "acme").await;
        let issue = |n, title: &str, culprit: &str, value: &str| NewEvent {
            title: title.into(),
            culprit: culprit.into(),
            metadata: json!({"type": "Error", "value": value}),
            ..event(project, n, &[title], f64::from(n))
        };
        store
            .save_events(vec![
                issue(
                    1,
                    "ZeroDivisionError: division by zero",
                    "shop.views in checkout",
                    "x",
                ),
                issue(2, "KeyError: 'user'", "shop.auth in login", "y"),
                issue(
                    3,
                    "Quota 100% used",
                    "shop.billing in charge",
                    "over_limit reached",
                ),
                issue(4, "Quota 1000 used", "shop.billing in charge", "overXlimit"),
            ])
            .await
            .unwrap();
        assert_searches(
            store,
            org,
            &[
                ("DIVISION by", &["ZeroDivisionError: division by zero"]),
                ("auth in", &["KeyError: 'user'"]),
                // `%` and `_` are literal.
                ("100%", &["Quota 100% used"]),
                ("over_limit", &["Quota 100% used"]),
                ("\"'user'\"", &["KeyError: 'user'"]),
                ("nothing like this", &[]),
            ],
        )
        .await;
    }

    pub async fn search_by_environment_time_and_project(store: &dyn Store) {
        let org = store.ensure_organization("acme").await.unwrap();
        let (shop, _) = store.create_project(org.id, "shop", None).await.unwrap();
        let (blog, _) = store.create_project(org.id, "blog", None).await.unwrap();
        let issue = |project, n, title: &str, env: &str, offset| NewEvent {
            title: title.into(),
            tags: vec![("environment".into(), env.into())],
            environment: Some(env.into()),
            ..event(project, n, &[title], offset)
        };
        store
            .save_events(vec![
                issue(shop.id, 1, "early", "production", 0.0),
                issue(shop.id, 2, "early", "production", 100.0),
                issue(shop.id, 3, "middle", "staging", 200.0),
                issue(blog.id, 4, "late", "production", 300.0),
            ])
            .await
            .unwrap();
        let mut q = query(org.id, "");
        q.environments = vec!["production".into()];
        assert_eq!(titles(store, &q).await, ["late", "early"]);
        q.environments = vec!["staging".into(), "development".into()];
        assert_eq!(titles(store, &q).await, ["middle"]);

        let mut q = query(org.id, "");
        q.seen_since = Some(T0 + 150.0);
        assert_eq!(titles(store, &q).await, ["late", "middle"]);
        q.seen_until = Some(T0 + 250.0);
        assert_eq!(titles(store, &q).await, ["middle"]);
        q.seen_since = Some(T0 + 50.0);
        q.seen_until = Some(T0 + 60.0);
        assert_eq!(
            titles(store, &q).await,
            ["early"],
            "seen before and after: overlaps"
        );

        let mut q = query(org.id, "");
        q.project_ids = vec![blog.id];
        assert_eq!(titles(store, &q).await, ["late"]);
        q.project_ids = vec![shop.id, blog.id];
        assert_eq!(titles(store, &q).await, ["late", "middle", "early"]);
    }

    pub async fn search_is_scoped_to_the_organization(store: &dyn Store) {
        let (acme, acme_project) = project(store, "acme").await;
        let (other, other_project) = project(store, "other").await;
        store
            .save_events(vec![
                NewEvent {
                    title: "acme's".into(),
                    ..event(acme_project, 1, &["a"], 0.0)
                },
                NewEvent {
                    title: "other's".into(),
                    ..event(other_project, 2, &["a"], 0.0)
                },
            ])
            .await
            .unwrap();
        assert_eq!(titles(store, &query(acme, "")).await, ["acme's"]);
        assert_eq!(titles(store, &query(other, "")).await, ["other's"]);
        let mut q = query(acme, "");
        q.project_ids = vec![other_project];
        assert_eq!(
            titles(store, &q).await,
            Vec::<String>::new(),
            "another org's project"
        );
    }

    pub async fn search_sorts_and_pages(store: &dyn Store) {
        let (org, project) = project(store, "acme").await;
        let at = |n, title: &str, user: &str, offset| NewEvent {
            title: title.into(),
            user_tag: Some(user.to_owned()).filter(|u| !u.is_empty()),
            ..event(project, n, &[title], offset)
        };
        store
            .save_events(vec![
                // "a": first seen first, 3 events, 1 user, last seen at 50.
                at(1, "a", "u1", 0.0),
                at(2, "a", "u1", 40.0),
                at(3, "a", "u1", 50.0),
                // "b": 2 events, 2 users, last seen at 30.
                at(4, "b", "u1", 10.0),
                at(5, "b", "u2", 30.0),
                // "c": 1 event, no user, first seen last, last seen at 20.
                at(6, "c", "", 20.0),
            ])
            .await
            .unwrap();
        let sorted = |sort| IssueQuery {
            sort,
            ..query(org, "")
        };
        for (sort, expected) in [
            (IssueSort::LastSeen, ["a", "b", "c"]),
            (IssueSort::FirstSeen, ["c", "b", "a"]),
            (IssueSort::Events, ["a", "b", "c"]),
            (IssueSort::Users, ["b", "a", "c"]),
        ] {
            assert_eq!(titles(store, &sorted(sort)).await, expected, "{sort:?}");
        }

        let page = |offset, limit| IssueQuery {
            offset,
            limit,
            ..sorted(IssueSort::LastSeen)
        };
        assert_eq!(titles(store, &page(0, 2)).await, ["a", "b"]);
        assert_eq!(titles(store, &page(2, 2)).await, ["c"]);
        assert_eq!(titles(store, &page(3, 2)).await, Vec::<String>::new());

        // Ties fall back to the newest issue id, so pages never overlap.
        store
            .save_events(vec![at(7, "d", "u1", 100.0), at(8, "e", "u1", 100.0)])
            .await
            .unwrap();
        assert_eq!(titles(store, &page(0, 2)).await, ["e", "d"]);
    }

    pub async fn event_reads_round_trip_the_data(store: &dyn Store) {
        let (_, project) = project(store, "acme").await;
        let rich = NewEvent {
            user_tag: Some("id:7".into()),
            tags: vec![
                ("browser".into(), "Firefox".into()),
                ("level".into(), "error".into()),
            ],
            data: json!({
                "event_id": event_id(2),
                "exception": {"values": [{"type": "ZeroDivisionError", "value": "division by zero",
                    "stacktrace": {"frames": [{"function": "checkout", "lineno": 12,
                        "vars": {"total": 0, "ü": "ünïcode"}}]}}]},
                "breadcrumbs": {"values": [{"category": "query", "message": "SELECT 1"}]},
                "extra": {"big": "x".repeat(10_000)},
            })
            .into(),
            ..event(project, 2, &["a"], 20.0)
        };
        let saved = store
            .save_events(vec![
                event(project, 1, &["a"], 10.0),
                rich.clone(),
                // Same timestamp as the first, received later: newer.
                NewEvent {
                    received: T0 + 99.0,
                    ..event(project, 3, &["a"], 10.0)
                },
            ])
            .await
            .unwrap();
        let issue_id = saved[0].issue_id;

        let stored = store
            .event_by_id(project, &event_id(2))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(stored.data, rich.data.to_value());
        assert_eq!(
            stored.size,
            serde_json::to_vec(&rich.data).unwrap().len() as i64
        );
        assert_eq!(stored.project_id, project);
        assert_eq!(stored.issue_id, Some(issue_id));
        assert_eq!(stored.event_type, "error");
        assert_eq!(stored.timestamp, rich.timestamp);
        assert_eq!(stored.received, rich.received);
        assert_eq!(stored.level, rich.level);
        assert_eq!(stored.platform, rich.platform);
        assert_eq!(stored.title, rich.title);
        assert_eq!(stored.culprit, rich.culprit);
        assert_eq!(stored.environment, rich.environment);
        assert_eq!(stored.release, rich.release);
        assert_eq!(stored.transaction, rich.transaction);
        assert_eq!(stored.user_tag, rich.user_tag);
        assert_eq!(stored.tags, rich.tags);
        assert_eq!(
            store.event_by_id(project, &event_id(9)).await.unwrap(),
            None
        );
        assert_eq!(
            store.event_by_id(project + 1, &event_id(2)).await.unwrap(),
            None
        );

        let ids = |events: Vec<vigil_store::StoredEvent>| {
            events.into_iter().map(|e| e.event_id).collect::<Vec<_>>()
        };
        assert_eq!(
            ids(store.issue_events(issue_id, 0, 10).await.unwrap()),
            [event_id(2), event_id(3), event_id(1)]
        );
        assert_eq!(
            ids(store.issue_events(issue_id, 1, 1).await.unwrap()),
            [event_id(3)]
        );
        let latest = store
            .issue_edge_event(issue_id, true)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(latest, stored);
        let oldest = store
            .issue_edge_event(issue_id, false)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(oldest.event_id, event_id(1));
        assert_eq!(
            store.issue_edge_event(issue_id + 1000, true).await.unwrap(),
            None
        );
    }

    pub async fn invalid_event_is_rejected_before_anything_is_written(store: &dyn Store) {
        let (org, project) = project(store, "acme").await;
        let result = store
            .save_events(vec![
                event(project, 1, &["a"], 0.0),
                event(project, 2, &[], 0.0),
            ])
            .await;
        assert!(matches!(result, Err(StoreError::Invalid(_))), "{result:?}");
        let nan = NewEvent {
            timestamp: f64::NAN,
            ..event(project, 3, &["a"], 0.0)
        };
        assert!(matches!(
            store.save_events(vec![nan]).await,
            Err(StoreError::Invalid(_))
        ));
        assert_eq!(titles(store, &query(org, "")).await, Vec::<String>::new());
        assert_eq!(
            store.event_by_id(project, &event_id(1)).await.unwrap(),
            None
        );
        assert_eq!(store.save_events(vec![]).await.unwrap(), vec![]);
    }

    pub async fn event_of_unknown_project_is_not_found(store: &dyn Store) {
        let (org, project) = project(store, "acme").await;
        let result = store
            .save_events(vec![
                event(project, 1, &["a"], 0.0),
                event(project + 1000, 2, &["a"], 0.0),
            ])
            .await;
        assert!(matches!(result, Err(StoreError::NotFound(_))), "{result:?}");
        assert_eq!(
            titles(store, &query(org, "")).await,
            Vec::<String>::new(),
            "the batch is one transaction"
        );
    }

    pub async fn concurrent_batches_count_every_event(store: &dyn Store) {
        let (org, project) = project(store, "acme").await;
        let batch = |first: u32| {
            let events = (first..first + 50)
                .map(|n| event(project, n, &["a"], f64::from(n)))
                .collect();
            store.save_events(events)
        };
        let reads = async {
            for _ in 0..20 {
                store.search_issues(&query(org, "")).await.unwrap();
            }
        };
        let (a, b, c, d, ()) = tokio::join!(batch(0), batch(50), batch(100), batch(150), reads);
        for saved in [a, b, c, d] {
            assert!(saved.unwrap().iter().all(|s| !s.duplicate));
        }
        let issues = store.search_issues(&query(org, "")).await.unwrap();
        assert_eq!(issues.len(), 1);
        assert_eq!(issues[0].times_seen, 200);
        assert_eq!(issues[0].short_id, 1);
    }

    pub async fn raw_items_keep_their_payload(store: &dyn Store) {
        let (_, project) = project(store, "acme").await;
        let item = |item_type: &str, received, payload: &[u8]| RawItem {
            project_id: project,
            item_type: item_type.into(),
            event_id: Some(event_id(1)),
            received: T0 + received,
            headers: json!({"type": item_type, "length": payload.len()}),
            payload: payload.to_vec(),
            dedup_key: Some(format!("q1-{received}")),
        };
        let later = item("session", 2.0, b"{\"sid\":\"2\"}");
        let earlier = RawItem {
            event_id: None,
            ..item("session", 1.0, b"{\"sid\":\"1\"}")
        };
        let binary = RawItem {
            dedup_key: None,
            ..item("attachment", 1.0, &[0, 159, 146, 150, 255])
        };
        store
            .save_raw_items(vec![later.clone(), earlier.clone(), binary.clone()])
            .await
            .unwrap();
        assert_eq!(
            store.raw_items(project, "session").await.unwrap(),
            vec![earlier, later.clone()]
        );
        assert_eq!(
            store.raw_items(project, "attachment").await.unwrap(),
            vec![binary.clone()]
        );
        assert_eq!(store.raw_items(project, "check_in").await.unwrap(), vec![]);
        assert_eq!(
            store.raw_items(project + 1, "session").await.unwrap(),
            vec![]
        );
        // The same delivery processed again (a crash before the queue's ack) adds nothing;
        // items without a key are always kept.
        store
            .save_raw_items(vec![later.clone(), binary.clone()])
            .await
            .unwrap();
        assert_eq!(store.raw_items(project, "session").await.unwrap().len(), 2);
        assert_eq!(
            store.raw_items(project, "attachment").await.unwrap().len(),
            2
        );
    }

    fn outcome_row(
        project_id: i64,
        hour: i64,
        category: DataCategory,
        outcome: Outcome,
        reason: &str,
        quantity: i64,
    ) -> OutcomeRow {
        OutcomeRow {
            project_id,
            hour,
            category,
            outcome,
            reason: reason.into(),
            quantity,
            times_seen: 1,
        }
    }

    pub async fn outcomes_are_summed_per_hour_and_read_by_filter(store: &dyn Store) {
        let (_, project) = project(store, "acme").await;
        let (_, other) = common::project_named(store, "acme", "other").await;
        let h0 = hour_of(T0);
        let h1 = h0 + 3600;
        use DataCategory::{Attachment, Error, Transaction};
        use Outcome::{Accepted, Invalid, RateLimited};
        store
            .add_outcomes(vec![
                outcome_row(project, h0, Error, Accepted, NO_REASON, 2),
                outcome_row(project, h0, Error, Accepted, NO_REASON, 3),
                outcome_row(project, h0, Error, RateLimited, "key_quota", 4),
                outcome_row(project, h1, Transaction, Accepted, NO_REASON, 1),
                outcome_row(other, h1, Attachment, Invalid, "too_large", 1024),
            ])
            .await
            .unwrap();
        // A second flush adds to the same rows.
        store
            .add_outcomes(vec![outcome_row(
                project, h0, Error, Accepted, NO_REASON, 1,
            )])
            .await
            .unwrap();
        let all = OutcomeQuery {
            project_ids: vec![project, other],
            since_hour: h0,
            until_hour: h1 + 3600,
            ..OutcomeQuery::default()
        };
        let rows = store.outcomes(&all).await.unwrap();
        let seen: Vec<(i64, i64, &str, Outcome, &str, i64, i64)> = rows
            .iter()
            .map(|r| {
                let (p, h, c, o, why) = r.key();
                (p, h, c.name(), o, why, r.quantity, r.times_seen)
            })
            .collect();
        assert_eq!(
            seen,
            vec![
                (project, h0, "error", Accepted, "none", 6, 3),
                (project, h0, "error", RateLimited, "key_quota", 4, 1),
                (project, h1, "transaction", Accepted, "none", 1, 1),
                (other, h1, "attachment", Invalid, "too_large", 1024, 1),
            ]
        );
        // Each filter narrows; the hour range is half-open.
        let only = |query: OutcomeQuery| async move {
            store
                .outcomes(&query)
                .await
                .unwrap()
                .iter()
                .map(|r| (r.project_id, r.hour, r.quantity))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            only(OutcomeQuery {
                until_hour: h1,
                ..all.clone()
            })
            .await,
            vec![(project, h0, 6), (project, h0, 4)]
        );
        assert_eq!(
            only(OutcomeQuery {
                project_ids: vec![other],
                ..all.clone()
            })
            .await,
            vec![(other, h1, 1024)]
        );
        assert_eq!(
            only(OutcomeQuery {
                categories: vec![Transaction, Attachment],
                ..all.clone()
            })
            .await,
            vec![(project, h1, 1), (other, h1, 1024)]
        );
        assert_eq!(
            only(OutcomeQuery {
                outcomes: vec![RateLimited],
                ..all.clone()
            })
            .await,
            vec![(project, h0, 4)]
        );
        assert_eq!(
            only(OutcomeQuery {
                reasons: vec!["too_large".into()],
                ..all.clone()
            })
            .await,
            vec![(other, h1, 1024)]
        );
        assert_eq!(
            only(OutcomeQuery {
                project_ids: vec![],
                ..all.clone()
            })
            .await,
            vec![]
        );
    }

    pub async fn delivery_outcomes_count_once_per_source(store: &dyn Store) {
        let (_, project) = project(store, "acme").await;
        let h0 = hour_of(T0);
        let delivery = |source: &str, quantity| DeliveryOutcomes {
            project_id: project,
            source: source.into(),
            rows: vec![
                outcome_row(
                    project,
                    h0,
                    DataCategory::Error,
                    Outcome::Accepted,
                    NO_REASON,
                    quantity,
                ),
                outcome_row(
                    project,
                    h0,
                    DataCategory::Transaction,
                    Outcome::ClientDiscard,
                    "sample_rate",
                    2,
                ),
            ],
        };
        assert_eq!(
            store
                .add_delivery_outcomes(vec![delivery("q1-a", 1), delivery("q2-b", 5)])
                .await
                .unwrap(),
            2
        );
        // The batch processed again (after a crash before its acknowledgement), with one new
        // delivery beside it: only the new one counts.
        assert_eq!(
            store
                .add_delivery_outcomes(vec![
                    delivery("q1-a", 1),
                    delivery("q3-c", 10),
                    delivery("q2-b", 5)
                ])
                .await
                .unwrap(),
            1
        );
        let rows = store
            .outcomes(&OutcomeQuery {
                project_ids: vec![project],
                since_hour: h0,
                until_hour: h0 + 3600,
                ..OutcomeQuery::default()
            })
            .await
            .unwrap();
        let totals: Vec<(Outcome, i64, i64)> = rows
            .iter()
            .map(|r| (r.outcome, r.quantity, r.times_seen))
            .collect();
        assert_eq!(
            totals,
            vec![(Outcome::Accepted, 16, 3), (Outcome::ClientDiscard, 6, 3)]
        );
    }

    pub async fn retention_deletes_outcomes_of_ended_hours(store: &dyn Store) {
        let (_, project) = project(store, "acme").await;
        let h0 = hour_of(T0);
        let row = |hour| {
            outcome_row(
                project,
                hour,
                DataCategory::Error,
                Outcome::Accepted,
                NO_REASON,
                1,
            )
        };
        store
            .add_outcomes(vec![row(h0 - 3600), row(h0), row(h0 + 3600)])
            .await
            .unwrap();
        // The cutoff falls inside hour h0: that hour has not wholly ended, so it stays.
        store
            .delete_expired((h0 + 1800) as f64, 1000)
            .await
            .unwrap();
        let rows = store
            .outcomes(&OutcomeQuery {
                project_ids: vec![project],
                since_hour: h0 - 7200,
                until_hour: h0 + 7200,
                ..OutcomeQuery::default()
            })
            .await
            .unwrap();
        let hours: Vec<i64> = rows.iter().map(|r| r.hour).collect();
        assert_eq!(hours, vec![h0, h0 + 3600]);
    }

    pub async fn jobs_are_claimed_once_per_interval(store: &dyn Store) {
        assert!(store.claim_job("retention", 3600.0).await.unwrap());
        assert!(!store.claim_job("retention", 3600.0).await.unwrap());
        assert!(
            store.claim_job("digest", 0.0).await.unwrap(),
            "jobs are separate"
        );
        // An interval of zero is due again at once.
        assert!(store.claim_job("digest", 0.0).await.unwrap());
        // Concurrent claimants of a due job: exactly one wins.
        let claims =
            futures_util::future::join_all((0..8).map(|_| store.claim_job("race", 3600.0))).await;
        assert_eq!(
            claims.into_iter().filter(|c| *c.as_ref().unwrap()).count(),
            1
        );
    }

    pub async fn expired_events_are_deleted_and_uncounted(store: &dyn Store) {
        super::retention_case(store).await;
    }

    pub async fn releases_are_created_once_and_updated(store: &dyn Store) {
        let (org, project) = project(store, "acme").await;
        let fields = ReleaseFields {
            date_started: Some(T0),
            ..ReleaseFields::default()
        };
        let (release, created) = store
            .upsert_release(org, "shop@1.4.2", &[project], &fields)
            .await
            .unwrap();
        assert!(created);
        assert_eq!(release.version, "shop@1.4.2");
        assert_eq!(release.projects, vec![(project, 0)]);
        assert_eq!(release.date_released, None);

        let finalize = ReleaseFields {
            date_released: Some(T0 + 60.0),
            ..ReleaseFields::default()
        };
        let (release, created) = store
            .upsert_release(org, "shop@1.4.2", &[project], &finalize)
            .await
            .unwrap();
        assert!(!created);
        assert_eq!(release.date_released, Some(T0 + 60.0));
        assert_eq!(
            release.date_started,
            Some(T0),
            "fields not given stay as they were"
        );

        store
            .upsert_release(org, "shop@1.5.0", &[project], &ReleaseFields::default())
            .await
            .unwrap();
        let all = store
            .list_releases(&releases_of(org, Some(project), None))
            .await
            .unwrap();
        assert_eq!(
            all.iter().map(|r| r.version.as_str()).collect::<Vec<_>>(),
            vec!["shop@1.5.0", "shop@1.4.2"]
        );
        let filtered = store
            .list_releases(&releases_of(org, None, Some("1.4")))
            .await
            .unwrap();
        assert_eq!(filtered.len(), 1);
        assert_eq!(filtered[0].status, "open", "a new release is open");

        // Archived, it leaves the list of open releases and is in the archived one; fields not
        // given (its status) stay as they were on a later update.
        let archive = ReleaseFields {
            status: Some("archived".into()),
            ..ReleaseFields::default()
        };
        let (archived, _) = store
            .upsert_release(org, "shop@1.4.2", &[], &archive)
            .await
            .unwrap();
        assert_eq!(archived.status, "archived");
        let (still, _) = store
            .upsert_release(org, "shop@1.4.2", &[], &ReleaseFields::default())
            .await
            .unwrap();
        assert_eq!(still.status, "archived");
        let with_status = |status: &str| {
            let mut query = releases_of(org, None, None);
            query.status = Some(status.to_owned());
            query
        };
        let open = store.list_releases(&with_status("open")).await.unwrap();
        assert_eq!(
            open.iter().map(|r| r.version.as_str()).collect::<Vec<_>>(),
            vec!["shop@1.5.0"]
        );
        let archived = store.list_releases(&with_status("archived")).await.unwrap();
        assert_eq!(
            archived
                .iter()
                .map(|r| r.version.as_str())
                .collect::<Vec<_>>(),
            vec!["shop@1.4.2"]
        );
        assert!(store
            .list_releases(&releases_of(org, Some(project + 1), None))
            .await
            .unwrap()
            .is_empty());

        assert!(store.delete_release(org, "shop@1.5.0").await.unwrap());
        assert!(!store.delete_release(org, "shop@1.5.0").await.unwrap());
        assert!(store
            .release_by_version(org, "shop@1.5.0")
            .await
            .unwrap()
            .is_none());
    }

    pub async fn events_create_releases_and_count_new_issues(store: &dyn Store) {
        let (org, project) = project(store, "acme").await;
        let events = events_of(project, &[(1, "a", 10.0), (2, "a", 0.0), (3, "b", 20.0)]);
        common::save(store, events).await;
        let release = store
            .release_by_version(org, "shop@1.0")
            .await
            .unwrap()
            .expect("created by events");
        assert_eq!(release.first_event, Some(T0));
        assert_eq!(release.last_event, Some(T0 + 20.0));
        assert_eq!(release.new_groups, 2);
        assert_eq!(release.projects, vec![(project, 2)]);
        common::save_one(store, event(project, 4, &["a"], 30.0)).await;
        let release = store
            .release_by_version(org, "shop@1.0")
            .await
            .unwrap()
            .expect("still there");
        assert_eq!(
            release.new_groups, 2,
            "an event of a known issue is not a new group"
        );
        assert_eq!(release.last_event, Some(T0 + 30.0));
    }

    pub async fn key_rate_limit_is_set_and_cleared(store: &dyn Store) {
        let org = store.ensure_organization("acme").await.unwrap();
        let (_, key) = store.create_project(org.id, "shop", None).await.unwrap();
        assert_eq!(key.rate_limit, None, "new keys are unlimited");
        let limit = vigil_store::KeyRateLimit {
            count: 100,
            window_secs: 60,
        };
        store.set_key_rate_limit(key.id, Some(limit)).await.unwrap();
        let read = key_of(store, &key.public_key).await.unwrap();
        assert_eq!(read.rate_limit, Some(limit));
        store.set_key_rate_limit(key.id, None).await.unwrap();
        let read = key_of(store, &key.public_key).await.unwrap();
        assert_eq!(read.rate_limit, None);
        assert!(matches!(
            store.set_key_rate_limit(key.id + 1000, None).await,
            Err(StoreError::NotFound(_))
        ));
    }

    pub async fn keys_are_added_and_deleted(store: &dyn Store) {
        let org = store.ensure_organization("acme").await.unwrap();
        let (project, first) = store.create_project(org.id, "shop", None).await.unwrap();
        let second = store.create_key(project.id, "CI").await.unwrap();
        assert_eq!(second.project_id, project.id);
        assert_eq!(second.label, "CI");
        assert!(second.is_active);
        assert_eq!(second.rate_limit, None);
        assert_ne!(second.public_key, first.public_key);
        assert_eq!(second.public_key.len(), 32);
        let keys = store.list_keys(project.id).await.unwrap();
        assert_eq!(
            keys.iter().map(|k| k.id).collect::<Vec<_>>(),
            [first.id, second.id]
        );
        assert!(store.delete_key(first.id).await.unwrap());
        assert!(!store.delete_key(first.id).await.unwrap(), "deleted once");
        assert!(key_of(store, &first.public_key).await.is_none());
        assert_eq!(store.list_keys(project.id).await.unwrap(), [second]);
        assert!(matches!(
            store.create_key(project.id + 1000, "x").await,
            Err(StoreError::NotFound(_))
        ));
    }

    pub async fn scrubbing_settings_default_then_changed_per_project(store: &dyn Store) {
        let (_, shop) = project(store, "acme").await;
        let (_, api) = common::project_named(store, "acme", "api").await;
        assert_eq!(
            store.scrubbing_settings(shop).await.unwrap(),
            ScrubbingSettings::default()
        );
        let changed = ScrubbingSettings {
            data_scrubber: false,
            data_scrubber_defaults: false,
            scrub_ip_addresses: true,
            sensitive_fields: vec!["card_number".into(), "naïve \"quoted\"".into()],
            safe_fields: vec!["user.id".into()],
            // Kept as written, spacing and all.
            relay_pii_config: Some(
                "{\"rules\": {\"0\": {\"type\": \"anything\"}},\n \"applications\": {\"extra.é\": [\"0\"]}}"
                    .into(),
            ),
        };
        store.set_scrubbing_settings(shop, &changed).await.unwrap();
        assert_eq!(store.scrubbing_settings(shop).await.unwrap(), changed);
        assert_eq!(
            store.scrubbing_settings(api).await.unwrap(),
            ScrubbingSettings::default(),
            "another project keeps the defaults"
        );
        // Written whole: the second write replaces the lists, empty ones included, and clears
        // the advanced rules.
        let again = ScrubbingSettings {
            data_scrubber: true,
            sensitive_fields: vec![],
            relay_pii_config: None,
            ..changed
        };
        store.set_scrubbing_settings(shop, &again).await.unwrap();
        assert_eq!(store.scrubbing_settings(shop).await.unwrap(), again);
    }

    pub async fn scrubbing_settings_with_unusable_field_lists_are_refused(store: &dyn Store) {
        let (_, shop) = project(store, "acme").await;
        let long = "x".repeat(vigil_store::MAX_FIELD_LIST_CHARS + 1);
        for (sensitive, safe) in [
            (vec![" ".to_string()], vec![]),
            (vec![], vec!["a\nb".to_string()]),
            (vec![long], vec![]),
        ] {
            let settings = ScrubbingSettings {
                sensitive_fields: sensitive,
                safe_fields: safe,
                ..ScrubbingSettings::default()
            };
            assert!(
                matches!(
                    store.set_scrubbing_settings(shop, &settings).await,
                    Err(StoreError::Invalid(_))
                ),
                "{settings:?}"
            );
        }
        assert_eq!(
            store.scrubbing_settings(shop).await.unwrap(),
            ScrubbingSettings::default()
        );
    }

    pub async fn inbound_filters_default_then_changed_per_project(store: &dyn Store) {
        let (_, shop) = project(store, "acme").await;
        let (_, api) = common::project_named(store, "acme", "api").await;
        assert_eq!(
            store.inbound_filters(shop).await.unwrap(),
            InboundFilters::default()
        );
        let changed = InboundFilters {
            browser_extensions: false,
            localhost: true,
            web_crawlers: false,
            filtered_transaction: false,
            legacy_browsers: LegacyBrowsers::only(["ie11", "safari_pre_6"]),
            react_hydration_errors: false,
            chunk_load_error: true,
            error_messages: vec!["*ResizeObserver loop*".into(), "naïve \"quoted\"".into()],
            releases: vec!["shop@1.*".into()],
            blacklisted_ips: vec!["10.0.0.0/8".into(), "::1".into()],
            csp_ignored_sources_defaults: false,
            csp_ignored_sources: vec!["*.ads.example".into(), "chrome-extension://*".into()],
        };
        store.set_inbound_filters(shop, &changed).await.unwrap();
        assert_eq!(store.inbound_filters(shop).await.unwrap(), changed);
        assert_eq!(
            store.inbound_filters(api).await.unwrap(),
            InboundFilters::default(),
            "another project keeps the defaults"
        );
        // Written whole: each legacy-browser state and emptied lists come back as written.
        for legacy in [LegacyBrowsers::Default, LegacyBrowsers::Off] {
            let again = InboundFilters {
                legacy_browsers: legacy,
                releases: vec![],
                ..changed.clone()
            };
            store.set_inbound_filters(shop, &again).await.unwrap();
            assert_eq!(store.inbound_filters(shop).await.unwrap(), again);
        }
    }

    pub async fn inbound_filters_with_bad_ip_entries_are_refused(store: &dyn Store) {
        let (_, shop) = project(store, "acme").await;
        for bad in ["10.0.0.0/33", "localhost", "1.2.3.4/"] {
            let filters = InboundFilters {
                blacklisted_ips: vec!["10.0.0.1".into(), bad.into()],
                ..InboundFilters::default()
            };
            assert!(
                matches!(
                    store.set_inbound_filters(shop, &filters).await,
                    Err(StoreError::Invalid(_))
                ),
                "{bad}"
            );
        }
        assert_eq!(
            store.inbound_filters(shop).await.unwrap(),
            InboundFilters::default()
        );
    }

    pub async fn secret_is_made_once_and_kept(store: &dyn Store) {
        let first = store.secret("session", b"first").await.unwrap();
        assert_eq!(first, b"first");
        let again = store.secret("session", b"second").await.unwrap();
        assert_eq!(again, b"first", "the first secret stays");
        let other = store.secret("other", b"third").await.unwrap();
        assert_eq!(other, b"third", "secrets are per name");
    }

    pub async fn hourly_counts_bucket_events_by_hour(store: &dyn Store) {
        let (_, project) = project(store, "acme").await;
        // T0 is 22:13:20 UTC: +0 and +100 s share an hour, +3600 s is the next one.
        let events = events_of(project, &[(1, "a", 0.0), (2, "a", 100.0), (3, "a", 3600.0)]);
        let saved = common::save(store, events).await;
        let issue = saved[0].issue_id;
        let hour = |t: f64| ((t / 3600.0).floor() * 3600.0) as i64;
        assert_eq!(
            store
                .issue_hourly_counts(&[issue], T0 - 7200.0)
                .await
                .unwrap(),
            vec![(issue, hour(T0), 2), (issue, hour(T0 + 3600.0), 1)]
        );
        assert_eq!(
            store
                .issue_hourly_counts(&[issue], T0 + 3600.0)
                .await
                .unwrap(),
            vec![(issue, hour(T0 + 3600.0), 1)]
        );
    }

    pub async fn deploys_belong_to_their_release(store: &dyn Store) {
        let (org, project) = project(store, "acme").await;
        let (release, _) = store
            .upsert_release(org, "shop@2", &[project], &ReleaseFields::default())
            .await
            .unwrap();
        let deploy = store
            .create_deploy(
                release.id,
                &NewDeploy {
                    environment: "production".into(),
                    name: None,
                    url: None,
                    date_started: None,
                    date_finished: Some(T0),
                },
            )
            .await
            .unwrap();
        assert_eq!(deploy.environment, "production");
        assert_eq!(
            store.list_deploys(release.id).await.unwrap(),
            vec![deploy.clone()]
        );
        let release = store
            .release_by_version(org, "shop@2")
            .await
            .unwrap()
            .expect("exists");
        assert_eq!(release.deploy_count, 1);
        assert_eq!(release.last_deploy, Some(deploy));
    }
}

// --- SQLite only ------------------------------------------------------------------------------

/// How many migrations a backend has: the `.sql` files beside its code.
fn migration_files(backend: &str) -> usize {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("src")
        .join(backend)
        .join("migrations");
    std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .filter(|entry| {
            entry
                .as_ref()
                .is_ok_and(|e| e.path().extension().is_some_and(|x| x == "sql"))
        })
        .count()
}

fn sqlite_pragma(path: &Path, sql: &str) -> String {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.query_row(sql, [], |row| row.get::<_, rusqlite::types::Value>(0))
        .map(|value| match value {
            rusqlite::types::Value::Text(s) => s,
            rusqlite::types::Value::Integer(n) => n.to_string(),
            other => format!("{other:?}"),
        })
        .unwrap()
}

#[tokio::test]
async fn sqlite_migrations_run_once_across_opens() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("vigil.sqlite3");
    let project_id = {
        let store = SqliteStore::open(&path).unwrap();
        project(&store, "acme").await.1
    };
    let store = SqliteStore::open(&path).unwrap();
    assert_eq!(
        store.project_by_id(project_id).await.unwrap().unwrap().slug,
        "shop"
    );
    assert_eq!(
        sqlite_pragma(&path, "SELECT count(*) FROM schema_migrations"),
        migration_files("sqlite").to_string(),
        "each migration recorded once"
    );
}

#[tokio::test]
async fn sqlite_open_creates_directories_and_uses_wal() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("a/b/vigil.sqlite3");
    let store = SqliteStore::open(&path).unwrap();
    store.ping().await.unwrap();
    assert!(path.exists());
    assert_eq!(sqlite_pragma(&path, "PRAGMA journal_mode"), "wal");
}

#[tokio::test]
async fn sqlite_refuses_a_database_from_a_newer_vigil() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("vigil.sqlite3");
    drop(SqliteStore::open(&path).unwrap());
    sqlite_pragma(
        &path,
        "INSERT INTO schema_migrations VALUES (999, 0) RETURNING version",
    );
    assert!(matches!(
        SqliteStore::open(&path),
        Err(StoreError::Database(_))
    ));
}

// --- PostgreSQL only ---------------------------------------------------------------------------

/// Runs one SQL statement on the database at `url` and returns the first column of the first
/// row as text.
async fn postgres_value(url: &str, sql: &str) -> String {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    let messages = client.simple_query(sql).await.unwrap();
    messages
        .iter()
        .find_map(|m| match m {
            tokio_postgres::SimpleQueryMessage::Row(row) => row.get(0).map(str::to_owned),
            _ => None,
        })
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_nodes_starting_together_migrate_once() {
    let database = test_database().await;
    let url = database.url();
    let (a, b, c) = tokio::join!(
        PgStore::connect(url),
        PgStore::connect(url),
        PgStore::connect(url)
    );
    let (a, b, c) = (a.unwrap(), b.unwrap(), c.unwrap());
    let project_id = project(&a, "acme").await.1;
    assert_eq!(
        b.project_by_id(project_id).await.unwrap().unwrap().slug,
        "shop"
    );
    c.ping().await.unwrap();
    assert_eq!(
        postgres_value(url, "SELECT count(*) FROM schema_migrations").await,
        migration_files("postgres").to_string(),
        "each migration recorded once"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_refuses_a_database_from_a_newer_vigil() {
    let database = test_database().await;
    drop(PgStore::connect(database.url()).await.unwrap());
    postgres_value(
        database.url(),
        "INSERT INTO schema_migrations VALUES (999, 0) RETURNING version",
    )
    .await;
    assert!(matches!(
        PgStore::connect(database.url()).await,
        Err(StoreError::Database(_))
    ));
}

/// Two nodes (two stores with their own connections) write batches at the same moment that
/// bring the first events of the same new groups, overlap in event ids, and name the same users:
/// each group is one issue, every distinct event counts once, and short ids do not collide.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_nodes_racing_on_new_groups_make_one_issue_each() {
    const GROUPS: u32 = 12;
    const WRITERS: u32 = 6;
    const EVENTS_PER_WRITER: u32 = 60;
    let database = test_database().await;
    let nodes = [
        PgStore::connect(database.url()).await.unwrap(),
        PgStore::connect(database.url()).await.unwrap(),
    ];
    let (org, project_id) = project(&nodes[0], "acme").await;
    let hash = |n: u32| format!("group-{}", n % GROUPS);
    let writes = (0..WRITERS).map(|writer| {
        let store = nodes[(writer % 2) as usize].clone();
        let hash = &hash;
        async move {
            // Writers 2k and 2k+1 send the same event ids, one through each node.
            let first = (writer / 2) * EVENTS_PER_WRITER;
            for chunk in (first..first + EVENTS_PER_WRITER)
                .collect::<Vec<_>>()
                .chunks(20)
            {
                let events = chunk
                    .iter()
                    .map(|&n| NewEvent {
                        title: hash(n),
                        user_tag: Some(format!("id:{}", n % 5)),
                        ..event(project_id, n, &[&hash(n)], f64::from(n))
                    })
                    .collect();
                store.save_events(events).await.unwrap();
            }
        }
    });
    futures_util::future::join_all(writes).await;

    let mut q = query(org, "");
    q.sort = IssueSort::Events;
    let issues = nodes[1].search_issues(&q).await.unwrap();
    assert_eq!(issues.len(), GROUPS as usize, "one issue per group");
    let distinct_events = WRITERS / 2 * EVENTS_PER_WRITER;
    assert_eq!(
        issues.iter().map(|i| i.times_seen).sum::<i64>(),
        i64::from(distinct_events),
        "every distinct event counted once"
    );
    for issue in &issues {
        assert_eq!(issue.times_seen, i64::from(distinct_events / GROUPS));
        assert_eq!(issue.user_count, 5, "{}", issue.title);
        let hourly: i64 = nodes[0]
            .issue_hourly_counts(&[issue.id], 0.0)
            .await
            .unwrap()
            .iter()
            .map(|(_, _, count)| count)
            .sum();
        assert_eq!(hourly, issue.times_seen);
    }
    let mut short_ids: Vec<i64> = issues.iter().map(|i| i.short_id).collect();
    short_ids.sort_unstable();
    assert_eq!(short_ids, (1..=i64::from(GROUPS)).collect::<Vec<_>>());
    let release = nodes[0]
        .release_by_version(org, "shop@1.0")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(release.new_groups, i64::from(GROUPS));
}

/// Events are compressed against their hash's reference event, whichever node stored it: every
/// event reads back exactly, and the events that follow the reference take a fraction of its
/// space.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_events_are_compressed_against_their_hash_reference() {
    let database = test_database().await;
    let url = database.url();
    let nodes = [
        PgStore::connect(url).await.unwrap(),
        PgStore::connect(url).await.unwrap(),
    ];
    let (_, project_id) = project(&nodes[0], "acme").await;
    // A stack trace that is the same in every event and does not compress much on its own
    // (pseudo-random text), and what differs per event.
    let mut seed: u64 = 7;
    let frames: Vec<serde_json::Value> = (0..40)
        .map(|_| {
            let text: String = (0..60)
                .map(|_| {
                    seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                    char::from(b'a' + ((seed >> 33) % 26) as u8)
                })
                .collect();
            json!({"function": text, "lineno": seed % 1000})
        })
        .collect();
    let rich = |n: u32| NewEvent {
        data: json!({"event_id": event_id(n), "n": n,
                     "exception": {"values": [{"stacktrace": {"frames": frames}}]}})
        .into(),
        ..event(project_id, n, &["h"], f64::from(n))
    };
    // The first node stores the reference; the second, with nothing in memory, finds it.
    nodes[0]
        .save_events((0..10).map(rich).collect())
        .await
        .unwrap();
    nodes[1]
        .save_events((10..20).map(rich).collect())
        .await
        .unwrap();
    for n in 0..20 {
        let node = &nodes[(n % 2) as usize];
        let stored = node.event_by_id(project_id, &event_id(n)).await.unwrap();
        assert_eq!(stored.unwrap().data, rich(n).data.to_value(), "event {n}");
    }
    let issue_id = nodes[1]
        .event_by_id(project_id, &event_id(0))
        .await
        .unwrap()
        .unwrap()
        .issue_id
        .unwrap();
    assert_eq!(
        nodes[1].issue_events(issue_id, 0, 100).await.unwrap().len(),
        20
    );
    assert_eq!(
        postgres_value(url, "SELECT count(*) FROM event_references").await,
        "1",
        "one reference for the hash"
    );
    let reference: i64 = postgres_value(url, "SELECT octet_length(data) FROM event_references")
        .await
        .parse()
        .unwrap();
    let largest_event: i64 = postgres_value(
        url,
        "SELECT max(octet_length(data)) FROM events WHERE reference_id IS NOT NULL",
    )
    .await
    .parse()
    .unwrap();
    assert!(
        largest_event * 5 < reference,
        "events {largest_event} bytes, their reference {reference}"
    );
}

const DAY: f64 = 86_400.0;
const NOW: f64 = 1_790_000_000.0;

fn retention_event(
    project_id: i64,
    n: u32,
    hash: &str,
    at: f64,
    user: &str,
    browser: &str,
) -> NewEvent {
    NewEvent {
        title: format!("Error {hash}"),
        culprit: "shop.views".into(),
        hashes: vec![hash.to_owned()],
        transaction: None,
        user_tag: Some(user.to_owned()),
        tags: vec![("browser".into(), browser.to_owned())],
        data: json!({"event_id": event_id(n), "message": format!("event {n} of {hash}")}).into(),
        ..common::error_event(project_id, event_id(n), at)
    }
}

/// The stored event `n` of `project_id`, if any.
async fn stored_event(store: &dyn Store, project_id: i64, n: u32) -> Option<StoredEvent> {
    store.event_by_id(project_id, &event_id(n)).await.unwrap()
}

/// Retention, on any backend: expired events go in bounded batches, and their issues count
/// exactly what remains (events, hours, tag values, users); issues left empty go with their
/// hashes, and a later event of such a hash starts a new issue under a new id.
async fn retention_case(store: &dyn Store) {
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
            retention_event(p, 1, "a", old, "u1", "Chrome"),
            retention_event(p, 2, "a", old + 1.0, "u2", "Chrome"),
            retention_event(p, 3, "a", old + 2.0, "u1", "Firefox"),
            retention_event(p, 4, "b", old + 3.0, "u3", "Safari"),
            retention_event(p, 5, "b", old + 4.0, "u3", "Safari"),
        ])
        .await
        .expect("old events");
    store
        .save_events(vec![
            retention_event(p, 6, "a", recent, "u2", "Chrome"),
            retention_event(p, 7, "a", recent + 1.0, "u2", "Chrome"),
        ])
        .await
        .expect("recent events");
    let issue_a = stored_event(store, p, 6).await.unwrap().issue_id.unwrap();
    let issue_b = stored_event(store, p, 4).await.unwrap().issue_id.unwrap();

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
        assert!(stored_event(store, p, n).await.is_none(), "event {n}");
    }
    for n in 6..=7u32 {
        assert!(stored_event(store, p, n).await.is_some(), "event {n}");
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
        .save_events(vec![retention_event(p, 8, "b", NOW, "u3", "Safari")])
        .await
        .expect("new event of an expired hash");
    assert!(saved[0].new_issue);
    assert_ne!(saved[0].issue_id, issue_b);
    let again = stored_event(store, p, 8).await.expect("stored");
    assert_eq!(again.data["message"], "event 8 of b");
    let b2 = store
        .issue_by_id(saved[0].issue_id)
        .await
        .unwrap()
        .expect("new issue");
    assert_eq!((b2.times_seen, b2.user_count), (1, 1));
}
