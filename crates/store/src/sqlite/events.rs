//! Event rows: the searched fields as columns, the whole event as compressed JSON.
//!
//! Reads are by issue or by id and always want the whole event, so the normalized JSON is one
//! zstd-compressed BLOB rather than spread over tables; what lists and filters need (time,
//! level, environment, release, …) is copied into columns. Compression happens before the
//! writer lock is taken (see [`Encoder`]), so it does not lengthen the write transaction.

use rusqlite::{params, Connection, OptionalExtension, Row};

use super::error::{corrupt, failed, DbContext};
use super::sql_int;
use crate::{NewEvent, StoreResult, StoredEvent};

/// zstd level 1: ingest is the hot path and reads are rare; on event JSON the higher levels
/// gain only a little size for several times the CPU.
const ZSTD_LEVEL: i32 = 1;

const COLUMNS: &str = "project_id, event_id, issue_id, event_type, timestamp, received, level, \
                       platform, title, culprit, environment, release, transaction_name, \
                       user_tag, tags, data, size";

/// An event with its JSON serialized and compressed, ready to insert.
pub(crate) struct EncodedEvent {
    /// The event; its `data` has been moved into `data_zstd`.
    pub event: NewEvent,
    pub data_zstd: Vec<u8>,
    /// Bytes of the JSON before compression.
    pub size: i64,
    /// `tags` as a JSON array of `[key, value]` pairs.
    pub tags_json: String,
}

/// Serializes and compresses events, outside any lock.
///
/// One per batch: it keeps one zstd context, and creating a context costs more than
/// compressing a typical event (it was a third of the ingest time when made per event).
pub(crate) struct Encoder {
    compressor: zstd::bulk::Compressor<'static>,
}

impl Encoder {
    pub(crate) fn new() -> StoreResult<Encoder> {
        let compressor = zstd::bulk::Compressor::new(ZSTD_LEVEL)
            .map_err(|e| failed("creating a zstd context", e))?;
        Ok(Encoder { compressor })
    }

    pub(crate) fn encode(&mut self, mut event: NewEvent) -> StoreResult<EncodedEvent> {
        let data = std::mem::take(&mut event.data);
        let json = serde_json::to_vec(&data).map_err(|e| failed("serializing event data", e))?;
        let data_zstd = self
            .compressor
            .compress(&json)
            .map_err(|e| failed("compressing event data", e))?;
        let tags_json =
            serde_json::to_string(&event.tags).map_err(|e| failed("serializing event tags", e))?;
        Ok(EncodedEvent {
            event,
            data_zstd,
            size: i64::try_from(json.len()).unwrap_or(i64::MAX),
            tags_json,
        })
    }
}

/// Decompresses the events of one read with one zstd context.
struct Decoder {
    decompressor: zstd::bulk::Decompressor<'static>,
}

impl Decoder {
    fn new() -> StoreResult<Decoder> {
        let decompressor =
            zstd::bulk::Decompressor::new().map_err(|e| failed("creating a zstd context", e))?;
        Ok(Decoder { decompressor })
    }

    fn decode(&mut self, row: EventRow) -> StoreResult<StoredEvent> {
        let EventRow {
            mut event,
            tags_json,
            data_zstd,
        } = row;
        let what = || format!("event {}", event.event_id);
        event.tags = serde_json::from_str(&tags_json).map_err(|e| corrupt(&what(), e))?;
        // `size` is the exact length of the JSON, so it bounds the output buffer.
        let capacity = usize::try_from(event.size).map_err(|e| corrupt(&what(), e))?;
        let json = self
            .decompressor
            .decompress(&data_zstd, capacity)
            .map_err(|e| corrupt(&what(), e))?;
        event.data = serde_json::from_slice(&json).map_err(|e| corrupt(&what(), e))?;
        Ok(event)
    }
}

