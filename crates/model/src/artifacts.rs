//! Release artifacts as `sentry-cli` uploads them: chunks (content-addressed blobs), artifact
//! bundles assembled from them (indexed by debug ID and by release + URL) and release files.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::UnixTime;

/// An artifact bundle as stored: its bytes are the concatenation of its chunks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ArtifactBundleInfo {
    /// The row's id (what the store's `artifact_bundle_bytes` takes).
    pub id: i64,
    pub org_id: i64,
    /// The bundle's `debug_id` attribute (a UUID sentry-cli picks per upload).
    pub bundle_id: String,
    /// SHA-1 of the whole bundle, in hex.
    pub checksum: String,
    /// A release the bundle is associated with (the first by name when there are several).
    pub release: Option<String>,
    pub dist: Option<String>,
    pub note: Option<String>,
    pub file_count: i64,
    pub size: i64,
    pub date_added: UnixTime,
}

/// A bundle as the artifact-bundle list shows it: with every release association.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ArtifactBundleListing {
    pub info: ArtifactBundleInfo,
    pub date_modified: UnixTime,
    /// `(release, dist)` pairs, sorted.
    pub associations: Vec<(String, Option<String>)>,
}

/// A bundle assembled and parsed, to be stored (or, when its checksum is stored already in the
/// organization, associated with more projects and a release).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewArtifactBundle {
    pub org_id: i64,
    pub bundle_id: String,
    pub checksum: String,
    /// The SHA-1s of its chunks, in order; each must be stored.
    pub chunks: Vec<String>,
    pub note: Option<String>,
    pub file_count: i64,
    pub size: i64,
    /// `(debug_id, file type as the manifest names it)`, the debug id lowercase hyphenated.
    pub debug_ids: Vec<(String, String)>,
    /// Each file's URL as the manifest writes it.
    pub urls: Vec<String>,
    pub project_ids: Vec<i64>,
    /// The release (and dist) the bundle is associated with, if any.
    pub release: Option<String>,
    pub dist: Option<String>,
}

/// A release file (the release-file API, `sentry-cli releases files upload`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReleaseFile {
    pub id: i64,
    pub org_id: i64,
    /// The project it was uploaded for; `None` for every project of the release.
    pub project_id: Option<i64>,
    pub release: String,
    pub dist: Option<String>,
    /// The URL it is served at (`~/static/app.js` or a full URL).
    pub name: String,
    /// Headers such as `Sourcemap`, as uploaded.
    pub headers: BTreeMap<String, String>,
    pub size: i64,
    /// SHA-1 of the bytes, in hex.
    pub sha1: String,
    pub date_created: UnixTime,
}

/// A release file to store.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewReleaseFile {
    pub org_id: i64,
    pub release_id: i64,
    pub project_id: Option<i64>,
    pub dist: Option<String>,
    pub name: String,
    pub headers: BTreeMap<String, String>,
    pub sha1: String,
    pub payload: Vec<u8>,
}
