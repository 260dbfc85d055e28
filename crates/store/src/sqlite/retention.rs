//! Retention: events older than the cutoff are deleted, a bounded batch per transaction, and
//! what they counted is taken back off their issues.
//!
//! After a pass an issue counts exactly its stored events (`times_seen`, the hourly buckets and
//! the tag values; the minute buckets are dropped after two hours instead), its users are those of its stored events, and an issue with no event left
//! is deleted with its hashes and reference events, as Sentry's cleanup deletes groups past
//! retention: a later event of that hash starts a new issue. Each batch is one short write
//! transaction, so ingest interleaves with a large cleanup instead of waiting for it.

use rusqlite::types::ToSql;
use rusqlite::{params, Connection, TransactionBehavior};

use super::error::DbContext;
use super::statements::records;
use super::tally::execute_each;
use super::{now, sql_int};
use crate::batch::{Expired, Uncount, MINUTES_KEPT, OUTCOME_SOURCES_KEPT};
use crate::shared::{EXPIRED_COLUMNS, ISSUE_ROW_TABLES};
use crate::{RetentionPass, StoreResult};

/// Deletes up to `limit` events with a timestamp before `before`, and raw items received
/// before it, the outcome hours ended before it and the outcome keys added a day ago; returns what was deleted and the
/// `(project_id, hash)` of every reference event deleted with its issue (the caller forgets
/// those).
pub(crate) fn delete_expired(
    conn: &mut Connection,
    before: f64,
    limit: u64,
) -> StoreResult<(RetentionPass, Vec<(i64, String)>)> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .db("starting a retention pass")?;
    let expired = expired_events(&tx, before, limit)?;
    execute_each(
        &tx,
        "DELETE FROM events WHERE id = ?1",
        "deleting expired events",
        expired.iter().map(|event| [event.id]),
    )?;
    let uncount = Uncount::of(&expired);
    write_uncount(&tx, &uncount)?;
    let (issues, references) = delete_empty_issues(&tx, uncount.per_issue.keys().copied())?;
    // Minute buckets serve only recent windows: they go after hours, not after `before`.
    let old_minutes = (now() - MINUTES_KEPT).floor() as i64;
    // An hour of outcomes goes once it has wholly ended before the cutoff.
    let old_hours = (before - 3600.0).floor() as i64;
    // Outcome keys serve only until their queue entry is acknowledged.
    let sources_added = now() - OUTCOME_SOURCES_KEPT;
    let mut deleted = [0; 7];
    for (count, (statement, cutoff, what)) in deleted.iter_mut().zip([
        (
            "DELETE FROM raw_items WHERE id IN
                 (SELECT id FROM raw_items WHERE received < ?1 LIMIT ?2)",
            &before as &dyn ToSql,
            "deleting expired raw items",
        ),
        // Attachments and user reports go with their events: they arrive with them or after.
        (
            "DELETE FROM event_attachments WHERE id IN
                 (SELECT id FROM event_attachments WHERE received < ?1 LIMIT ?2)",
            &before,
            "deleting expired attachments",
        ),
        (
            "DELETE FROM user_reports WHERE id IN
                 (SELECT id FROM user_reports WHERE received < ?1 LIMIT ?2)",
            &before,
            "deleting expired user reports",
        ),
        (
            "DELETE FROM outcome_sources WHERE (project_id, source) IN
                 (SELECT project_id, source FROM outcome_sources WHERE added < ?1 LIMIT ?2)",
            &sources_added,
            "deleting expired outcome sources",
        ),
        (
            "DELETE FROM outcomes WHERE (project_id, hour, category, outcome, reason) IN
                 (SELECT project_id, hour, category, outcome, reason FROM outcomes
                  WHERE hour <= ?1 LIMIT ?2)",
            &old_hours,
            "deleting expired outcomes",
        ),
        (
            "DELETE FROM issue_minutely WHERE (issue_id, minute) IN
                 (SELECT issue_id, minute FROM issue_minutely WHERE minute < ?1 LIMIT ?2)",
            &old_minutes,
            "deleting old minute counts",
        ),
        // The outbox keeps what was delivered or given up for the retention period, as a
        // record; pending ones stay until they end.
        (
            "DELETE FROM notifications WHERE id IN
                 (SELECT id FROM notifications
                  WHERE created < ?1 AND status IN ('sent', 'failed', 'undeliverable') LIMIT ?2)",
            &before,
            "deleting old notifications",
        ),
    ]) {
        *count = tx
            .execute(statement, params![cutoff, sql_int(limit)])
            .db(what)?;
    }
    let [raw_items, attachments, user_reports, ..] = deleted;
    let (transactions, spans) = delete_expired_traces(&tx, before, limit)?;
    tx.commit().db("committing a retention pass")?;
    let pass = RetentionPass {
        events: expired.len() as u64,
        issues,
        raw_items: raw_items as u64,
        attachments: attachments as u64,
        user_reports: user_reports as u64,
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
fn expired_events(tx: &Connection, before: f64, limit: u64) -> StoreResult<Vec<Expired>> {
    let projects: Vec<i64> = tx
        .prepare_cached("SELECT id FROM projects ORDER BY id")
        .and_then(|mut stmt| stmt.query_map([], |row| row.get(0))?.collect())
        .db("listing projects")?;
    let mut expired = Vec::new();
    for project_id in projects {
        let remaining = limit.saturating_sub(expired.len() as u64);
        if remaining == 0 {
            break;
        }
        expired.extend(records::<Expired>(
            tx,
            &format!(
                "SELECT {EXPIRED_COLUMNS} FROM events
                 WHERE project_id = ?1 AND timestamp < ?2 ORDER BY timestamp LIMIT ?3"
            ),
            params![project_id, before, sql_int(remaining)],
            "finding expired events",
        )?);
    }
    Ok(expired)
}

/// Takes the deleted events' counts off their issues, hours, tag values and users.
fn write_uncount(tx: &Connection, uncount: &Uncount) -> StoreResult<()> {
    execute_each(
        tx,
        "UPDATE issues SET times_seen = max(times_seen - ?2, 0) WHERE id = ?1",
        "uncounting expired events",
        &uncount.per_issue,
    )?;
    execute_each(
        tx,
        "UPDATE issue_hourly SET count = count - ?3 WHERE issue_id = ?1 AND hour = ?2",
        "uncounting expired hours",
        uncount
            .per_hour
            .iter()
            .map(|((issue_id, hour), count)| (issue_id, hour, count)),
    )?;
    execute_each(
        tx,
        "UPDATE issue_tag_values SET times_seen = times_seen - ?4
         WHERE issue_id = ?1 AND key = ?2 AND value = ?3",
        "uncounting expired tag values",
        uncount
            .per_tag
            .iter()
            .map(|((issue_id, key, value), count)| (issue_id, key, value, count)),
    )?;
    tx.execute_batch(
        "DELETE FROM issue_hourly WHERE count <= 0;
         DELETE FROM issue_tag_values WHERE times_seen <= 0;",
    )
    .db("dropping emptied counters")?;
    // A user leaves an issue's count with the last of their events on it.
    let mut forget = tx
        .prepare_cached(
            "DELETE FROM issue_users WHERE issue_id = ?1 AND user_tag = ?2
               AND NOT EXISTS (SELECT 1 FROM events WHERE issue_id = ?1 AND user_tag = ?2)",
        )
        .db("uncounting users")?;
    let mut lose_user = tx
        .prepare_cached("UPDATE issues SET user_count = max(user_count - 1, 0) WHERE id = ?1")
        .db("uncounting users")?;
    for (issue_id, user) in &uncount.users {
        if forget
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
        let issue_hashes: Vec<(i64, String)> = records(
            tx,
            "DELETE FROM grouphashes WHERE issue_id = ?1 RETURNING project_id, hash",
            [issue_id],
            "deleting an expired issue's hashes",
        )?;
        // Events of a hash always land on the hash's issue, so with the issue's events gone no
        // event is compressed against these references any more.
        execute_each(
            tx,
            "DELETE FROM event_references WHERE project_id = ?1 AND hash = ?2",
            "deleting reference events",
            issue_hashes
                .iter()
                .map(|(project_id, hash)| (project_id, hash)),
        )?;
        references.extend(issue_hashes);
        max_deleted = max_deleted.max(issue_id);
        for table in ISSUE_ROW_TABLES {
            tx.prepare_cached(&format!("DELETE FROM {table} WHERE issue_id = ?1"))
                .and_then(|mut stmt| stmt.execute([issue_id]))
                .db("deleting an expired issue")?;
        }
        tx.prepare_cached("DELETE FROM issues WHERE id = ?1")
            .and_then(|mut stmt| stmt.execute([issue_id]))
            .db("deleting an expired issue")?;
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
