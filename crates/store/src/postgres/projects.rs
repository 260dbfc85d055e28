//! Projects and their DSN keys.

use async_trait::async_trait;
use deadpool_postgres::{Client, GenericClient};
use tokio_postgres::Row;

use super::error::DbContext;
use super::sql::{self, get};
use super::PgStore;
use super::{alerts, now, organizations};
use crate::Projects;
use crate::{KeyRateLimit, Project, ProjectKey, StoreError, StoreResult};

const PROJECT_COLUMNS: &str = "id, organization_id, slug, name, platform, date_created";
const KEY_COLUMNS: &str =
    "id, project_id, public_key, secret_key, label, is_active, date_created, \
     rate_limit_count, rate_limit_window";

/// Label of the key every project starts with, as in Sentry.
const DEFAULT_KEY_LABEL: &str = "Default";

fn project_from_row(row: &Row) -> StoreResult<Project> {
    Ok(Project {
        id: get(row, 0)?,
        organization_id: get(row, 1)?,
        slug: get(row, 2)?,
        name: get(row, 3)?,
        platform: get(row, 4)?,
        date_created: get(row, 5)?,
    })
}

fn key_from_row(row: &Row) -> StoreResult<ProjectKey> {
    Ok(ProjectKey {
        id: get(row, 0)?,
        project_id: get(row, 1)?,
        public_key: get(row, 2)?,
        secret_key: get(row, 3)?,
        label: get(row, 4)?,
        is_active: get(row, 5)?,
        date_created: get(row, 6)?,
        rate_limit: match (get::<Option<i64>>(row, 7)?, get::<Option<i64>>(row, 8)?) {
            (Some(count), Some(window)) => Some(KeyRateLimit {
                count,
                window_secs: window,
            }),
            _ => None,
        },
    })
}

/// 32 random lowercase hex chars (128 bits from the OS-seeded CSPRNG), Sentry's key format.
fn random_key() -> String {
    hex::encode(rand::random::<[u8; 16]>())
}

