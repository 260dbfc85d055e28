//! The credentials of an ingest request: the `Sentry sentry_key=…` header and the query-string form.
//!
//! Python, Rust and `sentry-cli` send `X-Sentry-Auth`; both JS SDKs put the same pairs in the
//! query string (so that a browser send is a CORS "simple request"). Which source wins, and what
//! two sources at once mean, is the server's decision; this module only reads each form. The
//! header grammar is sentry-types' `Auth::from_str`, which Relay uses.

use url::form_urlencoded;

/// The `sentry_*` pairs of one auth source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientAuth {
    /// The DSN public key, possibly with Relay's `.flag` suffixes.
    pub sentry_key: String,
    /// The deprecated DSN secret; accepted and ignored.
    pub sentry_secret: Option<String>,
    /// Protocol version as sent (`7`, `7.0`, `6`).
    pub sentry_version: Option<String>,
    /// SDK identity, `sentry.python/2.75.0`; the server falls back to `User-Agent` without it.
    pub sentry_client: Option<String>,
}

impl ClientAuth {
    /// The integer part of `sentry_version` (`"7.0"` → 7), `None` if absent or not a number.
    pub fn version(&self) -> Option<u16> {
        self.sentry_version.as_deref().and_then(parse_version)
    }

    /// Collects the known pairs; later duplicates win, as in sentry-types.
    fn from_pairs<K, V>(pairs: impl IntoIterator<Item = (K, V)>) -> Result<Self, AuthError>
    where
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let mut key = String::new();
        let mut auth = ClientAuth {
            sentry_key: String::new(),
            sentry_secret: None,
            sentry_version: None,
            sentry_client: None,
        };
        for (name, value) in pairs {
            let value = value.as_ref();
            match name.as_ref() {
                "sentry_key" => value.clone_into(&mut key),
                "sentry_secret" => auth.sentry_secret = Some(value.to_owned()),
                "sentry_version" => auth.sentry_version = Some(value.to_owned()),
                "sentry_client" => auth.sentry_client = Some(value.to_owned()),
                // `sentry_timestamp` is deprecated (envelopes carry `sent_at`); others are unknown.
                _ => {}
            }
        }
        if key.is_empty() {
            return Err(AuthError::MissingKey);
        }
        auth.sentry_key = key;
        Ok(auth)
    }
}

/// Why a request's credentials are refused. `Display` is Relay's one-line reason, which the
/// server puts in `{"detail": …}`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// An auth header that is not `Sentry …`, has no `sentry_key`, or a non-numeric version.
    /// Relay answers 401 with this reason for every malformed header.
    #[error("bad x-sentry-auth header")]
    Malformed,
    /// No key in any source.
    #[error("missing authorization information")]
    MissingKey,
    /// More than one source (two headers, or a header and the query string).
    #[error("multiple authorization payloads detected")]
    MultipleAuth,
    /// A key that is not 32 ASCII characters (see [`is_valid_public_key`]).
    #[error("bad sentry DSN public key")]
    BadPublicKey,
}

/// Whether a header value is Sentry auth at all.
///
/// Relay only reads `Authorization` when it starts with `Sentry ` (any case), so that
/// `Authorization: Bearer …` on an ingest route is not a malformed auth header but no auth.
pub fn is_sentry_auth(value: &str) -> bool {
    value
        .trim_start()
        .get(..7)
        .is_some_and(|prefix| prefix.eq_ignore_ascii_case("sentry "))
}

/// Parses `Sentry sentry_key=…, sentry_version=7, sentry_client=…`.
///
/// The prefix is split off at the first space and must be `sentry` in any case; the rest splits
/// on `,` and each part on its first `=`, with names and values trimmed; parts without `=` and
/// unknown names are ignored. `sentry_version` must have an integer part (`7`, `7.0`, raven's
/// `6`). A missing or empty `sentry_key` makes the header [`AuthError::Malformed`], the reason
/// Relay gives.
pub fn parse_auth_header(value: &str) -> Result<ClientAuth, AuthError> {
    let (prefix, rest) = value.trim().split_once(' ').unwrap_or((value.trim(), ""));
    if !prefix.eq_ignore_ascii_case("sentry") {
        return Err(AuthError::Malformed);
    }
    let pairs = rest
        .split(',')
        .filter_map(|part| part.split_once('='))
        .map(|(name, value)| (name.trim(), value.trim()));
    let auth = ClientAuth::from_pairs(pairs).map_err(|_| AuthError::Malformed)?;
    if auth.sentry_version.is_some() && auth.version().is_none() {
        return Err(AuthError::Malformed);
    }
    Ok(auth)
}

