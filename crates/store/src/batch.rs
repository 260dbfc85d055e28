//! What a batch of events must satisfy, the reference events it is compressed against, and what
//! it adds to the counters, for every backend: the rules live here once, and each backend only
//! reads and writes the result its own way.
//!
//! Events of a batch mostly fall into few issues (one failing endpoint sends the same error
//! many times), so counting each event with its own `UPDATE issues` and a dozen tag upserts
//! would rewrite the same rows and index entries over and over. Sentry buffers these
//! increments for the same reason. Summing first makes the write cost grow with the number of
//! distinct issues and tag values in a batch instead of with the number of events. Retention
//! takes back exactly what ingest added ([`Uncount`]).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::payload::{self, EncodedBatch, Encoder, Reference, ReferenceCache};
use crate::{NewEvent, StoreError, StoreResult};

/// Rejects, before anything is written, events the schema cannot hold or group.
pub(crate) fn validate(event: &NewEvent) -> StoreResult<()> {
    let invalid = |why: &str| {
        Err(StoreError::Invalid(format!(
            "event {}: {why}",
            event.event_id
        )))
    };
    if event.event_id.is_empty() {
        return Err(StoreError::Invalid("event without an event id".into()));
    }
    if event.hashes.is_empty() {
        return invalid("no grouping hash");
    }
    // An infinite or NaN time breaks every sort and the hourly buckets (SQLite stores NaN as
    // NULL).
    if !event.timestamp.is_finite() || !event.received.is_finite() {
        return invalid("timestamp is not a finite number");
    }
    Ok(())
}

/// The references keyed by `(project_id, hash)` that a backend read for a batch.
pub(crate) type LoadedReferences = HashMap<(i64, String), Reference>;

/// The `(project_id, hash)` of the reference events the batch's events are compressed against
/// that `cache` does not hold, each once: what a backend reads before [`encode`].
pub(crate) fn uncached_references<'a>(
    events: &'a [NewEvent],
    cache: &ReferenceCache,
) -> Vec<(i64, &'a str)> {
    let mut missing: Vec<(i64, &str)> = events
        .iter()
        .filter_map(|e| payload::reference_hash(e).map(|hash| (e.project_id, hash)))
        .filter(|(project_id, hash)| cache.get(*project_id, hash).is_none())
        .collect();
    missing.sort_unstable();
    missing.dedup();
    missing
}

/// Serializes and compresses the batch (CPU work, done before any transaction) against the
/// references in `cache` or in `loaded`, which the cache remembers too.
pub(crate) fn encode(
    events: Vec<NewEvent>,
    cache: &ReferenceCache,
    loaded: LoadedReferences,
) -> StoreResult<EncodedBatch> {
    for ((project_id, hash), reference) in &loaded {
        cache.remember(*project_id, hash.clone(), reference.clone());
    }
    Encoder::new()?.encode_batch(events, |project_id, hash| {
        cache
            .get(project_id, hash)
            .or_else(|| loaded.get(&(project_id, hash.to_owned())).cloned())
    })
}

/// Once the batch is committed, later batches may compress against the references it
/// stored: `ids` in the order of [`EncodedBatch::references`].
pub(crate) fn remember_stored(cache: &ReferenceCache, batch: EncodedBatch, ids: Vec<i64>) {
    for (new, id) in batch.references.into_iter().zip(ids) {
        let reference = Reference { id, json: new.json };
        cache.remember(new.project_id, new.hash, reference);
    }
}

/// The encode stage of `save_events` without a database, for the store's benches: batches are
/// encoded as the backends encode them, and their new references remembered as if committed.
#[doc(hidden)]
pub mod bench {
    use super::{encode, remember_stored, LoadedReferences};
    use crate::payload::ReferenceCache;
    use crate::{NewEvent, StoreResult};

    /// Encodes batches against the references of the batches before.
    #[derive(Default)]
    pub struct BatchEncoder {
        cache: ReferenceCache,
        next_reference_id: i64,
    }

    impl BatchEncoder {
        /// Encodes a batch; the bytes its events take compressed.
        pub fn encode(&mut self, events: Vec<NewEvent>) -> StoreResult<usize> {
            let batch = encode(events, &self.cache, LoadedReferences::new())?;
            let compressed = batch.events.iter().map(|e| e.data_zstd.len()).sum();
            let ids = (0..batch.references.len())
                .map(|_| {
                    self.next_reference_id += 1;
                    self.next_reference_id
                })
                .collect();
            remember_stored(&self.cache, batch, ids);
            Ok(compressed)
        }
    }
}

/// Seconds per bucket of `issue_hourly`.
pub(crate) const HOUR: f64 = 3600.0;

/// Seconds per bucket of `issue_minutely`.
pub(crate) const MINUTE: f64 = 60.0;

