//! Schema migrations, embedded in the binary and run when a store opens.
//!
//! Several nodes may start at the same moment against one database, so the migrations run in
//! one transaction that first takes a transaction-scoped advisory lock
//! (`pg_advisory_xact_lock`): the second node waits, then finds every migration recorded in
//! `schema_migrations` and applies none. The lock is released by the commit or the rollback, so
//! a node that dies halfway leaves neither a lock nor a half-applied migration behind (DDL is
//! transactional in PostgreSQL). Migrations are append-only: a released one is never edited, a
//! change is a new file.

use deadpool_postgres::Client;

use super::error::DbContext;
use crate::{StoreError, StoreResult};

/// `(version, SQL)` in order.
const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("migrations/0001_init.sql")),
    (2, include_str!("migrations/0002_event_references.sql")),
    (3, include_str!("migrations/0003_secrets.sql")),
    (
        4,
        include_str!("migrations/0004_retention_jobs_and_idempotent_items.sql"),
    ),
    (5, include_str!("migrations/0005_performance.sql")),
    (6, include_str!("migrations/0006_alerts.sql")),
    (7, include_str!("migrations/0007_span_indexes.sql")),
    (8, include_str!("migrations/0008_scrubbing_settings.sql")),
    (9, include_str!("migrations/0009_outcomes.sql")),
    (10, include_str!("migrations/0010_inbound_filters.sql")),
    (11, include_str!("migrations/0011_quotas.sql")),
    (12, include_str!("migrations/0012_relay_pii_config.sql")),
    (13, include_str!("migrations/0013_triage.sql")),
    (
        14,
        include_str!("migrations/0014_attachments_and_user_reports.sql"),
    ),
    (15, include_str!("migrations/0015_csp_ignored_sources.sql")),
    (16, include_str!("migrations/0016_release_status.sql")),
    (17, include_str!("migrations/0017_artifacts.sql")),
];

/// Key of the advisory lock that serializes migrations (ASCII "vigilmig"); advisory locks are
/// per database, so other databases on the server are not affected.
const MIGRATION_LOCK: i64 = 0x7669_6769_6c6d_6967;

/// Brings the schema up to the newest version this binary knows.
pub(crate) async fn migrate(client: &mut Client) -> StoreResult<()> {
    let tx = client.transaction().await.db("starting migrations")?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await
        .db("waiting for the migration lock")?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
             version    BIGINT           PRIMARY KEY,
             applied_at DOUBLE PRECISION NOT NULL
         )",
    )
    .await
    .db("creating schema_migrations")?;
    let applied: Vec<i64> = tx
        .query(
            "SELECT version FROM schema_migrations ORDER BY version",
            &[],
        )
        .await
        .db("reading schema_migrations")?
        .iter()
        .map(|row| row.try_get(0))
        .collect::<Result<_, _>>()
        .db("reading schema_migrations")?;

    for (version, sql) in MIGRATIONS {
        if applied.contains(version) {
            continue;
        }
        tx.batch_execute(sql)
            .await
            .db(&format!("applying migration {version}"))?;
        tx.execute(
            "INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)",
            &[version, &super::now()],
        )
        .await
        .db("recording a migration")?;
        tracing::info!(version, "applied PostgreSQL schema migration");
    }

    // A database written by a newer Vigil may have columns this one does not fill in.
    let newest_known = MIGRATIONS.last().map_or(0, |(version, _)| *version);
    let newest_applied = applied.iter().copied().max().unwrap_or(0);
    if newest_applied > newest_known {
        return Err(StoreError::Database(format!(
            "the database has schema version {newest_applied}, newer than this binary's \
             {newest_known}: upgrade Vigil"
        )));
    }
    tx.commit().await.db("committing migrations")
}
