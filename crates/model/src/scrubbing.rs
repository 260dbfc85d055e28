//! A project's data-scrubbing settings, as Sentry's Settings → Security & Privacy names them.
//!
//! The store keeps them per project, the API and the web UI change them, and the worker hands
//! them to processing with every event, where the scrubber reads them.

use serde::{Deserialize, Serialize};

/// Sentry's bound on the characters of a field list (`MAX_SENSITIVE_FIELD_CHARS` in its
/// project endpoint): the scrubber turns the list into one pattern, which must stay small.
pub const MAX_FIELD_LIST_CHARS: usize = 4000;

/// What scrubbing does to a project's events before they are stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScrubbingSettings {
    /// `dataScrubber`: scrub sensitive data at all.
    pub data_scrubber: bool,
    /// `dataScrubberDefaults`: also scrub Sentry's default sensitive fields (password,
    /// secret, credit card numbers, …), not only `sensitive_fields`.
    pub data_scrubber_defaults: bool,
    /// `scrubIPAddresses`: drop IP addresses (the user's, the request's) from events.
    pub scrub_ip_addresses: bool,
    /// `sensitiveFields`: more field names whose values are scrubbed.
    pub sensitive_fields: Vec<String>,
    /// `safeFields`: field names never scrubbed, whatever else matches them.
    pub safe_fields: Vec<String>,
    /// `relayPiiConfig`: the advanced data scrubbing rules, Relay's PII config as JSON text,
    /// kept as the user wrote it (`None`: no rules). Applied before the settings above.
    #[serde(default)]
    pub relay_pii_config: Option<String>,
}

/// Sentry's defaults: scrubbing on with its default fields, IP addresses kept.
impl Default for ScrubbingSettings {
    fn default() -> Self {
        ScrubbingSettings {
            data_scrubber: true,
            data_scrubber_defaults: true,
            scrub_ip_addresses: false,
            sensitive_fields: Vec::new(),
            safe_fields: Vec::new(),
            relay_pii_config: None,
        }
    }
}

/// Why a list of field names cannot be kept; the message is a sentence the API and the web UI
/// show after the list's name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FieldListError {
    /// An empty or blank entry (Sentry refuses a blank one too).
    #[error("Entries may not be blank.")]
    Blank,
    /// An entry with a line break: the web UI edits the list one field per line, so such an
    /// entry could not be shown back as it is.
    #[error("Entries must be one line each.")]
    MultiLine,
    /// Past [`MAX_FIELD_LIST_CHARS`] in all.
    #[error("The list is too long (at most {MAX_FIELD_LIST_CHARS} characters in all).")]
    TooLong,
}

/// `Ok` for a `sensitive_fields` or `safe_fields` list that can be kept and shown back.
pub fn check_field_list(fields: &[String]) -> Result<(), FieldListError> {
    if fields.iter().any(|f| f.trim().is_empty()) {
        return Err(FieldListError::Blank);
    }
    if fields.iter().any(|f| f.contains(['\n', '\r'])) {
        return Err(FieldListError::MultiLine);
    }
    if fields.iter().map(|f| f.chars().count()).sum::<usize>() > MAX_FIELD_LIST_CHARS {
        return Err(FieldListError::TooLong);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_sentrys() {
        let d = ScrubbingSettings::default();
        assert!(d.data_scrubber && d.data_scrubber_defaults && !d.scrub_ip_addresses);
        assert!(d.sensitive_fields.is_empty() && d.safe_fields.is_empty());
    }

    #[test]
    fn field_lists_refuse_blank_multiline_and_long_entries() {
        let list = |items: &[&str]| items.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(check_field_list(&list(&["card", "iban"])), Ok(()));
        assert_eq!(check_field_list(&[]), Ok(()));
        assert_eq!(check_field_list(&list(&[" "])), Err(FieldListError::Blank));
        assert_eq!(
            check_field_list(&list(&["a\nb"])),
            Err(FieldListError::MultiLine)
        );
        let long = "x".repeat(MAX_FIELD_LIST_CHARS / 2 + 1);
        assert_eq!(
            check_field_list(&[long.clone(), long]),
            Err(FieldListError::TooLong)
        );
    }
}
