//! Artifact bundles and release files.

use super::{Columns, Record};
use crate::{ArtifactBundleInfo, ReleaseFile, StoreResult};

/// The columns [`ArtifactBundleInfo`] is read from, of `artifact_bundles b`; the release and
/// dist are those of its first association by name.
pub(crate) const BUNDLE_COLUMNS: &str = "b.id, b.organization_id, b.bundle_id, b.checksum,
     (SELECT r.release FROM artifact_bundle_releases r WHERE r.bundle_row_id = b.id
      ORDER BY r.release, r.dist LIMIT 1),
     (SELECT r.dist FROM artifact_bundle_releases r WHERE r.bundle_row_id = b.id
      ORDER BY r.release, r.dist LIMIT 1),
     b.note, b.file_count, b.size, b.date_added";

/// A stored dist: `''` is none.
pub(crate) fn dist_of(stored: Option<String>) -> Option<String> {
    stored.filter(|dist| !dist.is_empty())
}

/// From [`BUNDLE_COLUMNS`].
impl Record for ArtifactBundleInfo {
    fn read(row: &impl Columns) -> StoreResult<Self> {
        Ok(ArtifactBundleInfo {
            id: row.column(0)?,
            org_id: row.column(1)?,
            bundle_id: row.column(2)?,
            checksum: row.column(3)?,
            release: row.column(4)?,
            dist: dist_of(row.column(5)?),
            note: row.column(6)?,
            file_count: row.column(7)?,
            size: row.column(8)?,
            date_added: row.column(9)?,
        })
    }
}

/// The columns [`ReleaseFile`] is read from, of `release_files f` (never the bytes).
pub(crate) const RELEASE_FILE_COLUMNS: &str = "f.id, f.organization_id, f.project_id,
     (SELECT rr.version FROM releases rr WHERE rr.id = f.release_id),
     f.dist, f.name, f.headers, f.size, f.sha1, f.date_created";

/// From [`RELEASE_FILE_COLUMNS`].
impl Record for ReleaseFile {
    fn read(row: &impl Columns) -> StoreResult<Self> {
        Ok(ReleaseFile {
            id: row.column(0)?,
            org_id: row.column(1)?,
            project_id: row.column(2)?,
            release: row.column(3)?,
            dist: dist_of(row.column(4)?),
            name: row.column(5)?,
            headers: row.json(6, "release file headers")?,
            size: row.column(7)?,
            sha1: row.column(8)?,
            date_created: row.column(9)?,
        })
    }
}
