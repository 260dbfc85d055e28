//! Reading event rows: the searched fields as columns, the whole event as compressed JSON
//! (decoded by [`crate::payload`], the same form SQLite keeps), often against a reference
//! event ([`super::references`]).

use async_trait::async_trait;
use deadpool_postgres::GenericClient;
use tokio_postgres::Row;

use super::references;
use super::sql::{self, get, sql_int};
use std::sync::Arc;

use super::PgStore;
use crate::payload::{self, Decoder, Encoder, Reference};
use crate::{Events, NewEvent, RawItem, SavedEvent, UnixTime};
use crate::{StoreError, StoreResult, StoredEvent};

pub(super) const COLUMNS: &str =
    "project_id, event_id, issue_id, event_type, timestamp, received, level, platform, title, \
     culprit, environment, release, transaction_name, user_tag, tags, data, size, reference_id";

/// An event row as stored, before its tags and data are decoded.
struct EventRow {
    event: StoredEvent,
    tags_json: String,
    data_zstd: Vec<u8>,
    reference_id: Option<i64>,
}

impl EventRow {
    fn read(row: &Row) -> StoreResult<EventRow> {
        Ok(EventRow {
            event: StoredEvent {
                project_id: get(row, 0)?,
                event_id: get(row, 1)?,
                issue_id: get(row, 2)?,
                event_type: get(row, 3)?,
                timestamp: get(row, 4)?,
                received: get(row, 5)?,
                level: get(row, 6)?,
                platform: get(row, 7)?,
                title: get(row, 8)?,
                culprit: get(row, 9)?,
                environment: get(row, 10)?,
                release: get(row, 11)?,
                transaction: get(row, 12)?,
                user_tag: get(row, 13)?,
                tags: Vec::new(),
                data: serde_json::Value::Null,
                size: get(row, 16)?,
            },
            tags_json: get(row, 14)?,
            data_zstd: get(row, 15)?,
            reference_id: get(row, 17)?,
        })
    }
}

/// Reads the references the rows need (one statement), then decompresses and parses the rows
/// on the blocking pool: an event can be megabytes.
pub(super) async fn decode<C: GenericClient>(
    client: &C,
    rows: Vec<Row>,
) -> StoreResult<Vec<StoredEvent>> {
    let rows = rows
        .iter()
        .map(EventRow::read)
        .collect::<StoreResult<Vec<_>>>()?;
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let mut reference_ids: Vec<i64> = rows.iter().filter_map(|row| row.reference_id).collect();
    reference_ids.sort_unstable();
    reference_ids.dedup();
    let references = references::by_ids(client, &reference_ids).await?;
    tokio::task::spawn_blocking(move || {
        let mut decoder = Decoder::new()?;
        rows.into_iter()
            .map(|row| {
                let reference = match row.reference_id {
                    None => None,
                    Some(id) => {
                        let json = references.get(&id).ok_or_else(|| {
                            StoreError::Database(format!(
                                "event {}: its reference event {id} is missing",
                                row.event.event_id
                            ))
                        })?;
                        Some((id, &json[..]))
                    }
                };
                decoder.decode(row.event, &row.tags_json, &row.data_zstd, reference)
            })
            .collect()
    })
    .await
    .map_err(|e| StoreError::Database(format!("decoding events failed: {e}")))?
}

/// Events of an issue, newest first.
pub(crate) async fn of_issue<C: GenericClient>(
    client: &C,
    issue_id: i64,
    offset: u64,
    limit: u64,
) -> StoreResult<Vec<StoredEvent>> {
    let rows = sql::query(
        client,
        &format!(
            "SELECT {COLUMNS} FROM events WHERE issue_id = $1
             ORDER BY timestamp DESC, received DESC, id DESC LIMIT $2 OFFSET $3"
        ),
        &[&issue_id, &sql_int(limit), &sql_int(offset)],
        "listing an issue's events",
    )
    .await?;
    decode(client, rows).await
}

/// The newest or the oldest event of an issue.
pub(crate) async fn edge_of_issue<C: GenericClient>(
    client: &C,
    issue_id: i64,
    latest: bool,
) -> StoreResult<Option<StoredEvent>> {
    let sql = if latest {
        format!(
            "SELECT {COLUMNS} FROM events WHERE issue_id = $1
             ORDER BY timestamp DESC, received DESC, id DESC LIMIT 1"
        )
    } else {
        format!(
            "SELECT {COLUMNS} FROM events WHERE issue_id = $1
             ORDER BY timestamp ASC, received ASC, id ASC LIMIT 1"
        )
    };
    let rows = sql::query(client, &sql, &[&issue_id], "reading an issue's event").await?;
    Ok(decode(client, rows).await?.pop())
}

