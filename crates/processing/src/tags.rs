//! STUB — replaced by the derived-tags implementation.
use serde_json::Value;
pub fn derive_tags(_event: &Value) -> Vec<(String, String)> { Vec::new() }
pub fn user_tag(_event: &Value) -> Option<String> { None }
pub fn search_text(_event: &Value) -> String { String::new() }
pub fn is_unhandled(_event: &Value) -> bool { false }
