//! The statements of release artifacts (chunks, artifact bundles, release files), the same on
//! both backends but for their placeholders: each is written with SQLite's `?n` and spelled
//! `$n` for PostgreSQL. A dist is stored as `''` when there is none, so that it can be part
//! of a key and compared with `=` on both.

use super::Dialect;
use crate::rows::{BUNDLE_COLUMNS, RELEASE_FILE_COLUMNS};

/// `text` in the dialect's placeholders.
fn spell(dialect: Dialect, text: &str) -> String {
    match dialect {
        Dialect::Sqlite => text.to_owned(),
        Dialect::Postgres => text.replace('?', "$"),
    }
}

/// Writes a chunk unless stored: checksum, size, data, date_added.
pub(crate) fn insert_blob_sql(d: Dialect) -> String {
    spell(
        d,
        "INSERT INTO file_blobs (checksum, size, data, date_added) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (checksum) DO NOTHING",
    )
}

/// Records that organization ?1 uploaded chunk ?2 (last at ?3: an upload again renews it, so
/// that pruning spares a chunk a CI is about to assemble).
pub(crate) fn insert_blob_owner_sql(d: Dialect) -> String {
    spell(
        d,
        "INSERT INTO file_blob_owners (organization_id, checksum, date_added) VALUES (?1, ?2, ?3)
         ON CONFLICT (organization_id, checksum) DO UPDATE SET date_added = excluded.date_added",
    )
}

/// Up to ?2 chunks no bundle is made of and no organization uploaded since ?1.
pub(crate) fn prunable_chunks_sql(d: Dialect) -> String {
    spell(
        d,
        "SELECT b.checksum FROM file_blobs b
         WHERE NOT EXISTS (SELECT 1 FROM artifact_bundle_chunks c WHERE c.checksum = b.checksum)
           AND NOT EXISTS (SELECT 1 FROM file_blob_owners o
                           WHERE o.checksum = b.checksum AND o.date_added >= ?1)
         LIMIT ?2",
    )
}

/// Forgets who uploaded chunk ?1.
pub(crate) fn delete_blob_owners_sql(d: Dialect) -> String {
    spell(d, "DELETE FROM file_blob_owners WHERE checksum = ?1")
}

/// Deletes chunk ?1 unless a bundle is made of it (one assembled meanwhile).
pub(crate) fn delete_blob_sql(d: Dialect) -> String {
    spell(
        d,
        "DELETE FROM file_blobs WHERE checksum = ?1
           AND NOT EXISTS (SELECT 1 FROM artifact_bundle_chunks c WHERE c.checksum = ?1)",
    )
}

/// How many blobs are stored and their total size.
/// Whether a project has source maps to look in: a bundle of its own, or a release file of its
/// own or of its organization's releases for every project. `$1` is the project; the same name
/// binds once in both dialects.
pub(crate) const HAS_SOURCE_ARTIFACTS_SQL: &str = "SELECT EXISTS (
        SELECT 1 FROM artifact_bundle_projects WHERE project_id = $1
    ) OR EXISTS (
        SELECT 1 FROM release_files f JOIN projects p ON p.organization_id = f.organization_id
        WHERE p.id = $1 AND (f.project_id IS NULL OR f.project_id = $1)
    )";

pub(crate) const CHUNK_TOTALS_SQL: &str =
    "SELECT count(*), CAST(coalesce(sum(size), 0) AS BIGINT) FROM file_blobs";

/// Whether organization ?1 uploaded chunk ?2.
pub(crate) fn blob_owned_sql(d: Dialect) -> String {
    spell(
        d,
        "SELECT count(*) FROM file_blob_owners WHERE organization_id = ?1 AND checksum = ?2",
    )
}

/// The bytes of chunk ?2, when organization ?1 uploaded it.
pub(crate) fn owned_blob_sql(d: Dialect) -> String {
    spell(
        d,
        "SELECT b.data FROM file_blobs b
         JOIN file_blob_owners o ON o.checksum = b.checksum AND o.organization_id = ?1
         WHERE b.checksum = ?2",
    )
}

/// The bundle of organization ?1 whose whole has checksum ?2.
pub(crate) fn bundle_by_checksum_sql(d: Dialect) -> String {
    spell(
        d,
        &format!(
            "SELECT {BUNDLE_COLUMNS} FROM artifact_bundles b
             WHERE b.organization_id = ?1 AND b.checksum = ?2"
        ),
    )
}

/// A bundle by its row id.
pub(crate) fn bundle_by_row_sql(d: Dialect) -> String {
    spell(
        d,
        &format!("SELECT {BUNDLE_COLUMNS} FROM artifact_bundles b WHERE b.id = ?1"),
    )
}

