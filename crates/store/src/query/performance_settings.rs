//! The statements of a project's performance settings, the same on both backends: the row
//! read by project (parameter 1) and the row written whole over what was there.

use super::Dialect;
use crate::{PerformanceSettings, StoreError, StoreResult};

/// The settings' columns after `project_id`, in the order both statements use.
const COLUMNS: [&str; 4] = [
    "apdex_threshold_ms",
    "n_plus_one_min_count",
    "n_plus_one_min_total_ms",
    "slow_db_query_ms",
];

/// `Ok` for settings a detector can use: every threshold a positive number and a minimum count
/// of at least one. The API checks Sentry's ranges first; this keeps any caller from storing
/// what would make a detector divide by zero or flag every span, on either backend.
pub(crate) fn check(settings: &PerformanceSettings) -> StoreResult<()> {
    let thresholds = [
        settings.apdex_threshold_ms,
        settings.n_plus_one_min_total_ms,
        settings.slow_db_query_ms,
    ];
    if thresholds.iter().all(|v| v.is_finite() && *v > 0.0) && settings.n_plus_one_min_count > 0 {
        return Ok(());
    }
    Err(StoreError::Invalid(
        "performance thresholds must be positive numbers".into(),
    ))
}

/// The project's row: [`COLUMNS`], in order.
pub(crate) fn select_sql(dialect: Dialect) -> String {
    format!(
        "SELECT {} FROM performance_settings WHERE project_id = {}",
        COLUMNS.join(", "),
        dialect.placeholder(1)
    )
}

/// Writes `project_id` then [`COLUMNS`], replacing the project's row.
pub(crate) fn upsert_sql(dialect: Dialect) -> String {
    let mut columns = vec!["project_id"];
    columns.extend(COLUMNS);
    dialect.upsert("performance_settings", &columns, 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_are_written_whole_by_project() {
        assert_eq!(
            upsert_sql(Dialect::Sqlite),
            "INSERT INTO performance_settings (project_id, apdex_threshold_ms, \
             n_plus_one_min_count, n_plus_one_min_total_ms, slow_db_query_ms) \
             VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (project_id) DO UPDATE SET \
             apdex_threshold_ms = excluded.apdex_threshold_ms, \
             n_plus_one_min_count = excluded.n_plus_one_min_count, \
             n_plus_one_min_total_ms = excluded.n_plus_one_min_total_ms, \
             slow_db_query_ms = excluded.slow_db_query_ms"
        );
        assert!(select_sql(Dialect::Postgres).ends_with("WHERE project_id = $1"));
    }
}
