//! Periodic background jobs, claimed in the database so that each run happens on one node.

use super::error::DbContext;
use super::now;
use super::sql;
use super::PgStore;
use crate::StoreResult;
use crate::{Maintenance, RetentionPass, UnixTime};
use async_trait::async_trait;

#[async_trait]
impl Maintenance for PgStore {
    async fn ping(&self) -> StoreResult<()> {
        let client = self.client().await?;
        client.simple_query("SELECT 1").await.db("ping")?;
        Ok(())
    }

    /// A job never seen before is due. Of two nodes claiming one run, the second finds it
    /// claimed: the row lock makes its update see the moved `next_run`.
    async fn claim_job(&self, name: &str, interval_secs: f64) -> StoreResult<bool> {
        let claimed = sql::query_opt(
            &self.client().await?,
            "INSERT INTO jobs (name, next_run)
             VALUES ($1, $2::DOUBLE PRECISION + $3::DOUBLE PRECISION)
             ON CONFLICT (name) DO UPDATE SET next_run = excluded.next_run
             WHERE jobs.next_run <= $2::DOUBLE PRECISION
             RETURNING name",
            &[&name, &now(), &interval_secs],
            "claiming a background job",
        )
        .await?;
        Ok(claimed.is_some())
    }

    async fn delete_expired(&self, before: UnixTime, limit: u64) -> StoreResult<RetentionPass> {
        let mut client = self.client().await?;
        let (pass, references) =
            super::retention::delete_expired(&mut client, before, limit).await?;
        for (project_id, hash) in references {
            self.references.forget(project_id, &hash);
        }
        Ok(pass)
    }
}
