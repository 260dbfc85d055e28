//! Periodic background jobs, claimed in the database so that each run happens once among the
//! processes sharing it (the server, a CLI command run beside it).

use async_trait::async_trait;
use rusqlite::params;

use super::error::DbContext;
use super::now;
use super::SqliteStore;
use crate::StoreResult;
use crate::{Maintenance, RetentionPass, StoreError, UnixTime};
use std::sync::Arc;

#[async_trait]
impl Maintenance for SqliteStore {
    async fn ping(&self) -> StoreResult<()> {
        self.read(|conn| {
            conn.query_row("SELECT 1", [], |_| Ok(()))
                .map_err(|e| StoreError::Database(format!("ping: {e}")))
        })
        .await
    }

    /// A job never seen before is due.
    async fn claim_job(&self, name: &str, interval_secs: f64) -> StoreResult<bool> {
        let name = name.to_owned();
        self.write(move |conn| {
            let changed = conn
                .prepare_cached(
                    "INSERT INTO jobs (name, next_run) VALUES (?1, ?2 + ?3)
                     ON CONFLICT (name) DO UPDATE SET next_run = excluded.next_run
                     WHERE jobs.next_run <= ?2",
                )
                .and_then(|mut stmt| stmt.execute(params![name, now(), interval_secs]))
                .db("claiming a background job")?;
            Ok(changed > 0)
        })
        .await
    }

    async fn delete_expired(&self, before: UnixTime, limit: u64) -> StoreResult<RetentionPass> {
        let cache = Arc::clone(&self.references);
        self.write(move |conn| {
            let (pass, references) = super::retention::delete_expired(conn, before, limit)?;
            for (project_id, hash) in references {
                cache.forget(project_id, &hash);
            }
            Ok(pass)
        })
        .await
    }
}
