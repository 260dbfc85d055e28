//! Reference events: the first event of each grouping hash, against which the later events of
//! that hash are compressed.
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

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use rusqlite::{params, Connection, OptionalExtension};

use super::error::{corrupt, DbContext};
use crate::StoreResult;

/// Events larger than this are compressed on their own and never become a reference: a
/// dictionary costs its size on every use.
pub(crate) const MAX_REFERENCE_BYTES: usize = 256 * 1024;

/// References kept in memory (by project and hash), about 10 KB each.
const CACHE_ENTRIES: usize = 2048;

/// A stored reference: its id and its JSON.
#[derive(Debug, Clone)]
pub(crate) struct Reference {
    pub id: i64,
    pub json: Arc<[u8]>,
}

/// The newest references by `(project_id, hash)`.
#[derive(Default)]
pub(crate) struct ReferenceCache {
    by_key: Mutex<HashMap<(i64, String), Reference>>,
}

impl ReferenceCache {
    pub(crate) fn get(&self, project_id: i64, hash: &str) -> Option<Reference> {
        let map = self.by_key.lock().unwrap_or_else(PoisonError::into_inner);
        map.get(&(project_id, hash.to_owned())).cloned()
    }

    /// Drops a reference that retention deleted.
    pub(crate) fn forget(&self, project_id: i64, hash: &str) {
        let mut map = self.by_key.lock().unwrap_or_else(PoisonError::into_inner);
        map.remove(&(project_id, hash.to_owned()));
    }

    /// Keeps a reference that is committed.
    pub(crate) fn remember(&self, project_id: i64, hash: String, reference: Reference) {
        let mut map = self.by_key.lock().unwrap_or_else(PoisonError::into_inner);
        if map.len() >= CACHE_ENTRIES {
            // Bounded, not ordered: dropping an arbitrary eighth costs one reader query per
            // dropped hash when it comes back.
            let drop: Vec<_> = map.keys().take(CACHE_ENTRIES / 8).cloned().collect();
            for key in drop {
                map.remove(&key);
            }
        }
        map.insert((project_id, hash), reference);
    }
}

/// The newest stored reference of a hash, through any connection.
pub(crate) fn load(
    conn: &Connection,
    project_id: i64,
    hash: &str,
) -> StoreResult<Option<Reference>> {
    let row: Option<(i64, Vec<u8>)> = conn
        .prepare_cached(
            "SELECT id, data FROM event_references WHERE project_id = ?1 AND hash = ?2
             ORDER BY id DESC LIMIT 1",
        )
        .and_then(|mut stmt| {
            stmt.query_row(params![project_id, hash], |row| {
                Ok((row.get(0)?, row.get(1)?))
            })
            .optional()
        })
        .db("reading a reference event")?;
    row.map(|(id, data)| {
        Ok(Reference {
            id,
            json: decompress(id, &data)?,
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
    decompress(id, &data)
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

fn decompress(id: i64, data: &[u8]) -> StoreResult<Arc<[u8]>> {
    let what = || format!("reference event {id}");
    // References are at most MAX_REFERENCE_BYTES of JSON.
    zstd::bulk::decompress(data, MAX_REFERENCE_BYTES)
        .map(Arc::from)
        .map_err(|e| corrupt(&what(), e))
}
