//! The uploaded source maps as symbolication looks them up: the store's artifact bundles and
//! release files behind this node's caches, so that a browser error costs no store read once its
//! bundle was used.
//!
//! Three caches, from cheapest to dearest to refill:
//! - which bundles hold a debug ID or a release's URL (the store's indexes), kept for
//!   [`crate::cache::TTL`] and forgotten at once when this node stores an upload — a map
//!   uploaded after an event arrived applies to the next event;
//! - the files already taken out of bundles (a map is inflated once, then shared), bounded in
//!   bytes;
//! - the bundles themselves (their chunks concatenated and the zip directory read), a few at
//!   a time, bounded in bytes.
//!
//! The lookups run on the workers' blocking threads (processing is synchronous): each store read
//! is driven to completion on the runtime's handle from there.

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use vigil_processing::symbolicate::bundle::{ArtifactBundle, FileType};
use vigil_processing::symbolicate::{ArtifactLookup, LookupError, SourceFile};
use vigil_store::{ArtifactBundleInfo, Store};

use crate::cache::TTL;

/// Bytes of inflated files kept (maps, minified sources).
const FILE_BUDGET: usize = 256 * 1024 * 1024;
/// Bytes of opened bundles kept.
const BUNDLE_BUDGET: usize = 256 * 1024 * 1024;
/// Index answers kept (each a short list of bundle rows).
const INDEX_ENTRIES: usize = 10_000;

/// The bundles an index names, newest first.
type Bundles = Arc<Vec<ArtifactBundleInfo>>;

/// What this node keeps of the uploaded artifacts, shared by every worker.
#[derive(Default)]
pub struct ArtifactCaches {
    index: Mutex<HashMap<IndexKey, (Instant, Bundles)>>,
    files: Mutex<SizedLru<FileKey, SourceFile>>,
    bundles: Mutex<SizedLru<i64, Arc<Mutex<ArtifactBundle>>>>,
    /// Release files by (project, release, dist, url): found or not, for [`TTL`].
    release_files: Mutex<HashMap<IndexKey, (Instant, Option<SourceFile>)>>,
    /// Whether each project uploaded any source maps, for [`TTL`].
    has_uploads: crate::cache::TtlCache<bool>,
}

impl std::fmt::Debug for ArtifactCaches {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ArtifactCaches").finish_non_exhaustive()
    }
}

#[derive(Clone, PartialEq, Eq, Hash)]
enum IndexKey {
    DebugId {
        project_id: i64,
        debug_id: String,
    },
    Url {
        project_id: i64,
        release: String,
        dist: Option<String>,
        url: String,
    },
}

#[derive(Clone, PartialEq, Eq, Hash)]
struct FileKey {
    bundle_id: i64,
    path: String,
}

impl ArtifactCaches {
    /// Forgets what the indexes said (this node stored an upload): the next lookup asks the
    /// store. Files and bundles stay: their content never changes under their ids.
    pub fn forget_indexes(&self) {
        lock(&self.index).clear();
        lock(&self.release_files).clear();
        self.has_uploads.clear();
    }

    /// Whether `project_id` uploaded any source maps (a project whose check fails counts as
    /// having some: its lookups then report the failure on the events).
    pub async fn has_uploads(&self, store: &dyn Store, project_id: i64) -> bool {
        self.has_uploads
            .get_or_load(project_id, || store.has_source_artifacts(project_id))
            .await
            .unwrap_or_else(|err| {
                tracing::error!(%err, project_id, "checking a project's source maps failed");
                true
            })
    }

    /// The lookup of one project's artifacts, for processing one envelope.
    pub fn lookup(
        self: &Arc<Self>,
        store: Arc<dyn Store>,
        project_id: i64,
    ) -> Arc<dyn ArtifactLookup> {
        Arc::new(ProjectArtifacts {
            caches: Arc::clone(self),
            store,
            project_id,
            runtime: tokio::runtime::Handle::current(),
        })
    }
}

/// One project's artifacts, read through the node's caches.
struct ProjectArtifacts {
    caches: Arc<ArtifactCaches>,
    store: Arc<dyn Store>,
    project_id: i64,
    runtime: tokio::runtime::Handle,
}

