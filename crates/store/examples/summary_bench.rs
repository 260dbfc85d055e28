//! How fast the performance summaries answer over a million stored transactions.
//!
//! ```text
//! cargo run --release -p vigil-store --example summary_bench -- --transactions 1000000
//! ```
//!
//! Writes `--transactions` Python-like transactions (50 names with skewed traffic, 3
//! environments, 30 days ending now, ~4% failures, 5,000 users, 0–3 spans each) through
//! [`Store::save_spans`] in batches, timing the writes alone, then runs each query the
//! performance pages and the `events/` API make — once to warm up, then `--runs` times — and
//! prints the median and the slowest run of each, and the database's size. Ranges end at the
//! newest transaction and are not aligned to hours, so every summary also reads its edge hours
//! from rows, as a live page does.
//!
//! On SQLite by default (a temporary directory, or `--db PATH`, which keeps the database and
//! skips the load when it already holds the data); on PostgreSQL too when
//! `VIGIL_TEST_DATABASE_URL` names a server (a fresh database is made there and dropped).
//! `--postgres-only` skips SQLite. Not a test: it measures the machine it runs on.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::json;
use vigil_store::postgres::{PgStore, TestDatabase};
use vigil_store::sqlite::SqliteStore;
use vigil_store::{
    NewSpan, NewTransaction, Store, StoreError, StoreResult, TransactionQuery, TransactionSort,
};

const DAY: f64 = 86_400.0;
const NAMES: usize = 50;
const ENVIRONMENTS: [(&str, f64); 3] =
    [("production", 0.7), ("staging", 0.2), ("development", 0.1)];
const USERS: u32 = 5_000;
const ORGANIZATION: &str = "summary-bench";
const PROJECT: &str = "shop";

/// What the command line asks for.
struct Options {
    transactions: u64,
    batch: usize,
    runs: usize,
    days: f64,
    db: Option<PathBuf>,
    postgres_only: bool,
}

fn options() -> Result<Options, String> {
    let mut options = Options {
        transactions: 1_000_000,
        batch: 1_000,
        runs: 20,
        days: 30.0,
        db: None,
        postgres_only: false,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or(format!("{flag} needs a value"));
        let number = |text: String| {
            text.replace('_', "")
                .parse::<u64>()
                .map_err(|_| format!("{flag}: {text:?} is not a whole number"))
        };
        match flag.as_str() {
            "--transactions" => options.transactions = number(value()?)?,
            "--batch" => options.batch = number(value()?)?.max(1) as usize,
            "--runs" => options.runs = number(value()?)?.max(1) as usize,
            "--days" => options.days = number(value()?)?.max(1) as f64,
            "--db" => options.db = Some(PathBuf::from(value()?)),
            "--postgres-only" => options.postgres_only = true,
            "-h" | "--help" => {
                return Err(
                    "usage: summary_bench [--transactions N] [--batch N] [--runs N] \
                            [--days N] [--db PATH] [--postgres-only]"
                        .into(),
                )
            }
            other => return Err(format!("unknown argument {other:?} (try --help)")),
        }
    }
    Ok(options)
}

#[tokio::main]
async fn main() {
    let options = match options() {
        Ok(options) => options,
        Err(message) => {
            eprintln!("{message}");
            std::process::exit(2);
        }
    };
    if let Err(err) = run(&options).await {
        eprintln!("summary_bench: {err}");
        std::process::exit(1);
    }
}

async fn run(options: &Options) -> StoreResult<()> {
    if !options.postgres_only {
        let temp = tempfile::TempDir::new()
            .map_err(|e| StoreError::Database(format!("creating a temporary directory: {e}")))?;
        let path = options
            .db
            .clone()
            .unwrap_or_else(|| temp.path().join("vigil.sqlite3"));
        let store = SqliteStore::open(&path)?;
        println!("## SQLite ({})", path.display());
        bench(&store, options, None).await?;
        drop(store);
        let dir = path.parent().unwrap_or(Path::new("."));
        println!(
            "database: {} (the database file and its WAL in {})",
            mib(sqlite_size(&path)),
            dir.display()
        );
    }
    if std::env::var_os(TestDatabase::ENV).is_some() {
        let database = TestDatabase::create().await?;
        let store = PgStore::connect(database.url()).await?;
        println!(
            "\n## PostgreSQL (a fresh database on {})",
            TestDatabase::ENV
        );
        bench(&store, options, Some(database.url())).await?;
        drop(store);
        println!("database: {}", mib(postgres_size(database.url()).await?));
    } else {
        println!("\n(PostgreSQL skipped: {} is not set)", TestDatabase::ENV);
    }
    Ok(())
}

