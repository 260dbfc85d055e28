//! The send phase: `--concurrency` workers, each with one keep-alive connection and one request
//! in flight, sending fresh events until the event budget or the time is used up, or Ctrl-C.
//!
//! Workers share nothing but a ticket counter: each keeps its own status counts and latency
//! histogram, merged when all have finished, so that measuring costs no locks. A ticket is
//! taken before anything can fail, so every attempt is counted exactly once — as a status, a
//! connection error or an interruption — and a dead server ends an `--events` run instead of
//! spinning on it.
//!
//! Non-200 answers are data, not failures. A 429 is honoured the way SDK transports honour it:
//! that connection waits `Retry-After` (else the longest `X-Sentry-Rate-Limits` limit, else a
//! second) before its next send, unless `--ignore-retry-after` asks to keep pushing.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use bytes::Bytes;
use hdrhistogram::Histogram;
use http_body_util::{BodyExt, Full};
use hyper::header::{HeaderMap, HeaderValue, CONTENT_ENCODING, CONTENT_TYPE, HOST, USER_AGENT};
use hyper::{Request, StatusCode};
use serde::Serialize;
use tokio::sync::watch;
use tokio::time::timeout;
use vigil_protocol::ids::new_event_id;
use vigil_protocol::rate_limits::parse_rate_limits;

use crate::http::{connect, Connection, Target};
use crate::templates::{Fresh, Template};
use crate::transactions::{FreshTransaction, TransactionPlan};

/// The client name in `X-Sentry-Auth` and `User-Agent`.
pub const CLIENT: &str = "vigil-loadgen/0.1";

/// The wait after a 429 that names no time, and the cap on one that names a long one (a
/// benchmark that sleeps for an hour measures nothing).
const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(1);
const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);

/// The pause after a failed connect, so that a restarting server is not hammered in a loop.
const RECONNECT_PAUSE: Duration = Duration::from_millis(10);

/// How long a connect or a request may take before it counts as a connection error (and the
/// connection is dropped), so that a hung server cannot stall a `--duration` run forever.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Latencies are recorded in microseconds, up to this (longer ones are clamped to it).
const MAX_LATENCY_US: u64 = 600_000_000;

/// When the send phase ends.
#[derive(Debug, Clone, Copy)]
pub enum StopAfter {
    /// After this many attempts.
    Events(u64),
    /// After this long (requests in flight at the end still complete and count).
    Duration(Duration),
}

/// Everything the send phase needs.
pub struct SendPlan {
    pub target: Target,
    pub public_key: String,
    pub templates: Vec<Template>,
    /// Transaction mode: send generated transactions instead of the templates' events.
    pub transactions: Option<TransactionPlan>,
    /// Events get fingerprints `loadgen-0` … `loadgen-{issues-1}`, round-robin.
    pub issues: u64,
    pub gzip: bool,
    pub concurrency: usize,
    pub stop_after: StopAfter,
    pub honour_retry_after: bool,
}

/// How the attempts ended.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct StatusCounts {
    #[serde(rename = "200")]
    pub ok: u64,
    #[serde(rename = "429")]
    pub rate_limited: u64,
    /// 4xx other than 429.
    #[serde(rename = "4xx")]
    pub client_error: u64,
    #[serde(rename = "5xx")]
    pub server_error: u64,
    /// Any other status (1xx, 3xx, 2xx other than 200).
    pub other: u64,
    /// Connect failures, resets, malformed answers and requests unanswered after 30 s.
    pub connection_errors: u64,
    /// In flight when Ctrl-C stopped the run.
    pub interrupted: u64,
}

impl StatusCounts {
    /// Every attempt, whatever became of it.
    pub fn sent(&self) -> u64 {
        self.ok
            + self.rate_limited
            + self.client_error
            + self.server_error
            + self.other
            + self.connection_errors
            + self.interrupted
    }

    fn record(&mut self, status: StatusCode) {
        match status.as_u16() {
            200 => self.ok += 1,
            429 => self.rate_limited += 1,
            400..=499 => self.client_error += 1,
            500..=599 => self.server_error += 1,
            _ => self.other += 1,
        }
    }

    fn merge(&mut self, other: &StatusCounts) {
        self.ok += other.ok;
        self.rate_limited += other.rate_limited;
        self.client_error += other.client_error;
        self.server_error += other.server_error;
        self.other += other.other;
        self.connection_errors += other.connection_errors;
        self.interrupted += other.interrupted;
    }
}

/// What the send phase measured.
pub struct SendOutcome {
    pub counts: StatusCounts,
    /// Request latency in µs, from handing the request to the connection to the end of the
    /// response body, for every request that got an answer (whatever its status).
    pub latency_us: Histogram<u64>,
    /// When the first worker started.
    pub started: Instant,
    /// From `started` until the last worker finished.
    pub elapsed: Duration,
    /// Body bytes of the requests that got an answer (compressed when gzipping).
    pub body_bytes: u64,
    /// How many times a worker paused for a 429.
    pub retry_after_pauses: u64,
}

