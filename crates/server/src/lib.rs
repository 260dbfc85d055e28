//! Vigil's server: three HTTP faces and the background jobs behind them.
//!
//! - The **faces** answer requests: [`ingest`] (the endpoints SDKs send to: authentication, body
//!   decoding and limits, queueing), [`api`] (the `/api/0/` web API) and [`web`] (the web UI).
//!   A face never imports another face.
//! - The **jobs** ([`jobs`]) do what no request waits for: the workers that turn queued
//!   envelopes into stored events, alert evaluation and delivery, retention. One call starts
//!   them all ([`jobs::spawn`]).
//! - What several of them share sits beside them: [`serialize`] (Sentry's JSON shapes),
//!   [`query`] (query strings), [`links`] (absolute page addresses), [`time`], [`config`],
//!   [`metrics`], [`outcomes`], [`accounts`], [`lookup`], and the [`AppState`] every handler and job
//!   holds.
//!
//! Everything reads and writes through the [`vigil_store::Store`] trait; event processing is
//! [`vigil_processing`]'s job and wire formats are [`vigil_protocol`]'s. This crate owns what is
//! HTTP (routing, status codes, JSON shapes) and when the background work runs.

pub mod accounts;
pub mod api;
mod cache;
pub mod config;
pub mod health;
pub mod ingest;
pub mod jobs;
pub mod links;
pub mod lookup;
pub mod metrics;
pub mod outcomes;
pub mod query;
pub mod serialize;
pub mod time;
pub mod web;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use tokio::net::TcpListener;
use vigil_store::{IngestQueue, Store};

pub use config::ServerConfig;

/// Shared state of every handler.
#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    /// Accepted envelopes waiting for the workers.
    pub queue: Arc<dyn IngestQueue>,
    /// Wakes an idle worker when something was queued.
    pub queue_signal: Arc<tokio::sync::Notify>,
    pub config: Arc<ServerConfig>,
    pub metrics: Arc<metrics::Metrics>,
    /// Shared bound on request bodies held in memory.
    pub budget: ingest::body::MemoryBudget,
    /// Rate-limit counters, project quotas and spike thresholds as ingest reads them.
    pub quotas: Arc<ingest::quotas::QuotaState>,
    /// The accept side's outcome counts, written every few seconds.
    pub outcomes: Arc<outcomes::OutcomeAggregator>,
    /// DSN keys recently read by ingest.
    pub key_cache: Arc<ingest::key_cache::KeyCache>,
    /// The web UI's session key and login backoff.
    pub web: Arc<web::WebState>,
    /// Alert rules cached for evaluation, and the signal that wakes the alert senders.
    pub alerts: Arc<jobs::alerts::Alerts>,
    /// Each project's performance thresholds, as the workers' batches read them.
    pub performance_settings: Arc<cache::TtlCache<vigil_store::PerformanceSettings>>,
    /// Each project's data-scrubbing settings, as the workers' batches read them.
    pub scrubbing_settings: Arc<cache::TtlCache<vigil_store::ScrubbingSettings>>,
    /// Each project's inbound filters, compiled, as the workers' batches read them.
    pub inbound_filters: Arc<cache::TtlCache<Arc<vigil_processing::filter::Filters>>>,
    /// The uploaded source maps' bundles and files this node read, for symbolication.
    pub artifacts: Arc<jobs::artifacts::ArtifactCaches>,
    /// Source maps built for lookups, shared by every worker.
    pub sourcemap_caches: Arc<vigil_processing::symbolicate::SourceMapCaches>,
}

impl AppState {
    pub fn new(
        store: Arc<dyn Store>,
        queue: Arc<dyn IngestQueue>,
        config: ServerConfig,
    ) -> AppState {
        AppState {
            quotas: Arc::new(ingest::quotas::QuotaState::new(
                &store,
                config.quotas.clone(),
            )),
            store,
            queue,
            queue_signal: Arc::new(tokio::sync::Notify::new()),
            budget: ingest::body::MemoryBudget::new(config.limits.max_bodies_in_flight),
            outcomes: Arc::default(),
            key_cache: Arc::default(),
            web: Arc::default(),
            alerts: Arc::default(),
            performance_settings: Arc::default(),
            scrubbing_settings: Arc::default(),
            inbound_filters: Arc::default(),
            artifacts: Arc::default(),
            sourcemap_caches: Arc::default(),
            config: Arc::new(config),
            metrics: Arc::new(metrics::Metrics::default()),
        }
    }

