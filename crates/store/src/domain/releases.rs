//! Releases and their deploys.

use async_trait::async_trait;

use crate::{Deploy, NewDeploy, Release, ReleaseFields, ReleaseQuery, StoreResult};

/// Releases and their deploys.
#[async_trait]
pub trait Releases: Send + Sync {
    /// Creates the release or updates the fields given, adding it to `project_ids`; `true`
    /// when it was created. Events create releases too (on `save_events`).
    async fn upsert_release(
        &self,
        organization_id: i64,
        version: &str,
        project_ids: &[i64],
        fields: &ReleaseFields,
    ) -> StoreResult<(Release, bool)>;
    async fn release_by_version(
        &self,
        organization_id: i64,
        version: &str,
    ) -> StoreResult<Option<Release>>;
    /// Releases of an organization (or of one project), newest first; `query` filters by a
    /// substring of the version.
    async fn list_releases(&self, query: &ReleaseQuery) -> StoreResult<Vec<Release>>;
    /// `true` when there was such a release.
    async fn delete_release(&self, organization_id: i64, version: &str) -> StoreResult<bool>;
    async fn create_deploy(&self, release_id: i64, deploy: &NewDeploy) -> StoreResult<Deploy>;
    /// Deploys of a release, newest first.
    async fn list_deploys(&self, release_id: i64) -> StoreResult<Vec<Deploy>>;
}
