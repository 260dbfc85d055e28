//! Settings the HTTP faces need, filled by the binary from flags and `VIGIL_*` variables.

use url::Url;

/// Limits from Relay's defaults (`relay-config` `Limits::default`), in bytes unless named.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Whole envelope after decompression.
    pub max_envelope_size: usize,
    /// One event, transaction, feedback or security item; the whole `/store/` body.
    pub max_event_size: usize,
    pub max_attachment_size: usize,
    pub max_attachments_size: usize,
    pub max_attachment_count: usize,
    pub max_session_count: usize,
    pub max_sessions_size: usize,
    pub max_client_reports_size: usize,
    pub max_check_in_size: usize,
    pub max_span_size: usize,
    pub max_container_size: usize,
    pub max_log_size: usize,
    pub max_profile_size: usize,
    pub max_replay_size: usize,
    /// Bytes of a request body before decompression.
    pub max_request_body: usize,
    /// Bytes of request bodies all requests together may hold (wire and decompressed).
    pub max_bodies_in_flight: usize,
    /// Queued envelopes, and their compressed bytes, above which ingest answers 429.
    pub max_queue_depth: usize,
    pub max_queue_bytes: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        const MIB: usize = 1024 * 1024;
        Limits {
            max_envelope_size: 200 * MIB,
            max_event_size: MIB,
            max_attachment_size: 200 * MIB,
            max_attachments_size: 200 * MIB,
            max_attachment_count: 30,
            max_session_count: 100,
            max_sessions_size: 10 * MIB,
            max_client_reports_size: 100 * 1024,
            max_check_in_size: 100 * 1024,
            max_span_size: 10 * MIB,
            max_container_size: 12 * MIB,
            max_log_size: 2 * MIB,
            max_profile_size: 50 * MIB,
            max_replay_size: 100 * MIB,
            max_request_body: 200 * MIB,
            max_bodies_in_flight: 1024 * MIB,
            max_queue_depth: 1_000_000,
            max_queue_bytes: 4096 * MIB,
        }
    }
}

#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// The URL users and SDKs reach Vigil at; DSNs and permalinks are built from it.
    pub public_url: Url,
    pub limits: Limits,
    /// Events older than this are clamped to the receive time (Sentry's retention window).
    pub retention_days: u32,
    /// Email alerts go out through this server (`smtp://[user:pass@]host:port`, STARTTLS
    /// when offered, or `smtps://…` for implicit TLS); `None`: they are recorded as
    /// undeliverable rather than silently dropped.
    pub smtp_url: Option<Url>,
    /// The `From` of alert emails.
    pub mail_from: String,
}

/// `From` of alert emails when `VIGIL_MAIL_FROM` is not set.
pub const DEFAULT_MAIL_FROM: &str = "vigil@localhost";

impl ServerConfig {
    pub fn new(public_url: Url) -> ServerConfig {
        ServerConfig {
            public_url,
            limits: Limits::default(),
            retention_days: 90,
            smtp_url: None,
            mail_from: DEFAULT_MAIL_FROM.to_string(),
        }
    }

    /// The public URL's path without a trailing slash (`""` or `/sentry`).
    pub fn path_prefix(&self) -> String {
        self.public_url.path().trim_end_matches('/').to_string()
    }

    /// `{public_url}` without a trailing slash, for building absolute links.
    pub fn base_url(&self) -> String {
        self.public_url.as_str().trim_end_matches('/').to_string()
    }
}
