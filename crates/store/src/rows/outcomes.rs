//! Outcome counts.

use super::{Columns, Record};
use crate::{DataCategory, Outcome, OutcomeRow, StoreResult};

/// The columns [`OutcomeRow`] is read from.
pub(crate) const OUTCOME_COLUMNS: &str =
    "project_id, hour, category, outcome, reason, quantity, times_seen";

/// From [`OUTCOME_COLUMNS`].
impl Record for OutcomeRow {
    fn read(row: &impl Columns) -> StoreResult<Self> {
        Ok(OutcomeRow {
            project_id: row.column(0)?,
            hour: row.column(1)?,
            category: row.named(2, "data category", DataCategory::parse)?,
            outcome: {
                let id: i64 = row.column(3)?;
                Outcome::from_id(id).ok_or_else(|| {
                    super::unreadable("outcome", format!("unknown outcome id {id}"))
                })?
            },
            reason: row.column(4)?,
            quantity: row.column(5)?,
            times_seen: row.column(6)?,
        })
    }
}
