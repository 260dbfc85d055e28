//! Built source-map caches, shared by every event and batch a process symbolicates.
//!
//! Building a `SourceMapCache` parses the map's JSON, decodes every mapping and parses the
//! minified source for its scopes: milliseconds for a 2 MB map, paid once per (minified file,
//! map) pair. The result is a compact binary index whose lookups are a binary search, so it is
//! kept, bounded by bytes and evicted least recently used first. A map that cannot be built is
//! kept too (as its error), so a broken upload costs one attempt, not one per event.
//!
//! Minified files are kept too, prepared ([`PreparedSource`]): read as text once, their line
//! starts indexed and their `sourceMappingURL` and debug ID found, so that the minified lines
//! of each frame (a bundle is one line of hundreds of kilobytes) are a slice, not a scan.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use symbolic_sourcemapcache::{SourceMapCache, SourceMapCacheWriter};

/// Default memory bound: enough for a few dozen large apps' maps.
pub const DEFAULT_CAPACITY_BYTES: usize = 256 * 1024 * 1024;

/// The key of a built cache: the minified file's id and the map's id (each stable for its
/// content), so a re-upload under the same names builds anew.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CacheKey {
    pub minified: String,
    pub map: String,
}

/// One built cache: the serialized `SourceMapCache`, 8-byte aligned as its reader needs.
pub struct BuiltMap {
    buffer: Vec<u8>,
    offset: usize,
}

impl BuiltMap {
    /// Builds the cache of `minified_source` with its `sourcemap`; the error says why the map
    /// is unusable.
    pub fn build(minified_source: &str, sourcemap: &str) -> Result<Self, String> {
        // Uploads are anyone's bytes and the writer parses two languages with them: should it
        // panic on one, that upload is unusable, not the worker (the event is still kept).
        let writer =
            std::panic::catch_unwind(|| SourceMapCacheWriter::new(minified_source, sourcemap))
                .map_err(|_| {
                    tracing::error!("building a source map cache panicked");
                    "the source map could not be read".to_owned()
                })?
                .map_err(|e| e.to_string())?;
        let mut bytes = Vec::new();
        writer
            .serialize(&mut bytes)
            .map_err(|e| format!("cannot write the source map cache: {e}"))?;
        let built = Self::aligned(&bytes);
        // Check once here that it reads back, so that `get` cannot fail later.
        SourceMapCache::parse(built.bytes()).map_err(|e| e.to_string())?;
        Ok(built)
    }

    /// A copy of `bytes` starting at an 8-byte boundary (the reader refuses others; a `Vec<u8>`
    /// promises no alignment).
    fn aligned(bytes: &[u8]) -> Self {
        let mut buffer: Vec<u8> = Vec::with_capacity(bytes.len() + 8);
        let offset = buffer.as_ptr().align_offset(8).min(8);
        buffer.resize(offset, 0);
        buffer.extend_from_slice(bytes);
        BuiltMap { buffer, offset }
    }

    fn bytes(&self) -> &[u8] {
        &self.buffer[self.offset..]
    }

    /// The cache, ready for lookups (reading it is a few slice splits, no copy).
    pub fn get(&self) -> Option<SourceMapCache<'_>> {
        SourceMapCache::parse(self.bytes()).ok()
    }

    /// Memory held.
    pub fn size(&self) -> usize {
        self.buffer.capacity()
    }
}

impl std::fmt::Debug for BuiltMap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BuiltMap")
            .field("bytes", &self.bytes().len())
            .finish()
    }
}

/// A built cache, or why the map could not be built.
pub type CachedMap = Result<BuiltMap, String>;

/// A minified file read for symbolication.
#[derive(Debug)]
pub struct PreparedSource {
    text: String,
    /// The byte offset of each line's start.
    line_starts: Vec<usize>,
    /// Where its last `sourceMappingURL` comment points, as written.
    pub sourcemap_reference: Option<String>,
    /// Its `//# debugId=` comment, normalized.
    pub debug_id: Option<String>,
}

impl PreparedSource {
    /// Reads `bytes` (invalid UTF-8 replaced, as browsers do).
    pub fn new(bytes: &[u8]) -> Self {
        let text = String::from_utf8_lossy(bytes).into_owned();
        let mut line_starts = vec![0];
        line_starts.extend(text.match_indices('\n').map(|(at, _)| at + 1));
        // A final newline ends the last line; it does not start another (as `str::lines`).
        if line_starts.last() == Some(&text.len()) {
            line_starts.pop();
        }
        PreparedSource {
            sourcemap_reference: super::paths::discover_sourcemap_reference(&text)
                .map(str::to_owned),
            debug_id: super::paths::discover_debug_id(&text),
            text,
            line_starts,
        }
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    /// Line `index` (0-based) without its line break.
    pub fn line(&self, index: usize) -> Option<&str> {
        let start = *self.line_starts.get(index)?;
        let end = self
            .line_starts
            .get(index + 1)
            .map_or(self.text.len(), |next| next - 1);
        let line = self.text.get(start..end)?;
        // The last line's break is in the range when the text ends with one.
        let line = line.strip_suffix('\n').unwrap_or(line);
        Some(line.strip_suffix('\r').unwrap_or(line))
    }

    fn size(&self) -> usize {
        self.text.capacity() + self.line_starts.capacity() * std::mem::size_of::<usize>()
    }
}

/// What the cache did so far, for tests, benchmarks and logs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Map lookups answered from the cache.
    pub hits: u64,
    /// Map lookups that built a cache.
    pub builds: u64,
    /// Minified files answered from the cache.
    pub source_hits: u64,
    /// Minified files read and indexed.
    pub sources_prepared: u64,
    /// Entries dropped to stay within the bound.
    pub evictions: u64,
    /// Entries held now.
    pub entries: usize,
    /// Bytes held now.
    pub bytes: usize,
}

