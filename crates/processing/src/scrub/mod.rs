//! Sentry's server-side data scrubbing: what Relay's PII processor does to an event for the
//! project's "Data Scrubber" settings (`dataScrubber`, `dataScrubberDefaults`,
//! `scrubIPAddresses`, sensitive and safe fields), checked against Relay itself
//! (`sentry-relay` 0.10.1, `tests/scrub.rs`).
//!
//! Relay turns those settings into a PII config of selectors → rules
//! (`convert_datascrubbing_config`): `@common:filter` (credit cards, IBANs, PEM keys, URL
//! passwords, bearer tokens, password-like keys and values, US SSNs), `@ip:replace` and the
//! sensitive fields as `strip-fields`, on every string/number/array/object not excluded
//! (`debug_meta.**`, frame paths, `$logentry.formatted`, `$error.value`, the user agent header,
//! the safe fields); `:replace` rules on `$logentry.formatted`; `@anything:filter` on session
//! and CSRF cookies (`*.cookies.<name>`, `*.'http.request.header.cookie.<name>'`);
//! `@cookies:filter` on cookie header values in span data; `@anything:remove` on the IP
//! fields. Then it walks the event: a `pii = "true"` field gets every matching selector, a
//! `pii = "maybe"` field only those naming its key, a `pii = "false"` field none; each
//! redaction is recorded in `_meta`.
//!
//! This module hardcodes those applications: `walk` knows the schema (its `pii`
//! attributes), the exclusions and which applications reach a value, `rules` the built-in
//! rules, `redact` applies a rule to one string (Relay's chunks), `meta` writes the
//! remarks. A general `relayPiiConfig` engine replaces the fixed sequence in
//! `walk::Walker::string` and `walk::Walker::removal` with a loop over compiled applications
//! (selector → rules, the rules of each in the order of their ids): the walk already tracks
//! what a selector needs — the path (`meta::Path`, for key/index/`*`/`**` segments matched from
//! the end), the field's `pii` and its value type (`walk::Spot`, for `$string` & co. and the
//! `maybe` rule) — and `redact::Redactor` already applies any regex with any group to the
//! chunks, so rules become data (`rules::ValueRule` plus key patterns) instead of statics.

mod config;
mod meta;
mod redact;
mod rules;
mod walk;

pub use config::ScrubbingSettings;

use crate::json::Json;

/// Scrub a normalized event in place as Relay would for `config`: redacted values become
/// `[Filtered]` (or `[ip]`, `[email]`, …, or null), each with its remarks in `_meta`.
/// Strings nothing matches stay as they are (borrowed).
pub fn scrub_event(event: &mut Json<'_>, config: &ScrubbingSettings) {
    let apps = config::Applications::new(config);
    if apps.is_empty() {
        return;
    }
    let Json::Object(event) = event else { return };
    walk::Walker::scrub(apps, event);
}
