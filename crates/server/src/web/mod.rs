//! The web UI: server-rendered pages at Sentry's URL shapes, for the people who read, share and
//! resolve issues.
//!
//! Pages are HTML built with `maud` (templates checked at compile time, escaped by default) from
//! the same store queries and serializers as `/api/0/`; the stylesheet and a few lines of script
//! are embedded ([`assets`]). Every page works without JavaScript. A visitor without a session
//! is sent to the login form and back ([`session`]); organizations the viewer is not a member of
//! answer 404, exactly like ones that do not exist.

pub mod assets;
pub mod charts;
pub mod error;
pub mod event;
pub mod issue;
pub mod issues;
pub mod keys;
pub mod layout;
pub mod lockout;
pub mod login;
pub mod projects;
pub mod session;

use axum::routing::{get, post};
use axum::Router;

pub use session::WebState;

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
            "/settings/{org}/projects/{project}/keys/",
            get(keys::list).post(keys::create),
        )
        .route(
            "/settings/{org}/projects/{project}/keys/{key}/",
            post(keys::update),
        )
}