/// How long retention keeps `issue_minutely` buckets, before its current time: they serve only
/// the first partial hour of a frequency condition's window, and the hourly buckets the rest.
pub(crate) const MINUTES_KEPT: f64 = 2.0 * HOUR;
/// How long a delivery's outcome key is kept: far past the acknowledgement of its queue entry
/// (a crash before it brings the entry back within the lease, minutes).
pub(crate) const OUTCOME_SOURCES_KEPT: f64 = 24.0 * HOUR;

/// What a batch adds to the counters; each backend writes it (SQLite: `sqlite/tally.rs`,
/// PostgreSQL: `postgres/tally.rs`).
#[derive(Default)]
pub(crate) struct Tally<'a> {
    pub(crate) issues: BTreeMap<i64, IssueTally<'a>>,
    pub(crate) users: BTreeSet<(i64, &'a str)>,
    pub(crate) tag_values: BTreeMap<(i64, &'a str, &'a str), Seen>,
    pub(crate) hours: BTreeMap<(i64, i64), i64>,
    /// `(issue_id, minute)` → events, for frequency conditions (see `issue_counts`).
    pub(crate) minutes: BTreeMap<(i64, i64), i64>,
}

/// One issue's share of the batch.
pub(crate) struct IssueTally<'a> {
    pub(crate) seen: Seen,
    /// The event with the newest timestamp (the later one in the batch on a tie): the issue's
    /// level, title, culprit and metadata follow it when it is newer than the issue's last
    /// event.
    pub(crate) newest: &'a NewEvent,
    pub(crate) is_unhandled: bool,
    /// The first release in the batch, for an issue that has none yet.
    pub(crate) release: Option<&'a str>,
}

/// How often something was seen, and between which event times.
#[derive(Clone, Copy)]
pub(crate) struct Seen {
    pub(crate) count: i64,
    pub(crate) first: f64,
    pub(crate) last: f64,
}

impl Seen {
    fn once(at: f64) -> Seen {
        Seen {
            count: 1,
            first: at,
            last: at,
        }
    }

    fn add(&mut self, at: f64) {
        self.count += 1;
        self.first = self.first.min(at);
        self.last = self.last.max(at);
    }
}

impl<'a> Tally<'a> {
    /// Counts one stored event of `issue_id`.
    pub(crate) fn add(&mut self, issue_id: i64, event: &'a NewEvent) {
        let at = event.timestamp;
        let release = event.release.as_deref();
        self.issues
            .entry(issue_id)
            .and_modify(|issue| {
                issue.seen.add(at);
                if at >= issue.newest.timestamp {
                    issue.newest = event;
                }
                issue.is_unhandled |= event.is_unhandled;
                issue.release = issue.release.or(release);
            })
            .or_insert(IssueTally {
                seen: Seen::once(at),
                newest: event,
                is_unhandled: event.is_unhandled,
                release,
            });

        if let Some(user) = event.user_tag.as_deref().filter(|u| !u.is_empty()) {
            self.users.insert((issue_id, user));
        }

        for (key, value) in crate::tag_pairs::of_event(event) {
            self.tag_values
                .entry((issue_id, key, value))
                .and_modify(|seen| seen.add(at))
                .or_insert(Seen::once(at));
        }

        *self.hours.entry((issue_id, hour_of(at))).or_default() += 1;
        *self.minutes.entry((issue_id, minute_of(at))).or_default() += 1;
    }
}

/// What a batch of events tells about releases, written once at the end of the batch by each
/// backend.
#[derive(Default)]
pub(crate) struct ReleaseTally<'a> {
    /// `(project_id, version)` → (first event, last event, new issues).
    pub(crate) seen: BTreeMap<(i64, &'a str), (f64, f64, i64)>,
}

impl<'a> ReleaseTally<'a> {
    pub(crate) fn add(
        &mut self,
        project_id: i64,
        version: &'a str,
        timestamp: f64,
        new_issue: bool,
    ) {
        let entry = self
            .seen
            .entry((project_id, version))
            .or_insert((timestamp, timestamp, 0));
        entry.0 = entry.0.min(timestamp);
        entry.1 = entry.1.max(timestamp);
        entry.2 += i64::from(new_issue);
    }
}

/// The start of the `issue_hourly` bucket of a time (`as` saturates; [`validate`] has ruled out
/// NaN and infinities).
pub(crate) fn hour_of(at: f64) -> i64 {
    ((at / HOUR).floor() * HOUR) as i64
}

/// The start of the `issue_minutely` bucket of a time (as [`hour_of`]).
pub(crate) fn minute_of(at: f64) -> i64 {
    ((at / MINUTE).floor() * MINUTE) as i64
}

