//! What writing a batch of spans costs in the store: `save_spans` of 64 Python-SDK
//! transactions of 30 spans each (a batch as the queue workers write it), on SQLite in a temp
//! dir, `synchronous=FULL` as served.
//!
//! The transactions are made by `vigil_processing::performance::process_transaction` from
//! payloads shaped like the load generator's (`crates/loadgen/src/transactions.rs`: Django
//! signals, middleware, queries, HTTP calls, template renders, cache reads), with ids drawn from
//! a counter, so every run writes the same rows in the same order. Throughput is per
//! transaction. After the timings, the bench writes a fixed number of batches to a fresh store
//! and prints the disk used per transaction (database and WAL, after a checkpoint).
//!
//! `cargo bench -p vigil-store --bench spans`

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use divan::counter::ItemsCount;
use divan::Bencher;
use serde_json::{json, Value};
use tempfile::TempDir;
use vigil_processing::json::Json;
use vigil_processing::performance::{process_transaction, Thresholds};
use vigil_processing::NormalizeContext;
use vigil_store::prelude::*;
use vigil_store::sqlite::SqliteStore;
use vigil_store::SpanBatch;

/// Transactions per batch, as a worker's claim holds them.
const TRANSACTIONS: usize = 64;
/// Spans below each transaction's root.
const SPANS: usize = 30;
/// When the transactions end: fixed, so that rollup periods are the same on every run.
const NOW: f64 = 1_700_000_000.0;
/// Batches written to measure the disk used per transaction.
const DISK_BATCHES: u64 = 8;

/// The server's allocator (`crates/vigil`), so that allocations weigh as they do there.
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() {
    divan::main();
    if let Err(err) = print_disk_per_transaction() {
        eprintln!("disk per transaction: {err}");
    }
}

/// A tokio runtime for the store's async API.
fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

/// A fresh store in `dir` with one python project; the project's id.
async fn store_with_project(dir: &Path) -> (SqliteStore, i64) {
    let store = SqliteStore::open(&dir.join("vigil.sqlite3")).expect("a store in a temp dir");
    let org = store
        .ensure_organization("bench")
        .await
        .expect("an organization");
    let (project, _) = store
        .create_project(org.id, "shop", Some("python"))
        .await
        .expect("a project");
    (store, project.id)
}

/// 16 hex digits of `n` mixed (SplitMix64's finalizer), so ids spread over the index like
/// random ones do.
fn hex16(n: u64) -> String {
    let mut z = n.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    format!("{:016x}", z ^ (z >> 31))
}

/// A Django ORM `SELECT`, as the SDK reports it.
fn select(table: &str) -> String {
    format!(
        "SELECT \"{table}\".\"id\", \"{table}\".\"name\", \"{table}\".\"created_at\" \
         FROM \"{table}\" WHERE \"{table}\".\"id\" = %s LIMIT 21"
    )
}

/// Transaction `n`'s payload: a Python-SDK Django transaction with [`SPANS`] spans.
fn payload(n: u64) -> Value {
    const ROUTES: [&str; 4] = ["/api/cart/", "/checkout/", "/search/", "/books/{slug}/"];
    const TABLES: [&str; 4] = ["shop_product", "shop_order", "shop_cart", "django_session"];
    let trace_id = format!("{}{}", hex16(n * 64), hex16(n * 64 + 1));
    let root = hex16(n * 64 + 2);
    let end = NOW - (n % 600) as f64;
    let start = end - 0.120;
    let spans: Vec<Value> = (0..SPANS as u64)
        .map(|i| {
            let (op, description, db) = match i % 5 {
                0 | 2 => ("db", select(TABLES[(i as usize / 5) % TABLES.len()]), true),
                1 => (
                    "http.client",
                    "GET https://stock.example.com/v1/items".to_owned(),
                    false,
                ),
                3 => ("template.render", "shop/product_detail.html".into(), false),
                _ => (
                    "cache.get",
                    "views.decorators.cache.cache_page".into(),
                    false,
                ),
            };
            let span_start = start + 0.001 + i as f64 * 0.003;
            let mut data = json!({
                "thread.id": "140414685234880",
                "thread.name": "Thread-1 (serve_forever)",
            });
            if db {
                data["db.system"] = json!("postgresql");
                data["db.name"] = json!("shop");
            }
            json!({
                "trace_id": trace_id,
                "span_id": hex16(n * 64 + 3 + i),
                "parent_span_id": root,
                "same_process_as_parent": true,
                "op": op,
                "description": description,
                "start_timestamp": span_start,
                "timestamp": span_start + 0.002,
                "origin": "auto.db.django",
                "data": data,
            })
        })
        .collect();
    json!({
        "type": "transaction",
        "event_id": format!("{}{}", hex16(n * 64 + 40), hex16(n * 64 + 41)),
        "transaction": ROUTES[(n % ROUTES.len() as u64) as usize],
        "transaction_info": {"source": "route"},
        "contexts": {
            "trace": {
                "trace_id": trace_id,
                "span_id": root,
                "op": "http.server",
                "origin": "auto.http.django",
                "status": "ok",
                "data": {"thread.id": "140414685234880", "http.response.status_code": 200},
            },
            "runtime": {"name": "CPython", "version": "3.11.7"},
        },
        "tags": {"http.status_code": "200"},
        "timestamp": end,
        "start_timestamp": start,
        "request": {
            "url": "https://shop.example.com/checkout/",
            "method": "GET",
            "headers": {"Host": "shop.example.com", "User-Agent": "Mozilla/5.0 Firefox/130.0"},
        },
        "spans": spans,
        "user": {"ip_address": "203.0.113.7"},
        "release": "shop@1.4.2",
        "environment": "production",
        "server_name": "web-1",
        "sdk": {"name": "sentry.python.django", "version": "2.75.0"},
        "platform": "python",
    })
}

