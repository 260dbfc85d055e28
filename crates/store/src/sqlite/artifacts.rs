//! Release artifacts on SQLite (statements in `query/artifacts.rs`).

use async_trait::async_trait;
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};

use super::error::DbContext;
use super::statements::{query_all_with, record_opt, records};
use super::{now, sql_int, SqliteStore};
use crate::query::artifacts::*;
use crate::query::Dialect;
use crate::rows::{dist_of, Record};
use crate::{
    ArtifactBundleInfo, ArtifactBundleListing, Artifacts, NewArtifactBundle, NewReleaseFile,
    ReleaseFile, StoreError, StoreResult,
};

const SQL: Dialect = Dialect::Sqlite;

/// The release associations of a bundle.
fn associations(conn: &Connection, row_id: i64) -> StoreResult<Vec<(String, Option<String>)>> {
    query_all_with(
        conn,
        &bundle_associations_sql(SQL),
        params![row_id],
        "reading a bundle's releases",
        |row| {
            let release: String = row.get(0).db("reading a bundle's releases")?;
            let dist: Option<String> = row.get(1).db("reading a bundle's releases")?;
            Ok((release, dist_of(dist)))
        },
    )
}

/// A listing row: [`crate::rows::BUNDLE_COLUMNS`] then `date_modified`.
fn listing(conn: &Connection, row: &rusqlite::Row<'_>) -> StoreResult<ArtifactBundleListing> {
    let info = ArtifactBundleInfo::read(row)?;
    let date_modified: f64 = row.get(10).db("reading a bundle")?;
    let associations = associations(conn, info.id)?;
    Ok(ArtifactBundleListing {
        info,
        date_modified,
        associations,
    })
}

fn blob_owned(conn: &Connection, org_id: i64, checksum: &str) -> StoreResult<bool> {
    let count: i64 = conn
        .prepare_cached(&blob_owned_sql(SQL))
        .and_then(|mut stmt| stmt.query_row(params![org_id, checksum], |row| row.get(0)))
        .db("looking up a chunk")?;
    Ok(count > 0)
}

#[async_trait]
impl Artifacts for SqliteStore {
    async fn save_chunks(&self, org_id: i64, chunks: Vec<(String, Vec<u8>)>) -> StoreResult<()> {
        self.write(move |conn| {
            let what = "saving chunks";
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .db(what)?;
            let at = now();
            {
                let mut blob = tx.prepare_cached(&insert_blob_sql(SQL)).db(what)?;
                let mut owner = tx.prepare_cached(&insert_blob_owner_sql(SQL)).db(what)?;
                for (checksum, data) in &chunks {
                    blob.execute(params![checksum, data.len() as i64, data, at])
                        .db(what)?;
                    owner.execute(params![org_id, checksum, at]).db(what)?;
                }
            }
            tx.commit().db(what)
        })
        .await
    }

    async fn chunk_totals(&self) -> StoreResult<(i64, i64)> {
        self.read(|conn| {
            conn.query_row(CHUNK_TOTALS_SQL, [], |row| Ok((row.get(0)?, row.get(1)?)))
                .db("counting chunks")
        })
        .await
    }

    async fn has_source_artifacts(&self, project_id: i64) -> StoreResult<bool> {
        self.read(move |conn| {
            conn.prepare_cached(HAS_SOURCE_ARTIFACTS_SQL)
                .and_then(|mut stmt| stmt.query_row(params![project_id], |row| row.get(0)))
                .db("looking for source maps")
        })
        .await
    }

    async fn prune_chunks(&self, uploaded_before: f64, limit: u64) -> StoreResult<u64> {
        self.write(move |conn| {
            let what = "pruning chunks";
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .db(what)?;
            let candidates = query_all_with(
                &tx,
                &prunable_chunks_sql(SQL),
                params![uploaded_before, sql_int(limit)],
                what,
                |row| row.get::<_, String>(0).db(what),
            )?;
            let mut deleted = 0;
            for checksum in &candidates {
                tx.execute(&delete_blob_owners_sql(SQL), params![checksum])
                    .db(what)?;
                deleted += tx
                    .execute(&delete_blob_sql(SQL), params![checksum])
                    .db(what)? as u64;
            }
            tx.commit().db(what)?;
            Ok(deleted)
        })
        .await
    }