/// Where `issue_counts` reads the events since a time: the minute buckets in
/// `[minutes_from, hours_from)` and the hour buckets from `hours_from` on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CountBuckets {
    pub(crate) minutes_from: i64,
    pub(crate) hours_from: i64,
}

impl CountBuckets {
    /// The buckets for the events since `since`, as of `now`: the minutes of `since`'s partial
    /// hour, then whole hours. A partial hour older than the minute buckets retention keeps
    /// (less a margin for clocks of other nodes) is read from its hour bucket, whole.
    pub(crate) fn since(since: f64, now: f64) -> CountBuckets {
        const CLOCK_MARGIN: f64 = 10.0 * MINUTE;
        // Clamped so that the `as` casts below stay far from saturation and the arithmetic
        // from overflow, whatever the caller passes.
        let since = if since.is_nan() {
            0.0
        } else {
            since.clamp(-1e13, 1e13)
        };
        let hour_start = hour_of(since);
        if since < now - MINUTES_KEPT + CLOCK_MARGIN {
            return CountBuckets {
                minutes_from: hour_start,
                hours_from: hour_start,
            };
        }
        let minute_start = minute_of(since);
        CountBuckets {
            minutes_from: minute_start,
            hours_from: if minute_start == hour_start {
                hour_start
            } else {
                hour_start + HOUR as i64
            },
        }
    }
}

/// What expired events counted, to be taken back off their issues by retention. Minute
/// buckets are left out: retention drops them after [`MINUTES_KEPT`], long before any event
/// expires.
#[derive(Default)]
pub(crate) struct Uncount {
    pub(crate) per_issue: BTreeMap<i64, i64>,
    pub(crate) per_hour: BTreeMap<(i64, i64), i64>,
    pub(crate) per_tag: BTreeMap<(i64, String, String), i64>,
    pub(crate) users: BTreeSet<(i64, String)>,
}

/// An expired event, as much of it as its counts need (read back from its row).
pub(crate) struct Expired {
    /// The event's row id.
    pub(crate) id: i64,
    pub(crate) issue_id: Option<i64>,
    pub(crate) timestamp: f64,
    pub(crate) user_tag: Option<String>,
    pub(crate) environment: Option<String>,
    pub(crate) release: Option<String>,
    pub(crate) tags: Vec<(String, String)>,
}

impl Uncount {
    /// What the expired events counted.
    pub(crate) fn of(expired: &[Expired]) -> Uncount {
        let mut uncount = Uncount::default();
        for event in expired {
            uncount.add(event);
        }
        uncount
    }

    /// Counts what one expired event added, with the same rules as [`Tally::add`].
    fn add(&mut self, event: &Expired) {
        let Some(issue_id) = event.issue_id else {
            return;
        };
        *self.per_issue.entry(issue_id).or_default() += 1;
        *self
            .per_hour
            .entry((issue_id, hour_of(event.timestamp)))
            .or_default() += 1;
        for (key, value) in crate::tag_pairs::of_parts(
            &event.tags,
            event.environment.as_deref(),
            event.release.as_deref(),
        ) {
            *self
                .per_tag
                .entry((issue_id, key.to_owned(), value.to_owned()))
                .or_default() += 1;
        }
        if let Some(user) = event.user_tag.as_deref().filter(|u| !u.is_empty()) {
            self.users.insert((issue_id, user.to_owned()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{CountBuckets, HOUR};

    const NOW: f64 = 1_700_000_000.0;

    #[test]
    fn recent_windows_read_minutes_up_to_the_next_hour_then_hours() {
        let since = NOW - 300.0 - 12.0;
        let minute = ((since / 60.0).floor() * 60.0) as i64;
        let next_hour = ((since / HOUR).floor() * HOUR) as i64 + 3600;
        assert_eq!(
            CountBuckets::since(since, NOW),
            CountBuckets {
                minutes_from: minute,
                hours_from: next_hour,
            }
        );
        // On an hour's first minute, the hour bucket is as fine as its minutes.
        let on_hour = (NOW / HOUR).floor() * HOUR;
        assert_eq!(
            CountBuckets::since(on_hour + 30.0, NOW),
            CountBuckets {
                minutes_from: on_hour as i64,
                hours_from: on_hour as i64,
            }
        );
    }

    #[test]
    fn windows_past_the_kept_minutes_read_their_first_hour_whole() {
        let since = NOW - 86_400.0 - 100.0;
        let hour = ((since / HOUR).floor() * HOUR) as i64;
        assert_eq!(
            CountBuckets::since(since, NOW),
            CountBuckets {
                minutes_from: hour,
                hours_from: hour,
            }
        );
        assert_eq!(CountBuckets::since(f64::NAN, NOW).hours_from, 0);
    }
}
