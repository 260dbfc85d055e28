//! Hourly and daily rollups of transactions and spans, the same for every backend: what a batch
//! adds to them, which rows answer a range ([`plan`]), and how they add up to a summary.
//!
//! Each rollup row carries its counters (exact: count, failures, sum and max of durations, first
//! and last seen), a duration histogram in logarithmic buckets 5% wide (a percentile read from
//! rollups is within 5% of the exact one) and a sketch of its distinct users ([`sketch`]), so
//! 30 days of a busy project summarize from a few thousand rows: days from the daily tier, the
//! partial days' hours from the hourly one, the partial hours from the transactions.

pub(crate) mod plan;
pub(crate) mod sketch;

use std::collections::{BTreeMap, HashMap};

use crate::traces::{
    is_failure_status, NewSpan, NewTransaction, TransactionAggregate, TransactionQuery,
};
use crate::{StoreError, StoreResult, UnixTime};
pub(crate) use plan::{Plan, Read, DAY, HOUR};
pub(crate) use sketch::{Histogram, UserSketch};

/// The granularities every row is counted in.
pub(crate) const GRANULARITIES: [i64; 2] = [HOUR, DAY];

/// The start of the `granularity` period `at` falls in.
pub(crate) fn period_of(at: UnixTime, granularity: i64) -> i64 {
    ((at / granularity as f64).floor() as i64).saturating_mul(granularity)
}

/// Growth factor between bucket bounds.
const BUCKET_GROWTH: f64 = 1.05;
/// Bucket 0 holds everything at or under this many milliseconds.
const SMALLEST_MS: f64 = 0.01;

/// The bucket of a duration.
pub(crate) fn bucket_of(duration_ms: f64) -> i64 {
    if !duration_ms.is_finite() || duration_ms <= SMALLEST_MS {
        return 0;
    }
    ((duration_ms / SMALLEST_MS).ln() / BUCKET_GROWTH.ln()).ceil() as i64
}

/// The duration a bucket stands for: its upper bound.
pub(crate) fn bucket_upper_ms(bucket: i64) -> f64 {
    SMALLEST_MS * BUCKET_GROWTH.powi(bucket.clamp(0, 10_000) as i32)
}

/// Key of a transaction rollup row.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct TransactionKey {
    pub project_id: i64,
    /// [`HOUR`] or [`DAY`].
    pub granularity: i64,
    /// Start of the period.
    pub start: i64,
    pub name: String,
    /// `""` when the transaction had none.
    pub environment: String,
}

/// What a batch adds to one transaction rollup row.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct TransactionDelta {
    pub count: i64,
    pub failures: i64,
    pub sum_ms: f64,
    pub max_ms: f64,
    pub first_seen: UnixTime,
    pub last_seen: UnixTime,
    pub histogram: Histogram,
    pub users: UserSketch,
}

/// Key of a span rollup row.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct SpanKey {
    pub project_id: i64,
    pub granularity: i64,
    pub start: i64,
    pub transaction: String,
    pub environment: String,
    pub op: String,
    pub group_hash: String,
}

/// What a batch adds to one span rollup row.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct SpanDelta {
    pub count: i64,
    pub total_ms: f64,
    /// Segments the group appeared in, each counted once per batch.
    pub segments: i64,
}

/// Everything a batch of newly written transactions and spans adds to the rollups.
#[derive(Debug, Default)]
pub(crate) struct RollupDelta {
    pub transactions: BTreeMap<TransactionKey, TransactionDelta>,
    pub spans: BTreeMap<SpanKey, SpanDelta>,
    /// `(project_id, group_hash)` → (op, normalized description).
    pub groups: BTreeMap<(i64, String), (String, String)>,
}

