//! Retention on PostgreSQL: as on SQLite (`sqlite/retention.rs`, where the rules are
//! explained), one bounded batch per transaction. Only one node runs it at a time
//! ([`crate::Store::claim_job`]), but ingest on every node runs beside it: counters are
//! decremented in place (row locks order them with concurrent increments), and an issue is
//! deleted only while its row is locked and it has no event, so an event another node is
//! adding to it either lands first (and the issue stays) or fails its foreign key and is
//! grouped again into a new issue when its batch is retried.

use deadpool_postgres::{Client, GenericClient};
use tokio_postgres::types::ToSql;

use super::error::DbContext;
use super::now;
use super::sql::{self, get, sql_int};
use crate::batch::{Expired, Uncount, MINUTES_KEPT, OUTCOME_SOURCES_KEPT};
use crate::shared::{EXPIRED_COLUMNS, ISSUE_ROW_TABLES};
use crate::{RetentionPass, StoreResult};

/// Deletes up to `limit` expired events and what they counted; returns what was deleted and
/// the `(project_id, hash)` of every reference event deleted with its issue.
pub(crate) async fn delete_expired(
    client: &mut Client,
    before: f64,
    limit: u64,
) -> StoreResult<(RetentionPass, Vec<(i64, String)>)> {
    let tx = client.transaction().await.db("starting a retention pass")?;
    let expired = delete_expired_events(&tx, before, limit).await?;
    let uncount = Uncount::of(&expired);
    write_uncount(&tx, &uncount).await?;
    let (issues, references) = delete_empty_issues(&tx, uncount.per_issue.keys().copied()).await?;
    // Minute buckets serve only recent windows: they go after hours, not after `before`.
    let old_minutes = (now() - MINUTES_KEPT).floor() as i64;
    // An hour of outcomes goes once it has wholly ended before the cutoff.
    let old_hours = (before - 3600.0).floor() as i64;
    // Outcome keys serve only until their queue entry is acknowledged.
    let sources_added = now() - OUTCOME_SOURCES_KEPT;
    let limit_param = sql_int(limit);
    let mut deleted = [0; 7];
    for (count, (statement, cutoff, what)) in deleted.iter_mut().zip([
        (
            "DELETE FROM raw_items WHERE id IN
                 (SELECT id FROM raw_items WHERE received < $1 LIMIT $2)",
            &before as &(dyn ToSql + Sync),
            "deleting expired raw items",
        ),
        // Attachments and user reports go with their events: they arrive with them or after.
        (
            "DELETE FROM event_attachments WHERE id IN
                 (SELECT id FROM event_attachments WHERE received < $1 LIMIT $2)",
            &before,
            "deleting expired attachments",
        ),
        (
            "DELETE FROM user_reports WHERE id IN
                 (SELECT id FROM user_reports WHERE received < $1 LIMIT $2)",
            &before,
            "deleting expired user reports",
        ),
        (
            "DELETE FROM outcome_sources WHERE (project_id, source) IN
                 (SELECT project_id, source FROM outcome_sources WHERE added < $1 LIMIT $2)",
            &sources_added,
            "deleting expired outcome sources",
        ),
        (
            "DELETE FROM outcomes WHERE ctid = ANY(ARRAY(
                 SELECT ctid FROM outcomes WHERE hour <= $1 LIMIT $2))",
            &old_hours,
            "deleting expired outcomes",
        ),
        (
            "DELETE FROM issue_minutely WHERE ctid = ANY(ARRAY(
                 SELECT ctid FROM issue_minutely WHERE minute < $1 LIMIT $2))",
            &old_minutes,
            "deleting old minute counts",
        ),
        // Notifications that are done with (sent, failed, undeliverable) and older than the
        // cutoff; pending ones are still on their way.
        (
            "DELETE FROM notifications WHERE id IN
                 (SELECT id FROM notifications WHERE created < $1 AND status <> 'pending' LIMIT $2)",
            &before,
            "deleting old notifications",
        ),
    ]) {
        *count = sql::execute(&tx, statement, &[cutoff, &limit_param], what).await?;
    }
    let [raw_items, attachments, user_reports, ..] = deleted;
    let (transactions, spans) = delete_expired_performance(&tx, before, limit).await?;
    tx.commit().await.db("committing a retention pass")?;
    let pass = RetentionPass {
        events: expired.len() as u64,
        issues,
        raw_items,
        attachments,
        user_reports,
        transactions,
        spans,
    };
    Ok((pass, references))
}

