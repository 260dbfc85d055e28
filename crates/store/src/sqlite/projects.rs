//! Projects and their DSN keys.

use async_trait::async_trait;
use rusqlite::{params, Connection, OptionalExtension, Row, TransactionBehavior};

use super::error::DbContext;
use super::SqliteStore;
use super::{alerts, now, organizations};
use crate::Projects;
use crate::{KeyRateLimit, Project, ProjectKey, StoreError, StoreResult};

const PROJECT_COLUMNS: &str = "id, organization_id, slug, name, platform, date_created";
const KEY_COLUMNS: &str =
    "id, project_id, public_key, secret_key, label, is_active, date_created, \
     rate_limit_count, rate_limit_window";

/// Label of the key every project starts with, as in Sentry.
const DEFAULT_KEY_LABEL: &str = "Default";

fn project_from_row(row: &Row<'_>) -> rusqlite::Result<Project> {
    Ok(Project {
        id: row.get(0)?,
        organization_id: row.get(1)?,
        slug: row.get(2)?,
        name: row.get(3)?,
        platform: row.get(4)?,
        date_created: row.get(5)?,
    })
}

fn key_from_row(row: &Row<'_>) -> rusqlite::Result<ProjectKey> {
    Ok(ProjectKey {
        id: row.get(0)?,
        project_id: row.get(1)?,
        public_key: row.get(2)?,
        secret_key: row.get(3)?,
        label: row.get(4)?,
        is_active: row.get(5)?,
        date_created: row.get(6)?,
        rate_limit: match (row.get::<_, Option<i64>>(7)?, row.get::<_, Option<i64>>(8)?) {
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
pub(crate) fn create(
    conn: &mut Connection,
    organization_id: i64,
    slug: &str,
    platform: Option<&str>,
) -> StoreResult<(Project, ProjectKey)> {
    if slug.is_empty() {
        return Err(StoreError::Invalid("project slug is empty".into()));
    }
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .db("creating a project")?;
    if organizations::by_id(&tx, organization_id)?.is_none() {
        return Err(StoreError::NotFound(format!(
            "organization {organization_id}"
        )));
    }
    let created = now();
    let project = tx
        .prepare_cached(&format!(
            "INSERT INTO projects (organization_id, slug, name, platform, date_created)
             VALUES (?1, ?2, ?2, ?3, ?4) RETURNING {PROJECT_COLUMNS}"
        ))
        .and_then(|mut stmt| {
            stmt.query_row(
                params![organization_id, slug, platform, created],
                project_from_row,
            )
        })
        .db(&format!("project `{slug}`"))?;
    let key = tx
        .prepare_cached(&format!(
            "INSERT INTO project_keys
                 (project_id, public_key, secret_key, label, is_active, date_created)
             VALUES (?1, ?2, ?3, ?4, 1, ?5) RETURNING {KEY_COLUMNS}"
        ))
        .and_then(|mut stmt| {
            stmt.query_row(
                params![
                    project.id,
                    random_key(),
                    random_key(),
                    DEFAULT_KEY_LABEL,
                    created
                ],
                key_from_row,
            )
        })
        .db("a project key")?;
    // Sentry's default rule, so that a new issue reaches someone from the first event on.
    alerts::insert_rule(&tx, &crate::default_rule(project.id))?;
    tx.commit().db("creating a project")?;
    Ok((project, key))
}

/// Projects of one organization, or of all; ordered by id.
pub(crate) fn list(conn: &Connection, organization_id: Option<i64>) -> StoreResult<Vec<Project>> {
    conn.prepare_cached(&format!(
        "SELECT {PROJECT_COLUMNS} FROM projects
         WHERE ?1 IS NULL OR organization_id = ?1 ORDER BY id"
    ))
    .and_then(|mut stmt| {
        stmt.query_map([organization_id], project_from_row)?
            .collect()
    })
    .db("listing projects")
}

pub(crate) fn by_id(conn: &Connection, id: i64) -> StoreResult<Option<Project>> {
    conn.prepare_cached(&format!(
        "SELECT {PROJECT_COLUMNS} FROM projects WHERE id = ?1"
    ))
    .and_then(|mut stmt| stmt.query_row([id], project_from_row).optional())
    .db("reading a project")
}

pub(crate) fn by_slug(
    conn: &Connection,
    organization_id: i64,
    slug: &str,
) -> StoreResult<Option<Project>> {
    conn.prepare_cached(&format!(
        "SELECT {PROJECT_COLUMNS} FROM projects WHERE organization_id = ?1 AND slug = ?2"
    ))
    .and_then(|mut stmt| {
        stmt.query_row(params![organization_id, slug], project_from_row)
            .optional()
    })
    .db("reading a project")
}

pub(crate) fn key_by_public_key(
    conn: &Connection,
    public_key: &str,
) -> StoreResult<Option<ProjectKey>> {
    conn.prepare_cached(&format!(
        "SELECT {KEY_COLUMNS} FROM project_keys WHERE public_key = ?1"
    ))
    .and_then(|mut stmt| stmt.query_row([public_key], key_from_row).optional())
    .db("reading a project key")
}

/// Keys of a project, oldest first.
pub(crate) fn list_keys(conn: &Connection, project_id: i64) -> StoreResult<Vec<ProjectKey>> {
    conn.prepare_cached(&format!(
        "SELECT {KEY_COLUMNS} FROM project_keys WHERE project_id = ?1 ORDER BY id"
    ))
    .and_then(|mut stmt| stmt.query_map([project_id], key_from_row)?.collect())
    .db("listing project keys")
}

/// `NotFound` when there is no such key.
pub(crate) fn set_key_active(conn: &Connection, key_id: i64, active: bool) -> StoreResult<()> {
    let changed = conn
        .prepare_cached("UPDATE project_keys SET is_active = ?2 WHERE id = ?1")
        .and_then(|mut stmt| stmt.execute(params![key_id, active]))
        .db("updating a project key")?;
    if changed == 0 {
        return Err(StoreError::NotFound(format!("project key {key_id}")));
    }
    Ok(())
}

/// Sets or clears a key's rate limit.
pub(crate) fn set_key_rate_limit(
    conn: &Connection,
    key_id: i64,
    limit: Option<KeyRateLimit>,
) -> StoreResult<()> {
    let (count, window) = limit.map_or((None, None), |l| (Some(l.count), Some(l.window_secs)));
    let changed = conn
        .prepare_cached(
            "UPDATE project_keys SET rate_limit_count = ?2, rate_limit_window = ?3 WHERE id = ?1",
        )
        .and_then(|mut stmt| stmt.execute(params![key_id, count, window]))
        .db("updating a project key")?;
    if changed == 0 {
        return Err(StoreError::NotFound(format!("project key {key_id}")));
    }
    Ok(())
}

#[async_trait]
impl Projects for SqliteStore {
    async fn create_project(
        &self,
        organization_id: i64,
        slug: &str,
        platform: Option<&str>,
    ) -> StoreResult<(Project, ProjectKey)> {
        let slug = slug.to_owned();
        let platform = platform.map(str::to_owned);
        self.write(move |conn| create(conn, organization_id, &slug, platform.as_deref()))
            .await
    }

    async fn list_projects(&self, organization_id: Option<i64>) -> StoreResult<Vec<Project>> {
        self.read(move |conn| list(conn, organization_id)).await
    }

    async fn project_by_id(&self, id: i64) -> StoreResult<Option<Project>> {
        self.read(move |conn| by_id(conn, id)).await
    }

    async fn project_by_slug(
        &self,
        organization_id: i64,
        slug: &str,
    ) -> StoreResult<Option<Project>> {
        let slug = slug.to_owned();
        self.read(move |conn| by_slug(conn, organization_id, &slug))
            .await
    }

    async fn key_by_public_key(&self, public_key: &str) -> StoreResult<Option<ProjectKey>> {
        let public_key = public_key.to_owned();
        self.read(move |conn| key_by_public_key(conn, &public_key))
            .await
    }

    async fn list_keys(&self, project_id: i64) -> StoreResult<Vec<ProjectKey>> {
        self.read(move |conn| list_keys(conn, project_id)).await
    }

    async fn set_key_active(&self, key_id: i64, active: bool) -> StoreResult<()> {
        self.write(move |conn| set_key_active(conn, key_id, active))
            .await
    }

    async fn set_key_rate_limit(
        &self,
        key_id: i64,
        limit: Option<KeyRateLimit>,
    ) -> StoreResult<()> {
        self.write(move |conn| set_key_rate_limit(conn, key_id, limit))
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
}
