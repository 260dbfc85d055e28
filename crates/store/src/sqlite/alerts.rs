//! Alert rules, firings, the notification outbox and issue activity in sqlite.
//!
//! Tables from migration 0009. The outbox's claims are leases (`leased_until`) rather than a
//! status of their own, so a sender that dies holding notifications loses them only until the
//! lease passes; every state change is one short write transaction on the single writer.

use async_trait::async_trait;
use rusqlite::{params, Connection, OptionalExtension, ToSql, TransactionBehavior};

use super::error::{failed, DbContext};
use super::statements::{record, record_opt, records};
use super::{now, sql_int, SqliteStore};
use crate::batch::CountBuckets;
use crate::domain::{IssueCountQuery, NotificationClaim};
use crate::rows::{SentNotification, NOTIFICATION_COLUMNS, RULE_COLUMNS};
use crate::Alerts;
use crate::{
    AlertRule, Firing, IssueActivity, IssueCounts, NewAlertRule, Notification, NotificationOutcome,
    StoreResult, UnixTime,
};

/// A rule's fields as both its insert and its update bind them, at `?2`…`?9` after the
/// project's or the rule's id at `?1`; the JSON ones as text.
struct RuleFields<'a> {
    rule: &'a NewAlertRule,
    conditions: String,
    filters: String,
    actions: String,
}

impl<'a> RuleFields<'a> {
    fn new(rule: &'a NewAlertRule) -> RuleFields<'a> {
        RuleFields {
            rule,
            conditions: rule.conditions.to_string(),
            filters: rule.filters.to_string(),
            actions: rule.actions.to_string(),
        }
    }

    /// `first`, the fields, then `rest`.
    fn params(&'a self, first: &'a dyn ToSql, rest: &[&'a dyn ToSql]) -> Vec<&'a dyn ToSql> {
        let mut params: Vec<&dyn ToSql> = vec![
            first,
            &self.rule.name,
            &self.rule.environment,
            &self.rule.frequency_minutes,
            &self.rule.action_match,
            &self.rule.filter_match,
            &self.conditions,
            &self.filters,
            &self.actions,
        ];
        params.extend_from_slice(rest);
        params
    }
}

/// Inserts a rule; also used by project creation for the default rule, in its transaction.
pub(crate) fn insert_rule(conn: &Connection, rule: &NewAlertRule) -> StoreResult<AlertRule> {
    let fields = RuleFields::new(rule);
    let created = now();
    record(
        conn,
        &format!(
            "INSERT INTO alert_rules (project_id, name, environment, frequency_minutes,
                 action_match, filter_match, conditions, filters, actions, created_by,
                 date_created)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11) RETURNING {RULE_COLUMNS}"
        ),
        &fields.params(&rule.project_id, &[&rule.created_by, &created])[..],
        &format!("alert rule `{}`", rule.name),
    )
}

/// Records one firing unless its key is known or its rule fired for the issue too recently.
fn record_one(tx: &Connection, firing: &Firing) -> StoreResult<bool> {
    let known: bool = tx
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM alert_firings WHERE dedup_key = ?1)")
        .and_then(|mut stmt| stmt.query_row([&firing.dedup_key], |row| row.get(0)))
        .db("looking up an alert firing")?;
    if known {
        return Ok(false);
    }
    let last_fired: Option<f64> = tx
        .prepare_cached(
            "SELECT last_fired FROM rule_issue_state WHERE rule_id = ?1 AND issue_id = ?2",
        )
        .and_then(|mut stmt| {
            stmt.query_row(params![firing.rule_id, firing.issue_id], |row| row.get(0))
                .optional()
        })
        .db("reading a rule's last firing")?;
    if last_fired.is_some_and(|last| firing.at - last < firing.frequency_secs) {
        return Ok(false);
    }

