//! Users and their membership in organizations.

use deadpool_postgres::GenericClient;
use tokio_postgres::Row;

use super::sql::{self, get};
use super::{now, organizations};
use crate::shared::{check_role, email_key, new_email_key};
use crate::{Organization, StoreResult, User};

pub(crate) const COLUMNS: &str = "id, email, password_hash, is_admin, date_created";

/// Reads a user from `COLUMNS` starting at column `first` (so joins can append them).
pub(crate) fn from_row_at(row: &Row, first: usize) -> StoreResult<User> {
    Ok(User {
        id: get(row, first)?,
        email: get(row, first + 1)?,
        password_hash: get(row, first + 2)?,
        is_admin: get(row, first + 3)?,
        date_created: get(row, first + 4)?,
    })
}

fn from_row(row: &Row) -> StoreResult<User> {
    from_row_at(row, 0)
}

pub(crate) async fn create<C: GenericClient>(
    client: &C,
    email: &str,
    password_hash: &str,
    is_admin: bool,
) -> StoreResult<User> {
    let key = new_email_key(email)?;
    let row = sql::query_one(
        client,
        &format!(
            "INSERT INTO users (email, email_key, password_hash, is_admin, date_created)
             VALUES ($1, $2, $3, $4, $5) RETURNING {COLUMNS}"
        ),
        &[&email, &key, &password_hash, &is_admin, &now()],
        &format!("user `{email}`"),
    )
    .await?;
    from_row(&row)
}

pub(crate) async fn by_email<C: GenericClient>(
    client: &C,
    email: &str,
) -> StoreResult<Option<User>> {
    sql::query_opt(
        client,
        &format!("SELECT {COLUMNS} FROM users WHERE email_key = $1"),
        &[&email_key(email)],
        "reading a user",
    )
    .await?
    .as_ref()
    .map(from_row)
    .transpose()
}

pub(crate) async fn by_id<C: GenericClient>(client: &C, id: i64) -> StoreResult<Option<User>> {
    sql::query_opt(
        client,
        &format!("SELECT {COLUMNS} FROM users WHERE id = $1"),
        &[&id],
        "reading a user",
    )
    .await?
    .as_ref()
    .map(from_row)
    .transpose()
}

pub(crate) async fn count<C: GenericClient>(client: &C) -> StoreResult<u64> {
    let row = sql::query_one(client, "SELECT count(*) FROM users", &[], "counting users").await?;
    Ok(u64::try_from(get::<i64>(&row, 0)?).unwrap_or(0))
}

/// Idempotent; a second call with another role changes the role.
pub(crate) async fn add_member<C: GenericClient>(
    client: &C,
    organization_id: i64,
    user_id: i64,
    role: &str,
) -> StoreResult<()> {
    check_role(role)?;
    sql::execute(
        client,
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
pub(crate) async fn organizations_of<C: GenericClient>(
    client: &C,
    user_id: i64,
) -> StoreResult<Vec<Organization>> {
    match by_id(client, user_id).await? {
        Some(user) if user.is_admin => organizations::list(client).await,
        Some(_) => organizations::of_member(client, user_id).await,
        None => Ok(Vec::new()),
    }
}
