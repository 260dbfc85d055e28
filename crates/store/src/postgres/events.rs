//! Reading event rows: the searched fields as columns, the whole event as compressed JSON
//! (decoded by [`crate::payload`], the same form SQLite keeps), often against a reference
//! event ([`super::references`]).

use async_trait::async_trait;
use deadpool_postgres::{Client, GenericClient};
use tokio_postgres::Row;

use std::sync::Arc;

use super::references;
use super::sql::{self, sql_int, Params};
use super::PgStore;
use crate::batch;
use crate::rows::Record;
use crate::shared::{event_order, EventRow};
use crate::{Events, NewEvent, RawItem, SavedEvent};
use crate::{StoreError, StoreResult, StoredEvent};

/// What other domains' reads of event rows select (a trace's errors).
pub(super) use crate::shared::EVENT_COLUMNS as COLUMNS;

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
    let references = references::by_ids(client, &EventRow::reference_ids(&rows)).await?;
    tokio::task::spawn_blocking(move || EventRow::decode_all(rows, &references))
        .await
        .map_err(|e| StoreError::Database(format!("decoding events failed: {e}")))?
}

/// The events a statement selects by [`COLUMNS`], decoded.
pub(super) async fn read_events(
    client: &Client,
    sql: &str,
    params: &Params<'_>,
    what: &str,
) -> StoreResult<Vec<StoredEvent>> {
    decode(client, sql::query(client, sql, params, what).await?).await
}

#[async_trait]
impl Events for PgStore {
    async fn save_events(&self, events: Vec<NewEvent>) -> StoreResult<Vec<SavedEvent>> {
        if events.is_empty() {
            return Ok(Vec::new());
        }
        events.iter().try_for_each(batch::validate)?;
        let mut client = self.client().await?;
        // The references of the batch's hashes: from memory, else one statement for all.
        let loaded = references::load(
            &client,
            &batch::uncached_references(&events, &self.references),
        )
        .await?;
        // Serialize and compress on the blocking pool.
        let cache = Arc::clone(&self.references);
        let encoded = tokio::task::spawn_blocking(move || batch::encode(events, &cache, loaded))
            .await
            .map_err(|e| StoreError::Database(format!("encoding events failed: {e}")))??;
        let (saved, reference_ids) = super::ingest::save(&mut client, &encoded).await?;
        batch::remember_stored(&self.references, encoded, reference_ids);
        Ok(saved)
    }

    async fn save_raw_items(&self, items: Vec<RawItem>) -> StoreResult<()> {
        if items.is_empty() {
            return Ok(());
        }
        super::raw::save_items(&self.client().await?, &items).await
    }

    async fn event_by_id(
        &self,
        project_id: i64,
        event_id: &str,
    ) -> StoreResult<Option<StoredEvent>> {
        read_events(
            &self.client().await?,
            &format!("SELECT {COLUMNS} FROM events WHERE project_id = $1 AND event_id = $2"),
            &[&project_id, &event_id],
            "reading an event",
        )
        .await
        .map(|found| found.into_iter().next())
    }

    async fn project_events(
        &self,
        project_id: i64,
        offset: u64,
        limit: u64,
    ) -> StoreResult<Vec<StoredEvent>> {
        read_events(
            &self.client().await?,
            &format!(
                "SELECT {COLUMNS} FROM events WHERE project_id = $1
                 ORDER BY {} LIMIT $2 OFFSET $3",
                event_order(true)
            ),
            &[&project_id, &sql_int(limit), &sql_int(offset)],
            "listing a project's events",
        )
        .await
    }

    async fn issue_events(
        &self,
        issue_id: i64,
        offset: u64,
        limit: u64,
    ) -> StoreResult<Vec<StoredEvent>> {
        read_events(
            &self.client().await?,
            &format!(
                "SELECT {COLUMNS} FROM events WHERE issue_id = $1
                 ORDER BY {} LIMIT $2 OFFSET $3",
                event_order(true)
            ),
            &[&issue_id, &sql_int(limit), &sql_int(offset)],
            "listing an issue's events",
        )
        .await
    }

    async fn issue_edge_event(
        &self,
        issue_id: i64,
        latest: bool,
    ) -> StoreResult<Option<StoredEvent>> {
        read_events(
            &self.client().await?,
            &format!(
                "SELECT {COLUMNS} FROM events WHERE issue_id = $1 ORDER BY {} LIMIT 1",
                event_order(latest)
            ),
            &[&issue_id],
            "reading an issue's event",
        )
        .await
        .map(|found| found.into_iter().next())
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
}
