//! Projects, their DSN keys, their data-scrubbing settings and their inbound filters.

use async_trait::async_trait;
use deadpool_postgres::GenericClient;

use super::error::DbContext;
use super::sql::{self, record, record_opt, records, Params};
use super::PgStore;
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
pub(crate) async fn by_id<C: GenericClient>(client: &C, id: i64) -> StoreResult<Option<Project>> {
    let sql = format!("SELECT {PROJECT_COLUMNS} FROM projects WHERE id = $1");
    record_opt(client, &sql, &[&id], "reading a project").await
}

/// Also read by `keys::create`, on its connection.
pub(crate) async fn key_by_public_key<C: GenericClient>(
    client: &C,
    public_key: &str,
) -> StoreResult<Option<ProjectKey>> {
    let sql = format!("SELECT {KEY_COLUMNS} FROM project_keys WHERE public_key = $1");
    record_opt(client, &sql, &[&public_key], "reading a project key").await
}

/// Runs `sql`, an update of key `key_id`; `NotFound` when there is no such key.
async fn update_key(
    store: &PgStore,
    key_id: i64,
    sql: &str,
    params: &Params<'_>,
) -> StoreResult<()> {
    let changed = sql::execute(
        &store.client().await?,
        sql,
        params,
        "updating a project key",
    )
    .await?;
    if changed == 0 {
        return Err(StoreError::NotFound(format!("project key {key_id}")));
    }
    Ok(())
}

#[async_trait]
impl Projects for PgStore {
    /// A project named after its slug, with one active key and Sentry's default alert rule, in
    /// one transaction.
    async fn create_project(
        &self,
        organization_id: i64,
        slug: &str,
        platform: Option<&str>,
    ) -> StoreResult<(Project, ProjectKey)> {
        check_slug("project", slug)?;
        let mut client = self.client().await?;
        let tx = client.transaction().await.db("creating a project")?;
        if organizations::by_id(&tx, organization_id).await?.is_none() {
            return Err(StoreError::NotFound(format!(
                "organization {organization_id}"
            )));
        }
        let created = now();
        let project: Project = record(
            &tx,
            &format!(
                "INSERT INTO projects (organization_id, slug, name, platform, date_created)
                 VALUES ($1, $2, $2, $3, $4) RETURNING {PROJECT_COLUMNS}"
            ),
            &[&organization_id, &slug, &platform, &created],
            &format!("project `{slug}`"),
        )
        .await?;
        let key = record(
            &tx,
            &format!(
                "INSERT INTO project_keys
                     (project_id, public_key, secret_key, label, is_active, date_created)
                 VALUES ($1, $2, $3, $4, TRUE, $5) RETURNING {KEY_COLUMNS}"
            ),
            &[
                &project.id,
                &random_key(),
                &random_key(),
                &DEFAULT_KEY_LABEL,
                &created,
            ],
            "a project key",
        )
        .await?;
        // Sentry's default rule, so that a new issue reaches someone from the first event on.
        alerts::insert_rule(&tx, &crate::default_rule(project.id)).await?;
        tx.commit().await.db("creating a project")?;
        Ok((project, key))
    }

    async fn list_projects(&self, organization_id: Option<i64>) -> StoreResult<Vec<Project>> {
        let sql = format!(
            "SELECT {PROJECT_COLUMNS} FROM projects
             WHERE $1::BIGINT IS NULL OR organization_id = $1 ORDER BY id"
        );
        let client = self.client().await?;
        records(&client, &sql, &[&organization_id], "listing projects").await
    }

    async fn project_by_id(&self, id: i64) -> StoreResult<Option<Project>> {
        by_id(&self.client().await?, id).await
    }

    async fn project_by_slug(
        &self,
        organization_id: i64,
        slug: &str,
    ) -> StoreResult<Option<Project>> {
        let sql = format!(
            "SELECT {PROJECT_COLUMNS} FROM projects WHERE organization_id = $1 AND slug = $2"
        );
        let client = self.client().await?;
        record_opt(
            &client,
            &sql,
            &[&organization_id, &slug],
            "reading a project",
        )
        .await
    }

    async fn key_by_public_key(&self, public_key: &str) -> StoreResult<Option<ProjectKey>> {
        key_by_public_key(&self.client().await?, public_key).await
    }