    /// Changes a project's performance thresholds, and forgets this node's cached copy so that
    /// the next batch detects with the new ones.
    pub async fn set_performance_settings(
        &self,
        project_id: i64,
        settings: &vigil_store::PerformanceSettings,
    ) -> vigil_store::StoreResult<()> {
        self.store
            .set_performance_settings(project_id, settings)
            .await?;
        self.performance_settings.forget(project_id);
        Ok(())
    }

    /// Changes a project's rate limits and spike protection, and forgets this node's cached
    /// copy so that ingest applies them from the next request.
    pub async fn set_project_quotas(
        &self,
        project_id: i64,
        quotas: &vigil_store::ProjectQuotas,
    ) -> vigil_store::StoreResult<()> {
        self.store.set_project_quotas(project_id, quotas).await?;
        self.quotas.forget_project(project_id);
        Ok(())
    }

    /// Changes a project's data-scrubbing settings, and forgets this node's cached copy so that
    /// the next batch is scrubbed with the new ones.
    pub async fn set_scrubbing_settings(
        &self,
        project_id: i64,
        settings: &vigil_store::ScrubbingSettings,
    ) -> vigil_store::StoreResult<()> {
        self.store
            .set_scrubbing_settings(project_id, settings)
            .await?;
        self.scrubbing_settings.forget(project_id);
        Ok(())
    }

    /// Changes a project's inbound filters, and forgets this node's cached copy so that the
    /// next batch is filtered with the new ones.
    pub async fn set_inbound_filters(
        &self,
        project_id: i64,
        filters: &vigil_store::InboundFilters,
    ) -> vigil_store::StoreResult<()> {
        self.store.set_inbound_filters(project_id, filters).await?;
        self.inbound_filters.forget(project_id);
        Ok(())
    }
}

/// Every route Vigil serves, at the root and, when the public URL has a path, under it too.
pub fn router(state: AppState) -> Router {
    let routes = Router::new()
        .merge(ingest::routes())
        // `nest` serves the API root as `/api/0` only; sentry-cli asks for `/api/0/`.
        .route("/api/0/", axum::routing::get(api::root::index))
        .nest("/api/0", api::routes())
        .merge(health::routes())
        .merge(web::routes());
    let prefix = state.config.path_prefix();
    let app = if prefix.is_empty() {
        routes
    } else {
        Router::new().nest(&prefix, routes.clone()).merge(routes)
    };
    app.fallback(|| async {
        (
            axum::http::StatusCode::NOT_FOUND,
            axum::Json(serde_json::json!({"detail": "The requested resource does not exist"})),
        )
    })
    .layer(
        tower_http::trace::TraceLayer::new_for_http().make_span_with(|request: &axum::http::Request<_>| {
            tracing::info_span!("request", method = %request.method(), path = %request.uri().path())
        }),
    )
    .with_state(state)
}

/// Serves until `shutdown` resolves, then stops accepting and lets requests in flight finish
/// for at most `grace`: a client that never completes its request must not keep the process
/// alive. Nothing acknowledged is at stake, since a 200 is only sent after the write.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    grace: std::time::Duration,
) -> std::io::Result<()> {
    let app = router(state).into_make_service_with_connect_info::<SocketAddr>();
    let shutting_down = Arc::new(tokio::sync::Notify::new());
    let notify = Arc::clone(&shutting_down);
    let server = axum::serve(listener, app).with_graceful_shutdown(async move {
        shutdown.await;
        notify.notify_one();
    });
    tokio::select! {
        result = std::future::IntoFuture::into_future(server) => result,
        () = async {
            shutting_down.notified().await;
            tokio::time::sleep(grace).await;
        } => {
            tracing::warn!(grace_secs = grace.as_secs_f64(), "requests still in flight after the grace period: closing them");
            Ok(())
        }
    }
}
