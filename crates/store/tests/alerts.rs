//! The alerts part of the `Store` contract: rules, firings, the outbox, issue activity,
//! counts for frequency conditions, members, snoozing, and the flags ingest reports.
//!
//! Every case runs on SQLite and on PostgreSQL (a fresh database per test on the server
//! `VIGIL_TEST_DATABASE_URL` names; without it the PostgreSQL tests fail, they never skip), as
//! in `store.rs`.

mod common;

use std::collections::HashSet;
use std::time::{SystemTime, UNIX_EPOCH};

use common::{event_id, project};
use serde_json::json;
use tempfile::TempDir;
use vigil_store::prelude::*;
use vigil_store::sqlite::SqliteStore;
use vigil_store::{
    Firing, IssueActivity, IssueStatus, NewAlertRule, NewEvent, NewNotification, Notification,
    NotificationOutcome, NotificationStatus,
};

common::suite_on_both_backends!(
    new_project_gets_sentrys_default_rule,
    rules_are_created_read_updated_listed_and_deleted,
    a_dedup_key_is_recorded_once,
    a_rule_fires_for_an_issue_at_most_once_per_frequency,
    firing_writes_pending_notifications_due_at_once,
    claims_respect_kinds_due_time_and_leases,
    concurrent_claims_never_share_a_notification,
    sent_is_final_and_recorded_on_the_issue_activity,
    retry_counts_the_attempt_and_postpone_does_not,
    failed_and_undeliverable_are_final_with_their_reason,
    notifications_are_listed_newest_first,
    last_sent_is_the_latest_send_of_rule_kind_and_target,
    issue_counts_are_exact_for_recent_windows_from_minute_and_hour_buckets,
    organization_members_come_with_their_roles,
    snoozed_issue_reappears_with_the_first_event_after_until,
    snooze_ends_within_one_batch,
    a_status_set_by_hand_ends_a_snooze,
    duplicate_event_reports_the_flags_of_its_first_storing,
    deleting_a_rule_removes_its_pending_notifications,
    retention_deletes_alert_rows_of_deleted_issues_and_old_finished_notifications,
);

/// A moment in 2023, so tests never depend on the clock.
const T0: f64 = 1_700_000_000.0;

const FIRST_SEEN: &str = "sentry.rules.conditions.first_seen_event.FirstSeenEventCondition";

/// An error event of `project_id` grouped by `hash`, at `at` (received half a second later),
/// by user `user`.
fn event_at(project_id: i64, n: u32, hash: &str, at: f64, user: Option<&str>) -> NewEvent {
    NewEvent {
        received: at + 0.5,
        title: format!("ValueError: {hash}"),
        metadata: json!({"type": "ValueError", "value": hash}),
        hashes: vec![hash.to_string()],
        user_tag: user.map(str::to_string),
        message: hash.to_string(),
        ..common::error_event(project_id, event_id(n), at)
    }
}

/// `event_at`, at `T0 + offset`.
fn event(project_id: i64, n: u32, hash: &str, offset: f64, user: Option<&str>) -> NewEvent {
    event_at(project_id, n, hash, T0 + offset, user)
}

/// Stores one event and returns its issue id.
async fn issue(store: &dyn Store, project_id: i64, n: u32, hash: &str) -> i64 {
    let saved = common::save_one(store, event(project_id, n, hash, 0.0, None)).await;
    saved[0].issue_id
}

fn new_rule(project_id: i64, name: &str) -> NewAlertRule {
    NewAlertRule {
        project_id,
        name: name.into(),
        environment: None,
        frequency_minutes: 30,
        action_match: "all".into(),
        filter_match: "all".into(),
        conditions: json!([{"id": FIRST_SEEN}]),
        filters: json!([]),
        actions: json!([{"id": "vigil.actions.WebhookAction", "url": "http://hooks.test/a"}]),
        created_by: None,
    }
}

async fn rule(store: &dyn Store, project_id: i64, name: &str) -> i64 {
    store
        .create_alert_rule(&new_rule(project_id, name))
        .await
        .unwrap()
        .id
}

/// Notifications to each (kind, target) of `targets`, in that order.
fn notifications(targets: &[(&str, &str)]) -> Vec<NewNotification> {
    targets
        .iter()
        .map(|(kind, target)| NewNotification {
            kind: (*kind).into(),
            target: (*target).into(),
            payload: json!({"text": format!("to {target}")}),
        })
        .collect()
}

/// `firing` with no frequency to hold it back: only its dedup key can.
fn unthrottled(firing: Firing) -> Firing {
    Firing {
        frequency_secs: 0.0,
        ..firing
    }
}

/// Records `firings`; which of them fired.
async fn record(store: &dyn Store, firings: Vec<Firing>) -> Vec<bool> {
    store.record_firings(firings).await.unwrap()
}

/// A project with one rule and one issue, what most cases start from; with another rule,
/// issue or project put in (`RuleOnIssue { rule_id: other, ..it }`), what fires for those.
#[derive(Clone, Copy)]
struct RuleOnIssue {
    project_id: i64,
    rule_id: i64,
    issue_id: i64,
}

impl RuleOnIssue {
    /// A firing of the rule for the issue by event `n` at `T0 + offset`, keyed as the server
    /// keys them, sending to `targets` (kind, target).
    fn firing(&self, n: u32, offset: f64, targets: &[(&str, &str)]) -> Firing {
        let trigger = "first_seen";
        let Self {
            project_id,
            rule_id,
            issue_id,
        } = *self;
        Firing {
            rule_id,
            project_id,
            issue_id,
            event_id: event_id(n),
            trigger: trigger.into(),
            at: T0 + offset,
            frequency_secs: 30.0 * 60.0,
            dedup_key: format!("{rule_id}:{issue_id}:{trigger}:{}", event_id(n)),
            notifications: notifications(targets),
        }
    }

