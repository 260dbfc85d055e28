//! Running a cached statement and reading its rows as [`Record`]s, the readers both backends
//! share, or with a reader of the caller's.

use rusqlite::{Connection, Params, Row};

use super::error::DbContext;
use crate::rows::Record;
use crate::StoreResult;

/// Every row the statement returns, as records; `what` names the query in errors.
pub(crate) fn records<T: Record>(
    conn: &Connection,
    sql: &str,
    params: impl Params,
    what: &str,
) -> StoreResult<Vec<T>> {
    query_all_with(conn, sql, params, what, |row| T::read(row))
}

/// The first row the statement returns, as a record, or none.
pub(crate) fn record_opt<T: Record>(
    conn: &Connection,
    sql: &str,
    params: impl Params,
    what: &str,
) -> StoreResult<Option<T>> {
    let mut statement = conn.prepare_cached(sql).db(what)?;
    let mut rows = statement.query(params).db(what)?;
    rows.next().db(what)?.map(|row| T::read(row)).transpose()
}

/// The one row the statement must return, as a record.
pub(crate) fn record<T: Record>(
    conn: &Connection,
    sql: &str,
    params: impl Params,
    what: &str,
) -> StoreResult<T> {
    record_opt(conn, sql, params, what)?.ok_or_else(|| {
        crate::StoreError::Database(format!("{what}: the statement returned no row"))
    })
}

/// Every row the statement returns, each read by `read`.
pub(crate) fn query_all_with<T>(
    conn: &Connection,
    sql: &str,
    params: impl Params,
    what: &str,
    mut read: impl FnMut(&Row<'_>) -> StoreResult<T>,
) -> StoreResult<Vec<T>> {
    let mut statement = conn.prepare_cached(sql).db(what)?;
    let mut rows = statement.query(params).db(what)?;
    let mut records = Vec::new();
    while let Some(row) = rows.next().db(what)? {
        records.push(read(row)?);
    }
    Ok(records)
}
