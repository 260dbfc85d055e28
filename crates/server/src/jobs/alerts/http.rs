//! Webhook and Slack alerts: one JSON `POST` per notification.

use std::time::Duration;

use super::DeliveryError;

/// A receiver that has not answered within this is counted as failed (and retried).
const TIMEOUT: Duration = Duration::from_secs(10);
/// How much of a failing receiver's answer is kept as the notification's last error.
const ERROR_BODY_CHARS: usize = 200;

/// The HTTP client of the HTTP sender (connections are reused between posts).
pub struct Poster {
    client: reqwest::Client,
}

impl Poster {
    pub fn new() -> Result<Poster, reqwest::Error> {
        let client = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .user_agent(concat!("vigil/", env!("CARGO_PKG_VERSION")))
            // A webhook URL is a user's choice of endpoint, not a redirect chain to follow.
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(Poster { client })
    }

    /// Posts `payload` as JSON to `url`; any 2xx answer is a delivery.
    pub async fn post(&self, url: &str, payload: &serde_json::Value) -> Result<(), DeliveryError> {
        let url = reqwest::Url::parse(url)
            .map_err(|err| DeliveryError::Undeliverable(format!("invalid URL {url:?}: {err}")))?;
        let response = self
            .client
            .post(url)
            .json(payload)
            .send()
            .await
            .map_err(|err| DeliveryError::Transient(describe(&err)))?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        let body = response.text().await.unwrap_or_default();
        let excerpt: String = body.chars().take(ERROR_BODY_CHARS).collect();
        Err(DeliveryError::Transient(format!(
            "HTTP {}: {}",
            status.as_u16(),
            excerpt.trim()
        )))
    }
}

/// reqwest's error with its causes ("error sending request" alone says little).
fn describe(err: &reqwest::Error) -> String {
    let text = if err.is_timeout() {
        format!("timed out after {} s", TIMEOUT.as_secs())
    } else {
        err.to_string()
    };
    super::with_causes(text, err)
}
