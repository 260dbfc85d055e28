//! Retention: events older than the cutoff are deleted, a bounded batch per transaction, and
//! what they counted is taken back off their issues.
//!
//! After a pass an issue counts exactly its stored events (`times_seen`, the hourly buckets and
//! the tag values; the minute buckets are dropped after two hours instead), its users are those of its stored events, and an issue with no event left
//! is deleted with its hashes and reference events, as Sentry's cleanup deletes groups past
//! retention: a later event of that hash starts a new issue. Each batch is one short write
//! transaction, so ingest interleaves with a large cleanup instead of waiting for it.

use rusqlite::{params, Connection, TransactionBehavior};

use super::error::{corrupt, DbContext};
use super::{now, sql_int};
use crate::batch::{Expired, Uncount, MINUTES_KEPT};
use crate::{RetentionPass, StoreResult};

/// Deletes up to `limit` events with a timestamp before `before`, and raw items and
/// client-report sources received before it; returns what was deleted and the `(project_id, hash)` of every reference event
/// deleted with its issue (the caller forgets those).
pub(crate) fn delete_expired(
    conn: &mut Connection,
    before: f64,
    limit: u64,
) -> StoreResult<(RetentionPass, Vec<(i64, String)>)> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .db("starting a retention pass")?;
    let expired = expired_events(&tx, before, limit)?;

    let mut uncount = Uncount::default();
    {
        let mut delete = tx
            .prepare_cached("DELETE FROM events WHERE id = ?1")
            .db("deleting expired events")?;
        for (id, event) in &expired {
            delete.execute([id]).db("deleting expired events")?;
            uncount.add(event);
        }
    }

    write_uncount(&tx, &uncount)?;
    let (issues, references) = delete_empty_issues(&tx, uncount.per_issue.keys().copied())?;
    let raw_items = tx
        .execute(
            "DELETE FROM raw_items WHERE id IN
                 (SELECT id FROM raw_items WHERE received < ?1 LIMIT ?2)",
            params![before, sql_int(limit)],
        )
        .db("deleting expired raw items")?;
    tx.execute(
        "DELETE FROM client_report_sources WHERE (project_id, source) IN
             (SELECT project_id, source FROM client_report_sources WHERE received < ?1 LIMIT ?2)",
        params![before, sql_int(limit)],
    )
    .db("deleting expired client-report sources")?;
    let (transactions, spans) = delete_expired_traces(&tx, before, limit)?;
    // Minute buckets serve only recent windows: they go after hours, not after `before`.
    tx.execute(
        "DELETE FROM issue_minutely WHERE (issue_id, minute) IN
             (SELECT issue_id, minute FROM issue_minutely WHERE minute < ?1 LIMIT ?2)",
        params![(now() - MINUTES_KEPT).floor() as i64, sql_int(limit)],
    )
    .db("deleting old minute counts")?;
    // The outbox keeps what was delivered or given up for the retention period, as a record;
    // pending ones stay until they end.
    tx.execute(
        "DELETE FROM notifications WHERE id IN
             (SELECT id FROM notifications
              WHERE created < ?1 AND status IN ('sent', 'failed', 'undeliverable') LIMIT ?2)",
        params![before, sql_int(limit)],
    )
    .db("deleting old notifications")?;
    tx.commit().db("committing a retention pass")?;
    let pass = RetentionPass {
        events: expired.len() as u64,
        issues,
        raw_items: raw_items as u64,
        transactions,
        spans,
    };
    Ok((pass, references))
}

