//! Organizations: the top of the tenancy tree, found by slug in every URL.
//!
//! The reads more than one caller makes; the rest of their SQL is in `accounts.rs`.

use rusqlite::Connection;

use super::statements::{record_opt, records};
use crate::rows::ORGANIZATION_COLUMNS;
use crate::{Organization, StoreResult};

pub(crate) fn by_slug(conn: &Connection, slug: &str) -> StoreResult<Option<Organization>> {
    let sql = format!("SELECT {ORGANIZATION_COLUMNS} FROM organizations o WHERE o.slug = ?1");
    record_opt(conn, &sql, [slug], "reading an organization")
}

pub(crate) fn by_id(conn: &Connection, id: i64) -> StoreResult<Option<Organization>> {
    let sql = format!("SELECT {ORGANIZATION_COLUMNS} FROM organizations o WHERE o.id = ?1");
    record_opt(conn, &sql, [id], "reading an organization")
}

/// All organizations, ordered by id.
pub(crate) fn list(conn: &Connection) -> StoreResult<Vec<Organization>> {
    let sql = format!("SELECT {ORGANIZATION_COLUMNS} FROM organizations o ORDER BY o.id");
    records(conn, &sql, [], "listing organizations")
}
