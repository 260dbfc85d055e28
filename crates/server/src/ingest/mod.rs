//! The endpoints SDKs send to, as Sentry's Relay serves them: authentication, body limits and
//! decoding, envelope splitting, and the hand-off of each item to processing and the store.

pub mod auth;
pub mod body;
pub mod envelope;
pub mod error;
pub mod items;
pub mod security;
pub mod store_endpoint;

use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use vigil_protocol::auth::ClientAuth;

pub use error::IngestError;
pub use items::Accepted;

use crate::metrics::Metrics;
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

/// Seconds since the epoch, now.
pub fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
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

/// Writes what an envelope turned into; returns the reasons of items dropped as invalid.
/// Every write finishes before the request is answered: a 200 means stored.
pub async fn write_accepted(
    state: &AppState,
    accepted: Accepted,
) -> Result<Vec<String>, IngestError> {
    let Accepted {
        project_id,
        events,
        raw_items,
        client_reports,
        invalid,
        ..
    } = accepted;
    let event_count = events.len() as u64;
    if !events.is_empty() {
        state.store.save_events(events).await?;
    }
    if !raw_items.is_empty() {
        state.store.save_raw_items(raw_items).await?;
    }
    for (reason, category, quantity) in &client_reports {
        state
            .store
            .add_client_report(project_id, reason, category, *quantity)
            .await?;
    }
    Metrics::inc(&state.metrics.envelopes_accepted, 1);
    Metrics::inc(&state.metrics.events_accepted, event_count);
    Metrics::inc(&state.metrics.items_rejected, invalid.len() as u64);
    for reason in &invalid {
        tracing::warn!(reason, "envelope item dropped");
    }
    Ok(invalid)
}