/// What the workers share.
struct Shared {
    plan: SendPlan,
    auth: HeaderValue,
    next_ticket: AtomicU64,
    deadline: Option<Instant>,
}

impl Shared {
    /// The next attempt's number, or `None` when the run is over.
    fn take_ticket(&self) -> Option<u64> {
        if self.deadline.is_some_and(|d| Instant::now() >= d) {
            return None;
        }
        let ticket = self.next_ticket.fetch_add(1, Ordering::Relaxed);
        match self.plan.stop_after {
            StopAfter::Events(limit) if ticket >= limit => None,
            _ => Some(ticket),
        }
    }

    fn request(&self, ticket: u64, scratch: &mut Vec<u8>) -> Result<Request<Full<Bytes>>> {
        let plan = &self.plan;
        let mut request = Request::post(&plan.target.envelope_path)
            .header(HOST, &plan.target.authority)
            .header("x-sentry-auth", self.auth.clone())
            .header(USER_AGENT, HeaderValue::from_static(CLIENT))
            .header(
                CONTENT_TYPE,
                HeaderValue::from_static("application/x-sentry-envelope"),
            );
        if plan.gzip {
            request = request.header(CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        }
        let body = match &plan.transactions {
            Some(transactions) => {
                let fresh = FreshTransaction::new(ticket, transactions.names(), unix_now());
                let plain = transactions.render(&fresh, &plan.public_key);
                if plan.gzip {
                    gzip(&plain)?
                } else {
                    plain
                }
            }
            None => {
                let template = &plan.templates[(ticket % plan.templates.len() as u64) as usize];
                let fresh = Fresh {
                    event_id: new_event_id(),
                    now: unix_now(),
                    issue: ticket % plan.issues,
                };
                if plan.gzip {
                    template.render_gzip(&fresh, scratch)
                } else {
                    template.render(&fresh)
                }
            }
        };
        Ok(request.body(Full::new(Bytes::from(body)))?)
    }
}

/// Gzips a generated body at the fastest level: unlike the templates, a generated body has no
/// constant pieces to compress once, and the generator must not become the bottleneck.
fn gzip(plain: &[u8]) -> Result<Vec<u8>> {
    use std::io::Write as _;
    let mut encoder = flate2::write::GzEncoder::new(
        Vec::with_capacity(plain.len() / 4),
        flate2::Compression::fast(),
    );
    encoder.write_all(plain)?;
    Ok(encoder.finish()?)
}

/// What one worker measured.
struct WorkerOutcome {
    counts: StatusCounts,
    latency_us: Histogram<u64>,
    body_bytes: u64,
    retry_after_pauses: u64,
}

/// Runs the send phase. `stop` turns non-zero on Ctrl-C.
pub async fn run(plan: SendPlan, stop: watch::Receiver<u32>) -> Result<SendOutcome> {
    let auth = HeaderValue::from_str(&format!(
        "Sentry sentry_key={}, sentry_version=7, sentry_client={CLIENT}",
        plan.public_key
    ))
    .context("the DSN's public key cannot go into an HTTP header")?;
    let concurrency = plan.concurrency.max(1);
    let started = Instant::now();
    let deadline = match plan.stop_after {
        StopAfter::Duration(duration) => Some(started + duration),
        StopAfter::Events(_) => None,
    };
    let shared = Arc::new(Shared {
        plan,
        auth,
        next_ticket: AtomicU64::new(0),
        deadline,
    });

    let workers: Vec<_> = (0..concurrency)
        .map(|_| tokio::spawn(worker(shared.clone(), stop.clone())))
        .collect();
    let mut outcome = SendOutcome {
        counts: StatusCounts::default(),
        latency_us: new_histogram(),
        started,
        elapsed: Duration::ZERO,
        body_bytes: 0,
        retry_after_pauses: 0,
    };
    for worker in workers {
        let done = worker.await.context("a sender worker panicked")??;
        outcome.counts.merge(&done.counts);
        // Both histograms have the same bounds and clamp on record, so adding cannot fail.
        let _ = outcome.latency_us.add(&done.latency_us);
        outcome.body_bytes += done.body_bytes;
        outcome.retry_after_pauses += done.retry_after_pauses;
    }
    outcome.elapsed = started.elapsed();
    Ok(outcome)
}

async fn worker(shared: Arc<Shared>, mut stop: watch::Receiver<u32>) -> Result<WorkerOutcome> {
    let mut outcome = WorkerOutcome {
        counts: StatusCounts::default(),
        latency_us: new_histogram(),
        body_bytes: 0,
        retry_after_pauses: 0,
    };
    let mut connection: Option<Connection> = None;
    let mut scratch = Vec::new();

    while *stop.borrow() == 0 {
        let Some(ticket) = shared.take_ticket() else {
            break;
        };

        if connection.as_ref().is_none_or(|c| c.is_closed()) {
            connection = None;
            let connected = tokio::select! {
                connected = timeout(REQUEST_TIMEOUT, connect(shared.plan.target.addr)) => connected,
                () = until_stopped(&mut stop) => {
                    outcome.counts.interrupted += 1;
                    break;
                }
            };
            match connected {
                Ok(Ok(sender)) => connection = Some(sender),
                Ok(Err(_)) | Err(_) => {
                    outcome.counts.connection_errors += 1;
                    pause(RECONNECT_PAUSE, shared.deadline, &mut stop).await;
                    continue;
                }
            }
        }
        let sender = connection
            .as_mut()
            .expect("a connection was opened just above");
        if sender.ready().await.is_err() {
            outcome.counts.connection_errors += 1;
            connection = None;
            continue;
        }

        let request = shared.request(ticket, &mut scratch)?;
        // `Full` always knows its exact length.
        let body_len = hyper::body::Body::size_hint(request.body())
            .exact()
            .unwrap_or(0);
        let sent_at = Instant::now();
        let exchange = async {
            let response = sender.send_request(request).await?;
            let status = response.status();
            let retry_after = retry_after(response.headers());
            // Read the body to the end, or the connection cannot carry the next request.
            response.into_body().collect().await?;
            anyhow::Ok((status, retry_after))
        };
        let answer = tokio::select! {
            answer = timeout(REQUEST_TIMEOUT, exchange) => answer.unwrap_or_else(|_| {
                Err(anyhow::anyhow!("no answer within {REQUEST_TIMEOUT:?}"))
            }),
            () = until_stopped(&mut stop) => {
                outcome.counts.interrupted += 1;
                break;
            }
        };
        match answer {
            Ok((status, retry_after)) => {
                let micros = u64::try_from(sent_at.elapsed().as_micros()).unwrap_or(u64::MAX);
                outcome.latency_us.saturating_record(micros.max(1));
                outcome.counts.record(status);
                outcome.body_bytes += body_len;
                if status == StatusCode::TOO_MANY_REQUESTS && shared.plan.honour_retry_after {
                    outcome.retry_after_pauses += 1;
                    let wait = retry_after
                        .unwrap_or(DEFAULT_RETRY_AFTER)
                        .min(MAX_RETRY_AFTER);
                    pause(wait, shared.deadline, &mut stop).await;
                }
            }
            Err(_) => {
                outcome.counts.connection_errors += 1;
                connection = None;
            }
        }
    }
    Ok(outcome)
}

/// The wait a 429 asks for: `Retry-After` in seconds, else the longest limit in
/// `X-Sentry-Rate-Limits`. (An HTTP-date `Retry-After` is not read; no Sentry server sends one.)
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let seconds = headers
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s >= 0.0)
        .or_else(|| {
            let limits = parse_rate_limits(headers.get("x-sentry-rate-limits")?.to_str().ok()?);
            limits
                .iter()
                .map(|l| l.retry_after_secs)
                .max()
                .map(|s| s as f64)
        })?;
    Some(Duration::from_secs_f64(
        seconds.min(MAX_RETRY_AFTER.as_secs_f64()),
    ))
}

