//! A project's performance thresholds in PostgreSQL (apdex, N+1 and slow query detection).

use super::super::error::corrupt;
use super::super::sql::{self, get};
use super::super::PgStore;
use crate::query::performance_settings::{select_sql, upsert_sql};
use crate::query::Dialect;
use crate::{PerformanceSettings, StoreError, StoreResult};

pub(in crate::postgres) async fn performance_settings(
    store: &PgStore,
    project_id: i64,
) -> StoreResult<PerformanceSettings> {
    let client = store.client().await?;
    let row = sql::query_opt(
        &client,
        &select_sql(Dialect::Postgres),
        &[&project_id],
        "reading performance settings",
    )
    .await?;
    let Some(row) = row else {
        return Ok(PerformanceSettings::default());
    };
    let min_count: i64 = get(&row, 1)?;
    Ok(PerformanceSettings {
        apdex_threshold_ms: get(&row, 0)?,
        n_plus_one_min_count: u32::try_from(min_count)
            .map_err(|e| corrupt("performance settings", e))?,
        n_plus_one_min_total_ms: get(&row, 2)?,
        slow_db_query_ms: get(&row, 3)?,
    })
}

pub(in crate::postgres) async fn set_performance_settings(
    store: &PgStore,
    project_id: i64,
    settings: &PerformanceSettings,
) -> StoreResult<()> {
    let values = [
        settings.apdex_threshold_ms,
        settings.n_plus_one_min_total_ms,
        settings.slow_db_query_ms,
    ];
    if values.iter().any(|v| !v.is_finite() || *v < 0.0) {
        return Err(StoreError::Invalid(
            "performance thresholds must be finite and not negative".into(),
        ));
    }
    let client = store.client().await?;
    sql::execute(
        &client,
        &upsert_sql(Dialect::Postgres),
        &[
            &project_id,
            &settings.apdex_threshold_ms,
            &i64::from(settings.n_plus_one_min_count),
            &settings.n_plus_one_min_total_ms,
            &settings.slow_db_query_ms,
        ],
        "saving performance settings",
    )
    .await?;
    Ok(())
}
