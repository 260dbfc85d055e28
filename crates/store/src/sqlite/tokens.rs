//! API tokens, kept by the hash of their secret.

use rusqlite::{params, Connection};

use super::error::failed;
use super::now;
use super::statements::{query_all_with, record};
use crate::rows::{user_at, Record};
use crate::{ApiToken, StoreResult, User};

pub(crate) fn create(
    conn: &Connection,
    user_id: i64,
    token_hash: &str,
    scopes: &[String],
) -> StoreResult<ApiToken> {
    let scopes_json =
        serde_json::to_string(scopes).map_err(|e| failed("serializing token scopes", e))?;
    record(
        conn,
        "INSERT INTO api_tokens (user_id, token_hash, scopes, date_created)
         VALUES (?1, ?2, ?3, ?4) RETURNING id, user_id, scopes, date_created",
        params![user_id, token_hash, scopes_json, now()],
        "an API token with this hash",
    )
}

/// The token and its user, in one read.
pub(crate) fn by_hash(
    conn: &Connection,
    token_hash: &str,
) -> StoreResult<Option<(ApiToken, User)>> {
    // `token_hash` is unique: one row at most.
    let mut found = query_all_with(
        conn,
        // The user's columns in the order of `USER_COLUMNS`.
        "SELECT t.id, t.user_id, t.scopes, t.date_created,
                u.id, u.email, u.password_hash, u.is_admin, u.date_created
         FROM api_tokens t JOIN users u ON u.id = t.user_id
         WHERE t.token_hash = ?1",
        [token_hash],
        "reading an API token",
        |row| Ok((ApiToken::read(row)?, user_at(row, 4)?)),
    )?;
    Ok(found.pop())
}
