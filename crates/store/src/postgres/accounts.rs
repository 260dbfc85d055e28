//! Organizations, users, membership, API tokens and the shared secrets.
//!
//! The [`Accounts`] trait on this backend: a method holds its SQL when nothing else runs it;
//! what other methods or domains read too is in `organizations.rs` and `users.rs`, and tokens
//! and secrets are in files of their own.

use async_trait::async_trait;

use super::sql::{self, get, record, record_opt, records};
use super::{now, organizations, users, PgStore};
use crate::rows::{Member, ORGANIZATION_COLUMNS, USER_COLUMNS};
use crate::shared::{check_role, check_slug, email_key, new_email_key};
use crate::{Accounts, ApiToken, Organization, StoreError, StoreResult, User};

#[async_trait]
impl Accounts for PgStore {
    async fn ensure_organization(&self, slug: &str) -> StoreResult<Organization> {
        check_slug("organization", slug)?;
        let client = self.client().await?;
        // DO NOTHING instead of a read-then-insert: another node may create it in between.
        sql::execute(
            &client,
            "INSERT INTO organizations (slug, name, date_created) VALUES ($1, $1, $2)
             ON CONFLICT (slug) DO NOTHING",
            &[&slug, &now()],
            "creating an organization",
        )
        .await?;
        organizations::by_slug(&client, slug)
            .await?
            .ok_or_else(|| StoreError::Database(format!("organization `{slug}` vanished")))
    }

    async fn organization_by_slug(&self, slug: &str) -> StoreResult<Option<Organization>> {
        organizations::by_slug(&self.client().await?, slug).await
    }

    async fn organization_by_id(&self, id: i64) -> StoreResult<Option<Organization>> {
        organizations::by_id(&self.client().await?, id).await
    }

    async fn list_organizations(&self) -> StoreResult<Vec<Organization>> {
        organizations::list(&self.client().await?).await
    }

    async fn create_user(
        &self,
        email: &str,
        password_hash: &str,
        is_admin: bool,
    ) -> StoreResult<User> {
        let key = new_email_key(email)?;
        let sql = format!(
            "INSERT INTO users (email, email_key, password_hash, is_admin, date_created)
             VALUES ($1, $2, $3, $4, $5) RETURNING {}",
            USER_COLUMNS
        );
        let params: &sql::Params = &[&email, &key, &password_hash, &is_admin, &now()];
        record(
            &self.client().await?,
            &sql,
            params,
            &format!("user `{email}`"),
        )
        .await
    }

    async fn user_by_email(&self, email: &str) -> StoreResult<Option<User>> {
        let sql = format!("SELECT {} FROM users WHERE email_key = $1", USER_COLUMNS);
        let client = self.client().await?;
        record_opt(&client, &sql, &[&email_key(email)], "reading a user").await
    }

    async fn user_by_id(&self, id: i64) -> StoreResult<Option<User>> {
        users::by_id(&self.client().await?, id).await
    }

    async fn count_users(&self) -> StoreResult<u64> {
        let client = self.client().await?;
        let row =
            sql::query_one(&client, "SELECT count(*) FROM users", &[], "counting users").await?;
        Ok(u64::try_from(get::<i64>(&row, 0)?).unwrap_or(0))
    }

    /// Idempotent; a second call with another role changes the role.
    async fn add_member(&self, organization_id: i64, user_id: i64, role: &str) -> StoreResult<()> {
        check_role(role)?;
        sql::execute(
            &self.client().await?,
            "INSERT INTO members (organization_id, user_id, role, date_created)
             VALUES ($1, $2, $3, $4)
             ON CONFLICT (organization_id, user_id) DO UPDATE SET role = excluded.role",
            &[&organization_id, &user_id, &role, &now()],
            &format!("membership of user {user_id} in organization {organization_id}"),
        )
        .await?;
        Ok(())
    }

    /// All organizations for an admin, else those the user is a member of; empty for an unknown
    /// user.
    async fn organizations_of_user(&self, user_id: i64) -> StoreResult<Vec<Organization>> {
        let client = self.client().await?;
        match users::by_id(&client, user_id).await? {
            Some(user) if user.is_admin => organizations::list(&client).await,
            Some(_) => {
                let sql = format!(
                    "SELECT {} FROM organizations o JOIN members m ON m.organization_id = o.id
                     WHERE m.user_id = $1 ORDER BY o.id",
                    ORGANIZATION_COLUMNS
                );
                records(&client, &sql, &[&user_id], "listing a user's organizations").await
            }
            None => Ok(Vec::new()),
        }
    }

    async fn organization_members(&self, organization_id: i64) -> StoreResult<Vec<(User, String)>> {
        let sql = format!(
            "SELECT {} FROM members m JOIN users u ON u.id = m.user_id
             WHERE m.organization_id = $1 ORDER BY u.id",
            Member::columns()
        );
        let client = self.client().await?;
        let members: Vec<Member> = records(
            &client,
            &sql,
            &[&organization_id],
            "listing an organization's members",
        )
        .await?;
        Ok(members.into_iter().map(Member::into_pair).collect())
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
