//! The project's "Data Scrubber" settings, as Sentry stores them and hands them to Relay.

use super::meta::Path;

/// Sentry's data scrubbing settings of a project (`sentry:scrub_data`, …), the input of Relay's
/// `convert_datascrubbing_config`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScrubConfig {
    /// `dataScrubber`: scrub anything at all (the IP setting works without it, as in Relay).
    pub scrub_data: bool,
    /// `dataScrubberDefaults`: apply the built-in rules (passwords, credit cards, …).
    pub scrub_defaults: bool,
    /// `scrubIPAddresses`: replace IP addresses everywhere and drop the known IP fields.
    pub scrub_ip_addresses: bool,
    /// `sensitiveFields`: keys (matched as substrings, case-sensitively) whose values go.
    pub sensitive_fields: Vec<String>,
    /// `safeFields` (`excludeFields` in Relay): keys never scrubbed (case-insensitive).
    pub safe_fields: Vec<String>,
}

impl Default for ScrubConfig {
    /// Sentry's defaults for a new project.
    fn default() -> Self {
        ScrubConfig {
            scrub_data: true,
            scrub_defaults: true,
            scrub_ip_addresses: false,
            sensitive_fields: Vec::new(),
            safe_fields: Vec::new(),
        }
    }
}

/// Which rule sets apply, derived once per event from a [`ScrubConfig`]: what Relay's
/// `convert_datascrubbing_config` turns into selector → rules applications.
pub(crate) struct Applications<'c> {
    /// `@common:filter` on every scrubbable value, and the default cookie and
    /// `$logentry.formatted` applications.
    pub defaults: bool,
    /// `@ip:replace` on every scrubbable value, `@anything:remove` on the known IP fields.
    pub ip: bool,
    /// `strip-fields`: the non-empty sensitive fields (substring match on key or value).
    pub sensitive: Vec<&'c str>,
    /// Keys excluded from the general application (compared case-insensitively).
    pub safe: Vec<&'c str>,
    /// Safe fields with dots or numbers: Relay reads a safe field as a selector, so `a.b`
    /// excludes the paths ending in key `a` then key `b` (not a key `a.b`), and `0` the first
    /// elements of arrays (not a key `0`).
    pub safe_paths: Vec<Vec<&'c str>>,
}

/// Whether a safe field, read as a selector, is more than one plain key.
fn is_selector_path(field: &str) -> bool {
    field.contains('.') || field.parse::<usize>().is_ok()
}

impl<'c> Applications<'c> {
    pub fn new(config: &'c ScrubConfig) -> Self {
        Applications {
            defaults: config.scrub_data && config.scrub_defaults,
            ip: config.scrub_ip_addresses,
            sensitive: if config.scrub_data {
                config
                    .sensitive_fields
                    .iter()
                    .map(String::as_str)
                    .filter(|f| !f.is_empty())
                    .collect()
            } else {
                Vec::new()
            },
            safe: config
                .safe_fields
                .iter()
                .map(String::as_str)
                .filter(|f| !is_selector_path(f))
                .collect(),
            safe_paths: config
                .safe_fields
                .iter()
                .filter(|f| is_selector_path(f))
                .map(|f| f.split('.').collect())
                .collect(),
        }
    }

    /// Nothing would ever be scrubbed.
    pub fn is_empty(&self) -> bool {
        !self.defaults && !self.ip && self.sensitive.is_empty()
    }

    /// Whether `key` is one of the safe fields.
    pub fn is_safe(&self, key: &str) -> bool {
        self.safe.iter().any(|s| s.eq_ignore_ascii_case(key))
    }

    /// Whether the selector path ends with one of the dotted safe fields.
    pub fn is_safe_path(&self, path: &Path<'_>) -> bool {
        self.safe_paths.iter().any(|keys| path.ends_with(keys))
    }
}