    /// Records `firing(n, offset, targets)` on its own; whether it fired.
    async fn fire(&self, store: &dyn Store, n: u32, offset: f64, targets: &[(&str, &str)]) -> bool {
        record(store, vec![self.firing(n, offset, targets)]).await == [true]
    }

    /// Fires once (event 1, at `T0`) with one notification of `kind` to `target` and claims
    /// it then: its id.
    async fn fire_and_claim(&self, store: &dyn Store, kind: &str, target: &str) -> i64 {
        self.fire(store, 1, 0.0, &[(kind, target)]).await;
        claim(store, &[kind], T0, 10).await[0]
    }
}

/// A project `shop` of `acme` with the rule `webhook` and the issue of hash `a` (event 1).
async fn setup(store: &dyn Store) -> RuleOnIssue {
    let (_, project_id) = project(store, "acme").await;
    let rule_id = rule(store, project_id, "webhook").await;
    let issue_id = issue(store, project_id, 1, "a").await;
    RuleOnIssue {
        project_id,
        rule_id,
        issue_id,
    }
}

/// Finishes the notification `id` with `outcome`.
async fn finish(store: &dyn Store, id: i64, outcome: NotificationOutcome) {
    store.finish_notification(id, outcome).await.unwrap()
}

fn sent(at: f64) -> NotificationOutcome {
    NotificationOutcome::Sent { at }
}

fn retry(error: &str, next_attempt: f64) -> NotificationOutcome {
    NotificationOutcome::Retry {
        error: error.into(),
        next_attempt,
    }
}

fn postpone(until: f64) -> NotificationOutcome {
    NotificationOutcome::Postpone { until }
}

/// The notifications of `project_id`, newest first, `limit` at most.
async fn listed(store: &dyn Store, project_id: i64, limit: u64) -> Vec<Notification> {
    store.list_notifications(project_id, limit).await.unwrap()
}

/// Targets of the notifications of `project_id`, newest first, `limit` at most.
async fn listed_targets(store: &dyn Store, project_id: i64, limit: u64) -> Vec<String> {
    let listed = listed(store, project_id, limit).await;
    listed.into_iter().map(|n| n.target).collect()
}

/// How many notifications `project_id` has (up to 100).
async fn notification_count(store: &dyn Store, project_id: i64) -> usize {
    listed(store, project_id, 100).await.len()
}

/// The newest notification of `project_id`.
async fn newest_notification(store: &dyn Store, project_id: i64) -> Notification {
    listed(store, project_id, 10).await.remove(0)
}

/// What `claim_notifications` hands out at `now`, with a lease of 60 s.
async fn claim_rows(store: &dyn Store, kinds: &[&str], now: f64, limit: u64) -> Vec<Notification> {
    store
        .claim_notifications(kinds, now, limit, 60.0)
        .await
        .unwrap()
}

/// Ids of what `claim_notifications` hands out at `now`.
async fn claim(store: &dyn Store, kinds: &[&str], now: f64, limit: u64) -> Vec<i64> {
    let claimed = claim_rows(store, kinds, now, limit).await;
    claimed.into_iter().map(|n| n.id).collect()
}

/// The id of the notification to `target` among `notifications`.
fn id_to(notifications: &[Notification], target: &str) -> i64 {
    notifications
        .iter()
        .find(|n| n.target == target)
        .unwrap_or_else(|| panic!("no notification to {target}"))
        .id
}

/// The activity of issue `issue_id`, newest first.
async fn activities(store: &dyn Store, issue_id: i64) -> Vec<IssueActivity> {
    store.issue_activities(issue_id).await.unwrap()
}

async fn last_sent(store: &dyn Store, rule_id: i64, kind: &str, target: &str) -> Option<f64> {
    store.last_sent(rule_id, kind, target).await.unwrap()
}

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

pub async fn new_project_gets_sentrys_default_rule(store: &dyn Store) {
    let (_, project_id) = project(store, "acme").await;
    let rules = store.alert_rules(project_id).await.unwrap();
    assert_eq!(rules.len(), 1, "{rules:?}");
    let rule = &rules[0];
    assert_eq!(rule.project_id, project_id);
    assert_eq!(rule.name, "Send a notification for new issues");
    assert_eq!(rule.environment, None);
    assert_eq!(rule.frequency_minutes, 30);
    assert_eq!(rule.action_match, "all");
    assert_eq!(rule.filter_match, "all");
    assert_eq!(rule.conditions, json!([{"id": FIRST_SEEN}]));
    assert_eq!(rule.filters, json!([]));
    assert_eq!(
        rule.actions,
        json!([{
            "id": "sentry.mail.actions.NotifyEmailAction",
            "targetType": "IssueOwners",
            "targetIdentifier": null,
            "fallthroughType": "ActiveMembers",
        }])
    );
    assert_eq!(rule.created_by, None);
    assert_eq!(
        store.alert_rule(rule.id).await.unwrap().as_ref(),
        Some(rule)
    );
}

