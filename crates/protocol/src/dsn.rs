//! The DSN: the one URL an SDK is configured with, naming the server, the project and its key.
//!
//! `{scheme}://{public_key}[:{secret_key}]@{host}[:{port}]{path_prefix}/{project_id}`. Parsing
//! follows sentry-rust's `sentry-types` (what SDKs accept), so a DSN that works with an SDK parses
//! here; checks that only Relay makes (a 32-character key, a numeric project id) are left to
//! [`crate::auth::is_valid_public_key`] and [`Dsn::numeric_project_id`], because the server has to
//! answer them with different errors.

use std::fmt;
use std::str::FromStr;

use url::Url;

/// A parsed DSN.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Dsn {
    /// `http` or `https`.
    pub scheme: String,
    /// The key that authenticates ingest requests (the URL user name). Sentry issues 32 hex chars.
    pub public_key: String,
    /// The deprecated secret key (the URL password). SDKs forward it; servers ignore it.
    pub secret_key: Option<String>,
    /// Host name or IP address; IPv6 addresses keep their brackets (`[::1]`).
    pub host: String,
    /// The explicit port, `None` when the URL uses its scheme's default.
    pub port: Option<u16>,
    /// Every path segment between host and project id, with a leading and no trailing slash
    /// (`"/sentry"`), or `""`. SDKs put it in front of `/api/`.
    pub path_prefix: String,
    /// The last path segment. SDKs treat it as an opaque string.
    pub project_id: String,
}

/// Why a string is not a DSN. The messages are what an operator sees next to a bad DSN.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DsnError {
    /// Not a URL at all, or a URL without a host.
    #[error("DSN is not a valid URL")]
    InvalidUrl,
    /// A scheme other than `http` or `https`.
    #[error("DSN scheme must be http or https")]
    InvalidScheme,
    /// No user name in the URL.
    #[error("DSN has no public key")]
    MissingPublicKey,
    /// No path segment after the host.
    #[error("DSN has no project id")]
    MissingProjectId,
}

impl FromStr for Dsn {
    type Err = DsnError;

    fn from_str(s: &str) -> Result<Dsn, DsnError> {
        let url = Url::parse(s.trim()).map_err(|_| DsnError::InvalidUrl)?;
        let scheme = match url.scheme() {
            "http" | "https" => url.scheme().to_owned(),
            _ => return Err(DsnError::InvalidScheme),
        };
        let host = match url.host_str() {
            Some(host) if !host.is_empty() => host.to_owned(),
            _ => return Err(DsnError::InvalidUrl),
        };
        let public_key = match url.username() {
            "" => return Err(DsnError::MissingPublicKey),
            key => key.to_owned(),
        };
        // `url` already drops an empty password (`key:@host`), so `Some` means a real secret.
        let secret_key = url.password().map(str::to_owned);

        // sentry-types trims slashes on both ends, so `…/42/` names project 42 as well.
        let path = url.path().trim_matches('/');
        let (path_prefix, project_id) = match path.rsplit_once('/') {
            Some((prefix, id)) => (format!("/{prefix}"), id),
            None => (String::new(), path),
        };
        if project_id.is_empty() {
            return Err(DsnError::MissingProjectId);
        }

        Ok(Dsn {
            scheme,
            public_key,
            secret_key,
            host,
            port: url.port(),
            path_prefix,
            project_id: project_id.to_owned(),
        })
    }
}

/// Prints the DSN without its secret, the form Sentry shows and Vigil hands out.
impl fmt::Display for Dsn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}://{}@{}",
            self.scheme,
            self.public_key,
            self.host_port()
        )?;
        write!(f, "{}/{}", self.path_prefix, self.project_id)
    }
}

impl Dsn {
    /// The DSN of a project served by Vigil at `public_url`.
    ///
    /// The URL's path becomes the path prefix, because Vigil serves `/api/…` under it too when
    /// it runs behind a proxy at a sub-path; SDKs then post to `{public_url}/api/{id}/envelope/`.
    pub fn new(public_url: &Url, public_key: &str, project_id: i64) -> Dsn {
        Dsn {
            scheme: public_url.scheme().to_owned(),
            public_key: public_key.to_owned(),
            secret_key: None,
            host: public_url.host_str().unwrap_or_default().to_owned(),
            port: public_url.port(),
            path_prefix: public_url.path().trim_end_matches('/').to_owned(),
            project_id: project_id.to_string(),
        }
    }

    /// The project id as Relay reads it: a positive integer, else `None`.
    pub fn numeric_project_id(&self) -> Option<i64> {
        self.project_id.parse::<i64>().ok().filter(|id| *id > 0)
    }

    /// The server's base URL as SDKs derive it: `{scheme}://{host}[:{port}]{path_prefix}`.
    pub fn base_url(&self) -> String {
        format!("{}://{}{}", self.scheme, self.host_port(), self.path_prefix)
    }

    /// The URL of an ingest endpoint the way every SDK builds it:
    /// `{base}/api/{project_id}/{endpoint}/` (`endpoint` = `envelope`, `store`, `security`, …).
    pub fn api_url(&self, endpoint: &str) -> String {
        let endpoint = endpoint.trim_matches('/');
        format!("{}/api/{}/{}/", self.base_url(), self.project_id, endpoint)
    }

