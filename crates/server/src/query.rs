//! Query strings with repeated keys (`?project=1&project=2`), as Sentry's API takes them.

use std::convert::Infallible;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

/// All `(key, value)` pairs of a raw query string, decoded, in order.
pub fn pairs(raw: Option<&str>) -> Vec<(String, String)> {
    raw.map(|q| {
        url::form_urlencoded::parse(q.as_bytes())
            .into_owned()
            .collect()
    })
    .unwrap_or_default()
}

/// The request's query string as [`pairs`], for handlers that read repeated keys.
pub struct QueryPairs(pub Vec<(String, String)>);

impl<S: Send + Sync> FromRequestParts<S> for QueryPairs {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Infallible> {
        Ok(QueryPairs(pairs(parts.uri.query())))
    }
}

/// The first value of `key`.
pub fn first<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

/// Every value of `key`.
pub fn all<'a>(pairs: &'a [(String, String)], key: &str) -> Vec<&'a str> {
    pairs
        .iter()
        .filter(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
        .collect()
}

/// Seconds in a Sentry `statsPeriod` (`24h`, `14d`, `30m`, `2w`, `90s`); `None` for `""`.
pub fn stats_period_secs(period: &str) -> Option<f64> {
    let period = period.trim();
    if period.is_empty() {
        return None;
    }
    let (number, unit) = period.split_at(period.len() - 1);
    let n: f64 = number.parse().ok()?;
    let unit_secs = match unit {
        "s" => 1.0,
        "m" => 60.0,
        "h" => 3600.0,
        "d" => 86400.0,
        "w" => 7.0 * 86400.0,
        _ => return None,
    };
    Some(n * unit_secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_keys_are_kept() {
        let p = pairs(Some("project=1&project=2&query=is%3Aresolved"));
        assert_eq!(all(&p, "project"), vec!["1", "2"]);
        assert_eq!(first(&p, "query"), Some("is:resolved"));
    }

    #[test]
    fn stats_periods() {
        assert_eq!(stats_period_secs("24h"), Some(86400.0));
        assert_eq!(stats_period_secs("14d"), Some(14.0 * 86400.0));
        assert_eq!(stats_period_secs(""), None);
        assert_eq!(stats_period_secs("x"), None);
    }
}
