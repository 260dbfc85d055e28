//! Writing a batch's [`Tally`] on SQLite: one statement per issue, user, tag value, hour
//! and minute.

use std::collections::{BTreeMap, BTreeSet};

use rusqlite::{params, Connection, Params};

use super::error::DbContext;
use crate::batch::{IssueTally, Seen, Tally};
use crate::StoreResult;

impl Tally<'_> {
    /// Writes the sums: distinct users first, since the issue rows take their count.
    pub(crate) fn write(self, tx: &Connection) -> StoreResult<()> {
        let new_users = write_users(tx, &self.users)?;
        write_issues(tx, &self.issues, &new_users)?;
        write_tag_values(tx, &self.tag_values)?;
        write_buckets(tx, "issue_hourly", "hour", &self.hours)?;
        write_buckets(tx, "issue_minutely", "minute", &self.minutes)
    }
}

/// Runs one cached statement once per row of parameters: how SQLite writes many rows, each
/// execution cheap inside the one transaction.
pub(super) fn execute_each<P: Params>(
    tx: &Connection,
    sql: &str,
    what: &str,
    rows: impl IntoIterator<Item = P>,
) -> StoreResult<()> {
    let mut stmt = tx.prepare_cached(sql).db(what)?;
    for params in rows {
        stmt.execute(params).db(what)?;
    }
    Ok(())
}

/// Records users not seen before on their issue; returns how many each issue gained.
fn write_users(tx: &Connection, users: &BTreeSet<(i64, &str)>) -> StoreResult<BTreeMap<i64, i64>> {
    let mut stmt = tx
        .prepare_cached(
            "INSERT INTO issue_users (issue_id, user_tag) VALUES (?1, ?2)
             ON CONFLICT (issue_id, user_tag) DO NOTHING",
        )
        .db("counting an issue's users")?;
    let mut new_users = BTreeMap::new();
    for (issue_id, user) in users {
        let inserted = stmt
            .execute(params![issue_id, user])
            .db("counting an issue's users")?;
        if inserted > 0 {
            *new_users.entry(*issue_id).or_default() += 1;
        }
    }
    Ok(new_users)
}

/// One `UPDATE` per issue. All right-hand sides see the row as it was before the update, so
/// the `CASE`s compare the batch's newest event with the issue's previous `last_seen`: a late
/// old event changes no field, as in Sentry, where the group shows its latest event's.
fn write_issues(
    tx: &Connection,
    issues: &BTreeMap<i64, IssueTally<'_>>,
    new_users: &BTreeMap<i64, i64>,
) -> StoreResult<()> {
    execute_each(
        tx,
        "UPDATE issues SET
             times_seen = times_seen + ?2,
             user_count = user_count + ?3,
             first_seen = min(first_seen, ?4),
             last_seen = max(last_seen, ?5),
             level = CASE WHEN ?5 >= last_seen THEN ?6 ELSE level END,
             title = CASE WHEN ?5 >= last_seen THEN ?7 ELSE title END,
             culprit = CASE WHEN ?5 >= last_seen THEN ?8 ELSE culprit END,
             metadata = CASE WHEN ?5 >= last_seen THEN ?9 ELSE metadata END,
             is_unhandled = is_unhandled OR ?10,
             first_release = coalesce(first_release, ?11)
         WHERE id = ?1",
        "counting events on their issues",
        issues.iter().map(|(issue_id, issue)| {
            let newest = issue.newest;
            (
                issue_id,
                issue.seen.count,
                new_users.get(issue_id).copied().unwrap_or(0),
                issue.seen.first,
                issue.seen.last,
                &newest.level,
                &newest.title,
                &newest.culprit,
                newest.metadata.to_string(),
                issue.is_unhandled,
                issue.release,
            )
        }),
    )
}

fn write_tag_values(
    tx: &Connection,
    tag_values: &BTreeMap<(i64, &str, &str), Seen>,
) -> StoreResult<()> {
    execute_each(
        tx,
        "INSERT INTO issue_tag_values (issue_id, key, value, times_seen, first_seen, last_seen)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT (issue_id, key, value) DO UPDATE SET
             times_seen = times_seen + excluded.times_seen,
             first_seen = min(first_seen, excluded.first_seen),
             last_seen = max(last_seen, excluded.last_seen)",
        "counting tag values",
        tag_values.iter().map(|((issue_id, key, value), seen)| {
            (issue_id, key, value, seen.count, seen.first, seen.last)
        }),
    )
}

/// Adds to the `(issue_id, {bucket}) → count` rows of `table` (`issue_hourly`,
/// `issue_minutely`).
fn write_buckets(
    tx: &Connection,
    table: &str,
    bucket: &str,
    counts: &BTreeMap<(i64, i64), i64>,
) -> StoreResult<()> {
    execute_each(
        tx,
        &format!(
            "INSERT INTO {table} (issue_id, {bucket}, count) VALUES (?1, ?2, ?3)
             ON CONFLICT (issue_id, {bucket}) DO UPDATE SET count = count + excluded.count"
        ),
        &format!("counting events in {table}"),
        counts
            .iter()
            .map(|((issue_id, start), count)| (issue_id, start, count)),
    )
}