impl RollupDelta {
    /// Counts one newly stored transaction, in every granularity.
    pub fn add_transaction(&mut self, t: &NewTransaction) {
        for granularity in GRANULARITIES {
            let key = TransactionKey {
                project_id: t.project_id,
                granularity,
                start: period_of(t.start, granularity),
                name: t.name.clone(),
                environment: t.environment.clone().unwrap_or_default(),
            };
            let delta = self.transactions.entry(key).or_default();
            if delta.count == 0 {
                delta.first_seen = t.start;
                delta.last_seen = t.start;
            }
            delta.count += 1;
            delta.failures += i64::from(is_failure_status(&t.status));
            delta.sum_ms += t.duration_ms;
            delta.max_ms = delta.max_ms.max(t.duration_ms);
            delta.first_seen = delta.first_seen.min(t.start);
            delta.last_seen = delta.last_seen.max(t.start);
            delta.histogram.add(bucket_of(t.duration_ms), 1);
            if let Some(user) = &t.user_tag {
                delta.users.insert(user);
            }
        }
    }

    /// Counts newly stored spans, in every granularity. Spans are summed per hour under
    /// borrowed keys (one hash per span; a segment's spans follow each other, so its repeats
    /// are skipped without hashing), then the hours into their days, so a key's strings are
    /// copied once per batch rather than per span.
    pub fn add_spans<'a>(&mut self, spans: impl IntoIterator<Item = CountedSpan<'a>>) {
        /// Project, hour, day, transaction, environment, op, group hash.
        type HourKey<'a> = (i64, i64, i64, &'a str, &'a str, &'a str, &'a str);
        /// Project, granularity, period, transaction, environment, op, group hash.
        type RowKey<'a> = (i64, i64, i64, &'a str, &'a str, &'a str, &'a str);
        /// Project, day, transaction, environment, op, group hash.
        type DayKey<'a> = (i64, i64, &'a str, &'a str, &'a str, &'a str);
        #[derive(Default)]
        struct Sums<'a> {
            count: i64,
            total_ms: f64,
            /// Segment ids, repeats in a row left out.
            segments: Vec<&'a str>,
        }
        impl<'a> Sums<'a> {
            fn add(&mut self, count: i64, total_ms: f64, segments: &[&'a str]) {
                self.count += count;
                self.total_ms += total_ms;
                for segment in segments {
                    if self.segments.last() != Some(segment) {
                        self.segments.push(segment);
                    }
                }
            }
            /// Distinct segments.
            fn segments(mut self) -> i64 {
                self.segments.sort_unstable();
                self.segments.dedup();
                self.segments.len() as i64
            }
        }

        let mut hours: HashMap<HourKey<'a>, Sums<'a>> = HashMap::new();
        // Each group's first span, by its position: it names the group.
        let mut first_of_key: HashMap<HourKey<'a>, (usize, &'a NewSpan)> = HashMap::new();
        for (position, counted) in spans.into_iter().enumerate() {
            let span = counted.span;
            let key = (
                span.project_id,
                period_of(span.start, HOUR),
                period_of(span.start, DAY),
                span.transaction.as_str(),
                counted.environment,
                span.op.as_str(),
                counted.group_hash,
            );
            let sums = hours.entry(key).or_default();
            if sums.count == 0 {
                first_of_key.insert(key, (position, span));
            }
            sums.add(1, span.duration_ms, &[span.segment_id.as_str()]);
        }

        let mut first_of_group: HashMap<(i64, &'a str), (usize, &'a NewSpan)> = HashMap::new();
        for (key, first) in first_of_key {
            let group = first_of_group.entry((key.0, key.6)).or_insert(first);
            if first.0 < group.0 {
                *group = first;
            }
        }
        let mut by_position: Vec<_> = first_of_group.into_iter().collect();
        by_position.sort_unstable_by_key(|(_, (position, _))| *position);
        for ((project_id, group_hash), (_, span)) in by_position {
            self.groups
                .entry((project_id, group_hash.to_owned()))
                .or_insert_with(|| (span.op.clone(), span.group.clone()));
        }

        let mut days: HashMap<DayKey<'a>, Sums<'a>> = HashMap::new();
        let mut rows: Vec<(RowKey<'a>, Sums<'a>)> = Vec::new();
        for (key, sums) in hours {
            let (project_id, hour, day, transaction, environment, op, group_hash) = key;
            days.entry((project_id, day, transaction, environment, op, group_hash))
                .or_default()
                .add(sums.count, sums.total_ms, &sums.segments);
            rows.push((
                (
                    project_id,
                    HOUR,
                    hour,
                    transaction,
                    environment,
                    op,
                    group_hash,
                ),
                sums,
            ));
        }
        rows.extend(days.into_iter().map(|(key, sums)| {
            let (project_id, day, transaction, environment, op, group_hash) = key;
            (
                (
                    project_id,
                    DAY,
                    day,
                    transaction,
                    environment,
                    op,
                    group_hash,
                ),
                sums,
            )
        }));
        for (key, sums) in rows {
            let (project_id, granularity, start, transaction, environment, op, group_hash) = key;
            let delta = self
                .spans
                .entry(SpanKey {
                    project_id,
                    granularity,
                    start,
                    transaction: transaction.to_owned(),
                    environment: environment.to_owned(),
                    op: op.to_owned(),
                    group_hash: group_hash.to_owned(),
                })
                .or_default();
            delta.count += sums.count;
            delta.total_ms += sums.total_ms;
            delta.segments += sums.segments();
        }
    }
}

