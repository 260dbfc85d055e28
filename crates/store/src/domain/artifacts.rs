//! Release artifacts: the chunks `sentry-cli` uploads (content-addressed: a blob is written
//! once however often it is uploaded, each organization's uploads recorded apart), the artifact
//! bundles assembled from them (indexed by debug ID and by release + dist + URL, so that
//! symbolication finds the map of a frame), and release files.

use async_trait::async_trait;

use crate::{
    ArtifactBundleInfo, ArtifactBundleListing, NewArtifactBundle, NewReleaseFile, ReleaseFile,
    StoreResult,
};

/// Chunks, artifact bundles and release files.
#[async_trait]
pub trait Artifacts: Send + Sync {
    /// Keeps chunks `(sha1, bytes)` uploaded by organization `org_id`; a blob stored already is
    /// not written again. The caller has checked each checksum.
    async fn save_chunks(&self, org_id: i64, chunks: Vec<(String, Vec<u8>)>) -> StoreResult<()>;
    /// How many distinct chunks are stored, and their bytes (each blob counted once however
    /// many organizations uploaded it).
    async fn chunk_totals(&self) -> StoreResult<(i64, i64)>;
    /// Whether the project has any uploaded source maps (bundles or release files): the events
    /// of a project without any are not looked up.
    async fn has_source_artifacts(&self, project_id: i64) -> StoreResult<bool>;
    /// Deletes up to `limit` chunks that no bundle is made of and that no organization
    /// uploaded since `uploaded_before` (those of deleted bundles, and uploads never
    /// assembled); how many. Chunks uploaded since are spared: a CI may be assembling them.
    async fn prune_chunks(&self, uploaded_before: f64, limit: u64) -> StoreResult<u64>;
    /// Of `checksums`, those organization `org_id` has not uploaded, in the order given.
    async fn missing_chunks(&self, org_id: i64, checksums: &[String]) -> StoreResult<Vec<String>>;
    /// The chunks concatenated, when organization `org_id` uploaded all of them.
    async fn chunks_bytes(&self, org_id: i64, checksums: &[String])
        -> StoreResult<Option<Vec<u8>>>;
    /// The bundle of organization `org_id` whose whole has this checksum.
    async fn artifact_bundle_by_checksum(
        &self,
        org_id: i64,
        checksum: &str,
    ) -> StoreResult<Option<ArtifactBundleInfo>>;
    /// Stores a bundle and indexes it, or — when its checksum is stored already in the
    /// organization — associates that one with the projects and release given; `true` when
    /// it was created. Every chunk must have been uploaded by the organization (`NotFound`
    /// names one that was not).
    async fn save_artifact_bundle(
        &self,
        bundle: NewArtifactBundle,
    ) -> StoreResult<(ArtifactBundleInfo, bool)>;
    /// Bundles of `project_id` holding a file with this debug id (lowercase hyphenated UUID),
    /// newest first.
    async fn artifact_bundles_for_debug_id(
        &self,
        project_id: i64,
        debug_id: &str,
    ) -> StoreResult<Vec<ArtifactBundleInfo>>;
    /// Bundles of `project_id` associated with `release` (+ `dist`, None matching a bundle
    /// without dist) that hold `url` exactly as the manifest writes it (`~/static/app.js` or a
    /// full URL), newest first.
    async fn artifact_bundles_for_url(
        &self,
        project_id: i64,
        release: &str,
        dist: Option<&str>,
        url: &str,
    ) -> StoreResult<Vec<ArtifactBundleInfo>>;
    /// The bundle's bytes (its chunks concatenated), None when it is gone.
    async fn artifact_bundle_bytes(&self, bundle_row_id: i64) -> StoreResult<Option<Vec<u8>>>;
    /// The bundles of a project, newest first; `query` keeps those whose bundle id or a
    /// release of which contains it.
    async fn list_artifact_bundles(
        &self,
        project_id: i64,
        query: Option<&str>,
        offset: u64,
        limit: u64,
    ) -> StoreResult<Vec<ArtifactBundleListing>>;
    /// A project's bundle by its bundle id.
    async fn project_artifact_bundle(
        &self,
        project_id: i64,
        bundle_id: &str,
    ) -> StoreResult<Option<ArtifactBundleListing>>;
    /// Takes the bundles with this bundle id from the project, deleting each that no project
    /// holds any more (its chunks stay: other bundles may share them); whether there was one.
    async fn delete_artifact_bundle(&self, project_id: i64, bundle_id: &str) -> StoreResult<bool>;
    /// The bundles of organization `org_id` associated with `release` (any dist), newest
    /// first.
    async fn release_artifact_bundles(
        &self,
        org_id: i64,
        release: &str,
    ) -> StoreResult<Vec<ArtifactBundleInfo>>;

    /// Stores a release file; `Conflict` when the release has a file of that name and dist.
    async fn create_release_file(&self, file: NewReleaseFile) -> StoreResult<ReleaseFile>;
    /// The files of a release by name; with `project_id`, only those of every project or of
    /// that one.
    async fn list_release_files(
        &self,
        release_id: i64,
        project_id: Option<i64>,
    ) -> StoreResult<Vec<ReleaseFile>>;
    /// One file of a release.
    async fn release_file(&self, release_id: i64, id: i64) -> StoreResult<Option<ReleaseFile>>;
    /// The bytes of a release file.
    async fn release_file_bytes(&self, id: i64) -> StoreResult<Option<Vec<u8>>>;
    /// Renames a file of a release (name and dist); `Conflict` when the new name is taken.
    async fn update_release_file(
        &self,
        release_id: i64,
        id: i64,
        name: &str,
        dist: Option<&str>,
    ) -> StoreResult<Option<ReleaseFile>>;
    /// Deletes a file of a release; whether there was one.
    async fn delete_release_file(&self, release_id: i64, id: i64) -> StoreResult<bool>;
    /// A release file of `project_id` (or of every project of the release's org) by exact
    /// name, with its bytes.
    async fn release_file_by_url(
        &self,
        project_id: i64,
        release: &str,
        dist: Option<&str>,
        url: &str,
    ) -> StoreResult<Option<(ReleaseFile, Vec<u8>)>>;
}
