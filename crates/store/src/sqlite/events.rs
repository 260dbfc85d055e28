//! Event rows: the searched fields as columns, the whole event as compressed JSON.
//!
//! Reads are by issue or by id and always want the whole event, so the normalized JSON is one
//! zstd-compressed BLOB rather than spread over tables; what lists and filters need (time,
//! level, environment, release, …) is copied into columns. Compression happens before the
//! writer lock is taken (see [`Encoder`]), so it does not lengthen the write transaction, and
//! is against the first event of the same grouping hash where there is one
//! ([`super::references`]).

use std::collections::HashMap;
use std::sync::{Arc, LazyLock};

use async_trait::async_trait;
use rusqlite::{params, Connection, OptionalExtension, Params};

use super::error::DbContext;
use super::references;
use super::sql_int;
use super::statements::records;
use super::SqliteStore;
use crate::batch::{self, LoadedReferences};
use crate::payload::EncodedEvent;
use crate::shared::{event_order, EventRow, EVENT_COLUMNS};
use crate::{Events, NewEvent, RawItem, SavedEvent};
use crate::{StoreResult, StoredEvent};

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

/// The statement inserting an event row, made once: it is looked up for every event.
static INSERT_EVENT: LazyLock<String> = LazyLock::new(|| {
    format!(
        "INSERT INTO events ({EVENT_COLUMNS}, message, trace_id)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18,
                 ?19, ?20)"
    )
});

/// Inserts an event row; `reference_id` is the stored id of its [`ReferenceLink`].
pub(crate) fn insert(
    conn: &Connection,
    encoded: &EncodedEvent,
    issue_id: i64,
    reference_id: Option<i64>,
) -> StoreResult<()> {
    let e = &encoded.event;
    let inserted = conn.prepare_cached(&INSERT_EVENT).and_then(|mut stmt| {
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
            e.trace_id,
        ])
    });
    // The event's name only on failure: formatting it for every event costs an allocation.
    if let Err(error) = inserted {
        return Err(error).db(&format!("event {}", e.event_id));
    }
    Ok(())
}

/// The events of a trace in an organization's projects, oldest first.
pub(crate) fn of_trace(
    conn: &Connection,
    organization_id: i64,
    trace_id: &str,
) -> StoreResult<Vec<StoredEvent>> {
    read_events(
        conn,
        &format!(
            "SELECT {} FROM events e JOIN projects p ON p.id = e.project_id
             WHERE e.trace_id = ?1 AND p.organization_id = ?2
             ORDER BY e.timestamp LIMIT 1000",
            EVENT_COLUMNS
                .split(", ")
                .map(|c| format!("e.{}", c.trim()))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        params![trace_id, organization_id],
        "reading a trace's events",
    )
}

/// The events a statement selects by [`EVENT_COLUMNS`], decoded, each reference event they
/// need read once.
pub(super) fn read_events(
    conn: &Connection,
    sql: &str,
    params: impl Params,
    what: &str,
) -> StoreResult<Vec<StoredEvent>> {
    let rows: Vec<EventRow> = records(conn, sql, params, what)?;
    let references = EventRow::reference_ids(&rows)
        .into_iter()
        .map(|id| Ok((id, references::json_by_id(conn, id)?)))
        .collect::<StoreResult<HashMap<_, _>>>()?;
    EventRow::decode_all(rows, &references)
}

#[async_trait]
impl Events for SqliteStore {
    async fn save_events(&self, events: Vec<NewEvent>) -> StoreResult<Vec<SavedEvent>> {
        if events.is_empty() {
            return Ok(Vec::new());
        }
        events.iter().try_for_each(batch::validate)?;
        let cache = Arc::clone(&self.references);
        self.blocking(move |connections| {
            // Serialize and compress before taking the writer, which other batches wait for,
            // against the references of the batch's hashes: from memory, else from a reader.
            let mut loaded = LoadedReferences::new();
            for (project_id, hash) in batch::uncached_references(&events, &cache) {
                if let Some(reference) =
                    connections.read(|conn| references::load(conn, project_id, hash))?
                {
                    loaded.insert((project_id, hash.to_owned()), reference);
                }
            }
            let encoded = batch::encode(events, &cache, loaded)?;
            let (saved, reference_ids) =
                connections.write(|conn| super::ingest::save(conn, &encoded))?;
            batch::remember_stored(&cache, encoded, reference_ids);
            Ok(saved)
        })
        .await
    }

    async fn save_raw_items(&self, items: Vec<RawItem>) -> StoreResult<()> {
        if items.is_empty() {
            return Ok(());
        }
        self.write(move |conn| super::raw::save_items(conn, &items))
            .await
    }

    async fn event_by_id(
        &self,
        project_id: i64,
        event_id: &str,
    ) -> StoreResult<Option<StoredEvent>> {
        let event_id = event_id.to_owned();
        self.read(move |conn| {
            read_events(
                conn,
                &format!(
                    "SELECT {EVENT_COLUMNS} FROM events WHERE project_id = ?1 AND event_id = ?2"
                ),
                params![project_id, event_id],
                "reading an event",
            )
            .map(|found| found.into_iter().next())
        })
        .await
    }

    async fn project_events(
        &self,
        project_id: i64,
        offset: u64,
        limit: u64,
    ) -> StoreResult<Vec<StoredEvent>> {
        self.read(move |conn| {
            read_events(
                conn,
                &format!(
                    "SELECT {EVENT_COLUMNS} FROM events WHERE project_id = ?1
                     ORDER BY {} LIMIT ?2 OFFSET ?3",
                    event_order(true)
                ),
                params![project_id, sql_int(limit), sql_int(offset)],
                "listing a project's events",
            )
        })
        .await
    }

    async fn issue_events(
        &self,
        issue_id: i64,
        offset: u64,
        limit: u64,
    ) -> StoreResult<Vec<StoredEvent>> {
        self.read(move |conn| {
            read_events(
                conn,
                &format!(
                    "SELECT {EVENT_COLUMNS} FROM events WHERE issue_id = ?1
                     ORDER BY {} LIMIT ?2 OFFSET ?3",
                    event_order(true)
                ),
                params![issue_id, sql_int(limit), sql_int(offset)],
                "listing an issue's events",
            )
        })
        .await
    }

    async fn issue_edge_event(
        &self,
        issue_id: i64,
        latest: bool,
    ) -> StoreResult<Option<StoredEvent>> {
        self.read(move |conn| {
            read_events(
                conn,
                &format!(
                    "SELECT {EVENT_COLUMNS} FROM events WHERE issue_id = ?1 ORDER BY {} LIMIT 1",
                    event_order(latest)
                ),
                [issue_id],
                "reading an issue's event",
            )
            .map(|found| found.into_iter().next())
        })
        .await
    }

    async fn issue_event_neighbours(
        &self,
        issue_id: i64,
        project_id: i64,
        event_id: &str,
    ) -> StoreResult<(Option<String>, Option<String>)> {
        let event_id = event_id.to_owned();
        self.read(move |conn| {
            super::event_neighbours::neighbours(conn, issue_id, project_id, &event_id)
        })
        .await
    }

    async fn raw_items(&self, project_id: i64, item_type: &str) -> StoreResult<Vec<RawItem>> {
        let item_type = item_type.to_owned();
        self.read(move |conn| super::raw::items(conn, project_id, &item_type))
            .await
    }
}
