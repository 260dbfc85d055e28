//! Vigil's domain: the records every crate names — organizations, projects and keys, users,
//! issues, events, releases, transactions and spans, alert rules and notifications, a project's
//! data-scrubbing settings, inbound filters, outcomes — and Sentry's issue search syntax parsed
//! into a query.
//!
//! Plain data with no database under it, so that pure crates (`vigil-alerts`, processing's
//! outputs) can name an `Issue` or an `AlertRule` without depending on SQLite or PostgreSQL
//! drivers. The store (`vigil-store`) keeps and hands out these records; it re-exports them.

pub mod accounts;
pub mod alerts;
pub mod artifacts;
pub mod attachments;
pub mod discover;
pub mod events;
pub mod filters;
pub mod issues;
pub mod json_text;
pub mod outcomes;
pub mod quotas;
pub mod releases;
pub mod scrubbing;
pub mod search;
pub mod traces;

pub use accounts::*;
pub use alerts::*;
pub use artifacts::*;
pub use attachments::*;
pub use discover::*;
pub use events::*;
pub use filters::{
    newline_list, InboundFilters, IpRange, LegacyBrowsers, DEFAULT_LEGACY_BROWSERS,
    LEGACY_BROWSER_SUBFILTERS, TOGGLED_FILTERS,
};
pub use issues::*;
pub use json_text::JsonText;
pub use outcomes::{
    hour_of, merge_outcome_rows, DataCategory, DeliveryOutcomes, Outcome, OutcomeQuery, OutcomeRow,
    NO_REASON,
};
pub use quotas::{HourlyVolume, ProjectQuotas, QuotaLease};
pub use releases::*;
pub use scrubbing::{check_field_list, FieldListError, ScrubbingSettings, MAX_FIELD_LIST_CHARS};
pub use search::{SearchQuery, SearchTerm};
pub use traces::*;

/// Seconds since the Unix epoch (UTC), with sub-second precision.
pub type UnixTime = f64;