/// A newly stored span as the rollups count it: with its group's [`group_hash`] and its
/// segment's environment (`""` when none or not known yet).
#[derive(Debug, Clone, Copy)]
pub(crate) struct CountedSpan<'a> {
    pub span: &'a NewSpan,
    pub group_hash: &'a str,
    pub environment: &'a str,
}

/// The [`group_hash`] of each span of a batch, computed once per distinct group (a batch
/// repeats a few groups many times).
#[derive(Debug, Default)]
pub(crate) struct GroupHashes {
    distinct: Vec<String>,
    /// Index into `distinct`, per span.
    of_span: Vec<usize>,
}

impl GroupHashes {
    pub fn new<'a>(spans: impl IntoIterator<Item = &'a NewSpan>) -> GroupHashes {
        let mut hashes = GroupHashes::default();
        let mut known: HashMap<&str, usize> = HashMap::new();
        for span in spans {
            let next = hashes.distinct.len();
            let index = *known.entry(span.group.as_str()).or_insert(next);
            if index == next {
                hashes.distinct.push(group_hash(&span.group));
            }
            hashes.of_span.push(index);
        }
        hashes
    }

    /// The hash of span `n` (in the order given to [`GroupHashes::new`]).
    pub fn get(&self, n: usize) -> &str {
        &self.distinct[self.of_span[n]]
    }
}

/// 16 hex chars naming a span group.
pub(crate) fn group_hash(group: &str) -> String {
    use md5::{Digest, Md5};
    let digest = Md5::digest(group.as_bytes());
    hex::encode(&digest[..8])
}

/// The environment of each segment in a batch, for its spans' rollup rows.
pub(crate) fn segment_environments(
    transactions: &[NewTransaction],
) -> HashMap<(i64, &str, &str), &str> {
    transactions
        .iter()
        .map(|t| {
            (
                (t.project_id, t.trace_id.as_str(), t.span_id.as_str()),
                t.environment.as_deref().unwrap_or(""),
            )
        })
        .collect()
}

/// Accumulates transactions — rollup rows or single rows — into one aggregate. Apdex is
/// counted as rows and buckets arrive, against their own project's threshold, so one summary
/// can span projects with different thresholds.
#[derive(Debug)]
pub(crate) struct Summary {
    count: u64,
    failures: u64,
    sum_ms: f64,
    max_ms: f64,
    first_seen: Option<UnixTime>,
    last_seen: Option<UnixTime>,
    satisfied: u64,
    tolerated: u64,
    histogram: Histogram,
    users: UserSketch,
    /// Exact durations of single rows; used for percentiles while no rollup row was added.
    exact: Vec<f64>,
    only_exact: bool,
}

impl Default for Summary {
    fn default() -> Summary {
        Summary {
            count: 0,
            failures: 0,
            sum_ms: 0.0,
            max_ms: 0.0,
            first_seen: None,
            last_seen: None,
            satisfied: 0,
            tolerated: 0,
            histogram: Histogram::default(),
            users: UserSketch::default(),
            exact: Vec::new(),
            only_exact: true,
        }
    }
}

