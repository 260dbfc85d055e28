//! The project's "Data Scrubber" settings, as Sentry stores them and hands them to Relay.

use std::borrow::Cow;

use super::meta::Path;
use super::selector::{Item, Selector};

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
    pub safe: Vec<Cow<'c, str>>,
    /// Safe fields that are selector paths of keys and indexes: Relay reads a safe field as a
    /// selector, so `a.b` excludes the paths ending in key `a` then key `b` (not a key `a.b`),
    /// `extra.'x y'` key `extra` then key `x y`, and `0` the first elements of arrays (not a key
    /// `0`). A field that is no valid selector is one key, as Relay quotes it.
    pub safe_paths: Vec<Vec<Cow<'c, str>>>,
}

/// How Relay reads a safe field: a selector when it parses as one (here: a path of keys and
/// indexes, in the form [`Path::ends_with`] takes), else a quoted key.
enum Safe<'c> {
    Key(Cow<'c, str>),
    Path(Vec<Cow<'c, str>>),
}

fn read_safe(field: &str) -> Safe<'_> {
    let Ok(Selector::Path(items)) = Selector::parse(field) else {
        return Safe::Key(Cow::Borrowed(field));
    };
    let keys: Option<Vec<Cow<'_, str>>> = items
        .into_iter()
        .map(|item| match item {
            Item::Key(k) => Some(Cow::Owned(k)),
            Item::Index(i) => Some(Cow::Owned(i.to_string())),
            _ => None,
        })
        .collect();
    match keys {
        Some(mut keys) if keys.len() == 1 && keys[0].parse::<usize>().is_err() => {
            Safe::Key(keys.remove(0))
        }
        Some(keys) => Safe::Path(keys),
        // Types, wildcards and operators in a safe field are not supported by this walker;
        // the field is read as the key it is written as.
        None => Safe::Key(Cow::Borrowed(field)),
    }
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
                .filter_map(|f| match read_safe(f) {
                    Safe::Key(k) => Some(k),
                    Safe::Path(_) => None,
                })
                .collect(),
            safe_paths: config
                .safe_fields
                .iter()
                .filter_map(|f| match read_safe(f) {
                    Safe::Path(p) => Some(p),
                    Safe::Key(_) => None,
                })
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
