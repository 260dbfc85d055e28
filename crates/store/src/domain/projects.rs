//! Projects, their DSN keys and their data-scrubbing settings.

use async_trait::async_trait;

use crate::{
    InboundFilters, KeyRateLimit, Project, ProjectKey, ProjectRename, ScrubbingSettings,
    StoreResult,
};

/// Projects, their DSN keys and their data-scrubbing settings.
#[async_trait]
pub trait Projects: Send + Sync {
    /// A new project with one active key. `Conflict` when the slug is taken in the organization.
    async fn create_project(
        &self,
        organization_id: i64,
        slug: &str,
        platform: Option<&str>,
    ) -> StoreResult<(Project, ProjectKey)>;
    /// Projects of one organization, or of all when `None`; ordered by id.
    async fn list_projects(&self, organization_id: Option<i64>) -> StoreResult<Vec<Project>>;
    /// Renames a project; `Conflict` when the organization has another with the new slug.
    async fn rename_project(
        &self,
        project_id: i64,
        rename: &ProjectRename,
    ) -> StoreResult<Option<Project>>;
    async fn project_by_id(&self, id: i64) -> StoreResult<Option<Project>>;
    async fn project_by_slug(
        &self,
        organization_id: i64,
        slug: &str,
    ) -> StoreResult<Option<Project>>;
    /// The key with this public part (any state: the caller checks `is_active`).
    async fn key_by_public_key(&self, public_key: &str) -> StoreResult<Option<ProjectKey>>;
    async fn list_keys(&self, project_id: i64) -> StoreResult<Vec<ProjectKey>>;
    async fn set_key_active(&self, key_id: i64, active: bool) -> StoreResult<()>;
    /// Renames a key (its `name` in Sentry's API).
    async fn set_key_label(&self, key_id: i64, label: &str) -> StoreResult<()>;
    /// Sets (`Some`) or clears a key's rate limit.
    async fn set_key_rate_limit(&self, key_id: i64, limit: Option<KeyRateLimit>)
        -> StoreResult<()>;
    /// A new active key of the project; `NotFound` when there is no such project.
    async fn create_key(&self, project_id: i64, label: &str) -> StoreResult<ProjectKey>;
    /// `true` when there was such a key; events it sent stay.
    async fn delete_key(&self, key_id: i64) -> StoreResult<bool>;
    /// The project's data-scrubbing settings; Sentry's defaults until changed.
    async fn scrubbing_settings(&self, project_id: i64) -> StoreResult<ScrubbingSettings>;
    /// Replaces the project's data-scrubbing settings. `Invalid` for a field list
    /// [`crate::check_field_list`] refuses.
    async fn set_scrubbing_settings(
        &self,
        project_id: i64,
        settings: &ScrubbingSettings,
    ) -> StoreResult<()>;
    /// The project's inbound filters; a new Sentry project's defaults until changed.
    async fn inbound_filters(&self, project_id: i64) -> StoreResult<InboundFilters>;
    /// Replaces the project's inbound filters. `Invalid` for an IP entry that is neither an
    /// address nor a CIDR range.
    async fn set_inbound_filters(
        &self,
        project_id: i64,
        filters: &InboundFilters,
    ) -> StoreResult<()>;
}
