//! A router on a real SQLite store in a temp dir, with one project and an admin's API token,
//! and the helpers every test file of the server needs to feed it events and add users.
//! The web UI's client (pages, forms, logins) lives in [`page`].

#![allow(dead_code)]

pub mod page;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;
use vigil_server::{router, AppState, ServerConfig};
use vigil_store::prelude::*;
use vigil_store::sqlite::{LogQueue, SqliteStore};
use vigil_store::{Issue, IssueQuery, Project, ProjectKey, User};

/// The password of every user the tests create.
pub const PASSWORD: &str = "correct horse battery";
/// The harness's admin, owner of the organization `default`.
pub const ADMIN_EMAIL: &str = "admin@example.com";

pub struct Harness {
    /// Dropped with the harness, which stops its worker.
    _stop_workers: tokio::sync::watch::Sender<bool>,
    pub token: String,
    _dir: tempfile::TempDir,
    pub store: Arc<SqliteStore>,
    pub state: AppState,
    pub project: Project,
    pub key: ProjectKey,
    /// The admin ([`ADMIN_EMAIL`]), owner of `default`, whose token is `token`.
    pub admin: User,
}

impl Harness {
    pub async fn new() -> Harness {
        Harness::with_config(|_| {}).await
    }

    /// A harness whose server settings `adjust` changes first.
    pub async fn with_config(adjust: impl FnOnce(&mut ServerConfig)) -> Harness {
        let dir = tempfile::tempdir().expect("temp dir");
        let store =
            Arc::new(SqliteStore::open(&dir.path().join("vigil.sqlite3")).expect("open store"));
        let org = store.ensure_organization("default").await.expect("org");
        let (project, key) = store
            .create_project(org.id, "shop", Some("python"))
            .await
            .expect("project");
        let mut config = ServerConfig::new("http://127.0.0.1:9000".parse().expect("url"));
        adjust(&mut config);
        let queue = Arc::new(LogQueue::open(dir.path()).expect("open queue"));
        let state = AppState::new(store.clone(), queue, config);
        let (stop_workers, stopped) = tokio::sync::watch::channel(false);
        vigil_server::jobs::workers::spawn(&state, 1, stopped);
        let hash = vigil_server::accounts::hash_password(PASSWORD).expect("hash");
        let user = store
            .create_user(ADMIN_EMAIL, &hash, true)
            .await
            .expect("user");
        store
            .add_member(org.id, user.id, "owner")
            .await
            .expect("member");
        // Reads everything and triages issues (`event:write`); changes no settings.
        let token = vigil_server::accounts::new_token();
        let token_hash = vigil_server::accounts::hash_token(&token);
        let scopes = ["org:read".to_string(), "event:write".to_string()];
        store
            .create_token(user.id, &token_hash, &scopes)
            .await
            .expect("token");
        Harness {
            _stop_workers: stop_workers,
            token,
            _dir: dir,
            store,
            state,
            project,
            key,
            admin: user,
        }
    }

    /// Sends a request, then waits until the ingest queue is empty, so that what a 200
    /// acknowledged is processed and readable when this returns.
    pub async fn send(&self, request: Request<Body>) -> (StatusCode, axum::http::HeaderMap, Value) {
        let answer = self.send_only(request).await;
        self.settle().await;
        answer
    }

