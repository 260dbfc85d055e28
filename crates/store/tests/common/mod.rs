//! The backends the store suites run their cases on: a fresh store per test and whatever must
//! live as long as it.
// Each test crate uses what it needs of this module.
#![allow(dead_code)]

use serde_json::json;
use tempfile::TempDir;
use vigil_store::postgres::{PgStore, TestDatabase};
use vigil_store::sqlite::SqliteStore;
use vigil_store::{Issue, IssueStatus, NewEvent, SavedEvent, Store, User};

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

/// One `#[tokio::test]` per case in `mod sqlite` and again in `mod postgres`, each running the
/// case (an `async fn(&dyn Store)` of the test file) on a fresh store of that backend, so the
/// same bodies run on both and the two cannot drift.
macro_rules! suite_on_both_backends {
    ($($case:ident),+ $(,)?) => {
        $crate::common::suite_on_backend!(sqlite, $crate::common::sqlite_fixture; $($case),+);
        $crate::common::suite_on_backend!(postgres, $crate::common::postgres_fixture; $($case),+);
    };
}
pub(crate) use suite_on_both_backends;

/// The `#[tokio::test]`s of [`suite_on_both_backends`] for one backend, in `mod $backend`.
macro_rules! suite_on_backend {
    ($backend:ident, $factory:path; $($case:ident),+) => {
        mod $backend {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let fixture = $factory().await;
                    super::$case(fixture.store.as_ref()).await;
                }
            )+
        }
    };
}
pub(crate) use suite_on_backend;

/// A new user `email` whose password hash is `hash`.
pub async fn user(store: &dyn Store, email: &str, hash: &str, is_admin: bool) -> User {
    store.create_user(email, hash, is_admin).await.unwrap()
}

/// Saves `events` in one batch; what the store said of each.
pub async fn save(store: &dyn Store, events: Vec<NewEvent>) -> Vec<SavedEvent> {
    store.save_events(events).await.unwrap()
}

/// Saves `event` in a batch of its own; what the store said of it.
pub async fn save_one(store: &dyn Store, event: NewEvent) -> Vec<SavedEvent> {
    save(store, vec![event]).await
}

/// Sets the status of issue `id` by hand; the issue after, or `None` when there is no such issue.
pub async fn set_status(store: &dyn Store, id: i64, status: IssueStatus) -> Option<Issue> {
    store.set_issue_status(id, status).await.unwrap()
}

/// The issue `id`, which must exist.
pub async fn stored_issue(store: &dyn Store, id: i64) -> Issue {
    store
        .issue_by_id(id)
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("no issue {id}"))
}

/// An organization `org` with one project `shop`: (organization id, project id).
pub async fn project(store: &dyn Store, org: &str) -> (i64, i64) {
    project_named(store, org, "shop").await
}

/// An organization `org` (made if new) with a new python project `slug`: (organization id,
/// project id).
pub async fn project_named(store: &dyn Store, org: &str, slug: &str) -> (i64, i64) {
    let org = store.ensure_organization(org).await.unwrap();
    let (project, _) = store
        .create_project(org.id, slug, Some("python"))
        .await
        .unwrap();
    (org.id, project.id)
}

/// The event id of test event `n`.
pub fn event_id(n: u32) -> String {
    format!("{n:032x}")
}

/// A handled python error event of `project_id` at `at`, received then, in production on
/// `/checkout`, with no hash, release, user or trace: what the suites' own events start from.
pub fn error_event(project_id: i64, event_id: String, at: f64) -> NewEvent {
    NewEvent {
        project_id,
        data: json!({"event_id": event_id}).into(),
        event_id,
        event_type: "error".into(),
        timestamp: at,
        received: at,
        level: "error".into(),
        platform: "python".into(),
        title: String::new(),
        culprit: "shop.views in checkout".into(),
        metadata: json!({}),
        hashes: Vec::new(),
        environment: Some("production".into()),
        release: None,
        transaction: Some("/checkout".into()),
        user_tag: None,
        trace_id: None,
        tags: vec![("environment".into(), "production".into())],
        is_unhandled: false,
        message: String::new(),
    }
}
