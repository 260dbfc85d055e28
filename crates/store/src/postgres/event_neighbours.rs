//! The events before and after one event of an issue, for stepping through an issue's events
//! without reading them all.

use deadpool_postgres::GenericClient;

use super::sql::{self, get};
use crate::StoreResult;

/// `(older, newer)` event ids next to `event_id` within its issue, in the order of
/// `issue_events` (timestamp, then received, then storage order).
pub(crate) async fn neighbours<C: GenericClient>(
    client: &C,
    issue_id: i64,
    project_id: i64,
    event_id: &str,
) -> StoreResult<(Option<String>, Option<String>)> {
    let mut out = [None, None];
    for (slot, (comparison, order)) in out.iter_mut().zip([("<", "DESC"), (">", "ASC")]) {
        let row = sql::query_opt(
            client,
            &format!(
                "SELECT e.event_id FROM events e,
                     (SELECT timestamp, received, id FROM events
                      WHERE project_id = $2 AND event_id = $3 AND issue_id = $1) AS this
                 WHERE e.issue_id = $1
                   AND (e.timestamp, e.received, e.id) {comparison} (this.timestamp, this.received, this.id)
                 ORDER BY e.timestamp {order}, e.received {order}, e.id {order} LIMIT 1"
            ),
            &[&issue_id, &project_id, &event_id],
            "reading an event's neighbours",
        )
        .await?;
        *slot = row.as_ref().map(|r| get::<String>(r, 0)).transpose()?;
    }
    let [older, newer] = out;
    Ok((older, newer))
}