/// Loads (unless the store already holds the data) and times every query. On PostgreSQL
/// (`analyze_url`) the tables are analyzed after the load, as autovacuum would do within a
/// minute of it, so that the plans are those of a server that has been running.
async fn bench(store: &dyn Store, options: &Options, analyze_url: Option<&str>) -> StoreResult<()> {
    let organization = store.ensure_organization(ORGANIZATION).await?;
    let project = match store.project_by_slug(organization.id, PROJECT).await? {
        Some(project) => {
            println!("load: skipped, the database already holds the transactions");
            project
        }
        None => {
            let (project, _) = store
                .create_project(organization.id, PROJECT, Some("python"))
                .await?;
            load(store, project.id, options).await?;
            if let Some(url) = analyze_url {
                let started = Instant::now();
                postgres_execute(url, "ANALYZE").await?;
                println!("ANALYZE: {:.1} s", started.elapsed().as_secs_f64());
            }
            project
        }
    };
    let everything = TransactionQuery {
        organization_id: organization.id,
        project_ids: vec![project.id],
        ..TransactionQuery::default()
    };
    // Ranges end at the newest transaction, a moment that is not on an hour.
    let newest = store
        .list_transactions(&everything, TransactionSort::Newest, 1, 0)
        .await?;
    let Some(newest) = newest.first() else {
        return Err(StoreError::Invalid(
            "the database holds no transaction".into(),
        ));
    };
    let until = newest.start + 0.5;
    let total = store
        .aggregate_transactions(&everything, false)
        .await?
        .first()
        .map_or(0, |a| a.count);
    println!(
        "{total} transactions stored; ranges end at {until:.1} ({:.0} s past the hour)\n",
        until.rem_euclid(3600.0)
    );

    let busiest = name_of(0);
    println!("| query | results | median | max |");
    println!("| --- | --- | --- | --- |");
    for query in queries(&everything, until, &busiest) {
        let timing = time_query(store, &query, options.runs).await?;
        println!(
            "| {} | {} | {} | {} |",
            query.label,
            timing.results,
            ms(timing.median),
            ms(timing.max)
        );
    }
    Ok(())
}

/// One query of a summary page, and what it reads.
struct BenchQuery {
    label: String,
    query: TransactionQuery,
    kind: Kind,
}

enum Kind {
    Aggregate {
        by_transaction: bool,
    },
    Series {
        interval_secs: u64,
    },
    Histogram {
        buckets: u32,
    },
    Spans {
        by_group: bool,
        op_prefix: Option<&'static str>,
    },
    Slowest {
        limit: u64,
    },
}

