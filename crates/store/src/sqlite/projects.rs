//! Projects, their DSN keys, their data-scrubbing settings and their inbound filters.

use async_trait::async_trait;
use rusqlite::{params, Connection, TransactionBehavior};

use super::error::DbContext;
use super::statements::{record, record_opt, records};
use super::SqliteStore;
use super::{alerts, now, organizations};
use crate::query::inbound_filters;
use crate::query::scrubbing_settings::{check, field_list_json, select_sql, upsert_sql};
use crate::query::Dialect;
use crate::rows::{KEY_COLUMNS, PROJECT_COLUMNS};
use crate::shared::check_slug;
use crate::Projects;
use crate::{
    InboundFilters, KeyRateLimit, Project, ProjectKey, ProjectRename, ScrubbingSettings,
    StoreError, StoreResult,
};

/// Label of the key every project starts with, as in Sentry.
const DEFAULT_KEY_LABEL: &str = "Default";

/// 32 random lowercase hex chars (128 bits from the OS-seeded CSPRNG), Sentry's key format.
pub(crate) fn random_key() -> String {
    hex::encode(rand::random::<[u8; 16]>())
}

/// Also read by `keys::create`, on its connection.
pub(crate) fn by_id(conn: &Connection, id: i64) -> StoreResult<Option<Project>> {
    let sql = format!("SELECT {PROJECT_COLUMNS} FROM projects WHERE id = ?1");
    record_opt(conn, &sql, [id], "reading a project")
}

/// Also read by `keys::create`, on its connection.
pub(crate) fn key_by_public_key(
    conn: &Connection,
    public_key: &str,
) -> StoreResult<Option<ProjectKey>> {
    let sql = format!("SELECT {KEY_COLUMNS} FROM project_keys WHERE public_key = ?1");
    record_opt(conn, &sql, [public_key], "reading a project key")
}

/// Runs `sql`, an update of key `key_id`; `NotFound` when there is no such key.
fn update_key(
    conn: &Connection,
    key_id: i64,
    sql: &str,
    params: impl rusqlite::Params,
) -> StoreResult<()> {
    let changed = conn
        .prepare_cached(sql)
        .and_then(|mut stmt| stmt.execute(params))
        .db("updating a project key")?;
    if changed == 0 {
        return Err(StoreError::NotFound(format!("project key {key_id}")));
    }
    Ok(())
}

