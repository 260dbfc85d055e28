//! Opening the store the configuration names.

use std::sync::Arc;

use anyhow::{bail, Context};
use vigil_store::sqlite::{SqliteQueue, SqliteStore};
use vigil_store::{IngestQueue, Store};

use crate::cli::Config;

pub fn open_store(config: &Config) -> anyhow::Result<Arc<dyn Store>> {
    if let Some(url) = &config.database_url {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            bail!("PostgreSQL is not supported by this build yet; unset VIGIL_DATABASE_URL to use SQLite");
        }
        bail!("unsupported database URL (expected postgres://…): {url}");
    }
    let path = config.data_dir.join("vigil.sqlite3");
    let store = SqliteStore::open(&path).with_context(|| format!("opening {}", path.display()))?;
    Ok(Arc::new(store))
}

/// The durable ingest queue: its own SQLite file beside the database, so that accepting and
/// processing do not wait for each other's writes.
pub fn open_queue(config: &Config) -> anyhow::Result<Arc<dyn IngestQueue>> {
    let path = config.data_dir.join("queue.sqlite3");
    let queue = SqliteQueue::open(&path).with_context(|| format!("opening {}", path.display()))?;
    Ok(Arc::new(queue))
}
