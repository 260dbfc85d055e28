//! Writing a batch's [`Tally`] on SQLite: one statement per issue, and multi-row statements
//! for the users, tag values, hours and minutes.
//!
//! A batch of a few hundred events over as many issues writes thousands of tag value rows;
//! executing a statement has a fixed cost (binding, stepping, resetting, rusqlite's glue)
//! that a row of `INSERT … VALUES (…), (…), …` does not pay again.

use std::collections::{BTreeMap, BTreeSet};

use rusqlite::{Connection, Params, Statement};

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

/// Rows per multi-row statement: most of the per-statement cost is saved by then, and the
/// statement stays far below SQLite's limit of bound parameters.
const ROWS_PER_STATEMENT: usize = 64;

/// The text of `{head} VALUES (?, …), … {tail}` for `rows` rows of `columns` values.
fn multi_row_sql(head: &str, tail: &str, columns: usize, rows: usize) -> String {
    let row = format!("({})", vec!["?"; columns].join(", "));
    format!("{head} VALUES {} {tail}", vec![row; rows].join(", "))
}

/// Writes `rows` with `{head} VALUES … {tail}`, [`ROWS_PER_STATEMENT`] rows per execution
/// and the rest one by one (so that two texts are prepared, whatever the count). `bind` binds
/// one row's `columns` values from the given parameter index on; `each` sees what every
/// execution returns (a `RETURNING` clause's rows).
#[allow(clippy::too_many_arguments)]
fn write_rows<R>(
    tx: &Connection,
    head: &str,
    tail: &str,
    columns: usize,
    what: &str,
    rows: &[R],
    bind: impl Fn(&mut Statement<'_>, usize, &R) -> rusqlite::Result<()>,
    mut each: impl FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<()>,
) -> StoreResult<()> {
    let mut run = |stmt: &mut Statement<'_>, chunk: &[R]| -> rusqlite::Result<()> {
        for (n, row) in chunk.iter().enumerate() {
            bind(stmt, n * columns + 1, row)?;
        }
        let mut returned = stmt.raw_query();
        while let Some(row) = returned.next()? {
            each(row)?;
        }
        Ok(())
    };
    let mut chunks = rows.chunks_exact(ROWS_PER_STATEMENT);
    if rows.len() >= ROWS_PER_STATEMENT {
        let sql = multi_row_sql(head, tail, columns, ROWS_PER_STATEMENT);
        let mut stmt = tx.prepare_cached(&sql).db(what)?;
        for chunk in &mut chunks {
            run(&mut stmt, chunk).db(what)?;
        }
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        let mut stmt = tx
            .prepare_cached(&multi_row_sql(head, tail, columns, 1))
            .db(what)?;
        for row in rest.chunks(1) {
            run(&mut stmt, row).db(what)?;
        }
    }
    Ok(())
}

/// Records users not seen before on their issue; returns how many each issue gained.
fn write_users(tx: &Connection, users: &BTreeSet<(i64, &str)>) -> StoreResult<BTreeMap<i64, i64>> {
    let users: Vec<&(i64, &str)> = users.iter().collect();
    let mut new_users = BTreeMap::new();
    write_rows(
        tx,
        "INSERT INTO issue_users (issue_id, user_tag)",
        "ON CONFLICT (issue_id, user_tag) DO NOTHING RETURNING issue_id",
        2,
        "counting an issue's users",
        &users,
        |stmt, at, (issue_id, user)| {
            stmt.raw_bind_parameter(at, issue_id)?;
            stmt.raw_bind_parameter(at + 1, user)
        },
        |row| {
            *new_users.entry(row.get::<_, i64>(0)?).or_default() += 1;
            Ok(())
        },
    )?;
    Ok(new_users)
}

