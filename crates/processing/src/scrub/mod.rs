//! Sentry's server-side data scrubbing: what Relay's PII processor does to an event for the
//! project's "Data Scrubber" settings (`dataScrubber`, `dataScrubberDefaults`,
//! `scrubIPAddresses`, sensitive and safe fields), checked against Relay itself
//! (`sentry-relay` 0.10.1, `tests/scrub.rs`).
//!
//! Relay turns those settings into a PII config of selectors → rules
//! (`convert_datascrubbing_config`): `@common:filter` (credit cards, IBANs, PEM keys, URL
//! passwords, bearer tokens, password-like keys and values, US SSNs), `@ip:replace`, the
//! sensitive fields as `strip-fields`, on every string/number/array/object not excluded
//! (`debug_meta.**`, frame paths, `$logentry.formatted`, `$error.value`, the user agent header,
//! the safe fields); `:replace` rules on `$logentry.formatted`; `@anything:filter` on session
//! and CSRF cookies; `@anything:remove` on the IP fields. Then it walks the event, entering only
//! `pii = "true"` fields of its schema, and records each redaction in `_meta`.
//!
//! This module hardcodes those applications: [`walk`] knows the schema and the exclusions,
//! [`rules`] the built-in rules, [`redact`] applies a rule to one string, [`meta`] writes the
//! remarks. A general `relayPiiConfig` engine would replace the fixed calls in
//! `walk::Walker::string`/`removal` with a loop over compiled (selector, rules) pairs, each
//! selector matched against the same `Path` and `Spot` the walk already tracks.

mod config;
mod meta;
mod redact;
mod rules;
mod walk;

pub use config::ScrubConfig;

use crate::json::Json;

/// Scrub a normalized event in place as Relay would for `config`: redacted values become
/// `[Filtered]` (or `[ip]`, `[email]`, …, or null), each with its remarks in `_meta`.
/// Strings nothing matches stay as they are (borrowed).
pub fn scrub_event(event: &mut Json<'_>, config: &ScrubConfig) {
    let apps = config::Applications::new(config);
    if apps.is_empty() {
        return;
    }
    let Json::Object(event) = event else { return };
    walk::Walker::scrub(apps, event);
}
