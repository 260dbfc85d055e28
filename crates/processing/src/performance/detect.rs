//! Performance issues of one segment, found the way Sentry's detectors find them.
//!
//! **N+1 queries** (Sentry's `NPlusOneDBSpanDetector`): walking the spans by start time, a
//! database span under a known parent (the root, or a non-database span) is a possible
//! *source* query; the database spans that follow it under the same parent with one group,
//! other than the source's, are the *repeating* queries. Any non-database span, or a database
//! span that does not continue the run, ends it. A run is a problem when it has at least
//! [`Thresholds::n_plus_one_min_count`] repetitions taking at least
//! [`Thresholds::n_plus_one_min_total_ms`] together (overlapping time counted once). Unlike
//! Sentry, repetitions only need the same group, not byte-identical descriptions, so queries
//! sent with inlined literals are caught too.
//!
//! **Slow DB query** (Sentry's `SlowDBQueryDetector`): a complete `SELECT` taking at least
//! [`Thresholds::slow_db_query_ms`].
//!
//! Each problem becomes an issue occurrence, grouped by issue type, transaction and statement.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};

use serde_json::{json, Map, Value};

use vigil_model::{JsonText, NewSpan, NewTransaction};

use super::{md5_hex, PerformanceProblem, ProcessedSpans};
use crate::ProcessedEvent;

/// Issue type of N+1 queries, as Sentry's `PerformanceNPlusOneGroupType` is stored.
pub const N_PLUS_ONE_DB_QUERIES: &str = "performance_n_plus_one_db_queries";
/// Issue type of a slow query (`PerformanceSlowDBQueryGroupType`).
pub const SLOW_DB_QUERY: &str = "performance_slow_db_query";

/// When a pattern is a problem.
#[derive(Debug, Clone, PartialEq)]
pub struct Thresholds {
    /// Fewest repetitions of a query that make an N+1.
    pub n_plus_one_min_count: u32,
    /// Least time the repetitions must take together.
    pub n_plus_one_min_total_ms: f64,
    /// Least time one `SELECT` must take to be slow.
    pub slow_db_query_ms: f64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            n_plus_one_min_count: 10,
            n_plus_one_min_total_ms: 100.0,
            slow_db_query_ms: 1000.0,
        }
    }
}

/// What one detector found: the kind, the statement, and the spans involved.
struct Problem<'a> {
    issue_type: &'static str,
    title: &'static str,
    statement: String,
    op: String,
    parent_span_ids: Vec<String>,
    cause_span_ids: Vec<String>,
    offenders: Vec<&'a NewSpan>,
}

/// The performance problems of one segment, each as an issue occurrence for the store's
/// event path (one per issue type and statement).
pub fn detect_problems(
    transaction: &NewTransaction,
    spans: &[NewSpan],
    thresholds: &Thresholds,
) -> Vec<ProcessedEvent> {
    let mut ordered: Vec<&NewSpan> = spans
        .iter()
        .filter(|s| s.segment_id == transaction.span_id && s.trace_id == transaction.trace_id)
        .collect();
    ordered.sort_by(|a, b| a.start.total_cmp(&b.start));

    let mut problems = n_plus_one_queries(transaction, &ordered, thresholds);
    problems.extend(slow_queries(&ordered, thresholds));

    let mut seen = HashSet::new();
    problems
        .into_iter()
        .filter_map(|problem| {
            let hash = md5_hex(&[
                problem.issue_type,
                &transaction.name,
                &problem.op,
                &problem.statement,
            ]);
            seen.insert(hash.clone())
                .then(|| occurrence(transaction, spans, problem, hash))
        })
        .collect()
}

/// The pipelines' last step: the problems of every segment of an item, among the spans that
/// came with it in the same item.
pub(super) fn item_problems(
    item: &ProcessedSpans,
    thresholds: &Thresholds,
) -> Vec<PerformanceProblem> {
    let mut problems = Vec::new();
    for transaction in &item.transactions {
        let belongs =
            |s: &NewSpan| s.trace_id == transaction.trace_id && s.segment_id == transaction.span_id;
        // A Python transaction's spans are all its own: no copy then. Streamed items may hold
        // several segments.
        let own: Cow<'_, [NewSpan]> = if item.spans.iter().all(belongs) {
            Cow::Borrowed(&item.spans)
        } else {
            Cow::Owned(item.spans.iter().filter(|s| belongs(s)).cloned().collect())
        };
        problems.extend(
            detect_problems(transaction, &own, thresholds)
                .into_iter()
                .map(|occurrence| PerformanceProblem {
                    trace_id: transaction.trace_id.clone(),
                    occurrence,
                }),
        );
    }
    problems
}

/// Database spans the detectors look at; Redis and connection spans are not queries.
fn is_query(op: &str) -> bool {
    op.starts_with("db") && !op.starts_with("db.redis") && !op.starts_with("db.connection")
}

