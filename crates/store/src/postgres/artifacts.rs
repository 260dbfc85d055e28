//! Release artifacts on PostgreSQL (statements in `query/artifacts.rs`).

use async_trait::async_trait;
use deadpool_postgres::GenericClient;
use tokio_postgres::Row;

use super::error::DbContext;
use super::sql::{self, get, record_opt, records, sql_int};
use super::{now, PgStore};
use crate::query::artifacts::*;
use crate::query::Dialect;
use crate::rows::{dist_of, Record};
use crate::shared::substring_pattern;
use crate::{
    ArtifactBundleInfo, ArtifactBundleListing, Artifacts, NewArtifactBundle, NewReleaseFile,
    ReleaseFile, StoreError, StoreResult,
};

const SQL: Dialect = Dialect::Postgres;

async fn blob_owned<C: GenericClient>(
    client: &C,
    org_id: i64,
    checksum: &str,
) -> StoreResult<bool> {
    let row = sql::query_one(
        client,
        &blob_owned_sql(SQL),
        &[&org_id, &checksum],
        "looking up a chunk",
    )
    .await?;
    Ok(get::<i64>(&row, 0)? > 0)
}

/// Listing rows ([`crate::rows::BUNDLE_COLUMNS`] then `date_modified`) with their releases.
async fn listings<C: GenericClient>(
    client: &C,
    rows: Vec<Row>,
) -> StoreResult<Vec<ArtifactBundleListing>> {
    let mut out = Vec::with_capacity(rows.len());
    for row in &rows {
        let info = ArtifactBundleInfo::read(row)?;
        let date_modified: f64 = get(row, 10)?;
        let associations = sql::query(
            client,
            &bundle_associations_sql(SQL),
            &[&info.id],
            "reading a bundle's releases",
        )
        .await?
        .iter()
        .map(|row| Ok((get::<String>(row, 0)?, dist_of(get(row, 1)?))))
        .collect::<StoreResult<Vec<_>>>()?;
        out.push(ArtifactBundleListing {
            info,
            date_modified,
            associations,
        });
    }
    Ok(out)
}

#[async_trait]
impl Artifacts for PgStore {
    async fn save_chunks(&self, org_id: i64, chunks: Vec<(String, Vec<u8>)>) -> StoreResult<()> {
        let what = "saving chunks";
        let mut client = self.client().await?;
        let tx = client.transaction().await.db(what)?;
        let at = now();
        let (blob, owner) = (insert_blob_sql(SQL), insert_blob_owner_sql(SQL));
        for (checksum, data) in &chunks {
            let size = data.len() as i64;
            sql::execute(&tx, &blob, &[checksum, &size, data, &at], what).await?;
            sql::execute(&tx, &owner, &[&org_id, checksum, &at], what).await?;
        }
        tx.commit().await.db(what)
    }

    async fn chunk_totals(&self) -> StoreResult<(i64, i64)> {
        let row = sql::query_one(
            &self.client().await?,
            CHUNK_TOTALS_SQL,
            &[],
            "counting chunks",
        )
        .await?;
        Ok((get(&row, 0)?, get(&row, 1)?))
    }

    async fn has_source_artifacts(&self, project_id: i64) -> StoreResult<bool> {
        let row = sql::query_one(
            &self.client().await?,
            HAS_SOURCE_ARTIFACTS_SQL,
            &[&project_id],
            "looking for source maps",
        )
        .await?;
        get(&row, 0)
    }

    async fn prune_chunks(&self, uploaded_before: f64, limit: u64) -> StoreResult<u64> {
        let what = "pruning chunks";
        let mut client = self.client().await?;
        let tx = client.transaction().await.db(what)?;
        let candidates = sql::query(
            &tx,
            &prunable_chunks_sql(SQL),
            &[&uploaded_before, &sql_int(limit)],
            what,
        )
        .await?;
        let mut deleted = 0;
        for row in &candidates {
            let checksum: String = get(row, 0)?;
            sql::execute(&tx, &delete_blob_owners_sql(SQL), &[&checksum], what).await?;
            deleted += sql::execute(&tx, &delete_blob_sql(SQL), &[&checksum], what).await?;
        }
        tx.commit().await.db(what)?;
        Ok(deleted)
    }