/// Deletes up to `limit` transactions and `limit` spans that started before `before`, and the
/// rollup periods that ended before it.
fn delete_expired_traces(tx: &Connection, before: f64, limit: u64) -> StoreResult<(u64, u64)> {
    // Transactions and spans expire alike, by their `start_ts`.
    let mut started = [0; 2];
    for (deleted, table) in started.iter_mut().zip(["transactions", "spans"]) {
        *deleted = tx
            .execute(
                &format!(
                    "DELETE FROM {table} WHERE id IN
                         (SELECT id FROM {table} WHERE start_ts < ?1 LIMIT ?2)"
                ),
                params![before, sql_int(limit)],
            )
            .db(&format!("deleting expired {table}"))?;
    }
    let [transactions, spans] = started;
    // A rollup period goes once it has wholly ended before the cutoff.
    for table in ["transaction_rollups", "span_rollups"] {
        tx.execute(
            &format!("DELETE FROM {table} WHERE start + granularity <= ?1"),
            [before.floor() as i64],
        )
        .db("deleting expired rollups")?;
    }
    Ok((transactions as u64, spans as u64))
}

/// The oldest expired events, project by project (the `(project_id, timestamp)` index).
/// Each with its row id.
fn expired_events(tx: &Connection, before: f64, limit: u64) -> StoreResult<Vec<(i64, Expired)>> {
    let projects: Vec<i64> = tx
        .prepare_cached("SELECT id FROM projects ORDER BY id")
        .and_then(|mut stmt| stmt.query_map([], |row| row.get(0))?.collect())
        .db("listing projects")?;
    let mut stmt = tx
        .prepare_cached(
            "SELECT id, issue_id, timestamp, user_tag, environment, release, tags FROM events
             WHERE project_id = ?1 AND timestamp < ?2 ORDER BY timestamp LIMIT ?3",
        )
        .db("finding expired events")?;
    let mut expired = Vec::new();
    for project_id in projects {
        let remaining = limit.saturating_sub(expired.len() as u64);
        if remaining == 0 {
            break;
        }
        let rows = stmt
            .query_map(params![project_id, before, sql_int(remaining)], |row| {
                Ok((
                    row.get::<_, i64>(0)?,
                    Expired {
                        issue_id: row.get(1)?,
                        timestamp: row.get(2)?,
                        user_tag: row.get(3)?,
                        environment: row.get(4)?,
                        release: row.get(5)?,
                        tags: Vec::new(),
                    },
                    row.get::<_, String>(6)?,
                ))
            })
            .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
            .db("finding expired events")?;
        for (id, mut event, tags_json) in rows {
            event.tags = serde_json::from_str(&tags_json)
                .map_err(|e| corrupt(&format!("tags of event row {id}"), e))?;
            expired.push((id, event));
        }
    }
    Ok(expired)
}

/// Takes the deleted events' counts off their issues, hours, tag values and users.
fn write_uncount(tx: &Connection, uncount: &Uncount) -> StoreResult<()> {
    let Uncount {
        per_issue,
        per_hour,
        per_tag,
        users,
    } = uncount;
    let mut issue = tx
        .prepare_cached("UPDATE issues SET times_seen = max(times_seen - ?2, 0) WHERE id = ?1")
        .db("uncounting expired events")?;
    for (issue_id, count) in per_issue {
        issue
            .execute(params![issue_id, count])
            .db("uncounting expired events")?;
    }
    let mut hour = tx
        .prepare_cached(
            "UPDATE issue_hourly SET count = count - ?3 WHERE issue_id = ?1 AND hour = ?2",
        )
        .db("uncounting expired hours")?;
    for ((issue_id, at), count) in per_hour {
        hour.execute(params![issue_id, at, count])
            .db("uncounting expired hours")?;
    }
    let mut tag = tx
        .prepare_cached(
            "UPDATE issue_tag_values SET times_seen = times_seen - ?4
             WHERE issue_id = ?1 AND key = ?2 AND value = ?3",
        )
        .db("uncounting expired tag values")?;
    for ((issue_id, key, value), count) in per_tag {
        tag.execute(params![issue_id, key, value, count])
            .db("uncounting expired tag values")?;
    }
    tx.execute_batch(
        "DELETE FROM issue_hourly WHERE count <= 0;
         DELETE FROM issue_tag_values WHERE times_seen <= 0;",
    )
    .db("dropping emptied counters")?;
    // A user leaves an issue's count with the last of their events on it.
    let mut still_there = tx
        .prepare_cached(
            "SELECT EXISTS (SELECT 1 FROM events WHERE issue_id = ?1 AND user_tag = ?2)",
        )
        .db("looking up an issue's users")?;
    let mut forget = tx
        .prepare_cached("DELETE FROM issue_users WHERE issue_id = ?1 AND user_tag = ?2")
        .db("uncounting users")?;
    let mut lose_user = tx
        .prepare_cached("UPDATE issues SET user_count = max(user_count - 1, 0) WHERE id = ?1")
        .db("uncounting users")?;
    for (issue_id, user) in users {
        let remains: bool = still_there
            .query_row(params![issue_id, user], |row| row.get(0))
            .db("looking up an issue's users")?;
        if !remains
            && forget
                .execute(params![issue_id, user])
                .db("uncounting users")?
                > 0
        {
            lose_user.execute([issue_id]).db("uncounting users")?;
        }
    }
    Ok(())
}