impl Summary {
    /// One transaction row; `apdex_ms` is its project's threshold.
    pub fn add_row(
        &mut self,
        duration_ms: f64,
        status: &str,
        start: UnixTime,
        user: Option<&str>,
        apdex_ms: f64,
    ) {
        self.count += 1;
        self.failures += u64::from(is_failure_status(status));
        self.sum_ms += duration_ms;
        self.max_ms = self.max_ms.max(duration_ms);
        self.seen(start, start);
        if duration_ms <= apdex_ms {
            self.satisfied += 1;
        } else if duration_ms <= 4.0 * apdex_ms {
            self.tolerated += 1;
        }
        self.histogram.add(bucket_of(duration_ms), 1);
        if let Some(user) = user {
            self.users.insert(user);
        }
        self.exact.push(duration_ms);
    }

    /// One rollup row; `apdex_ms` is its project's threshold.
    #[allow(clippy::too_many_arguments)]
    pub fn add_rollup(
        &mut self,
        count: u64,
        failures: u64,
        sum_ms: f64,
        max_ms: f64,
        first_seen: UnixTime,
        last_seen: UnixTime,
        histogram: &Histogram,
        users: &UserSketch,
        apdex_ms: f64,
    ) {
        self.only_exact = false;
        self.count += count;
        self.failures += failures;
        self.sum_ms += sum_ms;
        self.max_ms = self.max_ms.max(max_ms);
        self.seen(first_seen, last_seen);
        let satisfied_bucket = bucket_of(apdex_ms);
        let tolerated_bucket = bucket_of(4.0 * apdex_ms);
        for (bucket, n) in &histogram.0 {
            if *bucket <= satisfied_bucket {
                self.satisfied += n;
            } else if *bucket <= tolerated_bucket {
                self.tolerated += n;
            }
        }
        self.histogram.merge(histogram);
        self.users.merge(users);
    }

