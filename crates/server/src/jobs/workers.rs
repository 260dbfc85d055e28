//! The processing side of the durable queue: workers claim batches of queued envelopes, process
//! them ([`super::process`]), write what a batch produced, and only then acknowledge the
//! entries.
//!
//! The write is several store calls, each its own transaction, in this order: the batch's
//! events (with the alert rules evaluated around them, so that firings are recorded before the
//! acknowledgement), its transactions and spans, its raw items, then its outcomes (what became
//! of each item, and the client reports' counts), the whole batch's in one transaction. A crash
//! at any point, between two of these calls included, leaves the entries unacknowledged in the
//! queue, and processing them again is harmless: the store skips events it already has (by
//! project and event id), transactions and spans it already has (by their ids), and raw items
//! and outcomes already kept for their queue entry.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tracing::Instrument;
use vigil_processing::filter::Filters;
use vigil_processing::performance::Thresholds;
use vigil_processing::symbolicate::Symbolication;
use vigil_processing::NormalizeContext;
use vigil_protocol::envelope::{parse_envelope, Envelope};
use vigil_store::{
    ClaimedEnvelope, PerformanceSettings, QueuedEnvelope, ScrubbingSettings, SpanBatch, StoreError,
};

use super::process::{accept_envelope, set_aside, Accepted};
use crate::metrics::Metrics;
use crate::AppState;

/// Envelopes per batch: large enough that one transaction and one fsync carry many events,
/// small enough that a batch stays a few megabytes.
const BATCH_SIZE: usize = 256;
/// How long a claimed batch is held before another worker may take it over.
const LEASE_SECS: f64 = 120.0;
/// After this many claims an entry that still fails is set aside (logged and removed) so that
/// it cannot block the queue forever.
const MAX_ATTEMPTS: i64 = 5;
/// How long an idle worker waits for a signal before looking at the queue again.
const IDLE_POLL: Duration = Duration::from_millis(200);
/// Pause after a store error before the batch is tried again.
const RETRY_PAUSE: Duration = Duration::from_secs(1);

/// Starts `count` workers (0: none, an accept-only node); they stop when `shutdown` turns
/// true, after their current batch.
pub fn spawn(
    state: &AppState,
    count: usize,
    shutdown: watch::Receiver<bool>,
) -> Vec<tokio::task::JoinHandle<()>> {
    (0..count)
        .map(|_| tokio::spawn(run_worker(state.clone(), shutdown.clone())))
        .collect()
}

async fn run_worker(state: AppState, mut shutdown: watch::Receiver<bool>) {
    loop {
        if *shutdown.borrow() {
            return;
        }
        let claimed = match state.queue.claim(BATCH_SIZE, LEASE_SECS).await {
            Ok(claimed) => claimed,
            Err(err) => {
                tracing::error!(%err, "claiming queued envelopes failed");
                tokio::time::sleep(RETRY_PAUSE).await;
                continue;
            }
        };
        if claimed.is_empty() {
            tokio::select! {
                () = state.queue_signal.notified() => {}
                () = tokio::time::sleep(IDLE_POLL) => {}
                _ = shutdown.changed() => {}
            }
            continue;
        }
        let span = tracing::info_span!("batch", envelopes = claimed.len());
        process_batch(&state, claimed).instrument(span).await;
    }
}

