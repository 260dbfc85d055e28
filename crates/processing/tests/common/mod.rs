//! What the tests over the real SDK captures share: where the captures are, one captured
//! request read and decoded, and an envelope split by hand (independently of
//! `vigil-protocol`'s parser, so the tests do not take its word for what an envelope holds).
//!
//! The fixtures live outside the workspace (`/work/shared/fixtures/sdk-payloads` next to the
//! checkout); set `VIGIL_FIXTURES_DIR` to point elsewhere.

// Each test crate that declares `mod common;` uses only part of it.
#![allow(dead_code)]

use std::io::Read;
use std::path::{Path, PathBuf};

use serde_json::Value;
use vigil_processing::json::Json;
use vigil_processing::normalize::NormalizeContext;

pub mod messages;

/// Where the captures are: `VIGIL_FIXTURES_DIR`, or the shared fixtures next to the checkout.
pub fn fixtures_dir() -> PathBuf {
    if let Ok(dir) = std::env::var("VIGIL_FIXTURES_DIR") {
        return PathBuf::from(dir);
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures/sdk-payloads")
}

/// One captured request: its headers, query and (decoded) body.
pub struct Captured {
    pub path: PathBuf,
    pub headers: Vec<(String, String)>,
    pub query: String,
    pub body: Vec<u8>,
}

impl Captured {
    pub fn read(dir: &Path) -> Captured {
        let request: Value =
            serde_json::from_slice(&read(&dir.join("request.json"))).expect("request.json is JSON");
        let headers: Vec<(String, String)> = request["headers"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|h| {
                Some((
                    h.get(0)?.as_str()?.to_owned(),
                    h.get(1)?.as_str()?.to_owned(),
                ))
            })
            .collect();
        let query = request["query"].as_str().unwrap_or_default().to_owned();
        let raw = read(&dir.join("body.bin"));
        let encoding = header(&headers, "content-encoding").unwrap_or_default();
        let body = decode(&raw, &encoding);
        // The capture tool decoded compressed bodies too; both decoders must agree.
        if let Ok(expected) = std::fs::read(dir.join("body.decoded")) {
            assert_eq!(body, expected, "{} decodes differently", dir.display());
        }
        Captured {
            path: dir.to_owned(),
            headers,
            query,
            body,
        }
    }

    /// `sentry_client` and `sentry_timestamp` from `X-Sentry-Auth` or the query string.
    pub fn auth_param(&self, name: &str) -> Option<String> {
        let auth = header(&self.headers, "x-sentry-auth").unwrap_or_default();
        let from_header = auth
            .trim_start_matches("Sentry ")
            .split(',')
            .filter_map(|kv| kv.trim().split_once('='))
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.to_owned());
        from_header.or_else(|| {
            self.query
                .split('&')
                .filter_map(|kv| kv.split_once('='))
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.replace("%2F", "/"))
        })
    }
}

pub fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

pub fn header(headers: &[(String, String)], name: &str) -> Option<String> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.clone())
}

pub fn decode(raw: &[u8], encoding: &str) -> Vec<u8> {
    let mut out = Vec::new();
    match encoding {
        "gzip" => flate2::read::GzDecoder::new(raw).read_to_end(&mut out),
        "deflate" => flate2::read::ZlibDecoder::new(raw).read_to_end(&mut out),
        _ => return raw.to_vec(),
    }
    .expect("fixture body decompresses");
    out
}

/// An envelope split by hand: header line, then per item a header line and either `length`
/// bytes or the rest of the line.
pub fn parse_envelope(body: &[u8]) -> (Value, Vec<(Value, Vec<u8>)>) {
    let (header_line, mut rest) = split_line(body);
    let header: Value = serde_json::from_slice(header_line).expect("envelope header is JSON");
    let mut items = Vec::new();
    while !rest.is_empty() {
        let (item_line, after) = split_line(rest);
        if item_line.iter().all(u8::is_ascii_whitespace) {
            rest = after;
            continue;
        }
        let item_header: Value = serde_json::from_slice(item_line).expect("item header is JSON");
        let (payload, after) = match item_header.get("length").and_then(Value::as_u64) {
            Some(len) => {
                let len = usize::try_from(len).expect("length fits");
                let payload = &after[..len];
                let after = &after[len..];
                (payload, after.strip_prefix(b"\n").unwrap_or(after))
            }
            None => split_line(after),
        };
        items.push((item_header, payload.to_vec()));
        rest = after;
    }
    (header, items)
}