    async fn missing_chunks(&self, org_id: i64, checksums: &[String]) -> StoreResult<Vec<String>> {
        let client = self.client().await?;
        let mut missing: Vec<String> = Vec::new();
        for checksum in checksums {
            if !blob_owned(&client, org_id, checksum).await? && !missing.contains(checksum) {
                missing.push(checksum.clone());
            }
        }
        Ok(missing)
    }

    async fn chunks_bytes(
        &self,
        org_id: i64,
        checksums: &[String],
    ) -> StoreResult<Option<Vec<u8>>> {
        let client = self.client().await?;
        let mut whole = Vec::new();
        for checksum in checksums {
            let row = sql::query_opt(
                &client,
                &owned_blob_sql(SQL),
                &[&org_id, checksum],
                "reading a chunk",
            )
            .await?;
            match row {
                Some(row) => whole.extend_from_slice(&get::<Vec<u8>>(&row, 0)?),
                None => return Ok(None),
            }
        }
        Ok(Some(whole))
    }

    async fn artifact_bundle_by_checksum(
        &self,
        org_id: i64,
        checksum: &str,
    ) -> StoreResult<Option<ArtifactBundleInfo>> {
        record_opt(
            &self.client().await?,
            &bundle_by_checksum_sql(SQL),
            &[&org_id, &checksum],
            "reading a bundle",
        )
        .await
    }

    async fn save_artifact_bundle(
        &self,
        bundle: NewArtifactBundle,
    ) -> StoreResult<(ArtifactBundleInfo, bool)> {
        let what = "saving an artifact bundle";
        let mut client = self.client().await?;
        let tx = client.transaction().await.db(what)?;
        let at = now();
        let existing: Option<ArtifactBundleInfo> = record_opt(
            &tx,
            &bundle_by_checksum_sql(SQL),
            &[&bundle.org_id, &bundle.checksum],
            what,
        )
        .await?;
        // Ok(the new row), or Err(the row stored already).
        let inserted: Result<i64, i64> = match existing {
            Some(found) => Err(found.id),
            None => {
                for checksum in &bundle.chunks {
                    if !blob_owned(&tx, bundle.org_id, checksum).await? {
                        return Err(StoreError::NotFound(format!("chunk {checksum}")));
                    }
                }
                let row = sql::query_opt(
                    &tx,
                    &insert_bundle_sql(SQL),
                    &[
                        &bundle.org_id,
                        &bundle.bundle_id,
                        &bundle.checksum,
                        &bundle.note,
                        &bundle.file_count,
                        &bundle.size,
                        &at,
                    ],
                    what,
                )
                .await?;
                match row {
                    Some(row) => Ok(get::<i64>(&row, 0)?),
                    // A concurrent assemble stored it first: associate that one.
                    None => {
                        let found: Option<ArtifactBundleInfo> = record_opt(
                            &tx,
                            &bundle_by_checksum_sql(SQL),
                            &[&bundle.org_id, &bundle.checksum],
                            what,
                        )
                        .await?;
                        Err(found
                            .ok_or_else(|| StoreError::Conflict("bundle".into()))?
                            .id)
                    }
                }
            }
        };
        let (row_id, created) = match inserted {
            Ok(row_id) => {
                let chunk = insert_bundle_chunk_sql(SQL);
                for (position, checksum) in bundle.chunks.iter().enumerate() {
                    let position = position as i64;
                    sql::execute(&tx, &chunk, &[&row_id, &position, checksum], what).await?;
                }
                let debug_id = insert_debug_id_sql(SQL);
                for (id, ty) in &bundle.debug_ids {
                    sql::execute(&tx, &debug_id, &[id, &row_id, ty], what).await?;
                }
                let url = insert_url_sql(SQL);
                for u in &bundle.urls {
                    sql::execute(&tx, &url, &[u, &row_id], what).await?;
                }
                (row_id, true)
            }
            Err(row_id) => {
                sql::execute(&tx, &touch_bundle_sql(SQL), &[&row_id, &at], what).await?;
                (row_id, false)
            }
        };
        let project = insert_bundle_project_sql(SQL);
        for project_id in &bundle.project_ids {
            sql::execute(&tx, &project, &[&row_id, project_id], what).await?;
        }
        if let Some(release) = &bundle.release {
            let dist = bundle.dist.as_deref().unwrap_or("");
            sql::execute(
                &tx,
                &insert_bundle_release_sql(SQL),
                &[&row_id, release, &dist],
                what,
            )
            .await?;
        }
        let info: ArtifactBundleInfo = record_opt(&tx, &bundle_by_row_sql(SQL), &[&row_id], what)
            .await?
            .ok_or_else(|| StoreError::Database(format!("{what}: the bundle vanished")))?;
        tx.commit().await.db(what)?;
        Ok((info, created))
    }

