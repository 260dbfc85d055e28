//! The triage record, from the columns of [`crate::query::triage::read_triage`].

use super::{Columns, Record};
use crate::{IssueTriage, Snooze, StoreResult};

impl Record for IssueTriage {
    fn read(row: &impl Columns) -> StoreResult<Self> {
        Ok(IssueTriage {
            assignee_id: row.column(0)?,
            snooze: Snooze {
                until: row.column(1)?,
                count: row.column(2)?,
                window: row.column(3)?,
                user_count: row.column(4)?,
                user_window: row.column(5)?,
            },
            snooze_times_seen: row.column(6)?,
            snooze_users_seen: row.column(7)?,
            reviewed_at: row.column(8)?,
            bookmarked: row.column::<Option<bool>>(9)?.unwrap_or(false),
            subscribed: row.column(10)?,
            subscription_reason: row.column(11)?,
            seen_at: row.column(12)?,
        })
    }
}

/// One text column.
pub(crate) struct Text(pub String);

impl Record for Text {
    fn read(row: &impl Columns) -> StoreResult<Self> {
        Ok(Text(row.column(0)?))
    }
}
