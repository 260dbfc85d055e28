//! Named secrets shared by every process on the database, created by the first to ask.

use rusqlite::{params, Connection};

use super::error::DbContext;
use super::now;
use crate::StoreResult;

/// The secret `name`, storing `fresh` first when there is none.
pub(crate) fn get_or_create(conn: &Connection, name: &str, fresh: &[u8]) -> StoreResult<Vec<u8>> {
    conn.prepare_cached(
        "INSERT INTO secrets (name, value, date_created) VALUES (?1, ?2, ?3)
         ON CONFLICT (name) DO NOTHING",
    )
    .and_then(|mut stmt| stmt.execute(params![name, fresh, now()]))
    .db("storing a secret")?;
    conn.prepare_cached("SELECT value FROM secrets WHERE name = ?1")
        .and_then(|mut stmt| stmt.query_row([name], |row| row.get(0)))
        .db("reading a secret")
}
