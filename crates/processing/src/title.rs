//! STUB — replaced by the title/culprit implementation.
use serde_json::Value;

#[derive(Debug, Clone, PartialEq)]
pub struct EventSummary {
    pub title: String,
    pub culprit: String,
    pub metadata: Value,
    pub location: Option<String>,
}

pub fn derive_summary(_event: &Value) -> EventSummary {
    EventSummary { title: "<unlabeled event>".into(), culprit: String::new(), metadata: serde_json::json!({}), location: None }
}
