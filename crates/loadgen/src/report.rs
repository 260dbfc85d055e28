//! The report: one value holding every figure of a run, printed as aligned lines for people and
//! as one JSON line for scripts (BENCHMARKS.md tables, the integration test).
//!
//! A figure that could not be measured (no `--server-pid`, a server without `/metrics`) is
//! `null` in the JSON and "n/a" in the text, never an error: the run itself still happened and
//! its other figures are still worth having.

use std::fmt::Write as _;

use hdrhistogram::Histogram;
use serde::Serialize;

use crate::probe::{Memory, Processed};
use crate::sender::StatusCounts;

/// Everything a run measured.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The envelope URL events went to.
    pub target: String,
    /// How many templates rotated.
    pub templates: usize,
    pub concurrency: usize,
    pub issues: u64,
    /// Transaction mode's load; `None` when error events were sent.
    pub transactions: Option<TransactionLoad>,
    pub gzip: bool,
    /// Attempts, whatever became of them (the sum of `status`).
    pub sent: u64,
    pub status: StatusCounts,
    /// Wall time of the send phase.
    pub send_seconds: f64,
    /// 200 answers ÷ `send_seconds`.
    pub accepted_per_sec: f64,
    /// Mean request body size on the wire (after gzip when gzipping).
    pub mean_body_bytes: Option<f64>,
    /// Over every request that got an answer.
    pub latency_ms: Option<Latency>,
    /// How often a worker waited for a 429's `Retry-After`.
    pub retry_after_pauses: u64,
    /// Server-side throughput from `/metrics`, first send to drained queue.
    pub processed: Option<Processed>,
    pub server: ServerUsage,
    pub store: Option<StoreUsage>,
    /// The generator's own CPU time during the send phase, to show it was not the bottleneck.
    pub loadgen_cpu_seconds: Option<f64>,
    /// Whether Ctrl-C cut the send phase short.
    pub interrupted: bool,
}

/// What each transaction of a `--transactions` run held.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct TransactionLoad {
    pub spans: u64,
    pub names: u64,
    pub n_plus_one_percent: u64,
}

/// Latency percentiles in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Latency {
    pub p50: f64,
    pub p95: f64,
    pub p99: f64,
    pub max: f64,
}

impl Latency {
    /// From a histogram of microseconds; `None` when nothing was recorded.
    pub fn from_micros(histogram: &Histogram<u64>) -> Option<Latency> {
        if histogram.is_empty() {
            return None;
        }
        let ms = |us: u64| us as f64 / 1000.0;
        Some(Latency {
            p50: ms(histogram.value_at_quantile(0.50)),
            p95: ms(histogram.value_at_quantile(0.95)),
            p99: ms(histogram.value_at_quantile(0.99)),
            max: ms(histogram.max()),
        })
    }
}

/// The server process, with `--server-pid`.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct ServerUsage {
    #[serde(flatten)]
    pub memory: Memory,
    /// CPU time from the first send to the end of the drain.
    pub cpu_seconds: Option<f64>,
}

/// The server's data dir, with `--data-dir`.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct StoreUsage {
    /// Size of every file in the dir, `--settle` seconds after the drain.
    pub bytes: u64,
    /// The same right at the drain (a drained queue's pages not yet given back).
    pub bytes_at_drain: Option<u64>,
    /// The same before the first send (what was there already).
    pub bytes_before: Option<u64>,
    /// `bytes` ÷ events answered 200; `None` when none was.
    pub bytes_per_event: Option<f64>,
}

