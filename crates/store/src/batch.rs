//! What a batch of events must satisfy and what it adds to the counters, for every backend:
//! the rules live here once, and each backend only writes the result its own way.
//!
//! Events of a batch mostly fall into few issues (one failing endpoint sends the same error
//! many times), so counting each event with its own `UPDATE issues` and a dozen tag upserts
//! would rewrite the same rows and index entries over and over. Sentry buffers these
//! increments for the same reason. Summing first makes the write cost grow with the number of
//! distinct issues and tag values in a batch instead of with the number of events. Retention
//! takes back exactly what ingest added ([`Uncount`]).

use std::collections::{BTreeMap, BTreeSet};

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

/// Seconds per bucket of `issue_hourly`.
pub(crate) const HOUR: f64 = 3600.0;

/// What a batch adds to the counters; each backend writes it (SQLite: `sqlite/tally.rs`,
/// PostgreSQL: `postgres/tally.rs`).
#[derive(Default)]
pub(crate) struct Tally<'a> {
    pub(crate) issues: BTreeMap<i64, IssueTally<'a>>,
    pub(crate) users: BTreeSet<(i64, &'a str)>,
    pub(crate) tag_values: BTreeMap<(i64, &'a str, &'a str), Seen>,
    pub(crate) hours: BTreeMap<(i64, i64), i64>,
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

/// What expired events counted, to be taken back off their issues by retention.
#[derive(Default)]
pub(crate) struct Uncount {
    pub(crate) per_issue: BTreeMap<i64, i64>,
    pub(crate) per_hour: BTreeMap<(i64, i64), i64>,
    pub(crate) per_tag: BTreeMap<(i64, String, String), i64>,
    pub(crate) users: BTreeSet<(i64, String)>,
}

/// An expired event, as much of it as its counts need (read back from its row).
pub(crate) struct Expired {
    pub(crate) issue_id: Option<i64>,
    pub(crate) timestamp: f64,
    pub(crate) user_tag: Option<String>,
    pub(crate) environment: Option<String>,
    pub(crate) release: Option<String>,
    pub(crate) tags: Vec<(String, String)>,
}

impl Uncount {
    /// Counts what one expired event added, with the same rules as [`Tally::add`].
    pub(crate) fn add(&mut self, event: &Expired) {
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
