//! A router on a real SQLite store in a temp dir, with one project and an admin's API token.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;
use vigil_server::{router, AppState, ServerConfig};
use vigil_store::prelude::*;
use vigil_store::sqlite::{SqliteQueue, SqliteStore};
use vigil_store::{Project, ProjectKey};

pub struct Harness {
    /// Dropped with the harness, which stops its worker.
    _stop_workers: tokio::sync::watch::Sender<bool>,
    pub token: String,
    _dir: tempfile::TempDir,
    pub store: Arc<SqliteStore>,
    pub state: AppState,
    pub project: Project,
    pub key: ProjectKey,
}

impl Harness {
    pub async fn new() -> Harness {
        let dir = tempfile::tempdir().expect("temp dir");
        let store =
            Arc::new(SqliteStore::open(&dir.path().join("vigil.sqlite3")).expect("open store"));
        let org = store.ensure_organization("default").await.expect("org");
        let (project, key) = store
            .create_project(org.id, "shop", Some("python"))
            .await
            .expect("project");
        let config = ServerConfig::new("http://127.0.0.1:9000".parse().expect("url"));
        let queue =
            Arc::new(SqliteQueue::open(&dir.path().join("queue.sqlite3")).expect("open queue"));
        let state = AppState::new(store.clone(), queue, config);
        let (stop_workers, stopped) = tokio::sync::watch::channel(false);
        vigil_server::ingest::worker::spawn_workers(&state, 1, stopped);
        let hash = vigil_server::accounts::hash_password("correct horse battery").expect("hash");
        let user = store
            .create_user("admin@example.com", &hash, true)
            .await
            .expect("user");
        store
            .add_member(org.id, user.id, "owner")
            .await
            .expect("member");
        let token = vigil_server::accounts::new_token();
        let token_hash = vigil_server::accounts::hash_token(&token);
        store
            .create_token(user.id, &token_hash, &["org:read".to_string()])
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
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        (status, headers, body)
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
        let builder = Request::builder()
            .method(method)
            .uri(path)
            .header("authorization", format!("Bearer {}", self.token))
            .header("content-type", "application/json");
        let request = match body {
            Some(body) => builder.body(Body::from(body.to_string())),
            None => builder.body(Body::empty()),
        }
        .expect("request");
        self.send(request).await
    }
}
