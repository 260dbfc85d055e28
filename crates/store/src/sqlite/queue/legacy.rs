//! Reading the queue file of earlier versions (`queue.sqlite3`, one table of zstd-compressed
//! envelopes), so that an upgrade loses none of its entries. Nothing writes that file any more.

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags, OptionalExtension};

use super::super::error::DbContext;
use crate::payload::EnvelopeDecoder;
use crate::queue::QueuedEnvelope;
use crate::StoreResult;

/// An entry of the old file.
pub(super) struct LegacyEntry {
    pub(super) id: i64,
    pub(super) attempts: i64,
    pub(super) envelope: QueuedEnvelope,
}

/// The old file of a data dir.
pub(super) fn path(data_dir: &Path) -> PathBuf {
    data_dir.join("queue.sqlite3")
}

/// Calls `each` with the old file's entries, oldest first; nothing when there is no file.
pub(super) fn read_entries(
    path: &Path,
    mut each: impl FnMut(LegacyEntry) -> StoreResult<()>,
) -> StoreResult<()> {
    if !path.exists() {
        return Ok(());
    }
    // Read-write: opening replays the file's WAL, if the old process left one.
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .db("opening the old queue file")?;
    let table: Option<String> = conn
        .query_row(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'queue'",
            [],
            |row| row.get(0),
        )
        .optional()
        .db("reading the old queue file")?;
    if table.is_none() {
        return Ok(());
    }
    let mut stmt = conn
        .prepare(
            "SELECT id, attempts, project_id, received, client_ip, client_sdk, body, body_size
             FROM queue ORDER BY id",
        )
        .db("reading the old queue file")?;
    let mut rows = stmt.query([]).db("reading the old queue file")?;
    let mut decoder = EnvelopeDecoder::new()?;
    while let Some(row) = rows.next().db("reading the old queue file")? {
        let id: i64 = row.get(0).db("reading the old queue file")?;
        let compressed: Vec<u8> = row.get(6).db("reading the old queue file")?;
        let size: i64 = row.get(7).db("reading the old queue file")?;
        let body = match decoder.decode(id, &compressed, size) {
            Ok(body) => body,
            Err(err) => {
                tracing::error!(%err, id, "an entry of the old queue file is corrupt; skipped");
                continue;
            }
        };
        each(LegacyEntry {
            id,
            attempts: row.get(1).db("reading the old queue file")?,
            envelope: QueuedEnvelope {
                project_id: row.get(2).db("reading the old queue file")?,
                received: row.get(3).db("reading the old queue file")?,
                client_ip: row.get(4).db("reading the old queue file")?,
                client_sdk: row.get(5).db("reading the old queue file")?,
                body,
            },
        })?;
    }
    Ok(())
}

/// Removes the old file and its WAL and shared-memory files.
pub(super) fn remove(path: &Path) -> std::io::Result<()> {
    for suffix in ["", "-wal", "-shm"] {
        let mut name = path.as_os_str().to_owned();
        name.push(suffix);
        match std::fs::remove_file(PathBuf::from(name)) {
            Ok(()) => {}
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
            Err(err) => return Err(err),
        }
    }
    Ok(())
}
