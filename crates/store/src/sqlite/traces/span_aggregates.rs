//! Where time goes in spans, in SQLite: span totals by op (and group), read from span rows and
//! span rollups as the plan says and added up here, the op prefix tested per row.

use std::collections::{BTreeMap, HashSet};

use rusqlite::{params, Connection, OptionalExtension};

use super::super::error::DbContext;
use super::aggregates::for_each_row;
use crate::query::trace_queries::{plan_of, GroupNames, SpanReads, SpanTotalsByGroup};
use crate::query::transaction_filter::{Filter, Table};
use crate::query::transaction_reads::SpanGroup;
use crate::query::{Cells, Dialect, Statement};
use crate::rollup::Read;
use crate::{StoreResult, TransactionQuery};

/// The statement of one read: each span row as `op, group_hash, project_id, duration_ms,
/// segment, start_ts`, or each span rollup row as `op, group_hash, project_id, count,
/// total_ms, segments, start`.
fn span_read(query: &TransactionQuery, read: Read) -> Statement {
    let filter = Filter::of_read(Dialect::Sqlite, query, Table::Spans, read);
    let (columns, table) = match read {
        Read::Rows { from, to } => {
            // By time: the planner would otherwise walk every span (the unique index leads
            // with the trace, which a range does not name).
            let index = if from.is_some() || to.is_some() {
                "INDEXED BY spans_start"
            } else {
                ""
            };
            (
                "s.op, s.group_hash, s.project_id, s.duration_ms, s.trace_id || s.segment_id, \
                 s.start_ts",
                filter.from(&format!(
                    "spans s {index} LEFT JOIN transactions t ON t.trace_id = s.trace_id \
                     AND t.span_id = s.segment_id AND t.project_id = s.project_id"
                )),
            )
        }
        Read::Rollup { .. } => (
            "r.op, r.group_hash, r.project_id, r.count, r.total_ms, r.segments, r.start",
            filter.from("span_rollups r"),
        ),
    };
    filter.statement(|filter| format!("SELECT {columns} FROM {table} WHERE {filter}"))
}

/// Span totals by op (and group), added up from span rows and rollups.
pub(super) fn totals(conn: &Connection, reads: &SpanReads) -> StoreResult<SpanTotalsByGroup> {
    let plan = plan_of(&reads.query);
    let mut groups = SpanTotalsByGroup::new();
    // Segments already counted, per group: a span row counts its segment once.
    let mut seen_segments: BTreeMap<SpanGroup, HashSet<String>> = BTreeMap::new();
    for read in plan.reads() {
        let statement = span_read(&reads.query, read);
        for_each_row(conn, &statement, "reading spans", |row| {
            let in_range = match read {
                Read::Rows { .. } => plan.range_of_row(row.real(5)?),
                Read::Rollup { granularity, .. } => plan.range_of_rollup(granularity, row.int(6)?),
            };
            let op = row.text(0)?;
            if in_range.is_none() || !reads.wants(&op) {
                return Ok(());
            }
            let group = if reads.by_group {
                row.text(1)?
            } else {
                String::new()
            };
            let key = (op, group);
            match read {
                Read::Rows { .. } => {
                    let segments = seen_segments.entry(key.clone()).or_default();
                    let totals = groups.entry(key).or_default();
                    totals.project_id = row.int(2)?;
                    totals.count += 1;
                    totals.total_ms += row.real(3)?;
                    totals.segments += u64::from(segments.insert(row.text(4)?));
                }
                Read::Rollup { .. } => groups.entry(key).or_default().add_sums(row)?,
            }
            Ok(())
        })?;
    }
    Ok(groups)
}

/// The normalized text of each span group, one read each (the groups are few: a page).
pub(super) fn group_names(conn: &Connection, groups: &[(i64, String)]) -> StoreResult<GroupNames> {
    let mut normalized = conn
        .prepare_cached(
            "SELECT normalized FROM span_groups WHERE project_id = ?1 AND group_hash = ?2",
        )
        .db("preparing a span group read")?;
    let mut names = GroupNames::new();
    for (project_id, hash) in groups {
        let name: Option<String> = normalized
            .query_row(params![project_id, hash], |row| row.get(0))
            .optional()
            .db("reading a span group")?;
        if let Some(name) = name {
            names.insert((*project_id, hash.clone()), name);
        }
    }
    Ok(names)
}
