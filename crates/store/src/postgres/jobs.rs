//! Periodic background jobs, claimed in the database so that each run happens on one node.

use deadpool_postgres::GenericClient;

use super::sql;
use crate::StoreResult;

/// Claims the run of `name` that is due at `now` (seconds): moves the job's next run
/// `interval_secs` ahead and returns `true`, or `false` when the job is not due yet (or another
/// node claimed this run first: the row lock makes the second update see the moved `next_run`).
pub(crate) async fn claim<C: GenericClient>(
    client: &C,
    name: &str,
    now: f64,
    interval_secs: f64,
) -> StoreResult<bool> {
    let claimed = sql::query_opt(
        client,
        "INSERT INTO jobs (name, next_run)
         VALUES ($1, $2::DOUBLE PRECISION + $3::DOUBLE PRECISION)
         ON CONFLICT (name) DO UPDATE SET next_run = excluded.next_run
         WHERE jobs.next_run <= $2::DOUBLE PRECISION
         RETURNING name",
        &[&name, &now, &interval_secs],
        "claiming a background job",
    )
    .await?;
    Ok(claimed.is_some())
}
