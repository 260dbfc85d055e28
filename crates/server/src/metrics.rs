//! Counters and queue gauges exposed at `/metrics` in Prometheus' text format.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Debug, Default)]
pub struct Metrics {
    pub envelopes_accepted: AtomicU64,
    pub events_accepted: AtomicU64,
    pub events_processed: AtomicU64,
    pub transactions_processed: AtomicU64,
    pub spans_processed: AtomicU64,
    pub events_filtered: AtomicU64,
    pub items_rejected: AtomicU64,
    pub requests_rejected: AtomicU64,
}

impl Metrics {
    pub fn inc(counter: &AtomicU64, by: u64) {
        counter.fetch_add(by, Ordering::Relaxed);
    }

    /// The counters, then the queue's gauges.
    pub fn render(&self, queue: &vigil_store::QueueStats, now: f64) -> String {
        let mut out = String::new();
        for (name, help, value) in [
            (
                "vigil_envelopes_accepted_total",
                "Envelopes acknowledged to SDKs (queued).",
                &self.envelopes_accepted,
            ),
            (
                "vigil_events_accepted_total",
                "Events in acknowledged envelopes.",
                &self.events_accepted,
            ),
            (
                "vigil_events_processed_total",
                "Events processed and stored by the workers.",
                &self.events_processed,
            ),
            (
                "vigil_transactions_processed_total",
                "Transactions (segments) processed and stored by the workers.",
                &self.transactions_processed,
            ),
            (
                "vigil_spans_processed_total",
                "Spans below a segment processed and stored by the workers.",
                &self.spans_processed,
            ),
            (
                "vigil_events_filtered_total",
                "Events and transactions a project's inbound filters dropped (not stored).",
                &self.events_filtered,
            ),
            (
                "vigil_items_rejected_total",
                "Envelope items dropped as invalid.",
                &self.items_rejected,
            ),
            (
                "vigil_requests_rejected_total",
                "Ingest requests answered 4xx.",
                &self.requests_rejected,
            ),
        ] {
            let value = value.load(Ordering::Relaxed);
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}"
            );
        }
        let lag = queue
            .oldest_received
            .map_or(0.0, |oldest| (now - oldest).max(0.0));
        for (name, help, value) in [
            (
                "vigil_queue_depth",
                "Envelopes accepted and not yet processed.",
                queue.depth as f64,
            ),
            (
                "vigil_queue_bytes",
                "Stored bytes of the queued envelopes.",
                queue.bytes as f64,
            ),
            (
                "vigil_queue_lag_seconds",
                "Age of the oldest queued envelope.",
                lag,
            ),
        ] {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}"
            );
        }
        out
    }
}