fn n_plus_one_queries<'a>(
    transaction: &NewTransaction,
    ordered: &[&'a NewSpan],
    thresholds: &Thresholds,
) -> Vec<Problem<'a>> {
    let mut parents: HashSet<&str> = HashSet::from([transaction.span_id.as_str()]);
    let mut problems = Vec::new();
    let mut source: Option<&NewSpan> = None;
    let mut run: Vec<&NewSpan> = Vec::new();

    let can_be_source = |span: &NewSpan, parents: &HashSet<&str>| {
        span.parent_span_id
            .as_deref()
            .is_some_and(|p| parents.contains(p))
    };
    for &span in ordered {
        if !is_query(&span.op) {
            close_run(source, &run, thresholds, &mut problems);
            source = None;
            run.clear();
            if span.parent_span_id.is_some() {
                parents.insert(&span.span_id);
            }
            continue;
        }
        let Some(current) = source else {
            if can_be_source(span, &parents) {
                source = Some(span);
            }
            continue;
        };
        if continues(current, &run, span) {
            run.push(span);
            continue;
        }
        // The run ends here; its last query (or else its source) may start the next one.
        close_run(source, &run, thresholds, &mut problems);
        let previous = run.last().copied();
        run.clear();
        source = previous.filter(|p| can_be_source(p, &parents));
        match source {
            Some(current) if continues(current, &run, span) => run.push(span),
            _ => source = can_be_source(span, &parents).then_some(span),
        }
    }
    close_run(source, &run, thresholds, &mut problems);
    problems
}

/// Whether `span` repeats the run after `source`: same parent, a group other than the
/// source's, and the group of the run so far.
fn continues(source: &NewSpan, run: &[&NewSpan], span: &NewSpan) -> bool {
    if span.parent_span_id.is_none() || span.parent_span_id != source.parent_span_id {
        return false;
    }
    if span.group.is_empty() || span.group == source.group {
        return false;
    }
    run.first().is_none_or(|first| first.group == span.group)
}

fn close_run<'a>(
    source: Option<&'a NewSpan>,
    run: &[&'a NewSpan],
    thresholds: &Thresholds,
    problems: &mut Vec<Problem<'a>>,
) {
    let (Some(source), Some(first)) = (source, run.first()) else {
        return;
    };
    if run.len() < thresholds.n_plus_one_min_count as usize
        || total_ms(run) < thresholds.n_plus_one_min_total_ms
        // A truncated statement might hide a difference between the queries.
        || first.description.ends_with("...")
    {
        return;
    }
    problems.push(Problem {
        issue_type: N_PLUS_ONE_DB_QUERIES,
        title: "N+1 Query",
        statement: first.group.clone(),
        op: "db".to_owned(),
        parent_span_ids: source.parent_span_id.iter().cloned().collect(),
        cause_span_ids: vec![source.span_id.clone()],
        offenders: run.to_vec(),
    });
}

fn slow_queries<'a>(ordered: &[&'a NewSpan], thresholds: &Thresholds) -> Vec<Problem<'a>> {
    let mut by_group: Vec<Problem<'a>> = Vec::new();
    let mut index: HashMap<&str, usize> = HashMap::new();
    for &span in ordered {
        let description = span.description.trim_start();
        let is_select = description
            .get(..3)
            .is_some_and(|s| s.eq_ignore_ascii_case("sel"));
        if !is_query(&span.op)
            || !is_select
            || description.ends_with("...")
            || span.duration_ms < thresholds.slow_db_query_ms
        {
            continue;
        }
        match index.get(span.group.as_str()) {
            Some(&i) => by_group[i].offenders.push(span),
            None => {
                index.insert(&span.group, by_group.len());
                by_group.push(Problem {
                    issue_type: SLOW_DB_QUERY,
                    title: "Slow DB Query",
                    statement: span.group.clone(),
                    op: span.op.clone(),
                    parent_span_ids: Vec::new(),
                    cause_span_ids: Vec::new(),
                    offenders: vec![span],
                });
            }
        }
    }
    by_group
}

/// Time covered by the spans, overlaps counted once.
fn total_ms(spans: &[&NewSpan]) -> f64 {
    let mut intervals: Vec<(f64, f64)> = spans
        .iter()
        .map(|s| (s.start * 1000.0, s.start * 1000.0 + s.duration_ms))
        .collect();
    intervals.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut total = 0.0;
    let mut covered_until = f64::NEG_INFINITY;
    for (start, end) in intervals {
        let from = start.max(covered_until);
        if end > from {
            total += end - from;
        }
        covered_until = covered_until.max(end);
    }
    total
}

