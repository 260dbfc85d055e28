//! Organizations, users, membership, API tokens and the shared secrets.
//!
//! The [`Accounts`] trait on this backend.

use async_trait::async_trait;

use super::SqliteStore;
use crate::{Accounts, ApiToken, Organization, StoreResult, User};

#[async_trait]
impl Accounts for SqliteStore {
    async fn ensure_organization(&self, slug: &str) -> StoreResult<Organization> {
        let slug = slug.to_owned();
        self.write(move |conn| super::organizations::ensure(conn, &slug))
            .await
    }

    async fn organization_by_slug(&self, slug: &str) -> StoreResult<Option<Organization>> {
        let slug = slug.to_owned();
        self.read(move |conn| super::organizations::by_slug(conn, &slug))
            .await
    }

    async fn organization_by_id(&self, id: i64) -> StoreResult<Option<Organization>> {
        self.read(move |conn| super::organizations::by_id(conn, id))
            .await
    }

    async fn list_organizations(&self) -> StoreResult<Vec<Organization>> {
        self.read(super::organizations::list).await
    }

    async fn create_user(
        &self,
        email: &str,
        password_hash: &str,
        is_admin: bool,
    ) -> StoreResult<User> {
        let email = email.to_owned();
        let password_hash = password_hash.to_owned();
        self.write(move |conn| super::users::create(conn, &email, &password_hash, is_admin))
            .await
    }

    async fn user_by_email(&self, email: &str) -> StoreResult<Option<User>> {
        let email = email.to_owned();
        self.read(move |conn| super::users::by_email(conn, &email))
            .await
    }

    async fn user_by_id(&self, id: i64) -> StoreResult<Option<User>> {
        self.read(move |conn| super::users::by_id(conn, id)).await
    }

    async fn count_users(&self) -> StoreResult<u64> {
        self.read(super::users::count).await
    }

    async fn add_member(&self, organization_id: i64, user_id: i64, role: &str) -> StoreResult<()> {
        let role = role.to_owned();
        self.write(move |conn| super::users::add_member(conn, organization_id, user_id, &role))
            .await
    }

    async fn organizations_of_user(&self, user_id: i64) -> StoreResult<Vec<Organization>> {
        self.read(move |conn| super::users::organizations_of(conn, user_id))
            .await
    }

    async fn organization_members(&self, organization_id: i64) -> StoreResult<Vec<(User, String)>> {
        super::alerts::organization_members(self, organization_id).await
    }

    async fn secret(&self, name: &str, fresh: &[u8]) -> StoreResult<Vec<u8>> {
        let (name, fresh) = (name.to_owned(), fresh.to_vec());
        self.write(move |conn| super::secrets::get_or_create(conn, &name, &fresh))
            .await
    }

    async fn create_token(
        &self,
        user_id: i64,
        token_hash: &str,
        scopes: &[String],
    ) -> StoreResult<ApiToken> {
        let token_hash = token_hash.to_owned();
        let scopes = scopes.to_vec();
        self.write(move |conn| super::tokens::create(conn, user_id, &token_hash, &scopes))
            .await
    }

    async fn token_by_hash(&self, token_hash: &str) -> StoreResult<Option<(ApiToken, User)>> {
        let token_hash = token_hash.to_owned();
        self.read(move |conn| super::tokens::by_hash(conn, &token_hash))
            .await
    }
}