/// Writes a bundle: organization_id, bundle_id, checksum, note, file_count, size, date_added
/// (also its date_modified); returns its id, none when the organization has that checksum
/// already (stored by a concurrent assemble).
pub(crate) fn insert_bundle_sql(d: Dialect) -> String {
    spell(
        d,
        "INSERT INTO artifact_bundles (organization_id, bundle_id, checksum, note, file_count,
             size, date_added, date_modified)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)
         ON CONFLICT (organization_id, checksum) DO NOTHING RETURNING id",
    )
}

/// Marks bundle ?1 changed at ?2 (a new association).
pub(crate) fn touch_bundle_sql(d: Dialect) -> String {
    spell(
        d,
        "UPDATE artifact_bundles SET date_modified = ?2 WHERE id = ?1",
    )
}

/// Chunk ?3 is the ?2th of bundle ?1.
pub(crate) fn insert_bundle_chunk_sql(d: Dialect) -> String {
    spell(
        d,
        "INSERT INTO artifact_bundle_chunks (bundle_row_id, position, checksum) VALUES (?1, ?2, ?3)",
    )
}

/// Debug id ?1 is in bundle ?2, on a file of type ?3.
pub(crate) fn insert_debug_id_sql(d: Dialect) -> String {
    spell(
        d,
        "INSERT INTO artifact_bundle_debug_ids (debug_id, bundle_row_id, file_type)
         VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING",
    )
}

/// URL ?1 is in bundle ?2.
pub(crate) fn insert_url_sql(d: Dialect) -> String {
    spell(
        d,
        "INSERT INTO artifact_bundle_urls (url, bundle_row_id) VALUES (?1, ?2)
         ON CONFLICT DO NOTHING",
    )
}

/// Bundle ?1 belongs to project ?2.
pub(crate) fn insert_bundle_project_sql(d: Dialect) -> String {
    spell(
        d,
        "INSERT INTO artifact_bundle_projects (bundle_row_id, project_id) VALUES (?1, ?2)
         ON CONFLICT DO NOTHING",
    )
}

/// Bundle ?1 is associated with release ?2, dist ?3 (`''` for none).
pub(crate) fn insert_bundle_release_sql(d: Dialect) -> String {
    spell(
        d,
        "INSERT INTO artifact_bundle_releases (bundle_row_id, release, dist) VALUES (?1, ?2, ?3)
         ON CONFLICT DO NOTHING",
    )
}

/// "Bundle `b` belongs to project ?1".
const OF_PROJECT: &str =
    "EXISTS (SELECT 1 FROM artifact_bundle_projects p WHERE p.bundle_row_id = b.id AND p.project_id = ?1)";

/// Bundles of project ?1 holding debug id ?2, newest first.
pub(crate) fn bundles_for_debug_id_sql(d: Dialect) -> String {
    spell(
        d,
        &format!(
            "SELECT {BUNDLE_COLUMNS} FROM artifact_bundles b
             WHERE {OF_PROJECT}
               AND b.id IN (SELECT i.bundle_row_id FROM artifact_bundle_debug_ids i
                            WHERE i.debug_id = ?2)
             ORDER BY b.date_added DESC, b.id DESC"
        ),
    )
}

/// Bundles of project ?1 associated with release ?2 and dist ?3 holding URL ?4, newest first.
pub(crate) fn bundles_for_url_sql(d: Dialect) -> String {
    spell(
        d,
        &format!(
            "SELECT {BUNDLE_COLUMNS} FROM artifact_bundles b
             WHERE {OF_PROJECT}
               AND EXISTS (SELECT 1 FROM artifact_bundle_releases r
                           WHERE r.bundle_row_id = b.id AND r.release = ?2 AND r.dist = ?3)
               AND b.id IN (SELECT u.bundle_row_id FROM artifact_bundle_urls u WHERE u.url = ?4)
             ORDER BY b.date_added DESC, b.id DESC"
        ),
    )
}

/// The chunks of bundle ?1 in order, each with its bytes (none when the blob is gone).
pub(crate) fn bundle_chunks_sql(d: Dialect) -> String {
    spell(
        d,
        "SELECT c.checksum, b.data FROM artifact_bundle_chunks c
         LEFT JOIN file_blobs b ON b.checksum = c.checksum
         WHERE c.bundle_row_id = ?1 ORDER BY c.position",
    )
}

/// The release associations of bundle ?1, sorted.
pub(crate) fn bundle_associations_sql(d: Dialect) -> String {
    spell(
        d,
        "SELECT release, dist FROM artifact_bundle_releases WHERE bundle_row_id = ?1
         ORDER BY release, dist",
    )
}

/// The bundles of project ?1, newest first (limit ?2, offset ?3); with `query`, those whose
/// bundle id or a release of which contains ?4.
pub(crate) fn project_bundles_sql(d: Dialect, query: bool) -> String {
    let filter = if query {
        format!(
            "AND ({} OR EXISTS (SELECT 1 FROM artifact_bundle_releases r
                                WHERE r.bundle_row_id = b.id AND {}))",
            d.like_any_case("b.bundle_id", "?4"),
            d.like_any_case("r.release", "?4")
        )
    } else {
        String::new()
    };
    spell(
        d,
        &format!(
            "SELECT {BUNDLE_COLUMNS}, b.date_modified FROM artifact_bundles b
             WHERE {OF_PROJECT} {filter}
             ORDER BY b.date_added DESC, b.id DESC LIMIT ?2 OFFSET ?3"
        ),
    )
}