pub fn split_line(bytes: &[u8]) -> (&[u8], &[u8]) {
    match bytes.iter().position(|&b| b == b'\n') {
        Some(i) => (&bytes[..i], &bytes[i + 1..]),
        None => (bytes, &[]),
    }
}

/// Every captured request directory (`<scenario>/<request>`), sorted.
pub fn request_dirs() -> Vec<PathBuf> {
    let root = fixtures_dir();
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap_or_else(|e| {
            panic!(
                "fixtures not found at {} ({e}); set VIGIL_FIXTURES_DIR",
                root.display()
            )
        })
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .flat_map(|scenario| {
            std::fs::read_dir(scenario)
                .into_iter()
                .flatten()
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_dir())
                .collect::<Vec<_>>()
        })
        .collect();
    dirs.sort();
    dirs
}

/// The last component of `path` (a scenario's or a request's name).
pub fn dir_name(path: &Path) -> String {
    path.file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default()
        .to_owned()
}

/// The context the server normalizes an envelope's item with: `base` with the time it was
/// received, the envelope's `sent_at` and the `event_id` of the envelope `header`.
pub fn item_context(
    header: &Value,
    received: f64,
    sent_at: Option<f64>,
    base: NormalizeContext,
) -> NormalizeContext {
    NormalizeContext {
        received,
        sent_at,
        envelope_event_id: header
            .get("event_id")
            .and_then(Value::as_str)
            .map(str::to_owned),
        ..base
    }
}

/// The client address the tests pretend every fixture request came from.
pub const CLIENT_IP: &str = "10.1.2.3";

/// An RFC 3339 time (an envelope's `sent_at`) in Unix seconds.
pub fn rfc3339_secs(s: &str) -> f64 {
    let t = time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|e| panic!("sent_at {s}: {e}"));
    t.unix_timestamp_nanos() as f64 / 1e9
}

/// Every event-like item in the fixtures (its JSON bytes), with the context the server would
/// normalize it with.
pub fn fixture_events() -> Vec<(String, Vec<u8>, NormalizeContext)> {
    let mut events = Vec::new();
    for dir in request_dirs() {
        let scenario_name = dir.parent().map(dir_name).unwrap_or_default();
        let request_name = dir_name(&dir);
        let is_envelope = request_name.ends_with("-envelope");
        let is_store = request_name.ends_with("-store");
        if !is_envelope && !is_store {
            continue;
        }
        let captured = Captured::read(&dir);
        let auth_time = captured
            .auth_param("sentry_timestamp")
            .and_then(|t| t.parse::<f64>().ok());
        let base = NormalizeContext {
            client_ip: Some(CLIENT_IP.into()),
            client_sdk: captured.auth_param("sentry_client"),
            ..NormalizeContext::default()
        };
        if is_store {
            let event = captured.body.clone();
            let received = auth_time.expect("raven sends sentry_timestamp") + 1.0;
            let name = format!("{scenario_name}__{request_name}");
            events.push((name, event, NormalizeContext { received, ..base }));
            continue;
        }
        let (header, items) = parse_envelope(&captured.body);
        let sent_at = header
            .get("sent_at")
            .and_then(Value::as_str)
            .map(rfc3339_secs);
        for (i, (item_header, payload)) in items.into_iter().enumerate() {
            let ty = item_header["type"].as_str().unwrap_or_default();
            if !matches!(ty, "event" | "transaction" | "feedback") {
                continue;
            }
            if let Err(e) = Json::parse(&payload) {
                panic!("{} item {i}: {e}", captured.path.display());
            }
            let event = payload.to_vec();
            // Received one second after the SDK sent it; without `sent_at`, one second
            // after the auth header's timestamp.
            let received = sent_at.or(auth_time).expect("a send time") + 1.0;
            let ctx = item_context(&header, received, sent_at, base.clone());
            let name = format!("{scenario_name}__{request_name}__{i}_{ty}");
            events.push((name, event, ctx));
        }
    }
    events
}
