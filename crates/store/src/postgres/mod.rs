//! The PostgreSQL backend: several Vigil nodes share one database.
//!
//! ## Shape
//! The same behaviour as the SQLite backend (`sqlite/`, the reference), module by module:
//! one module per area of the schema, each async code over a pooled connection
//! (`pool`: tokio-postgres behind deadpool, statements prepared once per connection). Ingest
//! is `ingest` (the batch's plan and its writes) and `tally` (its counts); `queue` is the
//! ingest queue as a table. Event payloads are stored as on SQLite ([`crate::payload`]):
//! compressed against their hash's reference event (`references`). Each domain trait of
//! [`crate::Store`] is implemented in that domain's file, as on SQLite; this file holds only
//! the pool, migrations and wiring.
//!
//! ## Several nodes
//! Everything that SQLite gets from having one writer is made explicit here, so that any number
//! of nodes can write at once: unique keys with `ON CONFLICT` for what two nodes may create
//! together (organizations, releases, grouping hashes, events), row locks for counters (short
//! ids per project, issue counts), `FOR UPDATE SKIP LOCKED` for the queue, and an advisory
//! lock for migrations. See `ingest.rs` for how a batch stays exact when it races another.
//!
//! ## Durability
//! Every connection runs with `synchronous_commit=on`: a commit that returned survives a crash
//! of the database server, as SQLite's `synchronous=FULL` does for the file.
//!
//! ## Time
//! Times are DOUBLE PRECISION seconds since the epoch, the model's `UnixTime` as is, as on
//! SQLite; only queue leases use the database's clock, which every node shares.

mod accounts;
mod alerts;
mod artifacts;
mod attachments;
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
mod pool;
mod project_tags;
mod projects;
mod queue;
mod quotas;
mod raw;
mod references;
mod releases;
mod retention;
mod secrets;
mod sql;
mod tally;
mod test_database;
mod tokens;
mod traces;
mod triage;
mod user_reports;
mod users;

use std::sync::Arc;

use deadpool_postgres::{Client, Pool};

pub use self::queue::{PgQueue, STATS_REFRESH};
pub use self::test_database::TestDatabase;

use self::error::DbContext;
use crate::payload::ReferenceCache;
use crate::StoreResult;

/// Connections of the store's pool: the workers' batches, the web UI and the API share them.
const STORE_CONNECTIONS: usize = 16;
/// Connections of a queue's own pool ([`PgQueue::connect`]): the accept path never waits
/// behind the store's queries for one.
const QUEUE_CONNECTIONS: usize = 8;

/// Whether `url` names a PostgreSQL database (`postgres://…` or `postgresql://…`).
pub fn is_postgres_url(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

/// [`crate::Store`] on a PostgreSQL database. Cheap to clone: clones share the pool.
#[derive(Clone)]
pub struct PgStore {
    pool: Pool,
    /// Reference events of the hashes seen lately, for compressing new events.
    references: Arc<ReferenceCache>,
}

impl PgStore {
    /// Connects to the database at `url` (`postgres://user:password@host:port/database`) and
    /// migrates it. Several nodes may do so at once.
    pub async fn connect(url: &str) -> StoreResult<PgStore> {
        let pool = migrated_pool(url, STORE_CONNECTIONS).await?;
        Ok(PgStore {
            pool,
            references: Arc::default(),
        })
    }

    /// The ingest queue in this store's database, on this store's pool.
    pub async fn queue(&self) -> StoreResult<PgQueue> {
        PgQueue::start(self.pool.clone()).await
    }

    async fn client(&self) -> StoreResult<Client> {
        self.pool.get().await.db("getting a database connection")
    }
}

impl PgQueue {
    /// Connects to the database at `url` with a pool of its own, migrates it (the queue's table
    /// is part of the schema) and starts the queue.
    pub async fn connect(url: &str) -> StoreResult<PgQueue> {
        PgQueue::start(migrated_pool(url, QUEUE_CONNECTIONS).await?).await
    }
}

/// A pool of `connections` to the database at `url`, whose schema is migrated first.
async fn migrated_pool(url: &str, connections: usize) -> StoreResult<Pool> {
    let pool = pool::build(url, connections)?;
    let mut client = pool.get().await.db("connecting to PostgreSQL")?;
    migrations::migrate(&mut client).await?;
    drop(client);
    Ok(pool)
}

/// Now, as stored.
pub(crate) fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}
