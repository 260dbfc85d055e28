//! DSN keys as ingest reads them: from memory for a moment, then from the store again.
//!
//! Every ingest request names its key; asking the store each time would cost a database read
//! and a hop to the blocking pool per request. Keys change rarely (disabled, rate limit set), so
//! each is kept for [`KEY_TTL`] — the longest a change made elsewhere (the CLI, another node)
//! takes to apply; changes through this server's API apply at once. Unknown keys are not kept:
//! a project created a moment ago is accepted on its first event. A key is kept only with its
//! project checked to exist, so that a request costs no store read (nor a hop to the blocking
//! pool) while its key is fresh.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use vigil_store::{ProjectKey, Store, StoreResult};

/// How long a key read from the store is used before it is read again.
pub const KEY_TTL: Duration = Duration::from_secs(2);

/// Beyond this many keys the cache is emptied instead of growing (a flood of random keys).
const MAX_KEYS: usize = 10_000;

#[derive(Debug, Default)]
pub struct KeyCache {
    keys: Mutex<HashMap<String, (Arc<ProjectKey>, Instant)>>,
}

impl KeyCache {
    /// The key with this (lower-case) public part, from memory when read less than
    /// [`KEY_TTL`] ago. A key whose project is gone is as unknown.
    pub async fn get(
        &self,
        store: &dyn Store,
        public_key: &str,
    ) -> StoreResult<Option<Arc<ProjectKey>>> {
        if let Some(key) = self.fresh(public_key) {
            return Ok(Some(key));
        }
        let Some(key) = store.key_by_public_key(public_key).await? else {
            return Ok(None);
        };
        if store.project_by_id(key.project_id).await?.is_none() {
            tracing::warn!(public_key, "ingest with the key of a deleted project");
            return Ok(None);
        }
        let key = Arc::new(key);
        if let Ok(mut keys) = self.keys.lock() {
            if keys.len() >= MAX_KEYS {
                keys.clear();
            }
            keys.insert(public_key.to_owned(), (Arc::clone(&key), Instant::now()));
        }
        Ok(Some(key))
    }

    /// Drops what is kept of a key, so that a change to it applies to the next request.
    pub fn forget(&self, public_key: &str) {
        if let Ok(mut keys) = self.keys.lock() {
            keys.remove(public_key);
        }
    }

    fn fresh(&self, public_key: &str) -> Option<Arc<ProjectKey>> {
        let keys = self.keys.lock().ok()?;
        let (key, fetched) = keys.get(public_key)?;
        (fetched.elapsed() < KEY_TTL).then(|| Arc::clone(key))
    }
}
