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
        vec![
            Value::Int(issue_id),
            Value::Int(user_id),
            Value::OptReal(at),
        ],
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
        &format!(
            "UPDATE issue_activities SET data = ?2 WHERE id = ?1 RETURNING {ACTIVITY_COLUMNS}"
        ),
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
    for table in [
        "events",
        "grouphashes",
        "issue_activities",
        "notifications",
        "alert_firings",
    ] {
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

/// What unmerging one hash moves: the events whose primary hash it is, and what they counted.
#[derive(Debug, Default)]
pub(crate) struct Split {
    pub project_id: i64,
    pub event_ids: Vec<String>,
    pub first_seen: f64,
    pub last_seen: f64,
    /// `(key, value)` → (events, first seen, last seen), as ingest counts them.
    pub tags: std::collections::BTreeMap<(String, String), (i64, f64, f64)>,
    pub hours: std::collections::BTreeMap<i64, i64>,
    pub users: std::collections::BTreeSet<String>,
    /// Title, culprit and level of the newest moved event: the new issue's.
    pub title: String,
    pub culprit: String,
    pub level: String,
}

impl Split {
    /// The events of `events` (one issue's) whose primary hash is `hash`, counted.
    pub(crate) fn of(events: &[crate::StoredEvent], hash: &str) -> Split {
        let mut split = Split {
            first_seen: f64::MAX,
            last_seen: f64::MIN,
            ..Split::default()
        };
        for event in events {
            let primary = event
                .data
                .get("hashes")
                .and_then(|h| h.get(0))
                .and_then(serde_json::Value::as_str);
            if primary != Some(hash) {
                continue;
            }
            split.project_id = event.project_id;
            split.event_ids.push(event.event_id.clone());
            if event.timestamp >= split.last_seen {
                split.title = event.title.clone();
                split.culprit = event.culprit.clone();
                split.level = event.level.clone();
            }
            split.first_seen = split.first_seen.min(event.timestamp);
            split.last_seen = split.last_seen.max(event.timestamp);
            for (key, value) in crate::tag_pairs::of_parts(
                &event.tags,
                event.environment.as_deref(),
                event.release.as_deref(),
            ) {
                let entry = split
                    .tags
                    .entry((key.to_owned(), value.to_owned()))
                    .or_insert((0, event.timestamp, event.timestamp));
                entry.0 += 1;
                entry.1 = entry.1.min(event.timestamp);
                entry.2 = entry.2.max(event.timestamp);
            }
            *split
                .hours
                .entry(crate::batch::hour_of(event.timestamp))
                .or_default() += 1;
            if let Some(user) = event.user_tag.as_deref().filter(|u| !u.is_empty()) {
                split.users.insert(user.to_owned());
            }
        }
        split
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.event_ids.is_empty()
    }
}

/// Takes the next short id of the project: `RETURNING` the number.
pub(crate) fn next_short_id(project_id: i64) -> Step {
    Step::new(
        "UPDATE projects SET next_short_id = next_short_id + 1 WHERE id = ?1
         RETURNING next_short_id - 1",
        vec![Value::Int(project_id)],
    )
}

/// The new issue of an unmerge, a copy of `source` with the split's counts: `RETURNING id`.
/// SQLite numbers it past the deleted issues' floor; PostgreSQL's identity never repeats.
pub(crate) fn create_split_issue(
    dialect: Dialect,
    source: i64,
    short_id: i64,
    split: &Split,
) -> Step {
    let (id_column, id_value) = match dialect {
        Dialect::Sqlite => (
            "id, ",
            "max(coalesce((SELECT max(id) FROM issues), 0), (SELECT id FROM issue_id_floor)) + 1, ",
        ),
        Dialect::Postgres => ("", ""),
    };
    Step::new(
        &format!(
            "INSERT INTO issues ({id_column}project_id, short_id, status, substatus, level,
                 event_type, title, culprit, metadata, platform, first_seen, last_seen,
                 times_seen, user_count, first_release, is_unhandled)
             SELECT {id_value}project_id, ?2, 'unresolved', 'new', ?3, event_type, ?4, ?5,
                 metadata, platform, ?6, ?7, ?8, 0, first_release, is_unhandled
             FROM issues WHERE id = ?1
             RETURNING id"
        ),
        vec![
            Value::Int(source),
            Value::Int(short_id),
            Value::Text(split.level.clone()),
            Value::Text(split.title.clone()),
            Value::Text(split.culprit.clone()),
            Value::Real(split.first_seen),
            Value::Real(split.last_seen),
            Value::Int(split.event_ids.len() as i64),
        ],
    )
}

