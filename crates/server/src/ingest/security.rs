//! `POST /api/{project_id}/security/` (alias `/csp-report/`): browsers' Content-Security-Policy
//! violation reports, in the classic `{"csp-report": {…}}` form and the Reporting API's
//! `[{"type": "csp-violation", "body": {…}}]` form. Each report becomes an event of type `csp`
//! that groups by directive and blocked origin. Browsers cannot add headers to reports, so the
//! key comes from the `sentry_key` query parameter of the `report-uri`.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use bytes::Bytes;
use serde_json::{json, Map, Value};
use vigil_protocol::envelope::{Envelope, Item, ItemType};

use super::auth::{authorize, parse_project_id, request_auth};
use super::body::{decode_reserved, read_limited};
use super::error::IngestError;
use super::{cpu_work, is_compressed, queue_envelope, Arrival};
use crate::outcomes::reason::SECURITY_REPORT;
use crate::query;
use crate::AppState;
use vigil_processing::payload::parse_event_json;
use vigil_store::{DataCategory, Outcome};

/// The classic report's kebab-case keys and the Reporting API's camelCase ones, with the
/// snake_case name of Sentry's `csp` interface.
const CSP_FIELDS: &[(&str, &str, &str)] = &[
    ("document-uri", "documentURL", "document_uri"),
    ("referrer", "referrer", "referrer"),
    (
        "violated-directive",
        "violatedDirective",
        "violated_directive",
    ),
    (
        "effective-directive",
        "effectiveDirective",
        "effective_directive",
    ),
    ("original-policy", "originalPolicy", "original_policy"),
    ("disposition", "disposition", "disposition"),
    ("blocked-uri", "blockedURL", "blocked_uri"),
    ("status-code", "statusCode", "status_code"),
    ("source-file", "sourceFile", "source_file"),
    ("line-number", "lineNumber", "line_number"),
    ("column-number", "columnNumber", "column_number"),
    ("script-sample", "sample", "script_sample"),
];

pub async fn post_security_report(
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
    let params = query::pairs(arrival.query.as_deref());
    let release = query::first(&params, "sentry_release").map(str::to_owned);
    let environment = query::first(&params, "sentry_environment").map(str::to_owned);
    let user_agent = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);

    let content_encoding = headers.get(header::CONTENT_ENCODING).cloned();
    let compressed = is_compressed(headers);
    let budget = state.budget.clone();
    let outcomes = state.outcomes.clone();
    let received = arrival.received;
    let (events, decoded) = cpu_work(raw.len(), compressed, move || -> Result<_, IngestError> {
        let (data, decoded) = decode_reserved(content_encoding.as_ref(), raw, limit, &budget)?;
        let events: Vec<Value> = parse_reports(&data)
            .inspect_err(|_| {
                let (category, invalid) = (DataCategory::Security, Outcome::Invalid);
                outcomes.record(project_id, received, category, invalid, SECURITY_REPORT, 1);
            })?
            .into_iter()
            .map(|csp| {
                csp_event(
                    csp,
                    release.as_deref(),
                    environment.as_deref(),
                    user_agent.as_deref(),
                )
            })
            .collect();
        Ok((events, decoded))
    })
    .await??;
    reservation.merge(decoded);
    // One envelope per report: each is an event with its own id.
    for event in events {
        let payload = Bytes::from(event.to_string());
        let envelope = Envelope {
            headers: Map::new(),
            items: vec![Item::new(ItemType::Event, payload)],
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

/// The `csp` interfaces in a report body; other report types (HPKP, Expect-CT, NEL) are
/// accepted and skipped.
fn parse_reports(data: &[u8]) -> Result<Vec<Map<String, Value>>, IngestError> {
    let value: Value = if data.trim_ascii_start().starts_with(b"[") {
        serde_json::from_slice(data)
            .map_err(|err| IngestError::InvalidEvent(format!("invalid JSON: {err}")))?
    } else {
        parse_event_json(data).map_err(IngestError::InvalidEvent)?
    };
    let mut out = Vec::new();
    match value {
        Value::Object(obj) => {
            if let Some(Value::Object(report)) = obj.get("csp-report") {
                out.push(rename(report, false));
            }
        }
        Value::Array(items) => {
            for item in items {
                if item.get("type").and_then(Value::as_str) == Some("csp-violation") {
                    if let Some(Value::Object(body)) = item.get("body") {
                        out.push(rename(body, true));
                    }
                }
            }
        }
        _ => {
            return Err(IngestError::InvalidEvent(
                "security report is not a JSON object or list".into(),
            ))
        }
    }
    Ok(out)
}

fn rename(report: &Map<String, Value>, reporting_api: bool) -> Map<String, Value> {
    let mut csp = Map::new();
    for (classic, modern, name) in CSP_FIELDS {
        let key = if reporting_api { modern } else { classic };
        if let Some(value) = report.get(*key).filter(|v| !v.is_null()) {
            csp.insert((*name).to_string(), value.clone());
        }
    }
    // Old browsers send only the violated directive (`script-src 'self'`): its first word is
    // the effective one.
    if !csp.contains_key("effective_directive") {
        if let Some(first) = csp
            .get("violated_directive")
            .and_then(Value::as_str)
            .and_then(|d| d.split_whitespace().next())
        {
            csp.insert(
                "effective_directive".into(),
                Value::String(first.to_string()),
            );
        }
    }
    csp
}

fn csp_event(
    csp: Map<String, Value>,
    release: Option<&str>,
    environment: Option<&str>,
    user_agent: Option<&str>,
) -> Value {
    let document_uri = csp.get("document_uri").cloned().unwrap_or(Value::Null);
    let culprit = csp
        .get("violated_directive")
        .cloned()
        .unwrap_or(Value::Null);
    let mut event = json!({
        "type": "csp",
        "logger": "csp",
        "platform": "other",
        "level": "error",
        "culprit": culprit,
        "csp": csp,
        "request": {"url": document_uri, "headers": {}},
        "user": {"ip_address": "{{auto}}"},
    });
    if let Some(ua) = user_agent {
        event["request"]["headers"]["User-Agent"] = Value::String(ua.to_string());
    }
    if let Some(release) = release {
        event["release"] = Value::String(release.to_string());
    }
    if let Some(environment) = environment {
        event["environment"] = Value::String(environment.to_string());
    }
    event
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classic_and_reporting_api_reports_become_the_same_interface() {
        let classic = br#"{"csp-report": {"document-uri": "https://shop.example/", "violated-directive": "script-src 'self'", "blocked-uri": "https://evil.example/x.js", "original-policy": "script-src 'self'"}}"#;
        let modern = br#"[{"type": "csp-violation", "url": "https://shop.example/", "body": {"documentURL": "https://shop.example/", "effectiveDirective": "script-src", "blockedURL": "https://evil.example/x.js", "originalPolicy": "script-src 'self'"}}]"#;
        let a = parse_reports(classic).expect("classic");
        let b = parse_reports(modern).expect("modern");
        assert_eq!(a[0]["effective_directive"], "script-src");
        assert_eq!(a[0]["blocked_uri"], b[0]["blocked_uri"]);
        assert_eq!(b[0]["document_uri"], "https://shop.example/");
    }

    #[test]
    fn other_report_types_are_skipped() {
        let nel = br#"[{"type": "network-error", "body": {}}]"#;
        assert!(parse_reports(nel).expect("valid").is_empty());
        assert!(parse_reports(b"42").is_err());
    }
}
