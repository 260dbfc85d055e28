//! Where time goes in spans, in PostgreSQL: span totals by op (and group), summed by the
//! database per read of the [`Plan`] (span rows, span rollups) and the reads added up here.

use std::collections::{BTreeMap, HashMap};

use super::super::sql::{self, get};
use super::super::PgStore;
use super::aggregates::run_reads;
use crate::query::transaction_filter::{Filter, Table};
use crate::query::transaction_reads::{rank_spans, SpanGroup, SpanTotals};
use crate::query::{Dialect, Statement};
use crate::rollup::{Plan, Read};
use crate::{SpanAggregate, StoreResult, TransactionQuery};

/// The statement of one read, summed by op and group, with what it is for.
fn span_read(
    query: &TransactionQuery,
    read: Read,
    by_group: bool,
    op_prefix: Option<&str>,
) -> (Statement, &'static str) {
    let mut filter = Filter::of_read(Dialect::Postgres, query, Table::Spans, read);
    let alias = match read {
        Read::Rows { .. } => "s",
        Read::Rollup { .. } => "r",
    };
    if let Some(prefix) = op_prefix {
        let prefix = filter.bind(prefix);
        filter.and(&format!("starts_with({alias}.op, {prefix})"));
    }
    let group = if by_group {
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

pub(in crate::postgres) async fn span_aggregates(
    store: &PgStore,
    query: &TransactionQuery,
    by_group: bool,
    op_prefix: Option<&str>,
    limit: u64,
) -> StoreResult<Vec<SpanAggregate>> {
    let plan = Plan::new(&[(query.since, query.until)], !query.conditions.is_empty());
    // One range: every read belongs to it, so each read is summed by the database.
    let statements: Vec<(Statement, &str)> = plan
        .reads()
        .into_iter()
        .map(|read| span_read(query, read, by_group, op_prefix))
        .collect();
    let client = store.client().await?;
    let results = run_reads(&client, &statements).await?;
    let mut groups: BTreeMap<SpanGroup, SpanTotals> = BTreeMap::new();
    for rows in results {
        for row in &rows {
            groups
                .entry((get(row, 0)?, get(row, 1)?))
                .or_default()
                .add_sums(row)?;
        }
    }
    let ranked = rank_spans(groups, limit);

    let texts: HashMap<(i64, String), String> = if by_group && !ranked.is_empty() {
        let projects: Vec<i64> = ranked.iter().map(|(_, t)| t.project_id).collect();
        let hashes: Vec<&str> = ranked.iter().map(|((_, hash), _)| hash.as_str()).collect();
        sql::query(
            &client,
            "SELECT g.project_id, g.group_hash, g.normalized
             FROM span_groups g JOIN UNNEST($1::BIGINT[], $2::TEXT[]) AS u(project_id, hash)
                 ON g.project_id = u.project_id AND g.group_hash = u.hash",
            &[&projects, &hashes],
            "naming span groups",
        )
        .await?
        .iter()
        .map(|row| Ok(((get(row, 0)?, get(row, 1)?), get(row, 2)?)))
        .collect::<StoreResult<_>>()?
    } else {
        HashMap::new()
    };
    Ok(ranked
        .into_iter()
        .map(|((op, hash), totals)| SpanAggregate {
            group: texts
                .get(&(totals.project_id, hash))
                .cloned()
                .unwrap_or_default(),
            op,
            count: totals.count,
            total_ms: totals.total_ms,
            transactions: totals.segments,
        })
        .collect())
}