pub async fn rules_are_created_read_updated_listed_and_deleted(store: &dyn Store) {
    let (_, project_id) = project(store, "acme").await;
    let user = common::user(store, "ada@example.com", "x", false).await;
    let default_rule = store.alert_rules(project_id).await.unwrap()[0].clone();

    let mut fields = new_rule(project_id, "Spikes to Slack");
    fields.environment = Some("production".into());
    fields.frequency_minutes = 5;
    fields.action_match = "any".into();
    fields.filter_match = "none".into();
    fields.conditions = json!([{
        "id": "sentry.rules.conditions.event_frequency.EventFrequencyCondition",
        "value": 100, "interval": "1h",
    }]);
    fields.filters =
        json!([{"id": "sentry.rules.filters.level.LevelFilter", "match": "gte", "level": "40"}]);
    fields.actions = json!([{"id": "vigil.actions.SlackWebhookAction", "webhook_url": "https://hooks.slack.test/x"}]);
    fields.created_by = Some(user.id);
    let created = store.create_alert_rule(&fields).await.unwrap();
    assert!(created.id > default_rule.id);
    assert_eq!(created.project_id, project_id);
    assert_eq!(created.name, "Spikes to Slack");
    assert_eq!(created.environment.as_deref(), Some("production"));
    assert_eq!(created.frequency_minutes, 5);
    assert_eq!(created.action_match, "any");
    assert_eq!(created.filter_match, "none");
    assert_eq!(created.conditions, fields.conditions);
    assert_eq!(created.filters, fields.filters);
    assert_eq!(created.actions, fields.actions);
    assert_eq!(created.created_by, Some(user.id));
    assert!(created.date_created > T0, "{}", created.date_created);
    assert_eq!(
        store.alert_rule(created.id).await.unwrap(),
        Some(created.clone())
    );

    let mut changed = fields.clone();
    changed.name = "Spikes".into();
    changed.environment = None;
    changed.frequency_minutes = 60;
    changed.actions = json!([]);
    let updated = store
        .update_alert_rule(created.id, &changed)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(updated.id, created.id);
    assert_eq!(updated.name, "Spikes");
    assert_eq!(updated.environment, None);
    assert_eq!(updated.frequency_minutes, 60);
    assert_eq!(updated.actions, json!([]));
    assert_eq!(updated.date_created, created.date_created);
    assert_eq!(updated.created_by, Some(user.id));
    assert_eq!(
        store.alert_rule(created.id).await.unwrap(),
        Some(updated.clone())
    );
    assert_eq!(
        store.update_alert_rule(999_999, &changed).await.unwrap(),
        None
    );

    // Listed by id, per project.
    let (_, other_project) = common::project_named(store, "other", "web").await;
    let listed = store.alert_rules(project_id).await.unwrap();
    assert_eq!(listed, vec![default_rule.clone(), updated.clone()]);
    assert_eq!(store.alert_rules(other_project).await.unwrap().len(), 1);

    assert!(store.delete_alert_rule(created.id).await.unwrap());
    assert!(!store.delete_alert_rule(created.id).await.unwrap());
    assert_eq!(store.alert_rule(created.id).await.unwrap(), None);
    assert_eq!(
        store.alert_rules(project_id).await.unwrap(),
        vec![default_rule]
    );
}

pub async fn a_dedup_key_is_recorded_once(store: &dyn Store) {
    let fixture = setup(store).await;
    let once = unthrottled(fixture.firing(1, 0.0, &[("webhook", "http://a")]));
    assert_eq!(record(store, vec![once.clone()]).await, vec![true]);
    // The envelope processed again: same key, even with no frequency to stop it.
    let mut again = once.clone();
    again.at += 3600.0;
    assert_eq!(
        record(store, vec![again.clone(), again]).await,
        vec![false, false]
    );
    assert_eq!(notification_count(store, fixture.project_id).await, 1);
    assert_eq!(record(store, Vec::new()).await, Vec::<bool>::new());
}

pub async fn a_rule_fires_for_an_issue_at_most_once_per_frequency(store: &dyn Store) {
    let fixture = setup(store).await;
    let other_rule = RuleOnIssue {
        rule_id: rule(store, fixture.project_id, "other").await,
        ..fixture
    };
    let other_issue = RuleOnIssue {
        issue_id: issue(store, fixture.project_id, 2, "b").await,
        ..fixture
    };
    let send = [("webhook", "http://a")];

    assert!(fixture.fire(store, 10, 0.0, &send).await);
    // Within 30 minutes: not for this rule and issue, in the same batch or later; other rules
    // and other issues are not held back.
    let decided = record(
        store,
        vec![
            fixture.firing(11, 60.0, &send),
            other_rule.firing(11, 60.0, &send),
            other_issue.firing(11, 60.0, &send),
            fixture.firing(12, 1799.0, &send),
        ],
    )
    .await;
    assert_eq!(decided, vec![false, true, true, false]);
    // Once 30 minutes have passed since it last fired (not since it was last held back).
    let decided = record(
        store,
        vec![
            fixture.firing(13, 1800.0, &send),
            fixture.firing(14, 1801.0, &send),
        ],
    )
    .await;
    assert_eq!(decided, vec![true, false]);
    assert_eq!(notification_count(store, fixture.project_id).await, 4);
}

pub async fn firing_writes_pending_notifications_due_at_once(store: &dyn Store) {
    let fixture = setup(store).await;
    let payload = json!({"subject": "ValueError: a", "text": "t", "html": "<p>h</p>"});
    let mut fired = fixture.firing(
        1,
        0.0,
        &[
            ("email", "ada@example.com"),
            ("email", "bob@example.com"),
            ("slack", "https://hooks.slack.test/x"),
        ],
    );
    fired.notifications[0].payload = payload.clone();
    assert_eq!(record(store, vec![fired]).await, vec![true]);

    let listed = listed(store, fixture.project_id, 100).await;
    assert_eq!(listed.len(), 3);
    for n in &listed {
        assert_eq!(n.status, NotificationStatus::Pending);
        assert_eq!(n.attempts, 0);
        assert_eq!(n.last_error, None);
        assert_eq!(n.sent_at, None);
        assert_eq!(
            (n.rule_id, n.project_id, n.issue_id),
            (fixture.rule_id, fixture.project_id, fixture.issue_id)
        );
        assert_eq!(n.event_id, event_id(1));
        assert_eq!(n.trigger, "first_seen");
        assert!(n.next_attempt <= T0, "due at once: {}", n.next_attempt);
    }
    let ada = listed
        .iter()
        .find(|n| n.target == "ada@example.com")
        .unwrap();
    assert_eq!(ada.kind, "email");
    assert_eq!(ada.payload, payload);

    // Due at the firing's time: claimed then, every one.
    let claimed = claim_rows(store, &["email", "slack", "webhook"], T0, 100).await;
    assert_eq!(claimed.len(), 3);
    let mut listed_oldest_first = listed.clone();
    listed_oldest_first.reverse();
    assert_eq!(
        claimed, listed_oldest_first,
        "claimed oldest first, as stored"
    );
}

