//! Finding and checking the DSN key of an ingest request.
//!
//! The key comes from exactly one of: the `X-Sentry-Auth` header, an `Authorization: Sentry …`
//! header, the `sentry_key` query parameter, or — for envelopes only, when none of those is
//! present — the envelope header `dsn` (how a tunnel authenticates). Two request sources at
//! once are refused, as Relay refuses them.

use std::borrow::Cow;
use std::sync::Arc;

use axum::http::HeaderMap;
use vigil_protocol::auth::{auth_from_query, is_valid_public_key, parse_auth_header, ClientAuth};
use vigil_protocol::dsn::Dsn;
use vigil_store::ProjectKey;

use super::error::IngestError;
use crate::AppState;

/// The project id of an ingest path: a positive integer.
pub fn parse_project_id(segment: &str) -> Result<i64, IngestError> {
    match segment.parse::<i64>() {
        Ok(id) if id > 0 => Ok(id),
        _ => Err(IngestError::BadProjectPath),
    }
}

/// The credentials the request itself carries (headers or query), if any.
pub fn request_auth(
    headers: &HeaderMap,
    query: Option<&str>,
) -> Result<Option<ClientAuth>, IngestError> {
    let mut found: Vec<ClientAuth> = Vec::new();
    if let Some(value) = headers.get("x-sentry-auth") {
        let text = value.to_str().map_err(|_| IngestError::BadAuthHeader)?;
        found.push(parse_auth_header(text).map_err(|_| IngestError::BadAuthHeader)?);
    }
    if let Some(value) = headers.get(axum::http::header::AUTHORIZATION) {
        // Only `Sentry …` is ingest auth; `Bearer …` belongs to the web API and is ignored here.
        if let Ok(text) = value.to_str() {
            if text.len() >= 7 && text[..7].eq_ignore_ascii_case("sentry ") {
                found.push(parse_auth_header(text).map_err(|_| IngestError::BadAuthHeader)?);
            }
        }
    }
    if let Some(auth) = query.and_then(auth_from_query) {
        found.push(auth);
    }
    match found.len() {
        0 => Ok(None),
        1 => Ok(found.pop()),
        _ => Err(IngestError::MultipleAuth),
    }
}

/// The key and project a public key stands for, checked against the project of the path.
pub async fn authorize(
    state: &AppState,
    public_key: &str,
    path_project_id: Option<i64>,
) -> Result<Arc<ProjectKey>, IngestError> {
    if !is_valid_public_key(public_key) {
        return Err(IngestError::BadPublicKey);
    }
    // Relay accepts `.flag` suffixes after the 32 characters; the key itself is before them.
    let key_part = public_key.split('.').next().unwrap_or(public_key);
    let key_part = if key_part.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(key_part.to_ascii_lowercase())
    } else {
        Cow::Borrowed(key_part)
    };
    // The cache holds only keys whose project exists: a key whose project is gone authorizes
    // nothing.
    let Some(key) = state.key_cache.get(state.store.as_ref(), &key_part).await? else {
        tracing::warn!(public_key = %key_part, "ingest with an unknown DSN key");
        return Err(IngestError::KeyRejected("ProjectId"));
    };
    if !key.is_active {
        tracing::warn!(public_key = %key_part, "ingest with a disabled DSN key");
        return Err(IngestError::KeyRejected("DisabledKey"));
    }
    if let Some(project_id) = path_project_id {
        if key.project_id != project_id {
            tracing::warn!(
                public_key = %key_part,
                project_id,
                "DSN key of another project"
            );
            return Err(IngestError::KeyRejected("ProjectId"));
        }
    }
    Ok(key)
}

/// The key named by an envelope's `dsn` header, checked against the path's project.
pub fn key_from_envelope_dsn(dsn: &str, path_project_id: i64) -> Result<String, IngestError> {
    let dsn: Dsn = dsn
        .parse()
        .map_err(|_| IngestError::InvalidEnvelope("invalid dsn in envelope header".into()))?;
    if dsn.project_id != path_project_id.to_string() {
        return Err(IngestError::InvalidEnvelope(
            "project id of the envelope dsn does not match the request".into(),
        ));
    }
    Ok(dsn.public_key)
}