/// Reads `sentry_key` and friends from a query string (without the `?`), percent-decoded.
///
/// `None` when there is no non-empty `sentry_key`; use [`parse_auth_query`] to tell "no auth"
/// from "broken auth".
pub fn auth_from_query(query: &str) -> Option<ClientAuth> {
    parse_auth_query(query).ok().flatten()
}

/// Reads the query-string credentials with Relay's strictness.
///
/// Relay treats any query containing `sentry_` as an auth source: `Ok(None)` means the query
/// carries no `sentry_*` parameter at all; a `sentry_*` parameter without a usable `sentry_key`
/// or with a non-numeric version is [`AuthError::Malformed`].
pub fn parse_auth_query(query: &str) -> Result<Option<ClientAuth>, AuthError> {
    let query = query.strip_prefix('?').unwrap_or(query);
    let pairs: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
        .filter(|(name, _)| name.starts_with("sentry_"))
        .map(|(name, value)| (name.into_owned(), value.into_owned()))
        .collect();
    if pairs.is_empty() {
        return Ok(None);
    }
    let auth = ClientAuth::from_pairs(pairs).map_err(|_| AuthError::Malformed)?;
    if auth.sentry_version.is_some() && auth.version().is_none() {
        return Err(AuthError::Malformed);
    }
    Ok(Some(auth))
}

/// Whether Relay would accept `key` as a project key: exactly 32 ASCII characters, optionally
/// followed by `.flag` suffixes (`….no-cache`).
///
/// Relay does not require hex, so neither does this; a key Vigil never issued is refused later,
/// when it is looked up.
pub fn is_valid_public_key(key: &str) -> bool {
    let (base, _) = split_key_flags(key);
    base.len() == 32 && base.is_ascii()
}

/// Splits a public key into the key proper and its `.flag` suffixes
/// (`"….no-cache"` → `("…", ["no-cache"])`). Lookups must use the first part.
pub fn split_key_flags(key: &str) -> (&str, Vec<&str>) {
    let mut parts = key.split('.');
    let base = parts.next().unwrap_or_default();
    (base, parts.collect())
}

