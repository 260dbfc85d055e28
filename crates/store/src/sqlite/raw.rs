//! Envelope items kept as they arrived, and the SDKs' client reports.
//!
//! Both wait for pipelines of their own (sessions, transactions, check-ins, outcomes); until
//! then they are kept so that nothing acknowledged is lost and later work can replay them.

use rusqlite::{params, Connection, TransactionBehavior};

use super::error::DbContext;
use super::statements::records;
use crate::rows::RAW_ITEM_COLUMNS;
use crate::{RawItem, StoreResult};

/// All items in one transaction; an item whose key is stored already is skipped.
pub(crate) fn save_items(conn: &mut Connection, items: &[RawItem]) -> StoreResult<()> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .db("saving raw items")?;
    {
        let mut stmt = tx
            .prepare_cached(
                "INSERT INTO raw_items (project_id, item_type, event_id, received, headers, payload,
                     dedup_key)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                 ON CONFLICT (project_id, dedup_key) WHERE dedup_key IS NOT NULL DO NOTHING",
            )
            .db("saving raw items")?;
        for item in items {
            stmt.execute(params![
                item.project_id,
                item.item_type,
                item.event_id,
                item.received,
                item.headers.to_string(),
                item.payload,
                item.dedup_key,
            ])
            .db("saving raw items")?;
        }
    }
    tx.commit().db("saving raw items")
}

/// Items of one project and type, oldest first.
pub(crate) fn items(
    conn: &Connection,
    project_id: i64,
    item_type: &str,
) -> StoreResult<Vec<RawItem>> {
    records(
        conn,
        &format!(
            "SELECT {RAW_ITEM_COLUMNS} FROM raw_items
             WHERE project_id = ?1 AND item_type = ?2 ORDER BY received, id"
        ),
        params![project_id, item_type],
        "reading raw items",
    )
}

/// Adds one client-report item's counts, unless its source was added before; whether it was.
pub(crate) fn add_client_reports(
    conn: &mut Connection,
    project_id: i64,
    source: &str,
    received: f64,
    counts: &[(String, String, i64)],
) -> StoreResult<bool> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .db("counting a client report")?;
    let new = tx
        .prepare_cached(
            "INSERT INTO client_report_sources (project_id, source, received) VALUES (?1, ?2, ?3)
             ON CONFLICT (project_id, source) DO NOTHING",
        )
        .and_then(|mut stmt| stmt.execute(params![project_id, source, received]))
        .db("counting a client report")?
        > 0;
    if new {
        let mut stmt = tx
            .prepare_cached(
                "INSERT INTO client_reports (project_id, reason, category, quantity)
                 VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (project_id, reason, category)
                 DO UPDATE SET quantity = quantity + excluded.quantity",
            )
            .db("counting a client report")?;
        for (reason, category, quantity) in counts {
            stmt.execute(params![project_id, reason, category, quantity])
                .db("counting a client report")?;
        }
    }
    tx.commit().db("counting a client report")?;
    Ok(new)
}

/// `(reason, category, quantity)` of a project, ordered by reason and category.
pub(crate) fn client_reports(
    conn: &Connection,
    project_id: i64,
) -> StoreResult<Vec<(String, String, i64)>> {
    records(
        conn,
        "SELECT reason, category, quantity FROM client_reports WHERE project_id = ?1
         ORDER BY reason, category",
        [project_id],
        "reading client reports",
    )
}
