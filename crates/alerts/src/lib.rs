//! Issue alerts as Sentry users know them: a rule body of Sentry's issue-alert API parsed and
//! validated, a rule evaluated against the facts of one stored event, and what a firing sends
//! (emails, webhook bodies, Slack messages, digests) rendered.
//!
//! Pure code: no I/O, no clock, no database. The server gathers the facts (what `save_events`
//! reported, the issue counts per window, the organization's members), calls these functions,
//! and hands the resulting notifications to the store's outbox; the senders deliver them.
//! This crate knows the store's types but not how they are kept, and nothing of HTTP or SMTP.

mod api;
mod evaluate;
mod recipients;
mod render;
mod rule;
pub mod vocabulary;

pub use api::{node_label, rule_json};
pub use evaluate::{
    count_windows, evaluate, user_count_thresholds, user_count_windows, EventFacts,
};
pub use recipients::email_recipients;
pub use render::{escape_html, render_digest, render_notifications, AlertContext};
pub use rule::{parse_rule, RuleError, RuleSpec};
pub use vigil_model::default_rule;
