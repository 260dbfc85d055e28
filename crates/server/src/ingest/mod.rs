//! The endpoints SDKs send to, as Sentry's Relay serves them: authentication, body limits and
//! decoding, envelope splitting, and the hand-off of each item to processing and the store.

pub mod auth;
pub mod body;
pub mod enqueue;
pub mod envelope;
pub mod error;
pub mod key_cache;
pub mod limits;
pub mod nel;
pub mod quotas;
pub mod rate_limit;
pub mod security;
pub mod store_endpoint;

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use bytes::Bytes;
use vigil_protocol::auth::ClientAuth;
use vigil_protocol::envelope::ItemType;
use vigil_store::{DataCategory, Outcome};

pub use error::IngestError;

use crate::metrics::Metrics;
use crate::outcomes;
use crate::time::unix_now;
use crate::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/{project_id}/envelope/", post(envelope::post_envelope))
        .route("/api/{project_id}/envelope", post(envelope::post_envelope))
        .route("/api/{project_id}/store/", post(store_endpoint::post_store))
        .route("/api/{project_id}/store", post(store_endpoint::post_store))
        .route(
            "/api/store/",
            post(store_endpoint::post_store_without_project),
        )
        .route(
            "/api/{project_id}/security/",
            post(security::post_security_report),
        )
        .route(
            "/api/{project_id}/csp-report/",
            post(security::post_security_report),
        )
        .route("/api/{project_id}/nel/", post(nel::post_nel_report))
        .layer(middleware::from_fn(cors))
}

/// Relay's CORS policy for every ingest route: any origin, and the rate-limit headers exposed
/// so that browser SDKs can read them. Preflights are answered without authentication.
async fn cors(request: Request, next: Next) -> Response {
    let mut response = if request.method() == Method::OPTIONS {
        StatusCode::OK.into_response()
    } else {
        next.run(request).await
    };
    let headers = response.headers_mut();
    headers.insert("access-control-allow-origin", HeaderValue::from_static("*"));
    headers.insert(
        "access-control-allow-methods",
        HeaderValue::from_static("GET, POST"),
    );
    headers.insert(
        "access-control-allow-headers",
        HeaderValue::from_static(
            "x-sentry-auth, x-requested-with, x-forwarded-for, origin, referer, accept, \
             content-type, authentication, authorization, content-encoding, transfer-encoding",
        ),
    );
    headers.insert(
        "access-control-expose-headers",
        HeaderValue::from_static("x-sentry-error, x-sentry-rate-limits, retry-after"),
    );
    headers.insert("access-control-max-age", HeaderValue::from_static("3600"));
    response
}

/// What every ingest endpoint reads of a request before its body: when it arrived, from where,
/// and the headers and query string that may carry the key. The headers are taken out of the
/// request, not copied: extract `Arrival` after every other extractor that reads headers.
pub struct Arrival {
    pub received: f64,
    pub client_ip: String,
    pub query: Option<String>,
    pub headers: HeaderMap,
}

impl<S: Send + Sync> FromRequestParts<S> for Arrival {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Response> {
        let received = unix_now();
        let ConnectInfo(peer) = ConnectInfo::<SocketAddr>::from_request_parts(parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        Ok(Arrival {
            received,
            client_ip: peer.ip().to_string(),
            query: parts.uri.query().map(str::to_owned),
            headers: std::mem::take(&mut parts.headers),
        })
    }
}

/// Work on a body of this many bytes or fewer (decoding, envelope parsing, event checks) runs on
/// the request's own task: for a typical envelope it takes tens of microseconds, less than a
/// round trip to the blocking pool and back costs in thread switches. Larger bodies go to the
/// blocking pool, so that one big envelope cannot stall the requests that share its thread.
const INLINE_WORK_BYTES: usize = 128 * 1024;
/// The same for compressed bodies, whose decoded size is up to the decompression limit: small
/// enough that even a maximal inflation stays brief.
const INLINE_COMPRESSED_WORK_BYTES: usize = 16 * 1024;

/// Runs CPU work on a body of `size` bytes inline or on the blocking pool (see
/// [`INLINE_WORK_BYTES`]).
pub async fn cpu_work<T: Send + 'static>(
    size: usize,
    compressed: bool,
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, IngestError> {
    let inline_limit = if compressed {
        INLINE_COMPRESSED_WORK_BYTES
    } else {
        INLINE_WORK_BYTES
    };
    if size <= inline_limit {
        return Ok(work());
    }
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|_| IngestError::StoreUnavailable)
}

/// Whether the request's body has a `Content-Encoding` other than identity.
pub fn is_compressed(headers: &HeaderMap) -> bool {
    headers
        .get(axum::http::header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',').any(|e| {
                !matches!(
                    e.trim().to_ascii_lowercase().as_str(),
                    "" | "identity" | "utf-8" | "utf8"
                )
            })
        })
}