    async fn missing_chunks(&self, org_id: i64, checksums: &[String]) -> StoreResult<Vec<String>> {
        let checksums = checksums.to_vec();
        self.read(move |conn| {
            let mut missing = Vec::new();
            for checksum in checksums {
                if !blob_owned(conn, org_id, &checksum)? && !missing.contains(&checksum) {
                    missing.push(checksum);
                }
            }
            Ok(missing)
        })
        .await
    }

    async fn chunks_bytes(
        &self,
        org_id: i64,
        checksums: &[String],
    ) -> StoreResult<Option<Vec<u8>>> {
        let checksums = checksums.to_vec();
        self.read(move |conn| {
            let mut whole = Vec::new();
            let mut stmt = conn
                .prepare_cached(&owned_blob_sql(SQL))
                .db("reading a chunk")?;
            for checksum in &checksums {
                let data: Option<Vec<u8>> = stmt
                    .query_row(params![org_id, checksum], |row| row.get(0))
                    .optional()
                    .db("reading a chunk")?;
                match data {
                    Some(data) => whole.extend_from_slice(&data),
                    None => return Ok(None),
                }
            }
            Ok(Some(whole))
        })
        .await
    }

    async fn artifact_bundle_by_checksum(
        &self,
        org_id: i64,
        checksum: &str,
    ) -> StoreResult<Option<ArtifactBundleInfo>> {
        let checksum = checksum.to_owned();
        self.read(move |conn| {
            record_opt(
                conn,
                &bundle_by_checksum_sql(SQL),
                params![org_id, checksum],
                "reading a bundle",
            )
        })
        .await
    }

    async fn save_artifact_bundle(
        &self,
        bundle: NewArtifactBundle,
    ) -> StoreResult<(ArtifactBundleInfo, bool)> {
        self.write(move |conn| {
            let what = "saving an artifact bundle";
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .db(what)?;
            let at = now();
            let existing: Option<ArtifactBundleInfo> = record_opt(
                &tx,
                &bundle_by_checksum_sql(SQL),
                params![bundle.org_id, bundle.checksum],
                what,
            )?;
            let (row_id, created) = match existing {
                Some(found) => {
                    tx.execute(&touch_bundle_sql(SQL), params![found.id, at])
                        .db(what)?;
                    (found.id, false)
                }
                None => {
                    for checksum in &bundle.chunks {
                        if !blob_owned(&tx, bundle.org_id, checksum)? {
                            return Err(StoreError::NotFound(format!("chunk {checksum}")));
                        }
                    }
                    let row_id: Option<i64> = tx
                        .query_row(
                            &insert_bundle_sql(SQL),
                            params![
                                bundle.org_id,
                                bundle.bundle_id,
                                bundle.checksum,
                                bundle.note,
                                bundle.file_count,
                                bundle.size,
                                at
                            ],
                            |row| row.get(0),
                        )
                        .optional()
                        .db(what)?;
                    // The transaction is immediate: no other writer stored it meanwhile.
                    let row_id = row_id.ok_or_else(|| StoreError::Conflict("bundle".into()))?;
                    let mut chunk = tx.prepare_cached(&insert_bundle_chunk_sql(SQL)).db(what)?;
                    for (position, checksum) in bundle.chunks.iter().enumerate() {
                        chunk
                            .execute(params![row_id, position as i64, checksum])
                            .db(what)?;
                    }
                    let mut debug_id = tx.prepare_cached(&insert_debug_id_sql(SQL)).db(what)?;
                    for (id, ty) in &bundle.debug_ids {
                        debug_id.execute(params![id, row_id, ty]).db(what)?;
                    }
                    let mut url = tx.prepare_cached(&insert_url_sql(SQL)).db(what)?;
                    for u in &bundle.urls {
                        url.execute(params![u, row_id]).db(what)?;
                    }
                    (row_id, true)
                }
            };
            {
                let mut project = tx
                    .prepare_cached(&insert_bundle_project_sql(SQL))
                    .db(what)?;
                for project_id in &bundle.project_ids {
                    project.execute(params![row_id, project_id]).db(what)?;
                }
            }
            if let Some(release) = &bundle.release {
                tx.execute(
                    &insert_bundle_release_sql(SQL),
                    params![row_id, release, bundle.dist.as_deref().unwrap_or("")],
                )
                .db(what)?;
            }
            let info: ArtifactBundleInfo =
                record_opt(&tx, &bundle_by_row_sql(SQL), params![row_id], what)?
                    .ok_or_else(|| StoreError::Database(format!("{what}: the bundle vanished")))?;
            tx.commit().db(what)?;
            Ok((info, created))
        })
        .await
    }