/// Deletes the oldest expired events, project by project (the `(project_id, timestamp)`
/// index), and returns them.
async fn delete_expired_events<C: GenericClient>(
    tx: &C,
    before: f64,
    limit: u64,
) -> StoreResult<Vec<Expired>> {
    let projects = sql::query(
        tx,
        "SELECT id FROM projects ORDER BY id",
        &[],
        "listing projects",
    )
    .await?
    .iter()
    .map(|row| get(row, 0))
    .collect::<StoreResult<Vec<i64>>>()?;
    let mut expired = Vec::new();
    for project_id in projects {
        let remaining = limit.saturating_sub(expired.len() as u64);
        if remaining == 0 {
            break;
        }
        expired.extend(
            sql::records::<_, Expired>(
                tx,
                &format!(
                    "DELETE FROM events WHERE id IN
                         (SELECT id FROM events WHERE project_id = $1 AND timestamp < $2
                          ORDER BY timestamp LIMIT $3 FOR UPDATE SKIP LOCKED)
                     RETURNING {EXPIRED_COLUMNS}"
                ),
                &[&project_id, &before, &sql_int(remaining)],
                "deleting expired events",
            )
            .await?,
        );
    }
    Ok(expired)
}

/// Takes the deleted events' counts off their issues, hours, tag values and users.
async fn write_uncount<C: GenericClient>(tx: &C, uncount: &Uncount) -> StoreResult<()> {
    let Uncount {
        per_issue,
        per_hour,
        per_tag,
        users,
    } = uncount;
    // Issue ids ascending everywhere: the same lock order as ingest's, so no deadlock.
    let ids: Vec<i64> = per_issue.keys().copied().collect();
    let counts: Vec<i64> = per_issue.values().copied().collect();
    sql::execute(
        tx,
        "UPDATE issues SET times_seen = greatest(issues.times_seen - c.n, 0)
         FROM UNNEST($1::BIGINT[], $2::BIGINT[]) AS c (id, n) WHERE issues.id = c.id",
        &[&ids, &counts],
        "uncounting expired events",
    )
    .await?;
    let hour_issues: Vec<i64> = per_hour.keys().map(|(issue, _)| *issue).collect();
    let hours: Vec<i64> = per_hour.keys().map(|(_, hour)| *hour).collect();
    let hour_counts: Vec<i64> = per_hour.values().copied().collect();
    sql::execute(
        tx,
        "UPDATE issue_hourly SET count = issue_hourly.count - c.n
         FROM UNNEST($1::BIGINT[], $2::BIGINT[], $3::BIGINT[]) AS c (issue_id, hour, n)
         WHERE issue_hourly.issue_id = c.issue_id AND issue_hourly.hour = c.hour",
        &[&hour_issues, &hours, &hour_counts],
        "uncounting expired hours",
    )
    .await?;
    let tag_issues: Vec<i64> = per_tag.keys().map(|(issue, _, _)| *issue).collect();
    let keys: Vec<&str> = per_tag.keys().map(|(_, key, _)| key.as_str()).collect();
    let values: Vec<&str> = per_tag.keys().map(|(_, _, value)| value.as_str()).collect();
    let tag_counts: Vec<i64> = per_tag.values().copied().collect();
    sql::execute(
        tx,
        "UPDATE issue_tag_values SET times_seen = issue_tag_values.times_seen - c.n
         FROM UNNEST($1::BIGINT[], $2::TEXT[], $3::TEXT[], $4::BIGINT[])
             AS c (issue_id, key, value, n)
         WHERE issue_tag_values.issue_id = c.issue_id AND issue_tag_values.key = c.key
           AND issue_tag_values.value = c.value",
        &[&tag_issues, &keys, &values, &tag_counts],
        "uncounting expired tag values",
    )
    .await?;
    sql::execute(
        tx,
        "DELETE FROM issue_hourly WHERE issue_id = ANY($1) AND count <= 0",
        &[&ids],
        "dropping emptied hours",
    )
    .await?;
    sql::execute(
        tx,
        "DELETE FROM issue_tag_values WHERE issue_id = ANY($1) AND times_seen <= 0",
        &[&ids],
        "dropping emptied tag values",
    )
    .await?;
    // A user leaves an issue's count with the last of their events on it.
    for (issue_id, user) in users {
        let forgotten = sql::execute(
            tx,
            "DELETE FROM issue_users WHERE issue_id = $1 AND user_tag = $2
               AND NOT EXISTS (SELECT 1 FROM events WHERE issue_id = $1 AND user_tag = $2)",
            &[issue_id, user],
            "uncounting users",
        )
        .await?;
        if forgotten > 0 {
            sql::execute(
                tx,
                "UPDATE issues SET user_count = greatest(user_count - 1, 0) WHERE id = $1",
                &[issue_id],
                "uncounting users",
            )
            .await?;
        }
    }
    Ok(())
}

