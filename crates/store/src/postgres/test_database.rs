//! A throwaway database for tests, on the server `VIGIL_TEST_DATABASE_URL` names.
//!
//! Used by this crate's tests and by the binary's end-to-end tests: each test gets a fresh
//! database (`vigil_test_<random>`), so tests run in parallel without seeing each other's rows,
//! and it is dropped when the test ends. The server is a real PostgreSQL (`scripts/test.sh`
//! starts a throwaway cluster and sets the variable); there is no stand-in.

use tokio_postgres::NoTls;

use crate::{StoreError, StoreResult};

/// A database created for one test; dropped (with `WITH (FORCE)`, ending its connections)
/// when this is dropped.
pub struct TestDatabase {
    /// The server's URL from the environment, to a database that exists (e.g. `postgres`).
    admin_url: String,
    name: String,
    url: String,
}

impl TestDatabase {
    /// The variable that names the test server.
    pub const ENV: &'static str = "VIGIL_TEST_DATABASE_URL";

    /// Creates a fresh database on the test server.
    pub async fn create() -> StoreResult<TestDatabase> {
        let admin_url = std::env::var(Self::ENV).map_err(|_| {
            StoreError::Invalid(format!(
                "{} is not set: the PostgreSQL tests need a server \
                 (postgres://user@host:port/database). `bash scripts/test.sh` starts a \
                 throwaway cluster and sets it; by hand: `source scripts/pg-cluster.sh && \
                 pg_cluster_start`",
                Self::ENV
            ))
        })?;
        let name = format!("vigil_test_{}", hex::encode(rand::random::<[u8; 8]>()));
        let url = with_database(&admin_url, &name)?;
        let client = connect(&admin_url).await?;
        client
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .map_err(|e| {
                StoreError::Database(format!(
                    "creating the test database: {}",
                    super::error::describe(&e)
                ))
            })?;
        Ok(TestDatabase {
            admin_url,
            name,
            url,
        })
    }

    /// [`TestDatabase::create`] for tests that have no async runtime.
    pub fn create_blocking() -> StoreResult<TestDatabase> {
        on_own_runtime(TestDatabase::create())
    }

    /// The URL of the new database, for `PgStore::connect` or `VIGIL_DATABASE_URL`.
    pub fn url(&self) -> &str {
        &self.url
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let admin_url = self.admin_url.clone();
        let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        // A leftover database is harmless (the cluster is thrown away), so failures are only
        // reported.
        let result = on_own_runtime(async move {
            connect(&admin_url)
                .await?
                .batch_execute(&sql)
                .await
                .map_err(|e| StoreError::Database(super::error::describe(&e)))
        });
        if let Err(err) = result {
            eprintln!("dropping the test database {}: {err}", self.name);
        }
    }
}

/// Runs `future` on a runtime of its own, on a thread of its own: callable from sync code and
/// from inside another runtime (as `Drop` is, at the end of an async test).
fn on_own_runtime<T: Send + 'static>(
    future: impl std::future::Future<Output = StoreResult<T>> + Send + 'static,
) -> StoreResult<T> {
    std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| StoreError::Database(format!("starting a runtime: {e}")))?
            .block_on(future)
    })
    .join()
    .map_err(|_| StoreError::Database("the test database thread panicked".into()))?
}

async fn connect(url: &str) -> StoreResult<tokio_postgres::Client> {
    let (client, connection) = tokio_postgres::connect(url, NoTls).await.map_err(|e| {
        StoreError::Database(format!(
            "connecting to {}: {}",
            TestDatabase::ENV,
            super::error::describe(&e)
        ))
    })?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(client)
}

/// `url` with its database replaced by `name` (query parameters kept).
fn with_database(url: &str, name: &str) -> StoreResult<String> {
    let not_a_url =
        || StoreError::Invalid(format!("{} must be a postgres:// URL", TestDatabase::ENV));
    let (scheme, rest) = url.split_once("://").ok_or_else(not_a_url)?;
    if !super::is_postgres_url(url) {
        return Err(not_a_url());
    }
    let (rest, query) = match rest.split_once('?') {
        Some((rest, query)) => (rest, Some(query)),
        None => (rest, None),
    };
    let authority = rest
        .split_once('/')
        .map_or(rest, |(authority, _)| authority);
    let mut out = format!("{scheme}://{authority}/{name}");
    if let Some(query) = query {
        out.push('?');
        out.push_str(query);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_database_of_a_url_is_replaced() {
        assert_eq!(
            with_database("postgres://postgres@127.0.0.1:5433/postgres", "t").unwrap(),
            "postgres://postgres@127.0.0.1:5433/t"
        );
        assert_eq!(
            with_database("postgresql://u:p@h/db?sslmode=disable", "t").unwrap(),
            "postgresql://u:p@h/t?sslmode=disable"
        );
        assert_eq!(
            with_database("postgres://h", "t").unwrap(),
            "postgres://h/t"
        );
        assert!(with_database("host=h dbname=x", "t").is_err());
    }
}
