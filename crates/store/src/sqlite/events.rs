//! Event rows: the searched fields as columns, the whole event as compressed JSON.
//!
//! Reads are by issue or by id and always want the whole event, so the normalized JSON is one
//! zstd-compressed BLOB rather than spread over tables; what lists and filters need (time,
//! level, environment, release, …) is copied into columns. Compression happens before the
//! writer lock is taken (see [`Encoder`]), so it does not lengthen the write transaction, and
//! is against the first event of the same grouping hash where there is one
//! ([`super::references`]).

use std::collections::HashMap;
use std::sync::Arc;

use rusqlite::{params, Connection, OptionalExtension, Row};

use super::error::{corrupt, failed, DbContext};
use super::references::{self, Reference, MAX_REFERENCE_BYTES};
use super::sql_int;
use crate::{NewEvent, StoreResult, StoredEvent};

/// zstd level 1: ingest is the hot path and reads are rare; on event JSON the higher levels
/// gain only a little size for several times the CPU.
const ZSTD_LEVEL: i32 = 1;

const COLUMNS: &str = "project_id, event_id, issue_id, event_type, timestamp, received, level, \
                       platform, title, culprit, environment, release, transaction_name, \
                       user_tag, tags, data, size, reference_id";

/// What an event's `data` was compressed against.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum ReferenceLink {
    /// Nothing: compressed on its own.
    None,
    /// A stored reference event.
    Stored(i64),
    /// The reference this batch brings at this index of [`EncodedBatch::references`].
    New(usize),
}

/// An event with its JSON serialized and compressed, ready to insert.
pub(crate) struct EncodedEvent {
    /// The event; its `data` has been moved into `data_zstd`.
    pub event: NewEvent,
    pub data_zstd: Vec<u8>,
    pub reference: ReferenceLink,
    /// Bytes of the JSON before compression.
    pub size: i64,
    /// `tags` as a JSON array of `[key, value]` pairs.
    pub tags_json: String,
}

/// A reference event a batch brings: the first event of a hash not seen before.
pub(crate) struct NewReference {
    pub project_id: i64,
    pub hash: String,
    pub json: Arc<[u8]>,
    pub data_zstd: Vec<u8>,
}

/// A batch of events ready to insert, with the references they are compressed against.
pub(crate) struct EncodedBatch {
    pub events: Vec<EncodedEvent>,
    pub references: Vec<NewReference>,
}

/// Serializes and compresses events, outside any lock.
///
/// One per batch: it keeps its zstd contexts, and creating a context costs more than
/// compressing a typical event (it was a third of the ingest time when made per event).
pub(crate) struct Encoder {
    plain: zstd::bulk::Compressor<'static>,
    with_reference: zstd::bulk::Compressor<'static>,
    /// The dictionary loaded into `with_reference`.
    loaded: Option<Arc<[u8]>>,
}

impl Encoder {
    pub(crate) fn new() -> StoreResult<Encoder> {
        let context = || {
            zstd::bulk::Compressor::new(ZSTD_LEVEL)
                .map_err(|e| failed("creating a zstd context", e))
        };
        Ok(Encoder {
            plain: context()?,
            with_reference: context()?,
            loaded: None,
        })
    }

    /// Encodes a batch in order. `stored_reference` finds the reference of a hash that earlier
    /// batches stored (see [`super::references`]).
    pub(crate) fn encode_batch(
        &mut self,
        events: Vec<NewEvent>,
        mut stored_reference: impl FnMut(i64, &str) -> StoreResult<Option<Reference>>,
    ) -> StoreResult<EncodedBatch> {
        let mut references: Vec<NewReference> = Vec::new();
        let mut new_by_key: HashMap<(i64, String), usize> = HashMap::new();
        let mut encoded = Vec::with_capacity(events.len());
        for mut event in events {
            let data = std::mem::take(&mut event.data);
            let json =
                serde_json::to_vec(&data).map_err(|e| failed("serializing event data", e))?;
            drop(data);
            let hash = event
                .hashes
                .first()
                .filter(|_| json.len() <= MAX_REFERENCE_BYTES);
            let (reference, dictionary) = match hash {
                None => (ReferenceLink::None, None),
                Some(hash) => {
                    let key = (event.project_id, hash.clone());
                    if let Some(&index) = new_by_key.get(&key) {
                        let json = Arc::clone(&references[index].json);
                        (ReferenceLink::New(index), Some(json))
                    } else if let Some(stored) = stored_reference(event.project_id, hash)? {
                        (ReferenceLink::Stored(stored.id), Some(stored.json))
                    } else {
                        let own: Arc<[u8]> = Arc::from(json.as_slice());
                        let data_zstd = self
                            .plain
                            .compress(&json)
                            .map_err(|e| failed("compressing a reference event", e))?;
                        references.push(NewReference {
                            project_id: event.project_id,
                            hash: hash.clone(),
                            json: Arc::clone(&own),
                            data_zstd,
                        });
                        new_by_key.insert(key, references.len() - 1);
                        (ReferenceLink::New(references.len() - 1), Some(own))
                    }
                }
            };
            let data_zstd = match dictionary {
                Some(dictionary) => self.compress_against(&json, dictionary)?,
                None => self
                    .plain
                    .compress(&json)
                    .map_err(|e| failed("compressing event data", e))?,
            };
            let tags_json = serde_json::to_string(&event.tags)
                .map_err(|e| failed("serializing event tags", e))?;
            encoded.push(EncodedEvent {
                event,
                data_zstd,
                reference,
                size: i64::try_from(json.len()).unwrap_or(i64::MAX),
                tags_json,
            });
        }
        Ok(EncodedBatch {
            events: encoded,
            references,
        })
    }

