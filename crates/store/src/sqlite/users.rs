//! Users: the read more than one caller makes; the rest of their SQL and their membership in
//! organizations are in `accounts.rs`.

use rusqlite::Connection;

use super::statements::record_opt;
use crate::rows::USER_COLUMNS;
use crate::{StoreResult, User};

pub(crate) fn by_id(conn: &Connection, id: i64) -> StoreResult<Option<User>> {
    let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE id = ?1");
    record_opt(conn, &sql, [id], "reading a user")
}
