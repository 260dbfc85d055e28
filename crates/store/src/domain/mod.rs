//! The store's interface, one trait per domain. Each backend implements each trait in its file
//! for that domain (`sqlite/releases.rs`, `postgres/releases.rs`, …), next to its SQL, so a
//! change to one domain touches that domain's files and not a shared one.

mod accounts;
mod alerts;
mod artifacts;
mod attachments;
mod discover;
mod events;
mod issues;
mod maintenance;
mod outcomes;
mod projects;
mod quotas;
mod releases;
mod search;
mod traces;
mod triage;
mod user_reports;

pub use accounts::Accounts;
pub use alerts::{Alerts, IssueCountQuery, NotificationClaim};
pub use artifacts::Artifacts;
pub use attachments::Attachments;
pub use discover::Discover;
pub use events::Events;
pub use issues::Issues;
pub use maintenance::Maintenance;
pub use outcomes::Outcomes;
pub use projects::Projects;
pub use quotas::Quotas;
pub use releases::Releases;
pub use search::IssueSearch;
pub use traces::{TraceReads, Traces};
pub use triage::Triage;
pub use user_reports::UserReports;
