//! Discover's reads, written once for both backends: error events (`events e`, with their
//! issue `i` for `error.type`/`error.value` and short ids) listed, grouped or bucketed, and
//! spans (segment root spans from `transactions`, the rest from `spans`) listed.
//!
//! Grouped reads always select [`MAX_GROUP_COLUMNS`] key columns (unused ones `NULL`), so one
//! record reader reads every grouping; keys are text whatever the column's type.

#[cfg(test)]
use super::Param;
use super::{sql_int, Builder, Dialect, Statement};
use crate::rows::{Columns, Record};
use crate::shared::EVENT_COLUMNS;
use crate::{
    Comparison, ErrorBucket, ErrorColumn, ErrorCondition, ErrorGroup, ErrorOrder, ErrorQuery,
    SpanColumn, SpanCondition, SpanOrder, SpanQuery, SpanRow, StoreError, StoreResult,
    MAX_GROUP_COLUMNS,
};

/// The SQL of a column of `events e` (joined to `issues i`), as text where it is compared or
/// grouped as text.
fn error_column(q: &mut Builder, column: &ErrorColumn) -> String {
    match column {
        ErrorColumn::EventId => "e.event_id".into(),
        ErrorColumn::Title => "e.title".into(),
        ErrorColumn::Message => "e.message".into(),
        ErrorColumn::IssueId => "CAST(e.issue_id AS TEXT)".into(),
        ErrorColumn::ProjectId => "CAST(e.project_id AS TEXT)".into(),
        ErrorColumn::Level => "e.level".into(),
        ErrorColumn::Culprit => "e.culprit".into(),
        ErrorColumn::Environment => "e.environment".into(),
        ErrorColumn::Release => "e.release".into(),
        ErrorColumn::Transaction => "e.transaction_name".into(),
        ErrorColumn::User => "e.user_tag".into(),
        ErrorColumn::Trace => "e.trace_id".into(),
        ErrorColumn::Platform => "e.platform".into(),
        ErrorColumn::EventType => "e.event_type".into(),
        ErrorColumn::IssueStatus => "i.status".into(),
        ErrorColumn::ErrorType => q.dialect.json_text("i.metadata", "type"),
        ErrorColumn::ErrorValue => q.dialect.json_text("i.metadata", "value"),
        ErrorColumn::Tag(key) => {
            let key = q.bind(key.as_str());
            match q.dialect {
                Dialect::Sqlite => format!(
                    "(SELECT j.value ->> 1 FROM json_each(e.tags) j WHERE j.value ->> 0 = {key} LIMIT 1)"
                ),
                Dialect::Postgres => format!(
                    "(SELECT j ->> 1 FROM jsonb_array_elements(e.tags::JSONB) j WHERE j ->> 0 = {key} LIMIT 1)"
                ),
            }
        }
    }
}

/// `*` as any text, the rest literal: a LIKE pattern escaped by `\`.
fn like_pattern(wildcard: &str) -> String {
    let mut out = String::new();
    for c in wildcard.chars() {
        match c {
            '%' | '_' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            '*' => out.push('%'),
            _ => out.push(c),
        }
    }
    out
}

fn negate(condition: String, negated: bool) -> String {
    if negated {
        format!("NOT COALESCE({condition}, FALSE)")
    } else {
        condition
    }
}

