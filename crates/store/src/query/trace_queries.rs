//! The trace queries a backend answers from its reads (a page of transactions, aggregates, a
//! series, a duration histogram, span totals), written once over [`RunReads`]: what a backend
//! does its own way is only running the statements of [`super::transaction_reads`] and handing
//! their rows over, so the queries' arguments, checks and results cannot drift apart.

use std::collections::{BTreeMap, HashMap};

use async_trait::async_trait;

use super::transaction_reads::{
    bucket_ranges, check_histogram_buckets, finish, list, rank_spans, series, RangeSummaries,
    SpanGroup, SpanTotals,
};
use super::{Dialect, Param, Statement};
use crate::rollup::{self, Plan};
use crate::rows::{TransactionWithData, SPAN_COLUMNS};
use crate::{
    SavedSpans, SpanAggregate, SpanBatch, StoreResult, StoredSpan, StoredTransaction,
    TransactionAggregate, TransactionQuery, TransactionSort, UnixTime,
};

/// The summaries to read: one per group (per project and transaction name when
/// `by_transaction`, else one) per range.
pub(crate) struct SummaryReads {
    pub query: TransactionQuery,
    pub ranges: Vec<(Option<UnixTime>, Option<UnixTime>)>,
    pub by_transaction: bool,
}

impl SummaryReads {
    pub(crate) fn plan(&self) -> Plan {
        Plan::new(&self.ranges, !self.query.conditions.is_empty())
    }
}

/// The span totals to read: by op, and by group too when `by_group` (else the group is `""`),
/// of the spans whose op starts with `op_prefix`.
pub(crate) struct SpanReads {
    pub query: TransactionQuery,
    pub by_group: bool,
    pub op_prefix: Option<String>,
}

/// The plan of the query's one range: every read belongs to it.
pub(crate) fn plan_of(query: &TransactionQuery) -> Plan {
    Plan::new(&[(query.since, query.until)], !query.conditions.is_empty())
}

impl SpanReads {
    /// The op is one the reads want.
    pub(crate) fn wants(&self, op: &str) -> bool {
        self.op_prefix
            .as_deref()
            .is_none_or(|prefix| op.starts_with(prefix))
    }
}

/// What a backend runs for the trace queries, and for the rest of [`crate::Traces`]' provided
/// methods.
#[async_trait]
pub(crate) trait RunReads: Sync {
    /// The SQL the backend speaks.
    fn dialect(&self) -> Dialect;
    /// The backend's transaction columns (of `transactions t`), as its row reader expects.
    fn transaction_columns(&self) -> &'static str;
    /// The backend's text of a span's group (of `span_groups g`), after [`SPAN_COLUMNS`].
    fn span_group(&self) -> &'static str;

    /// Writes a batch that is not empty (see [`crate::Traces::save_spans`]).
    async fn write_spans(&self, batch: SpanBatch) -> StoreResult<SavedSpans>;
    /// The transactions of a statement of the transaction columns and `t.data`, with their data.
    async fn read_transactions_with_data(
        &self,
        statement: Statement,
    ) -> StoreResult<Vec<TransactionWithData>>;
    /// The spans of a statement of [`SPAN_COLUMNS`] and [`RunReads::span_group`].
    async fn read_spans(&self, statement: Statement) -> StoreResult<Vec<StoredSpan>>;

    /// The summaries of each range (see [`super::transaction_reads::Summaries`]).
    async fn read_summaries(&self, reads: SummaryReads) -> StoreResult<RangeSummaries>;
    /// Each duration of the query's transactions with its count (see
    /// [`super::transaction_reads::add_durations`]).
    async fn read_durations(&self, query: TransactionQuery) -> StoreResult<Vec<(f64, u64)>>;
    /// The transactions (without data) of a [`list`] statement.
    async fn read_transactions(&self, page: Statement) -> StoreResult<Vec<StoredTransaction>>;
    async fn read_span_totals(&self, reads: SpanReads) -> StoreResult<SpanTotalsByGroup>;
    /// The normalized text of span groups (project, group hash); unknown ones are left out.
    async fn read_span_group_names(&self, groups: Vec<(i64, String)>) -> StoreResult<GroupNames>;
}

/// Span totals by `(op, group hash)`.
pub(crate) type SpanTotalsByGroup = BTreeMap<SpanGroup, SpanTotals>;
/// Span groups' normalized text by `(project, group hash)`.
pub(crate) type GroupNames = HashMap<(i64, String), String>;

/// Writes the batch; an empty one is not sent to the database.
pub(crate) async fn save_spans(store: &dyn RunReads, batch: SpanBatch) -> StoreResult<SavedSpans> {
    if batch.transactions.is_empty() && batch.spans.is_empty() {
        return Ok(SavedSpans::default());
    }
    store.write_spans(batch).await
}

