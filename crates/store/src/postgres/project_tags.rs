//! Tag values over all issues of a project (the environments a project has seen).

use deadpool_postgres::GenericClient;

use super::sql::{self, get};
use crate::{StoreResult, TagValueCount};

/// Values of tag `key` in the project's issues, summed over issues, most recently seen first.
pub(crate) async fn values<C: GenericClient>(
    client: &C,
    project_id: i64,
    key: &str,
    limit: u64,
) -> StoreResult<Vec<TagValueCount>> {
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    sql::query(
        client,
        "SELECT v.value, sum(v.times_seen)::BIGINT, min(v.first_seen), max(v.last_seen)
         FROM issues i JOIN issue_tag_values v ON v.issue_id = i.id AND v.key = $2
         WHERE i.project_id = $1
         GROUP BY v.value ORDER BY max(v.last_seen) DESC, v.value LIMIT $3",
        &[&project_id, &key, &limit],
        "reading a project's tag values",
    )
    .await?
    .iter()
    .map(|row| {
        Ok(TagValueCount {
            key: key.to_string(),
            value: get(row, 0)?,
            times_seen: get(row, 1)?,
            first_seen: get(row, 2)?,
            last_seen: get(row, 3)?,
        })
    })
    .collect()
}