impl Report {
    /// The aligned, human-readable lines.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let mut line = |label: &str, value: String| {
            let _ = writeln!(out, "{label:<14}{value}");
        };
        line("target", self.target.clone());
        let what = match &self.transactions {
            Some(t) => format!(
                "transactions of {} spans, {} names, {}% with an N+1 run",
                t.spans, t.names, t.n_plus_one_percent
            ),
            None => format!(
                "{} issues, {} template{}",
                self.issues,
                self.templates,
                if self.templates == 1 { "" } else { "s" },
            ),
        };
        line(
            "load",
            format!(
                "concurrency {}, {what}, gzip {}, {} per body",
                self.concurrency,
                if self.gzip { "on" } else { "off" },
                or_na(self.mean_body_bytes.map(|b| bytes(b as u64))),
            ),
        );
        line(
            "sent",
            format!(
                "{} in {:.2} s{}",
                self.sent,
                self.send_seconds,
                if self.interrupted {
                    " (interrupted)"
                } else {
                    ""
                }
            ),
        );
        let s = &self.status;
        line(
            "status",
            format!(
                "200: {}  429: {}  4xx: {}  5xx: {}  other: {}  conn errors: {}  interrupted: {}",
                s.ok,
                s.rate_limited,
                s.client_error,
                s.server_error,
                s.other,
                s.connection_errors,
                s.interrupted
            ),
        );
        line(
            "accepted",
            format!(
                "{:.0} events/s{}",
                self.accepted_per_sec,
                match self.retry_after_pauses {
                    0 => String::new(),
                    n => format!(" ({n} Retry-After pauses)"),
                }
            ),
        );
        line(
            "latency",
            or_na(self.latency_ms.map(|l| {
                format!(
                    "p50 {:.2} ms  p95 {:.2} ms  p99 {:.2} ms  max {:.2} ms",
                    l.p50, l.p95, l.p99, l.max
                )
            })),
        );
        line(
            "processed",
            or_na(self.processed.as_ref().map(|p| {
                format!(
                    "{:.0} events/s ({:.0} events in {:.2} s, {}, {})",
                    p.events_per_sec,
                    p.events,
                    p.seconds,
                    p.metric,
                    if p.drained {
                        "drained"
                    } else {
                        "drain not confirmed"
                    }
                )
            })),
        );
        let memory = &self.server.memory;
        line(
            "server RSS",
            format!(
                "peak {}, now {}",
                or_na(memory.peak_rss_bytes.map(bytes)),
                or_na(memory.rss_bytes.map(bytes))
            ),
        );
        line(
            "server CPU",
            or_na(self.server.cpu_seconds.map(|s| format!("{s:.2} s"))),
        );
        line(
            "store",
            or_na(self.store.map(|store| {
                format!(
                    "{} ({} at the drain, {} before the run), {} per event",
                    bytes(store.bytes),
                    or_na(store.bytes_at_drain.map(bytes)),
                    or_na(store.bytes_before.map(bytes)),
                    or_na(store.bytes_per_event.map(|b| format!("{b:.0} B")))
                )
            })),
        );
        line(
            "loadgen CPU",
            or_na(self.loadgen_cpu_seconds.map(|cpu| {
                let share = if self.send_seconds > 0.0 {
                    cpu / self.send_seconds * 100.0
                } else {
                    0.0
                };
                format!("{cpu:.2} s ({share:.0}% of one core during the send phase)")
            })),
        );
        out
    }

    /// One line of JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a report of numbers and strings serializes")
    }
}

fn or_na(value: Option<String>) -> String {
    value.unwrap_or_else(|| "n/a".to_owned())
}

