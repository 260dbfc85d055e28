//! Organizations: the top of the tenancy tree, found by slug in every URL.
//!
//! The reads more than one caller makes; the rest of their SQL is in `accounts.rs`.

use deadpool_postgres::GenericClient;

use super::sql::{record_opt, records};
use crate::rows::ORGANIZATION_COLUMNS;
use crate::{Organization, StoreResult};

pub(crate) async fn by_slug<C: GenericClient>(
    client: &C,
    slug: &str,
) -> StoreResult<Option<Organization>> {
    let sql = format!("SELECT {ORGANIZATION_COLUMNS} FROM organizations o WHERE o.slug = $1");
    record_opt(client, &sql, &[&slug], "reading an organization").await
}

pub(crate) async fn by_id<C: GenericClient>(
    client: &C,
    id: i64,
) -> StoreResult<Option<Organization>> {
    let sql = format!("SELECT {ORGANIZATION_COLUMNS} FROM organizations o WHERE o.id = $1");
    record_opt(client, &sql, &[&id], "reading an organization").await
}

/// All organizations, ordered by id.
pub(crate) async fn list<C: GenericClient>(client: &C) -> StoreResult<Vec<Organization>> {
    let sql = format!("SELECT {ORGANIZATION_COLUMNS} FROM organizations o ORDER BY o.id");
    records(client, &sql, &[], "listing organizations").await
}
