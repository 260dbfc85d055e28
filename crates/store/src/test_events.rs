//! The event the unit tests save or encode, written once: tests override the fields they
//! exercise with struct update syntax.

use serde_json::json;

use crate::NewEvent;

/// A plain error event numbered `n` (its id is `n` in hex), at `at`, grouped by `hashes`.
pub(crate) fn error_event(project_id: i64, n: u32, at: f64, hashes: &[&str]) -> NewEvent {
    NewEvent {
        project_id,
        event_id: format!("{n:032x}"),
        event_type: "error".into(),
        timestamp: at,
        received: at,
        level: "error".into(),
        platform: "python".into(),
        title: "t".into(),
        culprit: "c".into(),
        metadata: json!({}),
        hashes: hashes.iter().map(|h| h.to_string()).collect(),
        environment: None,
        release: None,
        transaction: None,
        user_tag: None,
        trace_id: None,
        tags: Vec::new(),
        is_unhandled: false,
        message: String::new(),
        data: json!({}).into(),
    }
}
