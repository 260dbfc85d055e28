//! What one event costs on its way in: JSON parse → normalize → group → title and tags.
//!
//! Real SDK events from `../shared/fixtures/sdk-payloads/` (a Django error with a full Python
//! stack and locals, a Node error, a Rust panic with debug images), so the figures are those of
//! the events users send. Run with `cargo bench -p vigil-processing --bench pipeline`.

use std::path::{Path, PathBuf};

use divan::{black_box, Bencher};
use serde_json::Value;
use vigil_processing::{group_event, normalize_event, process_event, NormalizeContext};

fn main() {
    divan::main();
}

/// The first `event` item of the first request of a fixture scenario, as raw bytes.
fn fixture_event(scenario: &str) -> Vec<u8> {
    let dir = fixtures_dir().join(scenario);
    let mut requests: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    requests.sort();
    for request in requests {
        let decoded = request.join("body.decoded");
        let body = std::fs::read(if decoded.exists() {
            decoded
        } else {
            request.join("body.bin")
        })
        .expect("reading a fixture body");
        let Ok(envelope) = vigil_protocol::envelope::parse_envelope(body.into()) else {
            continue;
        };
        if let Some(item) = envelope
            .items
            .iter()
            .find(|i| i.ty() == vigil_protocol::envelope::ItemType::Event)
        {
            return item.payload.to_vec();
        }
    }
    panic!("no event item in fixture {scenario}");
}

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures/sdk-payloads")
}

fn context() -> NormalizeContext {
    NormalizeContext {
        received: 1_795_574_460.0,
        sent_at: Some(1_795_574_459.5),
        client_ip: Some("127.0.0.1".into()),
        envelope_event_id: None,
        client_sdk: Some("sentry.python/2.75.0".into()),
        retention_days: 90,
    }
}

const SCENARIOS: &[&str] = &["django-zerodivision", "node-error", "rust-panic"];

#[divan::bench(args = SCENARIOS)]
fn parse_json(bencher: Bencher, scenario: &str) {
    let bytes = fixture_event(scenario);
    bencher.bench(|| serde_json::from_slice::<Value>(black_box(&bytes)).expect("valid JSON"));
}

#[divan::bench(args = SCENARIOS)]
fn normalize(bencher: Bencher, scenario: &str) {
    let raw: Value = serde_json::from_slice(&fixture_event(scenario)).expect("valid JSON");
    let ctx = context();
    bencher
        .with_inputs(|| raw.clone())
        .bench_values(|raw| normalize_event(raw, &ctx).expect("normalizes"));
}

#[divan::bench(args = SCENARIOS)]
fn group(bencher: Bencher, scenario: &str) {
    let raw: Value = serde_json::from_slice(&fixture_event(scenario)).expect("valid JSON");
    let event = normalize_event(raw, &context()).expect("normalizes");
    bencher.bench(|| group_event(black_box(&event)));
}

/// The whole pipeline from bytes, as the ingest path runs it.
#[divan::bench(args = SCENARIOS)]
fn parse_and_process(bencher: Bencher, scenario: &str) {
    let bytes = fixture_event(scenario);
    let ctx = context();
    bencher.bench(|| {
        let raw: Value = serde_json::from_slice(black_box(&bytes)).expect("valid JSON");
        process_event(raw, &ctx).expect("processes")
    });
}
