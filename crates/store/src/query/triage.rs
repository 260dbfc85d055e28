//! Triage (Sentry's assignee, bookmarks, subscriptions, seen, snoozes, notes, delete, merge):
//! the statements, written once with `?n` placeholders and turned into `$n` for PostgreSQL.
//! Both backends run the same scripts in one transaction, so the two cannot drift.

use std::fmt::Write as _;

use super::{Builder, Dialect};
use crate::{IssueQuery, Snooze};

/// A value of a triage statement: the driver types both backends bind (NULLs included, which
/// the search's [`super::Param`] has no need for).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    Int(i64),
    OptInt(Option<i64>),
    OptReal(Option<f64>),
    Real(f64),
    Text(String),
    Bool(bool),
}

impl rusqlite::ToSql for Value {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        match self {
            Value::Int(v) => v.to_sql(),
            Value::OptInt(v) => v.to_sql(),
            Value::OptReal(v) => v.to_sql(),
            Value::Real(v) => v.to_sql(),
            Value::Text(v) => v.to_sql(),
            Value::Bool(v) => v.to_sql(),
        }
    }
}

impl Value {
    pub(crate) fn as_postgres(&self) -> &(dyn tokio_postgres::types::ToSql + Sync) {
        match self {
            Value::Int(v) => v,
            Value::OptInt(v) => v,
            Value::OptReal(v) => v,
            Value::Real(v) => v,
            Value::Text(v) => v,
            Value::Bool(v) => v,
        }
    }
}

/// One statement of a script: its text with `?n` placeholders and exactly the values they use.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Step {
    pub sql: String,
    pub params: Vec<Value>,
}

impl Step {
    fn new(sql: &str, params: Vec<Value>) -> Step {
        Step {
            sql: sql.to_owned(),
            params,
        }
    }

    /// The text for `dialect`: `?n` becomes `$n` on PostgreSQL.
    pub(crate) fn sql_for(&self, dialect: Dialect) -> String {
        match dialect {
            Dialect::Sqlite => self.sql.clone(),
            Dialect::Postgres => self.sql.replace('?', "$"),
        }
    }

    pub(crate) fn postgres_params(&self) -> Vec<&(dyn tokio_postgres::types::ToSql + Sync)> {
        self.params.iter().map(Value::as_postgres).collect()
    }
}

/// The triage columns of an issue and one user's marks on it (a user of `None` marks nothing).
pub(crate) fn read_triage(issue_id: i64, user_id: Option<i64>) -> Step {
    Step::new(
        "SELECT i.assignee_id, i.ignored_until, i.ignore_count, i.ignore_window,
                i.ignore_user_count, i.ignore_user_window, i.ignore_times_seen,
                i.ignore_users_seen, i.reviewed_at,
                s.bookmarked, s.subscribed, s.subscription_reason, s.seen_at
         FROM issues i
         LEFT JOIN issue_user_states s ON s.issue_id = i.id AND s.user_id = ?2
         WHERE i.id = ?1",
        vec![Value::Int(issue_id), Value::OptInt(user_id)],
    )
}

pub(crate) fn set_assignee(issue_id: i64, user_id: Option<i64>) -> Step {
    Step::new(
        "UPDATE issues SET assignee_id = ?2 WHERE id = ?1",
        vec![Value::Int(issue_id), Value::OptInt(user_id)],
    )
}

pub(crate) fn set_reviewed(issue_id: i64, at: Option<f64>) -> Step {
    Step::new(
        "UPDATE issues SET reviewed_at = ?2 WHERE id = ?1",
        vec![Value::Int(issue_id), Value::OptReal(at)],
    )
}

pub(crate) fn set_bookmark(issue_id: i64, user_id: i64, on: bool) -> Step {
    Step::new(
        "INSERT INTO issue_user_states (issue_id, user_id, bookmarked) VALUES (?1, ?2, ?3)
         ON CONFLICT (issue_id, user_id) DO UPDATE SET bookmarked = excluded.bookmarked",
        vec![Value::Int(issue_id), Value::Int(user_id), Value::Bool(on)],
    )
}