    fn seen(&mut self, first: UnixTime, last: UnixTime) {
        self.first_seen = Some(self.first_seen.map_or(first, |f| f.min(first)));
        self.last_seen = Some(self.last_seen.map_or(last, |l| l.max(last)));
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The aggregate, naming its group.
    pub fn finish(
        mut self,
        project_id: Option<i64>,
        transaction: Option<String>,
    ) -> TransactionAggregate {
        let percentiles: [f64; 4] = if self.only_exact {
            self.exact.sort_by(f64::total_cmp);
            [0.5, 0.75, 0.95, 0.99].map(|q| exact_percentile(&self.exact, q))
        } else {
            [0.5, 0.75, 0.95, 0.99]
                .map(|q| bucket_percentile(&self.histogram.0, self.count, q).min(self.max_ms))
        };
        let [p50_ms, p75_ms, p95_ms, p99_ms] = percentiles;
        TransactionAggregate {
            project_id,
            transaction,
            count: self.count,
            failures: self.failures,
            avg_ms: if self.count == 0 {
                0.0
            } else {
                self.sum_ms / self.count as f64
            },
            p50_ms,
            p75_ms,
            p95_ms,
            p99_ms,
            max_ms: self.max_ms,
            satisfied: self.satisfied,
            tolerated: self.tolerated,
            users: self.users.estimate(),
            first_seen: self.first_seen.unwrap_or_default(),
            last_seen: self.last_seen.unwrap_or_default(),
        }
    }
}

/// Linear interpolation between closest ranks, as ClickHouse's `quantile` family does.
fn exact_percentile(sorted: &[f64], q: f64) -> f64 {
    match sorted.len() {
        0 => 0.0,
        1 => sorted[0],
        n => {
            let rank = q * (n - 1) as f64;
            let low = rank.floor() as usize;
            let high = rank.ceil() as usize;
            let weight = rank - low as f64;
            sorted[low] * (1.0 - weight) + sorted[high] * weight
        }
    }
}

fn bucket_percentile(buckets: &BTreeMap<i64, u64>, count: u64, q: f64) -> f64 {
    if count == 0 {
        return 0.0;
    }
    let target = (q * count as f64).ceil().max(1.0) as u64;
    let mut seen = 0;
    for (bucket, n) in buckets {
        seen += n;
        if seen >= target {
            return bucket_upper_ms(*bucket);
        }
    }
    buckets.keys().last().map_or(0.0, |b| bucket_upper_ms(*b))
}

/// Buckets a series may have: more is a query mistake, not a chart.
const MAX_SERIES_BUCKETS: u64 = 10_000;

/// The buckets of a series: `[since + n·interval, …)`, the last cut at `until`.
pub(crate) fn series_ranges(
    query: &TransactionQuery,
    interval_secs: u64,
) -> StoreResult<Vec<(f64, f64)>> {
    let (Some(since), Some(until)) = (query.since, query.until) else {
        return Err(StoreError::Invalid(
            "a series needs both ends of its range".into(),
        ));
    };
    if interval_secs == 0 || until <= since {
        return Err(StoreError::Invalid(
            "a series needs a positive interval and range".into(),
        ));
    }
    let buckets = ((until - since) / interval_secs as f64).ceil() as u64;
    if buckets > MAX_SERIES_BUCKETS {
        return Err(StoreError::Invalid(format!(
            "a series of {buckets} buckets is too long (at most {MAX_SERIES_BUCKETS})"
        )));
    }
    Ok((0..buckets)
        .map(|n| {
            let start = since + (n * interval_secs) as f64;
            (start, (start + interval_secs as f64).min(until))
        })
        .collect())
}

/// `buckets` equal-width bins between the smallest and largest of `(duration, count)` points.
pub(crate) fn equal_width_bins(points: &[(f64, u64)], buckets: u32) -> Vec<(f64, f64, u64)> {
    let low = points.iter().map(|p| p.0).fold(f64::INFINITY, f64::min);
    let high = points.iter().map(|p| p.0).fold(f64::NEG_INFINITY, f64::max);
    if !low.is_finite() || !high.is_finite() || buckets == 0 {
        return Vec::new();
    }
    let width = ((high - low) / f64::from(buckets)).max(f64::EPSILON);
    let mut counts = vec![0u64; buckets as usize];
    for (duration, n) in points {
        let bin = (((duration - low) / width) as usize).min(buckets as usize - 1);
        counts[bin] += n;
    }
    counts
        .into_iter()
        .enumerate()
        .map(|(n, count)| {
            let from = low + width * n as f64;
            (from, from + width, count)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_within_five_percent() {
        for ms in [0.5, 3.0, 42.0, 299.0, 300.0, 1_234.5, 60_000.0] {
            let upper = bucket_upper_ms(bucket_of(ms));
            assert!(
                upper >= ms * 0.9999 && upper <= ms * 1.05 + 1e-9,
                "{ms} → {upper}"
            );
        }
        assert_eq!(bucket_of(0.0), 0);
        assert_eq!(bucket_of(f64::NAN), 0);
    }

    #[test]
    fn exact_rows_give_exact_percentiles_and_apdex() {
        let mut summary = Summary::default();
        for (i, ms) in [100.0, 200.0, 300.0, 400.0, 2_000.0]
            .into_iter()
            .enumerate()
        {
            let status = if i == 4 { "internal_error" } else { "ok" };
            summary.add_row(ms, status, 10.0 + i as f64, Some("id:1"), 300.0);
        }
        let agg = summary.finish(Some(1), Some("/x".into()));
        assert_eq!((agg.count, agg.failures, agg.users), (5, 1, 1));
        assert_eq!(agg.p50_ms, 300.0);
        assert_eq!(agg.p75_ms, 400.0);
        assert_eq!((agg.satisfied, agg.tolerated), (3, 1));
        assert_eq!((agg.first_seen, agg.last_seen), (10.0, 14.0));
        assert_eq!(agg.avg_ms, 600.0);
    }

    #[test]
    fn rollups_give_percentiles_within_a_bucket() {
        let mut summary = Summary::default();
        let mut histogram = Histogram::default();
        for ms in 0..100 {
            histogram.add(bucket_of(ms as f64 + 0.5), 1);
        }
        let mut users = UserSketch::default();
        users.insert("id:1");
        summary.add_rollup(
            100,
            0,
            100.0 * 50.0,
            99.0,
            0.0,
            1.0,
            &histogram,
            &users,
            300.0,
        );
        let agg = summary.finish(None, None);
        assert_eq!(agg.users, 1);
        assert!((agg.p50_ms - 50.0).abs() < 50.0 * 0.06, "{}", agg.p50_ms);
        assert!(agg.p99_ms <= 99.0);
        assert_eq!(agg.satisfied, 100);
    }

    #[test]
    fn series_buckets_cut_the_last_at_the_end() {
        let query = TransactionQuery {
            since: Some(100.0),
            until: Some(350.0),
            ..TransactionQuery::default()
        };
        assert_eq!(
            series_ranges(&query, 100).expect("valid"),
            vec![(100.0, 200.0), (200.0, 300.0), (300.0, 350.0)]
        );
        assert!(series_ranges(&query, 0).is_err());
        let open = TransactionQuery {
            until: None,
            ..query.clone()
        };
        assert!(series_ranges(&open, 100).is_err());
        let huge = TransactionQuery {
            until: Some(100.0 + 1e9),
            ..query
        };
        assert!(series_ranges(&huge, 1).is_err());
    }

    fn new_span(segment: &str, op: &str, group: &str, start: f64, duration_ms: f64) -> NewSpan {
        NewSpan {
            project_id: 1,
            trace_id: "t".into(),
            segment_id: segment.into(),
            transaction: "/x".into(),
            span_id: format!("{segment}-{start}"),
            parent_span_id: None,
            op: op.into(),
            description: group.into(),
            group: group.into(),
            status: "ok".into(),
            start,
            duration_ms,
            data: serde_json::Value::Null,
        }
    }

    #[test]
    fn spans_add_up_per_hour_and_day_with_each_segment_once() {
        let day = 20.0 * DAY as f64;
        let spans = [
            new_span("a", "db", "SELECT %s", day + 10.0, 1.0),
            new_span("a", "db", "SELECT %s", day + 20.0, 2.0),
            new_span("b", "db", "SELECT %s", day + 30.0, 4.0),
            // Segment `a` again, an hour later, after `b`: once in the day, once per hour.
            new_span("a", "db", "SELECT %s", day + 3_700.0, 8.0),
            // The same group under another op: its own rows, the group named by its first.
            new_span("b", "cache.get", "SELECT %s", day + 40.0, 16.0),
        ];
        let hashes = GroupHashes::new(&spans);
        let mut delta = RollupDelta::default();
        delta.add_spans(spans.iter().enumerate().map(|(n, span)| CountedSpan {
            span,
            group_hash: hashes.get(n),
            environment: "prod",
        }));
        let hash = group_hash("SELECT %s");
        let row = |granularity: i64, start: i64, op: &str| {
            let key = SpanKey {
                project_id: 1,
                granularity,
                start,
                transaction: "/x".into(),
                environment: "prod".into(),
                op: op.into(),
                group_hash: hash.clone(),
            };
            let d = &delta.spans[&key];
            (d.count, d.total_ms, d.segments)
        };
        let first_hour = 20 * DAY;
        assert_eq!(row(HOUR, first_hour, "db"), (3, 7.0, 2));
        assert_eq!(row(HOUR, first_hour + HOUR, "db"), (1, 8.0, 1));
        assert_eq!(row(DAY, first_hour, "db"), (4, 15.0, 2));
        assert_eq!(row(DAY, first_hour, "cache.get"), (1, 16.0, 1));
        assert_eq!(delta.spans.len(), 5);
        assert_eq!(
            delta.groups[&(1, hash.clone())],
            ("db".to_owned(), "SELECT %s".to_owned())
        );
        assert_eq!(hashes.get(4), hash);
    }

    #[test]
    fn bins_span_the_points_and_count_them_all() {
        // Bins of 100 ms from 100 to 400; the slowest is in the last.
        let points = [(100.0, 1), (200.0, 2), (400.0, 3)];
        let bins = equal_width_bins(&points, 3);
        assert_eq!(bins.len(), 3);
        assert_eq!(bins[0].0, 100.0);
        assert!((bins[2].1 - 400.0).abs() < 1e-9);
        assert_eq!(bins.iter().map(|b| b.2).collect::<Vec<_>>(), vec![1, 2, 3]);
        assert!(equal_width_bins(&[], 3).is_empty());
        // One duration: everything in the first bin.
        assert_eq!(equal_width_bins(&[(5.0, 4)], 2)[0].2, 4);
    }
}