/// Deletes the issues among `candidates` that have no event left; returns how many, and the
/// reference events deleted with them.
fn delete_empty_issues(
    tx: &Connection,
    candidates: impl Iterator<Item = i64>,
) -> StoreResult<(u64, Vec<(i64, String)>)> {
    let mut has_events = tx
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM events WHERE issue_id = ?1)")
        .db("looking up an issue's events")?;
    let mut hashes = tx
        .prepare_cached("SELECT project_id, hash FROM grouphashes WHERE issue_id = ?1")
        .db("reading an issue's hashes")?;
    let mut references = Vec::new();
    let mut deleted = 0;
    let mut max_deleted = 0;
    for issue_id in candidates {
        let remains: bool = has_events
            .query_row([issue_id], |row| row.get(0))
            .db("looking up an issue's events")?;
        if remains {
            continue;
        }
        let issue_hashes: Vec<(i64, String)> = hashes
            .query_map([issue_id], |row| Ok((row.get(0)?, row.get(1)?)))
            .and_then(|rows| rows.collect())
            .db("reading an issue's hashes")?;
        // Events of a hash always land on the hash's issue, so with the issue's events gone no
        // event is compressed against these references any more.
        for (project_id, hash) in &issue_hashes {
            tx.prepare_cached("DELETE FROM event_references WHERE project_id = ?1 AND hash = ?2")
                .and_then(|mut stmt| stmt.execute(params![project_id, hash]))
                .db("deleting reference events")?;
        }
        references.extend(issue_hashes);
        max_deleted = max_deleted.max(issue_id);
        for sql in [
            "DELETE FROM grouphashes WHERE issue_id = ?1",
            "DELETE FROM issue_users WHERE issue_id = ?1",
            "DELETE FROM issue_tag_values WHERE issue_id = ?1",
            "DELETE FROM issue_hourly WHERE issue_id = ?1",
            "DELETE FROM issue_minutely WHERE issue_id = ?1",
            "DELETE FROM notifications WHERE issue_id = ?1",
            "DELETE FROM alert_firings WHERE issue_id = ?1",
            "DELETE FROM rule_issue_state WHERE issue_id = ?1",
            "DELETE FROM issue_activities WHERE issue_id = ?1",
            "DELETE FROM issues WHERE id = ?1",
        ] {
            tx.prepare_cached(sql)
                .and_then(|mut stmt| stmt.execute([issue_id]))
                .db("deleting an expired issue")?;
        }
        deleted += 1;
    }
    if deleted > 0 {
        // New issues must not take the ids, and so the permalinks, of deleted ones.
        tx.execute(
            "UPDATE issue_id_floor SET id = max(id, (SELECT coalesce(max(id), 0) FROM issues),
                                                ?1)",
            [max_deleted],
        )
        .db("recording deleted issue ids")?;
    }
    Ok((deleted, references))
}