pub async fn claims_respect_kinds_due_time_and_leases(store: &dyn Store) {
    let fixture = setup(store).await;
    let targets = [
        ("email", "ada@example.com"),
        ("webhook", "http://a"),
        ("email", "bob@example.com"),
    ];
    fixture.fire(store, 1, 0.0, &targets).await;
    let ids: Vec<i64> = {
        let mut listed = listed(store, fixture.project_id, 100).await;
        listed.reverse();
        listed.into_iter().map(|n| n.id).collect()
    };
    let (ada, hook, bob) = (ids[0], ids[1], ids[2]);
    let nothing = Vec::<i64>::new();

    assert_eq!(claim(store, &[], T0, 10).await, nothing);
    assert_eq!(claim(store, &["slack"], T0, 10).await, nothing);
    // Kinds, the limit, oldest first.
    assert_eq!(claim(store, &["email"], T0, 1).await, vec![ada]);
    // A claimed one is held for its lease (60 s) …
    assert_eq!(claim(store, &["email"], T0 + 1.0, 10).await, vec![bob]);
    assert_eq!(claim(store, &["email"], T0 + 59.0, 10).await, nothing);
    // … and comes back once the lease passed (its sender died).
    assert_eq!(
        claim(store, &["email", "webhook"], T0 + 60.5, 10).await,
        vec![ada, hook]
    );
    assert_eq!(claim(store, &["email"], T0 + 61.5, 10).await, vec![bob]);

    // A notification postponed is not due before its time, then is, without waiting for the
    // lease it was claimed with (until T0 + 120.5).
    finish(store, hook, postpone(T0 + 90.0)).await;
    assert_eq!(claim(store, &["webhook"], T0 + 89.0, 10).await, nothing);
    assert_eq!(claim(store, &["webhook"], T0 + 90.0, 10).await, vec![hook]);
    // Finished notifications are never claimed again.
    finish(store, hook, sent(T0 + 301.0)).await;
    assert_eq!(claim(store, &["webhook"], T0 + 10_000.0, 10).await, nothing);
}

pub async fn concurrent_claims_never_share_a_notification(store: &dyn Store) {
    let fixture = setup(store).await;
    let urls: Vec<String> = (0..40).map(|i| format!("http://hooks.test/{i}")).collect();
    let targets: Vec<(&str, &str)> = urls.iter().map(|url| ("webhook", url.as_str())).collect();
    fixture.fire(store, 1, 0.0, &targets).await;
    let (a, b, c, d) = tokio::join!(
        claim(store, &["webhook"], T0, 15),
        claim(store, &["webhook"], T0, 15),
        claim(store, &["webhook"], T0, 15),
        claim(store, &["webhook"], T0, 15),
    );
    let all: Vec<i64> = [a, b, c, d].concat();
    let distinct: HashSet<i64> = all.iter().copied().collect();
    assert_eq!(
        all.len(),
        distinct.len(),
        "a notification was claimed twice: {all:?}"
    );
    assert_eq!(distinct.len(), 40);
}

