//! Vigil's domain and its persistence.
//!
//! One [`Store`] trait is the seam between the HTTP faces and the database: the server, the CLI
//! and the tests speak only to it, and each backend (SQLite for one node, PostgreSQL for several
//! nodes sharing one database) implements it with its own migrations. The trait is async so that
//! a networked backend fits; the SQLite backend runs its blocking work on tokio's blocking pool.
//! This crate knows nothing of HTTP or of how events are normalized and grouped: it receives
//! finished [`NewEvent`]s.

mod batch;
pub mod domain;
mod payload;
pub mod postgres;
pub mod prelude;
mod query;
pub mod queue;
mod rollup;
mod rows;
mod shared;
pub mod sqlite;
mod tag_pairs;
#[cfg(test)]
mod test_events;

#[doc(hidden)]
pub use batch::bench as encode_bench;
pub use domain::{
    Accounts, Alerts, Artifacts, Attachments, Discover, Events, IssueSearch, Issues, Maintenance,
    Outcomes, Projects, Quotas, Releases, Traces, Triage, UserReports,
};
pub use queue::{ClaimedEnvelope, IngestQueue, QueueStats, QueuedEnvelope};
pub use vigil_model::*;

/// What can go wrong talking to the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Database(String),
    #[error("{0} already exists")]
    Conflict(String),
    #[error("{0} not found")]
    NotFound(String),
    #[error("invalid input: {0}")]
    Invalid(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// Declares [`Store`] over the domain traits and implements it for every type that has them
/// all, so that the list is written once.
macro_rules! store_of_domains {
    ($(#[$doc:meta])* $($domain:ident),+ $(,)?) => {
        $(#[$doc])*
        pub trait Store: $($domain +)+ 'static {}

        impl<T> Store for T where T: $($domain +)+ 'static {}
    };
}

store_of_domains! {
    /// Everything Vigil keeps: the sum of the per-domain traits, so that the server, the CLI and
    /// the tests hold one `Arc<dyn Store>`. A new domain adds its trait here and in `domain/`,
    /// and an `impl` in each backend's file for that domain; nothing else changes. Methods of
    /// the domain traits are called on a `dyn Store` without importing them.
    Accounts, Projects, Events, Issues, IssueSearch, Releases, Traces, Alerts, Maintenance,
    Quotas,
    Outcomes,
    Discover,
    Triage,
    Attachments,
    UserReports,
    Artifacts,
}