fn parse_version(value: &str) -> Option<u16> {
    value.split('.').next()?.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "0123456789abcdef0123456789abcdef";

    /// An SDK's header for [`KEY`], as that SDK sends it: parsed, with its key and client.
    fn sdk_header(raw: &str, client: &str) -> ClientAuth {
        let auth = parse_auth_header(raw).unwrap();
        assert_eq!(auth.sentry_key, KEY);
        assert_eq!(auth.sentry_client.as_deref(), Some(client));
        auth
    }

    #[test]
    fn python_sdk_header() {
        let auth = sdk_header(
            "Sentry sentry_key=0123456789abcdef0123456789abcdef, sentry_version=7, sentry_client=sentry.python/2.75.0",
            "sentry.python/2.75.0",
        );
        assert_eq!(auth.sentry_version.as_deref(), Some("7"));
        assert_eq!(auth.version(), Some(7));
        assert_eq!(auth.sentry_secret, None);
    }

    #[test]
    fn rust_sdk_header_with_timestamp() {
        sdk_header(
            "Sentry sentry_key=0123456789abcdef0123456789abcdef, sentry_version=7, sentry_timestamp=1795575722.1780102, sentry_client=sentry.rust/0.49.5",
            "sentry.rust/0.49.5",
        );
    }

    #[test]
    fn sentry_cli_header() {
        sdk_header(
            "Sentry sentry_key=0123456789abcdef0123456789abcdef, sentry_version=7, sentry_timestamp=1795574502.0638306, sentry_client=sentry-cli/x86_64",
            "sentry-cli/x86_64",
        );
    }

    #[test]
    fn raven_header_with_version_6_is_accepted() {
        let auth = sdk_header(
            "Sentry sentry_timestamp=1795574454.2230551, sentry_client=raven-python/6.10.0, sentry_version=6, sentry_key=0123456789abcdef0123456789abcdef",
            "raven-python/6.10.0",
        );
        assert_eq!(auth.version(), Some(6));
    }

    #[test]
    fn version_with_fraction_uses_integer_part() {
        let auth = parse_auth_header("Sentry sentry_key=k, sentry_version=7.0").unwrap();
        assert_eq!(auth.version(), Some(7));
    }

    #[test]
    fn extra_spaces_and_case_are_tolerated() {
        let auth = parse_auth_header(
            "  sentry   sentry_key = abc ,sentry_version= 7 ,  sentry_secret =s3cret,  ",
        )
        .unwrap();
        assert_eq!(auth.sentry_key, "abc");
        assert_eq!(auth.version(), Some(7));
        assert_eq!(auth.sentry_secret.as_deref(), Some("s3cret"));

        let upper = parse_auth_header("SENTRY sentry_key=abc").unwrap();
        assert_eq!(upper.sentry_key, "abc");
    }

    #[test]
    fn value_keeps_later_equals_signs() {
        let auth = parse_auth_header("Sentry sentry_key=abc, sentry_client=odd=client").unwrap();
        assert_eq!(auth.sentry_client.as_deref(), Some("odd=client"));
    }

    #[test]
    fn unknown_pairs_and_bare_words_are_ignored() {
        let auth = parse_auth_header("Sentry foo=bar, junk, sentry_key=abc").unwrap();
        assert_eq!(auth.sentry_key, "abc");
    }

    #[test]
    fn non_sentry_prefix_is_malformed() {
        assert_eq!(parse_auth_header("Bearer abc"), Err(AuthError::Malformed));
        assert_eq!(
            parse_auth_header("sentry_key=abc"),
            Err(AuthError::Malformed)
        );
        assert_eq!(parse_auth_header(""), Err(AuthError::Malformed));
    }

    #[test]
    fn missing_or_empty_key_is_malformed() {
        assert_eq!(
            parse_auth_header("Sentry sentry_version=7"),
            Err(AuthError::Malformed)
        );
        assert_eq!(
            parse_auth_header("Sentry sentry_key=, sentry_version=7"),
            Err(AuthError::Malformed)
        );
        assert_eq!(parse_auth_header("Sentry"), Err(AuthError::Malformed));
    }

    #[test]
    fn non_numeric_version_is_malformed() {
        assert_eq!(
            parse_auth_header("Sentry sentry_key=abc, sentry_version=seven"),
            Err(AuthError::Malformed)
        );
    }

    #[test]
    fn error_reasons_are_relays() {
        assert_eq!(AuthError::Malformed.to_string(), "bad x-sentry-auth header");
        assert_eq!(
            AuthError::MissingKey.to_string(),
            "missing authorization information"
        );
        assert_eq!(
            AuthError::MultipleAuth.to_string(),
            "multiple authorization payloads detected"
        );
        assert_eq!(
            AuthError::BadPublicKey.to_string(),
            "bad sentry DSN public key"
        );
    }

    #[test]
    fn is_sentry_auth_only_for_sentry_scheme() {
        assert!(is_sentry_auth("Sentry sentry_key=abc"));
        assert!(is_sentry_auth("sentry sentry_key=abc"));
        assert!(!is_sentry_auth("Bearer sntryu_00"));
        assert!(!is_sentry_auth("Sentry"));
        assert!(!is_sentry_auth("Séntry x"));
    }

    #[test]
    fn js_sdk_query_string() {
        let auth = auth_from_query(
            "sentry_version=7&sentry_key=0123456789abcdef0123456789abcdef&sentry_client=sentry.javascript.node%2F11.12.0",
        )
        .unwrap();
        assert_eq!(auth.sentry_key, KEY);
        assert_eq!(auth.version(), Some(7));
        assert_eq!(
            auth.sentry_client.as_deref(),
            Some("sentry.javascript.node/11.12.0")
        );
    }

    #[test]
    fn query_is_percent_and_plus_decoded() {
        let auth = auth_from_query("?sentry_key=a%62c&sentry_client=my+client%2F1.0").unwrap();
        assert_eq!(auth.sentry_key, "abc");
        assert_eq!(auth.sentry_client.as_deref(), Some("my client/1.0"));
    }

    #[test]
    fn query_without_key_is_none() {
        assert_eq!(auth_from_query(""), None);
        assert_eq!(auth_from_query("ref=home&page=2"), None);
        assert_eq!(auth_from_query("sentry_version=7"), None);
        assert_eq!(auth_from_query("sentry_key="), None);
    }

    #[test]
    fn strict_query_parse_tells_absent_from_broken() {
        assert_eq!(parse_auth_query("ref=home"), Ok(None));
        assert_eq!(
            parse_auth_query("sentry_version=7"),
            Err(AuthError::Malformed)
        );
        assert_eq!(
            parse_auth_query("sentry_key=abc&sentry_version=x"),
            Err(AuthError::Malformed)
        );
        assert_eq!(
            parse_auth_query("sentry_key=abc").map(|a| a.map(|a| a.sentry_key)),
            Ok(Some("abc".to_owned()))
        );
    }

    #[test]
    fn every_fixture_request_authenticates() {
        // Each captured ingest request carries its key in exactly one of header or query.
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../../shared/fixtures/sdk-payloads");
        let Ok(scenarios) = std::fs::read_dir(&root) else {
            return; // fixtures live outside the crate; tests/fixtures.rs insists on them
        };
        let mut checked = 0;
        for scenario in scenarios.flatten().filter(|e| e.path().is_dir()) {
            for request in std::fs::read_dir(scenario.path()).unwrap().flatten() {
                let Ok(text) = std::fs::read_to_string(request.path().join("request.json")) else {
                    continue;
                };
                let request: serde_json::Value = serde_json::from_str(&text).unwrap();
                let path = request["path"].as_str().unwrap();
                if path.starts_with("/api/0/") {
                    continue;
                }
                let headers = request["headers"].as_array().unwrap();
                let header = headers.iter().find_map(|pair| {
                    let name = pair[0].as_str()?;
                    name.eq_ignore_ascii_case("x-sentry-auth")
                        .then(|| pair[1].as_str())?
                });
                let query = request["query"].as_str().unwrap_or_default();
                let auth = match (header, auth_from_query(query)) {
                    (Some(value), None) => parse_auth_header(value).unwrap(),
                    (None, Some(auth)) => auth,
                    // The tunnel scenario authenticates only with the envelope's `dsn` header.
                    (None, None) => continue,
                    (Some(_), Some(_)) => panic!("two auth sources in {path}"),
                };
                assert_eq!(auth.sentry_key, KEY);
                assert!(is_valid_public_key(&auth.sentry_key));
                assert!(matches!(auth.version(), Some(6 | 7)));
                checked += 1;
            }
        }
        assert!(checked > 40, "only {checked} fixture requests checked");
    }

    #[test]
    fn public_key_is_32_ascii_chars_with_optional_flags() {
        assert!(is_valid_public_key(KEY));
        assert!(is_valid_public_key("0123456789ABCDEF0123456789ABCDEF"));
        assert!(is_valid_public_key(
            "0123456789abcdef0123456789abcdef.no-cache"
        ));
        assert!(is_valid_public_key("zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz"));
        assert!(!is_valid_public_key(""));
        assert!(!is_valid_public_key("abc"));
        assert!(!is_valid_public_key("0123456789abcdef0123456789abcdef0"));
        assert!(!is_valid_public_key("0123456789abcdef0123456789abcdé"));
        assert!(!is_valid_public_key(".no-cache"));
    }

    #[test]
    fn key_flags_are_split_off() {
        let (base, flags) = split_key_flags("0123456789abcdef0123456789abcdef.no-cache.x");
        assert_eq!(base, KEY);
        assert_eq!(flags, ["no-cache", "x"]);
        assert_eq!(split_key_flags(KEY), (KEY, vec![]));
    }
}
