//! Reference events on SQLite: the first event of each grouping hash, against which the later
//! events of that hash are compressed ([`crate::payload`] has the format).
//!
//! The events of one issue are mostly the same text (the stack trace, the SDK, the contexts);
//! compressed one by one, each still costs a few kilobytes. Compressed with the first
//! event as a zstd raw-content dictionary, only what differs is stored: a tenth of that. The
//! reference is written once, in the transaction of the batch that brings the hash's first
//! event, and never changes; an event row names the reference it needs (`reference_id`).
//!
//! Encoding happens before the writer is taken, so references are looked up in memory (kept for
//! the hashes seen lately) or through a reader, and a batch can bring new ones that are only
//! remembered once that batch has committed.

use std::sync::Arc;

use rusqlite::{params, Connection};

use super::error::DbContext;
use super::statements::record_opt;
use crate::payload::{decompress_reference, Reference};
use crate::StoreResult;

/// The newest stored reference of a hash, through any connection.
pub(crate) fn load(
    conn: &Connection,
    project_id: i64,
    hash: &str,
) -> StoreResult<Option<Reference>> {
    let row: Option<(i64, Vec<u8>)> = record_opt(
        conn,
        "SELECT id, data FROM event_references WHERE project_id = ?1 AND hash = ?2
         ORDER BY id DESC LIMIT 1",
        params![project_id, hash],
        "reading a reference event",
    )?;
    row.map(|(id, data)| {
        Ok(Reference {
            id,
            json: decompress_reference(id, &data)?,
        })
    })
    .transpose()
}

/// The JSON of a reference by id, for reading the events compressed against it.
pub(crate) fn json_by_id(conn: &Connection, id: i64) -> StoreResult<Arc<[u8]>> {
    let data: Vec<u8> = conn
        .prepare_cached("SELECT data FROM event_references WHERE id = ?1")
        .and_then(|mut stmt| stmt.query_row([id], |row| row.get(0)))
        .db(&format!("reading reference event {id}"))?;
    decompress_reference(id, &data)
}

/// Writes a new reference; its id.
pub(crate) fn insert(
    conn: &Connection,
    project_id: i64,
    hash: &str,
    data_zstd: &[u8],
) -> StoreResult<i64> {
    conn.prepare_cached(
        "INSERT INTO event_references (project_id, hash, data) VALUES (?1, ?2, ?3) RETURNING id",
    )
    .and_then(|mut stmt| stmt.query_row(params![project_id, hash, data_zstd], |row| row.get(0)))
    .db("writing a reference event")
}
