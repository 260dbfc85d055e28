//! What the server did, read from outside: its `/metrics` counters (to know when it has
//! processed what it accepted), its memory and CPU from `/proc`, and the size of its data dir.
//!
//! Only what any deployment exposes is read, so that the generator can be pointed at a server
//! it did not start, even a non-Vigil one: every reading is optional, and a missing one is
//! reported as "n/a" rather than failing the run.
//!
//! Why `/metrics` and not the web API: the API needs a token, and counts issues rather than
//! events. The counter is `vigil_events_processed_total` when the server has an ingest queue
//! (accepted ≠ processed), else `vigil_events_accepted_total` (a server that processes before
//! answering: accepted = processed); `vigil_queue_depth`, when present, says when the queue is
//! empty. Counters are summed over their label sets, so per-project labels do not matter.

use std::collections::HashMap;
use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::sync::watch;

use crate::http::{get, Target};

/// Counters of a queueing server, then of one that processes before answering.
const PROCESSED_METRICS: [&str; 2] = [
    "vigil_events_processed_total",
    "vigil_events_accepted_total",
];
const QUEUE_DEPTH_METRIC: &str = "vigil_queue_depth";

/// How often `/metrics` is read while waiting for the drain; also the precision of its end.
const POLL_INTERVAL: Duration = Duration::from_millis(50);

/// A counter that has not moved for this long is taken to have stopped.
const SETTLE_TIME: Duration = Duration::from_secs(2);

/// Scrapes that may fail in a row before the drain is given up.
const MAX_FAILED_SCRAPES: u32 = 20;

/// Linux's `USER_HZ`: the unit of the CPU times in `/proc/<pid>/stat`. It is 100 on every
/// architecture Linux runs on today, whatever the kernel's internal tick rate.
const USER_HZ: f64 = 100.0;

/// Sums every sample of each metric in Prometheus' text format, over all label sets.
/// Comments, blank lines and unreadable lines are skipped.
pub fn parse_prometheus(text: &str) -> HashMap<String, f64> {
    let mut metrics = HashMap::new();
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (name, rest) = match line.find(['{', ' ', '\t']) {
            Some(at) => line.split_at(at),
            None => continue,
        };
        let Some(rest) = skip_labels(rest) else {
            continue;
        };
        // `value [timestamp]`
        let Some(value) = rest.split_whitespace().next() else {
            continue;
        };
        let value = match value {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            v => match v.parse::<f64>() {
                Ok(v) => v,
                Err(_) => continue,
            },
        };
        *metrics.entry(name.to_owned()).or_insert(0.0) += value;
    }
    metrics
}

/// What follows a `{…}` label set (whose quoted values may hold `}`), or `rest` itself.
fn skip_labels(rest: &str) -> Option<&str> {
    let Some(labels) = rest.strip_prefix('{') else {
        return Some(rest);
    };
    let mut in_quotes = false;
    let mut escaped = false;
    for (i, c) in labels.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if in_quotes => escaped = true,
            '"' => in_quotes = !in_quotes,
            '}' if !in_quotes => return Some(&labels[i + 1..]),
            _ => {}
        }
    }
    None
}

/// The counters that say how far the server has got.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerCounters {
    /// Which counter `processed` is.
    pub metric: &'static str,
    pub processed: f64,
    pub queue_depth: Option<f64>,
}

impl ServerCounters {
    /// Picks the counters out of a scrape; `None` when the server has neither counter.
    pub fn from_metrics(metrics: &HashMap<String, f64>) -> Option<ServerCounters> {
        let (metric, processed) = PROCESSED_METRICS
            .iter()
            .find_map(|name| Some((*name, *metrics.get(*name)?)))?;
        Some(ServerCounters {
            metric,
            processed,
            queue_depth: metrics.get(QUEUE_DEPTH_METRIC).copied(),
        })
    }
}

