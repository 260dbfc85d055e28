//! Schema migrations, embedded in the binary and run at start.
//!
//! Each migration runs once, in its own transaction together with the row that records it in
//! `schema_migrations`, so a crash halfway leaves the schema at the previous version and the
//! next start tries again. Migrations are append-only: a released one is never edited, a
//! change is a new file.

use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};

use super::error::DbContext;
use super::now;
use crate::{StoreError, StoreResult};

/// `(version, SQL)` in order.
const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("migrations/0001_init.sql")),
    (2, include_str!("migrations/0002_releases.sql")),
    (3, include_str!("migrations/0003_key_rate_limits.sql")),
    (4, include_str!("migrations/0004_event_references.sql")),
    (5, include_str!("migrations/0005_retention.sql")),
    (6, include_str!("migrations/0006_secrets.sql")),
    (
        7,
        include_str!("migrations/0007_jobs_and_idempotent_items.sql"),
    ),
    (8, include_str!("migrations/0008_performance.sql")),
    (9, include_str!("migrations/0009_alerts.sql")),
    (10, include_str!("migrations/0010_span_indexes.sql")),
    (11, include_str!("migrations/0011_scrubbing_settings.sql")),
    (12, include_str!("migrations/0012_outcomes.sql")),
    (13, include_str!("migrations/0013_inbound_filters.sql")),
    (14, include_str!("migrations/0014_quotas.sql")),
    (15, include_str!("migrations/0015_relay_pii_config.sql")),
    (16, include_str!("migrations/0016_triage.sql")),
    (
        17,
        include_str!("migrations/0017_attachments_and_user_reports.sql"),
    ),
    (18, include_str!("migrations/0018_csp_ignored_sources.sql")),
    (19, include_str!("migrations/0019_release_status.sql")),
    (20, include_str!("migrations/0020_artifacts.sql")),
];

/// Brings the schema up to the newest version this binary knows.
pub(crate) fn migrate(conn: &mut Connection) -> StoreResult<()> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
             version    INTEGER PRIMARY KEY,
             applied_at REAL    NOT NULL
         ) STRICT",
    )
    .db("creating schema_migrations")?;

    let newest_known = MIGRATIONS.last().map_or(0, |(version, _)| *version);
    for (version, sql) in MIGRATIONS {
        // IMMEDIATE: two processes starting together must not both apply a migration.
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .db("starting a migration")?;
        let applied: Option<i64> = tx
            .query_row(
                "SELECT version FROM schema_migrations WHERE version = ?1",
                [version],
                |row| row.get(0),
            )
            .optional()
            .db("reading schema_migrations")?;
        if applied.is_none() {
            tx.execute_batch(sql)
                .db(&format!("applying migration {version}"))?;
            tx.execute(
                "INSERT INTO schema_migrations (version, applied_at) VALUES (?1, ?2)",
                params![version, now()],
            )
            .db("recording a migration")?;
            tracing::info!(version, "applied schema migration");
        }
        tx.commit().db("committing a migration")?;
    }

    // A database written by a newer Vigil may have columns this one does not fill in.
    let newest_applied: i64 = conn
        .query_row(
            "SELECT coalesce(max(version), 0) FROM schema_migrations",
            [],
            |row| row.get(0),
        )
        .db("reading schema_migrations")?;
    if newest_applied > newest_known {
        return Err(StoreError::Database(format!(
            "the database has schema version {newest_applied}, newer than this binary's \
             {newest_known}: upgrade Vigil"
        )));
    }
    Ok(())
}
