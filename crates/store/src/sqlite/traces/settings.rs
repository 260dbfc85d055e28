//! A project's performance thresholds in SQLite (apdex, N+1 and slow query detection).

use rusqlite::{params, OptionalExtension};

use super::super::error::DbContext;
use super::super::SqliteStore;
use crate::query::performance_settings::{select_sql, upsert_sql};
use crate::query::Dialect;
use crate::{PerformanceSettings, StoreError, StoreResult};

pub(in crate::sqlite) async fn performance_settings(
    store: &SqliteStore,
    project_id: i64,
) -> StoreResult<PerformanceSettings> {
    store
        .read(move |conn| {
            let settings = conn
                .prepare_cached(&select_sql(Dialect::Sqlite))
                .and_then(|mut stmt| {
                    stmt.query_row([project_id], |row| {
                        Ok(PerformanceSettings {
                            apdex_threshold_ms: row.get(0)?,
                            n_plus_one_min_count: row.get(1)?,
                            n_plus_one_min_total_ms: row.get(2)?,
                            slow_db_query_ms: row.get(3)?,
                        })
                    })
                    .optional()
                })
                .db("reading performance settings")?;
            Ok(settings.unwrap_or_default())
        })
        .await
}

pub(in crate::sqlite) async fn set_performance_settings(
    store: &SqliteStore,
    project_id: i64,
    settings: &PerformanceSettings,
) -> StoreResult<()> {
    let s = *settings;
    let valid = [
        s.apdex_threshold_ms,
        s.n_plus_one_min_total_ms,
        s.slow_db_query_ms,
    ]
    .iter()
    .all(|v| v.is_finite() && *v > 0.0)
        && s.n_plus_one_min_count > 0;
    if !valid {
        return Err(StoreError::Invalid(
            "performance thresholds must be positive numbers".into(),
        ));
    }
    store
        .write(move |conn| {
            conn.prepare_cached(&upsert_sql(Dialect::Sqlite))
                .and_then(|mut stmt| {
                    stmt.execute(params![
                        project_id,
                        s.apdex_threshold_ms,
                        s.n_plus_one_min_count,
                        s.n_plus_one_min_total_ms,
                        s.slow_db_query_ms
                    ])
                })
                .db("saving performance settings")?;
            Ok(())
        })
        .await
}
