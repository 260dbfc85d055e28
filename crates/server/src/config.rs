//! The server's settings, each declared once: a field's doc comment is its help line, and its
//! `#[arg]` names its flag, its `VIGIL_*` variable and its default.
//!
//! Vaultwarden's habit of one source of truth per setting: the binary flattens these structs
//! into `vigil serve`, the README's settings table is checked against them, and `Default` (and
//! [`ServerConfig::new`], which tests use) read the defaults back from the same declarations,
//! so no default is written twice and none can drift from what `--help` shows.

use clap::{Args, FromArgMatches};
use url::Url;

/// Limits from Relay's defaults (`relay-config` `Limits::default`). Sizes are bytes and accept
/// `KiB`, `MiB` and `GiB` (`512KiB`, `2MiB`).
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Limits")]
pub struct Limits {
    /// Bytes of a whole envelope after decompression.
    #[arg(long, env = "VIGIL_MAX_ENVELOPE_SIZE", default_value = "200MiB", value_parser = parse_bytes)]
    pub max_envelope_size: usize,
    /// Bytes of one event, transaction, feedback or security item, and of a whole `/store/` body.
    #[arg(long, env = "VIGIL_MAX_EVENT_SIZE", default_value = "1MiB", value_parser = parse_bytes)]
    pub max_event_size: usize,
    /// Bytes of one attachment.
    #[arg(long, env = "VIGIL_MAX_ATTACHMENT_SIZE", default_value = "200MiB", value_parser = parse_bytes)]
    pub max_attachment_size: usize,
    /// Bytes of all attachments of one envelope.
    #[arg(long, env = "VIGIL_MAX_ATTACHMENTS_SIZE", default_value = "200MiB", value_parser = parse_bytes)]
    pub max_attachments_size: usize,
    /// Attachments in one envelope.
    #[arg(long, env = "VIGIL_MAX_ATTACHMENT_COUNT", default_value_t = 30)]
    pub max_attachment_count: usize,
    /// Session items in one envelope.
    #[arg(long, env = "VIGIL_MAX_SESSION_COUNT", default_value_t = 100)]
    pub max_session_count: usize,
    /// Bytes of all session items of one envelope.
    #[arg(long, env = "VIGIL_MAX_SESSIONS_SIZE", default_value = "10MiB", value_parser = parse_bytes)]
    pub max_sessions_size: usize,
    /// Bytes of all client reports of one envelope.
    #[arg(long, env = "VIGIL_MAX_CLIENT_REPORTS_SIZE", default_value = "100KiB", value_parser = parse_bytes)]
    pub max_client_reports_size: usize,
    /// Bytes of one cron monitor check-in.
    #[arg(long, env = "VIGIL_MAX_CHECK_IN_SIZE", default_value = "100KiB", value_parser = parse_bytes)]
    pub max_check_in_size: usize,
    /// Bytes of one item that holds many records: streamed spans, and logs when larger than
    /// `--max-log-size`.
    #[arg(long, env = "VIGIL_MAX_CONTAINER_SIZE", default_value = "12MiB", value_parser = parse_bytes)]
    pub max_container_size: usize,
    /// Bytes of one log item.
    #[arg(long, env = "VIGIL_MAX_LOG_SIZE", default_value = "2MiB", value_parser = parse_bytes)]
    pub max_log_size: usize,
    /// Bytes of one profile or profile chunk.
    #[arg(long, env = "VIGIL_MAX_PROFILE_SIZE", default_value = "50MiB", value_parser = parse_bytes)]
    pub max_profile_size: usize,
    /// Bytes of one replay recording or video.
    #[arg(long, env = "VIGIL_MAX_REPLAY_SIZE", default_value = "100MiB", value_parser = parse_bytes)]
    pub max_replay_size: usize,
    /// Bytes of one request body as sent, before decompression.
    #[arg(long, env = "VIGIL_MAX_REQUEST_BODY", default_value = "200MiB", value_parser = parse_bytes)]
    pub max_request_body: usize,
    /// Bytes of request bodies all requests together may hold, as sent and decompressed; over
    /// it, ingest answers 429 rather than run out of memory.
    #[arg(long, env = "VIGIL_MAX_BODIES_IN_FLIGHT", default_value = "1GiB", value_parser = parse_bytes)]
    pub max_bodies_in_flight: usize,
    /// Queued envelopes above which ingest answers 429 so that SDKs back off.
    #[arg(long, env = "VIGIL_MAX_QUEUE_DEPTH", default_value_t = 1_000_000)]
    pub max_queue_depth: usize,
    /// Stored bytes of queued envelopes (as received on SQLite, compressed on PostgreSQL) above
    /// which ingest answers 429.
    #[arg(long, env = "VIGIL_MAX_QUEUE_BYTES", default_value = "4GiB", value_parser = parse_bytes)]
    pub max_queue_bytes: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        declared_defaults()
    }
}

