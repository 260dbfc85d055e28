//! STUB — replaced by the normalization implementation.
use serde_json::Value;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct NormalizeContext {
    pub received: f64,
    pub sent_at: Option<f64>,
    pub client_ip: Option<String>,
    pub envelope_event_id: Option<String>,
    pub client_sdk: Option<String>,
    pub retention_days: u32,
}

#[derive(Debug, thiserror::Error)]
pub enum NormalizeError {
    #[error("event is not a JSON object")]
    NotAnObject,
}

pub fn normalize_event(raw: Value, _ctx: &NormalizeContext) -> Result<Value, NormalizeError> {
    if !raw.is_object() { return Err(NormalizeError::NotAnObject); }
    Ok(raw)
}
