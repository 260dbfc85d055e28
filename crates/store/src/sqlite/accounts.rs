//! Organizations, users, membership, API tokens and the shared secrets.
//!
//! The [`Accounts`] trait on this backend: a method holds its SQL when nothing else runs it;
//! what other methods or domains read too is in `organizations.rs` and `users.rs`, and tokens
//! and secrets are in files of their own.

use async_trait::async_trait;
use rusqlite::params;

use super::error::DbContext;
use super::statements::{record, record_opt, records};
use super::{now, organizations, users, SqliteStore};
use crate::rows::{Member, ORGANIZATION_COLUMNS, USER_COLUMNS};
use crate::shared::{check_role, check_slug, email_key, new_email_key};
use crate::{Accounts, ApiToken, Organization, StoreError, StoreResult, User};

#[async_trait]
impl Accounts for SqliteStore {
    async fn ensure_organization(&self, slug: &str) -> StoreResult<Organization> {
        check_slug("organization", slug)?;
        let slug = slug.to_owned();
        self.write(move |conn| {
            // DO NOTHING instead of a read-then-insert: another process may create it in between.
            conn.prepare_cached(
                "INSERT INTO organizations (slug, name, date_created) VALUES (?1, ?1, ?2)
                 ON CONFLICT (slug) DO NOTHING",
            )
            .and_then(|mut stmt| stmt.execute(params![slug, now()]))
            .db("creating an organization")?;
            organizations::by_slug(conn, &slug)?
                .ok_or_else(|| StoreError::Database(format!("organization `{slug}` vanished")))
        })
        .await
    }

    async fn organization_by_slug(&self, slug: &str) -> StoreResult<Option<Organization>> {
        let slug = slug.to_owned();
        self.read(move |conn| organizations::by_slug(conn, &slug))
            .await
    }

    async fn organization_by_id(&self, id: i64) -> StoreResult<Option<Organization>> {
        self.read(move |conn| organizations::by_id(conn, id)).await
    }

    async fn list_organizations(&self) -> StoreResult<Vec<Organization>> {
        self.read(organizations::list).await
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
             VALUES (?1, ?2, ?3, ?4, ?5) RETURNING {}",
            USER_COLUMNS
        );
        let what = format!("user `{email}`");
        let (email, password_hash) = (email.to_owned(), password_hash.to_owned());
        self.write(move |conn| {
            let params = params![email, key, password_hash, is_admin, now()];
            record(conn, &sql, params, &what)
        })
        .await
    }

    async fn user_by_email(&self, email: &str) -> StoreResult<Option<User>> {
        let sql = format!("SELECT {} FROM users WHERE email_key = ?1", USER_COLUMNS);
        let key = email_key(email);
        self.read(move |conn| record_opt(conn, &sql, [key], "reading a user"))
            .await
    }

    async fn user_by_id(&self, id: i64) -> StoreResult<Option<User>> {
        self.read(move |conn| users::by_id(conn, id)).await
    }

    async fn count_users(&self) -> StoreResult<u64> {
        let count: i64 = self
            .read(|conn| {
                conn.prepare_cached("SELECT count(*) FROM users")
                    .and_then(|mut stmt| stmt.query_row([], |row| row.get(0)))
                    .db("counting users")
            })
            .await?;
        Ok(u64::try_from(count).unwrap_or(0))
    }

    /// Idempotent; a second call with another role changes the role.
    async fn add_member(&self, organization_id: i64, user_id: i64, role: &str) -> StoreResult<()> {
        check_role(role)?;
        let role = role.to_owned();
        self.write(move |conn| {
            conn.prepare_cached(
                "INSERT INTO members (organization_id, user_id, role, date_created)
                 VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (organization_id, user_id) DO UPDATE SET role = excluded.role",
            )
            .and_then(|mut stmt| stmt.execute(params![organization_id, user_id, role, now()]))
            .db(&format!(
                "membership of user {user_id} in organization {organization_id}"
            ))?;
            Ok(())
        })
        .await
    }

    /// All organizations for an admin, else those the user is a member of; empty for an unknown
    /// user.
    async fn organizations_of_user(&self, user_id: i64) -> StoreResult<Vec<Organization>> {
        self.read(move |conn| match users::by_id(conn, user_id)? {
            Some(user) if user.is_admin => organizations::list(conn),
            Some(_) => {
                let sql = format!(
                    "SELECT {} FROM organizations o JOIN members m ON m.organization_id = o.id
                     WHERE m.user_id = ?1 ORDER BY o.id",
                    ORGANIZATION_COLUMNS
                );
                records(conn, &sql, [user_id], "listing a user's organizations")
            }
            None => Ok(Vec::new()),
        })
        .await
    }

    async fn organization_members(&self, organization_id: i64) -> StoreResult<Vec<(User, String)>> {
        let sql = format!(
            "SELECT {} FROM members m JOIN users u ON u.id = m.user_id
             WHERE m.organization_id = ?1 ORDER BY u.id",
            Member::columns()
        );
        let members: Vec<Member> = self
            .read(move |conn| {
                records(
                    conn,
                    &sql,
                    [organization_id],
                    "listing an organization's members",
                )
            })
            .await?;
        Ok(members.into_iter().map(Member::into_pair).collect())
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
