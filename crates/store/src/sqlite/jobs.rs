//! Periodic background jobs, claimed in the database so that each run happens once among the
//! processes sharing it (the server, a CLI command run beside it).

use rusqlite::{params, Connection};

use super::error::DbContext;
use crate::StoreResult;

/// Claims the run of `name` that is due at `now`: moves the job's next run `interval_secs`
/// ahead and returns `true`, or returns `false` when the job is not due yet. A job never seen
/// before is due.
pub(crate) fn claim(
    conn: &Connection,
    name: &str,
    now: f64,
    interval_secs: f64,
) -> StoreResult<bool> {
    let changed = conn
        .prepare_cached(
            "INSERT INTO jobs (name, next_run) VALUES (?1, ?2 + ?3)
             ON CONFLICT (name) DO UPDATE SET next_run = excluded.next_run
             WHERE jobs.next_run <= ?2",
        )
        .and_then(|mut stmt| stmt.execute(params![name, now, interval_secs]))
        .db("claiming a background job")?;
    Ok(changed > 0)
}
