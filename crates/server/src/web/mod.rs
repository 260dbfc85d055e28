//! The web UI: server-rendered pages at Sentry's URL shapes, for the people who read, share and
//! resolve issues.
//!
//! Pages are HTML built with `maud` (templates checked at compile time, escaped by default) from
//! the same store queries and serializers as `/api/0/`; the stylesheet and a few lines of script
//! are embedded ([`assets`]). Every page works without JavaScript. A visitor without a session
//! is sent to the login form and back ([`session`]); organizations the viewer is not a member of
//! answer 404, exactly like ones that do not exist.

pub mod access;
pub mod alerts;
pub mod assets;
pub mod attachments;
pub mod charts;
pub mod error;
pub mod event;
pub mod issue;
pub mod issues;
pub mod keys;
pub mod layout;
pub mod lockout;
pub mod login;
pub mod markdown;
pub mod performance;
pub mod project_quotas;
pub mod project_settings;
pub mod projects;
pub mod selection;
pub mod session;
pub mod source_maps;
pub mod state;
pub mod stats;
pub mod trace;
pub mod transaction;
pub mod triage;
pub mod user_feedback;

use axum::http::{header, HeaderValue};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;

pub use state::WebState;

use crate::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(login::index))
        .route("/auth/login/", get(login::login_form).post(login::login))
        .route("/auth/logout/", post(login::logout))
        .route("/_static/vigil.css", get(assets::css))
        .route("/_static/vigil.js", get(assets::js))
        .route("/organizations/{org}/issues/", get(issues::list))
        .route("/organizations/{org}/issues/bulk/", post(issues::bulk))
        .route("/organizations/{org}/issues/{id}/", get(issue::detail))
        .route(
            "/organizations/{org}/issues/{id}/status/",
            post(issue::set_status),
        )
        .route(
            "/organizations/{org}/issues/{id}/triage/",
            post(triage::update),
        )
        .route(
            "/organizations/{org}/issues/{id}/notes/",
            post(triage::note),
        )
        .route(
            "/organizations/{org}/issues/{id}/unmerge/",
            post(triage::unmerge),
        )
        .route(
            "/organizations/{org}/issues/{id}/events/",
            get(issue::events),
        )
        .route(
            "/organizations/{org}/projects/",
            get(projects::list).post(projects::create),
        )
        .route(
            "/organizations/{org}/projects/{project}/",
            get(projects::detail),
        )
        .route(
            "/organizations/{org}/projects/{project}/events/{event_id}/attachments/{id}/",
            get(attachments::download),
        )
        .route(
            "/organizations/{org}/performance/",
            get(performance::overview),
        )
        .route(
            "/organizations/{org}/performance/summary/",
            get(performance::summary),
        )
        .route(
            "/organizations/{org}/performance/trace/{trace_id}/",
            get(trace::detail),
        )
        .route(
            "/organizations/{org}/performance/{target}/",
            get(transaction::detail),
        )
        .route("/organizations/{org}/alerts/rules/", get(alerts::list))
        .route("/organizations/{org}/stats/", get(stats::show))
        .route(
            "/organizations/{org}/alerts/rules/{project}/new/",
            get(alerts::new_form).post(alerts::create),
        )
        .route(
            "/organizations/{org}/alerts/rules/{project}/{rule_id}/",
            get(alerts::edit_form).post(alerts::update),
        )
        .route(
            "/organizations/{org}/alerts/rules/{project}/{rule_id}/delete/",
            get(alerts::delete_form).post(alerts::delete),
        )
        .route(
            "/settings/{org}/projects/{project}/performance/",
            get(project_settings::show).post(project_settings::save),
        )
        .route(
            "/settings/{org}/projects/{project}/security-and-privacy/",
            get(project_settings::show_privacy).post(project_settings::save_privacy),
        )
        .route(
            "/settings/{org}/projects/{project}/rate-limits/",
            get(project_quotas::show).post(project_quotas::save),
        )
        .route(
            "/settings/{org}/spike-protection/",
            axum::routing::post(project_quotas::save_org_spike_protection),
        )
        .route(
            "/settings/{org}/projects/{project}/filters/data-filters/",
            get(project_settings::show_filters).post(project_settings::save_filters),
        )
        .route(
            "/settings/{org}/projects/{project}/source-maps/",
            get(source_maps::list),
        )
        .route(
            "/settings/{org}/projects/{project}/source-maps/{bundle_id}/",
            get(source_maps::bundle),
        )
        .route(
            "/settings/{org}/projects/{project}/keys/",
            get(keys::list).post(keys::create),
        )
        .route(
            "/settings/{org}/projects/{project}/keys/{key}/",
            post(keys::update),
        )
        .layer(axum::middleware::map_response(protect))
}

/// What the browser may do with the pages: scripts and styles only from Vigil itself (inline
/// `style` attributes aside: the tag facets' bars), no framing by other sites (clickjacking of
/// the status buttons), forms posting only here, and no URLs of issues leaking in `Referer`.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; img-src 'self' data:; \
     style-src 'self' 'unsafe-inline'; script-src 'self'; object-src 'none'; \
     frame-ancestors 'none'; form-action 'self'; base-uri 'none'";

async fn protect(mut response: Response) -> Response {
    let headers = response.headers_mut();
    for (name, value) in [
        (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "same-origin"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    // Pages hold an organization's data: never kept by a shared cache (assets set their own).
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("private, no-cache"),
        );
    }
    response
}