impl ProjectArtifacts {
    /// The bundles an index names, from the cache or the store.
    fn bundles(&self, key: IndexKey) -> Result<Bundles, LookupError> {
        if let Some((at, found)) = lock(&self.caches.index).get(&key) {
            if at.elapsed() < TTL {
                return Ok(Arc::clone(found));
            }
        }
        let found = match &key {
            IndexKey::DebugId {
                project_id,
                debug_id,
            } => self.runtime.block_on(
                self.store
                    .artifact_bundles_for_debug_id(*project_id, debug_id),
            ),
            IndexKey::Url {
                project_id,
                release,
                dist,
                url,
            } => self.runtime.block_on(self.store.artifact_bundles_for_url(
                *project_id,
                release,
                dist.as_deref(),
                url,
            )),
        }
        .map_err(|err| LookupError(err.to_string()))?;
        let found = Arc::new(found);
        let mut index = lock(&self.caches.index);
        if index.len() >= INDEX_ENTRIES {
            index.retain(|_, (at, _)| at.elapsed() < TTL);
            if index.len() >= INDEX_ENTRIES {
                index.clear();
            }
        }
        index.insert(key, (Instant::now(), Arc::clone(&found)));
        Ok(found)
    }

    /// A bundle, opened, from the cache or the store; `None` when it was deleted since.
    fn bundle(
        &self,
        info: &ArtifactBundleInfo,
    ) -> Result<Option<Arc<Mutex<ArtifactBundle>>>, LookupError> {
        if let Some(bundle) = lock(&self.caches.bundles).get(&info.id) {
            return Ok(Some(bundle));
        }
        let Some(bytes) = self
            .runtime
            .block_on(self.store.artifact_bundle_bytes(info.id))
            .map_err(|err| LookupError(err.to_string()))?
        else {
            return Ok(None);
        };
        let size = bytes.len();
        // A bundle that was accepted parses; one that does not is reported, not retried forever.
        let bundle = ArtifactBundle::parse(bytes)
            .map_err(|err| LookupError(format!("artifact bundle {}: {err}", info.bundle_id)))?;
        let bundle = Arc::new(Mutex::new(bundle));
        lock(&self.caches.bundles).put(info.id, Arc::clone(&bundle), size, BUNDLE_BUDGET);
        Ok(Some(bundle))
    }

    /// One file of a bundle, inflated once and then shared.
    fn file(
        &self,
        info: &ArtifactBundleInfo,
        pick: impl Fn(
            &ArtifactBundle,
        ) -> Option<(String, String, std::collections::BTreeMap<String, String>)>,
    ) -> Result<Option<SourceFile>, LookupError> {
        let Some(bundle) = self.bundle(info)? else {
            return Ok(None);
        };
        let mut bundle = lock(&bundle);
        let Some((path, url, headers)) = pick(&bundle) else {
            return Ok(None);
        };
        let key = FileKey {
            bundle_id: info.id,
            path: path.clone(),
        };
        if let Some(file) = lock(&self.caches.files).get(&key) {
            return Ok(Some(file));
        }
        let bytes = bundle
            .read(&path)
            .map_err(|err| LookupError(format!("artifact bundle {}: {err}", info.bundle_id)))?;
        let size = bytes.len();
        let file = SourceFile {
            id: format!("{}/{path}", info.checksum),
            url,
            bytes: Arc::from(bytes),
            headers,
        };
        lock(&self.caches.files).put(key, file.clone(), size, FILE_BUDGET);
        Ok(Some(file))
    }
}

impl ArtifactLookup for ProjectArtifacts {
    fn by_debug_id(&self, debug_id: &str, ty: FileType) -> Result<Option<SourceFile>, LookupError> {
        let bundles = self.bundles(IndexKey::DebugId {
            project_id: self.project_id,
            debug_id: debug_id.to_owned(),
        })?;
        for info in bundles.iter() {
            let found = self.file(info, |bundle| {
                bundle
                    .file_by_debug_id(debug_id, ty)
                    .map(|file| (file.path.clone(), file.url.clone(), file.headers.clone()))
            })?;
            if found.is_some() {
                return Ok(found);
            }
        }
        Ok(None)
    }

