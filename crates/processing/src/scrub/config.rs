//! The project's "Data Scrubber" settings, as Sentry stores them and hands them to Relay.

use super::meta::Path;

/// A project's data-scrubbing settings: the model's record of Sentry's "Data Scrubber" options,
/// the input of Relay's `convert_datascrubbing_config`. Its `Default` is Sentry's for a new
/// project (scrubbing on with the default rules, IP addresses kept).
pub use vigil_model::ScrubbingSettings;

/// Which rule sets apply, derived once per event from a [`ScrubbingSettings`]: what Relay's
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
    pub fn new(config: &'c ScrubbingSettings) -> Self {
        Applications {
            defaults: config.data_scrubber && config.data_scrubber_defaults,
            ip: config.scrub_ip_addresses,
            sensitive: if config.data_scrubber {
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