    tx.prepare_cached(
        "INSERT INTO alert_firings (rule_id, project_id, issue_id, event_id, trigger, fired_at,
             dedup_key)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )
    .and_then(|mut stmt| {
        stmt.execute(params![
            firing.rule_id,
            firing.project_id,
            firing.issue_id,
            firing.event_id,
            firing.trigger,
            firing.at,
            firing.dedup_key,
        ])
    })
    .db(&format!("alert firing `{}`", firing.dedup_key))?;
    tx.prepare_cached(
        "INSERT INTO rule_issue_state (rule_id, issue_id, last_fired) VALUES (?1, ?2, ?3)
         ON CONFLICT (rule_id, issue_id) DO UPDATE SET last_fired = excluded.last_fired",
    )
    .and_then(|mut stmt| stmt.execute(params![firing.rule_id, firing.issue_id, firing.at]))
    .db("recording a rule's last firing")?;

    // Due at once: by the firing's time, or now if that lies ahead (another node's clock).
    let created = now();
    let due = firing.at.min(created);
    let mut insert = tx
        .prepare_cached(
            "INSERT INTO notifications (rule_id, project_id, issue_id, event_id, trigger, kind,
                 target, payload, status, attempts, next_attempt, created)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 'pending', 0, ?9, ?10)",
        )
        .db("writing notifications")?;
    for notification in &firing.notifications {
        insert
            .execute(params![
                firing.rule_id,
                firing.project_id,
                firing.issue_id,
                firing.event_id,
                firing.trigger,
                notification.kind,
                notification.target,
                notification.payload.to_string(),
                due,
                created,
            ])
            .db("writing notifications")?;
    }
    Ok(true)
}

/// The issue's `notification` activity for a notification just sent.
fn record_sent_activity(tx: &Connection, notification_id: i64, at: UnixTime) -> StoreResult<()> {
    let sent: SentNotification = record(
        tx,
        &format!(
            "SELECT {} FROM notifications WHERE id = ?1",
            SentNotification::COLUMNS
        ),
        [notification_id],
        "reading a sent notification",
    )?;
    tx.prepare_cached(
        "INSERT INTO issue_activities (issue_id, kind, data, user_id, date_created)
         VALUES (?1, 'notification', ?2, NULL, ?3)",
    )
    .and_then(|mut stmt| {
        stmt.execute(params![
            sent.issue_id,
            sent.activity_data(notification_id),
            at
        ])
    })
    .db("recording an issue's activity")?;
    Ok(())
}

#[async_trait]
impl Alerts for SqliteStore {
    async fn create_alert_rule(&self, rule: &NewAlertRule) -> StoreResult<AlertRule> {
        let rule = rule.clone();
        self.write(move |conn| insert_rule(conn, &rule)).await
    }

    /// Replaces every field but the project (a rule does not move) and the creation.
    async fn update_alert_rule(
        &self,
        id: i64,
        rule: &NewAlertRule,
    ) -> StoreResult<Option<AlertRule>> {
        let rule = rule.clone();
        self.write(move |conn| {
            record_opt(
                conn,
                &format!(
                    "UPDATE alert_rules SET name = ?2, environment = ?3, frequency_minutes = ?4,
                         action_match = ?5, filter_match = ?6, conditions = ?7, filters = ?8,
                         actions = ?9
                     WHERE id = ?1 RETURNING {RULE_COLUMNS}"
                ),
                &RuleFields::new(&rule).params(&id, &[])[..],
                &format!("alert rule {id}"),
            )
        })
        .await
    }