    fn host_port(&self) -> String {
        match self.port {
            Some(port) => format!("{}:{}", self.host, port),
            None => self.host.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<Dsn, DsnError> {
        s.parse()
    }

    /// Every field of `dsn`, in declaration order, so one comparison checks all of them.
    fn fields(dsn: &Dsn) -> (&str, &str, Option<&str>, &str, Option<u16>, &str, &str) {
        (
            &dsn.scheme,
            &dsn.public_key,
            dsn.secret_key.as_deref(),
            &dsn.host,
            dsn.port,
            &dsn.path_prefix,
            &dsn.project_id,
        )
    }

    #[test]
    fn parses_fixture_dsn_with_port() {
        let key = "0123456789abcdef0123456789abcdef";
        let dsn = parse(&format!("http://{key}@127.0.0.1:9000/42")).unwrap();
        let expected = ("http", key, None, "127.0.0.1", Some(9000), "", "42");
        assert_eq!(fields(&dsn), expected);
        assert_eq!(dsn.numeric_project_id(), Some(42));
        assert_eq!(
            dsn.api_url("envelope"),
            "http://127.0.0.1:9000/api/42/envelope/"
        );
    }

    #[test]
    fn path_prefix_is_everything_before_the_project_id() {
        let dsn = parse("https://abc@example.com/sentry/7").unwrap();
        let expected = ("https", "abc", None, "example.com", None, "/sentry", "7");
        assert_eq!(fields(&dsn), expected);
        assert_eq!(
            dsn.api_url("envelope"),
            "https://example.com/sentry/api/7/envelope/"
        );

        let deep = parse("http://k@h:8888/one/two/pid").unwrap();
        let expected = ("http", "k", None, "h", Some(8888), "/one/two", "pid");
        assert_eq!(fields(&deep), expected);
        assert_eq!(deep.numeric_project_id(), None);
    }

    #[test]
    fn trailing_slash_after_project_id_is_ignored() {
        let dsn = parse("https://k@example.com/sentry/7/").unwrap();
        let expected = ("https", "k", None, "example.com", None, "/sentry", "7");
        assert_eq!(fields(&dsn), expected);
    }

    #[test]
    fn secret_key_is_parsed_but_never_printed() {
        let dsn = parse("https://public:secret@example.com:8443/3").unwrap();
        assert_eq!(dsn.public_key, "public");
        assert_eq!(dsn.secret_key.as_deref(), Some("secret"));
        assert_eq!(dsn.to_string(), "https://public@example.com:8443/3");
    }

    #[test]
    fn empty_secret_is_no_secret() {
        let dsn = parse("https://public:@example.com/3").unwrap();
        assert_eq!(dsn.secret_key, None);
    }

    #[test]
    fn default_port_is_not_printed() {
        // `url` folds an explicit default port away, as SDKs do when they build the API URL.
        let dsn = parse("https://k@example.com:443/3").unwrap();
        assert_eq!(dsn.port, None);
        assert_eq!(dsn.to_string(), "https://k@example.com/3");
    }

    #[test]
    fn display_round_trips() {
        for s in [
            "http://0123456789abcdef0123456789abcdef@127.0.0.1:9000/42",
            "https://abc@example.com/sentry/7",
            "https://abc@[::1]:9000/7",
        ] {
            assert_eq!(parse(s).unwrap().to_string(), s);
        }
    }

    #[test]
    fn invalid_schemes_are_rejected() {
        assert_eq!(parse("ftp://k@example.com/1"), Err(DsnError::InvalidScheme));
        assert_eq!(parse("udp://k@example.com/1"), Err(DsnError::InvalidScheme));
    }

    #[test]
    fn empty_public_key_is_rejected() {
        assert_eq!(
            parse("https://example.com/1"),
            Err(DsnError::MissingPublicKey)
        );
        assert_eq!(
            parse("https://:secret@example.com/1"),
            Err(DsnError::MissingPublicKey)
        );
    }

    #[test]
    fn missing_project_id_is_rejected() {
        assert_eq!(
            parse("https://k@example.com"),
            Err(DsnError::MissingProjectId)
        );
        assert_eq!(
            parse("https://k@example.com/"),
            Err(DsnError::MissingProjectId)
        );
    }

    #[test]
    fn garbage_is_not_a_url() {
        assert_eq!(parse("random string"), Err(DsnError::InvalidUrl));
        assert_eq!(parse(""), Err(DsnError::InvalidUrl));
        assert_eq!(parse("https://k@:8888/42"), Err(DsnError::InvalidUrl));
    }

    #[test]
    fn numeric_project_id_must_be_positive() {
        assert_eq!(parse("https://k@h/0").unwrap().numeric_project_id(), None);
        assert_eq!(parse("https://k@h/-3").unwrap().numeric_project_id(), None);
    }

    #[test]
    fn new_keeps_public_url_path_as_prefix() {
        let url = Url::parse("https://errors.example.com/vigil/").unwrap();
        let dsn = Dsn::new(&url, "0123456789abcdef0123456789abcdef", 5);
        assert_eq!(
            dsn.to_string(),
            "https://0123456789abcdef0123456789abcdef@errors.example.com/vigil/5"
        );
        assert_eq!(dsn.base_url(), "https://errors.example.com/vigil");
        assert_eq!(parse(&dsn.to_string()).unwrap(), dsn);
    }

    #[test]
    fn new_at_root_with_port() {
        let url = Url::parse("http://127.0.0.1:9000").unwrap();
        let dsn = Dsn::new(&url, "k", 42);
        assert_eq!(dsn.path_prefix, "");
        assert_eq!(dsn.to_string(), "http://k@127.0.0.1:9000/42");
        assert_eq!(
            dsn.api_url("security"),
            "http://127.0.0.1:9000/api/42/security/"
        );
    }
}