/// The bundle of project ?1 with bundle id ?2 (the newest, should it have been uploaded twice
/// with different contents).
pub(crate) fn project_bundle_sql(d: Dialect) -> String {
    spell(
        d,
        &format!(
            "SELECT {BUNDLE_COLUMNS}, b.date_modified FROM artifact_bundles b
             WHERE {OF_PROJECT} AND b.bundle_id = ?2
             ORDER BY b.date_added DESC, b.id DESC"
        ),
    )
}

/// The row ids of project ?1's bundles with bundle id ?2.
pub(crate) fn project_bundle_rows_sql(d: Dialect) -> String {
    spell(
        d,
        &format!("SELECT b.id FROM artifact_bundles b WHERE {OF_PROJECT} AND b.bundle_id = ?2"),
    )
}

/// Takes bundle ?1 from project ?2.
pub(crate) fn delete_bundle_project_sql(d: Dialect) -> String {
    spell(
        d,
        "DELETE FROM artifact_bundle_projects WHERE bundle_row_id = ?1 AND project_id = ?2",
    )
}

/// Deletes bundle ?1 when no project holds it any more (its index rows go with it).
pub(crate) fn delete_orphan_bundle_sql(d: Dialect) -> String {
    spell(
        d,
        "DELETE FROM artifact_bundles WHERE id = ?1
           AND NOT EXISTS (SELECT 1 FROM artifact_bundle_projects p WHERE p.bundle_row_id = ?1)",
    )
}

/// The bundles of organization ?1 associated with release ?2 (any dist), newest first.
pub(crate) fn release_bundles_sql(d: Dialect) -> String {
    spell(
        d,
        &format!(
            "SELECT {BUNDLE_COLUMNS} FROM artifact_bundles b
             WHERE b.organization_id = ?1
               AND EXISTS (SELECT 1 FROM artifact_bundle_releases r
                           WHERE r.bundle_row_id = b.id AND r.release = ?2)
             ORDER BY b.date_added DESC, b.id DESC"
        ),
    )
}

/// Writes a release file: organization_id, release_id, project_id, dist, name, headers, size,
/// sha1, payload, date_created; returns its id.
pub(crate) fn insert_release_file_sql(d: Dialect) -> String {
    spell(
        d,
        "INSERT INTO release_files (organization_id, release_id, project_id, dist, name, headers,
             size, sha1, payload, date_created)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) RETURNING id",
    )
}

/// The files of release ?1, by name; those of every project and (when ?2 is not null) of
/// project ?2 only.
pub(crate) fn release_files_sql(d: Dialect) -> String {
    spell(
        d,
        &format!(
            "SELECT {RELEASE_FILE_COLUMNS} FROM release_files f
             WHERE f.release_id = ?1
               AND (CAST(?2 AS BIGINT) IS NULL OR f.project_id IS NULL OR f.project_id = ?2)
             ORDER BY f.name, f.dist, f.id"
        ),
    )
}

/// File ?2 of release ?1.
pub(crate) fn release_file_sql(d: Dialect) -> String {
    spell(
        d,
        &format!(
            "SELECT {RELEASE_FILE_COLUMNS} FROM release_files f
             WHERE f.release_id = ?1 AND f.id = ?2"
        ),
    )
}

/// The bytes of release file ?1.
pub(crate) fn release_file_bytes_sql(d: Dialect) -> String {
    spell(d, "SELECT payload FROM release_files WHERE id = ?1")
}

/// Renames file ?2 of release ?1 to name ?3, dist ?4.
pub(crate) fn update_release_file_sql(d: Dialect) -> String {
    spell(
        d,
        "UPDATE release_files SET name = ?3, dist = ?4 WHERE release_id = ?1 AND id = ?2",
    )
}

/// Deletes file ?2 of release ?1.
pub(crate) fn delete_release_file_sql(d: Dialect) -> String {
    spell(
        d,
        "DELETE FROM release_files WHERE release_id = ?1 AND id = ?2",
    )
}

/// The file of project ?1's organization named ?4 of release ?2, dist ?3, uploaded for that
/// project or for all.
pub(crate) fn release_file_by_url_sql(d: Dialect) -> String {
    spell(
        d,
        &format!(
            "SELECT {RELEASE_FILE_COLUMNS} FROM release_files f
             JOIN releases r ON r.id = f.release_id
             JOIN projects p ON p.id = ?1 AND p.organization_id = r.organization_id
             WHERE r.version = ?2 AND f.dist = ?3 AND f.name = ?4
               AND (f.project_id IS NULL OR f.project_id = ?1)"
        ),
    )
}
