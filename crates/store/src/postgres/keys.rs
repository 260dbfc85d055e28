//! Adding and removing DSN keys of a project after its first (which `create_project` makes).

use deadpool_postgres::GenericClient;

use super::now;
use super::{projects, sql};
use crate::{ProjectKey, StoreError, StoreResult};

/// A new active key; `NotFound` when there is no such project.
pub(crate) async fn create<C: GenericClient>(
    client: &C,
    project_id: i64,
    label: &str,
) -> StoreResult<ProjectKey> {
    if projects::by_id(client, project_id).await?.is_none() {
        return Err(StoreError::NotFound(format!("project {project_id}")));
    }
    let (public_key, secret_key) = (projects::random_key(), projects::random_key());
    sql::execute(
        client,
        "INSERT INTO project_keys
             (project_id, public_key, secret_key, label, is_active, date_created)
         VALUES ($1, $2, $3, $4, TRUE, $5)",
        &[&project_id, &public_key, &secret_key, &label, &now()],
        "a project key",
    )
    .await?;
    projects::key_by_public_key(client, &public_key)
        .await?
        .ok_or_else(|| StoreError::Database("the key just written is not there".into()))
}

/// `true` when there was such a key.
pub(crate) async fn delete<C: GenericClient>(client: &C, key_id: i64) -> StoreResult<bool> {
    sql::execute(
        client,
        "DELETE FROM project_keys WHERE id = $1",
        &[&key_id],
        "deleting a project key",
    )
    .await
    .map(|rows| rows > 0)
}
