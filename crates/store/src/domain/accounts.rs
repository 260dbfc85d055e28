//! Organizations, users, membership, API tokens and the shared secrets.

use async_trait::async_trait;

use crate::{ApiToken, Organization, StoreResult, User};

/// Organizations, users, membership, API tokens and the shared secrets.
#[async_trait]
pub trait Accounts: Send + Sync {
    /// The organization with this slug, created (name = slug) when missing.
    async fn ensure_organization(&self, slug: &str) -> StoreResult<Organization>;
    async fn organization_by_slug(&self, slug: &str) -> StoreResult<Option<Organization>>;
    async fn organization_by_id(&self, id: i64) -> StoreResult<Option<Organization>>;
    async fn list_organizations(&self) -> StoreResult<Vec<Organization>>;
    /// `Conflict` when the e-mail is taken (compared case-insensitively).
    async fn create_user(
        &self,
        email: &str,
        password_hash: &str,
        is_admin: bool,
    ) -> StoreResult<User>;
    async fn user_by_email(&self, email: &str) -> StoreResult<Option<User>>;
    async fn user_by_id(&self, id: i64) -> StoreResult<Option<User>>;
    async fn count_users(&self) -> StoreResult<u64>;
    /// Makes the user a member of the organization (idempotent). `role`: `owner`, `member`.
    async fn add_member(&self, organization_id: i64, user_id: i64, role: &str) -> StoreResult<()>;
    /// Organizations the user may read: all for admins, else those they are a member of.
    async fn organizations_of_user(&self, user_id: i64) -> StoreResult<Vec<Organization>>;
    /// The members of an organization with their role, by user id.
    async fn organization_members(&self, organization_id: i64) -> StoreResult<Vec<(User, String)>>;
    /// The secret stored under `name`, storing `fresh` first when there is none: every node
    /// on the database gets the same bytes (the web UI signs its session cookies with one).
    async fn secret(&self, name: &str, fresh: &[u8]) -> StoreResult<Vec<u8>>;
    /// Stores a token by the SHA-256 hex of its secret; the secret itself is never stored.
    async fn create_token(
        &self,
        user_id: i64,
        token_hash: &str,
        scopes: &[String],
    ) -> StoreResult<ApiToken>;
    async fn token_by_hash(&self, token_hash: &str) -> StoreResult<Option<(ApiToken, User)>>;
}
