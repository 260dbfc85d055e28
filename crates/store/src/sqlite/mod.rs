//! The SQLite backend: one file, no server, the default for one node.
//!
//! ## Shape
//! - `connection`: one writer connection behind a mutex and a few readers (WAL mode lets
//!   them read beside the writer); `migrations` run on the writer when the store opens.
//! - One module per area of the schema; each is plain synchronous rusqlite code over a
//!   `&Connection`, with statements from the per-connection cache (`prepare_cached`).
//!   Ingest is two: `ingest` writes each event of a batch (its row, its issue when new, its
//!   grouping hashes) and `tally` sums the batch's counts to write them once per issue.
//! - [`SqliteStore`] implements each domain trait of [`crate::Store`] in that domain's file
//!   (`accounts`, `projects`, `events`, `issues`, `issue_search`, `releases`, `traces`,
//!   `alerts`, `jobs`), running that code on tokio's blocking pool (`spawn_blocking`), so no
//!   query ever blocks the async runtime. This file holds only the connections, migrations
//!   and wiring.
//!
//! ## Durability
//! `journal_mode=WAL` with `synchronous=FULL`: a write that returned is on disk, even across a
//! power cut, which the promise "an event that got a 200 is never lost" needs. Batching many
//! events into one transaction ([`crate::Events::save_events`]) is what keeps that affordable.
//!
//! ## Time
//! Times are stored as REAL seconds since the epoch, the model's `UnixTime` as is: exact
//! round-trips, and SQL's `min`/`max` and comparisons work on the column directly.

mod accounts;
mod alerts;
mod artifacts;
mod attachments;
mod connection;
mod discover;
mod error;
mod event_neighbours;
mod events;
mod ingest;
mod issue_search;
mod issues;
mod jobs;
mod keys;
mod migrations;
mod organizations;
mod outcomes;
mod project_tags;
mod projects;
mod queue;
mod quotas;
mod raw;
mod references;
mod releases;
mod retention;
mod secrets;
mod statements;
mod tally;
mod tokens;
mod traces;
mod triage;
mod user_reports;
mod users;

use std::path::Path;
use std::sync::Arc;

pub use self::queue::LogQueue;

use self::connection::Connections;
use crate::{StoreError, StoreResult};

/// Read connections per store. Reads are short; a few cover a two-core machine's web traffic
/// while the writer ingests.
const READERS: usize = 4;

/// [`crate::Store`] on an SQLite file. Cheap to clone: clones share the connections.
#[derive(Clone)]
pub struct SqliteStore {
    connections: Arc<Connections>,
    /// Reference events of the hashes seen lately, for compressing new events.
    references: Arc<crate::payload::ReferenceCache>,
}

impl SqliteStore {
    /// Opens (creating the file and its directory when missing) and migrates the database.
    ///
    /// Blocking: call it at start, before serving.
    pub fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        if let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| {
                StoreError::Database(format!("creating the directory {}: {e}", dir.display()))
            })?;
        }
        let mut writer = connection::open_writer(path)?;
        migrations::migrate(&mut writer)?;
        let readers = (0..READERS)
            .map(|_| connection::open_reader(path))
            .collect::<StoreResult<Vec<_>>>()?;
        Ok(SqliteStore {
            connections: Arc::new(Connections::new(writer, readers)),
            references: Arc::default(),
        })
    }

    /// Runs `f` on the blocking pool with the connections.
    async fn blocking<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connections) -> StoreResult<T> + Send + 'static,
    {
        let connections = Arc::clone(&self.connections);
        tokio::task::spawn_blocking(move || f(&connections))
            .await
            .map_err(|e| StoreError::Database(format!("store task failed: {e}")))?
    }

    async fn read<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&rusqlite::Connection) -> StoreResult<T> + Send + 'static,
    {
        self.blocking(move |connections| connections.read(f)).await
    }

    async fn write<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut rusqlite::Connection) -> StoreResult<T> + Send + 'static,
    {
        self.blocking(move |connections| connections.write(f)).await
    }
}

/// Now, as stored.
pub(crate) fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// An offset or limit as SQLite's signed integer; past `i64::MAX` is "no limit" anyway.
pub(crate) fn sql_int(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}