/// Sleeps `wait`, but no later than `deadline` and not past Ctrl-C.
async fn pause(wait: Duration, deadline: Option<Instant>, stop: &mut watch::Receiver<u32>) {
    let mut until = Instant::now() + wait;
    if let Some(deadline) = deadline {
        until = until.min(deadline);
    }
    tokio::select! {
        () = tokio::time::sleep_until(until.into()) => {}
        () = until_stopped(stop) => {}
    }
}

/// Resolves once Ctrl-C was pressed (never, if the signal side is gone).
pub async fn until_stopped(stop: &mut watch::Receiver<u32>) {
    if stop.wait_for(|presses| *presses > 0).await.is_err() {
        std::future::pending::<()>().await;
    }
}

fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_LATENCY_US, 3)
        .expect("1 µs .. 10 min at 3 significant digits are valid histogram bounds")
}

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_are_sorted_into_their_classes() {
        let mut counts = StatusCounts::default();
        for status in [200, 200, 429, 400, 413, 503, 500, 302, 202] {
            counts.record(StatusCode::from_u16(status).unwrap());
        }
        assert_eq!(
            counts,
            StatusCounts {
                ok: 2,
                rate_limited: 1,
                client_error: 2,
                server_error: 2,
                other: 2,
                connection_errors: 0,
                interrupted: 0,
            }
        );
        assert_eq!(counts.sent(), 9);
    }

    #[test]
    fn retry_after_header_wins_over_rate_limits() {
        let mut headers = HeaderMap::new();
        headers.insert(
            "x-sentry-rate-limits",
            "7:error:key, 3::organization".parse().unwrap(),
        );
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(7)));
        headers.insert("retry-after", "2".parse().unwrap());
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(2)));
        headers.insert(
            "retry-after",
            "Wed, 21 Oct 2015 07:28:00 GMT".parse().unwrap(),
        );
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(7)));
        assert_eq!(retry_after(&HeaderMap::new()), None);
    }

    #[test]
    fn a_huge_retry_after_is_capped() {
        let mut headers = HeaderMap::new();
        headers.insert("retry-after", "86400".parse().unwrap());
        assert_eq!(retry_after(&headers), Some(MAX_RETRY_AFTER));
    }
}