/// Reads `/metrics`; `None` when it cannot be read or has no counter of ours.
pub async fn scrape(target: &Target) -> Option<ServerCounters> {
    let (status, body) = get(target, &target.metrics_path).await.ok()?;
    if !status.is_success() {
        return None;
    }
    ServerCounters::from_metrics(&parse_prometheus(&String::from_utf8_lossy(&body)))
}

/// How fast the server processed the run's events.
#[derive(Debug, Clone, Serialize)]
pub struct Processed {
    /// The counter read.
    pub metric: &'static str,
    /// How much it grew from before the first send to the end of the drain.
    pub events: f64,
    /// From the first send to the end of the drain.
    pub seconds: f64,
    pub events_per_sec: f64,
    /// Whether the end was seen (the counter reached the accepted count or the queue emptied)
    /// rather than assumed (the counter stopped moving, time ran out, Ctrl-C).
    pub drained: bool,
}

impl Processed {
    /// For items the counter does not count (transactions): once the queue was seen empty,
    /// every `accepted` item was processed, whatever the counter says.
    pub fn by_queue_depth(self, accepted: u64) -> Processed {
        if !self.drained || self.events >= accepted as f64 {
            return self;
        }
        let events = accepted as f64;
        Processed {
            metric: QUEUE_DEPTH_METRIC,
            events,
            events_per_sec: if self.seconds > 0.0 {
                events / self.seconds
            } else {
                0.0
            },
            ..self
        }
    }
}

/// Decides, scrape by scrape, when the server has finished with the run.
#[derive(Debug)]
struct DrainWatch {
    baseline: f64,
    accepted: f64,
    last_value: Option<f64>,
    last_change: Option<Instant>,
}

impl DrainWatch {
    /// Looks at one scrape taken at `at`; `Some((end, drained))` once the drain is over.
    ///
    /// The end is the scrape where the counter last moved, not the one that noticed it had
    /// stopped, so that waiting out `SETTLE_TIME` does not count as processing time.
    fn observe(&mut self, at: Instant, counters: &ServerCounters) -> Option<(Instant, bool)> {
        if self.last_value != Some(counters.processed) {
            self.last_value = Some(counters.processed);
            self.last_change = Some(at);
        }
        let last_change = self.last_change.unwrap_or(at);
        if counters.processed - self.baseline >= self.accepted {
            return Some((last_change, true));
        }
        if counters.queue_depth == Some(0.0) {
            return Some((at, true));
        }
        if at.duration_since(last_change) >= SETTLE_TIME {
            return Some((last_change, false));
        }
        None
    }
}

/// Polls `/metrics` after the send phase until the server has processed the `accepted` events
/// (see [`DrainWatch`]), `timeout` passes, or Ctrl-C is pressed a second time.
pub async fn wait_for_drain(
    target: &Target,
    baseline: &ServerCounters,
    accepted: u64,
    send_started: Instant,
    timeout: Duration,
    stop: &mut watch::Receiver<u32>,
) -> Option<Processed> {
    let mut watch = DrainWatch {
        baseline: baseline.processed,
        accepted: accepted as f64,
        last_value: None,
        last_change: None,
    };
    let give_up = Instant::now() + timeout;
    let mut last_seen: Option<ServerCounters> = None;
    let mut failures = 0;
    let (end, drained) = loop {
        let at = Instant::now();
        match scrape(target).await {
            Some(counters) => {
                failures = 0;
                let done = watch.observe(at, &counters);
                last_seen = Some(counters);
                if let Some(done) = done {
                    break done;
                }
            }
            None => failures += 1,
        }
        // Whatever ends the wait early, the end is the counter's last move that was seen.
        let cut_short = (watch.last_change.unwrap_or(at), false);
        if failures >= MAX_FAILED_SCRAPES || Instant::now() >= give_up {
            break cut_short;
        }
        tokio::select! {
            () = tokio::time::sleep(POLL_INTERVAL) => {}
            Ok(_) = stop.wait_for(|presses| *presses >= 2) => break cut_short,
        }
    };
    let counters = last_seen?;
    let events = counters.processed - baseline.processed;
    let seconds = end.duration_since(send_started).as_secs_f64();
    Some(Processed {
        metric: counters.metric,
        events,
        seconds,
        events_per_sec: if seconds > 0.0 { events / seconds } else { 0.0 },
        drained,
    })
}

