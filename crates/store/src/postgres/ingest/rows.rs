//! The rows a batch writes, as one array per column: PostgreSQL inserts a whole batch with one
//! `INSERT … SELECT * FROM unnest($1, $2, …)` per table, binding each column once.

use super::{IssueRef, Outcome, Plan, FLAG_NEW_ISSUE};
use crate::payload::{EncodedBatch, EncodedEvent, ReferenceLink};
use crate::postgres::sql::Pipeline;
use crate::postgres::tally::HeadlineRows;

/// The batch's new reference events, as columns.
pub(super) struct ReferenceRows<'a> {
    ids: Vec<i64>,
    project_ids: Vec<i64>,
    hashes: Vec<&'a str>,
    data: Vec<&'a [u8]>,
}

impl<'a> ReferenceRows<'a> {
    pub(super) fn new(encoded: &'a EncodedBatch, ids: &[i64]) -> ReferenceRows<'a> {
        ReferenceRows {
            ids: ids.to_vec(),
            project_ids: encoded.references.iter().map(|r| r.project_id).collect(),
            hashes: encoded.references.iter().map(|r| r.hash.as_str()).collect(),
            data: encoded
                .references
                .iter()
                .map(|r| r.data_zstd.as_slice())
                .collect(),
        }
    }

    pub(super) fn push<'p>(&'p self, pipeline: &mut Pipeline<'p>) {
        if self.ids.is_empty() {
            return;
        }
        pipeline.push(
            "INSERT INTO event_references (id, project_id, hash, data)
             SELECT * FROM UNNEST($1::BIGINT[], $2::BIGINT[], $3::TEXT[], $4::BYTEA[])",
            vec![&self.ids, &self.project_ids, &self.hashes, &self.data],
            "writing reference events",
        );
    }
}

/// The issues a batch creates, as columns: unresolved, `new`, nothing counted yet (the tally
/// counts their first event like any other).
#[derive(Default)]
pub(super) struct NewIssueRows<'a> {
    ids: Vec<i64>,
    project_ids: Vec<i64>,
    short_ids: Vec<i64>,
    headlines: HeadlineRows<'a>,
    event_types: Vec<&'a str>,
    platforms: Vec<&'a str>,
    seen: Vec<f64>,
    releases: Vec<Option<&'a str>>,
    unhandled: Vec<bool>,
}

impl<'a> NewIssueRows<'a> {
    pub(super) fn new(
        batch: &'a [EncodedEvent],
        plan: &Plan<'_>,
        ids: &[(i64, i64)],
    ) -> NewIssueRows<'a> {
        let mut rows = NewIssueRows::default();
        for (index, (id, short_id)) in plan.new_issues.iter().zip(ids) {
            let event = &batch[*index].event;
            rows.ids.push(*id);
            rows.project_ids.push(event.project_id);
            rows.short_ids.push(*short_id);
            rows.headlines.push(event);
            rows.event_types.push(&event.event_type);
            rows.platforms.push(&event.platform);
            rows.seen.push(event.timestamp);
            rows.releases.push(event.release.as_deref());
            rows.unhandled.push(event.is_unhandled);
        }
        rows
    }

    pub(super) fn push<'p>(&'p self, pipeline: &mut Pipeline<'p>) {
        if self.ids.is_empty() {
            return;
        }
        pipeline.push(
            "INSERT INTO issues (id, project_id, short_id, status, substatus, level, event_type,
                 title, culprit, metadata, platform, first_seen, last_seen, times_seen,
                 user_count, first_release, is_unhandled)
             SELECT u.id, u.project_id, u.short_id, 'unresolved', 'new', u.level, u.event_type,
                 u.title, u.culprit, u.metadata, u.platform, u.seen, u.seen, 0, 0, u.release,
                 u.unhandled
             FROM UNNEST($1::BIGINT[], $2::BIGINT[], $3::BIGINT[], $4::TEXT[], $5::TEXT[],
                         $6::TEXT[], $7::TEXT[], $8::TEXT[], $9::TEXT[],
                         $10::DOUBLE PRECISION[], $11::TEXT[], $12::BOOLEAN[])
                  AS u(id, project_id, short_id, level, event_type, title, culprit, metadata,
                       platform, seen, release, unhandled)",
            vec![
                &self.ids,
                &self.project_ids,
                &self.short_ids,
                &self.headlines.levels,
                &self.event_types,
                &self.headlines.titles,
                &self.headlines.culprits,
                &self.headlines.metadata,
                &self.platforms,
                &self.seen,
                &self.releases,
                &self.unhandled,
            ],
            "creating issues",
        );
    }
}

/// The grouping hashes to map, as columns in key order.
pub(super) struct ClaimRows<'a> {
    project_ids: Vec<i64>,
    hashes: Vec<&'a str>,
    issue_ids: Vec<i64>,
}

impl<'a> ClaimRows<'a> {
    pub(super) fn new(plan: &Plan<'a>, resolve: impl Fn(IssueRef) -> i64) -> ClaimRows<'a> {
        let mut rows = ClaimRows {
            project_ids: Vec::with_capacity(plan.claims.len()),
            hashes: Vec::with_capacity(plan.claims.len()),
            issue_ids: Vec::with_capacity(plan.claims.len()),
        };
        for ((project_id, hash), issue) in &plan.claims {
            rows.project_ids.push(*project_id);
            rows.hashes.push(hash);
            rows.issue_ids.push(resolve(*issue));
        }
        rows
    }

    pub(super) fn len(&self) -> usize {
        self.hashes.len()
    }

    /// The index of the statement's rows (one per hash it mapped), when there is one.
    pub(super) fn push<'p>(&'p self, pipeline: &mut Pipeline<'p>) -> Option<usize> {
        if self.hashes.is_empty() {
            return None;
        }
        Some(pipeline.push(
            "INSERT INTO grouphashes (project_id, hash, issue_id)
             SELECT * FROM UNNEST($1::BIGINT[], $2::TEXT[], $3::BIGINT[])
             ON CONFLICT (project_id, hash) DO NOTHING
             RETURNING 1",
            vec![&self.project_ids, &self.hashes, &self.issue_ids],
            "mapping grouping hashes",
        ))
    }
}