/// Subscribes or unsubscribes; with `only_if_unset`, a participation (a note, an assignment)
/// subscribes a user who never chose, as Sentry's `GroupSubscription.subscribe` does.
pub(crate) fn set_subscription(
    issue_id: i64,
    user_id: i64,
    subscribed: bool,
    reason: &str,
    only_if_unset: bool,
) -> Step {
    let sql = if only_if_unset {
        "INSERT INTO issue_user_states (issue_id, user_id, subscribed, subscription_reason)
         VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (issue_id, user_id) DO UPDATE SET
             subscription_reason = CASE WHEN issue_user_states.subscribed IS NULL
                 THEN excluded.subscription_reason ELSE issue_user_states.subscription_reason END,
             subscribed = coalesce(issue_user_states.subscribed, excluded.subscribed)"
    } else {
        "INSERT INTO issue_user_states (issue_id, user_id, subscribed, subscription_reason)
         VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (issue_id, user_id) DO UPDATE SET subscribed = excluded.subscribed,
             subscription_reason = excluded.subscription_reason"
    };
    Step::new(
        sql,
        vec![
            Value::Int(issue_id),
            Value::Int(user_id),
            Value::Bool(subscribed),
            Value::Text(reason.to_owned()),
        ],
    )
}

pub(crate) fn set_seen(issue_id: i64, user_id: i64, at: Option<f64>) -> Step {
    Step::new(
        "INSERT INTO issue_user_states (issue_id, user_id, seen_at) VALUES (?1, ?2, ?3)
         ON CONFLICT (issue_id, user_id) DO UPDATE SET seen_at = excluded.seen_at",
        vec![Value::Int(issue_id), Value::Int(user_id), Value::OptReal(at)],
    )
}

/// Ignores the issue with its conditions, counting from its counts now.
pub(crate) fn ignore(issue_id: i64, substatus: &str, snooze: &Snooze) -> Step {
    Step::new(
        "UPDATE issues SET status = 'ignored', substatus = ?2, resolved_at = NULL,
             ignored_until = ?3, ignore_count = ?4, ignore_window = ?5, ignore_user_count = ?6,
             ignore_user_window = ?7, ignore_times_seen = times_seen,
             ignore_users_seen = user_count
         WHERE id = ?1",
        vec![
            Value::Int(issue_id),
            Value::Text(substatus.to_owned()),
            Value::OptReal(snooze.until),
            Value::OptInt(snooze.count),
            Value::OptInt(snooze.window),
            Value::OptInt(snooze.user_count),
            Value::OptInt(snooze.user_window),
        ],
    )
}

/// What `set_issue_status` and a reopening also clear: an ignore's conditions end with it.
pub(crate) const CLEAR_SNOOZE: &str = "ignore_count = NULL, ignore_window = NULL, \
     ignore_user_count = NULL, ignore_user_window = NULL, ignore_times_seen = NULL, \
     ignore_users_seen = NULL";

/// The condition of an ignored issue (`issues` unaliased) whose count or user condition is met
/// at `?2` (now): Sentry's `GroupSnooze.is_valid` turned false. Without a window the events
/// (users) since the ignore are counted; with one, those of the last `window` minutes.
pub(crate) const SNOOZE_MET: &str = "issues.status = 'ignored' AND (
     (issues.ignore_count IS NOT NULL AND issues.ignore_window IS NULL
      AND issues.times_seen - issues.ignore_times_seen >= issues.ignore_count)
  OR (issues.ignore_count IS NOT NULL AND issues.ignore_window IS NOT NULL
      AND (SELECT count(*) FROM events e WHERE e.issue_id = issues.id
           AND e.timestamp >= CAST(?2 AS DOUBLE PRECISION) - issues.ignore_window * 60)
          >= issues.ignore_count)
  OR (issues.ignore_user_count IS NOT NULL AND issues.ignore_user_window IS NULL
      AND issues.user_count - issues.ignore_users_seen >= issues.ignore_user_count)
  OR (issues.ignore_user_count IS NOT NULL AND issues.ignore_user_window IS NOT NULL
      AND (SELECT count(DISTINCT e.user_tag) FROM events e WHERE e.issue_id = issues.id
           AND e.timestamp >= CAST(?2 AS DOUBLE PRECISION) - issues.ignore_user_window * 60)
          >= issues.ignore_user_count))";

/// `SET` of an issue whose ignore ended by its conditions: back to unresolved and for review.
pub(crate) fn lift_set() -> String {
    format!(
        "status = 'unresolved', substatus = 'ongoing', ignored_until = NULL, \
         reviewed_at = NULL, {CLEAR_SNOOZE}"
    )
}

