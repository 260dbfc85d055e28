//! Background work: everything a node does that no request waits for, started in one place
//! ([`spawn`]) and stopped in one place ([`Jobs::join`]).
//!
//! What runs:
//! - the ingest **workers** ([`workers`]): they claim batches of the envelopes the ingest
//!   endpoints queued, turn each into store writes ([`process`]), evaluate the alert rules over
//!   the stored events ([`alerts::evaluate`]) and only then acknowledge the batch;
//! - the alert **senders** ([`alerts`]): one task drains the outbox's emails, one its webhooks
//!   and Slack messages; every node runs them, workers or not, and the store hands each
//!   notification to one sender at a time;
//! - **quotas** ([`quotas`]): each node writes the items it accepted to the hourly volume
//!   spike protection measures bursts against;
//! - **retention** ([`retention`]): once an hour across the nodes, what is older than the
//!   retention window is deleted in short batches;
//! - the **outcome flusher** ([`crate::outcomes::spawn_flusher`]): every few seconds, and once
//!   more at shutdown, the accept side's outcome counts are written.
//!
//! How it stops: every task watches one shutdown flag and stops when it turns true, after the
//! work in hand (a worker's batch, a sender's deliveries, a retention batch); [`Jobs::join`]
//! waits for that. Nothing acknowledged is lost by stopping: what is still queued stays queued
//! for the next start, and a claim not finished comes back after its lease.
//!
//! A new scheduled job (a cron clock, a rollup) is one more module here, started from
//! [`spawn`].

pub mod alerts;
pub mod artifacts;
pub mod process;
pub mod quotas;
pub mod retention;
pub mod workers;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::AppState;

/// How much background work this node does.
#[derive(Debug, Clone)]
pub struct JobOptions {
    /// Ingest workers (0: an accept-only node, whose queue other nodes drain).
    pub workers: usize,
    /// How the alert senders retry and batch.
    pub senders: alerts::SenderOptions,
}

/// The running background tasks of a node.
#[must_use = "dropping Jobs does not stop them: send the shutdown signal, then join"]
pub struct Jobs {
    tasks: Vec<JoinHandle<()>>,
}

/// Starts every background job of a node; they stop when `shutdown` turns true.
pub fn spawn(state: &AppState, options: JobOptions, shutdown: watch::Receiver<bool>) -> Jobs {
    let mut tasks = workers::spawn(state, options.workers, shutdown.clone());
    tasks.extend(alerts::spawn_senders(
        state,
        options.senders,
        shutdown.clone(),
    ));
    tasks.push(quotas::spawn(state, shutdown.clone()));
    tasks.push(retention::spawn(state, shutdown.clone()));
    tasks.push(crate::outcomes::spawn_flusher(state, shutdown));
    Jobs { tasks }
}

impl Jobs {
    /// Waits until every job has stopped (after the shutdown signal, each finishes the work in
    /// hand first). A job that panicked counts as stopped.
    pub async fn join(self) {
        for task in self.tasks {
            let _ = task.await;
        }
    }
}
