//! Organizations, users, membership, API tokens and the shared secrets.
//!
//! The [`Accounts`] trait on this backend.

use async_trait::async_trait;

use super::PgStore;
use crate::{Accounts, ApiToken, Organization, StoreResult, User};

#[async_trait]
impl Accounts for PgStore {
    async fn ensure_organization(&self, slug: &str) -> StoreResult<Organization> {
        super::organizations::ensure(&self.client().await?, slug).await
    }

    async fn organization_by_slug(&self, slug: &str) -> StoreResult<Option<Organization>> {
        super::organizations::by_slug(&self.client().await?, slug).await
    }

    async fn organization_by_id(&self, id: i64) -> StoreResult<Option<Organization>> {
        super::organizations::by_id(&self.client().await?, id).await
    }

    async fn list_organizations(&self) -> StoreResult<Vec<Organization>> {
        super::organizations::list(&self.client().await?).await
    }

    async fn create_user(
        &self,
        email: &str,
        password_hash: &str,
        is_admin: bool,
    ) -> StoreResult<User> {
        super::users::create(&self.client().await?, email, password_hash, is_admin).await
    }

    async fn user_by_email(&self, email: &str) -> StoreResult<Option<User>> {
        super::users::by_email(&self.client().await?, email).await
    }

    async fn user_by_id(&self, id: i64) -> StoreResult<Option<User>> {
        super::users::by_id(&self.client().await?, id).await
    }

    async fn count_users(&self) -> StoreResult<u64> {
        super::users::count(&self.client().await?).await
    }

    async fn add_member(&self, organization_id: i64, user_id: i64, role: &str) -> StoreResult<()> {
        super::users::add_member(&self.client().await?, organization_id, user_id, role).await
    }

    async fn organizations_of_user(&self, user_id: i64) -> StoreResult<Vec<Organization>> {
        super::users::organizations_of(&self.client().await?, user_id).await
    }

    async fn organization_members(&self, organization_id: i64) -> StoreResult<Vec<(User, String)>> {
        super::alerts::organization_members(self, organization_id).await
    }

    async fn secret(&self, name: &str, fresh: &[u8]) -> StoreResult<Vec<u8>> {
        super::secrets::get_or_create(&self.client().await?, name, fresh).await
    }

    async fn create_token(
        &self,
        user_id: i64,
        token_hash: &str,
        scopes: &[String],
    ) -> StoreResult<ApiToken> {
        super::tokens::create(&self.client().await?, user_id, token_hash, scopes).await
    }

    async fn token_by_hash(&self, token_hash: &str) -> StoreResult<Option<(ApiToken, User)>> {
        super::tokens::by_hash(&self.client().await?, token_hash).await
    }
}