    async fn artifact_bundles_for_debug_id(
        &self,
        project_id: i64,
        debug_id: &str,
    ) -> StoreResult<Vec<ArtifactBundleInfo>> {
        records(
            &self.client().await?,
            &bundles_for_debug_id_sql(SQL),
            &[&project_id, &debug_id],
            "finding bundles by debug id",
        )
        .await
    }

    async fn artifact_bundles_for_url(
        &self,
        project_id: i64,
        release: &str,
        dist: Option<&str>,
        url: &str,
    ) -> StoreResult<Vec<ArtifactBundleInfo>> {
        let dist = dist.unwrap_or("");
        records(
            &self.client().await?,
            &bundles_for_url_sql(SQL),
            &[&project_id, &release, &dist, &url],
            "finding bundles by url",
        )
        .await
    }

    async fn artifact_bundle_bytes(&self, bundle_row_id: i64) -> StoreResult<Option<Vec<u8>>> {
        let rows = sql::query(
            &self.client().await?,
            &bundle_chunks_sql(SQL),
            &[&bundle_row_id],
            "reading a bundle's chunks",
        )
        .await?;
        if rows.is_empty() {
            return Ok(None);
        }
        let mut whole = Vec::new();
        for row in &rows {
            match get::<Option<Vec<u8>>>(row, 1)? {
                Some(data) => whole.extend_from_slice(&data),
                None => return Ok(None),
            }
        }
        Ok(Some(whole))
    }

    async fn list_artifact_bundles(
        &self,
        project_id: i64,
        query: Option<&str>,
        offset: u64,
        limit: u64,
    ) -> StoreResult<Vec<ArtifactBundleListing>> {
        let client = self.client().await?;
        let what = "listing artifact bundles";
        let (limit, offset) = (sql_int(limit), sql_int(offset));
        let rows = match substring_pattern(query) {
            Some(pattern) => {
                sql::query(
                    &client,
                    &project_bundles_sql(SQL, true),
                    &[&project_id, &limit, &offset, &pattern],
                    what,
                )
                .await?
            }
            None => {
                sql::query(
                    &client,
                    &project_bundles_sql(SQL, false),
                    &[&project_id, &limit, &offset],
                    what,
                )
                .await?
            }
        };
        listings(&client, rows).await
    }

    async fn project_artifact_bundle(
        &self,
        project_id: i64,
        bundle_id: &str,
    ) -> StoreResult<Option<ArtifactBundleListing>> {
        let client = self.client().await?;
        let rows = sql::query(
            &client,
            &project_bundle_sql(SQL),
            &[&project_id, &bundle_id],
            "reading an artifact bundle",
        )
        .await?;
        Ok(listings(&client, rows.into_iter().take(1).collect())
            .await?
            .into_iter()
            .next())
    }

    async fn delete_artifact_bundle(&self, project_id: i64, bundle_id: &str) -> StoreResult<bool> {
        let what = "deleting an artifact bundle";
        let mut client = self.client().await?;
        let tx = client.transaction().await.db(what)?;
        let rows = sql::query(
            &tx,
            &project_bundle_rows_sql(SQL),
            &[&project_id, &bundle_id],
            what,
        )
        .await?;
        for row in &rows {
            let row_id: i64 = get(row, 0)?;
            sql::execute(
                &tx,
                &delete_bundle_project_sql(SQL),
                &[&row_id, &project_id],
                what,
            )
            .await?;
            sql::execute(&tx, &delete_orphan_bundle_sql(SQL), &[&row_id], what).await?;
        }
        tx.commit().await.db(what)?;
        Ok(!rows.is_empty())
    }

