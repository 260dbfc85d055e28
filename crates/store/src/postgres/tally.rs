//! Writing a batch's [`Tally`] on PostgreSQL: one statement per table.
//!
//! Each kind of row is one statement over arrays (`UNNEST`), and the rows go in key order so
//! that two nodes counting into the same rows lock them in the same order.

use std::collections::BTreeMap;

use super::sql::Pipeline;
use crate::batch::Tally;
use crate::NewEvent;

impl<'a> Tally<'a> {
    /// The sums as columns, for [`TallyRows::push`].
    pub(crate) fn rows(&self) -> TallyRows<'a> {
        let mut rows = TallyRows::default();
        for (issue_id, user) in &self.users {
            rows.user_issue_ids.push(*issue_id);
            rows.users.push(user);
        }
        for (issue_id, issue) in &self.issues {
            rows.issue_ids.push(*issue_id);
            rows.counts.push(issue.seen.count);
            rows.firsts.push(issue.seen.first);
            rows.lasts.push(issue.seen.last);
            rows.headlines.push(issue.newest);
            rows.unhandled.push(issue.is_unhandled);
            rows.releases.push(issue.release);
        }
        for ((issue_id, key, value), seen) in &self.tag_values {
            rows.tag_issue_ids.push(*issue_id);
            rows.tag_keys.push(key);
            rows.tag_values.push(value);
            rows.tag_counts.push(seen.count);
            rows.tag_firsts.push(seen.first);
            rows.tag_lasts.push(seen.last);
        }
        rows.hours = BucketRows::of(&self.hours);
        rows.minutes = BucketRows::of(&self.minutes);
        rows
    }
}

/// A batch's sums as columns, each kind ordered by its key.
#[derive(Default)]
pub(crate) struct TallyRows<'a> {
    user_issue_ids: Vec<i64>,
    users: Vec<&'a str>,
    issue_ids: Vec<i64>,
    counts: Vec<i64>,
    firsts: Vec<f64>,
    lasts: Vec<f64>,
    headlines: HeadlineRows<'a>,
    unhandled: Vec<bool>,
    releases: Vec<Option<&'a str>>,
    tag_issue_ids: Vec<i64>,
    tag_keys: Vec<&'a str>,
    tag_values: Vec<&'a str>,
    tag_counts: Vec<i64>,
    tag_firsts: Vec<f64>,
    tag_lasts: Vec<f64>,
    hours: BucketRows,
    minutes: BucketRows,
}

/// What an issue shows of one event (its newest; a new issue's first) as columns: the level,
/// title, culprit and metadata that creating issues and counting into them both write.
#[derive(Default)]
pub(super) struct HeadlineRows<'a> {
    pub(super) levels: Vec<&'a str>,
    pub(super) titles: Vec<&'a str>,
    pub(super) culprits: Vec<&'a str>,
    pub(super) metadata: Vec<String>,
}

impl<'a> HeadlineRows<'a> {
    pub(super) fn push(&mut self, event: &'a NewEvent) {
        self.levels.push(&event.level);
        self.titles.push(&event.title);
        self.culprits.push(&event.culprit);
        self.metadata.push(event.metadata.to_string());
    }
}