/// One `UPDATE` per issue: a multi-row `UPDATE … FROM (VALUES …)` measured costlier, as SQLite
/// materializes its rows first. All right-hand sides see the row as it was before the update,
/// so the `CASE`s compare the batch's newest event with the issue's previous `last_seen`: a
/// late old event changes no field, as in Sentry, where the group shows its latest event's.
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
    let rows: Vec<_> = tag_values.iter().collect();
    write_rows(
        tx,
        "INSERT INTO issue_tag_values (issue_id, key, value, times_seen, first_seen, last_seen)",
        "ON CONFLICT (issue_id, key, value) DO UPDATE SET
             times_seen = times_seen + excluded.times_seen,
             first_seen = min(first_seen, excluded.first_seen),
             last_seen = max(last_seen, excluded.last_seen)",
        6,
        "counting tag values",
        &rows,
        |stmt, at, ((issue_id, key, value), seen)| {
            stmt.raw_bind_parameter(at, issue_id)?;
            stmt.raw_bind_parameter(at + 1, key)?;
            stmt.raw_bind_parameter(at + 2, value)?;
            stmt.raw_bind_parameter(at + 3, seen.count)?;
            stmt.raw_bind_parameter(at + 4, seen.first)?;
            stmt.raw_bind_parameter(at + 5, seen.last)
        },
        |_| Ok(()),
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
    let rows: Vec<_> = counts.iter().collect();
    write_rows(
        tx,
        &format!("INSERT INTO {table} (issue_id, {bucket}, count)"),
        &format!("ON CONFLICT (issue_id, {bucket}) DO UPDATE SET count = count + excluded.count"),
        3,
        &format!("counting events in {table}"),
        &rows,
        |stmt, at, ((issue_id, start), count)| {
            stmt.raw_bind_parameter(at, issue_id)?;
            stmt.raw_bind_parameter(at + 1, start)?;
            stmt.raw_bind_parameter(at + 2, count)
        },
        |_| Ok(()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Enough rows for several multi-row statements and a rest written one by one.
    const ROWS: usize = 2 * ROWS_PER_STATEMENT + 5;

    fn database() -> Connection {
        let conn = Connection::open_in_memory().expect("in-memory database");
        conn.execute_batch(
            "CREATE TABLE issue_users (issue_id INTEGER, user_tag TEXT,
                 PRIMARY KEY (issue_id, user_tag));
             CREATE TABLE issue_tag_values (issue_id INTEGER, key TEXT, value TEXT,
                 times_seen INTEGER, first_seen REAL, last_seen REAL,
                 PRIMARY KEY (issue_id, key, value));",
        )
        .expect("tables");
        conn
    }

    #[test]
    fn many_users_count_once_per_issue_across_statements() {
        let conn = database();
        let names: Vec<String> = (0..ROWS).map(|n| format!("user-{n}")).collect();
        let users: BTreeSet<(i64, &str)> = names
            .iter()
            .enumerate()
            .map(|(n, name)| ((n % 3) as i64, name.as_str()))
            .collect();
        let gained = write_users(&conn, &users).unwrap();
        assert_eq!(gained.values().sum::<i64>(), ROWS as i64);
        assert_eq!(gained[&0], ROWS.div_ceil(3) as i64);
        // Seen before: nothing gained; one new user on issue 1.
        let mut again = users.clone();
        again.insert((1, "someone new"));
        let gained = write_users(&conn, &again).unwrap();
        assert_eq!(gained, BTreeMap::from([(1, 1)]));
    }

    #[test]
    fn many_tag_values_add_to_what_is_stored() {
        let conn = database();
        let values: Vec<String> = (0..ROWS).map(|n| format!("value-{n}")).collect();
        let seen = |count, first, last| Seen { count, first, last };
        let first: BTreeMap<(i64, &str, &str), Seen> = values
            .iter()
            .map(|v| ((1, "key", v.as_str()), seen(2, 10.0, 20.0)))
            .collect();
        write_tag_values(&conn, &first).unwrap();
        let second: BTreeMap<(i64, &str, &str), Seen> = values
            .iter()
            .map(|v| ((1, "key", v.as_str()), seen(3, 5.0, 15.0)))
            .collect();
        write_tag_values(&conn, &second).unwrap();
        let rows: Vec<(String, i64, f64, f64)> = conn
            .prepare("SELECT value, times_seen, first_seen, last_seen FROM issue_tag_values")
            .unwrap()
            .query_map([], |row| {
                Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
            })
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(rows.len(), ROWS);
        assert!(rows
            .iter()
            .all(|(_, count, first, last)| (*count, *first, *last) == (5, 5.0, 20.0)));
    }
}
