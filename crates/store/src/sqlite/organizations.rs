//! Organizations: the top of the tenancy tree, found by slug in every URL.

use rusqlite::{params, Connection, OptionalExtension, Row};

use super::error::DbContext;
use super::now;
use crate::{Organization, StoreError, StoreResult};

const COLUMNS: &str = "id, slug, name, date_created";

fn from_row(row: &Row<'_>) -> rusqlite::Result<Organization> {
    Ok(Organization {
        id: row.get(0)?,
        slug: row.get(1)?,
        name: row.get(2)?,
        date_created: row.get(3)?,
    })
}

pub(crate) fn ensure(conn: &Connection, slug: &str) -> StoreResult<Organization> {
    if slug.is_empty() {
        return Err(StoreError::Invalid("organization slug is empty".into()));
    }
    // DO NOTHING instead of a read-then-insert: another process may create it in between.
    conn.prepare_cached(
        "INSERT INTO organizations (slug, name, date_created) VALUES (?1, ?1, ?2)
         ON CONFLICT (slug) DO NOTHING",
    )
    .and_then(|mut stmt| stmt.execute(params![slug, now()]))
    .db("creating an organization")?;
    by_slug(conn, slug)?
        .ok_or_else(|| StoreError::Database(format!("organization `{slug}` vanished")))
}

pub(crate) fn by_slug(conn: &Connection, slug: &str) -> StoreResult<Option<Organization>> {
    conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM organizations WHERE slug = ?1"
    ))
    .and_then(|mut stmt| stmt.query_row([slug], from_row).optional())
    .db("reading an organization")
}

pub(crate) fn by_id(conn: &Connection, id: i64) -> StoreResult<Option<Organization>> {
    conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM organizations WHERE id = ?1"
    ))
    .and_then(|mut stmt| stmt.query_row([id], from_row).optional())
    .db("reading an organization")
}

/// All organizations, ordered by id.
pub(crate) fn list(conn: &Connection) -> StoreResult<Vec<Organization>> {
    conn.prepare_cached(&format!("SELECT {COLUMNS} FROM organizations ORDER BY id"))
        .and_then(|mut stmt| stmt.query_map([], from_row)?.collect())
        .db("listing organizations")
}

/// Organizations the user is a member of, ordered by id.
pub(crate) fn of_member(conn: &Connection, user_id: i64) -> StoreResult<Vec<Organization>> {
    conn.prepare_cached(
        "SELECT o.id, o.slug, o.name, o.date_created
         FROM organizations o JOIN members m ON m.organization_id = o.id
         WHERE m.user_id = ?1 ORDER BY o.id",
    )
    .and_then(|mut stmt| stmt.query_map([user_id], from_row)?.collect())
    .db("listing a user's organizations")
}