    async fn artifact_bundles_for_debug_id(
        &self,
        project_id: i64,
        debug_id: &str,
    ) -> StoreResult<Vec<ArtifactBundleInfo>> {
        let debug_id = debug_id.to_owned();
        self.read(move |conn| {
            records(
                conn,
                &bundles_for_debug_id_sql(SQL),
                params![project_id, debug_id],
                "finding bundles by debug id",
            )
        })
        .await
    }

    async fn artifact_bundles_for_url(
        &self,
        project_id: i64,
        release: &str,
        dist: Option<&str>,
        url: &str,
    ) -> StoreResult<Vec<ArtifactBundleInfo>> {
        let (release, dist, url) = (
            release.to_owned(),
            dist.unwrap_or("").to_owned(),
            url.to_owned(),
        );
        self.read(move |conn| {
            records(
                conn,
                &bundles_for_url_sql(SQL),
                params![project_id, release, dist, url],
                "finding bundles by url",
            )
        })
        .await
    }

    async fn artifact_bundle_bytes(&self, bundle_row_id: i64) -> StoreResult<Option<Vec<u8>>> {
        self.read(move |conn| {
            let what = "reading a bundle's chunks";
            let parts = query_all_with(
                conn,
                &bundle_chunks_sql(SQL),
                params![bundle_row_id],
                what,
                |row| row.get::<_, Option<Vec<u8>>>(1).db(what),
            )?;
            if parts.is_empty() || parts.iter().any(Option::is_none) {
                return Ok(None);
            }
            Ok(Some(parts.into_iter().flatten().flatten().collect()))
        })
        .await
    }

    async fn list_artifact_bundles(
        &self,
        project_id: i64,
        query: Option<&str>,
        offset: u64,
        limit: u64,
    ) -> StoreResult<Vec<ArtifactBundleListing>> {
        let pattern = crate::shared::substring_pattern(query);
        self.read(move |conn| {
            let what = "listing artifact bundles";
            match &pattern {
                Some(pattern) => query_all_with(
                    conn,
                    &project_bundles_sql(SQL, true),
                    params![project_id, sql_int(limit), sql_int(offset), pattern],
                    what,
                    |row| listing(conn, row),
                ),
                None => query_all_with(
                    conn,
                    &project_bundles_sql(SQL, false),
                    params![project_id, sql_int(limit), sql_int(offset)],
                    what,
                    |row| listing(conn, row),
                ),
            }
        })
        .await
    }

    async fn project_artifact_bundle(
        &self,
        project_id: i64,
        bundle_id: &str,
    ) -> StoreResult<Option<ArtifactBundleListing>> {
        let bundle_id = bundle_id.to_owned();
        self.read(move |conn| {
            let found = query_all_with(
                conn,
                &project_bundle_sql(SQL),
                params![project_id, bundle_id],
                "reading an artifact bundle",
                |row| listing(conn, row),
            )?;
            Ok(found.into_iter().next())
        })
        .await
    }

    async fn delete_artifact_bundle(&self, project_id: i64, bundle_id: &str) -> StoreResult<bool> {
        let bundle_id = bundle_id.to_owned();
        self.write(move |conn| {
            let what = "deleting an artifact bundle";
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .db(what)?;
            let rows = query_all_with(
                &tx,
                &project_bundle_rows_sql(SQL),
                params![project_id, bundle_id],
                what,
                |row| row.get::<_, i64>(0).db(what),
            )?;
            for row_id in &rows {
                tx.execute(&delete_bundle_project_sql(SQL), params![row_id, project_id])
                    .db(what)?;
                tx.execute(&delete_orphan_bundle_sql(SQL), params![row_id])
                    .db(what)?;
            }
            tx.commit().db(what)?;
            Ok(!rows.is_empty())
        })
        .await
    }