/// What the HTTP faces and the background jobs need to know about their deployment.
#[derive(Debug, Clone, Args)]
pub struct ServerConfig {
    /// The URL users and SDKs reach Vigil at; DSNs and permalinks are built from it. Not a flag
    /// of its own here: `--public-url` is shared by every command (the CLI prints DSNs too) and
    /// defaults to `http://<bind>`, so the binary sets it after parsing, as
    /// [`ServerConfig::new`] does; the placeholder names a domain that cannot exist.
    #[arg(skip = Url::parse("http://public-url-unset.invalid/").expect("a valid literal URL"))]
    pub public_url: Url,
    /// Days events are kept: older ones are deleted (hourly, by one node of a cluster), and
    /// events that arrive with an older timestamp are dated when they were received.
    #[arg(long, env = "VIGIL_RETENTION_DAYS", default_value_t = 90,
          value_parser = clap::value_parser!(u32).range(1..=36_500))]
    pub retention_days: u32,
    /// SMTP server for email alerts: `smtp://[user:pass@]host:port` (STARTTLS when the server
    /// offers it) or `smtps://…` (implicit TLS). Without it, email alerts are recorded as
    /// undeliverable.
    #[arg(long, env = "VIGIL_SMTP_URL", hide_env_values = true)]
    pub smtp_url: Option<Url>,
    /// The `From` address of alert emails.
    #[arg(long, env = "VIGIL_MAIL_FROM", default_value = "vigil@localhost")]
    pub mail_from: String,
    #[command(flatten)]
    pub limits: Limits,
    #[command(flatten)]
    pub quotas: QuotaConfig,
}

/// Spike protection: how far over its usual volume a project may burst in one hour.
#[derive(Debug, Clone, Args)]
pub struct QuotaConfig {
    /// Spike protection cuts a project's errors, transactions or attachments past this multiple
    /// of its average hourly volume of the last 7 days (0 turns it off everywhere).
    #[arg(long, env = "VIGIL_SPIKE_PROTECTION_MULTIPLE", default_value_t = 10.0,
          value_parser = parse_multiple)]
    pub spike_protection_multiple: f64,
    /// Items per hour spike protection always lets through, so that projects without history
    /// are not limited.
    #[arg(long, env = "VIGIL_SPIKE_PROTECTION_FLOOR", default_value_t = 10_000,
          value_parser = clap::value_parser!(i64).range(0..))]
    pub spike_protection_floor: i64,
}

impl Default for QuotaConfig {
    fn default() -> QuotaConfig {
        declared_defaults()
    }
}

/// A finite multiple, zero or more.
fn parse_multiple(text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(m) if m.is_finite() && m >= 0.0 => Ok(m),
        _ => Err(format!("`{text}` is not a number of zero or more")),
    }
}