pub(crate) const ACTIVITY_COLUMNS: &str = "id, issue_id, kind, data, user_id, date_created";

pub(crate) fn add_activity(
    issue_id: i64,
    kind: &str,
    data: &serde_json::Value,
    user_id: Option<i64>,
    at: f64,
) -> Step {
    Step::new(
        &format!(
            "INSERT INTO issue_activities (issue_id, kind, data, user_id, date_created)
             VALUES (?1, ?2, ?3, ?4, ?5) RETURNING {ACTIVITY_COLUMNS}"
        ),
        vec![
            Value::Int(issue_id),
            Value::Text(kind.to_owned()),
            Value::Text(data.to_string()),
            Value::OptInt(user_id),
            Value::Real(at),
        ],
    )
}

pub(crate) fn activity_by_id(id: i64) -> Step {
    Step::new(
        &format!("SELECT {ACTIVITY_COLUMNS} FROM issue_activities WHERE id = ?1"),
        vec![Value::Int(id)],
    )
}

pub(crate) fn update_activity_data(id: i64, data: &serde_json::Value) -> Step {
    Step::new(
        &format!("UPDATE issue_activities SET data = ?2 WHERE id = ?1 RETURNING {ACTIVITY_COLUMNS}"),
        vec![Value::Int(id), Value::Text(data.to_string())],
    )
}

pub(crate) fn delete_activity(id: i64) -> Step {
    Step::new(
        "DELETE FROM issue_activities WHERE id = ?1",
        vec![Value::Int(id)],
    )
}

pub(crate) fn issue_hashes(issue_id: i64) -> Step {
    Step::new(
        "SELECT hash FROM grouphashes WHERE issue_id = ?1 ORDER BY hash",
        vec![Value::Int(issue_id)],
    )
}

/// Tables whose rows belong to one issue, besides its events and hashes.
const ISSUE_TABLES: [&str; 9] = [
    "issue_users",
    "issue_tag_values",
    "issue_hourly",
    "issue_minutely",
    "notifications",
    "alert_firings",
    "rule_issue_state",
    "issue_activities",
    "issue_user_states",
];

/// Deletes an issue with its events, hashes, counts and activity: a later event with one of
/// its hashes makes a new issue, as Sentry's delete (without a tombstone) does. The reference
/// events of its hashes stay: every node's ingest may hold them in its cache, and a new issue
/// of the same hash compresses against them again (retention deletes them with that issue).
/// The last step deletes the issue row.
pub(crate) fn delete_issue(issue_id: i64) -> Vec<Step> {
    let id = || vec![Value::Int(issue_id)];
    let mut steps = vec![
        Step::new("DELETE FROM events WHERE issue_id = ?1", id()),
        Step::new("DELETE FROM grouphashes WHERE issue_id = ?1", id()),
    ];
    for table in ISSUE_TABLES {
        steps.push(Step::new(
            &format!("DELETE FROM {table} WHERE issue_id = ?1"),
            id(),
        ));
    }
    steps.push(Step::new("DELETE FROM issues WHERE id = ?1", id()));
    steps
}