/// Processes a batch and writes it, retrying until the writes succeed (a failed write is
/// processed again from the queued bytes, so the processed events are moved into the store, not
/// copied); acknowledges the entries after the commit.
async fn process_batch(state: &AppState, claimed: Vec<ClaimedEnvelope>) {
    let ids: Vec<i64> = claimed.iter().map(|c| c.id).collect();
    let settings = Arc::new(BatchSettings {
        thresholds: thresholds_of(state, &claimed).await,
        scrubbing: scrubbing_of(state, &claimed).await,
        filters: filters_of(state, &claimed).await,
        symbolication: symbolication_of(state, &claimed).await,
    });
    let claimed = Arc::new(claimed);
    let retention_days = state.config.retention_days;
    loop {
        let input = Arc::clone(&claimed);
        let settings = Arc::clone(&settings);
        let batch =
            match tokio::task::spawn_blocking(move || process(&input, retention_days, &settings))
                .await
            {
                Ok(batch) => batch,
                Err(err) => {
                    // A panic in processing: leave the entries to be claimed again after the lease
                    // (and set aside after MAX_ATTEMPTS).
                    tracing::error!(%err, "processing a batch panicked");
                    return;
                }
            };
        let events: usize = batch.iter().map(|a| a.events.len()).sum();
        let transactions: usize = batch.iter().map(|a| a.spans.transactions.len()).sum();
        let spans: usize = batch.iter().map(|a| a.spans.spans.len()).sum();
        let filtered: usize = batch.iter().map(|a| a.filtered.len()).sum();
        match write(state, batch).await {
            Ok(()) => {
                Metrics::inc(&state.metrics.events_processed, events as u64);
                Metrics::inc(&state.metrics.events_filtered, filtered as u64);
                Metrics::inc(&state.metrics.transactions_processed, transactions as u64);
                Metrics::inc(&state.metrics.spans_processed, spans as u64);
                break;
            }
            Err(err) => {
                tracing::error!(%err, "writing a processed batch failed; retrying");
                tokio::time::sleep(RETRY_PAUSE).await;
            }
        }
    }
    if let Err(err) = state.queue.ack(&ids).await {
        // The batch is stored; it will be processed again after the lease and count once.
        tracing::error!(%err, "acknowledging a written batch failed");
    }
}

/// The source-map lookup of each project in a batch: the store's artifact bundles behind this
/// node's caches (nothing is read until an event has frames to map).
async fn symbolication_of(
    state: &AppState,
    claimed: &[ClaimedEnvelope],
) -> HashMap<i64, Symbolication> {
    let projects: BTreeSet<i64> = claimed.iter().map(|c| c.envelope.project_id).collect();
    let mut handles = HashMap::new();
    for project_id in projects {
        let has_uploads = state
            .artifacts
            .has_uploads(state.store.as_ref(), project_id)
            .await;
        let lookup = state.artifacts.lookup(Arc::clone(&state.store), project_id);
        let caches = Arc::clone(&state.sourcemap_caches);
        handles.insert(project_id, Symbolication::new(lookup, caches, has_uploads));
    }
    handles
}

/// The performance-issue thresholds of each project in a batch (cached a few seconds: every
/// batch asks); Sentry's defaults for a project whose settings cannot be read (a problem found
/// with them is better than none).
async fn thresholds_of(state: &AppState, claimed: &[ClaimedEnvelope]) -> HashMap<i64, Thresholds> {
    let projects: BTreeSet<i64> = claimed.iter().map(|c| c.envelope.project_id).collect();
    let mut thresholds = HashMap::new();
    for project_id in projects {
        let settings = state
            .performance_settings
            .get_or_load(project_id, || state.store.performance_settings(project_id))
            .await
            .unwrap_or_else(|err| {
                tracing::warn!(project_id, %err, "reading performance settings failed; defaults used");
                PerformanceSettings::default()
            });
        thresholds.insert(
            project_id,
            Thresholds {
                n_plus_one_min_count: settings.n_plus_one_min_count,
                n_plus_one_min_total_ms: settings.n_plus_one_min_total_ms,
                slow_db_query_ms: settings.slow_db_query_ms,
            },
        );
    }
    thresholds
}

/// The data-scrubbing settings of each project in a batch (cached a few seconds, like the
/// thresholds). Unlike them, a project's settings that cannot be read are asked for again until
/// they can: scrubbing with Sentry's defaults instead could store what the project asked to
/// have scrubbed (its own sensitive fields, its IP addresses).
async fn scrubbing_of(
    state: &AppState,
    claimed: &[ClaimedEnvelope],
) -> HashMap<i64, ScrubbingSettings> {
    let projects: BTreeSet<i64> = claimed.iter().map(|c| c.envelope.project_id).collect();
    let mut scrubbing = HashMap::new();
    for project_id in projects {
        let settings = loop {
            let read = state
                .scrubbing_settings
                .get_or_load(project_id, || state.store.scrubbing_settings(project_id))
                .await;
            match read {
                Ok(settings) => break settings,
                Err(err) => {
                    tracing::error!(project_id, %err, "reading data-scrubbing settings failed; retrying");
                    tokio::time::sleep(RETRY_PAUSE).await;
                }
            }
        };
        scrubbing.insert(project_id, settings);
    }
    scrubbing
}