/// A process's resident memory, from `/proc/<pid>/status`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Memory {
    /// `VmHWM`: the peak resident set since the process started.
    pub peak_rss_bytes: Option<u64>,
    /// `VmRSS`: the resident set now.
    pub rss_bytes: Option<u64>,
}

/// Reads `/proc/<pid>/status`; both fields `None` when it cannot be read.
pub fn memory(pid: u32) -> Memory {
    fs::read_to_string(format!("/proc/{pid}/status"))
        .map(|status| parse_memory(&status))
        .unwrap_or_default()
}

fn parse_memory(status: &str) -> Memory {
    let field = |name: &str| {
        status.lines().find_map(|line| {
            let value = line.strip_prefix(name)?.strip_prefix(':')?;
            let kib = value
                .trim()
                .strip_suffix("kB")?
                .trim()
                .parse::<u64>()
                .ok()?;
            Some(kib * 1024)
        })
    };
    Memory {
        peak_rss_bytes: field("VmHWM"),
        rss_bytes: field("VmRSS"),
    }
}

/// User + system CPU time of a process (all threads), in seconds; `None` for our own process
/// when `pid` is `None`.
pub fn cpu_seconds(pid: Option<u32>) -> Option<f64> {
    let path = match pid {
        Some(pid) => format!("/proc/{pid}/stat"),
        None => "/proc/self/stat".to_owned(),
    };
    parse_cpu_seconds(&fs::read_to_string(path).ok()?)
}

fn parse_cpu_seconds(stat: &str) -> Option<f64> {
    // The command name (field 2) is in parentheses and may hold spaces and `)`: the fields
    // that follow start after the last `)`. utime and stime are fields 14 and 15.
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace().skip(11);
    let utime = fields.next()?.parse::<u64>().ok()?;
    let stime = fields.next()?.parse::<u64>().ok()?;
    Some((utime + stime) as f64 / USER_HZ)
}

