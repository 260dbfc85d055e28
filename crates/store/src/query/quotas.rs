//! The statements of ingest quotas, the same on both backends: a project's quotas row, the
//! lease of a slice of a shared counter, and the hourly volume. Only the placeholders and the
//! two-argument minimum and maximum (`MIN`/`MAX` in SQLite, `LEAST`/`GREATEST` in PostgreSQL)
//! differ.

use super::Dialect;
use crate::rows::{Columns, Record};
use crate::{HourlyVolume, KeyRateLimit, ProjectQuotas, StoreError, StoreResult};

/// The quotas' columns after `project_id`, in the order both statements use.
const COLUMNS: [&str; 5] = [
    "error_limit_count",
    "error_limit_window",
    "transaction_limit_count",
    "transaction_limit_window",
    "spike_protection",
];

/// `Ok` for limits ingest can count: a window of at least one second, a count not negative.
pub(crate) fn check(quotas: &ProjectQuotas) -> StoreResult<()> {
    for (name, limit) in [
        ("errors", quotas.errors),
        ("transactions", quotas.transactions),
    ] {
        if let Some(limit) = limit {
            if limit.window_secs < 1 || limit.count < 0 {
                return Err(StoreError::Invalid(format!(
                    "the {name} rate limit needs a window of at least one second and a count \
                     of at least zero"
                )));
            }
        }
    }
    Ok(())
}

/// A limit as its two nullable columns.
pub(crate) fn limit_columns(limit: Option<KeyRateLimit>) -> (Option<i64>, Option<i64>) {
    limit.map_or((None, None), |l| (Some(l.count), Some(l.window_secs)))
}

pub(crate) fn select_sql(dialect: Dialect) -> String {
    format!(
        "SELECT {} FROM project_quotas WHERE project_id = {}",
        COLUMNS.join(", "),
        dialect.placeholder(1)
    )
}

/// Writes `project_id` then [`COLUMNS`], replacing the project's row.
pub(crate) fn upsert_sql(dialect: Dialect) -> String {
    let mut columns = vec!["project_id"];
    columns.extend(COLUMNS);
    dialect.upsert("project_quotas", &columns, 1)
}

/// Takes a slice of a counter's window. Parameters: key, window start, expiry, limit, want;
/// returns the units granted. The update reads the row's old `used` on both backends, and the
/// row is locked for the statement, so concurrent leases never grant past the limit together;
/// a limit lowered below what was already used grants nothing.
pub(crate) fn lease_sql(dialect: Dialect) -> String {
    // PostgreSQL would type the bare parameters inside `LEAST` after the literal `0`.
    let (min, max, cast) = match dialect {
        Dialect::Sqlite => ("MIN", "MAX", ""),
        Dialect::Postgres => ("LEAST", "GREATEST", "::BIGINT"),
    };
    let p = |n| dialect.placeholder(n);
    let (limit, want) = (format!("{}{cast}", p(4)), format!("{}{cast}", p(5)));
    let first = format!("{min}({want}, {max}({limit}, 0))");
    let next = format!("{min}(c.used + {want}, {max}(c.used, {limit}))");
    format!(
        "INSERT INTO quota_counters AS c (quota_key, window_start, expires_at, used, last_grant) \
         VALUES ({}, {}, {}, {first}, {first}) \
         ON CONFLICT (quota_key, window_start) DO UPDATE SET \
         used = {next}, last_grant = {next} - c.used \
         RETURNING last_grant",
        p(1),
        p(2),
        p(3)
    )
}

/// Adds to an hour's count. Parameters: project, category, hour, count.
pub(crate) fn add_volume_sql(dialect: Dialect) -> String {
    let p = |n| dialect.placeholder(n);
    format!(
        "INSERT INTO hourly_volume AS v (project_id, category, hour, accepted) \
         VALUES ({}, {}, {}, {}) \
         ON CONFLICT (project_id, category, hour) DO UPDATE SET \
         accepted = v.accepted + excluded.accepted",
        p(1),
        p(2),
        p(3),
        p(4)
    )
}

/// Parameters: project, category, from, to.
pub(crate) fn volume_sql(dialect: Dialect) -> String {
    let p = |n| dialect.placeholder(n);
    format!(
        "SELECT project_id, category, hour, accepted FROM hourly_volume \
         WHERE project_id = {} AND category = {} AND hour >= {} AND hour < {} ORDER BY hour",
        p(1),
        p(2),
        p(3),
        p(4)
    )
}

/// Parameter: now.
pub(crate) fn prune_counters_sql(dialect: Dialect) -> String {
    format!(
        "DELETE FROM quota_counters WHERE expires_at < {}",
        dialect.placeholder(1)
    )
}

/// Parameter: the oldest hour kept.
pub(crate) fn prune_volume_sql(dialect: Dialect) -> String {
    format!(
        "DELETE FROM hourly_volume WHERE hour < {}",
        dialect.placeholder(1)
    )
}

/// From [`select_sql`]'s columns.
impl Record for ProjectQuotas {
    fn read(row: &impl Columns) -> StoreResult<Self> {
        let limit = |count: Option<i64>, window: Option<i64>| match (count, window) {
            (Some(count), Some(window_secs)) => Some(KeyRateLimit { count, window_secs }),
            _ => None,
        };
        Ok(ProjectQuotas {
            errors: limit(row.column(0)?, row.column(1)?),
            transactions: limit(row.column(2)?, row.column(3)?),
            spike_protection: row.column(4)?,
        })
    }
}

/// From [`volume_sql`]'s columns.
impl Record for HourlyVolume {
    fn read(row: &impl Columns) -> StoreResult<Self> {
        Ok(HourlyVolume {
            project_id: row.column(0)?,
            category: row.column(1)?,
            hour: row.column(2)?,
            count: row.column(3)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lease_reads_the_old_row_in_both_dialects() {
        assert_eq!(
            lease_sql(Dialect::Postgres),
            "INSERT INTO quota_counters AS c (quota_key, window_start, expires_at, used, \
             last_grant) VALUES ($1, $2, $3, LEAST($5::BIGINT, GREATEST($4::BIGINT, 0)), \
             LEAST($5::BIGINT, GREATEST($4::BIGINT, 0))) \
             ON CONFLICT (quota_key, window_start) DO UPDATE SET \
             used = LEAST(c.used + $5::BIGINT, GREATEST(c.used, $4::BIGINT)), \
             last_grant = LEAST(c.used + $5::BIGINT, GREATEST(c.used, $4::BIGINT)) - c.used \
             RETURNING last_grant"
        );
        assert!(lease_sql(Dialect::Sqlite).contains("MIN(c.used + ?5, MAX(c.used, ?4))"));
    }

    #[test]
    fn unusable_limits_are_refused() {
        let bad = |count, window_secs| ProjectQuotas {
            transactions: Some(KeyRateLimit { count, window_secs }),
            ..ProjectQuotas::default()
        };
        assert!(check(&bad(10, 0)).is_err());
        assert!(check(&bad(-1, 60)).is_err());
        assert!(
            check(&bad(0, 60)).is_ok(),
            "zero drops everything, on purpose"
        );
        assert!(check(&ProjectQuotas::default()).is_ok());
    }
}