/// `FROM … WHERE …` of an error query.
fn error_from_where(q: &mut Builder, query: &ErrorQuery) -> StoreResult<()> {
    q.push(" FROM events e");
    q.push(&q.dialect.organization_join("e.project_id"));
    q.push(" LEFT JOIN issues i ON i.id = e.issue_id WHERE ");
    let organization = q
        .dialect
        .in_organization(q, "e.project_id", query.organization_id);
    q.push(&organization);
    if !query.project_ids.is_empty() {
        let projects = q.in_ints("e.project_id", &query.project_ids);
        q.and(&projects);
    }
    let (since, until) = (q.bind(query.since), q.bind(query.until));
    q.and(&format!("e.timestamp >= {since} AND e.timestamp < {until}"));
    for condition in &query.conditions {
        let sql = match condition {
            ErrorCondition::Equals {
                column,
                values,
                negated,
            } => {
                if values.is_empty() {
                    return Err(StoreError::Invalid("an empty list of values".into()));
                }
                let column = error_column(q, column);
                let test = q.in_texts(&column, values);
                negate(test, *negated)
            }
            ErrorCondition::Matches {
                column,
                pattern,
                negated,
            } => {
                let column = error_column(q, column);
                let pattern = q.bind(like_pattern(pattern));
                negate(q.dialect.like_any_case(&column, &pattern), *negated)
            }
            ErrorCondition::Has { column, negated } => {
                let column = error_column(q, column);
                let has = format!("COALESCE({column}, '') <> ''");
                if *negated {
                    format!("NOT ({has})")
                } else {
                    has
                }
            }
            ErrorCondition::Issues { short_ids, negated } => {
                if short_ids.is_empty() {
                    return Err(StoreError::Invalid("an empty list of issues".into()));
                }
                let tests: Vec<String> = short_ids
                    .iter()
                    .map(|(project, number)| {
                        let (project, number) = (q.bind(*project), q.bind(*number));
                        format!("(i.project_id = {project} AND i.short_id = {number})")
                    })
                    .collect();
                negate(format!("({})", tests.join(" OR ")), *negated)
            }
            ErrorCondition::Text(text) => {
                let pattern = q.bind(format!("%{}%", like_pattern(text)));
                format!(
                    "({} OR {})",
                    q.dialect.like_any_case("e.title", &pattern),
                    q.dialect.like_any_case("e.message", &pattern)
                )
            }
        };
        q.and(&sql);
    }
    Ok(())
}

/// A page of error events by [`EVENT_COLUMNS`] (of `e`).
pub(crate) fn error_events(
    dialect: Dialect,
    query: &ErrorQuery,
    order: ErrorOrder,
    limit: u64,
    offset: u64,
) -> StoreResult<Statement> {
    let mut q = Builder::new(dialect);
    let columns: Vec<String> = EVENT_COLUMNS
        .split(',')
        .map(|c| format!("e.{}", c.trim()))
        .collect();
    q.push(&format!("SELECT {}", columns.join(", ")));
    error_from_where(&mut q, query)?;
    let direction = match order {
        ErrorOrder::Newest => "DESC",
        ErrorOrder::Oldest => "ASC",
    };
    let (limit, offset) = (q.bind(sql_int(limit)), q.bind(sql_int(offset)));
    q.push(&format!(
        " ORDER BY e.timestamp {direction}, e.id {direction} LIMIT {limit} OFFSET {offset}"
    ));
    Ok(q.finish())
}

/// The key columns of a grouped read: `by`'s, then `NULL`s up to [`MAX_GROUP_COLUMNS`].
fn key_columns(q: &mut Builder, by: &[ErrorColumn]) -> StoreResult<Vec<String>> {
    if by.len() > MAX_GROUP_COLUMNS {
        return Err(StoreError::Invalid(format!(
            "at most {MAX_GROUP_COLUMNS} columns can be grouped by"
        )));
    }
    let mut keys: Vec<String> = by.iter().map(|c| error_column(q, c)).collect();
    keys.resize(MAX_GROUP_COLUMNS, "CAST(NULL AS TEXT)".into());
    Ok(keys)
}

/// Aggregates per group of `by` (one over everything for none): [`GroupRow`]s.
pub(crate) fn error_groups(
    dialect: Dialect,
    query: &ErrorQuery,
    by: &[ErrorColumn],
) -> StoreResult<Statement> {
    let mut q = Builder::new(dialect);
    let keys = key_columns(&mut q, by)?;
    q.push(&format!(
        "SELECT COUNT(*), COUNT(DISTINCT e.user_tag), COALESCE(MIN(e.timestamp), 0.0), \
         COALESCE(MAX(e.timestamp), 0.0), {}",
        keys.join(", ")
    ));
    error_from_where(&mut q, query)?;
    if !by.is_empty() {
        let positions: Vec<String> = (5..5 + by.len()).map(|n| n.to_string()).collect();
        q.push(&format!(" GROUP BY {}", positions.join(", ")));
    }
    Ok(q.finish())
}