/// A project named after its slug, with one active key and Sentry's default alert rule, in one
/// transaction.
pub(crate) async fn create(
    client: &mut Client,
    organization_id: i64,
    slug: &str,
    platform: Option<&str>,
) -> StoreResult<(Project, ProjectKey)> {
    if slug.is_empty() {
        return Err(StoreError::Invalid("project slug is empty".into()));
    }
    let tx = client.transaction().await.db("creating a project")?;
    if organizations::by_id(&tx, organization_id).await?.is_none() {
        return Err(StoreError::NotFound(format!(
            "organization {organization_id}"
        )));
    }
    let created = now();
    let row = sql::query_one(
        &tx,
        &format!(
            "INSERT INTO projects (organization_id, slug, name, platform, date_created)
             VALUES ($1, $2, $2, $3, $4) RETURNING {PROJECT_COLUMNS}"
        ),
        &[&organization_id, &slug, &platform, &created],
        &format!("project `{slug}`"),
    )
    .await?;
    let project = project_from_row(&row)?;
    let row = sql::query_one(
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
    let key = key_from_row(&row)?;
    // Sentry's default rule, so that a new issue reaches someone from the first event on.
    alerts::insert_rule(&tx, &crate::default_rule(project.id)).await?;
    tx.commit().await.db("creating a project")?;
    Ok((project, key))
}

/// Projects of one organization, or of all; ordered by id.
pub(crate) async fn list<C: GenericClient>(
    client: &C,
    organization_id: Option<i64>,
) -> StoreResult<Vec<Project>> {
    sql::query(
        client,
        &format!(
            "SELECT {PROJECT_COLUMNS} FROM projects
             WHERE $1::BIGINT IS NULL OR organization_id = $1 ORDER BY id"
        ),
        &[&organization_id],
        "listing projects",
    )
    .await?
    .iter()
    .map(project_from_row)
    .collect()
}

pub(crate) async fn by_id<C: GenericClient>(client: &C, id: i64) -> StoreResult<Option<Project>> {
    sql::query_opt(
        client,
        &format!("SELECT {PROJECT_COLUMNS} FROM projects WHERE id = $1"),
        &[&id],
        "reading a project",
    )
    .await?
    .as_ref()
    .map(project_from_row)
    .transpose()
}

pub(crate) async fn by_slug<C: GenericClient>(
    client: &C,
    organization_id: i64,
    slug: &str,
) -> StoreResult<Option<Project>> {
    sql::query_opt(
        client,
        &format!("SELECT {PROJECT_COLUMNS} FROM projects WHERE organization_id = $1 AND slug = $2"),
        &[&organization_id, &slug],
        "reading a project",
    )
    .await?
    .as_ref()
    .map(project_from_row)
    .transpose()
}

pub(crate) async fn key_by_public_key<C: GenericClient>(
    client: &C,
    public_key: &str,
) -> StoreResult<Option<ProjectKey>> {
    sql::query_opt(
        client,
        &format!("SELECT {KEY_COLUMNS} FROM project_keys WHERE public_key = $1"),
        &[&public_key],
        "reading a project key",
    )
    .await?
    .as_ref()
    .map(key_from_row)
    .transpose()
}

/// Keys of a project, oldest first.
pub(crate) async fn list_keys<C: GenericClient>(
    client: &C,
    project_id: i64,
) -> StoreResult<Vec<ProjectKey>> {
    sql::query(
        client,
        &format!("SELECT {KEY_COLUMNS} FROM project_keys WHERE project_id = $1 ORDER BY id"),
        &[&project_id],
        "listing project keys",
    )
    .await?
    .iter()
    .map(key_from_row)
    .collect()
}

/// `NotFound` when there is no such key.
pub(crate) async fn set_key_active<C: GenericClient>(
    client: &C,
    key_id: i64,
    active: bool,
) -> StoreResult<()> {
    let changed = sql::execute(
        client,
        "UPDATE project_keys SET is_active = $2 WHERE id = $1",
        &[&key_id, &active],
        "updating a project key",
    )
    .await?;
    if changed == 0 {
        return Err(StoreError::NotFound(format!("project key {key_id}")));
    }
    Ok(())
}

/// Sets or clears a key's rate limit; `NotFound` when there is no such key.
pub(crate) async fn set_key_rate_limit<C: GenericClient>(
    client: &C,
    key_id: i64,
    limit: Option<KeyRateLimit>,
) -> StoreResult<()> {
    let (count, window) = limit.map_or((None, None), |l| (Some(l.count), Some(l.window_secs)));
    let changed = sql::execute(
        client,
        "UPDATE project_keys SET rate_limit_count = $2, rate_limit_window = $3 WHERE id = $1",
        &[&key_id, &count, &window],
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
    async fn create_project(
        &self,
        organization_id: i64,
        slug: &str,
        platform: Option<&str>,
    ) -> StoreResult<(Project, ProjectKey)> {
        create(&mut self.client().await?, organization_id, slug, platform).await
    }

    async fn list_projects(&self, organization_id: Option<i64>) -> StoreResult<Vec<Project>> {
        list(&self.client().await?, organization_id).await
    }

    async fn project_by_id(&self, id: i64) -> StoreResult<Option<Project>> {
        by_id(&self.client().await?, id).await
    }

    async fn project_by_slug(
        &self,
        organization_id: i64,
        slug: &str,
    ) -> StoreResult<Option<Project>> {
        by_slug(&self.client().await?, organization_id, slug).await
    }

    async fn key_by_public_key(&self, public_key: &str) -> StoreResult<Option<ProjectKey>> {
        key_by_public_key(&self.client().await?, public_key).await
    }

    async fn list_keys(&self, project_id: i64) -> StoreResult<Vec<ProjectKey>> {
        list_keys(&self.client().await?, project_id).await
    }

    async fn set_key_active(&self, key_id: i64, active: bool) -> StoreResult<()> {
        set_key_active(&self.client().await?, key_id, active).await
    }

    async fn set_key_rate_limit(
        &self,
        key_id: i64,
        limit: Option<KeyRateLimit>,
    ) -> StoreResult<()> {
        set_key_rate_limit(&self.client().await?, key_id, limit).await
    }

    async fn create_key(&self, project_id: i64, label: &str) -> StoreResult<ProjectKey> {
        super::keys::create(&self.client().await?, project_id, label).await
    }

    async fn delete_key(&self, key_id: i64) -> StoreResult<bool> {
        super::keys::delete(&self.client().await?, key_id).await
    }
}
