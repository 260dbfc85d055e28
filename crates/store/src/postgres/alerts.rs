//! Alert rules, firings, the notification outbox and issue activity in postgres.

use super::PgStore;
use crate::{
    AlertRule, Firing, Issue, IssueActivity, IssueCounts, NewAlertRule, Notification,
    NotificationOutcome, StoreError, StoreResult, UnixTime, User,
};

fn unbuilt() -> StoreError {
    StoreError::Invalid("alerts are not stored by this backend yet".into())
}

pub(super) async fn create_alert_rule(
    _store: &PgStore,
    _rule: &NewAlertRule,
) -> StoreResult<AlertRule> {
    Err(unbuilt())
}

pub(super) async fn update_alert_rule(
    _store: &PgStore,
    _id: i64,
    _rule: &NewAlertRule,
) -> StoreResult<Option<AlertRule>> {
    Err(unbuilt())
}

pub(super) async fn delete_alert_rule(_store: &PgStore, _id: i64) -> StoreResult<bool> {
    Err(unbuilt())
}

pub(super) async fn alert_rule(_store: &PgStore, _id: i64) -> StoreResult<Option<AlertRule>> {
    Err(unbuilt())
}

pub(super) async fn alert_rules(_store: &PgStore, _project_id: i64) -> StoreResult<Vec<AlertRule>> {
    Err(unbuilt())
}

pub(super) async fn record_firings(
    _store: &PgStore,
    _firings: Vec<Firing>,
) -> StoreResult<Vec<bool>> {
    Err(unbuilt())
}

pub(super) async fn claim_notifications(
    _store: &PgStore,
    _kinds: &[&str],
    _now: UnixTime,
    _limit: u64,
    _lease_secs: f64,
) -> StoreResult<Vec<Notification>> {
    Err(unbuilt())
}

pub(super) async fn finish_notification(
    _store: &PgStore,
    _id: i64,
    _outcome: NotificationOutcome,
) -> StoreResult<()> {
    Err(unbuilt())
}

pub(super) async fn list_notifications(
    _store: &PgStore,
    _project_id: i64,
    _limit: u64,
) -> StoreResult<Vec<Notification>> {
    Err(unbuilt())
}

pub(super) async fn last_sent(
    _store: &PgStore,
    _rule_id: i64,
    _kind: &str,
    _target: &str,
) -> StoreResult<Option<UnixTime>> {
    Err(unbuilt())
}

pub(super) async fn issue_activities(
    _store: &PgStore,
    _issue_id: i64,
) -> StoreResult<Vec<IssueActivity>> {
    Err(unbuilt())
}

pub(super) async fn issue_counts(
    _store: &PgStore,
    _issue_ids: &[i64],
    _since: UnixTime,
) -> StoreResult<Vec<IssueCounts>> {
    Err(unbuilt())
}

pub(super) async fn organization_members(
    _store: &PgStore,
    _organization_id: i64,
) -> StoreResult<Vec<(User, String)>> {
    Err(unbuilt())
}

pub(super) async fn snooze_issue(
    _store: &PgStore,
    _id: i64,
    _until: UnixTime,
) -> StoreResult<Option<Issue>> {
    Err(unbuilt())
}
