//! Counters exposed at `/metrics` in Prometheus' text format.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Debug, Default)]
pub struct Metrics {
    pub envelopes_accepted: AtomicU64,
    pub events_accepted: AtomicU64,
    pub items_rejected: AtomicU64,
    pub requests_rejected: AtomicU64,
}

impl Metrics {
    pub fn inc(counter: &AtomicU64, by: u64) {
        counter.fetch_add(by, Ordering::Relaxed);
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        for (name, help, value) in [
            (
                "vigil_envelopes_accepted_total",
                "Ingest requests answered 200.",
                &self.envelopes_accepted,
            ),
            (
                "vigil_events_accepted_total",
                "Error and message events stored.",
                &self.events_accepted,
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
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}",
                value.load(Ordering::Relaxed)
            );
        }
        out
    }
}
