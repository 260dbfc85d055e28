//! The two databases a server of an end-to-end test can run on, so that one test body runs on
//! both: SQLite in the server's data dir, or a fresh PostgreSQL database of
//! `VIGIL_TEST_DATABASE_URL` (`scripts/test.sh` starts a throwaway cluster).

use vigil_store::postgres::TestDatabase;

use super::Vigil;

/// Where the server keeps its data.
#[derive(Clone, Copy, Debug)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A server on one backend.
pub struct Server {
    // Dropped in this order: the server stops before its database is dropped.
    pub vigil: Vigil,
    _database: Option<TestDatabase>,
}

impl Server {
    /// Starts a server (with its admin and token, as [`Vigil::start`]) on `backend`.
    pub fn start(backend: Backend) -> Server {
        match backend {
            Backend::Sqlite => Server {
                vigil: Vigil::start(),
                _database: None,
            },
            Backend::Postgres => {
                let database =
                    TestDatabase::create_blocking().unwrap_or_else(|err| panic!("{err}"));
                Server {
                    vigil: Vigil::start_on_database(database.url()),
                    _database: Some(database),
                }
            }
        }
    }
}

/// Two `#[test]`s that run `body(backend)`: `sqlite_test` on SQLite and `postgres_test` on
/// PostgreSQL, so that the two cannot drift.
#[allow(unused_macros)] // Each test binary includes this module; not all use it.
macro_rules! test_on_both_backends {
    ($body:ident, $sqlite_test:ident, $postgres_test:ident) => {
        #[test]
        fn $sqlite_test() {
            $body($crate::common::backend::Backend::Sqlite);
        }

        #[test]
        fn $postgres_test() {
            $body($crate::common::backend::Backend::Postgres);
        }
    };
}
#[allow(unused_imports)]
pub(crate) use test_on_both_backends;
