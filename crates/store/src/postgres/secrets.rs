//! Named secrets shared by every node on the database, created by the first to ask.

use deadpool_postgres::GenericClient;

use super::now;
use super::sql::{self, get};
use crate::StoreResult;

/// The secret `name`, storing `fresh` first when there is none; two nodes asking at once get
/// the same bytes (the loser's insert does nothing).
pub(crate) async fn get_or_create<C: GenericClient>(
    client: &C,
    name: &str,
    fresh: &[u8],
) -> StoreResult<Vec<u8>> {
    sql::execute(
        client,
        "INSERT INTO secrets (name, value, date_created) VALUES ($1, $2, $3)
         ON CONFLICT (name) DO NOTHING",
        &[&name, &fresh, &now()],
        "storing a secret",
    )
    .await?;
    let row = sql::query_one(
        client,
        "SELECT value FROM secrets WHERE name = $1",
        &[&name],
        "reading a secret",
    )
    .await?;
    get(&row, 0)
}