/// A problem as the issue occurrence Sentry stores: an event of the issue type carrying the
/// segment's context, the offending spans and the evidence shown on the issue page.
fn occurrence(
    transaction: &NewTransaction,
    spans: &[NewSpan],
    problem: Problem<'_>,
    hash: String,
) -> ProcessedEvent {
    let event_id = md5_hex(&[&transaction.event_id, &hash]);
    let end = transaction.start + transaction.duration_ms / 1000.0;
    let received = transaction
        .data
        .get("received")
        .and_then(vigil_protocol::timestamp::parse_timestamp)
        .unwrap_or(end);
    let offender_ids: Vec<&str> = problem
        .offenders
        .iter()
        .map(|s| s.span_id.as_str())
        .collect();
    let total = total_ms(&problem.offenders);
    let repeating = format!("{} - {}", problem.op, problem.statement);
    let metadata = json!({
        "title": problem.title,
        "value": problem.statement,
        "location": transaction.name,
    });

    // The offenders and, when they are spans of this segment, their parents and causes.
    let mut shown: Vec<&NewSpan> = problem.offenders.clone();
    for span in spans {
        let related = problem.parent_span_ids.contains(&span.span_id)
            || problem.cause_span_ids.contains(&span.span_id);
        if related && span.segment_id == transaction.span_id {
            shown.push(span);
        }
    }
    shown.sort_by(|a, b| a.start.total_cmp(&b.start));

    let mut contexts = transaction
        .data
        .get("contexts")
        .cloned()
        .unwrap_or_else(|| json!({}));
    if contexts.get("trace").is_none() {
        contexts["trace"] = json!({
            "trace_id": transaction.trace_id,
            "span_id": transaction.span_id,
            "op": transaction.op,
            "status": transaction.status,
        });
    }
    let tags: Vec<Value> = transaction
        .tags
        .iter()
        .map(|(k, v)| json!([k, v]))
        .collect();
    let mut data = Map::new();
    data.insert("event_id".into(), json!(event_id));
    data.insert("type".into(), json!("transaction"));
    data.insert("transaction".into(), json!(transaction.name));
    data.insert("title".into(), json!(problem.title));
    data.insert("culprit".into(), json!(transaction.name));
    data.insert("metadata".into(), metadata.clone());
    data.insert("platform".into(), json!(transaction.platform));
    if let Some(environment) = &transaction.environment {
        data.insert("environment".into(), json!(environment));
    }
    if let Some(release) = &transaction.release {
        data.insert("release".into(), json!(release));
    }
    data.insert("tags".into(), Value::Array(tags));
    data.insert("contexts".into(), contexts);
    data.insert("start_timestamp".into(), json!(transaction.start));
    data.insert("timestamp".into(), json!(end));
    data.insert("received".into(), json!(received));
    data.insert(
        "spans".into(),
        Value::Array(shown.iter().map(|s| span_json(s)).collect()),
    );
    data.insert(
        "occurrence".into(),
        json!({
            "type": problem.issue_type,
            // The transaction the problem was found in, as Sentry's occurrences name it.
            "event_id": transaction.event_id,
            "issue_title": problem.title,
            "subtitle": problem.statement,
            "evidence_data": {
                "op": problem.op,
                "parent_span_ids": problem.parent_span_ids,
                "offender_span_ids": offender_ids,
                "cause_span_ids": problem.cause_span_ids,
                "transaction_name": transaction.name,
                "num_repeating_spans": problem.offenders.len().to_string(),
                "repeating_spans": repeating,
                "repeating_spans_compact": problem.statement,
                "total_duration_ms": total,
            },
            "evidence_display": [{
                "name": "Offending Spans",
                "value": repeating,
                "important": true,
            }],
        }),
    );
    data.insert("hashes".into(), json!([hash]));
    data.insert("grouping_config".into(), json!({"id": "performance"}));

    ProcessedEvent {
        event_id,
        event_type: problem.issue_type.to_owned(),
        timestamp: end,
        received,
        level: "info".to_owned(),
        platform: transaction.platform.clone(),
        title: problem.title.to_owned(),
        culprit: transaction.name.clone(),
        metadata,
        hashes: vec![hash],
        grouping_variant: "performance".to_owned(),
        environment: transaction.environment.clone(),
        release: transaction.release.clone(),
        transaction: Some(transaction.name.clone()),
        user_tag: transaction.user_tag.clone(),
        trace_id: Some(transaction.trace_id.clone()),
        tags: transaction.tags.clone(),
        is_unhandled: false,
        message: problem.statement,
        // Occurrences are few (one per problem found); built as a `Value` and written once.
        data: JsonText::of(&Value::Object(data)),
    }
}

/// A span in Sentry's transaction-event span shape, with its group's 16-hex `hash`.
fn span_json(span: &NewSpan) -> Value {
    let mut out = json!({
        "trace_id": span.trace_id,
        "span_id": span.span_id,
        "op": span.op,
        "description": span.description,
        "start_timestamp": span.start,
        "timestamp": span.start + span.duration_ms / 1000.0,
        "status": span.status,
        "hash": &md5_hex(&[&span.group])[..16],
    });
    if let Some(parent) = &span.parent_span_id {
        out["parent_span_id"] = json!(parent);
    }
    if !span.data.is_null() {
        out["data"] = span.data.clone();
    }
    out
}
