//! Users: the read more than one caller makes; the rest of their SQL and their membership in
//! organizations are in `accounts.rs`.

use deadpool_postgres::GenericClient;

use super::sql::record_opt;
use crate::rows::USER_COLUMNS;
use crate::{StoreResult, User};

pub(crate) async fn by_id<C: GenericClient>(client: &C, id: i64) -> StoreResult<Option<User>> {
    let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1");
    record_opt(client, &sql, &[&id], "reading a user").await
}
