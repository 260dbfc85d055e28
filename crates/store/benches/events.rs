//! What writing a batch of error events costs in the store: encoding (serialize the event JSON,
//! compress it against its issue's reference event) and `save_events` on SQLite.
//!
//! The events are those of the load test (`scripts/bench-ingest.sh … --template rust-panic
//! --issues 1000`): the Rust panic fixture, processed by `vigil_processing::process_event`,
//! with a fingerprint that spreads them over 1,000 issues, in batches of 256. Every issue has
//! its reference and its first event stored before measuring, so the figures are those of the
//! steady state. Inputs are the same on every run; throughput is per event (`ItemsCount`).
//! Run with `cargo bench -p vigil-store --bench events`.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use divan::counter::ItemsCount;
use divan::Bencher;
use serde_json::{json, Value};
use vigil_processing::{process_event, NormalizeContext};
use vigil_store::encode_bench::BatchEncoder;
use vigil_store::prelude::*;
use vigil_store::sqlite::SqliteStore;
use vigil_store::{JsonText, NewEvent};

/// The server's allocator (`crates/vigil`): glibc's weighs the many small JSON values an event
/// is made of differently.
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() {
    divan::main();
}

const ISSUES: u64 = 1000;
const BATCH: usize = 256;
const RECEIVED: f64 = 1_795_574_460.0;

/// The first `event` item of the first request of a fixture scenario, parsed.
fn fixture_event(scenario: &str) -> Value {
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
            return serde_json::from_slice(&item.payload).expect("fixture event is JSON");
        }
    }
    panic!("no event item in fixture {scenario}");
}

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures/sdk-payloads")
}

/// One processed event of each issue, as the worker hands them to the store (the event id is
/// set per send by [`EventSource::next_batch`]).
struct Templates {
    by_issue: Vec<NewEvent>,
}

impl Templates {
    fn new(project_id: i64) -> Templates {
        let raw = fixture_event("rust-panic");
        let ctx = NormalizeContext {
            received: RECEIVED,
            sent_at: Some(RECEIVED - 0.5),
            client_ip: Some("127.0.0.1".into()),
            envelope_event_id: None,
            client_sdk: None,
            retention_days: 90,
            scrubbing: Default::default(),
            filters: Default::default(),
            symbolication: None,
        };
        let by_issue = (0..ISSUES)
            .map(|issue| {
                let mut raw = raw.clone();
                raw["fingerprint"] = json!([format!("loadgen-{issue}")]);
                raw["timestamp"] = json!(RECEIVED - 1.0);
                let event = process_event(raw.into(), &ctx)
                    .expect("the fixture processes")
                    .kept()
                    .expect("no default filter drops it");
                event.into_new_event(project_id)
            })
            .collect();
        Templates { by_issue }
    }

    /// Event `n` of the run: issue `n % ISSUES` with a fresh event id, as the load generator
    /// sends them (round-robin over the issues).
    fn event(&self, n: u64) -> NewEvent {
        let mut event = self.by_issue[(n % ISSUES) as usize].clone();
        let event_id = format!("{n:032x}");
        // Processing wrote the template's id into its JSON; the new one takes its place.
        let data = event.data.as_str().replacen(&event.event_id, &event_id, 1);
        event.data = JsonText::from_serialized(data);
        event.event_id = event_id;
        event
    }
}

/// Hands out consecutive batches, so that no event id repeats within a bench.
struct EventSource {
    templates: Templates,
    next: AtomicU64,
}

impl EventSource {
    fn next_batch(&self, size: usize) -> Vec<NewEvent> {
        let first = self.next.fetch_add(size as u64, Ordering::Relaxed);
        (first..first + size as u64)
            .map(|n| self.templates.event(n))
            .collect()
    }
}

/// Serialize and compress a batch against its issues' references (the CPU part of
/// `save_events`, before any transaction).
#[divan::bench(sample_count = 30, sample_size = 1)]
fn encode_batch(bencher: Bencher) {
    let events = EventSource {
        templates: Templates::new(1),
        next: AtomicU64::new(0),
    };
    let mut encoder = BatchEncoder::default();
    // Every issue's first event brings its reference.
    for _ in 0..ISSUES as usize / BATCH + 1 {
        encoder.encode(events.next_batch(BATCH)).expect("encodes");
    }
    bencher
        .counter(ItemsCount::new(BATCH))
        .with_inputs(|| events.next_batch(BATCH))
        .bench_local_values(|batch| encoder.encode(batch).expect("encodes"));
}

/// `save_events` of a batch on SQLite in a temporary directory: encoding and the transaction.
#[divan::bench(sample_count = 30, sample_size = 1)]
fn save_events_sqlite(bencher: Bencher) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("a runtime");
    let dir = tempfile::TempDir::new().expect("a temp dir");
    let store = SqliteStore::open(&dir.path().join("vigil.sqlite3")).expect("opens");
    let project_id = runtime.block_on(async {
        let org = store.ensure_organization("bench").await.expect("org");
        let (project, _) = store
            .create_project(org.id, "rust", Some("rust"))
            .await
            .expect("project");
        project.id
    });
    let events = EventSource {
        templates: Templates::new(project_id),
        next: AtomicU64::new(0),
    };
    // Every issue, its reference and its first event exist before measuring.
    for _ in 0..ISSUES as usize / BATCH + 1 {
        runtime
            .block_on(store.save_events(events.next_batch(BATCH)))
            .expect("saves");
    }
    bencher
        .counter(ItemsCount::new(BATCH))
        .with_inputs(|| events.next_batch(BATCH))
        .bench_local_values(|batch| {
            let saved = runtime.block_on(store.save_events(batch)).expect("saves");
            assert!(saved.iter().all(|s| !s.duplicate));
        });
}
