//! Every reason an ingest request is refused, and its HTTP answer, in one place.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

/// Why an ingest request was not accepted. The `Display` text is the one-line reason sent to
/// the client as `{"detail": …}`, worded as Relay words it where Relay has a word for it.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("bad project path parameter")]
    BadProjectPath,
    #[error("missing authorization information")]
    MissingAuth,
    #[error("multiple authorization payloads detected")]
    MultipleAuth,
    #[error("bad x-sentry-auth header")]
    BadAuthHeader,
    #[error("bad sentry DSN public key")]
    BadPublicKey,
    #[error("event submission rejected with_reason: {0}")]
    KeyRejected(&'static str),
    #[error("empty request body")]
    EmptyBody,
    #[error("unsupported content encoding '{0}'")]
    UnsupportedEncoding(String),
    #[error("failed to decode {encoding} request body: {reason}")]
    Decode { encoding: String, reason: String },
    #[error("request body exceeded size limit of {0} bytes")]
    BodyTooLarge(usize),
    #[error("envelope exceeded size limits for type '{0}'")]
    ItemTooLarge(String),
    #[error("invalid event envelope: {0}")]
    InvalidEnvelope(String),
    #[error("invalid event: {0}")]
    InvalidEvent(String),
    #[error("store unavailable, retry later")]
    StoreUnavailable,
    #[error("too much data in flight, retry later")]
    Overloaded,
    /// Every item was dropped by a quota (a key's, a project's, spike protection).
    #[error("event submission rejected: {}", rate_limited_reason(.0))]
    RateLimited(Vec<super::quotas::RateLimited>),
}

/// How long an overloaded server asks SDKs to wait.
const OVERLOAD_RETRY_SECS: u64 = 5;

/// The one-line reason of a rate-limited answer: the quotas that refused.
fn rate_limited_reason(decisions: &[super::quotas::RateLimited]) -> String {
    let mut reasons: Vec<&str> = decisions.iter().map(|d| d.reason_code).collect();
    reasons.dedup();
    format!("over {}", reasons.join(", "))
}

impl IngestError {
    /// The `X-Sentry-Rate-Limits` entries of a 429: what SDKs must stop sending, and how long.
    fn rate_limits(&self) -> Vec<vigil_protocol::rate_limits::RateLimit> {
        use vigil_protocol::rate_limits::RateLimit;
        match self {
            // Every category, organization scope: SDKs back off everything for a while.
            IngestError::Overloaded => vec![RateLimit {
                retry_after_secs: OVERLOAD_RETRY_SECS,
                categories: Vec::new(),
                scope: "organization".into(),
                reason: Some("overloaded".into()),
            }],
            IngestError::RateLimited(decisions) => super::quotas::header_limits(decisions),
            _ => Vec::new(),
        }
    }

    pub fn status(&self) -> StatusCode {
        use IngestError::*;
        match self {
            MissingAuth | MultipleAuth | BadAuthHeader => StatusCode::UNAUTHORIZED,
            KeyRejected(_) => StatusCode::FORBIDDEN,
            BodyTooLarge(_) | ItemTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            UnsupportedEncoding(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            StoreUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            Overloaded | RateLimited(_) => StatusCode::TOO_MANY_REQUESTS,
            BadProjectPath
            | BadPublicKey
            | EmptyBody
            | Decode { .. }
            | InvalidEnvelope(_)
            | InvalidEvent(_) => StatusCode::BAD_REQUEST,
        }
    }
}

impl IntoResponse for IngestError {
    fn into_response(self) -> Response {
        let status = self.status();
        let detail = self.to_string();
        if status.is_server_error() {
            tracing::error!(%status, detail, "ingest request failed");
        } else {
            tracing::info!(%status, detail, "ingest request rejected");
        }
        let mut response = (status, Json(serde_json::json!({ "detail": detail }))).into_response();
        let headers = response.headers_mut();
        if let Ok(value) = axum::http::HeaderValue::from_str(&detail) {
            headers.insert("x-sentry-error", value);
        }
        set_rate_limit_headers(headers, &self.rate_limits(), true);
        response
    }
}

impl From<vigil_store::StoreError> for IngestError {
    fn from(err: vigil_store::StoreError) -> IngestError {
        tracing::error!(%err, "store error on the ingest path");
        IngestError::StoreUnavailable
    }
}

/// Writes `X-Sentry-Rate-Limits` for `limits`, and with `retry_after` also `Retry-After` (the
/// longest wait); nothing when there are none. Relay sends both on a 429, and the limits alone
/// on a 200 that dropped some items.
pub fn set_rate_limit_headers(
    headers: &mut axum::http::HeaderMap,
    limits: &[vigil_protocol::rate_limits::RateLimit],
    retry_after: bool,
) {
    let Some(longest) = limits.iter().map(|l| l.retry_after_secs).max() else {
        return;
    };
    let value = vigil_protocol::rate_limits::format_rate_limits(limits);
    if let Ok(value) = axum::http::HeaderValue::from_str(&value) {
        headers.insert("x-sentry-rate-limits", value);
    }
    if retry_after {
        headers.insert(axum::http::header::RETRY_AFTER, longest.into());
    }
}