    async fn release_artifact_bundles(
        &self,
        org_id: i64,
        release: &str,
    ) -> StoreResult<Vec<ArtifactBundleInfo>> {
        records(
            &self.client().await?,
            &release_bundles_sql(SQL),
            &[&org_id, &release],
            "listing a release's bundles",
        )
        .await
    }

    async fn create_release_file(&self, file: NewReleaseFile) -> StoreResult<ReleaseFile> {
        let what = "release file";
        let client = self.client().await?;
        let headers =
            serde_json::to_string(&file.headers).map_err(|e| StoreError::Invalid(e.to_string()))?;
        let dist = file.dist.as_deref().unwrap_or("");
        let size = file.payload.len() as i64;
        let row = sql::query_one(
            &client,
            &insert_release_file_sql(SQL),
            &[
                &file.org_id,
                &file.release_id,
                &file.project_id,
                &dist,
                &file.name,
                &headers,
                &size,
                &file.sha1,
                &file.payload,
                &now(),
            ],
            what,
        )
        .await?;
        let id: i64 = get(&row, 0)?;
        record_opt(
            &client,
            &release_file_sql(SQL),
            &[&file.release_id, &id],
            what,
        )
        .await?
        .ok_or_else(|| StoreError::Database("the release file vanished".into()))
    }

    async fn list_release_files(
        &self,
        release_id: i64,
        project_id: Option<i64>,
    ) -> StoreResult<Vec<ReleaseFile>> {
        records(
            &self.client().await?,
            &release_files_sql(SQL),
            &[&release_id, &project_id],
            "listing release files",
        )
        .await
    }

    async fn release_file(&self, release_id: i64, id: i64) -> StoreResult<Option<ReleaseFile>> {
        record_opt(
            &self.client().await?,
            &release_file_sql(SQL),
            &[&release_id, &id],
            "reading a release file",
        )
        .await
    }

    async fn release_file_bytes(&self, id: i64) -> StoreResult<Option<Vec<u8>>> {
        let row = sql::query_opt(
            &self.client().await?,
            &release_file_bytes_sql(SQL),
            &[&id],
            "reading a release file's bytes",
        )
        .await?;
        row.as_ref().map(|row| get(row, 0)).transpose()
    }

    async fn update_release_file(
        &self,
        release_id: i64,
        id: i64,
        name: &str,
        dist: Option<&str>,
    ) -> StoreResult<Option<ReleaseFile>> {
        let client = self.client().await?;
        let dist = dist.unwrap_or("");
        sql::execute(
            &client,
            &update_release_file_sql(SQL),
            &[&release_id, &id, &name, &dist],
            "release file",
        )
        .await?;
        record_opt(
            &client,
            &release_file_sql(SQL),
            &[&release_id, &id],
            "reading a release file",
        )
        .await
    }

    async fn delete_release_file(&self, release_id: i64, id: i64) -> StoreResult<bool> {
        let deleted = sql::execute(
            &self.client().await?,
            &delete_release_file_sql(SQL),
            &[&release_id, &id],
            "deleting a release file",
        )
        .await?;
        Ok(deleted > 0)
    }

    async fn release_file_by_url(
        &self,
        project_id: i64,
        release: &str,
        dist: Option<&str>,
        url: &str,
    ) -> StoreResult<Option<(ReleaseFile, Vec<u8>)>> {
        let what = "finding a release file";
        let client = self.client().await?;
        let dist = dist.unwrap_or("");
        let file: Option<ReleaseFile> = record_opt(
            &client,
            &release_file_by_url_sql(SQL),
            &[&project_id, &release, &dist, &url],
            what,
        )
        .await?;
        let Some(file) = file else { return Ok(None) };
        let row = sql::query_opt(&client, &release_file_bytes_sql(SQL), &[&file.id], what).await?;
        Ok(match row {
            Some(row) => Some((file, get(&row, 0)?)),
            None => None,
        })
    }
}
