//! The retention job: once an hour, across every node sharing the store, events older than the
//! retention window are deleted in bounded batches (see [`vigil_store::Store::delete_expired`]),
//! and the upload chunks no artifact bundle is made of any more.

use std::time::Duration;

use tokio::sync::watch;
use vigil_store::{RetentionPass, Store, StoreResult};

use crate::time::unix_now;
use crate::AppState;

/// The job's name in the store's job table.
const JOB: &str = "retention";
/// How often the job runs, cluster-wide.
const INTERVAL_SECS: f64 = 3600.0;
/// How often each node asks whether the job is due: a node that dies after claiming a run
/// delays it by one interval at most.
const POLL: Duration = Duration::from_secs(300);
/// Events per batch (one transaction): short enough that ingest's writes interleave.
const BATCH: u64 = 1000;
/// Pause between batches, for the same reason.
const PAUSE: Duration = Duration::from_millis(50);

/// Runs the job whenever it is due, until `shutdown` turns true.
pub fn spawn(state: &AppState, mut shutdown: watch::Receiver<bool>) -> tokio::task::JoinHandle<()> {
    let state = state.clone();
    tokio::spawn(async move {
        loop {
            if *shutdown.borrow() {
                return;
            }
            let retention = f64::from(state.config.retention_days) * 86_400.0;
            match state.store.claim_job(JOB, INTERVAL_SECS).await {
                Ok(true) => {
                    let before = unix_now() - retention;
                    match run(state.store.as_ref(), before, &mut shutdown).await {
                        Ok(total) if total != RetentionPass::default() => {
                            tracing::info!(
                                events = total.events,
                                issues = total.issues,
                                raw_items = total.raw_items,
                                attachments = total.attachments,
                                user_reports = total.user_reports,
                                retention_days = state.config.retention_days,
                                "retention: deleted what expired"
                            );
                        }
                        Ok(_) => tracing::debug!("retention: nothing expired"),
                        Err(err) => {
                            tracing::error!(%err, "retention pass failed; retrying next run")
                        }
                    }
                    prune_chunks(state.store.as_ref()).await;
                }
                Ok(false) => {}
                Err(err) => tracing::error!(%err, "claiming the retention job failed"),
            }
            tokio::select! {
                () = tokio::time::sleep(POLL) => {}
                _ = shutdown.changed() => {}
            }
        }
    })
}

/// How long an uploaded chunk that no bundle is made of is kept: a CI uploads chunks, then
/// assembles them within minutes.
const UNASSEMBLED_CHUNK_SECS: f64 = 86_400.0;
/// Chunks pruned per run at most (each up to 8 MiB).
const CHUNK_PRUNE_LIMIT: u64 = 1000;

/// Deletes the upload chunks no artifact bundle is made of (those of deleted bundles, and
/// uploads never assembled) once a day old.
async fn prune_chunks(store: &dyn Store) {
    match store
        .prune_chunks(unix_now() - UNASSEMBLED_CHUNK_SECS, CHUNK_PRUNE_LIMIT)
        .await
    {
        Ok(0) => {}
        Ok(chunks) => tracing::info!(chunks, "retention: deleted upload chunks no bundle uses"),
        Err(err) => tracing::error!(%err, "pruning upload chunks failed; retrying next run"),
    }
}

/// Deletes batch after batch until nothing older than `before` is left (or shutdown).
pub async fn run(
    store: &dyn Store,
    before: f64,
    shutdown: &mut watch::Receiver<bool>,
) -> StoreResult<RetentionPass> {
    let mut total = RetentionPass::default();
    loop {
        let pass = store.delete_expired(before, BATCH).await?;
        total.events += pass.events;
        total.issues += pass.issues;
        total.raw_items += pass.raw_items;
        total.attachments += pass.attachments;
        total.user_reports += pass.user_reports;
        total.transactions += pass.transactions;
        total.spans += pass.spans;
        if pass.events < BATCH
            && pass.raw_items < BATCH
            && pass.attachments < BATCH
            && pass.user_reports < BATCH
            && pass.transactions < BATCH
            && pass.spans < BATCH
        {
            return Ok(total);
        }
        tokio::select! {
            () = tokio::time::sleep(PAUSE) => {}
            _ = shutdown.changed() => return Ok(total),
        }
        if *shutdown.borrow() {
            return Ok(total);
        }
    }
}