    fn compress_against(&mut self, json: &[u8], dictionary: Arc<[u8]>) -> StoreResult<Vec<u8>> {
        let same = self
            .loaded
            .as_ref()
            .is_some_and(|loaded| Arc::ptr_eq(loaded, &dictionary));
        if !same {
            self.with_reference
                .set_dictionary(ZSTD_LEVEL, &dictionary)
                .map_err(|e| failed("loading a reference event", e))?;
            self.loaded = Some(dictionary);
        }
        self.with_reference
            .compress(json)
            .map_err(|e| failed("compressing event data", e))
    }
}

/// Decompresses the events of one read with its zstd contexts.
struct Decoder {
    plain: zstd::bulk::Decompressor<'static>,
    with_reference: zstd::bulk::Decompressor<'static>,
    /// The reference loaded into `with_reference`.
    loaded: Option<i64>,
}

impl Decoder {
    fn new() -> StoreResult<Decoder> {
        let context =
            || zstd::bulk::Decompressor::new().map_err(|e| failed("creating a zstd context", e));
        Ok(Decoder {
            plain: context()?,
            with_reference: context()?,
            loaded: None,
        })
    }

    fn decode(&mut self, conn: &Connection, row: EventRow) -> StoreResult<StoredEvent> {
        let EventRow {
            mut event,
            tags_json,
            data_zstd,
            reference_id,
        } = row;
        let what = || format!("event {}", event.event_id);
        event.tags = serde_json::from_str(&tags_json).map_err(|e| corrupt(&what(), e))?;
        // `size` is the exact length of the JSON, so it bounds the output buffer.
        let capacity = usize::try_from(event.size).map_err(|e| corrupt(&what(), e))?;
        let json = match reference_id {
            None => self.plain.decompress(&data_zstd, capacity),
            Some(id) => {
                if self.loaded != Some(id) {
                    let dictionary = references::json_by_id(conn, id)?;
                    self.with_reference
                        .set_dictionary(&dictionary)
                        .map_err(|e| corrupt(&what(), e))?;
                    self.loaded = Some(id);
                }
                self.with_reference.decompress(&data_zstd, capacity)
            }
        }
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

/// Inserts an event row; `reference_id` is the stored id of its [`ReferenceLink`].
pub(crate) fn insert(
    conn: &Connection,
    encoded: &EncodedEvent,
    issue_id: i64,
    reference_id: Option<i64>,
) -> StoreResult<()> {
    let e = &encoded.event;
    conn.prepare_cached(&format!(
        "INSERT INTO events ({COLUMNS}, message)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18,
                 ?19)"
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
            reference_id,
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
    rows.into_iter()
        .map(|row| decoder.decode(conn, row))
        .collect()
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
    row.map(|row| Decoder::new()?.decode(conn, row)).transpose()
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
    row.map(|row| Decoder::new()?.decode(conn, row)).transpose()
}

/// An event row as stored, before its tags and data are decoded (decoding errors are the
/// store's, not rusqlite's, so they happen outside the row callback).
struct EventRow {
    event: StoredEvent,
    tags_json: String,
    data_zstd: Vec<u8>,
    reference_id: Option<i64>,
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
            reference_id: row.get(17)?,
        })
    }
}
