//! Users: the columns a user is read by, and the read more than one caller makes; the rest of
//! their SQL and their membership in organizations are in `accounts.rs`.

use deadpool_postgres::GenericClient;
use tokio_postgres::Row;

use super::sql::{get, record_opt};
use crate::{StoreResult, User};

/// In the order of [`User`]'s reader.
pub(crate) const COLUMNS: &str = "id, email, password_hash, is_admin, date_created";

/// Reads a user from `COLUMNS` starting at column `first`, for joins that select other columns
/// before them (a user alone is read as a [`crate::rows::Record`]).
pub(crate) fn from_row_at(row: &Row, first: usize) -> StoreResult<User> {
    Ok(User {
        id: get(row, first)?,
        email: get(row, first + 1)?,
        password_hash: get(row, first + 2)?,
        is_admin: get(row, first + 3)?,
        date_created: get(row, first + 4)?,
    })
}

pub(crate) async fn by_id<C: GenericClient>(client: &C, id: i64) -> StoreResult<Option<User>> {
    let sql = format!("SELECT {COLUMNS} FROM users WHERE id = $1");
    record_opt(client, &sql, &[&id], "reading a user").await
}
