//! SQL for the store's query languages, written once for both backends.
//!
//! The issue search ([`issue_search`]) and the transaction/span filter ([`transaction_filter`])
//! compile a query to SQL text and a list of [`Param`]s. The statements of the trace summaries
//! are built on the filter ([`transaction_reads`]), and the trace queries answered from them are
//! written here too ([`trace_queries`]): a backend only runs the statements its own way. A
//! project's performance and data-scrubbing settings have their two statements each here as
//! well ([`performance_settings`], [`scrubbing_settings`]). What SQLite and PostgreSQL spell differently (placeholders,
//! lists, JSON, case-insensitive matching, the organization scope, upserts) is asked of the
//! [`Dialect`], so a new search term is one function here, not two copies that can drift.
//! Every value from the user is a bound parameter; only fixed fragments chosen by the shape of
//! a query become SQL text, so queries of one shape share a statement in each backend's cache.

pub(crate) mod artifacts;
pub(crate) mod attachments;
mod dialect;
pub(crate) mod discover;
pub(crate) mod inbound_filters;
pub(crate) mod issue_search;
pub(crate) mod performance_settings;
pub(crate) mod quotas;
pub(crate) mod scrubbing_settings;
pub(crate) mod trace_queries;
pub(crate) mod transaction_filter;
pub(crate) mod transaction_reads;
pub(crate) mod triage;

use rusqlite::types::ToSqlOutput;

pub(crate) use dialect::Dialect;

use crate::StoreResult;

/// A value bound to a statement. Lists are bound whole only where the dialect has arrays
/// (PostgreSQL); SQLite gets one placeholder per element.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Param {
    Int(i64),
    Real(f64),
    Text(String),
    Ints(Vec<i64>),
    Texts(Vec<String>),
}

impl From<i64> for Param {
    fn from(value: i64) -> Param {
        Param::Int(value)
    }
}

impl From<f64> for Param {
    fn from(value: f64) -> Param {
        Param::Real(value)
    }
}

impl From<&str> for Param {
    fn from(value: &str) -> Param {
        Param::Text(value.to_owned())
    }
}

impl From<String> for Param {
    fn from(value: String) -> Param {
        Param::Text(value)
    }
}

impl rusqlite::ToSql for Param {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        match self {
            Param::Int(v) => v.to_sql(),
            Param::Real(v) => v.to_sql(),
            Param::Text(v) => v.to_sql(),
            // The SQLite dialect expands lists into one placeholder each.
            Param::Ints(_) | Param::Texts(_) => Err(rusqlite::Error::ToSqlConversionFailure(
                "a list parameter reached SQLite".into(),
            )),
        }
    }
}

impl Param {
    /// The value as tokio-postgres binds it.
    pub(crate) fn as_postgres(&self) -> &(dyn tokio_postgres::types::ToSql + Sync) {
        match self {
            Param::Int(v) => v,
            Param::Real(v) => v,
            Param::Text(v) => v,
            Param::Ints(v) => v,
            Param::Texts(v) => v,
        }
    }
}

/// SQL text and its parameters, in placeholder order (the first is `?1` or `$1`).
#[derive(Debug, PartialEq)]
pub(crate) struct Statement {
    pub sql: String,
    pub params: Vec<Param>,
}

impl Statement {
    /// The parameters as tokio-postgres takes them.
    pub(crate) fn postgres_params(&self) -> Vec<&(dyn tokio_postgres::types::ToSql + Sync)> {
        self.params.iter().map(Param::as_postgres).collect()
    }
}

/// SQL text under construction, with its parameters numbered as they are bound.
#[derive(Debug)]
pub(crate) struct Builder {
    pub dialect: Dialect,
    pub sql: String,
    pub params: Vec<Param>,
}

impl Builder {
    pub(crate) fn new(dialect: Dialect) -> Builder {
        Builder {
            dialect,
            sql: String::new(),
            params: Vec::new(),
        }
    }

    /// Binds a value; returns its placeholder.
    pub(crate) fn bind(&mut self, value: impl Into<Param>) -> String {
        self.params.push(value.into());
        self.dialect.placeholder(self.params.len())
    }

    pub(crate) fn push(&mut self, sql: &str) {
        self.sql.push_str(sql);
    }

    /// ` AND condition`.
    pub(crate) fn and(&mut self, condition: &str) {
        self.sql.push_str(" AND ");
        self.sql.push_str(condition);
    }

    /// `column` is one of `ids`.
    pub(crate) fn in_ints(&mut self, column: &str, ids: &[i64]) -> String {
        match self.dialect {
            Dialect::Sqlite => {
                let list: Vec<String> = ids.iter().map(|id| self.bind(*id)).collect();
                self.dialect.in_list(column, &list, "BIGINT")
            }
            Dialect::Postgres => {
                let array = self.bind(Param::Ints(ids.to_vec()));
                self.dialect.in_list(column, &[array], "BIGINT")
            }
        }
    }

    /// `column` is one of `values`.
    pub(crate) fn in_texts(&mut self, column: &str, values: &[String]) -> String {
        match self.dialect {
            Dialect::Sqlite => {
                let list: Vec<String> = values.iter().map(|v| self.bind(v.as_str())).collect();
                self.dialect.in_list(column, &list, "TEXT")
            }
            Dialect::Postgres => {
                let array = self.bind(Param::Texts(values.to_vec()));
                self.dialect.in_list(column, &[array], "TEXT")
            }
        }
    }

    pub(crate) fn finish(self) -> Statement {
        Statement {
            sql: self.sql,
            params: self.params,
        }
    }
}

/// A row read back, as the shared readers take it: each backend reads its driver's rows
/// through this, so what a row means is written once.
pub(crate) trait Cells {
    fn int(&self, index: usize) -> StoreResult<i64>;
    fn real(&self, index: usize) -> StoreResult<f64>;
    fn text(&self, index: usize) -> StoreResult<String>;
    fn optional_text(&self, index: usize) -> StoreResult<Option<String>>;
    fn blob(&self, index: usize) -> StoreResult<Vec<u8>>;
}

/// An offset or limit as a 64-bit integer; past `i64::MAX` is "no limit" anyway.
pub(crate) fn sql_int(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}