/// `Some(issue_id)` when the project already has an event with this id.
pub(crate) fn existing(
    conn: &Connection,
    project_id: i64,
    event_id: &str,
) -> StoreResult<Option<Option<i64>>> {
    conn.prepare_cached("SELECT issue_id FROM events WHERE project_id = ?1 AND event_id = ?2")
        .and_then(|mut stmt| {
            stmt.query_row(params![project_id, event_id], |row| row.get(0))
                .optional()
        })
        .db("looking up an event id")
}

pub(crate) fn insert(conn: &Connection, encoded: &EncodedEvent, issue_id: i64) -> StoreResult<()> {
    let e = &encoded.event;
    conn.prepare_cached(&format!(
        "INSERT INTO events ({COLUMNS}, message)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)"
    ))
    .and_then(|mut stmt| {
        stmt.execute(params![
            e.project_id,
            e.event_id,
            issue_id,
            e.event_type,
            e.timestamp,
            e.received,
            e.level,
            e.platform,
            e.title,
            e.culprit,
            e.environment,
            e.release,
            e.transaction,
            e.user_tag,
            encoded.tags_json,
            encoded.data_zstd,
            encoded.size,
            e.message,
        ])
    })
    .db(&format!("event {}", e.event_id))?;
    Ok(())
}

/// Events of an issue, newest first.
pub(crate) fn of_issue(
    conn: &Connection,
    issue_id: i64,
    offset: u64,
    limit: u64,
) -> StoreResult<Vec<StoredEvent>> {
    let rows: Vec<EventRow> = conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM events WHERE issue_id = ?1
             ORDER BY timestamp DESC, received DESC, id DESC LIMIT ?2 OFFSET ?3"
        ))
        .and_then(|mut stmt| {
            stmt.query_map(
                params![issue_id, sql_int(limit), sql_int(offset)],
                EventRow::read,
            )?
            .collect()
        })
        .db("listing an issue's events")?;
    let mut decoder = Decoder::new()?;
    rows.into_iter().map(|row| decoder.decode(row)).collect()
}

/// The newest or the oldest event of an issue.
pub(crate) fn edge_of_issue(
    conn: &Connection,
    issue_id: i64,
    latest: bool,
) -> StoreResult<Option<StoredEvent>> {
    let order = if latest {
        "timestamp DESC, received DESC, id DESC"
    } else {
        "timestamp ASC, received ASC, id ASC"
    };
    let row = conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM events WHERE issue_id = ?1 ORDER BY {order} LIMIT 1"
        ))
        .and_then(|mut stmt| stmt.query_row([issue_id], EventRow::read).optional())
        .db("reading an issue's event")?;
    row.map(|row| Decoder::new()?.decode(row)).transpose()
}

pub(crate) fn by_id(
    conn: &Connection,
    project_id: i64,
    event_id: &str,
) -> StoreResult<Option<StoredEvent>> {
    let row = conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM events WHERE project_id = ?1 AND event_id = ?2"
        ))
        .and_then(|mut stmt| {
            stmt.query_row(params![project_id, event_id], EventRow::read)
                .optional()
        })
        .db("reading an event")?;
    row.map(|row| Decoder::new()?.decode(row)).transpose()
}

/// An event row as stored, before its tags and data are decoded (decoding errors are the
/// store's, not rusqlite's, so they happen outside the row callback).
struct EventRow {
    event: StoredEvent,
    tags_json: String,
    data_zstd: Vec<u8>,
}

impl EventRow {
    fn read(row: &Row<'_>) -> rusqlite::Result<EventRow> {
        Ok(EventRow {
            event: StoredEvent {
                project_id: row.get(0)?,
                event_id: row.get(1)?,
                issue_id: row.get(2)?,
                event_type: row.get(3)?,
                timestamp: row.get(4)?,
                received: row.get(5)?,
                level: row.get(6)?,
                platform: row.get(7)?,
                title: row.get(8)?,
                culprit: row.get(9)?,
                environment: row.get(10)?,
                release: row.get(11)?,
                transaction: row.get(12)?,
                user_tag: row.get(13)?,
                tags: Vec::new(),
                data: serde_json::Value::Null,
                size: row.get(16)?,
            },
            tags_json: row.get(14)?,
            data_zstd: row.get(15)?,
        })
    }
}
