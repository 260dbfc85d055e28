//! Users and their membership in organizations.

use rusqlite::{params, Connection, OptionalExtension, Row};

use super::error::DbContext;
use super::{now, organizations};
use crate::shared::{check_role, email_key, new_email_key};
use crate::{Organization, StoreResult, User};

pub(crate) const COLUMNS: &str = "id, email, password_hash, is_admin, date_created";

/// Reads a user from `COLUMNS` starting at column `first` (so joins can append them).
pub(crate) fn from_row_at(row: &Row<'_>, first: usize) -> rusqlite::Result<User> {
    Ok(User {
        id: row.get(first)?,
        email: row.get(first + 1)?,
        password_hash: row.get(first + 2)?,
        is_admin: row.get(first + 3)?,
        date_created: row.get(first + 4)?,
    })
}

fn from_row(row: &Row<'_>) -> rusqlite::Result<User> {
    from_row_at(row, 0)
}

pub(crate) fn create(
    conn: &Connection,
    email: &str,
    password_hash: &str,
    is_admin: bool,
) -> StoreResult<User> {
    let key = new_email_key(email)?;
    conn.prepare_cached(&format!(
        "INSERT INTO users (email, email_key, password_hash, is_admin, date_created)
         VALUES (?1, ?2, ?3, ?4, ?5) RETURNING {COLUMNS}"
    ))
    .and_then(|mut stmt| {
        stmt.query_row(
            params![email, key, password_hash, is_admin, now()],
            from_row,
        )
    })
    .db(&format!("user `{email}`"))
}

pub(crate) fn by_email(conn: &Connection, email: &str) -> StoreResult<Option<User>> {
    conn.prepare_cached(&format!("SELECT {COLUMNS} FROM users WHERE email_key = ?1"))
        .and_then(|mut stmt| stmt.query_row([email_key(email)], from_row).optional())
        .db("reading a user")
}

pub(crate) fn by_id(conn: &Connection, id: i64) -> StoreResult<Option<User>> {
    conn.prepare_cached(&format!("SELECT {COLUMNS} FROM users WHERE id = ?1"))
        .and_then(|mut stmt| stmt.query_row([id], from_row).optional())
        .db("reading a user")
}

pub(crate) fn count(conn: &Connection) -> StoreResult<u64> {
    let count: i64 = conn
        .prepare_cached("SELECT count(*) FROM users")
        .and_then(|mut stmt| stmt.query_row([], |row| row.get(0)))
        .db("counting users")?;
    Ok(u64::try_from(count).unwrap_or(0))
}

/// Idempotent; a second call with another role changes the role.
pub(crate) fn add_member(
    conn: &Connection,
    organization_id: i64,
    user_id: i64,
    role: &str,
) -> StoreResult<()> {
    check_role(role)?;
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
}

/// All organizations for an admin, else those the user is a member of; empty for an unknown
/// user.
pub(crate) fn organizations_of(conn: &Connection, user_id: i64) -> StoreResult<Vec<Organization>> {
    match by_id(conn, user_id)? {
        Some(user) if user.is_admin => organizations::list(conn),
        Some(_) => organizations::of_member(conn, user_id),
        None => Ok(Vec::new()),
    }
}