    /// Keys of a project, oldest first.
    async fn list_keys(&self, project_id: i64) -> StoreResult<Vec<ProjectKey>> {
        let sql =
            format!("SELECT {KEY_COLUMNS} FROM project_keys WHERE project_id = $1 ORDER BY id");
        let client = self.client().await?;
        records(&client, &sql, &[&project_id], "listing project keys").await
    }

    async fn set_key_active(&self, key_id: i64, active: bool) -> StoreResult<()> {
        let sql = "UPDATE project_keys SET is_active = $2 WHERE id = $1";
        update_key(self, key_id, sql, &[&key_id, &active]).await
    }

    async fn rename_project(
        &self,
        project_id: i64,
        rename: &ProjectRename,
    ) -> StoreResult<Option<Project>> {
        if let Some(slug) = &rename.slug {
            check_slug("project", slug)?;
        }
        record_opt(
            &self.client().await?,
            &format!(
                "UPDATE projects SET name = coalesce($2, name), slug = coalesce($3, slug),
                     platform = coalesce($4, platform)
                 WHERE id = $1 RETURNING {PROJECT_COLUMNS}"
            ),
            &[&project_id, &rename.name, &rename.slug, &rename.platform],
            &format!("project `{}`", rename.slug.as_deref().unwrap_or_default()),
        )
        .await
    }

    async fn set_key_label(&self, key_id: i64, label: &str) -> StoreResult<()> {
        let sql = "UPDATE project_keys SET label = $2 WHERE id = $1";
        update_key(self, key_id, sql, &[&key_id, &label]).await
    }

    async fn set_key_rate_limit(
        &self,
        key_id: i64,
        limit: Option<KeyRateLimit>,
    ) -> StoreResult<()> {
        let (count, window) = limit.map_or((None, None), |l| (Some(l.count), Some(l.window_secs)));
        let sql =
            "UPDATE project_keys SET rate_limit_count = $2, rate_limit_window = $3 WHERE id = $1";
        update_key(self, key_id, sql, &[&key_id, &count, &window]).await
    }

    async fn create_key(&self, project_id: i64, label: &str) -> StoreResult<ProjectKey> {
        super::keys::create(&self.client().await?, project_id, label).await
    }

    async fn delete_key(&self, key_id: i64) -> StoreResult<bool> {
        super::keys::delete(&self.client().await?, key_id).await
    }

    async fn scrubbing_settings(&self, project_id: i64) -> StoreResult<ScrubbingSettings> {
        let settings: Option<ScrubbingSettings> = record_opt(
            &self.client().await?,
            &select_sql(Dialect::Postgres),
            &[&project_id],
            "reading data-scrubbing settings",
        )
        .await?;
        Ok(settings.unwrap_or_default())
    }

    async fn set_scrubbing_settings(
        &self,
        project_id: i64,
        settings: &ScrubbingSettings,
    ) -> StoreResult<()> {
        check(settings)?;
        sql::execute(
            &self.client().await?,
            &upsert_sql(Dialect::Postgres),
            &[
                &project_id,
                &settings.data_scrubber,
                &settings.data_scrubber_defaults,
                &settings.scrub_ip_addresses,
                &field_list_json(&settings.sensitive_fields),
                &field_list_json(&settings.safe_fields),
                &settings.relay_pii_config,
            ],
            "saving data-scrubbing settings",
        )
        .await?;
        Ok(())
    }

    async fn inbound_filters(&self, project_id: i64) -> StoreResult<InboundFilters> {
        let filters: Option<InboundFilters> = record_opt(
            &self.client().await?,
            &inbound_filters::select_sql(Dialect::Postgres),
            &[&project_id],
            "reading inbound filters",
        )
        .await?;
        Ok(filters.unwrap_or_default())
    }

    async fn set_inbound_filters(
        &self,
        project_id: i64,
        filters: &InboundFilters,
    ) -> StoreResult<()> {
        inbound_filters::check(filters)?;
        let [legacy, messages, releases, ips, csp_sources] = inbound_filters::json_columns(filters);
        sql::execute(
            &self.client().await?,
            &inbound_filters::upsert_sql(Dialect::Postgres),
            &[
                &project_id,
                &filters.browser_extensions,
                &filters.localhost,
                &filters.web_crawlers,
                &filters.filtered_transaction,
                &legacy,
                &filters.react_hydration_errors,
                &filters.chunk_load_error,
                &messages,
                &releases,
                &ips,
                &filters.csp_ignored_sources_defaults,
                &csp_sources,
            ],
            "saving inbound filters",
        )
        .await?;
        Ok(())
    }
}
