//! Running statements: each one prepared once per connection (the pool's statement cache) and
//! its errors classified with what the store was doing.

use deadpool_postgres::GenericClient;
use tokio_postgres::types::{FromSql, ToSql};
use tokio_postgres::{Row, Statement};

use super::error::{corrupt, with_causes, DbContext};
use crate::rows::Record;
use crate::StoreResult;

/// Parameters of one statement.
pub(crate) type Params<'a> = [&'a (dyn ToSql + Sync)];

/// The prepared form of `sql` on this connection, prepared on first use.
pub(crate) async fn prepare<C: GenericClient>(
    client: &C,
    sql: &str,
    what: &str,
) -> StoreResult<Statement> {
    client.prepare_cached(sql).await.db(what)
}

pub(crate) async fn query<C: GenericClient>(
    client: &C,
    sql: &str,
    params: &Params<'_>,
    what: &str,
) -> StoreResult<Vec<Row>> {
    let statement = prepare(client, sql, what).await?;
    client.query(&statement, params).await.db(what)
}

/// The one row the statement returns, or none.
pub(crate) async fn query_opt<C: GenericClient>(
    client: &C,
    sql: &str,
    params: &Params<'_>,
    what: &str,
) -> StoreResult<Option<Row>> {
    let statement = prepare(client, sql, what).await?;
    client.query_opt(&statement, params).await.db(what)
}

/// The one row the statement must return.
pub(crate) async fn query_one<C: GenericClient>(
    client: &C,
    sql: &str,
    params: &Params<'_>,
    what: &str,
) -> StoreResult<Row> {
    let statement = prepare(client, sql, what).await?;
    client.query_one(&statement, params).await.db(what)
}

/// Every row the statement returns, as records.
pub(crate) async fn records<C: GenericClient, T: Record>(
    client: &C,
    sql: &str,
    params: &Params<'_>,
    what: &str,
) -> StoreResult<Vec<T>> {
    query(client, sql, params, what)
        .await?
        .iter()
        .map(T::read)
        .collect()
}

/// The one row the statement returns as a record, or none.
pub(crate) async fn record_opt<C: GenericClient, T: Record>(
    client: &C,
    sql: &str,
    params: &Params<'_>,
    what: &str,
) -> StoreResult<Option<T>> {
    query_opt(client, sql, params, what)
        .await?
        .as_ref()
        .map(T::read)
        .transpose()
}

/// The one row the statement must return, as a record.
pub(crate) async fn record<C: GenericClient, T: Record>(
    client: &C,
    sql: &str,
    params: &Params<'_>,
    what: &str,
) -> StoreResult<T> {
    T::read(&query_one(client, sql, params, what).await?)
}

/// Rows changed.
pub(crate) async fn execute<C: GenericClient>(
    client: &C,
    sql: &str,
    params: &Params<'_>,
    what: &str,
) -> StoreResult<u64> {
    let statement = prepare(client, sql, what).await?;
    client.execute(&statement, params).await.db(what)
}

/// Column `index` of a row; a type mismatch means the schema is not the one this code knows.
pub(crate) fn get<'a, T: FromSql<'a>>(row: &'a Row, index: usize) -> StoreResult<T> {
    row.try_get(index)
        .map_err(|e| corrupt(&format!("column {index}"), with_causes(&e)))
}

/// An offset or limit as PostgreSQL's BIGINT; past `i64::MAX` is "no limit" anyway.
pub(crate) fn sql_int(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// Statements sent together and run in order: one round trip for all of them.
///
/// tokio-postgres sends a request when its future is first polled and the server runs requests
/// in the order they arrive, so the statements are prepared first (from the cache, or all
/// prepared in one round trip), then each is polled once in order (sent) and then awaited in
/// order. A later statement sees what the earlier ones of the same transaction wrote.
#[derive(Default)]
pub(crate) struct Pipeline<'a> {
    steps: Vec<Step<'a>>,
}

struct Step<'a> {
    sql: &'static str,
    params: Vec<&'a (dyn ToSql + Sync)>,
    what: &'static str,
}

/// A statement of a pipeline failed: the driver's error, and what the statement was for.
#[derive(Debug)]
pub(crate) struct Failure {
    pub error: tokio_postgres::Error,
    pub what: &'static str,
}

impl Failure {
    pub(crate) fn into_store_error(self) -> crate::StoreError {
        super::error::classify(&self.error, self.what)
    }
}

impl<'a> Pipeline<'a> {
    /// Adds a statement; its rows are at the returned index of [`Pipeline::run`]'s result.
    pub(crate) fn push(
        &mut self,
        sql: &'static str,
        params: Vec<&'a (dyn ToSql + Sync)>,
        what: &'static str,
    ) -> usize {
        self.steps.push(Step { sql, params, what });
        self.steps.len() - 1
    }

    /// Runs every statement; the rows of each, in order. The first failure wins (the ones after
    /// it fail too, inside the aborted transaction).
    pub(crate) async fn run<C: GenericClient>(self, client: &C) -> Result<Vec<Vec<Row>>, Failure> {
        let statements = futures_util::future::join_all(
            self.steps
                .iter()
                .map(|step| async move { client.prepare_cached(step.sql).await }),
        )
        .await
        .into_iter()
        .zip(&self.steps)
        .map(|(prepared, step)| {
            prepared.map_err(|error| Failure {
                error,
                what: step.what,
            })
        })
        .collect::<Result<Vec<Statement>, Failure>>()?;

        let mut pending: Vec<_> = self
            .steps
            .iter()
            .zip(&statements)
            .map(|(step, statement)| client.query(statement, &step.params))
            .collect();
        let mut done: Vec<Option<Result<Vec<Row>, tokio_postgres::Error>>> =
            pending.iter().map(|_| None).collect();
        for (future, slot) in pending.iter_mut().zip(done.iter_mut()) {
            if let std::task::Poll::Ready(result) = futures_util::poll!(future.as_mut()) {
                *slot = Some(result);
            }
        }
        let mut results = Vec::with_capacity(pending.len());
        for ((future, slot), step) in pending.into_iter().zip(done).zip(&self.steps) {
            let result = match slot {
                Some(result) => result,
                None => future.await,
            };
            results.push(result.map_err(|error| Failure {
                error,
                what: step.what,
            })?);
        }
        Ok(results)
    }
}