/// Moves the split's hash and events from `source` to `target` and its counts with them; the
/// source keeps what its other events counted.
pub(crate) fn unmerge(source: i64, target: i64, hash: &str, split: &Split) -> Vec<Step> {
    let mut steps = vec![Step::new(
        "UPDATE grouphashes SET issue_id = ?2 WHERE issue_id = ?1 AND project_id = ?3
             AND hash = ?4",
        vec![
            Value::Int(source),
            Value::Int(target),
            Value::Int(split.project_id),
            Value::Text(hash.to_owned()),
        ],
    )];
    for event_id in &split.event_ids {
        steps.push(Step::new(
            "UPDATE events SET issue_id = ?2 WHERE issue_id = ?1 AND project_id = ?3
                 AND event_id = ?4",
            vec![
                Value::Int(source),
                Value::Int(target),
                Value::Int(split.project_id),
                Value::Text(event_id.clone()),
            ],
        ));
    }
    for ((key, value), (count, first, last)) in &split.tags {
        steps.push(Step::new(
            "INSERT INTO issue_tag_values (issue_id, key, value, times_seen, first_seen, last_seen)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            vec![
                Value::Int(target),
                Value::Text(key.clone()),
                Value::Text(value.clone()),
                Value::Int(*count),
                Value::Real(*first),
                Value::Real(*last),
            ],
        ));
        steps.push(Step::new(
            "UPDATE issue_tag_values SET times_seen = times_seen - ?4
             WHERE issue_id = ?1 AND key = ?2 AND value = ?3",
            vec![
                Value::Int(source),
                Value::Text(key.clone()),
                Value::Text(value.clone()),
                Value::Int(*count),
            ],
        ));
    }
    for (hour, count) in &split.hours {
        steps.push(Step::new(
            "INSERT INTO issue_hourly (issue_id, hour, count) VALUES (?1, ?2, ?3)",
            vec![Value::Int(target), Value::Int(*hour), Value::Int(*count)],
        ));
        steps.push(Step::new(
            "UPDATE issue_hourly SET count = count - ?3 WHERE issue_id = ?1 AND hour = ?2",
            vec![Value::Int(source), Value::Int(*hour), Value::Int(*count)],
        ));
    }
    for user in &split.users {
        steps.push(Step::new(
            "INSERT INTO issue_users (issue_id, user_tag) VALUES (?1, ?2)",
            vec![Value::Int(target), Value::Text(user.clone())],
        ));
    }
    for sql in [
        "DELETE FROM issue_tag_values WHERE issue_id = ?1 AND times_seen <= 0",
        "DELETE FROM issue_hourly WHERE issue_id = ?1 AND count <= 0",
        "DELETE FROM issue_users WHERE issue_id = ?1 AND NOT EXISTS
             (SELECT 1 FROM events e WHERE e.issue_id = ?1 AND e.user_tag = issue_users.user_tag)",
    ] {
        steps.push(Step::new(sql, vec![Value::Int(source)]));
    }
    steps.push(Step::new(
        "UPDATE issues SET times_seen = times_seen - ?2,
             first_seen = coalesce((SELECT min(e.timestamp) FROM events e WHERE e.issue_id = ?1),
                                   first_seen),
             last_seen = coalesce((SELECT max(e.timestamp) FROM events e WHERE e.issue_id = ?1),
                                  last_seen),
             user_count = (SELECT count(*) FROM issue_users u WHERE u.issue_id = ?1)
         WHERE id = ?1",
        vec![Value::Int(source), Value::Int(split.event_ids.len() as i64)],
    ));
    steps.push(Step::new(
        "UPDATE issues SET user_count = (SELECT count(*) FROM issue_users u WHERE u.issue_id = ?1)
         WHERE id = ?1",
        vec![Value::Int(target)],
    ));
    steps
}

/// The issue's events of primary hash `hash`, counted; `None` when there are none. Refuses
/// to take the issue's only hash (the issue would be left without one).
pub(crate) async fn split_of(
    store: &(impl crate::Triage + crate::Events),
    issue_id: i64,
    hash: &str,
) -> crate::StoreResult<Option<(String, Split)>> {
    let hashes = store.issue_hashes(issue_id).await?;
    if !hashes.iter().any(|h| h == hash) {
        return Ok(None);
    }
    if hashes.len() < 2 {
        return Err(crate::StoreError::Invalid(
            "the issue's only hash cannot be unmerged".into(),
        ));
    }
    let mut events = Vec::new();
    loop {
        let page = store
            .issue_events(issue_id, events.len() as u64, 500)
            .await?;
        let done = page.len() < 500;
        events.extend(page);
        if done {
            break;
        }
    }
    let split = Split::of(&events, hash);
    Ok((!split.is_empty()).then(|| (hash.to_owned(), split)))
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
        steps.push(ignore(
            1,
            "archived_until_condition_met",
            &Snooze::default(),
        ));
        let mut split = Split::default();
        split.event_ids.push("e".into());
        split.tags.insert(("k".into(), "v".into()), (1, 0.0, 0.0));
        split.hours.insert(0, 1);
        split.users.insert("id:1".into());
        steps.extend(unmerge(1, 2, "h", &split));
        steps.push(create_split_issue(Dialect::Sqlite, 1, 2, &split));
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