/// Batch `b`: transactions `b * TRANSACTIONS ..` of `project_id`, processed as a worker does.
fn batch(project_id: i64, b: u64) -> SpanBatch {
    let ctx = NormalizeContext {
        received: NOW + 1.0,
        sent_at: None,
        client_ip: None,
        envelope_event_id: None,
        client_sdk: None,
        retention_days: 0,
        scrubbing: Default::default(),
        filters: Default::default(),
        symbolication: None,
    };
    let thresholds = Thresholds::default();
    let mut batch = SpanBatch::default();
    for n in b * TRANSACTIONS as u64..(b + 1) * TRANSACTIONS as u64 {
        let processed = process_transaction(Json::from(payload(n)), project_id, &ctx, &thresholds)
            .expect("a transaction the pipeline accepts")
            .kept()
            .expect("no default filter drops it");
        batch.transactions.extend(processed.transactions);
        batch.spans.extend(processed.spans);
    }
    assert_eq!(batch.spans.len(), TRANSACTIONS * SPANS);
    batch
}

/// One `save_spans` of a fresh batch of [`TRANSACTIONS`], into a store that grows as the
/// samples go (as a server's does).
#[divan::bench(sample_count = 24, sample_size = 1)]
fn save_spans(bencher: Bencher) {
    let dir = TempDir::new().expect("a temp dir");
    let runtime = runtime();
    let (store, project_id) = runtime.block_on(store_with_project(dir.path()));
    let next = AtomicU64::new(0);
    bencher
        .counter(ItemsCount::new(TRANSACTIONS))
        .with_inputs(|| batch(project_id, next.fetch_add(1, Ordering::Relaxed)))
        .bench_local_values(|batch| {
            let saved = runtime
                .block_on(store.save_spans(batch))
                .expect("the batch is saved");
            assert_eq!(saved.new_spans, TRANSACTIONS * SPANS);
        });
}

/// Writes [`DISK_BATCHES`] batches to a fresh store and prints the bytes on disk per
/// transaction once the WAL is checkpointed into the database.
fn print_disk_per_transaction() -> Result<(), Box<dyn std::error::Error>> {
    let dir = TempDir::new()?;
    let runtime = runtime();
    let (store, project_id) = runtime.block_on(store_with_project(dir.path()));
    // Closing the last connection checkpoints the WAL into the database file.
    drop(store);
    let empty = dir_bytes(dir.path())?;
    let store = SqliteStore::open(&dir.path().join("vigil.sqlite3"))?;
    for b in 0..DISK_BATCHES {
        runtime.block_on(store.save_spans(batch(project_id, b)))?;
    }
    drop(store);
    let written = dir_bytes(dir.path())?.saturating_sub(empty);
    let transactions = DISK_BATCHES * TRANSACTIONS as u64;
    println!(
        "disk per transaction ({SPANS} spans): {} bytes ({transactions} transactions)",
        written / transactions
    );
    Ok(())
}

/// The bytes of the files in `dir`.
fn dir_bytes(dir: &Path) -> std::io::Result<u64> {
    let mut total = 0;
    for entry in std::fs::read_dir(dir)? {
        let metadata = entry?.metadata()?;
        if metadata.is_file() {
            total += metadata.len();
        }
    }
    Ok(total)
}