/// Deletes the issues among `candidates` that have no event left; returns how many, and the
/// reference events deleted with them.
async fn delete_empty_issues<C: GenericClient>(
    tx: &C,
    candidates: impl Iterator<Item = i64>,
) -> StoreResult<(u64, Vec<(i64, String)>)> {
    let mut references = Vec::new();
    let mut deleted = 0;
    for issue_id in candidates {
        // The row lock orders this with an event being added to the issue on another node.
        let empty = sql::query_opt(
            tx,
            "SELECT id FROM issues WHERE id = $1
               AND NOT EXISTS (SELECT 1 FROM events WHERE issue_id = $1)
             FOR UPDATE",
            &[&issue_id],
            "looking up an issue's events",
        )
        .await?
        .is_some();
        if !empty {
            continue;
        }
        let hashes: Vec<(i64, String)> = sql::records(
            tx,
            "DELETE FROM grouphashes WHERE issue_id = $1 RETURNING project_id, hash",
            &[&issue_id],
            "deleting an expired issue's hashes",
        )
        .await?;
        // Events of a hash always land on the hash's issue: with the issue's events gone, no
        // event is compressed against these references any more.
        let projects: Vec<i64> = hashes.iter().map(|(project, _)| *project).collect();
        let hash_texts: Vec<&str> = hashes.iter().map(|(_, hash)| hash.as_str()).collect();
        sql::execute(
            tx,
            "DELETE FROM event_references r USING UNNEST($1::BIGINT[], $2::TEXT[]) AS h (p, hash)
             WHERE r.project_id = h.p AND r.hash = h.hash",
            &[&projects, &hash_texts],
            "deleting reference events",
        )
        .await?;
        references.extend(hashes);
        for table in ISSUE_ROW_TABLES {
            let statement = format!("DELETE FROM {table} WHERE issue_id = $1");
            sql::execute(tx, &statement, &[&issue_id], "deleting an expired issue").await?;
        }
        sql::execute(
            tx,
            "DELETE FROM issues WHERE id = $1",
            &[&issue_id],
            "deleting an expired issue",
        )
        .await?;
        deleted += 1;
    }
    Ok((deleted, references))
}

/// Deletes up to `limit` expired transactions, spans and rows of each rollup table (the
/// periods that wholly ended before the cutoff); how many transactions and spans.
async fn delete_expired_performance<C: GenericClient>(
    tx: &C,
    before: f64,
    limit: u64,
) -> StoreResult<(u64, u64)> {
    let limit = sql_int(limit);
    // Transactions and spans expire alike: the oldest first, by their `start_ts` index.
    let mut started = [0; 2];
    for (deleted, table) in started.iter_mut().zip(["transactions", "spans"]) {
        *deleted = sql::execute(
            tx,
            &format!(
                "DELETE FROM {table} WHERE id IN
                     (SELECT id FROM {table} WHERE start_ts < $1 ORDER BY start_ts LIMIT $2)"
            ),
            &[&before, &limit],
            &format!("deleting expired {table}"),
        )
        .await?;
    }
    let [transactions, spans] = started;
    // A rollup period goes once it has wholly ended before the cutoff; `start < $1` lets the
    // `start` index find the candidates.
    let cutoff = before.clamp(-1e13, 1e13).floor() as i64;
    for (statement, what) in [
        (
            "DELETE FROM transaction_rollups WHERE ctid = ANY(ARRAY(
                 SELECT ctid FROM transaction_rollups
                 WHERE start < $1 AND start + granularity <= $1 LIMIT $2))",
            "deleting expired transaction rollups",
        ),
        (
            "DELETE FROM span_rollups WHERE ctid = ANY(ARRAY(
                 SELECT ctid FROM span_rollups
                 WHERE start < $1 AND start + granularity <= $1 LIMIT $2))",
            "deleting expired span rollups",
        ),
    ] {
        sql::execute(tx, statement, &[&cutoff, &limit], what).await?;
    }
    Ok((transactions, spans))
}