/// What the cache holds under one key.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Map(CacheKey),
    /// A minified file, by its id.
    Source(String),
}

#[derive(Clone)]
enum Value {
    Map(Arc<CachedMap>),
    Source(Arc<PreparedSource>),
}

struct Entry {
    value: Value,
    size: usize,
    last_used: u64,
}

#[derive(Default)]
struct State {
    entries: HashMap<Key, Entry>,
    /// `last_used` → key, oldest first.
    order: BTreeMap<u64, Key>,
    bytes: usize,
    tick: u64,
}

/// The shared cache of built source maps (LRU by bytes).
pub struct SourceMapCaches {
    capacity: usize,
    state: Mutex<State>,
    hits: AtomicU64,
    builds: AtomicU64,
    source_hits: AtomicU64,
    sources_prepared: AtomicU64,
    evictions: AtomicU64,
}

impl Default for SourceMapCaches {
    fn default() -> Self {
        Self::new(DEFAULT_CAPACITY_BYTES)
    }
}

impl std::fmt::Debug for SourceMapCaches {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SourceMapCaches")
            .field("capacity", &self.capacity)
            .field("stats", &self.stats())
            .finish()
    }
}

impl SourceMapCaches {
    /// A cache holding at most `capacity_bytes` of built maps (one larger map is still built
    /// and used, just not kept).
    pub fn new(capacity_bytes: usize) -> Self {
        SourceMapCaches {
            capacity: capacity_bytes,
            state: Mutex::new(State::default()),
            hits: AtomicU64::new(0),
            builds: AtomicU64::new(0),
            source_hits: AtomicU64::new(0),
            sources_prepared: AtomicU64::new(0),
            evictions: AtomicU64::new(0),
        }
    }

    /// The built cache for `key`, made with `build` when it is not held. The lock is not held
    /// while building: two workers may build the same map at once, and the second result wins.
    pub fn get_or_build(
        &self,
        key: &CacheKey,
        build: impl FnOnce() -> CachedMap,
    ) -> Arc<CachedMap> {
        let key = Key::Map(key.clone());
        if let Some(Value::Map(map)) = self.get(&key) {
            self.hits.fetch_add(1, Ordering::Relaxed);
            return map;
        }
        let map = Arc::new(build());
        self.builds.fetch_add(1, Ordering::Relaxed);
        let size = match map.as_ref() {
            Ok(built) => built.size(),
            Err(reason) => reason.len(),
        };
        self.insert(key, Value::Map(Arc::clone(&map)), size);
        map
    }

    /// The minified file `id`, prepared from `bytes` when it is not held.
    pub fn prepared_source(&self, id: &str, bytes: &[u8]) -> Arc<PreparedSource> {
        let key = Key::Source(id.to_owned());
        if let Some(Value::Source(source)) = self.get(&key) {
            self.source_hits.fetch_add(1, Ordering::Relaxed);
            return source;
        }
        let source = Arc::new(PreparedSource::new(bytes));
        self.sources_prepared.fetch_add(1, Ordering::Relaxed);
        let size = source.size();
        self.insert(key, Value::Source(Arc::clone(&source)), size);
        source
    }

