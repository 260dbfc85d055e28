//! Opening the store the configuration names: SQLite files in the data dir, or PostgreSQL at
//! `--database-url` / `VIGIL_DATABASE_URL`.

use std::sync::Arc;

use anyhow::{bail, Context};
use vigil_store::postgres::{is_postgres_url, PgQueue, PgStore};
use vigil_store::sqlite::{LogQueue, SqliteStore};
use vigil_store::{IngestQueue, Store};

use crate::cli::Config;

/// The database URL, when one is configured; an error for one that is not PostgreSQL's.
fn postgres_url(config: &Config) -> anyhow::Result<Option<&str>> {
    match config.database_url.as_deref() {
        None => Ok(None),
        Some(url) if is_postgres_url(url) => Ok(Some(url)),
        // The URL may hold a password: name only its scheme.
        Some(url) => bail!(
            "unsupported database URL scheme `{}` (expected postgres:// or postgresql://)",
            url.split(':').next().unwrap_or_default()
        ),
    }
}

/// The store, migrated: PostgreSQL when a database URL is configured, else SQLite at
/// `<data-dir>/vigil.sqlite3`.
pub async fn open_store(config: &Config) -> anyhow::Result<Arc<dyn Store>> {
    if let Some(url) = postgres_url(config)? {
        let store = PgStore::connect(url)
            .await
            .context("opening the PostgreSQL database")?;
        return Ok(Arc::new(store));
    }
    let path = config.data_dir.join("vigil.sqlite3");
    let store = SqliteStore::open(&path).with_context(|| format!("opening {}", path.display()))?;
    Ok(Arc::new(store))
}

/// The durable ingest queue. On SQLite, its own file beside the database, so that accepting and
/// processing do not wait for each other's writes; on PostgreSQL, a table in the same database
/// (every node claims from it) with a connection pool of its own, so that accepting never waits
/// behind the store's queries for a connection.
pub async fn open_queue(config: &Config) -> anyhow::Result<Arc<dyn IngestQueue>> {
    if let Some(url) = postgres_url(config)? {
        let queue = PgQueue::connect(url)
            .await
            .context("opening the PostgreSQL ingest queue")?;
        return Ok(Arc::new(queue));
    }
    let queue = LogQueue::open(&config.data_dir)
        .with_context(|| format!("opening the queue in {}", config.data_dir.display()))?;
    Ok(Arc::new(queue))
}
