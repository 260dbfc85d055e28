//! Where time goes in spans, in PostgreSQL: span totals by op (and group), summed by the
//! database per read of the plan (span rows, span rollups) and the reads added up here.

use deadpool_postgres::GenericClient;

use super::super::sql::{self, get};
use super::aggregates::run_reads;
use crate::query::trace_queries::{plan_of, GroupNames, SpanReads, SpanTotalsByGroup};
use crate::query::transaction_filter::{Filter, Table};
use crate::query::{Dialect, Statement};
use crate::rollup::Read;
use crate::StoreResult;

/// The statement of one read, summed by op and group, with what it is for.
fn span_read(reads: &SpanReads, read: Read) -> (Statement, &'static str) {
    let mut filter = Filter::of_read(Dialect::Postgres, &reads.query, Table::Spans, read);
    let alias = match read {
        Read::Rows { .. } => "s",
        Read::Rollup { .. } => "r",
    };
    if let Some(prefix) = &reads.op_prefix {
        let prefix = filter.bind(prefix.as_str());
        filter.and(&format!("starts_with({alias}.op, {prefix})"));
    }
    let group = if reads.by_group {
        format!("{alias}.group_hash")
    } else {
        "''".to_owned()
    };
    match read {
        Read::Rows { .. } => (
            filter.statement(|filter| {
                format!(
                    "SELECT s.op, {group}, MIN(s.project_id), COUNT(*)::BIGINT,
                         SUM(s.duration_ms),
                         COUNT(DISTINCT s.trace_id || ':' || s.segment_id)::BIGINT
                     FROM spans s LEFT JOIN transactions t
                         ON t.project_id = s.project_id AND t.trace_id = s.trace_id
                        AND t.span_id = s.segment_id
                     WHERE {filter} GROUP BY 1, 2"
                )
            }),
            "reading spans",
        ),
        Read::Rollup { .. } => (
            filter.statement(|filter| {
                format!(
                    "SELECT r.op, {group}, MIN(r.project_id), SUM(r.count)::BIGINT,
                         SUM(r.total_ms), SUM(r.segments)::BIGINT
                     FROM span_rollups r WHERE {filter} GROUP BY 1, 2"
                )
            }),
            "reading span rollups",
        ),
    }
}

/// Span totals by op (and group): each read summed by the database, the reads added up.
pub(super) async fn totals<C: GenericClient>(
    client: &C,
    reads: &SpanReads,
) -> StoreResult<SpanTotalsByGroup> {
    let statements: Vec<(Statement, &str)> = plan_of(&reads.query)
        .reads()
        .into_iter()
        .map(|read| span_read(reads, read))
        .collect();
    let mut groups = SpanTotalsByGroup::new();
    for rows in run_reads(client, &statements).await? {
        for row in &rows {
            groups
                .entry((get(row, 0)?, get(row, 1)?))
                .or_default()
                .add_sums(row)?;
        }
    }
    Ok(groups)
}

/// The normalized text of span groups, in one read.
pub(super) async fn group_names<C: GenericClient>(
    client: &C,
    groups: &[(i64, String)],
) -> StoreResult<GroupNames> {
    let projects: Vec<i64> = groups.iter().map(|(project, _)| *project).collect();
    let hashes: Vec<&str> = groups.iter().map(|(_, hash)| hash.as_str()).collect();
    sql::query(
        client,
        "SELECT g.project_id, g.group_hash, g.normalized
         FROM span_groups g JOIN UNNEST($1::BIGINT[], $2::TEXT[]) AS u(project_id, hash)
             ON g.project_id = u.project_id AND g.group_hash = u.hash",
        &[&projects, &hashes],
        "naming span groups",
    )
    .await?
    .iter()
    .map(|row| Ok(((get(row, 0)?, get(row, 1)?), get(row, 2)?)))
    .collect()
}
