//! Values read from the store, kept per node for a few seconds: what the ingest workers and the
//! alert evaluation look up for every batch (a project's rules, members, thresholds) without a
//! store round trip each time. A change made on this node is forgotten at once; one made on
//! another node applies within [`TTL`].

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a value is kept.
pub const TTL: Duration = Duration::from_secs(5);

/// Values by id, each kept for [`TTL`].
pub struct TtlCache<T> {
    entries: Mutex<HashMap<i64, (Instant, T)>>,
}

impl<T> Default for TtlCache<T> {
    fn default() -> Self {
        TtlCache {
            entries: Mutex::new(HashMap::new()),
        }
    }
}

impl<T: Clone> TtlCache<T> {
    pub fn get(&self, id: i64) -> Option<T> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries
            .get(&id)
            .filter(|(at, _)| at.elapsed() < TTL)
            .map(|(_, value)| value.clone())
    }

    pub fn put(&self, id: i64, value: T) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        // Entries of ids no longer seen would otherwise stay forever.
        if entries.len() > 10_000 {
            entries.retain(|_, (at, _)| at.elapsed() < TTL);
        }
        entries.insert(id, (Instant::now(), value));
    }

    /// The kept value of `id`, else the one `load` reads, kept from now on.
    pub async fn get_or_load<E, F, Fut>(&self, id: i64, load: F) -> Result<T, E>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<T, E>>,
    {
        if let Some(value) = self.get(id) {
            return Ok(value);
        }
        let value = load().await?;
        self.put(id, value.clone());
        Ok(value)
    }

    /// Forgets every kept value.
    pub fn clear(&self) {
        self.entries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }

    pub fn forget(&self, id: i64) {
        self.entries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&id);
    }
}