impl ServerConfig {
    /// Every setting at its declared default, served at `public_url`.
    pub fn new(public_url: Url) -> ServerConfig {
        ServerConfig {
            public_url,
            ..declared_defaults()
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

/// `T` with every setting at the default its declaration names. The environment is ignored on
/// purpose: a default must not change because a test or a shell happens to export `VIGIL_*`.
fn declared_defaults<T: Args + FromArgMatches>() -> T {
    let command = T::augment_args(clap::Command::new("defaults"))
        .mut_args(|arg| arg.env(None::<&'static str>));
    let matches = command
        .try_get_matches_from(["defaults"])
        .expect("every declared default parses with its own value parser");
    T::from_arg_matches(&matches).expect("the declared defaults fill every setting")
}

/// A byte count: a plain integer, or one followed by `B`, `KiB`, `MiB` or `GiB` (binary units,
/// as Relay's limits are; case is ignored).
pub fn parse_bytes(text: &str) -> Result<usize, String> {
    let text = text.trim();
    let digits_end = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, unit) = text.split_at(digits_end);
    let number: usize = digits
        .parse()
        .map_err(|_| format!("{text:?} is not a byte count such as 1048576 or 1MiB"))?;
    let multiplier: usize = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kib" => 1 << 10,
        "mib" => 1 << 20,
        "gib" => 1 << 30,
        _ => {
            return Err(format!(
                "unknown unit {unit:?} in {text:?}: use B, KiB, MiB or GiB"
            ))
        }
    };
    number
        .checked_mul(multiplier)
        .ok_or_else(|| format!("{text:?} is more bytes than this machine can count"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: usize = 1024 * 1024;

    #[test]
    fn byte_counts_take_plain_integers_and_binary_units() {
        assert_eq!(parse_bytes("1048576"), Ok(MIB));
        assert_eq!(parse_bytes("0"), Ok(0));
        assert_eq!(parse_bytes("512B"), Ok(512));
        assert_eq!(parse_bytes("100KiB"), Ok(100 * 1024));
        assert_eq!(parse_bytes("2MiB"), Ok(2 * MIB));
        assert_eq!(parse_bytes("2 mib"), Ok(2 * MIB));
        assert_eq!(parse_bytes("4GiB"), Ok(4096 * MIB));
    }

    #[test]
    fn byte_counts_refuse_what_they_cannot_read() {
        for bad in ["", "MiB", "-1", "1.5MiB", "1MB", "1 TiB", "ten"] {
            assert!(parse_bytes(bad).is_err(), "{bad:?} was accepted");
        }
        assert!(parse_bytes(&format!("{}GiB", usize::MAX)).is_err());
    }

    /// The values Relay's `Limits::default` has, which SDKs' own limits are sized against.
    #[test]
    fn limits_default_to_relays() {
        let limits = Limits::default();
        assert_eq!(limits.max_envelope_size, 200 * MIB);
        assert_eq!(limits.max_event_size, MIB);
        assert_eq!(limits.max_attachment_size, 200 * MIB);
        assert_eq!(limits.max_attachments_size, 200 * MIB);
        assert_eq!(limits.max_attachment_count, 30);
        assert_eq!(limits.max_session_count, 100);
        assert_eq!(limits.max_sessions_size, 10 * MIB);
        assert_eq!(limits.max_client_reports_size, 100 * 1024);
        assert_eq!(limits.max_check_in_size, 100 * 1024);
        assert_eq!(limits.max_container_size, 12 * MIB);
        assert_eq!(limits.max_log_size, 2 * MIB);
        assert_eq!(limits.max_profile_size, 50 * MIB);
        assert_eq!(limits.max_replay_size, 100 * MIB);
        assert_eq!(limits.max_request_body, 200 * MIB);
        assert_eq!(limits.max_bodies_in_flight, 1024 * MIB);
        assert_eq!(limits.max_queue_depth, 1_000_000);
        assert_eq!(limits.max_queue_bytes, 4096 * MIB);
    }

    #[test]
    fn new_config_has_the_declared_defaults_and_the_given_url() {
        let url: Url = "https://errors.example.com/sentry/".parse().expect("url");
        let config = ServerConfig::new(url.clone());
        assert_eq!(config.public_url, url);
        assert_eq!(config.retention_days, 90);
        assert_eq!(config.smtp_url, None);
        assert_eq!(config.mail_from, "vigil@localhost");
        assert_eq!(config.path_prefix(), "/sentry");
    }

    #[test]
    fn flags_override_the_declared_defaults() {
        let command = ServerConfig::augment_args(clap::Command::new("serve"));
        let with_env = command
            .try_get_matches_from(["serve", "--max-event-size", "2MiB", "--retention-days", "7"])
            .expect("flags parse");
        let parsed = ServerConfig::from_arg_matches(&with_env).expect("settings");
        assert_eq!(parsed.limits.max_event_size, 2 * MIB);
        assert_eq!(parsed.retention_days, 7);
        assert_eq!(Limits::default().max_event_size, MIB);
    }
}