fn queries(everything: &TransactionQuery, until: f64, busiest: &str) -> Vec<BenchQuery> {
    let range = |days: f64| TransactionQuery {
        since: Some(until - days * DAY),
        until: Some(until),
        ..everything.clone()
    };
    // A series as the API and the page ask for it: buckets on interval boundaries.
    let aligned = |days: f64, interval: f64| TransactionQuery {
        since: Some(((until - days * DAY) / interval).floor() * interval),
        until: Some(until),
        ..everything.clone()
    };
    let one = |days: f64| TransactionQuery {
        transaction: Some(busiest.to_owned()),
        ..range(days)
    };
    let q = |label: &str, query: TransactionQuery, kind: Kind| BenchQuery {
        label: label.to_owned(),
        query,
        kind,
    };
    let by_transaction = Kind::Aggregate {
        by_transaction: true,
    };
    vec![
        q("aggregate by transaction, 24h", range(1.0), by_transaction),
        q(
            "aggregate by transaction, 7d",
            range(7.0),
            Kind::Aggregate {
                by_transaction: true,
            },
        ),
        q(
            "aggregate by transaction, 30d",
            range(30.0),
            Kind::Aggregate {
                by_transaction: true,
            },
        ),
        q(
            "one transaction's aggregate, 30d (the busiest)",
            one(30.0),
            Kind::Aggregate {
                by_transaction: false,
            },
        ),
        q(
            "series 24h, 1h buckets",
            range(1.0),
            Kind::Series {
                interval_secs: 3600,
            },
        ),
        q(
            "series 24h, 30 min buckets (the page's)",
            range(1.0),
            Kind::Series {
                interval_secs: 1800,
            },
        ),
        q(
            "series 30d, 1d buckets from an unaligned start",
            range(30.0),
            Kind::Series {
                interval_secs: 86_400,
            },
        ),
        q(
            "series 30d, 1d buckets on day boundaries (the API's and the page's)",
            aligned(30.0, DAY),
            Kind::Series {
                interval_secs: 86_400,
            },
        ),
        q(
            "series 7d, 3h buckets on boundaries (the page's)",
            aligned(7.0, 3.0 * 3600.0),
            Kind::Series {
                interval_secs: 3 * 3600,
            },
        ),
        q(
            "duration histogram, one transaction, 7d, 20 bins",
            one(7.0),
            Kind::Histogram { buckets: 20 },
        ),
        q(
            "span aggregates by op, 7d",
            range(7.0),
            Kind::Spans {
                by_group: false,
                op_prefix: None,
            },
        ),
        q(
            "span aggregates by group, op db*, 7d",
            range(7.0),
            Kind::Spans {
                by_group: true,
                op_prefix: Some("db"),
            },
        ),
        q("slowest 50, 24h", range(1.0), Kind::Slowest { limit: 50 }),
    ]
}

/// Runs a query once; how many results it gave (groups, buckets, rows).
async fn run_query(store: &dyn Store, query: &BenchQuery) -> StoreResult<usize> {
    let q = &query.query;
    Ok(match query.kind {
        Kind::Aggregate { by_transaction } => {
            store.aggregate_transactions(q, by_transaction).await?.len()
        }
        Kind::Series { interval_secs } => store.transaction_series(q, interval_secs).await?.len(),
        Kind::Histogram { buckets } => store.duration_histogram(q, buckets).await?.len(),
        Kind::Spans {
            by_group,
            op_prefix,
        } => store
            .span_aggregates(q, by_group, op_prefix, 20)
            .await?
            .len(),
        Kind::Slowest { limit } => store
            .list_transactions(q, TransactionSort::Slowest, limit, 0)
            .await?
            .len(),
    })
}

struct Timing {
    results: usize,
    median: Duration,
    max: Duration,
}

/// One warm-up run, then `runs` timed ones.
async fn time_query(store: &dyn Store, query: &BenchQuery, runs: usize) -> StoreResult<Timing> {
    let results = run_query(store, query).await?;
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let started = Instant::now();
        run_query(store, query).await?;
        times.push(started.elapsed());
    }
    times.sort();
    Ok(Timing {
        results,
        median: times[times.len() / 2],
        max: times[times.len() - 1],
    })
}

// --- the data ---------------------------------------------------------------------------------

fn name_of(index: usize) -> String {
    const ROUTES: [&str; 10] = [
        "/api/products/{id}/",
        "/api/cart/",
        "/checkout/",
        "/authors/",
        "/api/orders/{id}/",
        "/search/",
        "/account/",
        "shop.tasks.send_invoice",
        "/api/reviews/",
        "/",
    ];
    format!("{}#{}", ROUTES[index % ROUTES.len()], index / ROUTES.len())
}