/// Total size of the files under `dir` (not following symbolic links); `None` when `dir`
/// cannot be read. Files that vanish while being counted (SQLite's `-journal`) are skipped.
pub fn dir_size(dir: &Path) -> Option<u64> {
    let mut total = 0;
    let mut pending = vec![dir.to_path_buf()];
    let mut first = true;
    while let Some(dir) = pending.pop() {
        let entries = match fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(_) if !first => continue,
            Err(_) => return None,
        };
        first = false;
        for entry in entries.flatten() {
            let Ok(meta) = entry.metadata() else { continue };
            if meta.is_dir() {
                pending.push(entry.path());
            } else if meta.is_file() {
                total += meta.len();
            }
        }
    }
    Some(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    const METRICS: &str = "\
# HELP vigil_events_accepted_total Error and message events stored.
# TYPE vigil_events_accepted_total counter
vigil_events_accepted_total 1200
vigil_events_processed_total{project=\"1\"} 300
vigil_events_processed_total{project=\"2\",note=\"a } in a label\"} 200 1700000000000
vigil_queue_depth 0
vigil_weird_metric NaN
not a sample at all
";

    #[test]
    fn prometheus_samples_are_summed_over_labels() {
        let metrics = parse_prometheus(METRICS);
        assert_eq!(metrics["vigil_events_accepted_total"], 1200.0);
        assert_eq!(metrics["vigil_events_processed_total"], 500.0);
        assert_eq!(metrics["vigil_queue_depth"], 0.0);
        assert!(metrics["vigil_weird_metric"].is_nan());
        assert!(!metrics.contains_key("not"), "{metrics:?}");
    }

    #[test]
    fn a_drained_queue_counts_every_accepted_transaction() {
        let drained = Processed {
            metric: "vigil_events_processed_total",
            events: 0.0,
            seconds: 2.0,
            events_per_sec: 0.0,
            drained: true,
        };
        let processed = drained.clone().by_queue_depth(1000);
        assert_eq!(processed.metric, "vigil_queue_depth");
        assert_eq!(processed.events, 1000.0);
        assert_eq!(processed.events_per_sec, 500.0);
        // A drain that was not seen proves nothing.
        let unsure = Processed {
            drained: false,
            ..drained
        };
        assert_eq!(unsure.by_queue_depth(1000).events, 0.0);
    }

    #[test]
    fn processed_counter_is_preferred_over_accepted() {
        let counters = ServerCounters::from_metrics(&parse_prometheus(METRICS)).unwrap();
        assert_eq!(counters.metric, "vigil_events_processed_total");
        assert_eq!(counters.processed, 500.0);
        assert_eq!(counters.queue_depth, Some(0.0));

        let today = parse_prometheus("vigil_events_accepted_total 42\n");
        let counters = ServerCounters::from_metrics(&today).unwrap();
        assert_eq!(counters.metric, "vigil_events_accepted_total");
        assert_eq!(counters.queue_depth, None);

        assert_eq!(
            ServerCounters::from_metrics(&parse_prometheus("up 1\n")),
            None
        );
    }

    fn counters(processed: f64, queue_depth: Option<f64>) -> ServerCounters {
        ServerCounters {
            metric: "vigil_events_processed_total",
            processed,
            queue_depth,
        }
    }

    fn watch(baseline: f64, accepted: f64) -> DrainWatch {
        DrainWatch {
            baseline,
            accepted,
            last_value: None,
            last_change: None,
        }
    }

    #[test]
    fn drain_ends_when_the_counter_reaches_the_accepted_count() {
        let t0 = Instant::now();
        let mut w = watch(100.0, 50.0);
        assert_eq!(w.observe(t0, &counters(120.0, Some(30.0))), None);
        let t1 = t0 + Duration::from_millis(50);
        assert_eq!(w.observe(t1, &counters(150.0, Some(3.0))), Some((t1, true)));
    }

    #[test]
    fn drain_ends_when_the_queue_is_empty() {
        let t0 = Instant::now();
        let mut w = watch(0.0, 50.0);
        assert_eq!(w.observe(t0, &counters(10.0, Some(0.0))), Some((t0, true)));
    }

    #[test]
    fn a_stopped_counter_ends_the_drain_at_its_last_move() {
        let t0 = Instant::now();
        let mut w = watch(0.0, 50.0);
        assert_eq!(w.observe(t0, &counters(40.0, None)), None);
        assert_eq!(
            w.observe(t0 + Duration::from_secs(1), &counters(40.0, None)),
            None
        );
        assert_eq!(
            w.observe(t0 + SETTLE_TIME, &counters(40.0, None)),
            Some((t0, false))
        );
    }

    #[test]
    fn proc_status_memory_is_read_in_bytes() {
        let status = "Name:\tvigil\nVmPeak:\t  999 kB\nVmHWM:\t   2048 kB\nVmRSS:\t    1024 kB\n";
        assert_eq!(
            parse_memory(status),
            Memory {
                peak_rss_bytes: Some(2 * 1024 * 1024),
                rss_bytes: Some(1024 * 1024),
            }
        );
        assert_eq!(parse_memory("Name:\tzombie\n"), Memory::default());
    }

    #[test]
    fn proc_stat_cpu_time_survives_odd_command_names() {
        let stat = "4242 (tokio (worker) x) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 50 0 0 20 0";
        assert_eq!(parse_cpu_seconds(stat), Some(3.0));
        assert!(cpu_seconds(None).is_some(), "our own /proc/self/stat");
    }

    #[test]
    fn dir_size_counts_nested_files() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("a"), [0u8; 100]).unwrap();
        fs::create_dir(dir.path().join("sub")).unwrap();
        fs::write(dir.path().join("sub/b"), [0u8; 23]).unwrap();
        assert_eq!(dir_size(dir.path()), Some(123));
        assert_eq!(dir_size(&dir.path().join("missing")), None);
    }
}