#[async_trait]
impl Projects for SqliteStore {
    /// A project named after its slug, with one active key and Sentry's default alert rule, in
    /// one transaction.
    async fn create_project(
        &self,
        organization_id: i64,
        slug: &str,
        platform: Option<&str>,
    ) -> StoreResult<(Project, ProjectKey)> {
        check_slug("project", slug)?;
        let slug = slug.to_owned();
        let platform = platform.map(str::to_owned);
        self.write(move |conn| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .db("creating a project")?;
            if organizations::by_id(&tx, organization_id)?.is_none() {
                return Err(StoreError::NotFound(format!(
                    "organization {organization_id}"
                )));
            }
            let created = now();
            let project: Project = record(
                &tx,
                &format!(
                    "INSERT INTO projects (organization_id, slug, name, platform, date_created)
                     VALUES (?1, ?2, ?2, ?3, ?4) RETURNING {PROJECT_COLUMNS}"
                ),
                params![organization_id, slug, platform, created],
                &format!("project `{slug}`"),
            )?;
            let key = record(
                &tx,
                &format!(
                    "INSERT INTO project_keys
                         (project_id, public_key, secret_key, label, is_active, date_created)
                     VALUES (?1, ?2, ?3, ?4, 1, ?5) RETURNING {KEY_COLUMNS}"
                ),
                params![
                    project.id,
                    random_key(),
                    random_key(),
                    DEFAULT_KEY_LABEL,
                    created
                ],
                "a project key",
            )?;
            // Sentry's default rule, so that a new issue reaches someone from the first event on.
            alerts::insert_rule(&tx, &crate::default_rule(project.id))?;
            tx.commit().db("creating a project")?;
            Ok((project, key))
        })
        .await
    }

    async fn list_projects(&self, organization_id: Option<i64>) -> StoreResult<Vec<Project>> {
        let sql = format!(
            "SELECT {PROJECT_COLUMNS} FROM projects
             WHERE ?1 IS NULL OR organization_id = ?1 ORDER BY id"
        );
        self.read(move |conn| records(conn, &sql, [organization_id], "listing projects"))
            .await
    }

    async fn project_by_id(&self, id: i64) -> StoreResult<Option<Project>> {
        self.read(move |conn| by_id(conn, id)).await
    }

    async fn project_by_slug(
        &self,
        organization_id: i64,
        slug: &str,
    ) -> StoreResult<Option<Project>> {
        let sql = format!(
            "SELECT {PROJECT_COLUMNS} FROM projects WHERE organization_id = ?1 AND slug = ?2"
        );
        let slug = slug.to_owned();
        self.read(move |conn| {
            record_opt(
                conn,
                &sql,
                params![organization_id, slug],
                "reading a project",
            )
        })
        .await
    }

    async fn key_by_public_key(&self, public_key: &str) -> StoreResult<Option<ProjectKey>> {
        let public_key = public_key.to_owned();
        self.read(move |conn| key_by_public_key(conn, &public_key))
            .await
    }

    /// Keys of a project, oldest first.
    async fn list_keys(&self, project_id: i64) -> StoreResult<Vec<ProjectKey>> {
        let sql =
            format!("SELECT {KEY_COLUMNS} FROM project_keys WHERE project_id = ?1 ORDER BY id");
        self.read(move |conn| records(conn, &sql, [project_id], "listing project keys"))
            .await
    }

    async fn set_key_active(&self, key_id: i64, active: bool) -> StoreResult<()> {
        let sql = "UPDATE project_keys SET is_active = ?2 WHERE id = ?1";
        self.write(move |conn| update_key(conn, key_id, sql, params![key_id, active]))
            .await
    }

    async fn rename_project(
        &self,
        project_id: i64,
        rename: &ProjectRename,
    ) -> StoreResult<Option<Project>> {
        if let Some(slug) = &rename.slug {
            check_slug("project", slug)?;
        }
        let rename = rename.clone();
        self.write(move |conn| {
            record_opt(
                conn,
                &format!(
                    "UPDATE projects SET name = coalesce(?2, name), slug = coalesce(?3, slug),
                         platform = coalesce(?4, platform)
                     WHERE id = ?1 RETURNING {PROJECT_COLUMNS}"
                ),
                params![project_id, rename.name, rename.slug, rename.platform],
                &format!("project `{}`", rename.slug.as_deref().unwrap_or_default()),
            )
        })
        .await
    }

    async fn set_key_label(&self, key_id: i64, label: &str) -> StoreResult<()> {
        let sql = "UPDATE project_keys SET label = ?2 WHERE id = ?1";
        let label = label.to_owned();
        self.write(move |conn| update_key(conn, key_id, sql, params![key_id, label]))
            .await
    }

    async fn set_key_rate_limit(
        &self,
        key_id: i64,
        limit: Option<KeyRateLimit>,
    ) -> StoreResult<()> {
        let (count, window) = limit.map_or((None, None), |l| (Some(l.count), Some(l.window_secs)));
        let sql =
            "UPDATE project_keys SET rate_limit_count = ?2, rate_limit_window = ?3 WHERE id = ?1";
        self.write(move |conn| update_key(conn, key_id, sql, params![key_id, count, window]))
            .await
    }

    async fn create_key(&self, project_id: i64, label: &str) -> StoreResult<ProjectKey> {
        let label = label.to_owned();
        self.write(move |conn| super::keys::create(conn, project_id, &label))
            .await
    }

    async fn delete_key(&self, key_id: i64) -> StoreResult<bool> {
        self.write(move |conn| super::keys::delete(conn, key_id))
            .await
    }

    async fn scrubbing_settings(&self, project_id: i64) -> StoreResult<ScrubbingSettings> {
        let settings: Option<ScrubbingSettings> = self
            .read(move |conn| {
                record_opt(
                    conn,
                    &select_sql(Dialect::Sqlite),
                    [project_id],
                    "reading data-scrubbing settings",
                )
            })
            .await?;
        Ok(settings.unwrap_or_default())
    }

    async fn set_scrubbing_settings(
        &self,
        project_id: i64,
        settings: &ScrubbingSettings,
    ) -> StoreResult<()> {
        check(settings)?;
        let flags = (
            settings.data_scrubber,
            settings.data_scrubber_defaults,
            settings.scrub_ip_addresses,
        );
        let sensitive = field_list_json(&settings.sensitive_fields);
        let safe = field_list_json(&settings.safe_fields);
        let pii_config = settings.relay_pii_config.clone();
        self.write(move |conn| {
            conn.prepare_cached(&upsert_sql(Dialect::Sqlite))
                .and_then(|mut stmt| {
                    stmt.execute(params![
                        project_id, flags.0, flags.1, flags.2, sensitive, safe, pii_config
                    ])
                })
                .db("saving data-scrubbing settings")?;
            Ok(())
        })
        .await
    }

    async fn inbound_filters(&self, project_id: i64) -> StoreResult<InboundFilters> {
        let filters: Option<InboundFilters> = self
            .read(move |conn| {
                record_opt(
                    conn,
                    &inbound_filters::select_sql(Dialect::Sqlite),
                    [project_id],
                    "reading inbound filters",
                )
            })
            .await?;
        Ok(filters.unwrap_or_default())
    }

    async fn set_inbound_filters(
        &self,
        project_id: i64,
        filters: &InboundFilters,
    ) -> StoreResult<()> {
        inbound_filters::check(filters)?;
        let flags = (
            filters.browser_extensions,
            filters.localhost,
            filters.web_crawlers,
            filters.filtered_transaction,
            filters.react_hydration_errors,
            filters.chunk_load_error,
            filters.csp_ignored_sources_defaults,
        );
        let [legacy, messages, releases, ips, csp_sources] = inbound_filters::json_columns(filters);
        self.write(move |conn| {
            conn.prepare_cached(&inbound_filters::upsert_sql(Dialect::Sqlite))
                .and_then(|mut stmt| {
                    stmt.execute(params![
                        project_id,
                        flags.0,
                        flags.1,
                        flags.2,
                        flags.3,
                        legacy,
                        flags.4,
                        flags.5,
                        messages,
                        releases,
                        ips,
                        flags.6,
                        csp_sources
                    ])
                })
                .db("saving inbound filters")?;
            Ok(())
        })
        .await
    }
}
