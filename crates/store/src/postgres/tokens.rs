//! API tokens, kept by the hash of their secret.

use deadpool_postgres::GenericClient;

use super::now;
use super::sql::{self, record};
use crate::rows::{user_at, Record};
use crate::{ApiToken, StoreError, StoreResult, User};

pub(crate) async fn create<C: GenericClient>(
    client: &C,
    user_id: i64,
    token_hash: &str,
    scopes: &[String],
) -> StoreResult<ApiToken> {
    let scopes_json = serde_json::to_string(scopes)
        .map_err(|e| StoreError::Database(format!("serializing token scopes: {e}")))?;
    record(
        client,
        "INSERT INTO api_tokens (user_id, token_hash, scopes, date_created)
         VALUES ($1, $2, $3, $4) RETURNING id, user_id, scopes, date_created",
        &[&user_id, &token_hash, &scopes_json, &now()],
        "an API token with this hash",
    )
    .await
}

/// The token and its user, in one read.
pub(crate) async fn by_hash<C: GenericClient>(
    client: &C,
    token_hash: &str,
) -> StoreResult<Option<(ApiToken, User)>> {
    let row = sql::query_opt(
        client,
        // The user's columns in the order of `USER_COLUMNS`.
        "SELECT t.id, t.user_id, t.scopes, t.date_created,
                u.id, u.email, u.password_hash, u.is_admin, u.date_created
         FROM api_tokens t JOIN users u ON u.id = t.user_id
         WHERE t.token_hash = $1",
        &[&token_hash],
        "reading an API token",
    )
    .await?;
    row.map(|row| Ok((ApiToken::read(&row)?, user_at(&row, 4)?)))
        .transpose()
}
