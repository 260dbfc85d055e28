//! Outcomes: every item an SDK sends ends in one — accepted, filtered, rate limited, invalid,
//! or discarded by the SDK itself (its client reports) — counted per project, hour, data
//! category, outcome and reason, as Sentry's Stats count them.
//!
//! Two places count them:
//! - the accept side (`ingest/`), for what it refuses before queueing (invalid items, items
//!   over a rate limit or a size limit, a full queue), through the shared [`OutcomeAggregator`]:
//!   summed in memory and written every few seconds, so that a refused request costs no store
//!   write;
//! - the workers (`jobs/process.rs`), for everything queued, written with the batch and once per
//!   queue entry however often it is processed.
//!
//! Which data category an item counts in, and how much, is Relay's (`Item::quantities`):
//! [`item_quantities`].

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;
use vigil_protocol::envelope::{Item, ItemType};
use vigil_store::{hour_of, DataCategory, Outcome, OutcomeRow, Store, StoreResult};

use crate::AppState;

/// How often the accept side's counts are written.
pub const FLUSH_INTERVAL: Duration = Duration::from_secs(5);

/// Relay's discard reasons Vigil gives (`relay_server::services::outcome::DiscardReason`).
pub mod reason {
    /// An event payload that is not a JSON object.
    pub const INVALID_JSON: &str = "invalid_json";
    /// An item whose payload could not be processed.
    pub const PAYLOAD: &str = "payload";
    pub const INVALID_TRANSACTION: &str = "invalid_transaction";
    pub const INVALID_SPAN: &str = "invalid_span";
    /// A security report body that is not a report.
    pub const SECURITY_REPORT: &str = "security_report";
    /// An envelope with an item over its size limit: every item of it.
    pub const TOO_LARGE: &str = "too_large";
    /// A queued envelope that kept failing and was set aside.
    pub const INTERNAL: &str = "internal";
    /// Over a DSN key's own rate limit (the reason code of its `X-Sentry-Rate-Limits`).
    pub const KEY_QUOTA: &str = "key_quota";
    /// Refused with 429 because the ingest queue is over its bound.
    pub const QUEUE_FULL: &str = "queue_full";
}

/// The `(category, quantity)` an item counts as, as Relay counts it: one per item (or the
/// container's `item_count`), attachments and logs also in bytes. Items Relay gives no category
/// (client reports, metrics, unknown types) count nothing.
pub fn item_quantities(item: &Item) -> Vec<(DataCategory, i64)> {
    let count = item
        .item_count()
        .map_or(1, |n| i64::try_from(n).unwrap_or(i64::MAX));
    let bytes = (item.payload.len() as i64).max(1);
    match item.ty() {
        ItemType::Event => vec![(DataCategory::Error, 1)],
        ItemType::Transaction => vec![(DataCategory::Transaction, 1)],
        ItemType::Security => vec![(DataCategory::Security, 1)],
        ItemType::Attachment => vec![
            (DataCategory::Attachment, bytes),
            (DataCategory::AttachmentItem, 1),
        ],
        ItemType::Session | ItemType::Sessions => vec![(DataCategory::Session, 1)],
        ItemType::Log | ItemType::OtelLog => vec![
            (DataCategory::LogByte, bytes),
            (DataCategory::LogItem, count),
        ],
        ItemType::UserReport | ItemType::Feedback => vec![(DataCategory::UserReportV2, 1)],
        ItemType::Profile => vec![(DataCategory::Profile, 1)],
        ItemType::ProfileChunk => vec![(DataCategory::ProfileChunk, 1)],
        ItemType::ReplayEvent | ItemType::ReplayRecording | ItemType::ReplayVideo => {
            vec![(DataCategory::Replay, 1)]
        }
        ItemType::CheckIn => vec![(DataCategory::Monitor, 1)],
        ItemType::Span => vec![(DataCategory::Span, count)],
        ItemType::TraceMetric => vec![(DataCategory::TraceMetric, count)],
        ItemType::ClientReport
        | ItemType::Nel
        | ItemType::Statsd
        | ItemType::MetricBuckets
        | ItemType::Unknown(_) => Vec::new(),
    }
}

type Key = (i64, i64, DataCategory, Outcome, String);

/// The accept side's outcome counts, summed in memory per project, hour, category, outcome and
/// reason until the next flush. Recording is a map update under a lock, no I/O.
///
/// The counts are written every [`FLUSH_INTERVAL`] and when the node stops; a node that
/// crashes loses the accept-side counts of its last few seconds (the workers' counts, written
/// with their batches, are not at risk).
#[derive(Debug, Default)]
pub struct OutcomeAggregator {
    counts: Mutex<HashMap<Key, (i64, i64)>>,
}