    /// Waits (bounded) until the workers have processed everything queued.
    pub async fn settle(&self) {
        for _ in 0..2000 {
            if self.state.queue.stats().await.expect("queue stats").depth == 0 {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        panic!("the ingest queue did not drain within 10 s");
    }

    pub async fn send_only(
        &self,
        request: Request<Body>,
    ) -> (StatusCode, axum::http::HeaderMap, Value) {
        let mut request = request;
        request
            .extensions_mut()
            .insert(ConnectInfo(SocketAddr::from(([10, 1, 2, 3], 5555))));
        let (status, headers, bytes) = self.respond(request).await;
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        (status, headers, body)
    }

    /// What the router answers to `request`, the body as bytes.
    pub async fn respond(
        &self,
        request: Request<Body>,
    ) -> (StatusCode, axum::http::HeaderMap, Bytes) {
        let response = router(self.state.clone())
            .oneshot(request)
            .await
            .expect("router answers");
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        (status, headers, bytes)
    }

    pub fn envelope_request(&self, body: impl Into<Body>) -> axum::http::request::Builder {
        let _ = body;
        Request::post(format!("/api/{}/envelope/", self.project.id)).header(
            "x-sentry-auth",
            format!(
                "Sentry sentry_key={}, sentry_version=7, sentry_client=test/1.0",
                self.key.public_key
            ),
        )
    }

    pub async fn post_envelope(&self, body: Vec<u8>) -> (StatusCode, Value) {
        let request = self
            .envelope_request(())
            .body(Body::from(body))
            .expect("request");
        let (status, _, body) = self.send(request).await;
        (status, body)
    }

    /// A web API request with the admin's token.
    pub async fn api(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, axum::http::HeaderMap, Value) {
        self.api_as(&self.token, method, path, body).await
    }

    /// A web API GET with the admin's token.
    pub async fn get(&self, path: &str) -> (StatusCode, axum::http::HeaderMap, Value) {
        self.api("GET", path, None).await
    }

    /// The status a web API GET with the admin's token answers.
    pub async fn status_of(&self, path: &str) -> StatusCode {
        self.get(path).await.0
    }

    /// Asserts that a web API GET of `path` with the admin's token answers `expected`.
    pub async fn expect_status(&self, path: &str, expected: StatusCode) {
        assert_eq!(self.status_of(path).await, expected, "GET {path}");
    }

    /// The alert rules of the harness project.
    pub async fn alert_rules(&self) -> Vec<vigil_store::AlertRule> {
        self.store
            .alert_rules(self.project.id)
            .await
            .expect("rules")
    }

    /// A web API GET with `token`; the status and the JSON body.
    pub async fn get_as(&self, token: &str, path: &str) -> (StatusCode, Value) {
        self.call_as(token, "GET", path, None).await
    }

    /// A web API request with `token`.
    pub async fn api_as(
        &self,
        token: &str,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, axum::http::HeaderMap, Value) {
        let builder = Request::builder()
            .method(method)
            .uri(path)
            .header("authorization", format!("Bearer {token}"))
            .header("content-type", "application/json");
        let request = match body {
            Some(body) => builder.body(Body::from(body.to_string())),
            None => builder.body(Body::empty()),
        }
        .expect("request");
        self.send(request).await
    }

    /// A web API request with `token`; the status and the JSON body.
    pub async fn call_as(
        &self,
        token: &str,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let (status, _, body) = self.api_as(token, method, path, body).await;
        (status, body)
    }

    /// A new user (not an admin, password [`PASSWORD`]), a member of the organization `org`
    /// (made if it is new).
    pub async fn member_of(&self, org: &str, email: &str) -> User {
        let hash = vigil_server::accounts::hash_password(PASSWORD).expect("hash");
        let user = self
            .store
            .create_user(email, &hash, false)
            .await
            .expect("user");
        let org = self.store.ensure_organization(org).await.expect("org");
        self.store
            .add_member(org.id, user.id, "member")
            .await
            .expect("member");
        user
    }

    /// A new project `slug` in the organization `org` (made if it is new).
    pub async fn project_in(&self, org: &str, slug: &str, platform: Option<&str>) -> Project {
        let org = self.store.ensure_organization(org).await.expect("org");
        let (project, _) = self
            .store
            .create_project(org.id, slug, platform)
            .await
            .expect("project");
        project
    }

    /// The harness project's performance settings.
    pub async fn performance_settings(&self) -> vigil_store::PerformanceSettings {
        self.store
            .performance_settings(self.project.id)
            .await
            .expect("settings")
    }

    /// A token of a new member of the harness's organization that may change its projects
    /// (`project:write`), for requests the harness's read-only token may not make.
    #[allow(dead_code)] // Each test binary includes this module; not all use it.
    pub async fn writer(&self) -> String {
        let email = format!("writer-{}@example.com", vigil_server::accounts::new_token());
        let user = self.member_of("default", &email).await;
        self.token_for(user.id, &["org:read", "project:read", "project:write"])
            .await
    }

    /// A new API token of `user_id` with `scopes`.
    pub async fn token_for(&self, user_id: i64, scopes: &[&str]) -> String {
        let token = vigil_server::accounts::new_token();
        let scopes: Vec<String> = scopes.iter().map(|s| s.to_string()).collect();
        self.store
            .create_token(
                user_id,
                &vigil_server::accounts::hash_token(&token),
                &scopes,
            )
            .await
            .expect("token");
        token
    }

    /// The issues of the harness's organization, at most 10.
    pub async fn issues(&self) -> Vec<Issue> {
        self.store
            .search_issues(&IssueQuery {
                organization_id: self.project.organization_id,
                limit: 10,
                ..Default::default()
            })
            .await
            .expect("search")
    }
}

/// An envelope of one event with the id `event_id`.
pub fn envelope(event_id: &str, event: &Value) -> Vec<u8> {
    let payload = event.to_string();
    format!(
        "{{\"event_id\":\"{event_id}\"}}\n{{\"type\":\"event\",\"length\":{}}}\n{payload}\n",
        payload.len()
    )
    .into_bytes()
}

/// Sends `event` with the id `n` as 32 hex digits, asserts it was accepted and returns the id.
pub async fn ingest(h: &Harness, n: u32, event: &Value) -> String {
    let id = format!("{n:032x}");
    let (status, body) = h.post_envelope(envelope(&id, event)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    id
}
