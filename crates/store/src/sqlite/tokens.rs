//! API tokens, kept by the hash of their secret.

use rusqlite::{params, Connection, OptionalExtension, Row};

use super::error::{corrupt, failed, DbContext};
use super::{now, users};
use crate::{ApiToken, StoreResult, User};

fn from_row(row: &Row<'_>) -> rusqlite::Result<(ApiToken, String)> {
    let token = ApiToken {
        id: row.get(0)?,
        user_id: row.get(1)?,
        scopes: Vec::new(),
        date_created: row.get(3)?,
    };
    Ok((token, row.get(2)?))
}

/// Decodes the scopes column (a JSON array of strings).
fn with_scopes((mut token, scopes): (ApiToken, String)) -> StoreResult<ApiToken> {
    token.scopes = serde_json::from_str(&scopes).map_err(|e| corrupt("token scopes", e))?;
    Ok(token)
}

pub(crate) fn create(
    conn: &Connection,
    user_id: i64,
    token_hash: &str,
    scopes: &[String],
) -> StoreResult<ApiToken> {
    let scopes_json =
        serde_json::to_string(scopes).map_err(|e| failed("serializing token scopes", e))?;
    let row = conn
        .prepare_cached(
            "INSERT INTO api_tokens (user_id, token_hash, scopes, date_created)
             VALUES (?1, ?2, ?3, ?4) RETURNING id, user_id, scopes, date_created",
        )
        .and_then(|mut stmt| {
            stmt.query_row(params![user_id, token_hash, scopes_json, now()], from_row)
        })
        .db("an API token with this hash")?;
    with_scopes(row)
}

/// The token and its user, in one read.
pub(crate) fn by_hash(
    conn: &Connection,
    token_hash: &str,
) -> StoreResult<Option<(ApiToken, User)>> {
    let found = conn
        .prepare_cached(
            // The user's columns in the order of `users::COLUMNS`.
            "SELECT t.id, t.user_id, t.scopes, t.date_created,
                    u.id, u.email, u.password_hash, u.is_admin, u.date_created
             FROM api_tokens t JOIN users u ON u.id = t.user_id
             WHERE t.token_hash = ?1",
        )
        .and_then(|mut stmt| {
            stmt.query_row([token_hash], |row| {
                Ok((from_row(row)?, users::from_row_at(row, 4)?))
            })
            .optional()
        })
        .db("reading an API token")?;
    match found {
        Some((token, user)) => Ok(Some((with_scopes(token)?, user))),
        None => Ok(None),
    }
}
