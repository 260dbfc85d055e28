//! Alert rules, firings, the notification outbox and issue activity in PostgreSQL.
//!
//! The rules are SQLite's (`sqlite/alerts.rs`); what several nodes add:
//! - a firing is recorded once by its dedup key (`INSERT … ON CONFLICT DO NOTHING`: a second
//!   node recording the same key waits for the first and then skips it), and not more often than
//!   its rule's frequency per issue: `rule_issue_state` is upserted with a `WHERE` on
//!   `last_fired`, so of two nodes firing the same rule for the same issue at once the second
//!   waits for the first's row lock, sees its `last_fired` and skips;
//! - senders claim notifications with `FOR UPDATE SKIP LOCKED` and a lease (`leased_until`), so
//!   each notification is held by one sender on one node; a sender that dies loses its claims
//!   when the lease ends and another node sends them.

use std::time::Duration;

use async_trait::async_trait;
use deadpool_postgres::{GenericClient, Transaction};
use tokio_postgres::types::ToSql;

use super::error::{is_transient, DbContext};
use super::sql::{self, get, sql_int};
use super::{now, PgStore};
use crate::batch::CountBuckets;
use crate::domain::{IssueCountQuery, NotificationClaim};
use crate::rows::{prefixed, SentNotification, NOTIFICATION_COLUMNS, RULE_COLUMNS};
use crate::Alerts;
use crate::{
    AlertRule, Firing, IssueActivity, IssueCounts, NewAlertRule, Notification, NotificationOutcome,
    NotificationStatus, StoreResult, UnixTime,
};

/// How often `record_firings` runs again after a deadlock with another node before it fails.
const MAX_ATTEMPTS: u32 = 5;

/// The rule's fields as the statements below bind them (`$2`…`$10`).
struct RuleParams<'a> {
    frequency: i64,
    conditions: String,
    filters: String,
    actions: String,
    rule: &'a NewAlertRule,
}

impl<'a> RuleParams<'a> {
    fn new(rule: &'a NewAlertRule) -> RuleParams<'a> {
        RuleParams {
            frequency: i64::from(rule.frequency_minutes),
            conditions: rule.conditions.to_string(),
            filters: rule.filters.to_string(),
            actions: rule.actions.to_string(),
            rule,
        }
    }
}

/// Inserts a rule in `client`'s transaction or on its own; `create_project` uses it for the
/// default rule.
pub(super) async fn insert_rule<C: GenericClient>(
    client: &C,
    rule: &NewAlertRule,
) -> StoreResult<AlertRule> {
    let p = RuleParams::new(rule);
    sql::record(
        client,
        &format!(
            "INSERT INTO alert_rules (project_id, name, environment, frequency_minutes,
                 action_match, filter_match, conditions, filters, actions, created_by,
                 date_created)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
             RETURNING {RULE_COLUMNS}"
        ),
        &[
            &rule.project_id,
            &rule.name,
            &rule.environment,
            &p.frequency,
            &rule.action_match,
            &rule.filter_match,
            &p.conditions,
            &p.filters,
            &p.actions,
            &rule.created_by,
            &now(),
        ],
        "creating an alert rule",
    )
    .await
}

