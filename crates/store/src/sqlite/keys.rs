//! Adding and removing DSN keys of a project after its first (which `create_project` makes).

use rusqlite::{params, Connection};

use super::error::DbContext;
use super::{now, projects};
use crate::{ProjectKey, StoreError, StoreResult};

/// A new active key; `NotFound` when there is no such project.
pub(crate) fn create(conn: &Connection, project_id: i64, label: &str) -> StoreResult<ProjectKey> {
    if projects::by_id(conn, project_id)?.is_none() {
        return Err(StoreError::NotFound(format!("project {project_id}")));
    }
    let (public_key, secret_key) = (projects::random_key(), projects::random_key());
    conn.prepare_cached(
        "INSERT INTO project_keys
             (project_id, public_key, secret_key, label, is_active, date_created)
         VALUES (?1, ?2, ?3, ?4, 1, ?5)",
    )
    .and_then(|mut stmt| stmt.execute(params![project_id, public_key, secret_key, label, now()]))
    .db("a project key")?;
    projects::key_by_public_key(conn, &public_key)?
        .ok_or_else(|| StoreError::Database("the key just written is not there".into()))
}

/// `true` when there was such a key.
pub(crate) fn delete(conn: &Connection, key_id: i64) -> StoreResult<bool> {
    conn.prepare_cached("DELETE FROM project_keys WHERE id = ?1")
        .and_then(|mut stmt| stmt.execute([key_id]))
        .db("deleting a project key")
        .map(|rows| rows > 0)
}
