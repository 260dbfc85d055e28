//! The transaction/span filter: a [`TransactionQuery`] (organization, projects, environments,
//! transaction name, time range and tag conditions) as the WHERE clause of a read of
//! transaction rows, span rows or their rollups.
//!
//! Tag conditions are answered from transaction rows only (rollups do not keep tags), so the
//! planner sends a query with conditions to rows. A new condition key with a column of its own
//! is one arm of [`condition_column`].

use super::{Builder, Dialect, Param, Statement};
use crate::rollup::Read;
use crate::{TransactionQuery, UnixTime};

/// What a read fetches: transactions (rows `t`, rollups `transaction_rollups r`) or spans
/// (rows `s` joined to their segment's `t`, rollups `span_rollups r`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Table {
    Transactions,
    Spans,
}

/// The columns a filter tests, per table read.
#[derive(Debug)]
struct Columns {
    pub project: &'static str,
    /// The environment as compared: `""` for none.
    pub environment: &'static str,
    pub name: &'static str,
}

/// The environment of a row's segment: `""` for none, as the rollups have it.
const SEGMENT_ENVIRONMENT: &str = "COALESCE(t.environment, '')";
/// Transaction rows, `transactions t`.
const TRANSACTION_ROWS: Columns = Columns::new("t.project_id", SEGMENT_ENVIRONMENT, "t.name");
/// Span rows, `spans s`, with their segment's transaction row `t` joined.
const SPAN_ROWS: Columns = Columns::new("s.project_id", SEGMENT_ENVIRONMENT, "s.transaction_name");
/// `transaction_rollups r` (the environment is `''` for none there).
const TRANSACTION_ROLLUPS: Columns = Columns::new("r.project_id", "r.environment", "r.name");
/// `span_rollups r`.
const SPAN_ROLLUPS: Columns = Columns::new("r.project_id", "r.environment", "r.transaction_name");

impl Columns {
    const fn new(project: &'static str, environment: &'static str, name: &'static str) -> Columns {
        Columns {
            project,
            environment,
            name,
        }
    }
}

/// A WHERE clause under construction over one table, with its parameters.
#[derive(Debug)]
pub(crate) struct Filter {
    q: Builder,
    columns: &'static Columns,
}

impl Filter {
    /// The query's organization, projects, environments and transaction name.
    fn new(dialect: Dialect, query: &TransactionQuery, columns: &'static Columns) -> Filter {
        let mut q = Builder::new(dialect);
        let Columns {
            project,
            environment,
            name,
        } = columns;
        let organization = dialect.in_organization(&mut q, project, query.organization_id);
        q.push(&organization);
        if !query.project_ids.is_empty() {
            let projects = q.in_ints(project, &query.project_ids);
            q.and(&projects);
        }
        if !query.environments.is_empty() {
            let environments = q.in_texts(environment, &query.environments);
            q.and(&environments);
        }
        if let Some(transaction) = &query.transaction {
            let transaction = q.bind(transaction.as_str());
            q.and(&format!("{name} = {transaction}"));
        }
        Filter { q, columns }
    }

    /// The rows one read of a plan fetches from `table`: rows in `[from, to)` that meet the
    /// query's conditions (span rows: whose segment `t` meets them), or rollup rows (`r`) of
    /// one granularity starting in `[first, end)`.
    pub(crate) fn of_read(
        dialect: Dialect,
        query: &TransactionQuery,
        table: Table,
        read: Read,
    ) -> Filter {
        match read {
            Read::Rows { from, to } => {
                let (columns, start) = match table {
                    Table::Transactions => (&TRANSACTION_ROWS, "t.start_ts"),
                    Table::Spans => (&SPAN_ROWS, "s.start_ts"),
                };
                let mut filter = Filter::new(dialect, query, columns);
                filter.time(start, from, to);
                filter.conditions(query);
                filter
            }
            Read::Rollup {
                granularity,
                first,
                end,
            } => {
                let columns = match table {
                    Table::Transactions => &TRANSACTION_ROLLUPS,
                    Table::Spans => &SPAN_ROLLUPS,
                };
                let mut filter = Filter::new(dialect, query, columns);
                let granularity = filter.bind(granularity);
                let first = filter.bind(first);
                let end = filter.bind(end);
                filter.and(&format!(
                    "r.granularity = {granularity} AND r.start >= {first} AND r.start < {end}"
                ));
                filter
            }
        }
    }

    /// Binds a value; returns its placeholder.
    pub(crate) fn bind(&mut self, value: impl Into<Param>) -> String {
        self.q.bind(value)
    }

    /// Adds a condition.
    pub(crate) fn and(&mut self, condition: &str) {
        self.q.and(condition);
    }

    /// `table` (with its joins) and whatever the dialect joins to test the organization.
    pub(crate) fn from(&self, table: &str) -> String {
        format!(
            "{table}{}",
            self.q.dialect.organization_join(self.columns.project)
        )
    }

    /// The statement `sql`, with `{where}` standing for this filter, and the parameters.
    pub(crate) fn statement(self, sql: impl FnOnce(&str) -> String) -> Statement {
        let sql = sql(&self.q.sql);
        Statement {
            sql,
            params: self.q.params,
        }
    }

    fn time(&mut self, column: &str, from: Option<UnixTime>, to: Option<UnixTime>) {
        if let Some(from) = from {
            let from = self.bind(from);
            self.and(&format!("{column} >= {from}"));
        }
        if let Some(to) = to {
            let to = self.bind(to);
            self.and(&format!("{column} < {to}"));
        }
    }

