//! Event attachments: the files SDKs send with an event, kept with the event id they name.

use async_trait::async_trait;

use crate::{EventAttachment, NewAttachment, StoreResult};

/// Event attachments, listed, downloaded and deleted by their event.
#[async_trait]
pub trait Attachments: Send + Sync {
    /// Keeps attachments, in one transaction; one whose `dedup_key` is stored already in its
    /// project is skipped, so an envelope processed twice keeps its files once.
    async fn save_attachments(&self, attachments: Vec<NewAttachment>) -> StoreResult<()>;
    /// The attachments of an event, in the order they arrived, without their bytes.
    async fn event_attachments(
        &self,
        project_id: i64,
        event_id: &str,
    ) -> StoreResult<Vec<EventAttachment>>;
    /// One attachment of an event, without its bytes.
    async fn event_attachment(
        &self,
        project_id: i64,
        event_id: &str,
        id: i64,
    ) -> StoreResult<Option<EventAttachment>>;
    /// The bytes of one attachment of an event.
    async fn attachment_payload(
        &self,
        project_id: i64,
        event_id: &str,
        id: i64,
    ) -> StoreResult<Option<Vec<u8>>>;
    /// Deletes one attachment of an event; whether there was one.
    async fn delete_attachment(
        &self,
        project_id: i64,
        event_id: &str,
        id: i64,
    ) -> StoreResult<bool>;
    /// The attachments of an issue's events, newest first, at most `limit`.
    async fn issue_attachments(
        &self,
        project_id: i64,
        issue_id: i64,
        limit: u64,
    ) -> StoreResult<Vec<EventAttachment>>;
}