/// The inbound filters of each project in a batch, compiled once per read (cached a few
/// seconds, like the scrubbing settings). A read that fails is tried again until it succeeds:
/// falling back to the defaults could store what the project filters out, or drop what it
/// turned a filter off for.
async fn filters_of(state: &AppState, claimed: &[ClaimedEnvelope]) -> HashMap<i64, Arc<Filters>> {
    let projects: BTreeSet<i64> = claimed.iter().map(|c| c.envelope.project_id).collect();
    let mut filters = HashMap::new();
    for project_id in projects {
        let compiled = loop {
            let read = state
                .inbound_filters
                .get_or_load(project_id, || async {
                    let settings = state.store.inbound_filters(project_id).await?;
                    Ok::<_, StoreError>(Arc::new(Filters::new(settings)))
                })
                .await;
            match read {
                Ok(compiled) => break compiled,
                Err(err) => {
                    tracing::error!(project_id, %err, "reading inbound filters failed; retrying");
                    tokio::time::sleep(RETRY_PAUSE).await;
                }
            }
        };
        filters.insert(project_id, compiled);
    }
    filters
}

/// What processing needs of each project in a batch, by project id, read once per batch.
struct BatchSettings {
    thresholds: HashMap<i64, Thresholds>,
    scrubbing: HashMap<i64, ScrubbingSettings>,
    filters: HashMap<i64, Arc<Filters>>,
    /// Each project's uploaded source maps, as symbolication looks them up.
    symbolication: HashMap<i64, Symbolication>,
}

/// Turns every claimed envelope into what the store keeps.
fn process(
    claimed: &[ClaimedEnvelope],
    retention_days: u32,
    settings: &BatchSettings,
) -> Vec<Accepted> {
    let defaults = Thresholds::default();
    claimed
        .iter()
        .filter_map(|entry| {
            let queued = &entry.envelope;
            let envelope = match parse_envelope(queued.body.clone().into()) {
                Ok(envelope) => envelope,
                Err(err) => {
                    tracing::error!(id = entry.id, %err, "queued envelope does not parse; dropped");
                    return None;
                }
            };
            // The entry's id and receive time: stable across re-processing, and never the same
            // for two entries (an id a backend reuses comes with a later receive time).
            let source = format!("q{}-{:x}", entry.id, queued.received.to_bits());
            if entry.attempts > MAX_ATTEMPTS {
                tracing::error!(
                    id = entry.id,
                    attempts = entry.attempts,
                    "queued envelope keeps failing; dropped"
                );
                return Some(set_aside(
                    &envelope,
                    queued.project_id,
                    queued.received,
                    &source,
                ));
            }
            let ctx = context_of(queued, &envelope, retention_days, settings);
            let thresholds = settings.thresholds.get(&queued.project_id);
            let thresholds = thresholds.unwrap_or(&defaults);
            let accepted = accept_envelope(&envelope, queued.project_id, &ctx, &source, thresholds);
            for reason in &accepted.invalid {
                tracing::warn!(id = entry.id, reason, "queued item dropped");
            }
            Some(accepted)
        })
        .collect()
}

