//! Symbolication of JavaScript stack traces with the source maps a project uploaded: each
//! minified frame is mapped to the file, line, column and function people wrote.
//!
//! Sentry does this in its symbolicator service (`symbolicator-js`) and merges the answer into
//! the event (`lang/javascript/processing.py`); [`symbolicate_event`] does both in one pass,
//! the same way: the minified file of a frame is found by the debug ID the event's
//! `debug_meta` gives for its URL, else by the release's files under the URL's candidate
//! names; its map by debug ID, by its `sourceMappingURL` (a header or the file's last comment),
//! or inline as a `data:` URL. Each stack trace keeps its minified frames as `raw_stacktrace`,
//! and what could not be mapped is said in the event's `errors`. Nothing here fails an event.
//!
//! Uploaded files come through [`ArtifactLookup`] (the server implements it over the store);
//! built maps are kept in [`SourceMapCaches`], shared across events and batches.

pub mod bundle;
pub mod cache;
pub mod names;
pub mod paths;
mod process;

use std::collections::BTreeMap;
use std::sync::Arc;

pub use bundle::FileType;
pub use cache::{CacheStats, SourceMapCaches};
pub use process::{restore_raw_stacktraces, symbolicate_event};

/// One uploaded file, with an id stable for its content (the cache key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceFile {
    /// Stable for the file's content (e.g. its checksum): built maps are cached under it.
    pub id: String,
    /// The URL the file was uploaded under (`~/static/app.min.js`).
    pub url: String,
    pub bytes: Arc<[u8]>,
    /// Lowercased names: `sourcemap`, `debug-id`, …
    pub headers: BTreeMap<String, String>,
}

/// A failure of the store behind an [`ArtifactLookup`] (not "no such file", which is `None`).
/// The event is then kept unsymbolicated, with an error entry saying so.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct LookupError(pub String);

/// Where symbolication finds a project's uploaded files.
pub trait ArtifactLookup: Send + Sync {
    /// The file of type `ty` carrying `debug_id` (lowercase hyphenated), from the project's
    /// newest bundle holding it.
    fn by_debug_id(&self, debug_id: &str, ty: FileType) -> Result<Option<SourceFile>, LookupError>;

    /// The file the release (+dist) serves at `url` — exactly as a manifest or release file
    /// names it (`~/static/app.js` or `https://host/static/app.js`); the caller tries the
    /// candidates.
    fn by_url(
        &self,
        release: &str,
        dist: Option<&str>,
        url: &str,
    ) -> Result<Option<SourceFile>, LookupError>;
}

/// What processing needs to symbolicate a project's events: its files and the shared cache of
/// built maps.
///
/// With it, each distinct minified file of a JavaScript event is looked up (by debug ID, else
/// under up to four candidate URLs, and its map likewise), and a file found nowhere is noted in
/// the event's `errors` (`js_no_source`), as Sentry notes it. Without it (`None`) an event costs
/// nothing here.
#[derive(Clone)]
pub struct Symbolication {
    pub lookup: Arc<dyn ArtifactLookup>,
    pub caches: Arc<SourceMapCaches>,
    /// Whether the project uploaded any source maps. Without any, only browser events
    /// (`platform: javascript`) are looked at, so that their missing maps are reported; a
    /// server's (Node's) frames name its own files, which need no map, and stay as they are.
    pub has_uploads: bool,
}

impl Symbolication {
    pub fn new(
        lookup: Arc<dyn ArtifactLookup>,
        caches: Arc<SourceMapCaches>,
        has_uploads: bool,
    ) -> Self {
        Symbolication {
            lookup,
            caches,
            has_uploads,
        }
    }
}

impl std::fmt::Debug for Symbolication {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Symbolication")
            .field("caches", &self.caches)
            .finish_non_exhaustive()
    }
}

/// Two handles are equal when they share the lookup and the caches.
impl PartialEq for Symbolication {
    fn eq(&self, other: &Self) -> bool {
        std::ptr::addr_eq(Arc::as_ptr(&self.lookup), Arc::as_ptr(&other.lookup))
            && Arc::ptr_eq(&self.caches, &other.caches)
            && self.has_uploads == other.has_uploads
    }
}