impl OutcomeAggregator {
    /// Counts `quantity` of `category` with `outcome` and `reason` for a project, in the hour
    /// of `timestamp` (unix seconds).
    pub fn record(
        &self,
        project_id: i64,
        timestamp: f64,
        category: DataCategory,
        outcome: Outcome,
        reason: &str,
        quantity: i64,
    ) {
        let key = (
            project_id,
            hour_of(timestamp),
            category,
            outcome,
            reason.to_owned(),
        );
        let mut counts = self
            .counts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let entry = counts.entry(key).or_insert((0, 0));
        entry.0 += quantity;
        entry.1 += 1;
    }

    /// Counts every item of an envelope (by [`item_quantities`]) with `outcome` and `reason`.
    pub fn record_items<'a>(
        &self,
        project_id: i64,
        timestamp: f64,
        items: impl IntoIterator<Item = &'a Item>,
        outcome: Outcome,
        reason: &str,
    ) {
        for item in items {
            for (category, quantity) in item_quantities(item) {
                self.record(project_id, timestamp, category, outcome, reason, quantity);
            }
        }
    }

    /// Takes the counts summed so far.
    fn take(&self) -> Vec<OutcomeRow> {
        let counts = std::mem::take(
            &mut *self
                .counts
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        );
        counts
            .into_iter()
            .map(
                |((project_id, hour, category, outcome, reason), (quantity, times_seen))| {
                    OutcomeRow {
                        project_id,
                        hour,
                        category,
                        outcome,
                        reason,
                        quantity,
                        times_seen,
                    }
                },
            )
            .collect()
    }

    /// Writes the counts summed so far; when the write fails they are kept for the next flush.
    pub async fn flush(&self, store: &dyn Store) -> StoreResult<()> {
        let rows = self.take();
        if rows.is_empty() {
            return Ok(());
        }
        match store.add_outcomes(rows.clone()).await {
            Ok(()) => Ok(()),
            Err(err) => {
                for row in rows {
                    let mut counts = self
                        .counts
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner);
                    let key = (
                        row.project_id,
                        row.hour,
                        row.category,
                        row.outcome,
                        row.reason,
                    );
                    let entry = counts.entry(key).or_insert((0, 0));
                    entry.0 += row.quantity;
                    entry.1 += row.times_seen;
                }
                Err(err)
            }
        }
    }
}

/// Writes the accept side's counts every [`FLUSH_INTERVAL`], and once more when `shutdown`
/// turns true.
pub fn spawn_flusher(state: &AppState, mut shutdown: watch::Receiver<bool>) -> JoinHandle<()> {
    let state = state.clone();
    tokio::spawn(async move {
        loop {
            let stopping = *shutdown.borrow();
            if let Err(err) = state.outcomes.flush(&*state.store).await {
                tracing::warn!(%err, "writing outcome counts failed; kept for the next try");
            }
            if stopping {
                return;
            }
            tokio::select! {
                () = tokio::time::sleep(FLUSH_INTERVAL) => {}
                _ = shutdown.changed() => {}
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use vigil_protocol::envelope::parse_envelope;

    #[test]
    fn items_count_as_relay_counts_them() {
        let envelope = parse_envelope(Bytes::from_static(
            b"{}\n{\"type\":\"event\"}\n{}\n{\"type\":\"attachment\",\"length\":5}\nhello\n\
              {\"type\":\"span\",\"item_count\":3}\n{}\n{\"type\":\"client_report\"}\n{}\n",
        ))
        .expect("envelope");
        let quantities: Vec<_> = envelope.items.iter().map(item_quantities).collect();
        assert_eq!(quantities[0], vec![(DataCategory::Error, 1)]);
        assert_eq!(
            quantities[1],
            vec![
                (DataCategory::Attachment, 5),
                (DataCategory::AttachmentItem, 1)
            ]
        );
        assert_eq!(quantities[2], vec![(DataCategory::Span, 3)]);
        assert!(quantities[3].is_empty());
    }

    #[test]
    fn records_are_summed_per_hour_and_reason() {
        let aggregator = OutcomeAggregator::default();
        let rl = Outcome::RateLimited;
        aggregator.record(1, 7_300.0, DataCategory::Error, rl, reason::KEY_QUOTA, 2);
        aggregator.record(1, 7_400.0, DataCategory::Error, rl, reason::KEY_QUOTA, 3);
        aggregator.record(1, 10_900.0, DataCategory::Error, rl, reason::KEY_QUOTA, 1);
        let mut rows = aggregator.take();
        rows.sort_by_key(|r| r.hour);
        assert_eq!(rows.len(), 2);
        assert_eq!(
            (rows[0].hour, rows[0].quantity, rows[0].times_seen),
            (7_200, 5, 2)
        );
        assert_eq!((rows[1].hour, rows[1].quantity), (10_800, 1));
        assert!(aggregator.take().is_empty(), "taken once");
    }
}
