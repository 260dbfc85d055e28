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
//! The project's advanced rules (`relayPiiConfig`, Relay's PII config) run first, as Relay runs
//! a project's `piiConfig` before its converted data scrubbing settings: `pii_config` parses and
//! validates them (Relay's verdicts) and compiles the applications (`selector` is Relay's
//! selector language, built-in `@…` rules resolved), `custom` walks the event with the
//! selector states Relay's processor sees (key or index, value types, `pii`) and applies each
//! matching application's rules. The data scrubbing settings then run as the hardcoded
//! applications of `walk` (its fixed sequence keeps the defaults' cost low; a string the
//! custom pass redacted is read back from `_meta` into chunks, so the two passes compose as
//! Relay's do). Both share the schema (`walk::field`), the rule regexes (`rules`), the
//! chunked redaction (`redact`, with `hash` the HMAC-SHA1 Relay writes) and the `_meta`
//! writer (`meta`).
//!
//! `walk` is a faster reading of one config the selector engine can run as well: the PII
//! config `config::converted_pii_config` makes of the settings, as Relay's conversion does.
//! The tests hold the two equal on every oracle event and setting; a safe field with types,
//! wildcards or operators (`$number`, `**.x`, `a || b`), which the walker does not match,
//! sends the settings through the engine (about 30 times the walker's cost).

mod config;
mod custom;
mod hash;
mod meta;
pub mod pii_config;
mod redact;
mod rules;
pub mod selector;
mod walk;

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};

pub use config::ScrubbingSettings;
pub use pii_config::{validate as validate_pii_config, PiiConfigError};

use crate::json::Json;
use pii_config::{CompiledPiiConfig, PiiConfig, PROJECT_PREFIX};

/// Scrub a normalized event in place as Relay would for `config`: first the project's advanced
/// rules (`relayPiiConfig`, its rule ids prefixed `project:` as Sentry hands them to Relay),
/// then the data scrubbing settings. Redacted values become `[Filtered]` (or `[ip]`, a mask, a
/// hash, …, or null), each with its remarks in `_meta`. Strings nothing matches stay as they
/// are (borrowed).
pub fn scrub_event(event: &mut Json<'_>, config: &ScrubbingSettings) {
    let Json::Object(event) = event else { return };
    let mut prior = false;
    let project = config.relay_pii_config.as_deref();
    if let Some(custom) = project.and_then(|text| compiled(text, PROJECT_PREFIX)) {
        if !custom.is_empty() {
            prior = custom::CustomWalker::scrub(&custom, event);
        }
    }
    if config::needs_selector_engine(config) {
        // A safe field the walker cannot match: the settings' PII config through the
        // selector engine, as Relay runs it.
        settings_by_selectors(event, config);
        return;
    }
    let apps = config::Applications::new(config);
    if apps.is_empty() {
        return;
    }
    walk::Walker::scrub(apps, event, prior);
}

/// The settings' PII config (Relay's conversion) run by the selector engine: what
/// [`scrub_event`] does for safe fields the walker cannot match, 30 times the walker's cost.
fn settings_by_selectors(event: &mut crate::json::Object<'_>, config: &ScrubbingSettings) {
    let converted = config::converted_pii_config(config);
    if let Some(converted) = converted.as_deref().and_then(|text| compiled(text, "")) {
        custom::CustomWalker::scrub(&converted, event);
    }
}

/// [`scrub_event`] with the data scrubbing settings always run by the selector engine rather
/// than the walker: the tests check that the two agree on every event and setting, so that
/// the walker stays a faster reading of the same config.
#[doc(hidden)]
pub fn scrub_event_by_selectors(event: &mut Json<'_>, config: &ScrubbingSettings) {
    let Json::Object(event) = event else { return };
    let project = config.relay_pii_config.as_deref();
    if let Some(custom) = project.and_then(|text| compiled(text, PROJECT_PREFIX)) {
        if !custom.is_empty() {
            custom::CustomWalker::scrub(&custom, event);
        }
    }
    settings_by_selectors(event, config);
}

/// How many compiled configs [`compiled`] keeps: one per project whose rules are in use.
const COMPILED_CACHE_SIZE: usize = 256;

/// Compiled configs by their prefix and JSON text: a project's rules compile once, not per event (the
/// worker hands each event its project's settings). An invalid config (the API and the web UI
/// refuse them, so only one stored by other means) scrubs nothing and is logged once.
static COMPILED: LazyLock<Mutex<HashMap<String, Option<Arc<CompiledPiiConfig>>>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

fn compiled(text: &str, prefix: &str) -> Option<Arc<CompiledPiiConfig>> {
    if text.trim().is_empty() {
        return None;
    }
    let mut cache = COMPILED.lock().unwrap_or_else(|e| e.into_inner());
    let key = format!("{prefix}\n{text}");
    if let Some(hit) = cache.get(&key) {
        return hit.clone();
    }
    let result = PiiConfig::parse(text)
        .and_then(|c| CompiledPiiConfig::new(&c.prefixed(prefix)))
        .map(Arc::new);
    let entry = match result {
        Ok(c) => Some(c),
        Err(error) => {
            tracing::warn!(%error, "ignoring an invalid relayPiiConfig");
            None
        }
    };
    if cache.len() >= COMPILED_CACHE_SIZE {
        cache.clear();
    }
    cache.insert(key, entry.clone());
    entry
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scrubbed(settings: &ScrubbingSettings, event: serde_json::Value) -> serde_json::Value {
        let mut event = Json::from(event);
        scrub_event(&mut event, settings);
        event.to_value()
    }

    #[test]
    fn converted_configs_compile() {
        let mut settings = ScrubbingSettings {
            scrub_ip_addresses: true,
            sensitive_fields: vec!["a.b".into(), " x ".into()],
            safe_fields: vec!["$number".into(), "it's".into(), "a..b".into()],
            ..ScrubbingSettings::default()
        };
        let text = config::converted_pii_config(&settings).expect("a config");
        assert!(compiled(&text, "").is_some_and(|c| !c.is_empty()), "{text}");
        settings.data_scrubber = false;
        settings.scrub_ip_addresses = false;
        assert_eq!(config::converted_pii_config(&settings), None);
    }

    #[test]
    fn safe_fields_with_types_and_wildcards() {
        let settings = ScrubbingSettings {
            safe_fields: vec!["$number".into(), "extra.kept.*".into()],
            ..ScrubbingSettings::default()
        };
        assert!(config::needs_selector_engine(&settings));
        let out = scrubbed(
            &settings,
            serde_json::json!({"extra": {
                "password": 5,
                "secret": "x",
                "kept": {"password": "y"},
                "card": "4111111111111111",
            }}),
        );
        assert_eq!(out["extra"]["password"], 5);
        assert_eq!(out["extra"]["secret"], "[Filtered]");
        assert_eq!(out["extra"]["kept"]["password"], "y");
        assert_eq!(out["extra"]["card"], "[Filtered]");
        // The same settings without them: the walker, which removes the number.
        let plain = ScrubbingSettings::default();
        assert!(!config::needs_selector_engine(&plain));
        let out = scrubbed(&plain, serde_json::json!({"extra": {"password": 5}}));
        assert_eq!(out["extra"]["password"], serde_json::Value::Null);
    }
}