pub async fn sent_is_final_and_recorded_on_the_issue_activity(store: &dyn Store) {
    let fixture = setup(store).await;
    let id = fixture
        .fire_and_claim(store, "email", "ada@example.com")
        .await;
    assert_eq!(activities(store, fixture.issue_id).await, Vec::new());
    finish(store, id, sent(T0 + 2.0)).await;

    let sent_one = newest_notification(store, fixture.project_id).await;
    assert_eq!(sent_one.status, NotificationStatus::Sent);
    assert_eq!(sent_one.sent_at, Some(T0 + 2.0));
    assert_eq!(sent_one.last_error, None);
    assert_eq!(
        claim(store, &["email"], T0 + 3600.0, 10).await,
        Vec::<i64>::new()
    );

    let activity = activities(store, fixture.issue_id).await;
    assert_eq!(activity.len(), 1, "{activity:?}");
    assert_eq!(activity[0].issue_id, fixture.issue_id);
    assert_eq!(activity[0].kind, "notification");
    assert_eq!(activity[0].date_created, T0 + 2.0);
    assert_eq!(activity[0].user_id, None);
    assert_eq!(activity[0].data["rule_id"], json!(fixture.rule_id));
    assert_eq!(activity[0].data["kind"], json!("email"));
    assert_eq!(activity[0].data["target"], json!("ada@example.com"));

    // Finishing it again changes nothing and records nothing more.
    finish(store, id, sent(T0 + 9.0)).await;
    assert_eq!(activities(store, fixture.issue_id).await, activity);
    assert_eq!(
        newest_notification(store, fixture.project_id).await.sent_at,
        Some(T0 + 2.0)
    );

    // Newest first.
    fixture
        .fire(store, 2, 3600.0, &[("webhook", "http://a")])
        .await;
    let second = claim(store, &["webhook"], T0 + 3600.0, 10).await[0];
    finish(store, second, sent(T0 + 3601.0)).await;
    let activity = activities(store, fixture.issue_id).await;
    let kinds: Vec<&str> = activity
        .iter()
        .map(|a| a.data["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, vec!["webhook", "email"]);
}

pub async fn retry_counts_the_attempt_and_postpone_does_not(store: &dyn Store) {
    let fixture = setup(store).await;
    let id = fixture.fire_and_claim(store, "webhook", "http://a").await;
    finish(store, id, retry("HTTP 503", T0 + 10.0)).await;
    let n = newest_notification(store, fixture.project_id).await;
    assert_eq!(n.status, NotificationStatus::Pending);
    assert_eq!(n.attempts, 1);
    assert_eq!(n.next_attempt, T0 + 10.0);
    assert_eq!(n.last_error.as_deref(), Some("HTTP 503"));
    assert_eq!(
        claim(store, &["webhook"], T0 + 9.0, 10).await,
        Vec::<i64>::new()
    );
    assert_eq!(claim(store, &["webhook"], T0 + 10.0, 10).await, vec![id]);

    finish(store, id, retry("connection refused", T0 + 30.0)).await;
    assert_eq!(claim(store, &["webhook"], T0 + 30.0, 10).await, vec![id]);
    finish(store, id, postpone(T0 + 90.0)).await;
    let n = newest_notification(store, fixture.project_id).await;
    assert_eq!(n.status, NotificationStatus::Pending);
    assert_eq!(n.attempts, 2, "postponing is not an attempt");
    assert_eq!(n.next_attempt, T0 + 90.0);
    assert_eq!(n.last_error.as_deref(), Some("connection refused"));
    assert!(activities(store, fixture.issue_id).await.is_empty());
}

pub async fn failed_and_undeliverable_are_final_with_their_reason(store: &dyn Store) {
    let fixture = setup(store).await;
    let targets = [("webhook", "http://a"), ("email", "ada@example.com")];
    fixture.fire(store, 1, 0.0, &targets).await;
    let hook = claim(store, &["webhook"], T0, 10).await[0];
    let mail = claim(store, &["email"], T0, 10).await[0];
    finish(store, hook, retry("HTTP 500", T0 + 10.0)).await;
    assert_eq!(claim(store, &["webhook"], T0 + 10.0, 10).await, vec![hook]);
    let failed = NotificationOutcome::Failed {
        error: "HTTP 500 for 2 hours".into(),
    };
    finish(store, hook, failed).await;
    let undeliverable = NotificationOutcome::Undeliverable {
        reason: "no SMTP server configured (VIGIL_SMTP_URL)".into(),
    };
    finish(store, mail, undeliverable).await;

    let listed = listed(store, fixture.project_id, 10).await;
    let hook_row = listed.iter().find(|n| n.id == hook).unwrap();
    assert_eq!(hook_row.status, NotificationStatus::Failed);
    assert_eq!(hook_row.attempts, 2);
    assert_eq!(hook_row.last_error.as_deref(), Some("HTTP 500 for 2 hours"));
    assert_eq!(hook_row.sent_at, None);
    let mail_row = listed.iter().find(|n| n.id == mail).unwrap();
    assert_eq!(mail_row.status, NotificationStatus::Undeliverable);
    assert_eq!(
        mail_row.last_error.as_deref(),
        Some("no SMTP server configured (VIGIL_SMTP_URL)")
    );
    assert_eq!(mail_row.sent_at, None);
    assert_eq!(
        claim(store, &["webhook", "email"], T0 + 100_000.0, 10).await,
        Vec::<i64>::new()
    );
    assert!(activities(store, fixture.issue_id).await.is_empty());
    assert_eq!(
        last_sent(store, fixture.rule_id, "webhook", "http://a").await,
        None
    );
}

pub async fn notifications_are_listed_newest_first(store: &dyn Store) {
    let fixture = setup(store).await;
    let (_, other_project) = common::project_named(store, "other", "web").await;
    let elsewhere = RuleOnIssue {
        project_id: other_project,
        rule_id: rule(store, other_project, "other").await,
        issue_id: issue(store, other_project, 99, "z").await,
    };
    for n in 1..=5u32 {
        let url = format!("http://hooks.test/{n}");
        let fired = fixture.firing(n, f64::from(n) * 3600.0, &[("webhook", &url)]);
        record(store, vec![unthrottled(fired)]).await;
    }
    elsewhere
        .fire(store, 99, 0.0, &[("webhook", "http://elsewhere")])
        .await;
    assert_eq!(
        listed_targets(store, fixture.project_id, 3).await,
        vec![
            "http://hooks.test/5",
            "http://hooks.test/4",
            "http://hooks.test/3"
        ]
    );
    assert_eq!(notification_count(store, fixture.project_id).await, 5);
    assert_eq!(notification_count(store, other_project).await, 1);
}

pub async fn last_sent_is_the_latest_send_of_rule_kind_and_target(store: &dyn Store) {
    let fixture = setup(store).await;
    let rule_id = fixture.rule_id;
    let other_rule = RuleOnIssue {
        rule_id: rule(store, fixture.project_id, "other").await,
        ..fixture
    };
    let fired = fixture.firing(
        1,
        0.0,
        &[
            ("email", "ada@example.com"),
            ("email", "ada@example.com"),
            ("email", "bob@example.com"),
        ],
    );
    let other = other_rule.firing(1, 0.0, &[("email", "ada@example.com")]);
    record(store, vec![unthrottled(fired), unthrottled(other)]).await;
    assert_eq!(
        last_sent(store, rule_id, "email", "ada@example.com").await,
        None
    );

    let claimed = claim_rows(store, &["email"], T0, 10).await;
    let ada: Vec<i64> = claimed
        .iter()
        .filter(|n| n.rule_id == rule_id && n.target == "ada@example.com")
        .map(|n| n.id)
        .collect();
    let bob = id_to(&claimed, "bob@example.com");
    let other_ada = claimed
        .iter()
        .find(|n| n.rule_id == other_rule.rule_id)
        .unwrap()
        .id;
    finish(store, ada[0], sent(T0 + 5.0)).await;
    finish(store, ada[1], sent(T0 + 65.0)).await;
    finish(store, bob, postpone(T0 + 500.0)).await;
    finish(store, other_ada, sent(T0 + 900.0)).await;

    for (rule_id, kind, target, latest) in [
        (rule_id, "email", "ada@example.com", Some(T0 + 65.0)),
        (rule_id, "email", "bob@example.com", None),
        (rule_id, "slack", "ada@example.com", None),
        (
            other_rule.rule_id,
            "email",
            "ada@example.com",
            Some(T0 + 900.0),
        ),
    ] {
        assert_eq!(
            last_sent(store, rule_id, kind, target).await,
            latest,
            "{rule_id} {kind} {target}"
        );
    }
}

pub async fn issue_counts_are_exact_for_recent_windows_from_minute_and_hour_buckets(
    store: &dyn Store,
) {
    let (_, project_id) = project(store, "acme").await;
    // Windows that start on a minute, as the buckets do: the counts are then exact.
    let minute = (unix_now() / 60.0).floor() * 60.0;
    let day_ago = minute - 86_400.0;
    let events = vec![
        event_at(project_id, 1, "a", minute, Some("id:1")),
        event_at(project_id, 2, "a", minute - 30.0, Some("id:2")),
        // `since` is inclusive.
        event_at(project_id, 3, "a", minute - 60.0, None),
        event_at(project_id, 4, "a", minute - 61.0, Some("id:3")),
        event_at(project_id, 5, "a", minute - 299.0, Some("id:1")),
        event_at(project_id, 6, "a", minute - 301.0, Some("id:4")),
        event_at(project_id, 7, "a", minute - 3000.0, Some("id:4")),
        event_at(project_id, 8, "a", minute - 3601.0, Some("id:5")),
        event_at(project_id, 9, "a", minute - 5.0 * 3600.0, Some("id:6")),
        // Before the day's window, in an earlier hour.
        event_at(project_id, 10, "a", day_ago - 7200.0, Some("id:7")),
        event_at(project_id, 11, "b", minute - 10.0, Some("id:1")),
        event_at(project_id, 12, "c", day_ago - 7200.0, Some("id:1")),
    ];
    let saved = store.save_events(events).await.unwrap();
    let (a, b, c) = (saved[0].issue_id, saved[10].issue_id, saved[11].issue_id);
    // A duplicate counts nothing.
    common::save_one(
        store,
        event_at(project_id, 2, "a", minute - 30.0, Some("id:2")),
    )
    .await;

    let events_of = |counts: Vec<vigil_store::IssueCounts>| -> Vec<(i64, u64, u64)> {
        counts
            .iter()
            .map(|count| (count.issue_id, count.events, count.users))
            .collect()
    };
    // In the order asked, zero counts included; users only when asked.
    let counts = store
        .issue_counts(&[c, a, b], minute - 60.0, false)
        .await
        .unwrap();
    assert_eq!(events_of(counts), vec![(c, 0, 0), (a, 3, 0), (b, 1, 0)]);
    for (window, events, users) in [
        (60.0, 3, 2),
        (300.0, 5, 3),
        (3600.0, 7, 4),
        (86_400.0, 9, 6),
    ] {
        let since = minute - window;
        let counts = store.issue_counts(&[a], since, false).await.unwrap();
        assert_eq!(events_of(counts), vec![(a, events, 0)], "window {window}");
        let counts = store.issue_counts(&[a], since, true).await.unwrap();
        assert_eq!(
            events_of(counts),
            vec![(a, events, users)],
            "window {window}"
        );
    }
    // Within the minute buckets, a window starting mid-minute counts that whole minute.
    let counts = store.issue_counts(&[a], minute - 45.0, true).await.unwrap();
    assert_eq!(events_of(counts), vec![(a, 3, 2)]);
    // Past the minute buckets, a window counts its first hour whole (documented): an event
    // at the start of that hour counts, whether or not it is before `since`.
    let hour_of_day_ago = (day_ago / 3600.0).floor() * 3600.0;
    common::save_one(
        store,
        event_at(project_id, 13, "a", hour_of_day_ago, Some("id:8")),
    )
    .await;
    let counts = store.issue_counts(&[a], day_ago, false).await.unwrap();
    assert_eq!(events_of(counts), vec![(a, 10, 0)]);

    let counts = store
        .issue_counts(&[a], minute + 120.0, true)
        .await
        .unwrap();
    assert_eq!(events_of(counts), vec![(a, 0, 0)]);
    assert!(store
        .issue_counts(&[], minute, true)
        .await
        .unwrap()
        .is_empty());
}

pub async fn organization_members_come_with_their_roles(store: &dyn Store) {
    let acme = store.ensure_organization("acme").await.unwrap();
    let other = store.ensure_organization("other").await.unwrap();
    let ada = common::user(store, "ada@example.com", "x", false).await;
    let bob = common::user(store, "Bob@Example.com", "x", false).await;
    let eve = common::user(store, "eve@example.com", "x", true).await;
    store.add_member(acme.id, bob.id, "member").await.unwrap();
    store.add_member(acme.id, ada.id, "owner").await.unwrap();
    store.add_member(other.id, eve.id, "owner").await.unwrap();

    let members = store.organization_members(acme.id).await.unwrap();
    let listed: Vec<(i64, &str, &str)> = members
        .iter()
        .map(|(user, role)| (user.id, user.email.as_str(), role.as_str()))
        .collect();
    assert_eq!(
        listed,
        vec![
            (ada.id, "ada@example.com", "owner"),
            (bob.id, "Bob@Example.com", "member"),
        ]
    );
    assert_eq!(members[0].0, ada);
    assert_eq!(store.organization_members(other.id).await.unwrap().len(), 1);
    assert!(store
        .organization_members(999_999)
        .await
        .unwrap()
        .is_empty());
}

pub async fn snoozed_issue_reappears_with_the_first_event_after_until(store: &dyn Store) {
    let (_, project_id) = project(store, "acme").await;
    let issue_id = issue(store, project_id, 1, "a").await;
    let until = T0 + 3600.0;
    let snoozed = store.snooze_issue(issue_id, until).await.unwrap().unwrap();
    assert_eq!(snoozed.status, IssueStatus::Ignored);
    assert_eq!(store.snooze_issue(999_999, until).await.unwrap(), None);

    // Received before `until` (timestamp + 0.5): still ignored, nothing reported.
    let before = common::save_one(store, event(project_id, 2, "a", 3599.0, None)).await;
    assert!(!before[0].reappeared && !before[0].regressed && !before[0].new_issue);
    let issue = common::stored_issue(store, issue_id).await;
    assert_eq!(issue.status, IssueStatus::Ignored);

    // Received exactly at `until`.
    let after = common::save_one(store, event(project_id, 3, "a", 3599.5, None)).await;
    assert!(after[0].reappeared, "{after:?}");
    assert!(!after[0].regressed && !after[0].new_issue);
    let issue = common::stored_issue(store, issue_id).await;
    assert_eq!(issue.status, IssueStatus::Unresolved);
    assert_eq!(issue.substatus, "ongoing");
    assert_eq!(issue.times_seen, 3);

    // Only once: the next event finds it unresolved.
    let next = common::save_one(store, event(project_id, 4, "a", 4000.0, None)).await;
    assert!(!next[0].reappeared);

    // A resolved issue that was snoozed before regresses rather than reappears.
    store.snooze_issue(issue_id, T0 + 5000.0).await.unwrap();
    common::set_status(store, issue_id, IssueStatus::Resolved).await;
    let again = common::save_one(store, event(project_id, 5, "a", 6000.0, None)).await;
    assert!(again[0].regressed && !again[0].reappeared, "{again:?}");
}

pub async fn snooze_ends_within_one_batch(store: &dyn Store) {
    let (_, project_id) = project(store, "acme").await;
    let issue_id = issue(store, project_id, 1, "a").await;
    store.snooze_issue(issue_id, T0 + 100.0).await.unwrap();
    let saved = store
        .save_events(vec![
            event(project_id, 2, "a", 50.0, None),
            event(project_id, 3, "a", 150.0, None),
            event(project_id, 4, "a", 160.0, None),
        ])
        .await
        .unwrap();
    let reappeared: Vec<bool> = saved.iter().map(|s| s.reappeared).collect();
    assert_eq!(reappeared, vec![false, true, false]);
    let issue = common::stored_issue(store, issue_id).await;
    assert_eq!(issue.status, IssueStatus::Unresolved);
}

pub async fn a_status_set_by_hand_ends_a_snooze(store: &dyn Store) {
    let (_, project_id) = project(store, "acme").await;
    let issue_id = issue(store, project_id, 1, "a").await;
    store.snooze_issue(issue_id, T0 + 100.0).await.unwrap();
    // Ignored for good now: no end any more.
    common::set_status(store, issue_id, IssueStatus::Ignored).await;
    let saved = common::save_one(store, event(project_id, 2, "a", 200.0, None)).await;
    assert!(!saved[0].reappeared);
    let issue = common::stored_issue(store, issue_id).await;
    assert_eq!(issue.status, IssueStatus::Ignored);
    assert_eq!(issue.substatus, "archived_forever");
}

pub async fn duplicate_event_reports_the_flags_of_its_first_storing(store: &dyn Store) {
    let (_, project_id) = project(store, "acme").await;
    let first = common::save_one(store, event(project_id, 1, "a", 0.0, None)).await;
    assert!(first[0].new_issue && !first[0].duplicate);
    let issue_id = first[0].issue_id;

    common::set_status(store, issue_id, IssueStatus::Resolved).await;
    let regressed = common::save_one(store, event(project_id, 2, "a", 10.0, None)).await;
    assert!(regressed[0].regressed);
    store.snooze_issue(issue_id, T0 + 100.0).await.unwrap();
    let reappeared = common::save_one(store, event(project_id, 3, "a", 200.0, None)).await;
    assert!(reappeared[0].reappeared);
    let plain = common::save_one(store, event(project_id, 4, "a", 300.0, None)).await;

    // The envelopes processed again, in one batch, with the issue in yet another state.
    common::set_status(store, issue_id, IssueStatus::Resolved).await;
    let again = store
        .save_events(vec![
            event(project_id, 1, "a", 0.0, None),
            event(project_id, 2, "a", 10.0, None),
            event(project_id, 3, "a", 200.0, None),
            event(project_id, 4, "a", 300.0, None),
        ])
        .await
        .unwrap();
    let flags = |s: &vigil_store::SavedEvent| (s.new_issue, s.regressed, s.reappeared, s.duplicate);
    assert_eq!(flags(&again[0]), (true, false, false, true));
    assert_eq!(flags(&again[1]), (false, true, false, true));
    assert_eq!(flags(&again[2]), (false, false, true, true));
    assert_eq!(flags(&again[3]), (false, false, false, true));
    assert_eq!(flags(&plain[0]), (false, false, false, false));
    assert!(again.iter().all(|s| s.issue_id == issue_id));
    // Nothing changed: still resolved, counted once.
    let issue = common::stored_issue(store, issue_id).await;
    assert_eq!(issue.status, IssueStatus::Resolved);
    assert_eq!(issue.times_seen, 4);

    // A repeat inside one batch is a duplicate of the first, with its flags.
    let batch = store
        .save_events(vec![
            event(project_id, 10, "new", 400.0, None),
            event(project_id, 10, "new", 400.0, None),
        ])
        .await
        .unwrap();
    assert_eq!(flags(&batch[0]), (true, false, false, false));
    assert_eq!(flags(&batch[1]), (true, false, false, true));
}

pub async fn deleting_a_rule_removes_its_pending_notifications(store: &dyn Store) {
    let fixture = setup(store).await;
    let other_rule = RuleOnIssue {
        rule_id: rule(store, fixture.project_id, "other").await,
        ..fixture
    };
    let targets = [("webhook", "http://sent"), ("webhook", "http://pending")];
    record(
        store,
        vec![
            fixture.firing(1, 0.0, &targets),
            other_rule.firing(1, 0.0, &[("webhook", "http://other")]),
        ],
    )
    .await;
    let claimed = claim_rows(store, &["webhook"], T0, 10).await;
    let sent_id = id_to(&claimed, "http://sent");
    let held = id_to(&claimed, "http://pending");
    finish(store, sent_id, sent(T0 + 1.0)).await;

    assert!(store.delete_alert_rule(fixture.rule_id).await.unwrap());
    let left: HashSet<String> = listed_targets(store, fixture.project_id, 100)
        .await
        .into_iter()
        .collect();
    assert_eq!(
        left,
        HashSet::from(["http://sent".to_string(), "http://other".to_string()])
    );
    // A sender still holding one of the deleted rule's notifications finishes it harmlessly.
    finish(store, held, retry("HTTP 500", T0 + 10.0)).await;
    assert_eq!(claim(store, &["webhook"], T0 + 1000.0, 10).await.len(), 1);
}

pub async fn retention_deletes_alert_rows_of_deleted_issues_and_old_finished_notifications(
    store: &dyn Store,
) {
    let (_, project_id) = project(store, "acme").await;
    let rule_id = rule(store, project_id, "hook").await;
    let now = unix_now();
    // An old issue whose only event expires, and a live one whose event is two hours ahead,
    // so that a cutoff can lie between the notifications' creation (now) and that event.
    let saved = store
        .save_events(vec![
            event(project_id, 1, "old", -100_000.0, None),
            event(project_id, 2, "live", now - T0 + 7200.0, None),
        ])
        .await
        .unwrap();
    let old = RuleOnIssue {
        project_id,
        rule_id,
        issue_id: saved[0].issue_id,
    };
    let live = RuleOnIssue {
        issue_id: saved[1].issue_id,
        ..old
    };
    let live_targets = [
        ("webhook", "http://live-sent"),
        ("webhook", "http://live-pending"),
    ];
    record(
        store,
        vec![
            old.firing(1, -100_000.0, &[("webhook", "http://old-issue")]),
            live.firing(2, 0.0, &live_targets),
        ],
    )
    .await;
    for n in &claim_rows(store, &["webhook"], T0, 10).await {
        if n.target != "http://live-pending" {
            finish(store, n.id, sent(T0)).await;
        }
    }
    assert_eq!(activities(store, old.issue_id).await.len(), 1);

    // A cutoff between the two events: the old issue goes, with its alert rows; notifications
    // were all created just now, so the live issue's stay.
    let pass = store.delete_expired(T0 - 50_000.0, 1000).await.unwrap();
    assert_eq!((pass.events, pass.issues), (1, 1));
    assert!(activities(store, old.issue_id).await.is_empty());
    let left: HashSet<String> = listed_targets(store, project_id, 100)
        .await
        .into_iter()
        .collect();
    assert_eq!(
        left,
        HashSet::from([
            "http://live-sent".to_string(),
            "http://live-pending".to_string()
        ])
    );
    assert_eq!(activities(store, live.issue_id).await.len(), 1);

    // A cutoff after the notifications were created: the finished ones go, pending ones stay.
    let pass = store.delete_expired(now + 3600.0, 1000).await.unwrap();
    assert_eq!(pass.events, 0);
    assert_eq!(
        listed_targets(store, project_id, 100).await,
        vec!["http://live-pending".to_string()]
    );
}

/// migration 0009 runs, the same rule a new project gets.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_migration_gives_existing_projects_the_default_rule() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("vigil.sqlite3");
    let (project_id, expected) = {
        let store = SqliteStore::open(&path).unwrap();
        let (_, project_id) = project(&store, "acme").await;
        let rules = store.alert_rules(project_id).await.unwrap();
        (project_id, rules[0].clone())
    };
    // Back to schema version 8.
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch(
        "DROP TABLE alert_rules; DROP TABLE alert_firings; DROP TABLE rule_issue_state;
         DROP TABLE notifications; DROP TABLE issue_activities; DROP TABLE issue_minutely;
         ALTER TABLE issues DROP COLUMN ignored_until;
         ALTER TABLE events DROP COLUMN alert_flags;
         DELETE FROM schema_migrations WHERE version = 9;",
    )
    .unwrap();
    drop(conn);

    let store = SqliteStore::open(&path).unwrap();
    let rules = store.alert_rules(project_id).await.unwrap();
    assert_eq!(rules.len(), 1, "{rules:?}");
    let migrated = &rules[0];
    assert_eq!(
        (
            &migrated.name,
            &migrated.environment,
            migrated.frequency_minutes,
            &migrated.action_match,
            &migrated.filter_match,
        ),
        (
            &expected.name,
            &expected.environment,
            expected.frequency_minutes,
            &expected.action_match,
            &expected.filter_match,
        )
    );
    assert_eq!(migrated.conditions, expected.conditions);
    assert_eq!(migrated.filters, expected.filters);
    assert_eq!(migrated.actions, expected.actions);
    let age = unix_now() - migrated.date_created;
    assert!((0.0..60.0).contains(&age), "created {age} s ago");
}
