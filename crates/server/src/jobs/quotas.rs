//! Writes the accepted counts ingest recorded to the store's hourly volume (the baseline of
//! spike protection) every [`FLUSH`], and deletes ended rate-limit windows and volume older
//! than the baseline needs every [`PRUNE`]. Every node runs it: each writes its own counts,
//! which the store adds up.

use std::time::{Duration, Instant};

use tokio::sync::watch;

use crate::ingest::quotas::BASELINE_HOURS;
use crate::time::unix_now;
use crate::AppState;

/// How often a node writes its counts: the most a restart loses of a node's hour.
const FLUSH: Duration = Duration::from_secs(1);
/// How often a node deletes what no quota reads any more.
const PRUNE: Duration = Duration::from_secs(600);

pub fn spawn(state: &AppState, mut shutdown: watch::Receiver<bool>) -> tokio::task::JoinHandle<()> {
    let state = state.clone();
    tokio::spawn(async move {
        let mut pruned = Instant::now();
        loop {
            let stopping = *shutdown.borrow();
            flush(&state).await;
            if stopping {
                return;
            }
            if pruned.elapsed() >= PRUNE {
                pruned = Instant::now();
                let now = unix_now() as i64;
                // A day beyond the baseline, so that no hour it reads is half deleted.
                let oldest = now - (BASELINE_HOURS + 24) * 3600;
                match state.store.prune_quotas(now, oldest).await {
                    Ok(rows) => tracing::debug!(rows, "pruned quota counters and hourly volume"),
                    Err(err) => tracing::warn!(%err, "pruning quota counters failed"),
                }
            }
            tokio::select! {
                () = tokio::time::sleep(FLUSH) => {}
                _ = shutdown.changed() => {}
            }
        }
    })
}

/// Writes the counts recorded since the last flush; on failure they are kept for the next one.
pub async fn flush(state: &AppState) {
    let counts = state.quotas.take_volume();
    if counts.is_empty() {
        return;
    }
    if let Err(err) = state.store.add_hourly_volume(&counts).await {
        tracing::warn!(%err, "writing hourly volume failed; retrying");
        state.quotas.restore_volume(counts);
    }
}
