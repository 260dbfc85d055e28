//! Releases and deploys.

use super::{Columns, Record};
use crate::{Deploy, Release, StoreResult};

/// From [`crate::shared::RELEASE_COLUMNS`]; its projects and counts are filled later.
impl Record for Release {
    fn read(row: &impl Columns) -> StoreResult<Self> {
        Ok(Release {
            id: row.column(0)?,
            organization_id: row.column(1)?,
            version: row.column(2)?,
            reference: row.column(3)?,
            url: row.column(4)?,
            date_created: row.column(5)?,
            date_started: row.column(6)?,
            date_released: row.column(7)?,
            first_event: row.column(8)?,
            last_event: row.column(9)?,
            new_groups: 0,
            projects: Vec::new(),
            deploy_count: 0,
            last_deploy: None,
            status: row.column(10)?,
        })
    }
}

/// From [`crate::shared::DEPLOY_COLUMNS`].
impl Record for Deploy {
    fn read(row: &impl Columns) -> StoreResult<Self> {
        Ok(Deploy {
            id: row.column(0)?,
            release_id: row.column(1)?,
            environment: row.column(2)?,
            name: row.column(3)?,
            url: row.column(4)?,
            date_started: row.column(5)?,
            date_finished: row.column(6)?,
        })
    }
}
