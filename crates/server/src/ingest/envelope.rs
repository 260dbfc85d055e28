//! `POST /api/{project_id}/envelope/`: the endpoint every current SDK sends to.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::header::{CONTENT_ENCODING, CONTENT_TYPE};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use vigil_protocol::envelope::{parse_envelope, Envelope};

use super::auth::{authorize, key_from_envelope_dsn, parse_project_id, request_auth};
use super::body::{decode_reserved, read_limited, Reservation};
use super::error::{set_rate_limit_headers, IngestError};
use super::limits::check_limits_counted;
use super::{client_sdk, cpu_work, is_compressed, queue_sdk_envelope, Arrival};
use crate::AppState;

pub async fn post_envelope(
    State(state): State<AppState>,
    Path(project_segment): Path<String>,
    arrival: Arrival,
    body: Body,
) -> Result<Response, IngestError> {
    let project_id = parse_project_id(&project_segment)?;
    let headers = &arrival.headers;
    let auth = request_auth(headers, arrival.query.as_deref())?;
    // Authenticate before reading the body when the request says who it is.
    let mut authorized = match &auth {
        Some(auth) => Some(authorize(&state, &auth.sentry_key, Some(project_id)).await?),
        None => None,
    };

    let limits = state.config.limits.clone();
    let (raw, mut reservation) = read_limited(body, limits.max_request_body, &state.budget).await?;
    let (envelope, source, decoded) =
        parse_body(headers, raw, limits.max_envelope_size, &state).await?;
    reservation.merge(decoded);

    if let Some(dsn) = envelope.dsn() {
        let dsn_key = key_from_envelope_dsn(dsn, project_id)?;
        match &authorized {
            Some(key) if !dsn_key.eq_ignore_ascii_case(&key.public_key) => {
                return Err(IngestError::InvalidEnvelope(
                    "public key header mismatch between envelope and request".into(),
                ));
            }
            Some(_) => {}
            None => authorized = Some(authorize(&state, &dsn_key, Some(project_id)).await?),
        }
    }
    let Some(key) = authorized else {
        return Err(IngestError::MissingAuth);
    };
    check_limits_counted(
        &envelope,
        &limits,
        &state.outcomes,
        key.project_id,
        arrival.received,
    )?;

    let client_sdk = client_sdk(auth.as_ref(), headers);
    let (event_id, rate_limited) =
        queue_sdk_envelope(&state, &key, envelope, Some(source), &arrival, client_sdk).await?;
    drop(reservation);
    // The id is 32 hex digits: nothing in it needs escaping.
    let body = match event_id {
        Some(id) => format!("{{\"id\":\"{id}\"}}"),
        None => "{}".to_owned(),
    };
    let mut response = ([(CONTENT_TYPE, "application/json")], body).into_response();
    // Some items were dropped by a quota and the rest queued: Relay answers 200 and names the
    // limits, so that the SDK stops sending the limited categories only.
    set_rate_limit_headers(
        response.headers_mut(),
        &super::quotas::header_limits(&rate_limited),
        false,
    );
    Ok(response)
}

/// Decodes and parses the body: the envelope, the decoded bytes it is a view of, and the
/// budget they hold.
async fn parse_body(
    headers: &HeaderMap,
    raw: Bytes,
    limit: usize,
    state: &AppState,
) -> Result<(Envelope, Bytes, Reservation), IngestError> {
    let content_encoding = headers.get(CONTENT_ENCODING).cloned();
    let compressed = is_compressed(headers);
    let budget = state.budget.clone();
    cpu_work(raw.len(), compressed, move || {
        let (data, reservation) = decode_reserved(content_encoding.as_ref(), raw, limit, &budget)?;
        if data.is_empty() {
            return Err(IngestError::EmptyBody);
        }
        let envelope = parse_envelope(data.clone())
            .map_err(|err| IngestError::InvalidEnvelope(err.to_string()))?;
        Ok((envelope, data, reservation))
    })
    .await?
}
