//! Which tag values an event counts on its issue, the same for every backend: what ingest adds
//! and retention takes back off must be the same pairs.

use std::collections::BTreeSet;

use crate::NewEvent;

/// The distinct non-empty `(key, value)` pairs of an event.
///
/// `environment` and `release` are tags in Sentry; they are taken from the event's fields when
/// the tag list lacks them, so the environment filter of the issue list cannot miss an event
/// because a tag was not derived.
pub(crate) fn of_event(event: &NewEvent) -> BTreeSet<(&str, &str)> {
    of_parts(
        &event.tags,
        event.environment.as_deref(),
        event.release.as_deref(),
    )
}

/// [`of_event`] from an event's parts, as stored.
pub(crate) fn of_parts<'a>(
    tags: &'a [(String, String)],
    environment: Option<&'a str>,
    release: Option<&'a str>,
) -> BTreeSet<(&'a str, &'a str)> {
    let mut pairs: BTreeSet<(&str, &str)> = tags
        .iter()
        .map(|(key, value)| (key.as_str(), value.as_str()))
        .filter(|(key, value)| !key.is_empty() && !value.is_empty())
        .collect();
    for (key, field) in [("environment", environment), ("release", release)] {
        if let Some(value) = field.filter(|v| !v.is_empty()) {
            if !tags.iter().any(|(k, _)| k == key) {
                pairs.insert((key, value));
            }
        }
    }
    pairs
}
