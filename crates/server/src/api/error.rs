//! Web API errors with Sentry's status codes and `{"detail": …}` bodies.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("Authentication credentials were not provided.")]
    Unauthenticated,
    #[error("Invalid token")]
    InvalidToken,
    #[error("You do not have permission to perform this action.")]
    Forbidden,
    #[error("The requested resource does not exist")]
    NotFound,
    /// A field of the request body or query is wrong: `{"field": ["message"]}`.
    #[error("{field}: {message}")]
    BadField { field: String, message: String },
    /// A request Sentry answers 400 with a sentence: `{"detail": "…"}`.
    #[error("{0}")]
    Invalid(String),
    /// A request body over what the endpoint takes: 413 with a sentence.
    #[error("{0}")]
    TooLarge(String),
    /// A name taken already: 409 with a sentence.
    #[error("{0}")]
    Conflict(String),
    #[error("service unavailable")]
    Unavailable,
}

impl ApiError {
    pub fn bad_field(field: &str, message: impl Into<String>) -> ApiError {
        ApiError::BadField {
            field: field.to_string(),
            message: message.into(),
        }
    }
}

/// The JSON body of a request, or Sentry's 400 when it is missing or not JSON.
pub fn json_body<T>(body: Option<axum::Json<T>>) -> Result<T, ApiError> {
    body.map(|axum::Json(body)| body)
        .ok_or_else(|| ApiError::bad_field("detail", "Invalid JSON body"))
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, body) = match &self {
            ApiError::Unauthenticated | ApiError::InvalidToken => (
                StatusCode::UNAUTHORIZED,
                serde_json::json!({ "detail": self.to_string() }),
            ),
            ApiError::Forbidden => (
                StatusCode::FORBIDDEN,
                serde_json::json!({ "detail": self.to_string() }),
            ),
            ApiError::NotFound => (
                StatusCode::NOT_FOUND,
                serde_json::json!({ "detail": self.to_string() }),
            ),
            ApiError::BadField { field, message } => (
                StatusCode::BAD_REQUEST,
                serde_json::json!({ field.clone(): [message] }),
            ),
            ApiError::Invalid(message) => (
                StatusCode::BAD_REQUEST,
                serde_json::json!({ "detail": message }),
            ),
            ApiError::TooLarge(message) => (
                StatusCode::PAYLOAD_TOO_LARGE,
                serde_json::json!({ "detail": message }),
            ),
            ApiError::Conflict(message) => (
                StatusCode::CONFLICT,
                serde_json::json!({ "detail": message }),
            ),
            ApiError::Unavailable => (
                StatusCode::SERVICE_UNAVAILABLE,
                serde_json::json!({ "detail": self.to_string() }),
            ),
        };
        (status, Json(body)).into_response()
    }
}

impl From<vigil_store::StoreError> for ApiError {
    fn from(err: vigil_store::StoreError) -> ApiError {
        match err {
            vigil_store::StoreError::NotFound(_) => ApiError::NotFound,
            vigil_store::StoreError::Invalid(message) => ApiError::bad_field("detail", message),
            other => {
                tracing::error!(err = %other, "store error on the web API");
                ApiError::Unavailable
            }
        }
    }
}