/// The context an envelope's items are normalized with: how and when it arrived, and its
/// project's settings.
fn context_of(
    queued: &QueuedEnvelope,
    envelope: &Envelope,
    retention_days: u32,
    settings: &BatchSettings,
) -> NormalizeContext {
    NormalizeContext {
        received: queued.received,
        sent_at: envelope.sent_at(),
        client_ip: queued.client_ip.clone(),
        envelope_event_id: envelope.event_id(),
        client_sdk: queued.client_sdk.clone(),
        retention_days,
        // Every project of the batch was read by `scrubbing_of`.
        scrubbing: settings
            .scrubbing
            .get(&queued.project_id)
            .cloned()
            .unwrap_or_default(),
        // Likewise read by `filters_of`.
        filters: settings
            .filters
            .get(&queued.project_id)
            .cloned()
            .unwrap_or_default(),
        symbolication: settings.symbolication.get(&queued.project_id).cloned(),
    }
}

/// Writes a processed batch: the events in one store call (alert rules evaluated around it),
/// then the transactions and spans, the raw items, attachments, user reports and the outcomes, one call each (see the
/// module doc for why a crash between two calls is harmless).
async fn write(state: &AppState, batch: Vec<Accepted>) -> Result<(), StoreError> {
    let mut events = Vec::new();
    let mut spans = SpanBatch::default();
    let mut raw = Vec::new();
    let mut attachments = Vec::new();
    let mut user_reports = Vec::new();
    let mut outcomes = Vec::new();
    for mut accepted in batch {
        let delivery = accepted.delivery_outcomes();
        // An envelope that counts nothing (only metrics or unknown items) needs no key.
        if !delivery.rows.is_empty() {
            outcomes.push(delivery);
        }
        events.extend(accepted.events);
        spans.transactions.extend(accepted.spans.transactions);
        spans.spans.extend(accepted.spans.spans);
        raw.extend(accepted.raw_items);
        attachments.extend(accepted.attachments);
        user_reports.extend(accepted.user_reports);
    }
    if !events.is_empty() {
        // Alerts fire before the batch is acknowledged: see `alerts::evaluate`.
        let pending = super::alerts::evaluate::prepare(state, &events).await?;
        let saved = state.store.save_events(events).await?;
        super::alerts::evaluate::fire(state, pending, &saved).await?;
    }
    if !spans.transactions.is_empty() || !spans.spans.is_empty() {
        state.store.save_spans(spans).await?;
    }
    if !raw.is_empty() {
        state.store.save_raw_items(raw).await?;
    }
    if !attachments.is_empty() {
        state.store.save_attachments(attachments).await?;
    }
    if !user_reports.is_empty() {
        state.store.save_user_reports(user_reports).await?;
    }
    state.store.add_delivery_outcomes(outcomes).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    use vigil_store::InboundFilters;

    #[test]
    fn each_envelope_is_normalized_with_its_projects_scrubbing_settings() {
        let strict = ScrubbingSettings {
            scrub_ip_addresses: true,
            sensitive_fields: vec!["iban".into()],
            ..ScrubbingSettings::default()
        };
        let settings = BatchSettings {
            thresholds: HashMap::new(),
            scrubbing: HashMap::from([(7, strict.clone())]),
            filters: HashMap::from([(7, Arc::new(Filters::new(InboundFilters::none())))]),
            symbolication: HashMap::new(),
        };
        let body = b"{\"event_id\":\"9ec79c33ec9942ab8353589fcb2e04dc\"}\n".to_vec();
        let envelope = parse_envelope(body.clone().into()).expect("envelope");
        let queued = |project_id| QueuedEnvelope {
            project_id,
            received: 1_700_000_000.0,
            client_ip: Some("10.1.2.3".into()),
            client_sdk: None,
            body: body.clone(),
        };
        let ctx = context_of(&queued(7), &envelope, 30, &settings);
        assert_eq!(ctx.scrubbing, strict);
        assert_eq!(ctx.filters.settings(), &InboundFilters::none());
        assert_eq!(ctx.retention_days, 30);
        assert_eq!(ctx.client_ip.as_deref(), Some("10.1.2.3"));
        let other = context_of(&queued(8), &envelope, 30, &settings);
        assert_eq!(other.scrubbing, ScrubbingSettings::default());
        assert_eq!(other.filters.settings(), &InboundFilters::default());
        assert!(ctx.symbolication.is_none() && other.symbolication.is_none());
    }
}
