//! The store's traits, for code that calls them on a concrete backend (`SqliteStore`,
//! `PgStore`) rather than on a `dyn Store`: `use vigil_store::prelude::*;`.

pub use crate::{
    Accounts, Alerts, Artifacts, Attachments, Discover, Events, IngestQueue, IssueSearch, Issues,
    Maintenance, Outcomes, Projects, Quotas, Releases, Store, Traces, Triage, UserReports,
};
