//! `vigil-loadgen`: sends realistic error events to a Vigil — or any Sentry-compatible server —
//! and prints what it measured: accepted and processed events per second, request latency,
//! status counts, and with a little help (`--server-pid`, `--data-dir`) the server's memory and
//! disk per event.
//!
//! Realistic means the events real SDKs sent: the `event` items of the captured requests in
//! `shared/fixtures/sdk-payloads/`, each send with a fresh event id and timestamps of now, and
//! a fingerprint that spreads them over exactly `--issues` groups. It lives in the repository
//! so that every figure in BENCHMARKS.md can be reproduced with one command, against Vigil and
//! against the trackers it is compared with.
//!
//! `--transactions` sends Python-SDK transactions instead (`transactions`: generated per send,
//! `--spans` each, fresh ids, a share with an N+1 run), for the performance pipeline.
//!
//! A run has three phases: the send phase (`sender`), the drain (`probe`: waiting for the
//! server to process what it accepted, read from `/metrics`), and the report (`report`).
//! Ctrl-C ends the send phase and still reports; a second Ctrl-C skips the drain.

mod http;
mod probe;
mod report;
mod sender;
mod templates;
mod transactions;

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::Parser;
use tokio::sync::watch;
use vigil_protocol::dsn::Dsn;

use crate::http::Target;
use crate::report::{Latency, Report, ServerUsage, StoreUsage, TransactionLoad};
use crate::sender::{SendPlan, StopAfter};
use crate::transactions::TransactionPlan;

/// Sends realistic Sentry events to a server and measures how it copes.
#[derive(Debug, Parser)]
#[command(name = "vigil-loadgen", version)]
struct Args {
    /// Target DSN: http://<key>@host:port/<project_id>. Plain HTTP only.
    #[arg(long)]
    dsn: String,
    /// Captured SDK requests: one folder per scenario, one sub-folder per request.
    #[arg(long, default_value = "../shared/fixtures/sdk-payloads")]
    fixtures: PathBuf,
    /// Only scenarios whose folder name contains this (e.g. `django-zerodivision`).
    #[arg(long)]
    template: Option<String>,
    /// Number of distinct issues: events get fingerprints `loadgen-0` … `loadgen-<K-1>`.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..))]
    issues: u64,
    /// Send Python-SDK transactions (generated, fresh ids every send) instead of the fixtures'
    /// events; `--template` and `--issues` are then ignored.
    #[arg(long)]
    transactions: bool,
    /// Transaction mode: spans per transaction, below its root span.
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=1000))]
    spans: u64,
    /// Transaction mode: distinct transaction names, round-robin.
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u64).range(1..))]
    transaction_names: u64,
    /// Transaction mode: percent of transactions with an N+1 run of 12 identical SELECTs
    /// (needs --spans 13 or more).
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u64).range(0..=100))]
    n_plus_one_percent: u64,
    /// Requests in flight, each on its own keep-alive connection.
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u16).range(1..))]
    concurrency: u16,
    /// Send bodies gzipped (`Content-Encoding: gzip`), as the Python SDK does.
    #[arg(long)]
    gzip: bool,
    /// Stop after this many events (default 10000 when --duration is not given).
    #[arg(long, conflicts_with = "duration")]
    events: Option<u64>,
    /// Stop after this many seconds instead.
    #[arg(long, value_parser = parse_seconds)]
    duration: Option<Duration>,
    /// Keep sending after a 429 instead of waiting its Retry-After on that connection.
    #[arg(long)]
    ignore_retry_after: bool,
    /// The server's process id, to report its peak and current RSS and its CPU time.
    #[arg(long)]
    server_pid: Option<u32>,
    /// The server's data dir, to report store bytes per accepted event.
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Seconds to wait after the drain before measuring the data dir again: the server gives
    /// a drained queue's pages back and checkpoints its logs shortly after.
    #[arg(long, default_value = "6", value_parser = parse_seconds)]
    settle: Duration,
    /// How long to wait for the server to process what it accepted, in seconds.
    #[arg(long, default_value = "300", value_parser = parse_seconds)]
    drain_timeout: Duration,
    /// Print only the report's JSON line.
    #[arg(long)]
    json: bool,
}

