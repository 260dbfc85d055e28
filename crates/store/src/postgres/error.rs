//! How PostgreSQL's errors become [`StoreError`]s.
//!
//! As on SQLite, callers tell three things apart: a name that is taken (`Conflict`: SQLSTATE
//! 23505, a unique violation), a reference to something that is not there (`NotFound`: 23503, a
//! foreign-key violation) and the database failing (`Database`). Every call site names what it
//! was doing, so a log line says "saving events: connection closed" rather than the latter half.

use tokio_postgres::error::SqlState;

use crate::StoreError;

/// Adds what the store was doing to a driver or pool error and classifies it.
pub(crate) trait DbContext<T> {
    /// `what` names the record or the operation: it prefixes `Database` messages and is the
    /// subject of `Conflict` ("{what} already exists").
    fn db(self, what: &str) -> Result<T, StoreError>;
}

impl<T> DbContext<T> for Result<T, tokio_postgres::Error> {
    fn db(self, what: &str) -> Result<T, StoreError> {
        self.map_err(|e| classify(&e, what))
    }
}

impl<T> DbContext<T> for Result<T, deadpool_postgres::PoolError> {
    fn db(self, what: &str) -> Result<T, StoreError> {
        self.map_err(|e| match e {
            deadpool_postgres::PoolError::Backend(e) => classify(&e, what),
            other => StoreError::Database(format!(
                "{what}: no database connection: {}",
                with_causes(&other)
            )),
        })
    }
}

pub(crate) fn classify(error: &tokio_postgres::Error, what: &str) -> StoreError {
    match error.code() {
        Some(code) if *code == SqlState::UNIQUE_VIOLATION => StoreError::Conflict(what.to_string()),
        Some(code) if *code == SqlState::FOREIGN_KEY_VIOLATION => {
            StoreError::NotFound(format!("a record referenced by {what}"))
        }
        _ => StoreError::Database(format!("{what}: {}", describe(error))),
    }
}

/// The server's message when there is one (the driver's `Display` alone says only "db error"),
/// else the driver's message with its causes ("error connecting to server: Connection refused").
pub(crate) fn describe(error: &tokio_postgres::Error) -> String {
    match error.as_db_error() {
        Some(db) => format!("{}: {}", db.severity(), db.message()),
        None => with_causes(error),
    }
}

/// An error's message followed by those of its sources.
pub(crate) fn with_causes(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        // Some wrappers repeat their source's message.
        if !text.ends_with(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// Whether a transaction failed only because it ran into another one (deadlock, serialization
/// failure) and is worth running again.
pub(crate) fn is_transient(error: &tokio_postgres::Error) -> bool {
    matches!(
        error.code(),
        Some(code) if *code == SqlState::T_R_DEADLOCK_DETECTED
            || *code == SqlState::T_R_SERIALIZATION_FAILURE
    )
}

/// A `Database` error for data the store wrote but cannot read back.
pub(crate) fn corrupt(what: &str, error: impl std::fmt::Display) -> StoreError {
    StoreError::Database(format!("{what}: stored data is unreadable: {error}"))
}
