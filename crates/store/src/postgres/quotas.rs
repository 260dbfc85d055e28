//! Ingest quotas on PostgreSQL: a project's quotas, the counters every node leases its slices
//! of a rate-limit window from, and hourly volume.

use async_trait::async_trait;

use super::error::DbContext;
use super::sql::{self, get, record_opt, records};
use super::PgStore;
use crate::query::quotas::{
    add_volume_sql, check, lease_sql, limit_columns, prune_counters_sql, prune_volume_sql,
    select_sql, upsert_sql, volume_sql,
};
use crate::query::Dialect;
use crate::{HourlyVolume, ProjectQuotas, QuotaLease, Quotas, StoreResult};

#[async_trait]
impl Quotas for PgStore {
    fn is_shared(&self) -> bool {
        true
    }

    async fn project_quotas(&self, project_id: i64) -> StoreResult<ProjectQuotas> {
        let quotas: Option<ProjectQuotas> = record_opt(
            &self.client().await?,
            &select_sql(Dialect::Postgres),
            &[&project_id],
            "reading a project's quotas",
        )
        .await?;
        Ok(quotas.unwrap_or_default())
    }

    async fn set_project_quotas(&self, project_id: i64, quotas: &ProjectQuotas) -> StoreResult<()> {
        check(quotas)?;
        let (errors, transactions) = (
            limit_columns(quotas.errors),
            limit_columns(quotas.transactions),
        );
        sql::execute(
            &self.client().await?,
            &upsert_sql(Dialect::Postgres),
            &[
                &project_id,
                &errors.0,
                &errors.1,
                &transactions.0,
                &transactions.1,
                &quotas.spike_protection,
            ],
            "saving a project's quotas",
        )
        .await?;
        Ok(())
    }

    async fn lease_quota(&self, lease: &QuotaLease) -> StoreResult<i64> {
        if lease.want <= 0 {
            return Ok(0);
        }
        let expires_at = lease.window_start + lease.window_secs;
        let row = sql::query_one(
            &self.client().await?,
            &lease_sql(Dialect::Postgres),
            &[
                &lease.key,
                &lease.window_start,
                &expires_at,
                &lease.limit,
                &lease.want,
            ],
            "leasing a quota",
        )
        .await?;
        get(&row, 0)
    }

    async fn add_hourly_volume(&self, counts: &[HourlyVolume]) -> StoreResult<()> {
        if counts.is_empty() {
            return Ok(());
        }
        let mut client = self.client().await?;
        let tx = client.transaction().await.db("adding hourly volume")?;
        let sql = add_volume_sql(Dialect::Postgres);
        for c in counts {
            sql::execute(
                &tx,
                &sql,
                &[&c.project_id, &c.category, &c.hour, &c.count],
                "adding hourly volume",
            )
            .await?;
        }
        tx.commit().await.db("adding hourly volume")
    }

    async fn hourly_volume(
        &self,
        project_id: i64,
        category: &str,
        from: i64,
        to: i64,
    ) -> StoreResult<Vec<HourlyVolume>> {
        records(
            &self.client().await?,
            &volume_sql(Dialect::Postgres),
            &[&project_id, &category, &from, &to],
            "reading hourly volume",
        )
        .await
    }

    async fn prune_quotas(&self, now: i64, volume_before: i64) -> StoreResult<u64> {
        let client = self.client().await?;
        let counters = sql::execute(
            &client,
            &prune_counters_sql(Dialect::Postgres),
            &[&now],
            "pruning quota counters",
        )
        .await?;
        let hours = sql::execute(
            &client,
            &prune_volume_sql(Dialect::Postgres),
            &[&volume_before],
            "pruning hourly volume",
        )
        .await?;
        Ok(counters + hours)
    }
}