/// Events per `interval_secs` bucket from `query.since` (and per group of `by`):
/// [`BucketRow`]s, the bucket as its index.
pub(crate) fn error_series(
    dialect: Dialect,
    query: &ErrorQuery,
    interval_secs: u64,
    by: &[ErrorColumn],
) -> StoreResult<Statement> {
    if interval_secs == 0 {
        return Err(StoreError::Invalid("an interval of 0 seconds".into()));
    }
    let mut q = Builder::new(dialect);
    let since = q.bind(query.since);
    let width = q.bind(interval_secs as f64);
    // Non-negative (timestamp >= since), so truncating is flooring.
    let bucket = match dialect {
        Dialect::Sqlite => format!("CAST((e.timestamp - {since}) / {width} AS INTEGER)"),
        Dialect::Postgres => format!("CAST(floor((e.timestamp - {since}) / {width}) AS BIGINT)"),
    };
    let keys = key_columns(&mut q, by)?;
    q.push(&format!("SELECT {bucket}, COUNT(*), {}", keys.join(", ")));
    error_from_where(&mut q, query)?;
    let positions: Vec<String> = (1..=1)
        .chain(3..3 + by.len())
        .map(|n| n.to_string())
        .collect();
    q.push(&format!(" GROUP BY {}", positions.join(", ")));
    Ok(q.finish())
}

/// Whether any issue of the projects (all of the organization's for none) has the tag `key`.
pub(crate) fn tag_key_exists(
    dialect: Dialect,
    organization_id: i64,
    project_ids: &[i64],
    key: &str,
) -> Statement {
    let mut q = Builder::new(dialect);
    q.push(
        "SELECT COUNT(*) FROM (SELECT 1 FROM issue_tag_values t JOIN issues i ON i.id = t.issue_id",
    );
    q.push(&dialect.organization_join("i.project_id"));
    q.push(" WHERE ");
    let organization = dialect.in_organization(&mut q, "i.project_id", organization_id);
    q.push(&organization);
    if !project_ids.is_empty() {
        let projects = q.in_ints("i.project_id", project_ids);
        q.and(&projects);
    }
    let key = q.bind(key);
    q.and(&format!("t.key = {key}"));
    q.push(" LIMIT 1) found");
    q.finish()
}

/// The count [`tag_key_exists`] reads.
pub(crate) struct Found(pub i64);

impl Record for Found {
    fn read(row: &impl Columns) -> StoreResult<Self> {
        Ok(Found(row.column(0)?))
    }
}

/// One row of [`error_groups`].
pub(crate) struct GroupRow(pub ErrorGroup);

impl Record for GroupRow {
    fn read(row: &impl Columns) -> StoreResult<Self> {
        let count: i64 = row.column(0)?;
        let users: i64 = row.column(1)?;
        let mut keys = Vec::with_capacity(MAX_GROUP_COLUMNS);
        for index in 4..4 + MAX_GROUP_COLUMNS {
            keys.push(row.column::<Option<String>>(index)?);
        }
        Ok(GroupRow(ErrorGroup {
            keys,
            count: u64::try_from(count).unwrap_or(0),
            users: u64::try_from(users).unwrap_or(0),
            first_seen: row.column(2)?,
            last_seen: row.column(3)?,
        }))
    }
}

/// One row of [`error_series`]: the bucket is its index until [`BucketRow::at`] places it.
pub(crate) struct BucketRow {
    index: i64,
    count: i64,
    keys: Vec<Option<String>>,
}