/// Transaction names with skewed traffic: the first name gets ~10× the 50th's.
fn pick_name(rng: &mut StdRng) -> usize {
    // Weights 1/(i+5), sampled by inverting their running sum.
    let total: f64 = (0..NAMES).map(|i| 1.0 / (i as f64 + 5.0)).sum();
    let mut target = rng.gen::<f64>() * total;
    for i in 0..NAMES {
        target -= 1.0 / (i as f64 + 5.0);
        if target <= 0.0 {
            return i;
        }
    }
    NAMES - 1
}

fn pick_environment(rng: &mut StdRng) -> &'static str {
    let mut target = rng.gen::<f64>();
    for (name, share) in ENVIRONMENTS {
        target -= share;
        if target <= 0.0 {
            return name;
        }
    }
    ENVIRONMENTS[0].0
}

/// A log-normal duration around `median_ms` (Box–Muller for the normal).
fn duration_ms(rng: &mut StdRng, median_ms: f64) -> f64 {
    let (u1, u2): (f64, f64) = (rng.gen_range(f64::EPSILON..1.0), rng.gen());
    let normal = (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
    (median_ms * (0.6 * normal).exp()).max(0.05)
}

/// Statements of the db spans: table names make ten distinct groups.
const TABLES: [&str; 10] = [
    "auth_user",
    "shop_product",
    "shop_order",
    "shop_cart",
    "shop_review",
    "shop_author",
    "shop_book",
    "shop_invoice",
    "django_session",
    "shop_stock",
];

fn spans_of(rng: &mut StdRng, t: &NewTransaction, n: u64) -> Vec<NewSpan> {
    let count = n % 4;
    (0..count)
        .map(|k| {
            let (op, description, group) = match (n + k) % 3 {
                0 => {
                    let table = TABLES[rng.gen_range(0..TABLES.len())];
                    let id = rng.gen_range(1..10_000);
                    (
                        "db",
                        format!("SELECT * FROM \"{table}\" WHERE \"{table}\".\"id\" = {id}"),
                        format!("SELECT * FROM \"{table}\" WHERE \"{table}\".\"id\" = %s"),
                    )
                }
                1 => (
                    "http.client",
                    format!(
                        "GET https://api.example.com/v1/stock/{}",
                        rng.gen_range(1..1000)
                    ),
                    "GET https://api.example.com/v1/stock/*".to_owned(),
                ),
                _ => (
                    "template.render",
                    "shop/product_detail.html".to_owned(),
                    "shop/product_detail.html".to_owned(),
                ),
            };
            let offset = rng.gen::<f64>() * t.duration_ms * 0.8;
            let duration = rng.gen::<f64>() * (t.duration_ms - offset).max(0.01);
            NewSpan {
                project_id: t.project_id,
                trace_id: t.trace_id.clone(),
                segment_id: t.span_id.clone(),
                transaction: t.name.clone(),
                span_id: format!("{:016x}", (n << 2) | k),
                parent_span_id: Some(t.span_id.clone()),
                op: op.to_owned(),
                description,
                group,
                status: "ok".to_owned(),
                start: t.start + offset / 1000.0,
                duration_ms: duration,
                data: json!({"db.system": "postgresql", "thread.name": "MainThread"}),
            }
        })
        .collect()
}

fn transaction(rng: &mut StdRng, project_id: i64, n: u64, start: f64) -> NewTransaction {
    let name_index = pick_name(rng);
    let name = name_of(name_index);
    let median = 12.0 * 1.09f64.powi(name_index as i32);
    let duration_ms = duration_ms(rng, median);
    let roll = rng.gen::<f64>();
    let (status, code) = if roll < 0.03 {
        ("internal_error", "500")
    } else if roll < 0.04 {
        ("not_found", "404")
    } else {
        ("ok", "200")
    };
    let environment = pick_environment(rng);
    let user = rng.gen_range(0..USERS);
    let trace_id = format!("{:016x}{:016x}", 0x7ace_u64, n);
    let span_id = format!("{:016x}", (1u64 << 62) | n);
    let data = json!({
        "type": "transaction",
        "transaction": name,
        "transaction_info": {"source": "route"},
        "contexts": {
            "trace": {"trace_id": trace_id, "span_id": span_id, "op": "http.server", "status": status},
            "runtime": {"name": "CPython", "version": "3.11.7"}
        },
        "request": {"url": format!("https://shop.example.com{name}"), "method": "GET"},
        "sdk": {"name": "sentry.python.django", "version": "2.75.0"}
    });
    NewTransaction {
        project_id,
        event_id: format!("{:016x}{:016x}", 0xe7e7_u64, n),
        trace_id,
        span_id,
        parent_span_id: None,
        name,
        op: "http.server".to_owned(),
        status: status.to_owned(),
        start,
        duration_ms,
        received: start + duration_ms / 1000.0 + 0.2,
        environment: Some(environment.to_owned()),
        release: Some(format!("shop@1.4.{}", n * 5 / 1_000_000)),
        user_tag: Some(format!("id:{user}")),
        platform: "python".to_owned(),
        tags: vec![
            ("http.status_code".to_owned(), code.to_owned()),
            ("browser".to_owned(), "Firefox 130".to_owned()),
        ],
        data,
    }
}

/// Writes the transactions oldest first (as they arrive), `--batch` per `save_spans`.
async fn load(store: &dyn Store, project_id: i64, options: &Options) -> StoreResult<()> {
    let mut rng = StdRng::seed_from_u64(6);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or_default();
    let first = now - options.days * DAY;
    let step = options.days * DAY / options.transactions.max(1) as f64;
    let started = Instant::now();
    let mut writing = Duration::ZERO;
    let mut spans_written = 0usize;
    let mut n = 0u64;
    while n < options.transactions {
        let mut batch = vigil_store::SpanBatch::default();
        let end = (n + options.batch as u64).min(options.transactions);
        for i in n..end {
            let start = first + i as f64 * step + rng.gen::<f64>() * step;
            let t = transaction(&mut rng, project_id, i, start);
            batch.spans.extend(spans_of(&mut rng, &t, i));
            batch.transactions.push(t);
        }
        let write_started = Instant::now();
        let saved = store.save_spans(batch).await?;
        writing += write_started.elapsed();
        spans_written += saved.new_spans;
        n = end;
        if n.is_multiple_of(100_000) {
            eprintln!(
                "  {n} transactions written ({:.0}/s of store writes)",
                n as f64 / writing.as_secs_f64()
            );
        }
    }
    println!(
        "load: {} transactions and {spans_written} spans in {:.1} s; store writes alone {:.1} s = \
         {:.0} transactions/s ({} per save_spans)",
        options.transactions,
        started.elapsed().as_secs_f64(),
        writing.as_secs_f64(),
        options.transactions as f64 / writing.as_secs_f64(),
        options.batch
    );
    Ok(())
}

// --- sizes and units --------------------------------------------------------------------------

/// The database file and its `-wal` and `-shm` companions.
fn sqlite_size(path: &Path) -> u64 {
    ["", "-wal", "-shm"]
        .iter()
        .filter_map(|suffix| {
            let mut name = path.as_os_str().to_owned();
            name.push(suffix);
            std::fs::metadata(PathBuf::from(name)).ok()
        })
        .map(|meta| meta.len())
        .sum()
}

async fn postgres_client(url: &str) -> StoreResult<tokio_postgres::Client> {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .map_err(|e| StoreError::Database(format!("connecting to PostgreSQL: {e}")))?;
    tokio::spawn(connection);
    Ok(client)
}

async fn postgres_execute(url: &str, sql: &str) -> StoreResult<()> {
    postgres_client(url)
        .await?
        .batch_execute(sql)
        .await
        .map_err(|e| StoreError::Database(format!("{sql}: {e}")))
}

async fn postgres_size(url: &str) -> StoreResult<u64> {
    let client = postgres_client(url).await?;
    let row = client
        .query_one("SELECT pg_database_size(current_database())", &[])
        .await
        .map_err(|e| StoreError::Database(format!("reading the database size: {e}")))?;
    Ok(row.get::<_, i64>(0).max(0) as u64)
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

fn ms(duration: Duration) -> String {
    format!("{:.1} ms", duration.as_secs_f64() * 1000.0)
}
