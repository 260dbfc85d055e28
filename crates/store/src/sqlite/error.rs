//! How SQLite's errors become [`StoreError`]s.
//!
//! Callers need to tell three things apart: a name that is taken (`Conflict`, e.g. a project
//! slug), a reference to something that is not there (`NotFound`, a foreign key), and the
//! database failing (`Database`). Every call site names what it was doing, so that a log line
//! says "saving events: disk I/O error" rather than only the latter half.

use rusqlite::ffi;

use crate::StoreError;

/// Adds what the store was doing to a rusqlite error and classifies it.
pub(crate) trait DbContext<T> {
    /// `what` names the record or the operation: it prefixes `Database` messages and is the
    /// subject of `Conflict` ("{what} already exists"), so inserts that can conflict pass a
    /// noun phrase such as ``project `shop` ``.
    fn db(self, what: &str) -> Result<T, StoreError>;
}

impl<T> DbContext<T> for Result<T, rusqlite::Error> {
    fn db(self, what: &str) -> Result<T, StoreError> {
        self.map_err(|e| classify(e, what))
    }
}

fn classify(error: rusqlite::Error, what: &str) -> StoreError {
    if let rusqlite::Error::SqliteFailure(failure, _) = &error {
        match failure.extended_code {
            ffi::SQLITE_CONSTRAINT_UNIQUE | ffi::SQLITE_CONSTRAINT_PRIMARYKEY => {
                return StoreError::Conflict(what.to_string());
            }
            ffi::SQLITE_CONSTRAINT_FOREIGNKEY => {
                return StoreError::NotFound(format!("a record referenced by {what}"));
            }
            _ => {}
        }
    }
    StoreError::Database(format!("{what}: {error}"))
}

/// A `Database` error for data the store wrote but cannot read back (corrupt JSON or zstd).
pub(crate) fn corrupt(what: &str, error: impl std::fmt::Display) -> StoreError {
    StoreError::Database(format!("{what}: stored data is unreadable: {error}"))
}

/// A `Database` error for data the store could not encode for writing.
pub(crate) fn failed(what: &str, error: impl std::fmt::Display) -> StoreError {
    StoreError::Database(format!("{what}: {error}"))
}
