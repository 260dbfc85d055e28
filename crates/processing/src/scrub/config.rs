//! The project's "Data Scrubber" settings, as Sentry stores them and hands them to Relay.

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
    pub safe: &'c [String],
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
            safe: if config.scrub_data || config.scrub_ip_addresses {
                &config.safe_fields
            } else {
                &[]
            },
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
}