    /// The rule goes with its firings, its per-issue state and its pending notifications; what was
    /// sent, failed or undeliverable stays, as the record of what happened.
    async fn delete_alert_rule(&self, id: i64) -> StoreResult<bool> {
        self.write(move |conn| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .db("deleting an alert rule")?;
            // The rule last: what it deletes says whether there was one.
            let mut deleted = 0;
            for sql in [
                "DELETE FROM notifications WHERE rule_id = ?1 AND status = 'pending'",
                "DELETE FROM alert_firings WHERE rule_id = ?1",
                "DELETE FROM rule_issue_state WHERE rule_id = ?1",
                "DELETE FROM alert_rules WHERE id = ?1",
            ] {
                deleted = tx
                    .prepare_cached(sql)
                    .and_then(|mut stmt| stmt.execute([id]))
                    .db("deleting an alert rule")?;
            }
            tx.commit().db("deleting an alert rule")?;
            Ok(deleted > 0)
        })
        .await
    }

    async fn alert_rule(&self, id: i64) -> StoreResult<Option<AlertRule>> {
        self.read(move |conn| {
            record_opt(
                conn,
                &format!("SELECT {RULE_COLUMNS} FROM alert_rules WHERE id = ?1"),
                [id],
                "reading an alert rule",
            )
        })
        .await
    }

    async fn alert_rules(&self, project_id: i64) -> StoreResult<Vec<AlertRule>> {
        self.read(move |conn| {
            records(
                conn,
                &format!(
                    "SELECT {RULE_COLUMNS} FROM alert_rules WHERE project_id = ?1 ORDER BY id"
                ),
                [project_id],
                "listing alert rules",
            )
        })
        .await
    }

    async fn record_firings(&self, firings: Vec<Firing>) -> StoreResult<Vec<bool>> {
        if firings.is_empty() {
            return Ok(Vec::new());
        }
        self.write(move |conn| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .db("recording alert firings")?;
            let recorded = firings
                .iter()
                .map(|firing| record_one(&tx, firing))
                .collect::<StoreResult<Vec<bool>>>()?;
            tx.commit().db("recording alert firings")?;
            Ok(recorded)
        })
        .await
    }

    async fn claim_due(&self, claim: NotificationClaim<'_>) -> StoreResult<Vec<Notification>> {
        let kinds_json =
            serde_json::to_string(claim.kinds).map_err(|e| failed("claiming notifications", e))?;
        let NotificationClaim {
            now,
            limit,
            leased_until,
            ..
        } = claim;
        self.write(move |conn| {
            records(
                conn,
                &format!(
                    "UPDATE notifications SET leased_until = ?2
                         WHERE id IN (
                             SELECT id FROM notifications
                             WHERE status = 'pending' AND next_attempt <= ?1
                               AND (leased_until IS NULL OR leased_until <= ?1)
                               AND kind IN (SELECT value FROM json_each(?3))
                             ORDER BY id LIMIT ?4)
                         RETURNING {NOTIFICATION_COLUMNS}"
                ),
                params![now, leased_until, kinds_json, sql_int(limit)],
                "claiming notifications",
            )
        })
        .await
    }

    /// Ends a claim. A notification that is no longer pending (finished already) or no longer
    /// there (its rule was deleted meanwhile) is left as it is.
    async fn finish_notification(&self, id: i64, outcome: NotificationOutcome) -> StoreResult<()> {
        self.write(move |conn| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .db("finishing a notification")?;
            let changed = match &outcome {
                NotificationOutcome::Sent { at } => tx
                    .prepare_cached(
                        "UPDATE notifications SET status = 'sent', sent_at = ?2,
                                 attempts = attempts + 1, leased_until = NULL
                             WHERE id = ?1 AND status = 'pending'",
                    )
                    .and_then(|mut stmt| stmt.execute(params![id, at])),
                NotificationOutcome::Retry {
                    error,
                    next_attempt,
                } => tx
                    .prepare_cached(
                        "UPDATE notifications SET attempts = attempts + 1, next_attempt = ?2,
                                 last_error = ?3, leased_until = NULL
                             WHERE id = ?1 AND status = 'pending'",
                    )
                    .and_then(|mut stmt| stmt.execute(params![id, next_attempt, error])),
                NotificationOutcome::Postpone { until } => tx
                    .prepare_cached(
                        "UPDATE notifications SET next_attempt = ?2, leased_until = NULL
                             WHERE id = ?1 AND status = 'pending'",
                    )
                    .and_then(|mut stmt| stmt.execute(params![id, until])),
                NotificationOutcome::Failed { error } => tx
                    .prepare_cached(
                        "UPDATE notifications SET status = 'failed', attempts = attempts + 1,
                                 last_error = ?2, leased_until = NULL
                             WHERE id = ?1 AND status = 'pending'",
                    )
                    .and_then(|mut stmt| stmt.execute(params![id, error])),
                NotificationOutcome::Undeliverable { reason } => tx
                    .prepare_cached(
                        "UPDATE notifications SET status = 'undeliverable', last_error = ?2,
                                 leased_until = NULL
                             WHERE id = ?1 AND status = 'pending'",
                    )
                    .and_then(|mut stmt| stmt.execute(params![id, reason])),
            }
            .db("finishing a notification")?;
            if changed > 0 {
                if let NotificationOutcome::Sent { at } = outcome {
                    record_sent_activity(&tx, id, at)?;
                }
            }
            tx.commit().db("finishing a notification")?;
            Ok(())
        })
        .await
    }

    async fn list_notifications(
        &self,
        project_id: i64,
        limit: u64,
    ) -> StoreResult<Vec<Notification>> {
        self.read(move |conn| {
            records(
                conn,
                &format!(
                    "SELECT {NOTIFICATION_COLUMNS} FROM notifications WHERE project_id = ?1
                     ORDER BY id DESC LIMIT ?2"
                ),
                params![project_id, sql_int(limit)],
                "listing notifications",
            )
        })
        .await
    }

    async fn last_sent(
        &self,
        rule_id: i64,
        kind: &str,
        target: &str,
    ) -> StoreResult<Option<UnixTime>> {
        let (kind, target) = (kind.to_owned(), target.to_owned());
        self.read(move |conn| {
            conn.prepare_cached(
                "SELECT max(sent_at) FROM notifications
                     WHERE rule_id = ?1 AND kind = ?2 AND target = ?3 AND sent_at IS NOT NULL",
            )
            .and_then(|mut stmt| stmt.query_row(params![rule_id, kind, target], |row| row.get(0)))
            .db("reading when a notification was last sent")
        })
        .await
    }

    async fn last_fired(&self, pairs: &[(i64, i64)]) -> StoreResult<Vec<Option<UnixTime>>> {
        if pairs.is_empty() {
            return Ok(Vec::new());
        }
        let pairs = pairs.to_vec();
        self.read(move |conn| {
            let mut stmt = conn
                .prepare_cached(
                    "SELECT last_fired FROM rule_issue_state WHERE rule_id = ?1 AND issue_id = ?2",
                )
                .db("preparing a last-fired read")?;
            pairs
                .iter()
                .map(|(rule_id, issue_id)| {
                    stmt.query_row(params![rule_id, issue_id], |row| row.get(0))
                        .optional()
                        .db("reading when a rule last fired")
                })
                .collect()
        })
        .await
    }

    async fn issue_activities(&self, issue_id: i64) -> StoreResult<Vec<IssueActivity>> {
        self.read(move |conn| {
            records(
                conn,
                "SELECT id, issue_id, kind, data, user_id, date_created FROM issue_activities
                     WHERE issue_id = ?1 ORDER BY id DESC",
                [issue_id],
                "reading an issue's activity",
            )
        })
        .await
    }

    /// One entry per issue asked for, in that order (zero counts included). Events: one statement
    /// over the minute and hour buckets (see [`CountBuckets`]); users, only when asked, one query
    /// per issue on the `(issue_id, timestamp)` index.
    async fn count_issues(&self, query: IssueCountQuery<'_>) -> StoreResult<Vec<IssueCounts>> {
        let ids_json = serde_json::to_string(query.issue_ids)
            .map_err(|e| failed("counting issues' events", e))?;
        let IssueCountQuery {
            since, with_users, ..
        } = query;
        let buckets = CountBuckets::since(since, now());
        let issue_ids = query.issue_ids.to_vec();
        self.read(move |conn| {
            let events: Vec<i64> = conn
                .prepare_cached(
                    "SELECT
                             coalesce((SELECT sum(m.count) FROM issue_minutely m
                                       WHERE m.issue_id = a.value
                                         AND m.minute >= ?2 AND m.minute < ?3), 0)
                           + coalesce((SELECT sum(h.count) FROM issue_hourly h
                                       WHERE h.issue_id = a.value AND h.hour >= ?3), 0)
                         FROM json_each(?1) a ORDER BY a.key",
                )
                .and_then(|mut stmt| {
                    stmt.query_map(
                        params![ids_json, buckets.minutes_from, buckets.hours_from],
                        |row| row.get(0),
                    )?
                    .collect()
                })
                .db("counting issues' events")?;
            let mut users_of = conn
                .prepare_cached(
                    "SELECT count(DISTINCT user_tag) FROM events
                         WHERE issue_id = ?1 AND timestamp >= ?2",
                )
                .db("counting an issue's users")?;
            issue_ids
                .iter()
                .zip(events)
                .map(|(&issue_id, events)| {
                    let users: i64 = if with_users {
                        users_of
                            .query_row(params![issue_id, since], |row| row.get(0))
                            .db("counting an issue's users")?
                    } else {
                        0
                    };
                    Ok(IssueCounts {
                        issue_id,
                        events: u64::try_from(events).unwrap_or(0),
                        users: u64::try_from(users).unwrap_or(0),
                    })
                })
                .collect()
        })
        .await
    }
}