/// Merges `child` into `primary` (Sentry's `merge_groups`): its events, hashes, activity and
/// alert history move over; tag values, hourly and minutely counts and users add up; then the
/// child is deleted.
pub(crate) fn merge(primary: i64, child: i64) -> Vec<Step> {
    let both = || vec![Value::Int(primary), Value::Int(child)];
    let child_only = || vec![Value::Int(child)];
    let mut steps = Vec::new();
    for table in ["events", "grouphashes", "issue_activities", "notifications", "alert_firings"]
    {
        steps.push(Step::new(
            &format!("UPDATE {table} SET issue_id = ?1 WHERE issue_id = ?2"),
            both(),
        ));
    }
    steps.push(Step::new(
        "INSERT INTO issue_tag_values (issue_id, key, value, times_seen, first_seen, last_seen)
         SELECT CAST(?1 AS BIGINT), key, value, times_seen, first_seen, last_seen
         FROM issue_tag_values WHERE issue_id = ?2
         ON CONFLICT (issue_id, key, value) DO UPDATE SET
             times_seen = issue_tag_values.times_seen + excluded.times_seen,
             first_seen = CASE WHEN excluded.first_seen < issue_tag_values.first_seen
                 THEN excluded.first_seen ELSE issue_tag_values.first_seen END,
             last_seen = CASE WHEN excluded.last_seen > issue_tag_values.last_seen
                 THEN excluded.last_seen ELSE issue_tag_values.last_seen END",
        both(),
    ));
    for (table, column) in [("issue_hourly", "hour"), ("issue_minutely", "minute")] {
        steps.push(Step::new(
            &format!(
                "INSERT INTO {table} (issue_id, {column}, count)
                 SELECT CAST(?1 AS BIGINT), {column}, count FROM {table} WHERE issue_id = ?2
                 ON CONFLICT (issue_id, {column}) DO UPDATE SET
                     count = {table}.count + excluded.count"
            ),
            both(),
        ));
    }
    steps.push(Step::new(
        "INSERT INTO issue_users (issue_id, user_tag)
         SELECT CAST(?1 AS BIGINT), user_tag FROM issue_users WHERE issue_id = ?2
         ON CONFLICT (issue_id, user_tag) DO NOTHING",
        both(),
    ));
    steps.push(Step::new(
        "INSERT INTO issue_user_states
             (issue_id, user_id, bookmarked, subscribed, subscription_reason, seen_at)
         SELECT CAST(?1 AS BIGINT), user_id, bookmarked, subscribed, subscription_reason, seen_at
         FROM issue_user_states WHERE issue_id = ?2
         ON CONFLICT (issue_id, user_id) DO NOTHING",
        both(),
    ));
    steps.push(Step::new(
        "UPDATE issues SET
             times_seen = issues.times_seen + (SELECT c.times_seen FROM issues c WHERE c.id = ?2),
             first_seen = CASE WHEN (SELECT c.first_seen FROM issues c WHERE c.id = ?2)
                     < issues.first_seen
                 THEN (SELECT c.first_seen FROM issues c WHERE c.id = ?2) ELSE issues.first_seen END,
             last_seen = CASE WHEN (SELECT c.last_seen FROM issues c WHERE c.id = ?2)
                     > issues.last_seen
                 THEN (SELECT c.last_seen FROM issues c WHERE c.id = ?2) ELSE issues.last_seen END,
             user_count = (SELECT count(*) FROM issue_users u WHERE u.issue_id = ?1)
         WHERE issues.id = ?1",
        both(),
    ));
    for table in [
        "issue_tag_values",
        "issue_hourly",
        "issue_minutely",
        "issue_users",
        "issue_user_states",
        "rule_issue_state",
    ] {
        steps.push(Step::new(
            &format!("DELETE FROM {table} WHERE issue_id = ?1"),
            child_only(),
        ));
    }
    steps.push(Step::new("DELETE FROM issues WHERE id = ?1", child_only()));
    steps
}

/// The list's triage filters ("Assigned to me", "My bookmarks", "For review"), added to the
/// issue search's statement.
pub(crate) fn push_filters(q: &mut Builder, query: &IssueQuery) {
    if let Some(user) = query.assigned_to {
        let user = q.bind(user);
        q.and(&format!("i.assignee_id = {user}"));
    }
    if let Some(user) = query.bookmarked_by {
        let user = q.bind(user);
        q.and(&format!(
            "EXISTS (SELECT 1 FROM issue_user_states b WHERE b.issue_id = i.id \
             AND b.user_id = {user} AND b.bookmarked = TRUE)"
        ));
    }
    if let Some(user) = query.for_review_by {
        let user = q.bind(user);
        let mut condition = String::new();
        let _ = write!(
            condition,
            "i.status = 'unresolved' AND i.reviewed_at IS NULL \
             AND (i.assignee_id IS NULL OR i.assignee_id = {user})"
        );
        q.and(&condition);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_step_uses_exactly_its_parameters_in_order() {
        let mut steps = delete_issue(1);
        steps.extend(merge(1, 2));
        steps.push(ignore(1, "archived_until_condition_met", &Snooze::default()));
        for step in steps {
            let highest = (1..=9)
                .rev()
                .find(|n| step.sql.contains(&format!("?{n}")))
                .unwrap_or(0);
            assert_eq!(highest, step.params.len(), "{}", step.sql);
            assert!(step.sql_for(Dialect::Postgres).contains("$1"));
        }
    }
}