/// Records each firing that is new by key and due by its rule's frequency, with its
/// notifications. Rows are locked in `(rule, issue)` order, so that two nodes recording firings
/// of the same rules rarely wait for each other in a cycle.
async fn try_record_firings(
    tx: &Transaction<'_>,
    firings: &[Firing],
) -> Result<Vec<bool>, tokio_postgres::Error> {
    let mut order: Vec<usize> = (0..firings.len()).collect();
    order.sort_by_key(|&i| (firings[i].rule_id, firings[i].issue_id, i));

    let insert_firing = tx
        .prepare_cached(
            "INSERT INTO alert_firings (rule_id, project_id, issue_id, event_id, trigger, fired_at,
                 dedup_key)
             VALUES ($1, $2, $3, $4, $5, $6, $7)
             ON CONFLICT (dedup_key) DO NOTHING
             RETURNING id",
        )
        .await?;
    // Fires when the rule never fired for the issue, or last did at least `frequency` before:
    // the upsert's WHERE runs on the locked, newest row.
    let due = tx
        .prepare_cached(
            "INSERT INTO rule_issue_state (rule_id, issue_id, last_fired)
             VALUES ($1, $2, $3)
             ON CONFLICT (rule_id, issue_id) DO UPDATE SET last_fired = EXCLUDED.last_fired
             WHERE rule_issue_state.last_fired <= EXCLUDED.last_fired - $4
             RETURNING 1",
        )
        .await?;
    let forget_firing = tx
        .prepare_cached("DELETE FROM alert_firings WHERE id = $1")
        .await?;

    let mut recorded = vec![false; firings.len()];
    for index in order {
        let firing = &firings[index];
        let inserted = tx
            .query_opt(
                &insert_firing,
                &[
                    &firing.rule_id,
                    &firing.project_id,
                    &firing.issue_id,
                    &firing.event_id,
                    &firing.trigger,
                    &firing.at,
                    &firing.dedup_key,
                ],
            )
            .await?;
        let Some(row) = inserted else {
            continue;
        };
        let firing_id: i64 = row.try_get(0)?;
        let fired = tx
            .query_opt(
                &due,
                &[
                    &firing.rule_id,
                    &firing.issue_id,
                    &firing.at,
                    &firing.frequency_secs,
                ],
            )
            .await?
            .is_some();
        if !fired {
            // Too soon after the last firing: not a firing after all.
            tx.execute(&forget_firing, &[&firing_id]).await?;
            continue;
        }
        recorded[index] = true;
    }

    // The notifications of every recorded firing, in one statement. Due at once: by the
    // firing's time, or now if that lies ahead (another node's clock).
    let created = now();
    let mut columns = NotificationRows::default();
    for (firing, _) in firings.iter().zip(&recorded).filter(|(_, fired)| **fired) {
        for notification in &firing.notifications {
            columns.rule_ids.push(firing.rule_id);
            columns.project_ids.push(firing.project_id);
            columns.issue_ids.push(firing.issue_id);
            columns.event_ids.push(&firing.event_id);
            columns.triggers.push(&firing.trigger);
            columns.kinds.push(&notification.kind);
            columns.targets.push(&notification.target);
            columns.payloads.push(notification.payload.to_string());
            columns.due.push(firing.at.min(created));
        }
    }
    if !columns.rule_ids.is_empty() {
        let statement = tx
            .prepare_cached(
                "INSERT INTO notifications (rule_id, project_id, issue_id, event_id,
                     trigger, kind, target, payload, status, attempts, next_attempt, created)
                 SELECT u.rule_id, u.project_id, u.issue_id, u.event_id, u.trigger, u.kind,
                     u.target, u.payload, 'pending', 0, u.due, $10
                 FROM UNNEST($1::BIGINT[], $2::BIGINT[], $3::BIGINT[], $4::TEXT[], $5::TEXT[],
                             $6::TEXT[], $7::TEXT[], $8::TEXT[], $9::DOUBLE PRECISION[])
                      AS u(rule_id, project_id, issue_id, event_id, trigger, kind, target,
                           payload, due)",
            )
            .await?;
        tx.execute(
            &statement,
            &[
                &columns.rule_ids,
                &columns.project_ids,
                &columns.issue_ids,
                &columns.event_ids,
                &columns.triggers,
                &columns.kinds,
                &columns.targets,
                &columns.payloads,
                &columns.due,
                &created,
            ],
        )
        .await?;
    }
    Ok(recorded)
}

/// New notifications as columns.
#[derive(Default)]
struct NotificationRows<'a> {
    rule_ids: Vec<i64>,
    project_ids: Vec<i64>,
    issue_ids: Vec<i64>,
    event_ids: Vec<&'a str>,
    triggers: Vec<&'a str>,
    kinds: Vec<&'a str>,
    targets: Vec<&'a str>,
    payloads: Vec<String>,
    due: Vec<f64>,
}