/// The events to store, as columns, in `(project_id, event_id)` order.
#[derive(Default)]
pub(super) struct EventRows<'a> {
    project_ids: Vec<i64>,
    event_ids: Vec<&'a str>,
    issue_ids: Vec<i64>,
    event_types: Vec<&'a str>,
    timestamps: Vec<f64>,
    received: Vec<f64>,
    levels: Vec<&'a str>,
    platforms: Vec<&'a str>,
    titles: Vec<&'a str>,
    culprits: Vec<&'a str>,
    environments: Vec<Option<&'a str>>,
    releases: Vec<Option<&'a str>>,
    transactions: Vec<Option<&'a str>>,
    user_tags: Vec<Option<&'a str>>,
    tags: Vec<&'a str>,
    data: Vec<&'a [u8]>,
    sizes: Vec<i64>,
    reference_ids: Vec<Option<i64>>,
    messages: Vec<&'a str>,
    trace_ids: Vec<Option<&'a str>>,
    /// The new-issue bit; the others are set once the batch knows them.
    alert_flags: Vec<i16>,
}

impl<'a> EventRows<'a> {
    pub(super) fn new(
        batch: &'a [EncodedEvent],
        plan: &Plan<'_>,
        resolve: impl Fn(IssueRef) -> i64,
        new_reference_ids: &[i64],
    ) -> EventRows<'a> {
        let mut stored: Vec<(&'a EncodedEvent, i64, bool)> = batch
            .iter()
            .zip(&plan.outcomes)
            .filter_map(|(encoded, outcome)| match outcome {
                Outcome::Stored {
                    issue, new_issue, ..
                } => Some((encoded, resolve(*issue), *new_issue)),
                Outcome::Duplicate(..) => None,
            })
            .collect();
        stored.sort_unstable_by(|(a, _, _), (b, _, _)| {
            (a.event.project_id, &a.event.event_id).cmp(&(b.event.project_id, &b.event.event_id))
        });
        let mut rows = EventRows::default();
        for (encoded, issue_id, new_issue) in stored {
            let e = &encoded.event;
            rows.project_ids.push(e.project_id);
            rows.event_ids.push(&e.event_id);
            rows.issue_ids.push(issue_id);
            rows.event_types.push(&e.event_type);
            rows.timestamps.push(e.timestamp);
            rows.received.push(e.received);
            rows.levels.push(&e.level);
            rows.platforms.push(&e.platform);
            rows.titles.push(&e.title);
            rows.culprits.push(&e.culprit);
            rows.environments.push(e.environment.as_deref());
            rows.releases.push(e.release.as_deref());
            rows.transactions.push(e.transaction.as_deref());
            rows.user_tags.push(e.user_tag.as_deref());
            rows.tags.push(&encoded.tags_json);
            rows.data.push(&encoded.data_zstd);
            rows.sizes.push(encoded.size);
            rows.reference_ids.push(match encoded.reference {
                ReferenceLink::None => None,
                ReferenceLink::Stored(id) => Some(id),
                ReferenceLink::New(index) => new_reference_ids.get(index).copied(),
            });
            rows.messages.push(&e.message);
            rows.trace_ids.push(e.trace_id.as_deref());
            rows.alert_flags
                .push(if new_issue { FLAG_NEW_ISSUE } else { 0 });
        }
        rows
    }

    pub(super) fn len(&self) -> usize {
        self.event_ids.len()
    }

    /// The index of the statement's rows (one per event it stored), when there is one.
    pub(super) fn push<'p>(&'p self, pipeline: &mut Pipeline<'p>) -> Option<usize> {
        if self.event_ids.is_empty() {
            return None;
        }
        Some(pipeline.push(
            "INSERT INTO events (project_id, event_id, issue_id, event_type, timestamp, received,
                 level, platform, title, culprit, environment, release, transaction_name,
                 user_tag, tags, data, size, reference_id, message, trace_id, alert_flags)
             SELECT * FROM UNNEST($1::BIGINT[], $2::TEXT[], $3::BIGINT[], $4::TEXT[],
                 $5::DOUBLE PRECISION[], $6::DOUBLE PRECISION[], $7::TEXT[], $8::TEXT[],
                 $9::TEXT[], $10::TEXT[], $11::TEXT[], $12::TEXT[], $13::TEXT[], $14::TEXT[],
                 $15::TEXT[], $16::BYTEA[], $17::BIGINT[], $18::BIGINT[], $19::TEXT[],
                 $20::TEXT[], $21::SMALLINT[])
             ON CONFLICT (project_id, event_id) DO NOTHING
             RETURNING 1",
            vec![
                &self.project_ids,
                &self.event_ids,
                &self.issue_ids,
                &self.event_types,
                &self.timestamps,
                &self.received,
                &self.levels,
                &self.platforms,
                &self.titles,
                &self.culprits,
                &self.environments,
                &self.releases,
                &self.transactions,
                &self.user_tags,
                &self.tags,
                &self.data,
                &self.sizes,
                &self.reference_ids,
                &self.messages,
                &self.trace_ids,
                &self.alert_flags,
            ],
            "storing events",
        ))
    }
}
