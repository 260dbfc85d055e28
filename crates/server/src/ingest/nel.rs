//! `POST /api/{project_id}/nel/`: Network Error Logging reports, as browsers send them through
//! the Reporting API (`application/reports+json`, a list of `{"type": "network-error", "age",
//! "url", "user_agent", "body": {…}}`). As Relay's endpoint does, each `network-error` report
//! becomes a `nel` item of one envelope; Relay turns them into logs, and Vigil, which keeps
//! logs raw until it has a log pipeline, keeps them raw with them. The key comes from the
//! `sentry_key` query parameter, since browsers cannot add headers to reports.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use bytes::Bytes;
use serde_json::{Map, Value};
use vigil_protocol::envelope::{Envelope, Item, ItemType};

use super::auth::{authorize, parse_project_id, request_auth};
use super::body::{decode_reserved, read_limited};
use super::error::IngestError;
use super::{cpu_work, is_compressed, queue_envelope, Arrival};
use crate::AppState;

pub async fn post_nel_report(
    State(state): State<AppState>,
    Path(project_segment): Path<String>,
    arrival: Arrival,
    body: Body,
) -> Result<StatusCode, IngestError> {
    let project_id = parse_project_id(&project_segment)?;
    let headers = &arrival.headers;
    let auth = request_auth(headers, arrival.query.as_deref())?.ok_or(IngestError::MissingAuth)?;
    let key = authorize(&state, &auth.sentry_key, Some(project_id)).await?;
    let limit = state.config.limits.max_event_size;
    let (raw, mut reservation) =
        read_limited(body, state.config.limits.max_request_body, &state.budget).await?;
    let content_encoding = headers.get(header::CONTENT_ENCODING).cloned();
    let compressed = is_compressed(headers);
    let budget = state.budget.clone();
    let (reports, decoded) = cpu_work(raw.len(), compressed, move || -> Result<_, IngestError> {
        let (data, decoded) = decode_reserved(content_encoding.as_ref(), raw, limit, &budget)?;
        Ok((network_errors(&data)?, decoded))
    })
    .await??;
    reservation.merge(decoded);
    if !reports.is_empty() {
        let items = reports
            .into_iter()
            .map(|report| Item::new(ItemType::Nel, Bytes::from(report.to_string())))
            .collect();
        let envelope = Envelope {
            headers: Map::new(),
            items,
        };
        let client_ip = Some(arrival.client_ip.clone());
        queue_envelope(
            &state,
            &key,
            envelope,
            None,
            arrival.received,
            client_ip,
            None,
        )
        .await?;
    }
    drop(reservation);
    Ok(StatusCode::OK)
}

/// The `network-error` reports of a Reporting API body (a list); other report types are
/// skipped, and a body that is not a list of objects is refused.
fn network_errors(data: &[u8]) -> Result<Vec<Value>, IngestError> {
    let value: Value = serde_json::from_slice(data)
        .map_err(|err| IngestError::InvalidEvent(format!("invalid JSON: {err}")))?;
    let Value::Array(reports) = value else {
        return Err(IngestError::InvalidEvent(
            "a NEL body is a list of reports".into(),
        ));
    };
    Ok(reports
        .into_iter()
        .filter(|r| r.get("type").and_then(Value::as_str) == Some("network-error"))
        .filter(|r| r.get("body").is_some_and(Value::is_object))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::network_errors;

    #[test]
    fn only_network_errors_are_kept() {
        let body = br#"[{"age": 0, "type": "network-error", "url": "https://shop.example/", "user_agent": "Mozilla/5.0", "body": {"elapsed_time": 48, "method": "GET", "phase": "dns", "protocol": "http/1.1", "referrer": "", "sampling_fraction": 1.0, "server_ip": "", "status_code": 0, "type": "dns.name_not_resolved"}},
                        {"age": 0, "type": "deprecation", "url": "https://shop.example/", "body": {}}]"#;
        let kept = network_errors(body).expect("valid");
        assert_eq!(kept.len(), 1);
        assert_eq!(kept[0]["body"]["type"], "dns.name_not_resolved");
        assert!(network_errors(br#"{"type": "network-error"}"#).is_err());
    }
}