    fn by_url(
        &self,
        release: &str,
        dist: Option<&str>,
        url: &str,
    ) -> Result<Option<SourceFile>, LookupError> {
        let key = IndexKey::Url {
            project_id: self.project_id,
            release: release.to_owned(),
            dist: dist.map(str::to_owned),
            url: url.to_owned(),
        };
        let bundles = self.bundles(key.clone())?;
        for info in bundles.iter() {
            let found = self.file(info, |bundle| {
                bundle
                    .file_by_url(url)
                    .map(|file| (file.path.clone(), file.url.clone(), file.headers.clone()))
            })?;
            if found.is_some() {
                return Ok(found);
            }
        }
        // Files uploaded one by one (the release-file endpoints), read whole.
        if let Some((at, found)) = lock(&self.caches.release_files).get(&key) {
            if at.elapsed() < TTL {
                return Ok(found.clone());
            }
        }
        let found = self
            .runtime
            .block_on(
                self.store
                    .release_file_by_url(self.project_id, release, dist, url),
            )
            .map_err(|err| LookupError(err.to_string()))?
            .map(|(file, bytes)| SourceFile {
                id: format!("release-file/{}/{}", file.id, file.sha1),
                url: file.name.clone(),
                bytes: Arc::from(bytes),
                headers: file
                    .headers
                    .iter()
                    .map(|(name, value)| (name.to_ascii_lowercase(), value.clone()))
                    .collect(),
            });
        let mut release_files = lock(&self.caches.release_files);
        if release_files.len() >= INDEX_ENTRIES {
            release_files.clear();
        }
        release_files.insert(key, (Instant::now(), found.clone()));
        Ok(found)
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Values kept by recency within a byte budget (the oldest leave first).
struct SizedLru<K, V> {
    entries: HashMap<K, (V, usize)>,
    order: VecDeque<K>,
    bytes: usize,
}

impl<K, V> Default for SizedLru<K, V> {
    fn default() -> Self {
        SizedLru {
            entries: HashMap::new(),
            order: VecDeque::new(),
            bytes: 0,
        }
    }
}

impl<K: Clone + Eq + Hash, V: Clone> SizedLru<K, V> {
    fn get(&mut self, key: &K) -> Option<V> {
        let value = self.entries.get(key).map(|(value, _)| value.clone())?;
        if let Some(at) = self.order.iter().position(|k| k == key) {
            if let Some(k) = self.order.remove(at) {
                self.order.push_back(k);
            }
        }
        Some(value)
    }

    fn put(&mut self, key: K, value: V, size: usize, budget: usize) {
        if let Some((_, old)) = self.entries.remove(&key) {
            self.bytes -= old;
            self.order.retain(|k| k != &key);
        }
        while self.bytes + size > budget {
            let Some(oldest) = self.order.pop_front() else {
                break;
            };
            if let Some((_, old)) = self.entries.remove(&oldest) {
                self.bytes -= old;
            }
        }
        self.bytes += size;
        self.order.push_back(key.clone());
        self.entries.insert(key, (value, size));
    }
}

#[cfg(test)]
mod tests {
    use super::SizedLru;

    #[test]
    fn the_oldest_leave_first_within_the_budget() {
        let mut lru = SizedLru::default();
        lru.put("a", 1, 40, 100);
        lru.put("b", 2, 40, 100);
        assert_eq!(lru.get(&"a"), Some(1)); // `b` is now the oldest
        lru.put("c", 3, 40, 100);
        assert_eq!(lru.get(&"b"), None);
        assert_eq!(lru.get(&"a"), Some(1));
        assert_eq!(lru.get(&"c"), Some(3));
        assert_eq!(lru.bytes, 80);
        // Replacing a key does not count it twice.
        lru.put("c", 4, 50, 100);
        assert_eq!(lru.bytes, 90);
        assert_eq!(lru.get(&"c"), Some(4));
    }
}