impl BucketRow {
    pub(crate) fn at(self, since: f64, interval_secs: u64, groups: usize) -> ErrorBucket {
        let mut keys = self.keys;
        keys.truncate(groups);
        ErrorBucket {
            bucket: since + self.index as f64 * interval_secs as f64,
            keys,
            count: u64::try_from(self.count).unwrap_or(0),
        }
    }
}

impl Record for BucketRow {
    fn read(row: &impl Columns) -> StoreResult<Self> {
        let mut keys = Vec::with_capacity(MAX_GROUP_COLUMNS);
        for index in 2..2 + MAX_GROUP_COLUMNS {
            keys.push(row.column::<Option<String>>(index)?);
        }
        Ok(BucketRow {
            index: row.column(0)?,
            count: row.column(1)?,
            keys,
        })
    }
}

/// The groups of [`error_groups`]' rows, their keys cut to the `by` columns asked.
pub(crate) fn groups(rows: Vec<GroupRow>, by: usize) -> Vec<ErrorGroup> {
    rows.into_iter()
        .map(|GroupRow(mut group)| {
            group.keys.truncate(by);
            group
        })
        .collect()
}

/// The buckets of [`error_series`]' rows, placed in time, oldest first.
pub(crate) fn buckets(
    rows: Vec<BucketRow>,
    since: f64,
    interval_secs: u64,
    by: usize,
) -> Vec<ErrorBucket> {
    let mut buckets: Vec<ErrorBucket> = rows
        .into_iter()
        .map(|row| row.at(since, interval_secs, by))
        .collect();
    buckets.sort_by(|a, b| a.bucket.total_cmp(&b.bucket));
    buckets
}

/// Segment root spans and the spans below them, in one shape. PostgreSQL's text columns
/// are given one collation, so a union of a `"C"` column and a default one can be compared.
fn span_union(dialect: Dialect) -> String {
    let c = match dialect {
        Dialect::Sqlite => "",
        Dialect::Postgres => " COLLATE \"C\"",
    };
    format!(
        "(SELECT project_id, trace_id, span_id, parent_span_id, op{c} AS op, \
         description{c} AS description, transaction_name{c} AS transaction_name, status, \
         start_ts, duration_ms, CAST(0 AS BIGINT) AS is_segment FROM spans \
         UNION ALL SELECT project_id, trace_id, span_id, parent_span_id, op{c}, name{c}, \
         name{c}, status, start_ts, duration_ms, 1 FROM transactions) x"
    )
}

fn span_column(column: SpanColumn) -> &'static str {
    match column {
        SpanColumn::SpanId => "x.span_id",
        SpanColumn::Trace => "x.trace_id",
        SpanColumn::Op => "x.op",
        SpanColumn::Description => "x.description",
        SpanColumn::Transaction => "x.transaction_name",
        SpanColumn::Status => "x.status",
        SpanColumn::ProjectId => "CAST(x.project_id AS TEXT)",
        SpanColumn::IsTransaction => "CASE WHEN x.is_segment = 1 THEN 'true' ELSE 'false' END",
    }
}

