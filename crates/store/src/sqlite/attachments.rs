//! Event attachments on SQLite (statements in `query/attachments.rs`).

use async_trait::async_trait;
use rusqlite::{params, OptionalExtension, TransactionBehavior};

use super::error::DbContext;
use super::statements::{record_opt, records};
use super::{sql_int, SqliteStore};
use crate::query::attachments::{
    attachment_sql, delete_attachment_sql, event_attachments_sql, insert_attachment_sql,
    issue_attachments_sql, payload_sql,
};
use crate::query::Dialect;
use crate::{Attachments, EventAttachment, NewAttachment, StoreResult};

const SQL: Dialect = Dialect::Sqlite;

#[async_trait]
impl Attachments for SqliteStore {
    async fn save_attachments(&self, attachments: Vec<NewAttachment>) -> StoreResult<()> {
        self.write(move |conn| {
            let what = "saving attachments";
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .db(what)?;
            {
                let mut stmt = tx.prepare_cached(&insert_attachment_sql(SQL)).db(what)?;
                for a in &attachments {
                    stmt.execute(params![
                        a.project_id,
                        a.event_id,
                        a.name,
                        a.content_type,
                        a.attachment_type,
                        a.payload.len() as i64,
                        a.sha1,
                        a.received,
                        a.payload,
                        a.dedup_key,
                    ])
                    .db(what)?;
                }
            }
            tx.commit().db(what)
        })
        .await
    }

    async fn event_attachments(
        &self,
        project_id: i64,
        event_id: &str,
    ) -> StoreResult<Vec<EventAttachment>> {
        let event_id = event_id.to_owned();
        self.read(move |conn| {
            records(
                conn,
                &event_attachments_sql(SQL),
                params![project_id, event_id],
                "listing an event's attachments",
            )
        })
        .await
    }

    async fn event_attachment(
        &self,
        project_id: i64,
        event_id: &str,
        id: i64,
    ) -> StoreResult<Option<EventAttachment>> {
        let event_id = event_id.to_owned();
        self.read(move |conn| {
            record_opt(
                conn,
                &attachment_sql(SQL),
                params![project_id, event_id, id],
                "reading an attachment",
            )
        })
        .await
    }

    async fn attachment_payload(
        &self,
        project_id: i64,
        event_id: &str,
        id: i64,
    ) -> StoreResult<Option<Vec<u8>>> {
        let event_id = event_id.to_owned();
        self.read(move |conn| {
            conn.prepare_cached(&payload_sql(SQL))
                .and_then(|mut stmt| {
                    stmt.query_row(params![project_id, event_id, id], |row| row.get(0))
                        .optional()
                })
                .db("reading an attachment's bytes")
        })
        .await
    }

    async fn delete_attachment(
        &self,
        project_id: i64,
        event_id: &str,
        id: i64,
    ) -> StoreResult<bool> {
        let event_id = event_id.to_owned();
        self.write(move |conn| {
            let deleted = conn
                .prepare_cached(&delete_attachment_sql(SQL))
                .and_then(|mut stmt| stmt.execute(params![project_id, event_id, id]))
                .db("deleting an attachment")?;
            Ok(deleted > 0)
        })
        .await
    }

    async fn issue_attachments(
        &self,
        project_id: i64,
        issue_id: i64,
        limit: u64,
    ) -> StoreResult<Vec<EventAttachment>> {
        self.read(move |conn| {
            records(
                conn,
                &issue_attachments_sql(SQL),
                params![project_id, issue_id, sql_int(limit)],
                "listing an issue's attachments",
            )
        })
        .await
    }
}
