//! Organizations: the top of the tenancy tree, found by slug in every URL.

use deadpool_postgres::GenericClient;
use tokio_postgres::Row;

use super::now;
use super::sql::{self, get};
use crate::{Organization, StoreError, StoreResult};

pub(crate) const COLUMNS: &str = "o.id, o.slug, o.name, o.date_created";

pub(crate) fn from_row(row: &Row) -> StoreResult<Organization> {
    Ok(Organization {
        id: get(row, 0)?,
        slug: get(row, 1)?,
        name: get(row, 2)?,
        date_created: get(row, 3)?,
    })
}

pub(crate) async fn ensure<C: GenericClient>(client: &C, slug: &str) -> StoreResult<Organization> {
    if slug.is_empty() {
        return Err(StoreError::Invalid("organization slug is empty".into()));
    }
    // DO NOTHING instead of a read-then-insert: another node may create it in between.
    sql::execute(
        client,
        "INSERT INTO organizations (slug, name, date_created) VALUES ($1, $1, $2)
         ON CONFLICT (slug) DO NOTHING",
        &[&slug, &now()],
        "creating an organization",
    )
    .await?;
    by_slug(client, slug)
        .await?
        .ok_or_else(|| StoreError::Database(format!("organization `{slug}` vanished")))
}

pub(crate) async fn by_slug<C: GenericClient>(
    client: &C,
    slug: &str,
) -> StoreResult<Option<Organization>> {
    sql::query_opt(
        client,
        &format!("SELECT {COLUMNS} FROM organizations o WHERE o.slug = $1"),
        &[&slug],
        "reading an organization",
    )
    .await?
    .as_ref()
    .map(from_row)
    .transpose()
}

pub(crate) async fn by_id<C: GenericClient>(
    client: &C,
    id: i64,
) -> StoreResult<Option<Organization>> {
    sql::query_opt(
        client,
        &format!("SELECT {COLUMNS} FROM organizations o WHERE o.id = $1"),
        &[&id],
        "reading an organization",
    )
    .await?
    .as_ref()
    .map(from_row)
    .transpose()
}

/// All organizations, ordered by id.
pub(crate) async fn list<C: GenericClient>(client: &C) -> StoreResult<Vec<Organization>> {
    sql::query(
        client,
        &format!("SELECT {COLUMNS} FROM organizations o ORDER BY o.id"),
        &[],
        "listing organizations",
    )
    .await?
    .iter()
    .map(from_row)
    .collect()
}

/// Organizations the user is a member of, ordered by id.
pub(crate) async fn of_member<C: GenericClient>(
    client: &C,
    user_id: i64,
) -> StoreResult<Vec<Organization>> {
    sql::query(
        client,
        &format!(
            "SELECT {COLUMNS} FROM organizations o JOIN members m ON m.organization_id = o.id
             WHERE m.user_id = $1 ORDER BY o.id"
        ),
        &[&user_id],
        "listing a user's organizations",
    )
    .await?
    .iter()
    .map(from_row)
    .collect()
}
