//! Vigil's records in the JSON shapes of Sentry's API serializers, so that scripts and tools
//! written against Sentry read them unchanged. Shared by both faces that show records: the
//! `/api/0/` API answers with these shapes and the web UI renders from the same functions.

pub mod attachment;
pub mod event;
pub mod issue;
pub mod project;
pub mod release;
pub mod transaction;

pub use attachment::{serialize_attachment, serialize_user_report};
pub use event::{serialize_event, set_neighbours};
pub use issue::serialize_issue;
pub use project::{
    serialize_key, serialize_organization, serialize_project, serialize_project_details,
};
pub use release::{serialize_deploy, serialize_release};
pub use transaction::serialize_transaction;

/// Sentry's API timestamp form: ISO 8601, UTC, microseconds, `Z`.
pub fn iso(ts: f64) -> String {
    vigil_protocol::timestamp::format_iso(ts)
}
