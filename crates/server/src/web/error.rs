//! Why a page could not be shown, as an HTML page with its status.

use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use maud::html;

#[derive(Debug, thiserror::Error)]
pub enum WebError {
    /// Missing, or not the viewer's to read: the two look the same from outside.
    #[error("Page not found")]
    NotFound,
    #[error("{0}")]
    BadRequest(String),
    #[error("The form expired or came from another site; reload the page and try again.")]
    Csrf,
    #[error("The server could not read its database; try again shortly.")]
    Unavailable,
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        let status = match self {
            WebError::NotFound => StatusCode::NOT_FOUND,
            WebError::BadRequest(_) => StatusCode::BAD_REQUEST,
            WebError::Csrf => StatusCode::FORBIDDEN,
            WebError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        };
        tracing::info!(status = status.as_u16(), reason = %self, "web page refused");
        let body = html! {
            (maud::DOCTYPE)
            html lang="en" {
                head { meta charset="utf-8"; title { (status.as_u16()) " · Vigil" } }
                body style="font-family: system-ui, sans-serif; margin: 3rem" {
                    h1 { (status.as_u16()) " " (status.canonical_reason().unwrap_or("")) }
                    p { (self.to_string()) }
                }
            }
        };
        (status, Html(body.into_string())).into_response()
    }
}

impl From<vigil_store::StoreError> for WebError {
    fn from(err: vigil_store::StoreError) -> WebError {
        match err {
            vigil_store::StoreError::NotFound(_) => WebError::NotFound,
            vigil_store::StoreError::Invalid(message) => WebError::BadRequest(message),
            vigil_store::StoreError::Conflict(what) => {
                WebError::BadRequest(format!("{what} already exists"))
            }
            other => {
                tracing::error!(err = %other, "store error on a web page");
                WebError::Unavailable
            }
        }
    }
}
