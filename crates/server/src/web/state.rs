//! The web UI's per-process state: the session-signing key once read from the store, the login
//! backoff, and a short-lived cache of projects' environments.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use vigil_store::{Project, Store, StoreError};

/// Password checks running at once: argon2id takes ~50 ms of CPU and 19 MiB each, so a flood
/// of login attempts queues here instead of taking every core and the memory from ingest.
const CONCURRENT_PASSWORD_CHECKS: usize = 2;

/// Shared by every handler through `AppState::web`.
pub struct WebState {
    secret: tokio::sync::OnceCell<Vec<u8>>,
    pub lockout: super::lockout::Lockout,
    /// Permits for password checks.
    pub password_checks: tokio::sync::Semaphore,
    /// Environments per project for the issue list's selector, with when they were read.
    environments: Mutex<HashMap<i64, (Instant, Vec<String>)>>,
}

impl Default for WebState {
    fn default() -> WebState {
        WebState {
            secret: tokio::sync::OnceCell::new(),
            lockout: super::lockout::Lockout::default(),
            password_checks: tokio::sync::Semaphore::new(CONCURRENT_PASSWORD_CHECKS),
            environments: Mutex::default(),
        }
    }
}

/// How long the issue list reuses a project's environments: reading them sums over all of the
/// project's issues, too much for every page view of a big project; a new environment shows up
/// in the selector this much later (searching `environment:` finds it at once).
const ENVIRONMENTS_TTL: Duration = Duration::from_secs(60);

impl WebState {
    /// The environments a project has seen, read at most once a minute per node.
    pub async fn environments(
        &self,
        store: &dyn Store,
        project_id: i64,
    ) -> Result<Vec<String>, StoreError> {
        let now = Instant::now();
        {
            let cache = self.environments.lock().unwrap_or_else(|e| e.into_inner());
            if let Some((read, values)) = cache.get(&project_id) {
                if now.duration_since(*read) < ENVIRONMENTS_TTL {
                    return Ok(values.clone());
                }
            }
        }
        let values: Vec<String> = store
            .project_tag_values(project_id, "environment", 50)
            .await?
            .into_iter()
            .map(|v| v.value)
            .collect();
        let mut cache = self.environments.lock().unwrap_or_else(|e| e.into_inner());
        cache.insert(project_id, (now, values.clone()));
        Ok(values)
    }

    /// What a list page's environment selector offers: `known` (the ones already chosen) and
    /// those seen by the `selected` projects (every project when none is selected), sorted.
    pub async fn selectable_environments(
        &self,
        store: &dyn Store,
        projects: &[Project],
        selected: &[i64],
        known: Vec<String>,
    ) -> Result<Vec<String>, StoreError> {
        let mut out = known;
        for project in projects {
            if selected.is_empty() || selected.contains(&project.id) {
                for env in self.environments(store, project.id).await? {
                    if !out.contains(&env) {
                        out.push(env);
                    }
                }
            }
        }
        out.sort();
        Ok(out)
    }

    /// The session-signing key, shared by every node through the store.
    pub async fn secret(&self, store: &dyn Store) -> Result<&[u8], StoreError> {
        self.secret
            .get_or_try_init(|| async {
                let fresh: [u8; 32] = rand::random();
                store.secret("web-session", &fresh).await
            })
            .await
            .map(Vec::as_slice)
    }
}
