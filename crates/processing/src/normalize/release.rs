//! Where an event was deployed: `release`, `dist` and `environment`.
//!
//! Releases and environments are entities in Sentry (release pages, environment filters), named
//! by these strings, so they must be valid names: Sentry's release parser refuses line breaks,
//! tabs, slashes and a few reserved words, and limits lengths (§5.1). An invalid value is
//! dropped with a note rather than creating a broken release.

use crate::json::{Json, Object};

use super::errors::{self, drop_invalid, EventErrors};
use super::value::{lenient_string, trimmed};

/// Releases Sentry refuses (sentry-release-parser): they would collide with URL segments.
const RESERVED_RELEASES: &[&str] = &[".", "..", "latest"];

/// Validates `release`, `dist` and `environment`.
pub(crate) fn normalize_release_fields(event: &mut Object<'_>, errors: &mut EventErrors) {
    normalize_release(event, errors);
    normalize_dist(event, errors);
    normalize_environment(event, errors);
}

/// The characters Sentry's release and environment parser refuses anywhere in the name.
fn has_forbidden_chars(s: &str) -> bool {
    s.chars()
        .any(|c| matches!(c, '\n' | '\r' | '\t' | '\x0c' | '/' | '\\'))
}

fn normalize_release(event: &mut Object<'_>, errors: &mut EventErrors) {
    let Some(raw) = event.get("release") else {
        return;
    };
    if raw.is_null() {
        event.shift_remove("release");
        return;
    }
    let release = lenient_string(raw).map(|r| trimmed(&r));
    let valid = release.as_deref().filter(|r| {
        !r.is_empty()
            && r.chars().count() <= 200
            && !has_forbidden_chars(r)
            && !RESERVED_RELEASES.contains(r)
    });
    match valid {
        Some(_) => {
            event.insert("release", Json::from(release));
        }
        None if release.as_deref() == Some("") => {
            event.shift_remove("release");
        }
        None => drop_invalid(event, "release", errors),
    }
}

fn normalize_dist(event: &mut Object<'_>, errors: &mut EventErrors) {
    let Some(raw) = event.get("dist") else { return };
    let dist = lenient_string(raw).map(|d| trimmed(&d));
    match dist.as_deref() {
        None if raw.is_null() => {
            event.shift_remove("dist");
        }
        Some("") => {
            event.shift_remove("dist");
        }
        Some(d) if d.chars().count() > 64 => {
            let raw = event.shift_remove("dist");
            errors.push(errors::VALUE_TOO_LONG, "dist", raw.as_ref());
        }
        Some(d)
            if d.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')) =>
        {
            event.insert("dist", Json::from(dist));
        }
        _ => drop_invalid(event, "dist", errors),
    }
}

/// Validates `environment` (trimmed, 1–64 characters, no `/` or line breaks). Also used after a
/// legacy `environment` tag has been moved into the field.
pub(crate) fn normalize_environment(event: &mut Object<'_>, errors: &mut EventErrors) {
    let Some(raw) = event.get("environment") else {
        return;
    };
    let env = match raw {
        Json::String(s) => Some(trimmed(s)),
        _ => None,
    };
    match env.as_deref() {
        None if raw.is_null() => {
            event.shift_remove("environment");
        }
        Some("") => {
            event.shift_remove("environment");
        }
        Some(e) if e.chars().count() <= 64 && !has_forbidden_chars(e) => {
            event.insert("environment", Json::from(env));
        }
        _ => drop_invalid(event, "environment", errors),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use super::*;

    fn map(v: Value) -> Object<'static> {
        Json::from(v).as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn release_rules() {
        let mut errors = EventErrors::default();
        for (input, expected) in [
            (json!(" shop@1.4.2 "), Some(json!("shop@1.4.2"))),
            (json!(12), Some(json!("12"))),
            (json!("latest"), None),
            (json!("a/b"), None),
            (json!(""), None),
            (json!("x".repeat(201)), None),
        ] {
            let mut e = map(json!({ "release": input }));
            normalize_release_fields(&mut e, &mut errors);
            assert_eq!(e.get("release").map(Json::to_value), expected);
        }
    }

    #[test]
    fn dist_and_environment_rules() {
        let mut errors = EventErrors::default();
        let mut e = map(json!({"dist": " 42 ", "environment": " production "}));
        normalize_release_fields(&mut e, &mut errors);
        assert_eq!(e["dist"], json!("42"));
        assert_eq!(e["environment"], json!("production"));
        let mut e = map(json!({"dist": "a b", "environment": "prod/eu"}));
        normalize_release_fields(&mut e, &mut errors);
        assert!(e.get("dist").is_none() && e.get("environment").is_none());
        assert_eq!(errors.entries().len(), 2);
    }
}