#[async_trait]
impl Alerts for PgStore {
    async fn create_alert_rule(&self, rule: &NewAlertRule) -> StoreResult<AlertRule> {
        insert_rule(&self.client().await?, rule).await
    }

    /// Replaces what the API can change; the project, the author and the creation date stay.
    async fn update_alert_rule(
        &self,
        id: i64,
        rule: &NewAlertRule,
    ) -> StoreResult<Option<AlertRule>> {
        let p = RuleParams::new(rule);
        sql::record_opt(
            &self.client().await?,
            &format!(
                "UPDATE alert_rules SET name = $2, environment = $3, frequency_minutes = $4,
                     action_match = $5, filter_match = $6, conditions = $7, filters = $8,
                     actions = $9
                 WHERE id = $1
                 RETURNING {RULE_COLUMNS}"
            ),
            &[
                &id,
                &p.rule.name,
                &p.rule.environment,
                &p.frequency,
                &p.rule.action_match,
                &p.rule.filter_match,
                &p.conditions,
                &p.filters,
                &p.actions,
            ],
            "updating an alert rule",
        )
        .await
    }

    /// Deletes the rule, its firings, its per-issue state and its pending notifications; what was
    /// sent, failed or undeliverable stays, as the record of what happened.
    async fn delete_alert_rule(&self, id: i64) -> StoreResult<bool> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.db("deleting an alert rule")?;
        // The rule last: what it deletes says whether there was one.
        let mut deleted = 0;
        for statement in [
            "DELETE FROM notifications WHERE rule_id = $1 AND status = 'pending'",
            "DELETE FROM alert_firings WHERE rule_id = $1",
            "DELETE FROM rule_issue_state WHERE rule_id = $1",
            "DELETE FROM alert_rules WHERE id = $1",
        ] {
            deleted = sql::execute(&tx, statement, &[&id], "deleting an alert rule").await?;
        }
        tx.commit().await.db("deleting an alert rule")?;
        Ok(deleted > 0)
    }

    async fn alert_rule(&self, id: i64) -> StoreResult<Option<AlertRule>> {
        sql::record_opt(
            &self.client().await?,
            &format!("SELECT {RULE_COLUMNS} FROM alert_rules WHERE id = $1"),
            &[&id],
            "reading an alert rule",
        )
        .await
    }

    async fn alert_rules(&self, project_id: i64) -> StoreResult<Vec<AlertRule>> {
        sql::records(
            &self.client().await?,
            &format!("SELECT {RULE_COLUMNS} FROM alert_rules WHERE project_id = $1 ORDER BY id"),
            &[&project_id],
            "listing alert rules",
        )
        .await
    }

    /// One transaction for all the firings; run again when it deadlocks with another node.
    async fn record_firings(&self, firings: Vec<Firing>) -> StoreResult<Vec<bool>> {
        if firings.is_empty() {
            return Ok(Vec::new());
        }
        let mut client = self.client().await?;
        let mut attempt = 1;
        loop {
            let tx = client.transaction().await.db("recording alert firings")?;
            let outcome = match try_record_firings(&tx, &firings).await {
                Ok(recorded) => tx.commit().await.map(|()| recorded),
                Err(err) => Err(err),
            };
            match outcome {
                Ok(recorded) => return Ok(recorded),
                Err(err) if is_transient(&err) && attempt < MAX_ATTEMPTS => {
                    tracing::debug!(
                        attempt,
                        "recording firings deadlocked with another node; again"
                    );
                    let pause = rand::random::<u64>() % (10 * u64::from(attempt)) + 1;
                    tokio::time::sleep(Duration::from_millis(pause)).await;
                    attempt += 1;
                }
                Err(err) => return Err(super::error::classify(&err, "recording alert firings")),
            }
        }
    }

    /// Takes due, unclaimed pending notifications with `FOR UPDATE SKIP LOCKED`: a row another
    /// node is claiming right now is skipped rather than waited for, and once claimed its lease
    /// keeps every other sender off it until `now + lease_secs`. Leases are in the senders' clock
    /// (the `now` they pass), like `next_attempt`.
    async fn claim_due(&self, claim: NotificationClaim<'_>) -> StoreResult<Vec<Notification>> {
        sql::records(
            &self.client().await?,
            &format!(
                "UPDATE notifications n SET leased_until = $4
                 FROM (SELECT id FROM notifications
                       WHERE status = 'pending' AND next_attempt <= $2
                         AND (leased_until IS NULL OR leased_until <= $2)
                         AND kind = ANY($1::TEXT[])
                       ORDER BY id LIMIT $3
                       FOR UPDATE SKIP LOCKED) due
                 WHERE n.id = due.id
                 RETURNING {}",
                prefixed(NOTIFICATION_COLUMNS, "n.")
            ),
            &[
                &claim.kinds,
                &claim.now,
                &sql_int(claim.limit),
                &claim.leased_until,
            ],
            "claiming notifications",
        )
        .await
    }

    /// Ends a claim (the lease is released) and records the outcome; `Sent` adds the issue's
    /// `notification` activity in the same transaction. A notification that is no longer pending
    /// (finished already) or no longer there (its rule was deleted meanwhile) is left as it is.
    async fn finish_notification(&self, id: i64, outcome: NotificationOutcome) -> StoreResult<()> {
        // (status, attempts added, next_attempt, last_error, sent_at); NULL keeps the column.
        let (status, attempt, next_attempt, error, sent_at) = match &outcome {
            NotificationOutcome::Sent { at } => {
                (NotificationStatus::Sent, 1_i64, None, None, Some(*at))
            }
            NotificationOutcome::Retry {
                error,
                next_attempt,
            } => (
                NotificationStatus::Pending,
                1,
                Some(*next_attempt),
                Some(error.as_str()),
                None,
            ),
            NotificationOutcome::Postpone { until } => {
                (NotificationStatus::Pending, 0, Some(*until), None, None)
            }
            NotificationOutcome::Failed { error } => (
                NotificationStatus::Failed,
                1,
                None,
                Some(error.as_str()),
                None,
            ),
            NotificationOutcome::Undeliverable { reason } => (
                NotificationStatus::Undeliverable,
                0,
                None,
                Some(reason.as_str()),
                None,
            ),
        };
        let mut client = self.client().await?;
        let tx = client.transaction().await.db("finishing a notification")?;
        let finished: Option<SentNotification> = sql::record_opt(
            &tx,
            &format!(
                "UPDATE notifications SET status = $2, attempts = attempts + $3,
                     next_attempt = coalesce($4, next_attempt),
                     last_error = coalesce($5, last_error),
                     sent_at = coalesce($6, sent_at),
                     leased_until = NULL
                 WHERE id = $1 AND status = 'pending'
                 RETURNING {}",
                SentNotification::COLUMNS
            ),
            &[
                &id,
                &status.as_str(),
                &attempt,
                &next_attempt,
                &error,
                &sent_at,
            ],
            "finishing a notification",
        )
        .await?;
        if let (Some(sent), NotificationOutcome::Sent { at }) = (finished, &outcome) {
            sql::execute(
                &tx,
                "INSERT INTO issue_activities (issue_id, kind, data, user_id, date_created)
                 VALUES ($1, 'notification', $2, NULL, $3)",
                &[&sent.issue_id, &sent.activity_data(id), at],
                "recording an issue's activity",
            )
            .await?;
        }
        tx.commit().await.db("finishing a notification")
    }

    async fn list_notifications(
        &self,
        project_id: i64,
        limit: u64,
    ) -> StoreResult<Vec<Notification>> {
        sql::records(
            &self.client().await?,
            &format!(
                "SELECT {NOTIFICATION_COLUMNS} FROM notifications
                 WHERE project_id = $1 ORDER BY id DESC LIMIT $2"
            ),
            &[&project_id, &sql_int(limit)],
            "listing notifications",
        )
        .await
    }

    async fn last_sent(
        &self,
        rule_id: i64,
        kind: &str,
        target: &str,
    ) -> StoreResult<Option<UnixTime>> {
        let row = sql::query_one(
            &self.client().await?,
            "SELECT max(sent_at) FROM notifications
             WHERE rule_id = $1 AND kind = $2 AND target = $3 AND sent_at IS NOT NULL",
            &[&rule_id, &kind, &target],
            "reading when a notification was last sent",
        )
        .await?;
        get(&row, 0)
    }

    async fn last_fired(&self, pairs: &[(i64, i64)]) -> StoreResult<Vec<Option<UnixTime>>> {
        if pairs.is_empty() {
            return Ok(Vec::new());
        }
        let rules: Vec<i64> = pairs.iter().map(|(rule, _)| *rule).collect();
        let issues: Vec<i64> = pairs.iter().map(|(_, issue)| *issue).collect();
        let rows = sql::query(
            &self.client().await?,
            "SELECT s.last_fired
             FROM UNNEST($1::bigint[], $2::bigint[]) WITH ORDINALITY AS p(rule_id, issue_id, n)
             LEFT JOIN rule_issue_state s ON s.rule_id = p.rule_id AND s.issue_id = p.issue_id
             ORDER BY p.n",
            &[&rules, &issues],
            "reading when rules last fired",
        )
        .await?;
        rows.iter().map(|row| get(row, 0)).collect()
    }

    async fn issue_activities(&self, issue_id: i64) -> StoreResult<Vec<IssueActivity>> {
        sql::records(
            &self.client().await?,
            "SELECT id, issue_id, kind, data, user_id, date_created FROM issue_activities
             WHERE issue_id = $1 ORDER BY id DESC",
            &[&issue_id],
            "reading an issue's activity",
        )
        .await
    }

    /// One answer per issue asked for, in their order (zero when it has no such events). Events
    /// from the minute and hour buckets (see [`CountBuckets`]); users, only when asked, from the
    /// `(issue_id, timestamp)` index of the events.
    async fn count_issues(&self, query: IssueCountQuery<'_>) -> StoreResult<Vec<IssueCounts>> {
        let IssueCountQuery {
            issue_ids,
            since,
            with_users,
        } = query;
        let buckets = CountBuckets::since(since, now());
        let users = if with_users {
            "(SELECT count(DISTINCT e.user_tag) FROM events e
              WHERE e.issue_id = u.issue_id AND e.timestamp >= $4)"
        } else {
            "0::BIGINT"
        };
        let mut params: Vec<&(dyn ToSql + Sync)> =
            vec![&issue_ids, &buckets.minutes_from, &buckets.hours_from];
        if with_users {
            params.push(&since);
        }
        sql::query(
            &self.client().await?,
            &format!(
                "SELECT u.issue_id,
                     coalesce((SELECT sum(m.count) FROM issue_minutely m
                               WHERE m.issue_id = u.issue_id
                                 AND m.minute >= $2 AND m.minute < $3), 0)::BIGINT
                   + coalesce((SELECT sum(h.count) FROM issue_hourly h
                               WHERE h.issue_id = u.issue_id AND h.hour >= $3), 0)::BIGINT,
                     {users}
                 FROM UNNEST($1::BIGINT[]) WITH ORDINALITY AS u(issue_id, n)
                 ORDER BY u.n"
            ),
            &params,
            "counting issues' events",
        )
        .await?
        .iter()
        .map(|row| {
            let events: i64 = get(row, 1)?;
            let users: i64 = get(row, 2)?;
            Ok(IssueCounts {
                issue_id: get(row, 0)?,
                events: u64::try_from(events).unwrap_or(0),
                users: u64::try_from(users).unwrap_or(0),
            })
        })
        .collect()
    }
}

#[cfg(test)]
mod tests;
