//! Per-item size limits of an envelope, checked when it is accepted: an envelope with one item
//! over its limit is refused whole (Relay answers 413 for the envelope, not per item), before
//! anything is queued.

use vigil_protocol::envelope::{Envelope, ItemType};

use super::error::IngestError;
use crate::config::Limits;
use crate::outcomes::{reason, OutcomeAggregator};
use vigil_store::Outcome;

/// [`check_limits`], counting every item of a refused envelope as `invalid` / `too_large` for
/// the project, as Relay does.
pub fn check_limits_counted(
    envelope: &Envelope,
    limits: &Limits,
    outcomes: &OutcomeAggregator,
    project_id: i64,
    received: f64,
) -> Result<(), IngestError> {
    check_limits(envelope, limits).inspect_err(|_| {
        outcomes.record_items(
            project_id,
            received,
            &envelope.items,
            Outcome::Invalid,
            reason::TOO_LARGE,
        );
    })
}

/// `ItemTooLarge` naming the first item type over its limit.
pub fn check_limits(envelope: &Envelope, limits: &Limits) -> Result<(), IngestError> {
    let mut attachments_size = 0usize;
    let mut attachment_count = 0usize;
    let mut session_count = 0usize;
    let mut sessions_size = 0usize;
    let mut client_reports_size = 0usize;
    for item in &envelope.items {
        let len = item.payload.len();
        let ty = item.ty();
        let over = |max: usize| len > max;
        let too_large = match &ty {
            ItemType::Event
            | ItemType::Transaction
            | ItemType::Feedback
            | ItemType::Security
            | ItemType::UserReport
            | ItemType::ReplayEvent => over(limits.max_event_size),
            ItemType::Attachment => {
                attachments_size += len;
                attachment_count += 1;
                over(limits.max_attachment_size)
                    || attachments_size > limits.max_attachments_size
                    || attachment_count > limits.max_attachment_count
            }
            ItemType::Session | ItemType::Sessions => {
                session_count += 1;
                sessions_size += len;
                session_count > limits.max_session_count || sessions_size > limits.max_sessions_size
            }
            ItemType::ClientReport => {
                client_reports_size += len;
                client_reports_size > limits.max_client_reports_size
            }
            ItemType::CheckIn => over(limits.max_check_in_size),
            ItemType::Span => over(limits.max_container_size),
            ItemType::Log | ItemType::OtelLog => {
                over(limits.max_log_size.max(limits.max_container_size))
            }
            ItemType::Profile | ItemType::ProfileChunk => over(limits.max_profile_size),
            ItemType::ReplayRecording | ItemType::ReplayVideo => over(limits.max_replay_size),
            _ => false,
        };
        if too_large {
            return Err(IngestError::ItemTooLarge(ty.as_str().to_string()));
        }
    }
    Ok(())
}
