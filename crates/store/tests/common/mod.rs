//! The backends the store suites run their cases on: a fresh store per test and whatever must
//! live as long as it.
// Each test crate uses what it needs of this module.
#![allow(dead_code)]

use tempfile::TempDir;
use vigil_store::postgres::{PgStore, TestDatabase};
use vigil_store::sqlite::SqliteStore;
use vigil_store::Store;

/// A store and whatever must live as long as it (a temp dir, a database); the store is dropped
/// first.
pub struct Fixture {
    pub store: Box<dyn Store>,
    _keep: Box<dyn std::any::Any + Send>,
}

pub async fn sqlite_fixture() -> Fixture {
    let dir = TempDir::new().unwrap();
    let store = SqliteStore::open(&dir.path().join("data/vigil.sqlite3")).unwrap();
    Fixture {
        store: Box::new(store),
        _keep: Box::new(dir),
    }
}

/// A fresh database on the test server; fails the test, with how to get a server, when
/// `VIGIL_TEST_DATABASE_URL` is not set.
pub async fn test_database() -> TestDatabase {
    TestDatabase::create()
        .await
        .unwrap_or_else(|err| panic!("{err}"))
}

pub async fn postgres_fixture() -> Fixture {
    let database = test_database().await;
    let store = PgStore::connect(database.url()).await.unwrap();
    Fixture {
        store: Box::new(store),
        _keep: Box::new(database),
    }
}
