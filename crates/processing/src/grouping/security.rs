//! Security reports (Sentry's `csp:v1`, `hpkp:v1`, `expect-ct:v1` and `expect-staple:v1`
//! strategies) and the shared CSP helpers titles use.
//!
//! A certificate report (HPKP, Expect-CT, Expect-Staple) groups by its kind (a static salt) and
//! the host it is about: every report of one host's broken pinning is one issue.
//!
//! A CSP violation groups by its effective directive (a "salt") and the blocked origin, not by
//! the page or the message: every page that loads the same blocked script is one issue.
//! Locally-sourced script violations group by their kind (`'unsafe-inline'`, `'unsafe-eval'`).

use super::component::Component;
use super::input::{str_field, CertificateReport};
use crate::json::Json;

/// What Sentry calls a same-origin source.
const LOCAL: &str = "'self'";

/// The CSP component of the `default` variant.
pub fn csp_component(csp: &Json<'_>) -> Component {
    let directive = effective_directive(csp).unwrap_or_default();
    let salt = Component::leaf("salt", directive).with_hint("a static salt");
    let blocked = normalized_blocked_uri(csp);
    let (violation, uri) = match local_script_violation_type(csp) {
        Some(kind) => {
            let mut uri = Component::leaf("uri", blocked);
            uri.ignore("violation takes precedence");
            (Component::leaf("violation", format!("'{kind}'")), uri)
        }
        None => {
            let mut violation = Component::empty("violation");
            violation.hint = Some("not a local script violation".into());
            (violation, Component::leaf("uri", blocked))
        }
    };
    Component::parent("csp", vec![salt, violation, uri])
}

/// The component of a certificate report: the strategy's salt and the trimmed hostname
/// (Sentry's `_security_v1`).
pub fn certificate_component(kind: CertificateReport, report: &Json<'_>) -> Component {
    let salt = Component::leaf("salt", kind.strategy()).with_hint("a static salt");
    let hostname = Component::leaf("hostname", certificate_hostname(report));
    Component::parent(kind.strategy(), vec![salt, hostname])
}

/// The host a certificate report is about, trimmed; empty when it names none.
pub fn certificate_hostname<'a>(report: &'a Json<'_>) -> &'a str {
    str_field(report, "hostname")
        .map(str::trim)
        .unwrap_or_default()
}

/// `effective_directive`, else the first word of `violated_directive`.
pub fn effective_directive<'a>(csp: &'a Json<'_>) -> Option<&'a str> {
    str_field(csp, "effective_directive")
        .or_else(|| str_field(csp, "violated_directive").and_then(|d| d.split_whitespace().next()))
}

/// The blocked URI reduced to what identifies its source: the host for http(s), the scheme
/// for `data:`/`blob:` and the like, `'self'` for same-origin.
pub fn normalized_blocked_uri(csp: &Json<'_>) -> String {
    normalize_uri(str_field(csp, "blocked_uri").unwrap_or(""))
}

fn normalize_uri(value: &str) -> String {
    if value.is_empty() || value == LOCAL || value == "self" {
        return LOCAL.to_owned();
    }
    // Reports often carry just a scheme (`data`, `blob`); read it as one.
    let value = if value.contains(':') {
        value.to_owned()
    } else {
        format!("{value}:")
    };
    let (scheme, rest) = value.split_once(':').unwrap_or((&value, ""));
    let scheme = scheme.to_lowercase();
    let netloc = rest
        .strip_prefix("//")
        .map(|r| r.split(['/', '?', '#']).next().unwrap_or(""))
        .unwrap_or("");
    if scheme == "http" || scheme == "https" {
        netloc.to_owned()
    } else if netloc.is_empty() {
        format!("{scheme}:")
    } else {
        format!("{scheme}://{netloc}")
    }
}

/// `unsafe-inline` / `unsafe-eval` for a same-origin `script-src` violation.
pub fn local_script_violation_type(csp: &Json<'_>) -> Option<&'static str> {
    let violated = str_field(csp, "violated_directive")?;
    if effective_directive(csp) != Some("script-src") || normalized_blocked_uri(csp) != LOCAL {
        return None;
    }
    if violated.contains("'unsafe-inline'") {
        Some("unsafe-inline")
    } else if violated.contains("'unsafe-eval'") {
        Some("unsafe-eval")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `serde_json::json!` as a [`Json`] tree.
    macro_rules! json {
        ($($t:tt)+) => {
            crate::json::Json::from(serde_json::json!($($t)+))
        };
    }

    #[test]
    fn uri_normalization() {
        assert_eq!(
            normalize_uri("https://evil.example.com/x.js"),
            "evil.example.com"
        );
        assert_eq!(normalize_uri("data"), "data:");
        assert_eq!(
            normalize_uri("wss://socket.example.com/a"),
            "wss://socket.example.com"
        );
        assert_eq!(normalize_uri(""), "'self'");
    }

    #[test]
    fn certificate_reports_group_by_kind_and_host() {
        let report = json!({"hostname": " www.example.com ", "port": 443});
        let ct = certificate_component(CertificateReport::ExpectCt, &report);
        assert_eq!(
            ct.contributing_values(),
            vec!["expect-ct", "www.example.com"]
        );
        let pins = certificate_component(CertificateReport::Hpkp, &report);
        assert_eq!(pins.contributing_values(), vec!["hpkp", "www.example.com"]);
    }

    #[test]
    fn inline_script_groups_by_kind() {
        let csp = json!({"effective_directive": "script-src", "violated_directive": "script-src 'self' 'unsafe-inline'", "blocked_uri": "self"});
        assert_eq!(
            csp_component(&csp).contributing_values(),
            vec!["script-src", "'unsafe-inline'"]
        );
    }
}
