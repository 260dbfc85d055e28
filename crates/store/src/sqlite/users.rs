//! Users: the columns a user is read by, and the read more than one caller makes; the rest of
//! their SQL and their membership in organizations are in `accounts.rs`.

use rusqlite::{Connection, Row};

use super::statements::record_opt;
use crate::{StoreResult, User};

/// In the order of [`User`]'s reader.
pub(crate) const COLUMNS: &str = "id, email, password_hash, is_admin, date_created";

/// Reads a user from `COLUMNS` starting at column `first`, for joins that select other columns
/// before them (a user alone is read as a [`crate::rows::Record`]).
pub(crate) fn from_row_at(row: &Row<'_>, first: usize) -> rusqlite::Result<User> {
    Ok(User {
        id: row.get(first)?,
        email: row.get(first + 1)?,
        password_hash: row.get(first + 2)?,
        is_admin: row.get(first + 3)?,
        date_created: row.get(first + 4)?,
    })
}

pub(crate) fn by_id(conn: &Connection, id: i64) -> StoreResult<Option<User>> {
    let sql = format!("SELECT {COLUMNS} FROM users WHERE id = ?1");
    record_opt(conn, &sql, [id], "reading a user")
}
