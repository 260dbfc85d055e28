//! Ingest quotas on SQLite: a project's quotas, counter leases and hourly volume.

use async_trait::async_trait;
use rusqlite::{params, OptionalExtension};

use super::error::DbContext;
use super::statements::{record_opt, records};
use super::SqliteStore;
use crate::query::quotas::{
    add_volume_sql, check, lease_sql, limit_columns, prune_counters_sql, prune_volume_sql,
    select_sql, upsert_sql, volume_sql,
};
use crate::query::Dialect;
use crate::{HourlyVolume, ProjectQuotas, QuotaLease, Quotas, StoreResult};

#[async_trait]
impl Quotas for SqliteStore {
    fn is_shared(&self) -> bool {
        false
    }

    async fn project_quotas(&self, project_id: i64) -> StoreResult<ProjectQuotas> {
        let quotas: Option<ProjectQuotas> = self
            .read(move |conn| {
                record_opt(
                    conn,
                    &select_sql(Dialect::Sqlite),
                    [project_id],
                    "reading a project's quotas",
                )
            })
            .await?;
        Ok(quotas.unwrap_or_default())
    }

    async fn set_project_quotas(&self, project_id: i64, quotas: &ProjectQuotas) -> StoreResult<()> {
        check(quotas)?;
        let (errors, transactions) = (
            limit_columns(quotas.errors),
            limit_columns(quotas.transactions),
        );
        let spike = quotas.spike_protection;
        self.write(move |conn| {
            conn.prepare_cached(&upsert_sql(Dialect::Sqlite))
                .and_then(|mut stmt| {
                    stmt.execute(params![
                        project_id,
                        errors.0,
                        errors.1,
                        transactions.0,
                        transactions.1,
                        spike
                    ])
                })
                .db("saving a project's quotas")?;
            Ok(())
        })
        .await
    }

    async fn lease_quota(&self, lease: &QuotaLease) -> StoreResult<i64> {
        if lease.want <= 0 {
            return Ok(0);
        }
        let lease = lease.clone();
        self.write(move |conn| {
            let granted: Option<i64> = conn
                .prepare_cached(&lease_sql(Dialect::Sqlite))
                .and_then(|mut stmt| {
                    stmt.query_row(
                        params![
                            lease.key,
                            lease.window_start,
                            lease.window_start + lease.window_secs,
                            lease.limit,
                            lease.want
                        ],
                        |row| row.get(0),
                    )
                    .optional()
                })
                .db("leasing a quota")?;
            Ok(granted.unwrap_or(0))
        })
        .await
    }

    async fn add_hourly_volume(&self, counts: &[HourlyVolume]) -> StoreResult<()> {
        if counts.is_empty() {
            return Ok(());
        }
        let counts = counts.to_vec();
        self.write(move |conn| {
            let tx = conn.transaction().db("adding hourly volume")?;
            super::tally::execute_each(
                &tx,
                &add_volume_sql(Dialect::Sqlite),
                "adding hourly volume",
                counts
                    .iter()
                    .map(|c| (c.project_id, c.category.as_str(), c.hour, c.count)),
            )?;
            tx.commit().db("adding hourly volume")
        })
        .await
    }

    async fn hourly_volume(
        &self,
        project_id: i64,
        category: &str,
        from: i64,
        to: i64,
    ) -> StoreResult<Vec<HourlyVolume>> {
        let category = category.to_owned();
        self.read(move |conn| {
            records(
                conn,
                &volume_sql(Dialect::Sqlite),
                params![project_id, category, from, to],
                "reading hourly volume",
            )
        })
        .await
    }

    async fn prune_quotas(&self, now: i64, volume_before: i64) -> StoreResult<u64> {
        self.write(move |conn| {
            let counters = conn
                .execute(&prune_counters_sql(Dialect::Sqlite), [now])
                .db("pruning quota counters")?;
            let hours = conn
                .execute(&prune_volume_sql(Dialect::Sqlite), [volume_before])
                .db("pruning hourly volume")?;
            Ok((counters + hours) as u64)
        })
        .await
    }
}
