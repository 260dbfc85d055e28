//! The connection pool of one PostgreSQL database.
//!
//! tokio-postgres connections behind deadpool: a request checks a connection out, runs its
//! statements (each prepared once per connection and cached) and hands it back. Every
//! connection sets `synchronous_commit=on` whatever the server's default: a commit that
//! returned is on disk, which "an event that got a 200 is never lost" needs for the queue, and
//! for the events whose queue entries are removed once they are committed.

use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use tokio_postgres::NoTls;

use crate::{StoreError, StoreResult};

/// How long a request waits for a free connection before it fails.
const WAIT_TIMEOUT: Duration = Duration::from_secs(30);
/// How long opening a connection may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A pool of at most `max_size` connections to the database at `url`
/// (`postgres://user:password@host:port/database?…`, libpq's URL form). Connections are opened
/// on demand, so this does not touch the network.
///
/// TLS is not supported yet: a URL with `sslmode=require` fails to connect.
pub(crate) fn build(url: &str, max_size: usize) -> StoreResult<Pool> {
    // The message never repeats the URL, which may hold a password.
    let mut config: tokio_postgres::Config = url.parse().map_err(|e: tokio_postgres::Error| {
        StoreError::Invalid(format!(
            "the database URL does not parse: {}",
            super::error::with_causes(&e)
        ))
    })?;
    let options = match config.get_options() {
        Some(options) if !options.is_empty() => format!("{options} -c synchronous_commit=on"),
        _ => "-c synchronous_commit=on".to_string(),
    };
    config.options(&options);
    if config.get_application_name().is_none() {
        config.application_name("vigil");
    }
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(CONNECT_TIMEOUT);
    }
    let manager = Manager::from_config(
        config,
        NoTls,
        ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        },
    );
    Pool::builder(manager)
        .max_size(max_size)
        .runtime(Runtime::Tokio1)
        .wait_timeout(Some(WAIT_TIMEOUT))
        .create_timeout(Some(CONNECT_TIMEOUT))
        .build()
        .map_err(|e| StoreError::Database(format!("building the connection pool: {e}")))
}
