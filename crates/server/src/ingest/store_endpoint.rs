//! The legacy `POST /api/{project_id}/store/` endpoint: one event per request (raven, old SDKs).

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::Engine;
use bytes::Bytes;
use vigil_protocol::envelope::{parse_envelope, Envelope, Item, ItemType};

use super::auth::{authorize, parse_project_id, request_auth};
use super::body::{decode_content, decode_reserved, read_limited};
use super::error::IngestError;
use super::limits::check_limits_counted;
use super::{client_sdk, cpu_work, is_compressed, queue_sdk_envelope, Arrival};
use crate::outcomes::reason;
use crate::AppState;
use vigil_store::{DataCategory, Outcome};

/// `POST /api/{project_id}/store/`.
pub async fn post_store(
    state: State<AppState>,
    Path(project_segment): Path<String>,
    arrival: Arrival,
    body: Body,
) -> Result<Response, IngestError> {
    let project_id = parse_project_id(&project_segment)?;
    store(state, Some(project_id), arrival, body).await
}

/// `POST /api/store/`: the project is the key's.
pub async fn post_store_without_project(
    state: State<AppState>,
    arrival: Arrival,
    body: Body,
) -> Result<Response, IngestError> {
    store(state, None, arrival, body).await
}

async fn store(
    State(state): State<AppState>,
    project_id: Option<i64>,
    arrival: Arrival,
    body: Body,
) -> Result<Response, IngestError> {
    let headers = &arrival.headers;
    let auth = request_auth(headers, arrival.query.as_deref())?.ok_or(IngestError::MissingAuth)?;
    let key = authorize(&state, &auth.sentry_key, project_id).await?;
    let limits = state.config.limits.clone();
    let (raw, mut reservation) = read_limited(body, limits.max_request_body, &state.budget).await?;

    let is_envelope = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-sentry-envelope"));
    let body_limit = if is_envelope {
        limits.max_envelope_size
    } else {
        limits.max_event_size
    };
    let client_sdk = client_sdk(Some(&auth), headers);
    let budget = state.budget.clone();
    let compressed = is_compressed(headers);
    let content_encoding = headers.get(header::CONTENT_ENCODING).cloned();
    let outcomes = state.outcomes.clone();
    let (project_id, received) = (key.project_id, arrival.received);
    let (envelope, source, decoded) =
        cpu_work(raw.len(), compressed, move || -> Result<_, IngestError> {
            let (data, decoded) =
                decode_reserved(content_encoding.as_ref(), raw, body_limit, &budget)?;
            if data.iter().all(u8::is_ascii_whitespace) {
                return Err(IngestError::EmptyBody);
            }
            if is_envelope {
                let envelope = parse_envelope(data.clone())
                    .map_err(|err| IngestError::InvalidEnvelope(err.to_string()))?;
                check_limits_counted(&envelope, &limits, &outcomes, project_id, received)?;
                return Ok((envelope, Some(data), decoded));
            }
            // A legacy event becomes a one-item envelope, as Relay wraps it.
            let json = legacy_body_to_json(data, body_limit).inspect_err(|err| {
                if matches!(err, IngestError::InvalidEvent(_)) {
                    let (category, invalid) = (DataCategory::Error, Outcome::Invalid);
                    outcomes.record(project_id, received, category, invalid, reason::PAYLOAD, 1);
                }
            })?;
            let envelope = Envelope {
                headers: serde_json::Map::new(),
                items: vec![Item::new(ItemType::Event, json)],
            };
            Ok((envelope, None, decoded))
        })
        .await??;
    reservation.merge(decoded);

    let (event_id, rate_limited) =
        queue_sdk_envelope(&state, &key, envelope, source, &arrival, client_sdk).await?;
    drop(reservation);
    // Relay's legacy endpoint answers any active limit as a 429, even with items queued.
    if !rate_limited.is_empty() {
        return Err(IngestError::RateLimited(rate_limited));
    }
    Ok(Json(serde_json::json!({ "id": event_id })).into_response())
}

/// Old clients send the event JSON base64-encoded, and sometimes zlib-compressed inside that.
fn legacy_body_to_json(data: Bytes, limit: usize) -> Result<Bytes, IngestError> {
    let trimmed = data.trim_ascii_start();
    if trimmed.starts_with(b"{") {
        return Ok(data);
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(data.trim_ascii())
        .map_err(|_| IngestError::InvalidEvent("body is neither JSON nor base64".into()))?;
    if decoded.trim_ascii_start().starts_with(b"{") {
        return Ok(Bytes::from(decoded));
    }
    let deflate = axum::http::HeaderValue::from_static("deflate");
    decode_content(Some(&deflate), Bytes::from(decoded), limit)
}
