//! Events written by the ingest workers and read back, and the envelope items kept raw.

use async_trait::async_trait;

use crate::{NewEvent, RawItem, SavedEvent, StoreResult, StoredEvent};

/// Events written by the ingest workers and read back, and the envelope items kept raw.
#[async_trait]
pub trait Events: Send + Sync {
    /// Writes events and upserts their issues (counts, first/last seen, distinct users, tag
    /// values, regression of resolved issues) in one transaction. Idempotent by
    /// `(project_id, event_id)`: an event stored before is reported `duplicate` and counts
    /// nothing again.
    async fn save_events(&self, events: Vec<NewEvent>) -> StoreResult<Vec<SavedEvent>>;
    /// Keeps envelope items that have no pipeline of their own yet, in one transaction. An item
    /// whose `dedup_key` is stored already in its project is skipped, so an envelope processed
    /// twice keeps its items once.
    async fn save_raw_items(&self, items: Vec<RawItem>) -> StoreResult<()>;
    async fn event_by_id(
        &self,
        project_id: i64,
        event_id: &str,
    ) -> StoreResult<Option<StoredEvent>>;
    /// Events of a project, newest first (Sentry's `GET /projects/{org}/{project}/events/`).
    async fn project_events(
        &self,
        project_id: i64,
        offset: u64,
        limit: u64,
    ) -> StoreResult<Vec<StoredEvent>>;
    /// Events of an issue, newest first.
    async fn issue_events(
        &self,
        issue_id: i64,
        offset: u64,
        limit: u64,
    ) -> StoreResult<Vec<StoredEvent>>;
    /// The newest (`latest = true`) or oldest event of an issue.
    async fn issue_edge_event(
        &self,
        issue_id: i64,
        latest: bool,
    ) -> StoreResult<Option<StoredEvent>>;
    /// `(older, newer)`: the ids of the events just before and after `event_id` in its issue,
    /// in the order of `issue_events`; `(None, None)` for an event not in the issue.
    async fn issue_event_neighbours(
        &self,
        issue_id: i64,
        project_id: i64,
        event_id: &str,
    ) -> StoreResult<(Option<String>, Option<String>)>;
    /// Envelope items kept raw, of one project and type, oldest first (for tests and later
    /// pipelines).
    async fn raw_items(&self, project_id: i64, item_type: &str) -> StoreResult<Vec<RawItem>>;
}