    /// The tag conditions on transaction `t`'s columns and tags. A row without the column's
    /// value has `""`: `!release:x` keeps it.
    fn conditions(&mut self, query: &TransactionQuery) {
        let dialect = self.q.dialect;
        for (key, value, negated) in &query.conditions {
            let test = match condition_column(key) {
                Some(column) => {
                    let value = self.bind(value.as_str());
                    format!("COALESCE({column}, '') = {value}")
                }
                None => dialect.has_pair(&mut self.q, "t.tags", key, value),
            };
            self.and(&if *negated {
                format!("NOT {test}")
            } else {
                test
            });
        }
    }
}

/// The column of transaction `t` a condition key is answered from; other keys are tags.
fn condition_column(key: &str) -> Option<&'static str> {
    Some(match key {
        "release" => "t.release",
        "user" => "t.user_tag",
        "transaction.op" => "t.op",
        "transaction.status" => "t.status",
        "environment" => "t.environment",
        "transaction" => "t.name",
        "platform" => "t.platform",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(from: Option<UnixTime>, to: Option<UnixTime>) -> Read {
        Read::Rows { from, to }
    }

    fn query() -> TransactionQuery {
        TransactionQuery {
            organization_id: 4,
            project_ids: vec![1, 2],
            environments: vec!["prod".into()],
            transaction: Some("/home".into()),
            since: None,
            until: None,
            conditions: vec![
                ("release".into(), "1.0".into(), false),
                ("browser".into(), "Firefox".into(), true),
            ],
        }
    }

    #[test]
    fn rows_filter_on_sqlite_joins_projects_and_expands_lists() {
        let filter = Filter::of_read(
            Dialect::Sqlite,
            &query(),
            Table::Transactions,
            rows(Some(10.0), None),
        );
        let from = filter.from("transactions t");
        let statement = filter.statement(|w| format!("SELECT 1 FROM {from} WHERE {w}"));
        assert_eq!(
            statement.sql,
            "SELECT 1 FROM transactions t JOIN projects p ON p.id = t.project_id \
             WHERE p.organization_id = ?1 AND t.project_id IN (?2, ?3) \
             AND COALESCE(t.environment, '') IN (?4) AND t.name = ?5 AND t.start_ts >= ?6 \
             AND COALESCE(t.release, '') = ?7 AND NOT EXISTS (SELECT 1 FROM json_each(t.tags) j \
             WHERE j.value ->> 0 = ?8 AND j.value ->> 1 = ?9)"
        );
        let text = |s: &str| Param::from(s);
        let expected = [4, 1, 2].map(Param::Int).into_iter().chain([
            text("prod"),
            text("/home"),
            Param::Real(10.0),
        ]);
        let conditions = ["1.0", "browser", "Firefox"].map(text);
        assert_eq!(
            statement.params,
            expected.chain(conditions).collect::<Vec<_>>()
        );
    }

    #[test]
    fn rows_filter_on_postgres_uses_a_sub_select_arrays_and_containment() {
        let filter = Filter::of_read(
            Dialect::Postgres,
            &query(),
            Table::Transactions,
            rows(None, Some(20.0)),
        );
        let from = filter.from("transactions t");
        let statement = filter.statement(|w| format!("SELECT 1 FROM {from} WHERE {w}"));
        assert_eq!(
            statement.sql,
            "SELECT 1 FROM transactions t WHERE t.project_id IN \
             (SELECT id FROM projects WHERE organization_id = $1) \
             AND t.project_id = ANY($2::BIGINT[]) \
             AND COALESCE(t.environment, '') = ANY($3::TEXT[]) AND t.name = $4 \
             AND t.start_ts < $5 AND COALESCE(t.release, '') = $6 \
             AND NOT COALESCE(t.tags @> $7::TEXT::JSONB, FALSE)"
        );
        assert_eq!(
            statement.params[6],
            Param::from(r#"[["browser","Firefox"]]"#)
        );
    }

    #[test]
    fn rollup_filter_has_no_conditions_and_bounds_the_period() {
        let mut query = query();
        query.conditions.clear();
        query.environments.clear();
        let filter = Filter::of_read(
            Dialect::Sqlite,
            &query,
            Table::Spans,
            Read::Rollup {
                granularity: 3600,
                first: 7200,
                end: 14400,
            },
        );
        assert_eq!(
            filter.from("span_rollups r"),
            "span_rollups r JOIN projects p ON p.id = r.project_id"
        );
        let statement = filter.statement(str::to_owned);
        assert_eq!(
            statement.sql,
            "p.organization_id = ?1 AND r.project_id IN (?2, ?3) AND r.transaction_name = ?4 \
             AND r.granularity = ?5 AND r.start >= ?6 AND r.start < ?7"
        );
    }

    #[test]
    fn span_rows_filter_by_span_time_and_segment_conditions() {
        let filter = Filter::of_read(
            Dialect::Postgres,
            &query(),
            Table::Spans,
            rows(Some(1.0), Some(2.0)),
        );
        let statement = filter.statement(str::to_owned);
        assert!(statement
            .sql
            .contains("s.start_ts >= $5 AND s.start_ts < $6 AND COALESCE(t.release, '') = $7"));
        assert!(statement.sql.contains("s.transaction_name = $4"));
    }
}