    async fn release_artifact_bundles(
        &self,
        org_id: i64,
        release: &str,
    ) -> StoreResult<Vec<ArtifactBundleInfo>> {
        let release = release.to_owned();
        self.read(move |conn| {
            records(
                conn,
                &release_bundles_sql(SQL),
                params![org_id, release],
                "listing a release's bundles",
            )
        })
        .await
    }

    async fn create_release_file(&self, file: NewReleaseFile) -> StoreResult<ReleaseFile> {
        self.write(move |conn| {
            let what = "release file";
            let headers = serde_json::to_string(&file.headers)
                .map_err(|e| StoreError::Invalid(e.to_string()))?;
            let id: i64 = conn
                .query_row(
                    &insert_release_file_sql(SQL),
                    params![
                        file.org_id,
                        file.release_id,
                        file.project_id,
                        file.dist.as_deref().unwrap_or(""),
                        file.name,
                        headers,
                        file.payload.len() as i64,
                        file.sha1,
                        file.payload,
                        now()
                    ],
                    |row| row.get(0),
                )
                .db(what)?;
            record_opt(
                conn,
                &release_file_sql(SQL),
                params![file.release_id, id],
                what,
            )?
            .ok_or_else(|| StoreError::Database("the release file vanished".into()))
        })
        .await
    }

    async fn list_release_files(
        &self,
        release_id: i64,
        project_id: Option<i64>,
    ) -> StoreResult<Vec<ReleaseFile>> {
        self.read(move |conn| {
            records(
                conn,
                &release_files_sql(SQL),
                params![release_id, project_id],
                "listing release files",
            )
        })
        .await
    }

    async fn release_file(&self, release_id: i64, id: i64) -> StoreResult<Option<ReleaseFile>> {
        self.read(move |conn| {
            record_opt(
                conn,
                &release_file_sql(SQL),
                params![release_id, id],
                "reading a release file",
            )
        })
        .await
    }

    async fn release_file_bytes(&self, id: i64) -> StoreResult<Option<Vec<u8>>> {
        self.read(move |conn| {
            conn.prepare_cached(&release_file_bytes_sql(SQL))
                .and_then(|mut stmt| stmt.query_row(params![id], |row| row.get(0)).optional())
                .db("reading a release file's bytes")
        })
        .await
    }

    async fn update_release_file(
        &self,
        release_id: i64,
        id: i64,
        name: &str,
        dist: Option<&str>,
    ) -> StoreResult<Option<ReleaseFile>> {
        let (name, dist) = (name.to_owned(), dist.unwrap_or("").to_owned());
        self.write(move |conn| {
            conn.execute(
                &update_release_file_sql(SQL),
                params![release_id, id, name, dist],
            )
            .db("release file")?;
            record_opt(
                conn,
                &release_file_sql(SQL),
                params![release_id, id],
                "reading a release file",
            )
        })
        .await
    }

    async fn delete_release_file(&self, release_id: i64, id: i64) -> StoreResult<bool> {
        self.write(move |conn| {
            let deleted = conn
                .execute(&delete_release_file_sql(SQL), params![release_id, id])
                .db("deleting a release file")?;
            Ok(deleted > 0)
        })
        .await
    }

    async fn release_file_by_url(
        &self,
        project_id: i64,
        release: &str,
        dist: Option<&str>,
        url: &str,
    ) -> StoreResult<Option<(ReleaseFile, Vec<u8>)>> {
        let (release, dist, url) = (
            release.to_owned(),
            dist.unwrap_or("").to_owned(),
            url.to_owned(),
        );
        self.read(move |conn| {
            let what = "finding a release file";
            let file: Option<ReleaseFile> = record_opt(
                conn,
                &release_file_by_url_sql(SQL),
                params![project_id, release, dist, url],
                what,
            )?;
            let Some(file) = file else { return Ok(None) };
            let bytes: Option<Vec<u8>> = conn
                .prepare_cached(&release_file_bytes_sql(SQL))
                .and_then(|mut stmt| {
                    stmt.query_row(params![file.id], |row| row.get(0))
                        .optional()
                })
                .db(what)?;
            Ok(bytes.map(|bytes| (file, bytes)))
        })
        .await
    }
}
