//! `POST /api/{project_id}/security/` (alias `/csp-report/`): browsers' security reports.
//! Content-Security-Policy violations, in the classic `{"csp-report": {…}}` form and the
//! Reporting API's `[{"type": "csp-violation", "body": {…}}]` form, become events of type `csp`
//! that group by directive and blocked origin. Certificate reports — HPKP (a body with
//! `known-pins`), `{"expect-staple-report": {…}}` and `{"expect-ct-report": {…}}`, recognized in
//! that order as Relay did — become events of type `hpkp`, `expectstaple` and `expectct` shaped
//! as Relay built them (message, culprit, host tags, the report under its interface), which
//! group and are titled by the host (`crates/processing/src/grouping/security.rs`). Browsers
//! cannot add headers to reports, so the key comes from the `sentry_key` query parameter of the
//! `report-uri`.

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
use vigil_processing::CertificateReport;
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
            .map(|report| {
                let mut event = match report {
                    Report::Csp(csp) => csp_event(csp),
                    Report::Certificate(kind, report) => certificate_event(kind, report),
                };
                add_request_context(
                    &mut event,
                    release.as_deref(),
                    environment.as_deref(),
                    user_agent.as_deref(),
                );
                event
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

/// One report of a body, as the interface its event keeps it under.
#[derive(Debug)]
enum Report {
    Csp(Map<String, Value>),
    Certificate(CertificateReport, Map<String, Value>),
}

/// The reports in a body; other Reporting API types (NEL, deprecation, …) are accepted and
/// skipped (NEL has its own endpoint, `nel.rs`). A certificate report without a `hostname` is
/// refused, as Relay's schema requires one.
fn parse_reports(data: &[u8]) -> Result<Vec<Report>, IngestError> {
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
                out.push(Report::Csp(rename(report, false)));
            } else if obj.contains_key("known-pins") {
                out.push(certificate(CertificateReport::Hpkp, &obj)?);
            } else if let Some(Value::Object(report)) = obj.get("expect-staple-report") {
                out.push(certificate(CertificateReport::ExpectStaple, report)?);
            } else if let Some(Value::Object(report)) = obj.get("expect-ct-report") {
                out.push(certificate(CertificateReport::ExpectCt, report)?);
            }
        }
        Value::Array(items) => {
            for item in items {
                if item.get("type").and_then(Value::as_str) == Some("csp-violation") {
                    if let Some(Value::Object(body)) = item.get("body") {
                        out.push(Report::Csp(rename(body, true)));
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

/// A certificate report under its interface: the report's kebab-case keys in Sentry's
/// snake_case (`known-pins` → `known_pins`).
fn certificate(
    kind: CertificateReport,
    report: &Map<String, Value>,
) -> Result<Report, IngestError> {
    let has_host = report
        .get("hostname")
        .and_then(Value::as_str)
        .is_some_and(|h| !h.trim().is_empty());
    if !has_host {
        return Err(IngestError::InvalidEvent(format!(
            "{} report without a hostname",
            kind.interface()
        )));
    }
    let fields = report
        .iter()
        .map(|(key, value)| (key.replace('-', "_"), value.clone()))
        .collect();
    Ok(Report::Certificate(kind, fields))
}

/// The event of a certificate report, as Relay built it: the message, the host as culprit
/// (Expect-CT, Expect-Staple) and as the request's URL, and its tags.
fn certificate_event(kind: CertificateReport, report: Map<String, Value>) -> Value {
    let hostname = report
        .get("hostname")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .trim()
        .to_owned();
    let text = |value: &Value| match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    };
    let mut tags = vec![json!(["hostname", hostname])];
    let tagged: &[(&str, &str)] = match kind {
        CertificateReport::Hpkp => &[
            ("port", "port"),
            ("include_subdomains", "include-subdomains"),
        ],
        CertificateReport::ExpectCt => &[("port", "port")],
        CertificateReport::ExpectStaple => &[
            ("port", "port"),
            ("response_status", "response_status"),
            ("cert_status", "cert_status"),
        ],
    };
    for (field, tag) in tagged {
        if let Some(value) = report.get(*field).and_then(text) {
            tags.push(json!([tag, value]));
        }
    }
    let mut event = json!({
        "type": kind.interface(),
        "logger": "csp",
        "platform": "other",
        "level": "error",
        "logentry": {"formatted": kind.message(&hostname)},
        "tags": tags,
        "request": {"url": hostname, "headers": {}},
        "user": {"ip_address": "{{auto}}"},
    });
    if kind != CertificateReport::Hpkp {
        event["culprit"] = Value::String(hostname);
    }
    event[kind.interface()] = Value::Object(report);
    event
}

/// What the report's request says of its release, environment and browser.
fn add_request_context(
    event: &mut Value,
    release: Option<&str>,
    environment: Option<&str>,
    user_agent: Option<&str>,
) {
    if let Some(ua) = user_agent {
        event["request"]["headers"]["User-Agent"] = Value::String(ua.to_string());
    }
    if let Some(release) = release {
        event["release"] = Value::String(release.to_string());
    }
    if let Some(environment) = environment {
        event["environment"] = Value::String(environment.to_string());
    }
}

fn csp_event(csp: Map<String, Value>) -> Value {
    let document_uri = csp.get("document_uri").cloned().unwrap_or(Value::Null);
    let culprit = csp
        .get("violated_directive")
        .cloned()
        .unwrap_or(Value::Null);
    json!({
        "type": "csp",
        "logger": "csp",
        "platform": "other",
        "level": "error",
        "culprit": culprit,
        "csp": csp,
        "request": {"url": document_uri, "headers": {}},
        "user": {"ip_address": "{{auto}}"},
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classic_and_reporting_api_reports_become_the_same_interface() {
        let classic = br#"{"csp-report": {"document-uri": "https://shop.example/", "violated-directive": "script-src 'self'", "blocked-uri": "https://evil.example/x.js", "original-policy": "script-src 'self'"}}"#;
        let modern = br#"[{"type": "csp-violation", "url": "https://shop.example/", "body": {"documentURL": "https://shop.example/", "effectiveDirective": "script-src", "blockedURL": "https://evil.example/x.js", "originalPolicy": "script-src 'self'"}}]"#;
        let csp = |body: &[u8]| match parse_reports(body).expect("valid").remove(0) {
            Report::Csp(csp) => csp,
            other => panic!("not a CSP report: {other:?}"),
        };
        let (a, b) = (csp(classic), csp(modern));
        assert_eq!(a["effective_directive"], "script-src");
        assert_eq!(a["blocked_uri"], b["blocked_uri"]);
        assert_eq!(b["document_uri"], "https://shop.example/");
    }

    #[test]
    fn certificate_reports_become_events_of_their_kind() {
        let ct = br#"{"expect-ct-report": {"date-time": "2014-04-06T13:00:50Z", "hostname": "www.example.com", "port": 443, "effective-expiration-date": "2014-05-01T12:40:50Z", "served-certificate-chain": [], "validated-certificate-chain": [], "scts": []}}"#;
        let Report::Certificate(kind, report) = parse_reports(ct).expect("valid").remove(0) else {
            panic!("not a certificate report");
        };
        assert_eq!(kind, CertificateReport::ExpectCt);
        let event = certificate_event(kind, report);
        assert_eq!(event["type"], "expectct");
        assert_eq!(event["culprit"], "www.example.com");
        assert_eq!(
            event["logentry"]["formatted"],
            "Expect-CT failed for 'www.example.com'"
        );
        assert_eq!(
            event["expectct"]["effective_expiration_date"],
            "2014-05-01T12:40:50Z"
        );
        assert_eq!(
            event["tags"],
            json!([["hostname", "www.example.com"], ["port", "443"]])
        );

        let hpkp = br#"{"date-time": "2014-04-06T13:00:50Z", "hostname": "www.example.com", "port": 443, "include-subdomains": false, "known-pins": ["pin-sha256=\"E9CZ9INDbd+2eRQozYqqbQ2yXLVKB9+xcprMF+44U1g=\""]}"#;
        let Report::Certificate(kind, report) = parse_reports(hpkp).expect("valid").remove(0)
        else {
            panic!("not a certificate report");
        };
        assert_eq!(kind, CertificateReport::Hpkp);
        let event = certificate_event(kind, report);
        assert_eq!(
            event["hpkp"]["known_pins"][0],
            "pin-sha256=\"E9CZ9INDbd+2eRQozYqqbQ2yXLVKB9+xcprMF+44U1g=\""
        );
        assert_eq!(event.get("culprit"), None);
        assert_eq!(event["tags"][2], json!(["include-subdomains", "false"]));
        assert!(parse_reports(br#"{"expect-ct-report": {"port": 443}}"#).is_err());
    }

    #[test]
    fn other_report_types_are_skipped() {
        let nel = br#"[{"type": "network-error", "body": {}}]"#;
        assert!(parse_reports(nel).expect("valid").is_empty());
        assert!(parse_reports(b"42").is_err());
    }
}