/// Bytes in the unit a reader compares with (`B`, `KiB`, `MiB`, `GiB`).
fn bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;

    fn report() -> Report {
        Report {
            target: "http://127.0.0.1:9000/api/1/envelope/".into(),
            templates: 1,
            concurrency: 32,
            issues: 10,
            transactions: None,
            gzip: false,
            sent: 1000,
            status: StatusCounts {
                ok: 990,
                rate_limited: 10,
                ..StatusCounts::default()
            },
            send_seconds: 0.5,
            accepted_per_sec: 1980.0,
            mean_body_bytes: Some(5400.0),
            latency_ms: Some(Latency {
                p50: 1.25,
                p95: 3.5,
                p99: 7.0,
                max: 12.0,
            }),
            retry_after_pauses: 10,
            processed: None,
            server: ServerUsage::default(),
            store: None,
            loadgen_cpu_seconds: Some(0.25),
            interrupted: false,
        }
    }

    #[test]
    fn percentiles_come_from_the_histogram_in_milliseconds() {
        let mut histogram = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).unwrap();
        for us in 1..=1000u64 {
            histogram.record(us * 10).unwrap();
        }
        let latency = Latency::from_micros(&histogram).unwrap();
        assert!((latency.p50 - 5.0).abs() < 0.01, "{latency:?}");
        assert!((latency.p95 - 9.5).abs() < 0.01, "{latency:?}");
        assert!((latency.p99 - 9.9).abs() < 0.01, "{latency:?}");
        assert!((latency.max - 10.0).abs() < 0.01, "{latency:?}");

        let empty = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).unwrap();
        assert_eq!(Latency::from_micros(&empty), None);
    }

    #[test]
    fn text_is_aligned_and_says_na_for_what_was_not_measured() {
        let text = report().to_text();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "target        http://127.0.0.1:9000/api/1/envelope/"
        );
        assert!(lines
            .iter()
            .all(|l| l.len() > 14 && l.as_bytes()[13] == b' '));
        assert!(text.contains("429: 10"), "{text}");
        assert!(
            text.contains("accepted      1980 events/s (10 Retry-After pauses)"),
            "{text}"
        );
        assert!(text.contains("p99 7.00 ms"), "{text}");
        assert!(text.contains("processed     n/a"), "{text}");
        assert!(text.contains("server RSS    peak n/a, now n/a"), "{text}");
        assert!(text.contains("store         n/a"), "{text}");
        assert!(text.contains("5.3 KiB per body"), "{text}");
        assert!(text.contains("0.25 s (50% of one core"), "{text}");
    }

    #[test]
    fn json_is_one_line_with_nulls_for_what_was_not_measured() {
        let mut report = report();
        report.server.memory.peak_rss_bytes = Some(50 * 1024 * 1024);
        report.store = Some(StoreUsage {
            bytes: 2_000_000,
            bytes_at_drain: Some(250_000),
            bytes_before: Some(100_000),
            bytes_per_event: Some(2020.2),
        });
        let json = report.to_json();
        assert!(!json.contains('\n'));
        let value: Value = serde_json::from_str(&json).unwrap();
        assert_eq!(value["status"]["200"], 990);
        assert_eq!(value["status"]["429"], 10);
        assert_eq!(value["status"]["connection_errors"], 0);
        assert_eq!(value["latency_ms"]["p95"], 3.5);
        assert_eq!(value["processed"], Value::Null);
        assert_eq!(value["server"]["peak_rss_bytes"], 50 * 1024 * 1024);
        assert_eq!(value["server"]["rss_bytes"], Value::Null);
        assert_eq!(value["store"]["bytes_per_event"], 2020.2);
        assert!(report.to_text().contains(
            "1.9 MiB (244.1 KiB at the drain, 97.7 KiB before the run), 2020 B per event"
        ));
    }

    #[test]
    fn transaction_runs_say_what_each_transaction_held() {
        let mut report = report();
        report.transactions = Some(TransactionLoad {
            spans: 30,
            names: 50,
            n_plus_one_percent: 20,
        });
        assert!(report.to_text().contains(
            "concurrency 32, transactions of 30 spans, 50 names, 20% with an N+1 run, gzip off"
        ));
        let value: Value = serde_json::from_str(&report.to_json()).unwrap();
        assert_eq!(value["transactions"]["spans"], 30);
        assert_eq!(
            serde_json::from_str::<Value>(&super::tests::report().to_json()).unwrap()
                ["transactions"],
            Value::Null
        );
    }

    #[test]
    fn byte_sizes_pick_a_readable_unit() {
        assert_eq!(bytes(512), "512 B");
        assert_eq!(bytes(1536), "1.5 KiB");
        assert_eq!(bytes(300 * 1024 * 1024), "300.0 MiB");
    }
}
