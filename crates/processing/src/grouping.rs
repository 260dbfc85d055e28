//! STUB — replaced by the grouping implementation.
use serde_json::Value;

/// Sentry's grouping configuration that Vigil reproduces.
pub const CONFIG_ID: &str = "newstyle:2023-01-11";

#[derive(Debug, Clone, PartialEq)]
pub struct GroupingResult {
    pub hashes: Vec<String>,
    pub variant: String,
}

pub fn group_event(_event: &Value) -> GroupingResult {
    GroupingResult { hashes: vec!["d41d8cd98f00b204e9800998ecf8427e".into()], variant: "fallback".into() }
}