fn parse_seconds(text: &str) -> Result<Duration, String> {
    match text.parse::<f64>() {
        Ok(secs) if secs.is_finite() && secs > 0.0 => Ok(Duration::from_secs_f64(secs)),
        _ => Err(format!("{text:?} is not a positive number of seconds")),
    }
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    let dsn: Dsn = args
        .dsn
        .parse()
        .with_context(|| format!("--dsn {:?}", args.dsn))?;
    let target = Target::from_dsn(&dsn).await?;
    let transaction_plan = args.transactions.then(|| {
        TransactionPlan::new(
            args.transaction_names,
            args.spans as usize,
            args.n_plus_one_percent,
        )
    });
    let templates = if transaction_plan.is_some() {
        Vec::new()
    } else {
        templates::load_templates(&args.fixtures, args.template.as_deref())?
    };
    if templates.is_empty() && transaction_plan.is_none() {
        bail!(
            "no event templates in {}{}",
            args.fixtures.display(),
            match &args.template {
                Some(name) => format!(" for scenarios matching {name:?}"),
                None => String::new(),
            }
        );
    }
    let stop_after = match (args.events, args.duration) {
        (_, Some(duration)) => StopAfter::Duration(duration),
        (events, None) => StopAfter::Events(events.unwrap_or(10_000)),
    };

    let (presses, stop) = watch::channel(0u32);
    let quiet = args.json;
    tokio::spawn(async move {
        while tokio::signal::ctrl_c().await.is_ok() {
            presses.send_modify(|n| *n += 1);
            if *presses.borrow() == 1 && !quiet {
                eprintln!("stopping; Ctrl-C again to skip waiting for the server to drain");
            }
        }
    });

    if let (false, Some(plan)) = (args.json, &transaction_plan) {
        eprintln!(
            "sending transactions to {} ({} spans each, {} names, {}% with an N+1 run)",
            target.envelope_url,
            plan.spans,
            plan.names(),
            args.n_plus_one_percent
        );
    } else if !args.json {
        let mut scenarios: Vec<&str> = templates
            .iter()
            .map(|t| t.name.split('/').next().unwrap_or_default())
            .collect();
        scenarios.dedup();
        eprintln!(
            "sending to {} with {} template{} from {}",
            target.envelope_url,
            templates.len(),
            if templates.len() == 1 { "" } else { "s" },
            scenarios.join(", ")
        );
    }

    let template_count = templates.len();
    let baseline = probe::scrape(&target).await;
    let store_before = args.data_dir.as_deref().and_then(probe::dir_size);
    let server_cpu_before = args
        .server_pid
        .and_then(|pid| probe::cpu_seconds(Some(pid)));
    let own_cpu_before = probe::cpu_seconds(None);

    let plan = SendPlan {
        target: target.clone(),
        public_key: dsn.public_key.clone(),
        templates,
        transactions: transaction_plan,
        issues: args.issues,
        gzip: args.gzip,
        concurrency: usize::from(args.concurrency),
        stop_after,
        honour_retry_after: !args.ignore_retry_after,
    };
    let sent = sender::run(plan, stop.clone()).await?;
    let own_cpu = delta(own_cpu_before, probe::cpu_seconds(None));

    let processed = match &baseline {
        Some(baseline) => {
            let mut stop = stop.clone();
            probe::wait_for_drain(
                &target,
                baseline,
                sent.counts.ok,
                sent.started,
                args.drain_timeout,
                &mut stop,
            )
            .await
        }
        None => None,
    };
    // The server's processed counter counts error events only: a drained queue says the
    // transactions were processed.
    let processed = match processed {
        Some(processed) if args.transactions => Some(processed.by_queue_depth(sent.counts.ok)),
        other => other,
    };

    let server = match args.server_pid {
        Some(pid) => ServerUsage {
            memory: probe::memory(pid),
            cpu_seconds: delta(server_cpu_before, probe::cpu_seconds(Some(pid))),
        },
        None => ServerUsage::default(),
    };
    let store_at_drain = args.data_dir.as_deref().and_then(probe::dir_size);
    if store_at_drain.is_some() && !args.settle.is_zero() {
        let mut stop = stop.clone();
        tokio::select! {
            () = tokio::time::sleep(args.settle) => {}
            _ = stop.changed() => {}
        }
    }
    let store = args
        .data_dir
        .as_deref()
        .and_then(probe::dir_size)
        .map(|bytes| StoreUsage {
            bytes,
            bytes_at_drain: store_at_drain,
            bytes_before: store_before,
            bytes_per_event: (sent.counts.ok > 0).then(|| bytes as f64 / sent.counts.ok as f64),
        });

    let send_seconds = sent.elapsed.as_secs_f64();
    let answered = sent.counts.sent() - sent.counts.connection_errors - sent.counts.interrupted;
    let report = Report {
        target: target.envelope_url.clone(),
        templates: template_count,
        concurrency: usize::from(args.concurrency),
        issues: args.issues,
        transactions: args.transactions.then_some(TransactionLoad {
            spans: args.spans,
            names: args.transaction_names,
            n_plus_one_percent: args.n_plus_one_percent,
        }),
        gzip: args.gzip,
        sent: sent.counts.sent(),
        send_seconds,
        accepted_per_sec: if send_seconds > 0.0 {
            sent.counts.ok as f64 / send_seconds
        } else {
            0.0
        },
        mean_body_bytes: (answered > 0).then(|| sent.body_bytes as f64 / answered as f64),
        latency_ms: Latency::from_micros(&sent.latency_us),
        retry_after_pauses: sent.retry_after_pauses,
        interrupted: *stop.borrow() > 0,
        status: sent.counts,
        processed,
        server,
        store,
        loadgen_cpu_seconds: own_cpu,
    };
    if !args.json {
        print!("{}", report.to_text());
    }
    println!("{}", report.to_json());
    Ok(())
}

fn delta(before: Option<f64>, after: Option<f64>) -> Option<f64> {
    Some(after? - before?)
}
