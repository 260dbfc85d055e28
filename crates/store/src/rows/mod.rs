//! Records read from a row of either backend, each reader written once.
//!
//! A [`Record`] reads itself from any [`Columns`] (a `rusqlite::Row` or a `tokio_postgres::Row`)
//! by column index, in the order of the column list the query selected, so the two backends
//! cannot drift in how a record is put together from its columns. One file per domain holds
//! its records' readers.

use serde::de::DeserializeOwned;

mod accounts;
mod alerts;
mod artifacts;
mod attachments;
mod events;
mod outcomes;
mod releases;
mod traces;
mod triage;

pub(crate) use accounts::{
    user_at, Member, KEY_COLUMNS, ORGANIZATION_COLUMNS, PROJECT_COLUMNS, RAW_ITEM_COLUMNS,
    USER_COLUMNS,
};
pub(crate) use alerts::{SentNotification, NOTIFICATION_COLUMNS, RULE_COLUMNS};
pub(crate) use artifacts::{dist_of, BUNDLE_COLUMNS, RELEASE_FILE_COLUMNS};
pub(crate) use attachments::{ATTACHMENT_COLUMNS, USER_REPORT_COLUMNS};
pub(crate) use outcomes::OUTCOME_COLUMNS;
pub(crate) use traces::{TransactionWithData, SPAN_COLUMNS};
pub(crate) use triage::Text;

use crate::{StoreError, StoreResult};

/// A value both drivers can read from a column.
pub(crate) trait Column:
    rusqlite::types::FromSql + for<'a> tokio_postgres::types::FromSql<'a>
{
}

impl<T> Column for T where T: rusqlite::types::FromSql + for<'a> tokio_postgres::types::FromSql<'a> {}

/// A row read by column index.
pub(crate) trait Columns {
    /// Column `index`; a type mismatch means the schema is not the one this code knows.
    fn column<T: Column>(&self, index: usize) -> StoreResult<T>;

    /// A JSON column written by this store, decoded; `what` names it in the error.
    fn json<T: DeserializeOwned>(&self, index: usize, what: &str) -> StoreResult<T> {
        let text: String = self.column(index)?;
        serde_json::from_str(&text).map_err(|e| unreadable(what, e))
    }

    /// A column holding a status's or kind's name, parsed by `parse`; a name it does not know
    /// is an error naming `what`.
    fn named<T>(
        &self,
        index: usize,
        what: &str,
        parse: impl FnOnce(&str) -> Option<T>,
    ) -> StoreResult<T> {
        let text: String = self.column(index)?;
        parse(&text).ok_or_else(|| unreadable(what, format!("unknown {what} `{text}`")))
    }

    /// A count kept as an integer column (both backends store 64 bits); one past `u32` is
    /// an error naming `what`.
    fn count(&self, index: usize, what: &str) -> StoreResult<u32> {
        let count: i64 = self.column(index)?;
        u32::try_from(count).map_err(|e| unreadable(what, e))
    }
}

impl Columns for rusqlite::Row<'_> {
    fn column<T: Column>(&self, index: usize) -> StoreResult<T> {
        self.get(index)
            .map_err(|e| unreadable(&format!("column {index}"), e))
    }
}

impl Columns for tokio_postgres::Row {
    fn column<T: Column>(&self, index: usize) -> StoreResult<T> {
        self.try_get(index)
            .map_err(|e| unreadable(&format!("column {index}"), e))
    }
}

/// `columns` (comma-separated) each with `prefix`, such as a table's alias and a dot.
pub(crate) fn prefixed(columns: &str, prefix: &str) -> String {
    columns
        .split(',')
        .map(|column| format!("{prefix}{}", column.trim()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A `Database` error for data the store wrote but cannot read back.
pub(crate) fn unreadable(what: &str, error: impl std::fmt::Display) -> StoreError {
    StoreError::Database(format!("{what}: stored data is unreadable: {error}"))
}

/// A record read from one row.
pub(crate) trait Record: Sized {
    fn read(row: &impl Columns) -> StoreResult<Self>;
}

impl<A: Column, B: Column> Record for (A, B) {
    fn read(row: &impl Columns) -> StoreResult<Self> {
        Ok((row.column(0)?, row.column(1)?))
    }
}

impl<A: Column, B: Column, C: Column> Record for (A, B, C) {
    fn read(row: &impl Columns) -> StoreResult<Self> {
        Ok((row.column(0)?, row.column(1)?, row.column(2)?))
    }
}