/// A page of [`SpanRow`]s.
pub(crate) fn span_rows(
    dialect: Dialect,
    query: &SpanQuery,
    order: SpanOrder,
    limit: u64,
    offset: u64,
) -> StoreResult<Statement> {
    let mut q = Builder::new(dialect);
    q.push(&format!(
        "SELECT x.project_id, x.trace_id, x.span_id, x.parent_span_id, x.op, x.description, \
         x.transaction_name, x.status, x.start_ts, x.duration_ms, x.is_segment FROM {}",
        span_union(dialect)
    ));
    q.push(&dialect.organization_join("x.project_id"));
    q.push(" WHERE ");
    let organization = dialect.in_organization(&mut q, "x.project_id", query.organization_id);
    q.push(&organization);
    if !query.project_ids.is_empty() {
        let projects = q.in_ints("x.project_id", &query.project_ids);
        q.and(&projects);
    }
    let (since, until) = (q.bind(query.since), q.bind(query.until));
    q.and(&format!("x.start_ts >= {since} AND x.start_ts < {until}"));
    for condition in &query.conditions {
        let sql = match condition {
            SpanCondition::Equals {
                column,
                values,
                negated,
            } => {
                if values.is_empty() {
                    return Err(StoreError::Invalid("an empty list of values".into()));
                }
                negate(q.in_texts(span_column(*column), values), *negated)
            }
            SpanCondition::Matches {
                column,
                pattern,
                negated,
            } => {
                let pattern = q.bind(like_pattern(pattern));
                negate(
                    dialect.like_any_case(span_column(*column), &pattern),
                    *negated,
                )
            }
            SpanCondition::Duration { op, ms } => {
                let ms = q.bind(*ms);
                let op = match op {
                    Comparison::Less => "<",
                    Comparison::LessOrEqual => "<=",
                    Comparison::Greater => ">",
                    Comparison::GreaterOrEqual => ">=",
                    Comparison::Equal => "=",
                };
                format!("x.duration_ms {op} {ms}")
            }
        };
        q.and(&sql);
    }
    let order = match order {
        SpanOrder::Newest => "x.start_ts DESC",
        SpanOrder::Oldest => "x.start_ts ASC",
        SpanOrder::Slowest => "x.duration_ms DESC",
        SpanOrder::Fastest => "x.duration_ms ASC",
    };
    let (limit, offset) = (q.bind(sql_int(limit)), q.bind(sql_int(offset)));
    q.push(&format!(
        " ORDER BY {order}, x.span_id LIMIT {limit} OFFSET {offset}"
    ));
    Ok(q.finish())
}

/// One row of [`span_rows`].
pub(crate) struct SpanRecord(pub SpanRow);

impl Record for SpanRecord {
    fn read(row: &impl Columns) -> StoreResult<Self> {
        let is_segment: i64 = row.column(10)?;
        Ok(SpanRecord(SpanRow {
            project_id: row.column(0)?,
            trace_id: row.column(1)?,
            span_id: row.column(2)?,
            parent_span_id: row.column(3)?,
            op: row.column(4)?,
            description: row.column(5)?,
            transaction: row.column(6)?,
            status: row.column(7)?,
            start: row.column(8)?,
            duration_ms: row.column(9)?,
            is_transaction: is_segment == 1,
        }))
    }
}

/// The statement's parameters, for tests that look at what was bound.
#[cfg(test)]
fn params(statement: &Statement) -> &[Param] {
    &statement.params
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(conditions: Vec<ErrorCondition>) -> ErrorQuery {
        ErrorQuery {
            organization_id: 1,
            project_ids: vec![],
            since: 0.0,
            until: 10.0,
            conditions,
        }
    }

    #[test]
    fn wildcards_become_escaped_like_patterns() {
        assert_eq!(like_pattern("*time_out%*"), "%time\\_out\\%%");
    }

    #[test]
    fn groups_always_select_eight_keys_and_group_by_the_asked_ones() {
        let statement = error_groups(
            Dialect::Postgres,
            &query(vec![]),
            &[ErrorColumn::IssueId, ErrorColumn::Tag("browser".into())],
        )
        .expect("statement");
        assert!(
            statement.sql.ends_with("GROUP BY 5, 6"),
            "{}",
            statement.sql
        );
        assert_eq!(statement.sql.matches("CAST(NULL AS TEXT)").count(), 6);
        assert!(params(&statement).contains(&Param::Text("browser".into())));
    }

    #[test]
    fn empty_value_lists_are_refused() {
        let empty = ErrorCondition::Equals {
            column: ErrorColumn::Level,
            values: vec![],
            negated: false,
        };
        assert!(error_events(
            Dialect::Sqlite,
            &query(vec![empty]),
            ErrorOrder::Newest,
            1,
            0
        )
        .is_err());
    }
}