/// The statement adding [`BucketRows`] to the `(issue_id, {bucket}) → count` rows of `table`
/// (`issue_hourly`, `issue_minutely`): text known at compile time, as a pipeline wants it.
macro_rules! add_to_buckets {
    ($table:literal, $bucket:literal) => {
        concat!(
            "INSERT INTO ",
            $table,
            " (issue_id, ",
            $bucket,
            ", count)
             SELECT * FROM UNNEST($1::BIGINT[], $2::BIGINT[], $3::BIGINT[])
             ON CONFLICT (issue_id, ",
            $bucket,
            ") DO UPDATE SET
                 count = ",
            $table,
            ".count + excluded.count"
        )
    };
}

/// The `(issue_id, bucket start) → events` rows of `issue_hourly` or `issue_minutely`.
#[derive(Default)]
struct BucketRows {
    issue_ids: Vec<i64>,
    starts: Vec<i64>,
    counts: Vec<i64>,
}

impl BucketRows {
    fn of(counts: &BTreeMap<(i64, i64), i64>) -> BucketRows {
        let mut rows = BucketRows::default();
        for ((issue_id, start), count) in counts {
            rows.issue_ids.push(*issue_id);
            rows.starts.push(*start);
            rows.counts.push(*count);
        }
        rows
    }
}

impl TallyRows<'_> {
    /// Adds the statements that write the sums.
    ///
    /// Distinct users and the issue rows are one statement: the users not seen before on their
    /// issue are inserted first (a data-modifying CTE), and the issue rows add how many each
    /// gained. All right-hand sides of the `UPDATE` see the row as it was before it, so the
    /// `CASE`s compare the batch's newest event with the issue's previous `last_seen`: a late old
    /// event changes no field, as in Sentry, where the group shows its latest event's.
    pub(crate) fn push<'p>(&'p self, pipeline: &mut Pipeline<'p>) {
        if self.issue_ids.is_empty() {
            return;
        }
        pipeline.push(
            "WITH new_users AS (
                 INSERT INTO issue_users (issue_id, user_tag)
                 SELECT * FROM UNNEST($1::BIGINT[], $2::TEXT[])
                 ON CONFLICT (issue_id, user_tag) DO NOTHING
                 RETURNING issue_id
             ), user_counts AS (
                 SELECT issue_id, count(*) AS gained FROM new_users GROUP BY issue_id
             )
             UPDATE issues i SET
                 times_seen = i.times_seen + u.events,
                 user_count = i.user_count + coalesce(c.gained, 0),
                 first_seen = LEAST(i.first_seen, u.first_at),
                 last_seen = GREATEST(i.last_seen, u.last_at),
                 level = CASE WHEN u.last_at >= i.last_seen THEN u.level ELSE i.level END,
                 title = CASE WHEN u.last_at >= i.last_seen THEN u.title ELSE i.title END,
                 culprit = CASE WHEN u.last_at >= i.last_seen THEN u.culprit ELSE i.culprit END,
                 metadata = CASE WHEN u.last_at >= i.last_seen THEN u.metadata ELSE i.metadata END,
                 is_unhandled = i.is_unhandled OR u.unhandled,
                 first_release = coalesce(i.first_release, u.release)
             FROM UNNEST($3::BIGINT[], $4::BIGINT[], $5::DOUBLE PRECISION[],
                         $6::DOUBLE PRECISION[], $7::TEXT[], $8::TEXT[], $9::TEXT[], $10::TEXT[],
                         $11::BOOLEAN[], $12::TEXT[])
                  AS u(id, events, first_at, last_at, level, title, culprit, metadata,
                       unhandled, release)
             LEFT JOIN user_counts c ON c.issue_id = u.id
             WHERE i.id = u.id",
            vec![
                &self.user_issue_ids,
                &self.users,
                &self.issue_ids,
                &self.counts,
                &self.firsts,
                &self.lasts,
                &self.headlines.levels,
                &self.headlines.titles,
                &self.headlines.culprits,
                &self.headlines.metadata,
                &self.unhandled,
                &self.releases,
            ],
            "counting events on their issues",
        );
        if !self.tag_issue_ids.is_empty() {
            pipeline.push(
                "INSERT INTO issue_tag_values (issue_id, key, value, times_seen, first_seen,
                     last_seen)
                 SELECT * FROM UNNEST($1::BIGINT[], $2::TEXT[], $3::TEXT[], $4::BIGINT[],
                                      $5::DOUBLE PRECISION[], $6::DOUBLE PRECISION[])
                 ON CONFLICT (issue_id, key, value) DO UPDATE SET
                     times_seen = issue_tag_values.times_seen + excluded.times_seen,
                     first_seen = LEAST(issue_tag_values.first_seen, excluded.first_seen),
                     last_seen = GREATEST(issue_tag_values.last_seen, excluded.last_seen)",
                vec![
                    &self.tag_issue_ids,
                    &self.tag_keys,
                    &self.tag_values,
                    &self.tag_counts,
                    &self.tag_firsts,
                    &self.tag_lasts,
                ],
                "counting tag values",
            );
        }
        for (statement, rows, what) in [
            (
                add_to_buckets!("issue_hourly", "hour"),
                &self.hours,
                "counting an issue's hourly events",
            ),
            (
                add_to_buckets!("issue_minutely", "minute"),
                &self.minutes,
                "counting an issue's events per minute",
            ),
        ] {
            pipeline.push(
                statement,
                vec![&rows.issue_ids, &rows.starts, &rows.counts],
                what,
            );
        }
    }
}
