//! Events, issues and their tag values, and the expired events retention takes back off them.

use std::collections::HashMap;
use std::sync::Arc;

use super::{unreadable, Columns, Record};
use crate::batch::Expired;
use crate::payload::Decoder;
use crate::shared::EventRow;
use crate::{Issue, IssueStatus, StoreError, StoreResult, StoredEvent, TagValueCount};

/// From [`crate::shared::EVENT_COLUMNS`].
impl Record for EventRow {
    fn read(row: &impl Columns) -> StoreResult<Self> {
        Ok(EventRow {
            event: StoredEvent {
                project_id: row.column(0)?,
                event_id: row.column(1)?,
                issue_id: row.column(2)?,
                event_type: row.column(3)?,
                timestamp: row.column(4)?,
                received: row.column(5)?,
                level: row.column(6)?,
                platform: row.column(7)?,
                title: row.column(8)?,
                culprit: row.column(9)?,
                environment: row.column(10)?,
                release: row.column(11)?,
                transaction: row.column(12)?,
                user_tag: row.column(13)?,
                tags: Vec::new(),
                data: serde_json::Value::Null,
                size: row.column(16)?,
            },
            tags_json: row.column(14)?,
            data_zstd: row.column(15)?,
            reference_id: row.column(17)?,
        })
    }
}

impl EventRow {
    /// The reference events `rows` are compressed against, each once.
    pub(crate) fn reference_ids(rows: &[EventRow]) -> Vec<i64> {
        let mut ids: Vec<i64> = rows.iter().filter_map(|row| row.reference_id).collect();
        ids.sort_unstable();
        ids.dedup();
        ids
    }

    /// Decompresses and parses the rows, given the JSON of the references they name (by id):
    /// CPU work, which an async caller runs on the blocking pool.
    pub(crate) fn decode_all(
        rows: Vec<EventRow>,
        references: &HashMap<i64, Arc<[u8]>>,
    ) -> StoreResult<Vec<StoredEvent>> {
        let mut decoder = Decoder::new()?;
        rows.into_iter()
            .map(|row| {
                let reference = match row.reference_id {
                    None => None,
                    Some(id) => {
                        let json = references.get(&id).ok_or_else(|| {
                            StoreError::Database(format!(
                                "event {}: its reference event {id} is missing",
                                row.event.event_id
                            ))
                        })?;
                        Some((id, &json[..]))
                    }
                };
                decoder.decode(row.event, &row.tags_json, &row.data_zstd, reference)
            })
            .collect()
    }
}

/// From [`crate::shared::ISSUE_COLUMNS`].
impl Record for Issue {
    fn read(row: &impl Columns) -> StoreResult<Self> {
        Ok(Issue {
            id: row.column(0)?,
            project_id: row.column(1)?,
            short_id: row.column(2)?,
            status: row.named(3, "issue status", IssueStatus::parse)?,
            substatus: row.column(4)?,
            level: row.column(5)?,
            event_type: row.column(6)?,
            title: row.column(7)?,
            culprit: row.column(8)?,
            metadata: row.json(9, "issue metadata")?,
            platform: row.column(10)?,
            first_seen: row.column(11)?,
            last_seen: row.column(12)?,
            times_seen: row.column(13)?,
            user_count: row.column(14)?,
            first_release: row.column(15)?,
            is_unhandled: row.column(16)?,
            resolved_at: row.column(17)?,
        })
    }
}

/// From [`crate::shared::TAG_VALUE_COLUMNS`].
impl Record for TagValueCount {
    fn read(row: &impl Columns) -> StoreResult<Self> {
        Ok(TagValueCount {
            key: row.column(0)?,
            value: row.column(1)?,
            times_seen: row.column(2)?,
            first_seen: row.column(3)?,
            last_seen: row.column(4)?,
        })
    }
}

/// From [`crate::shared::EXPIRED_COLUMNS`].
impl Record for Expired {
    fn read(row: &impl Columns) -> StoreResult<Self> {
        let id: i64 = row.column(0)?;
        let tags: String = row.column(6)?;
        Ok(Expired {
            id,
            issue_id: row.column(1)?,
            timestamp: row.column(2)?,
            user_tag: row.column(3)?,
            environment: row.column(4)?,
            release: row.column(5)?,
            tags: serde_json::from_str(&tags)
                .map_err(|e| unreadable(&format!("tags of event row {id}"), e))?,
        })
    }
}