/// `name/version` of the sending SDK: `sentry_client`, else the `User-Agent`.
pub fn client_sdk(auth: Option<&ClientAuth>, headers: &HeaderMap) -> Option<String> {
    auth.and_then(|a| a.sentry_client.clone()).or_else(|| {
        headers
            .get(axum::http::header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .filter(|ua| ua.starts_with("sentry"))
            .map(str::to_owned)
    })
}

/// What became of a queued envelope.
#[derive(Debug, Default)]
pub struct Queued {
    /// The id to answer with, when the envelope carries an event.
    pub event_id: Option<String>,
    /// One line per item dropped as invalid.
    pub invalid: Vec<String>,
    /// The data categories dropped by a quota; the rest was queued.
    pub rate_limited: Vec<quotas::RateLimited>,
}

/// Prepares an authenticated envelope, drops the items over a quota and queues the rest.
/// `source` is the body the envelope was parsed from, queued as it is when preparation changes
/// nothing. Preparation reads every event payload: see [`cpu_work`] for where it runs. When a
/// quota dropped every item, the answer is [`IngestError::RateLimited`] (Relay's 429).
pub async fn queue_envelope(
    state: &AppState,
    key: &vigil_store::ProjectKey,
    envelope: vigil_protocol::envelope::Envelope,
    source: Option<Bytes>,
    received: f64,
    client_ip: Option<String>,
    client_sdk: Option<String>,
) -> Result<Queued, IngestError> {
    let project_id = key.project_id;
    let size = envelope.items.iter().map(|i| i.payload.len()).sum();
    let mut prepared = cpu_work(size, false, move || enqueue::prepare(envelope, source)).await?;
    // Event items dropped as invalid: each counts once.
    for _ in &prepared.invalid {
        let (category, invalid) = (DataCategory::Error, Outcome::Invalid);
        let why = outcomes::reason::INVALID_JSON;
        state
            .outcomes
            .record(project_id, received, category, invalid, why, 1);
    }
    let rate_limited = state
        .quotas
        .enforce(state.store.as_ref(), key, &prepared.envelope, unix_now())
        .await;
    if !rate_limited.is_empty() {
        // The quota that refused an item's group, if one did.
        let refusal = |ty: ItemType| {
            quotas::QuotaCategory::of_item(ty)
                .and_then(|(group, _)| rate_limited.iter().find(|d| d.group == group))
        };
        for item in &prepared.envelope.items {
            if let Some(decision) = refusal(item.ty()) {
                for (category, quantity) in outcomes::item_quantities(item) {
                    let limited = Outcome::RateLimited;
                    let why = decision.reason_code;
                    state
                        .outcomes
                        .record(project_id, received, category, limited, why, quantity);
                }
            }
        }
        prepared.drop_items(|ty| refusal(ty).is_some());
    }
    let event_id = prepared.event_id.take();
    let invalid = std::mem::take(&mut prepared.invalid);
    let nothing_left = prepared.envelope.items.is_empty();
    enqueue::enqueue(state, project_id, prepared, received, client_ip, client_sdk).await?;
    if !rate_limited.is_empty() {
        let dropped: u64 = rate_limited.iter().map(|d| d.quantity).sum();
        Metrics::inc(&state.metrics.items_rejected, dropped);
        if nothing_left {
            Metrics::inc(&state.metrics.requests_rejected, 1);
            return Err(IngestError::RateLimited(rate_limited));
        }
    }
    Metrics::inc(&state.metrics.items_rejected, invalid.len() as u64);
    for reason in &invalid {
        tracing::warn!(project_id, reason, "envelope item dropped");
    }
    Ok(Queued {
        event_id,
        invalid,
        rate_limited,
    })
}

/// [`queue_envelope`] for the endpoints that answer an SDK: the good items are queued, and the
/// answer still names the first item that was wrong. `Ok` carries the event id and the quota
/// decisions of the items dropped while others were queued.
pub async fn queue_sdk_envelope(
    state: &AppState,
    key: &vigil_store::ProjectKey,
    envelope: vigil_protocol::envelope::Envelope,
    source: Option<Bytes>,
    arrival: &Arrival,
    client_sdk: Option<String>,
) -> Result<(Option<String>, Vec<quotas::RateLimited>), IngestError> {
    let client_ip = Some(arrival.client_ip.clone());
    let queued = queue_envelope(
        state,
        key,
        envelope,
        source,
        arrival.received,
        client_ip,
        client_sdk,
    )
    .await?;
    match queued.invalid.into_iter().next() {
        Some(first) => Err(IngestError::InvalidEvent(first)),
        None => Ok((queued.event_id, queued.rate_limited)),
    }
}
