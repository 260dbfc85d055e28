//! Reference events (see [`crate::payload`]): finding the ones a batch compresses against, and
//! the ones a read decompresses with.
//!
//! Both are one statement for a whole batch or read. A batch's new references are written in
//! its transaction by [`super::ingest`], and remembered in the store's cache once committed.

use std::collections::HashMap;
use std::sync::Arc;

use deadpool_postgres::GenericClient;

use super::sql::{self, get};
use crate::payload::{decompress_reference, Reference};
use crate::StoreResult;

/// The newest stored reference of each `(project_id, hash)` that has one, decompressed.
pub(crate) async fn load<C: GenericClient>(
    client: &C,
    keys: &[(i64, &str)],
) -> StoreResult<HashMap<(i64, String), Reference>> {
    if keys.is_empty() {
        return Ok(HashMap::new());
    }
    let (project_ids, hashes): (Vec<i64>, Vec<&str>) = keys.iter().copied().unzip();
    let rows = sql::query(
        client,
        "SELECT DISTINCT ON (r.project_id, r.hash) r.project_id, r.hash, r.id, r.data
         FROM UNNEST($1::BIGINT[], $2::TEXT[]) AS u(project_id, hash)
         JOIN event_references r ON r.project_id = u.project_id AND r.hash = u.hash
         ORDER BY r.project_id, r.hash, r.id DESC",
        &[&project_ids, &hashes],
        "reading reference events",
    )
    .await?;
    let stored = rows
        .iter()
        .map(|row| {
            Ok((
                (get::<i64>(row, 0)?, get::<String>(row, 1)?),
                get::<i64>(row, 2)?,
                get::<Vec<u8>>(row, 3)?,
            ))
        })
        .collect::<StoreResult<Vec<_>>>()?;
    on_blocking_pool(move || {
        stored
            .into_iter()
            .map(|(key, id, data)| {
                let json = decompress_reference(id, &data)?;
                Ok((key, Reference { id, json }))
            })
            .collect()
    })
    .await
}

/// The JSON of each reference by id, decompressed.
pub(crate) async fn by_ids<C: GenericClient>(
    client: &C,
    ids: &[i64],
) -> StoreResult<HashMap<i64, Arc<[u8]>>> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let stored: Vec<(i64, Vec<u8>)> = sql::records(
        client,
        "SELECT id, data FROM event_references WHERE id = ANY($1::BIGINT[])",
        &[&ids],
        "reading reference events",
    )
    .await?;
    on_blocking_pool(move || {
        stored
            .into_iter()
            .map(|(id, data)| Ok((id, decompress_reference(id, &data)?)))
            .collect()
    })
    .await
}

async fn on_blocking_pool<T: Send + 'static>(
    f: impl FnOnce() -> StoreResult<T> + Send + 'static,
) -> StoreResult<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| crate::StoreError::Database(format!("decompressing references failed: {e}")))?
}