/// One transaction with its data.
pub(crate) async fn transaction_by_event_id(
    store: &dyn RunReads,
    project_id: i64,
    event_id: &str,
) -> StoreResult<Option<StoredTransaction>> {
    let dialect = store.dialect();
    let statement = Statement {
        sql: format!(
            "SELECT {}, t.data FROM transactions t WHERE t.project_id = {} AND t.event_id = {}",
            store.transaction_columns(),
            dialect.placeholder(1),
            dialect.placeholder(2)
        ),
        params: vec![Param::Int(project_id), Param::from(event_id)],
    };
    let found = store.read_transactions_with_data(statement).await?;
    Ok(found
        .into_iter()
        .next()
        .map(|TransactionWithData(transaction)| transaction))
}

/// The spans of one segment, by start time.
pub(crate) async fn segment_spans(
    store: &dyn RunReads,
    project_id: i64,
    trace_id: &str,
    segment_id: &str,
) -> StoreResult<Vec<StoredSpan>> {
    let dialect = store.dialect();
    let statement = Statement {
        sql: format!(
            "SELECT {SPAN_COLUMNS}, {} FROM spans s
             LEFT JOIN span_groups g ON g.project_id = s.project_id AND g.group_hash = s.group_hash
             WHERE s.project_id = {} AND s.trace_id = {} AND s.segment_id = {}
             ORDER BY s.start_ts, s.id",
            store.span_group(),
            dialect.placeholder(1),
            dialect.placeholder(2),
            dialect.placeholder(3)
        ),
        params: vec![
            Param::Int(project_id),
            Param::from(trace_id),
            Param::from(segment_id),
        ],
    };
    store.read_spans(statement).await
}

/// One page of the query's transactions, without their data.
pub(crate) async fn list_transactions(
    store: &dyn RunReads,
    query: &TransactionQuery,
    sort: TransactionSort,
    limit: u64,
    offset: u64,
) -> StoreResult<Vec<StoredTransaction>> {
    let page = list(
        store.dialect(),
        store.transaction_columns(),
        query,
        sort,
        limit,
        offset,
    );
    store.read_transactions(page).await
}

/// The query's transactions summarized, as one group or by project and transaction name.
pub(crate) async fn aggregate_transactions(
    store: &dyn RunReads,
    query: &TransactionQuery,
    by_transaction: bool,
) -> StoreResult<Vec<TransactionAggregate>> {
    let reads = SummaryReads {
        query: query.clone(),
        ranges: vec![(query.since, query.until)],
        by_transaction,
    };
    let mut ranges = store.read_summaries(reads).await?;
    Ok(ranges.pop().map(finish).unwrap_or_default())
}

/// The query's transactions summarized per `interval_secs` bucket.
pub(crate) async fn transaction_series(
    store: &dyn RunReads,
    query: &TransactionQuery,
    interval_secs: u64,
) -> StoreResult<Vec<(UnixTime, TransactionAggregate)>> {
    let buckets = rollup::series_ranges(query, interval_secs)?;
    let reads = SummaryReads {
        query: query.clone(),
        ranges: bucket_ranges(&buckets),
        by_transaction: false,
    };
    Ok(series(&buckets, store.read_summaries(reads).await?))
}

/// The query's durations in `buckets` bins of equal width: `(from, to, count)`.
pub(crate) async fn duration_histogram(
    store: &dyn RunReads,
    query: &TransactionQuery,
    buckets: u32,
) -> StoreResult<Vec<(f64, f64, u64)>> {
    check_histogram_buckets(buckets)?;
    let points = store.read_durations(query.clone()).await?;
    Ok(rollup::equal_width_bins(&points, buckets))
}

/// The `limit` span groups (by op, and by group when `by_group`) with the most time in them.
pub(crate) async fn span_aggregates(
    store: &dyn RunReads,
    query: &TransactionQuery,
    by_group: bool,
    op_prefix: Option<&str>,
    limit: u64,
) -> StoreResult<Vec<SpanAggregate>> {
    let reads = SpanReads {
        query: query.clone(),
        by_group,
        op_prefix: op_prefix.map(str::to_owned),
    };
    let ranked = rank_spans(store.read_span_totals(reads).await?, limit);
    let names = if by_group && !ranked.is_empty() {
        let groups = ranked
            .iter()
            .map(|((_, hash), totals)| (totals.project_id, hash.clone()))
            .collect();
        store.read_span_group_names(groups).await?
    } else {
        GroupNames::new()
    };
    Ok(ranked
        .into_iter()
        .map(|((op, hash), totals)| SpanAggregate {
            group: names
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