pub(crate) async fn by_id<C: GenericClient>(
    client: &C,
    project_id: i64,
    event_id: &str,
) -> StoreResult<Option<StoredEvent>> {
    let rows = sql::query(
        client,
        &format!("SELECT {COLUMNS} FROM events WHERE project_id = $1 AND event_id = $2"),
        &[&project_id, &event_id],
        "reading an event",
    )
    .await?;
    Ok(decode(client, rows).await?.pop())
}

#[async_trait]
impl Events for PgStore {
    async fn save_events(&self, events: Vec<NewEvent>) -> StoreResult<Vec<SavedEvent>> {
        if events.is_empty() {
            return Ok(Vec::new());
        }
        events.iter().try_for_each(crate::batch::validate)?;
        let mut client = self.client().await?;
        // The references of the batch's hashes: from memory, else one statement for all.
        let mut missing: Vec<(i64, &str)> = events
            .iter()
            .filter_map(|e| payload::reference_hash(e).map(|hash| (e.project_id, hash)))
            .filter(|(project_id, hash)| self.references.get(*project_id, hash).is_none())
            .collect();
        missing.sort_unstable();
        missing.dedup();
        let loaded = super::references::load(&client, &missing).await?;
        for (key, reference) in &loaded {
            self.references
                .remember(key.0, key.1.clone(), reference.clone());
        }
        // Serialize and compress on the blocking pool.
        let cache = Arc::clone(&self.references);
        let encoded = tokio::task::spawn_blocking(move || {
            Encoder::new()?.encode_batch(events, |project_id, hash| {
                cache
                    .get(project_id, hash)
                    .or_else(|| loaded.get(&(project_id, hash.to_owned())).cloned())
            })
        })
        .await
        .map_err(|e| StoreError::Database(format!("encoding events failed: {e}")))??;
        let (saved, reference_ids) = super::ingest::save(&mut client, &encoded).await?;
        // Committed: later batches may compress against these.
        for (new, id) in encoded.references.into_iter().zip(reference_ids) {
            let reference = Reference { id, json: new.json };
            self.references
                .remember(new.project_id, new.hash, reference);
        }
        Ok(saved)
    }

    async fn save_raw_items(&self, items: Vec<RawItem>) -> StoreResult<()> {
        if items.is_empty() {
            return Ok(());
        }
        super::raw::save_items(&self.client().await?, &items).await
    }

    async fn add_client_reports(
        &self,
        project_id: i64,
        source: &str,
        received: UnixTime,
        counts: &[(String, String, i64)],
    ) -> StoreResult<bool> {
        let mut client = self.client().await?;
        super::raw::add_client_reports(&mut client, project_id, source, received, counts).await
    }

    async fn event_by_id(
        &self,
        project_id: i64,
        event_id: &str,
    ) -> StoreResult<Option<StoredEvent>> {
        by_id(&self.client().await?, project_id, event_id).await
    }

    async fn issue_events(
        &self,
        issue_id: i64,
        offset: u64,
        limit: u64,
    ) -> StoreResult<Vec<StoredEvent>> {
        of_issue(&self.client().await?, issue_id, offset, limit).await
    }

    async fn issue_edge_event(
        &self,
        issue_id: i64,
        latest: bool,
    ) -> StoreResult<Option<StoredEvent>> {
        edge_of_issue(&self.client().await?, issue_id, latest).await
    }

    async fn issue_event_neighbours(
        &self,
        issue_id: i64,
        project_id: i64,
        event_id: &str,
    ) -> StoreResult<(Option<String>, Option<String>)> {
        super::event_neighbours::neighbours(&self.client().await?, issue_id, project_id, event_id)
            .await
    }

    async fn raw_items(&self, project_id: i64, item_type: &str) -> StoreResult<Vec<RawItem>> {
        super::raw::items(&self.client().await?, project_id, item_type).await
    }

    async fn client_reports(&self, project_id: i64) -> StoreResult<Vec<(String, String, i64)>> {
        super::raw::client_reports(&self.client().await?, project_id).await
    }
}