    fn get(&self, key: &Key) -> Option<Value> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.tick += 1;
        let tick = state.tick;
        let entry = state.entries.get_mut(key)?;
        let previous = std::mem::replace(&mut entry.last_used, tick);
        let value = entry.value.clone();
        state.order.remove(&previous);
        state.order.insert(tick, key.clone());
        Some(value)
    }

    /// Keeps `value`, `size` bytes plus its key's, evicting the least recently used entries to
    /// stay within the bound.
    fn insert(&self, key: Key, value: Value, size: usize) {
        let size = size
            + 64
            + match &key {
                Key::Map(key) => key.minified.len() + key.map.len(),
                Key::Source(id) => id.len(),
            };
        if size > self.capacity {
            return;
        }
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.tick += 1;
        let tick = state.tick;
        if let Some(old) = state.entries.remove(&key) {
            state.order.remove(&old.last_used);
            state.bytes -= old.size;
        }
        while state.bytes + size > self.capacity {
            let Some((_, oldest)) = state.order.pop_first() else {
                break;
            };
            if let Some(old) = state.entries.remove(&oldest) {
                state.bytes -= old.size;
                self.evictions.fetch_add(1, Ordering::Relaxed);
            }
        }
        state.bytes += size;
        state.order.insert(tick, key.clone());
        state.entries.insert(
            key,
            Entry {
                value,
                size,
                last_used: tick,
            },
        );
    }

    /// Counters and current size.
    pub fn stats(&self) -> CacheStats {
        let state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        CacheStats {
            hits: self.hits.load(Ordering::Relaxed),
            builds: self.builds.load(Ordering::Relaxed),
            source_hits: self.source_hits.load(Ordering::Relaxed),
            sources_prepared: self.sources_prepared.load(Ordering::Relaxed),
            evictions: self.evictions.load(Ordering::Relaxed),
            entries: state.entries.len(),
            bytes: state.bytes,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIFIED: &str = "function a(b){return b.c}a();\n";
    const MAP: &str = r#"{"version":3,"sources":["a.js"],"names":["run","value"],"mappings":"AAAA,SAASA,EAAEC","sourcesContent":["function run(value) { return value.c }"]}"#;

    fn key(n: u32) -> CacheKey {
        CacheKey {
            minified: format!("min-{n}"),
            map: format!("map-{n}"),
        }
    }

    #[test]
    fn builds_once_and_reuses() {
        let caches = SourceMapCaches::default();
        let first = caches.get_or_build(&key(1), || BuiltMap::build(MINIFIED, MAP));
        assert!(first.as_ref().as_ref().is_ok_and(|m| m.get().is_some()));
        let second = caches.get_or_build(&key(1), || panic!("must not build again"));
        assert!(Arc::ptr_eq(&first, &second));
        let stats = caches.stats();
        assert_eq!((stats.builds, stats.hits, stats.entries), (1, 1, 1));
    }

    #[test]
    fn prepared_sources_index_their_lines() {
        let caches = SourceMapCaches::default();
        let text = "a\r\nbb\n\nccc\n//# sourceMappingURL=x.map\n";
        let source = caches.prepared_source("1", text.as_bytes());
        let lines: Vec<_> = (0..6).map(|n| source.line(n)).collect();
        assert_eq!(
            lines,
            [
                Some("a"),
                Some("bb"),
                Some(""),
                Some("ccc"),
                Some("//# sourceMappingURL=x.map"),
                None
            ]
        );
        assert_eq!(lines.iter().flatten().count(), text.lines().count());
        assert_eq!(source.sourcemap_reference.as_deref(), Some("x.map"));
        assert!(Arc::ptr_eq(&source, &caches.prepared_source("1", b"other")));
        let no_newline = PreparedSource::new(b"x\ny");
        assert_eq!((no_newline.line(1), no_newline.line(2)), (Some("y"), None));
        assert_eq!(PreparedSource::new(b"").line(0), None);
        let stats = caches.stats();
        assert_eq!((stats.sources_prepared, stats.source_hits), (1, 1));
    }

    /// Found by the `symbolicate` fuzz target: swc's parser (which finds the minified file's
    /// function scopes) asserts on this arrow-function head in builds with debug assertions.
    /// The upload is unusable; the worker goes on.
    #[test]
    fn a_parser_panic_is_an_unusable_map() {
        let minified = "(jj,jj()=>{var m=1};\n";
        let result = BuiltMap::build(minified, MAP);
        if cfg!(debug_assertions) {
            assert_eq!(
                result.err().as_deref(),
                Some("the source map could not be read")
            );
        }
    }

    #[test]
    fn broken_maps_are_remembered_as_errors() {
        let caches = SourceMapCaches::default();
        let broken = caches.get_or_build(&key(1), || BuiltMap::build(MINIFIED, "{not json"));
        assert!(broken.is_err());
        assert!(caches
            .get_or_build(&key(1), || panic!("must not build again"))
            .is_err());
    }

    #[test]
    fn evicts_the_least_recently_used_within_the_bound() {
        let size = BuiltMap::build(MINIFIED, MAP)
            .map(|m| m.size())
            .unwrap_or(0);
        let caches = SourceMapCaches::new((size + 100) * 2);
        for n in [1, 2] {
            caches.get_or_build(&key(n), || BuiltMap::build(MINIFIED, MAP));
        }
        caches.get_or_build(&key(1), || panic!("held"));
        caches.get_or_build(&key(3), || BuiltMap::build(MINIFIED, MAP));
        let stats = caches.stats();
        assert_eq!((stats.entries, stats.evictions), (2, 1));
        assert!(stats.bytes <= (size + 100) * 2);
        // 2 was the least recently used.
        caches.get_or_build(&key(1), || panic!("1 is still held"));
        let mut rebuilt = false;
        caches.get_or_build(&key(2), || {
            rebuilt = true;
            BuiltMap::build(MINIFIED, MAP)
        });
        assert!(rebuilt);
    }
}
