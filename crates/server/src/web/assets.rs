//! The stylesheet and the script, compiled into the binary: no files to deploy, no build step.

use axum::http::header;
use axum::response::IntoResponse;

const CSS: &str = include_str!("assets/vigil.css");
const JS: &str = include_str!("assets/vigil.js");

/// Changes whenever an asset does (pages link `?v=VERSION`), so browsers may cache them long.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

const CACHE: &str = "public, max-age=86400";

/// `GET /_static/vigil.css`.
pub async fn css() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, CACHE),
        ],
        CSS,
    )
}

/// `GET /_static/vigil.js`.
pub async fn js() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, CACHE),
        ],
        JS,
    )
}
