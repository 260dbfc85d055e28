//! Event attachments on PostgreSQL (statements in `query/attachments.rs`).

use async_trait::async_trait;

use super::error::DbContext;
use super::sql::{self, get, record_opt, records, sql_int};
use super::PgStore;
use crate::query::attachments::{
    attachment_sql, delete_attachment_sql, event_attachments_sql, insert_attachment_sql,
    issue_attachments_sql, payload_sql,
};
use crate::query::Dialect;
use crate::{Attachments, EventAttachment, NewAttachment, StoreResult};

const SQL: Dialect = Dialect::Postgres;

#[async_trait]
impl Attachments for PgStore {
    async fn save_attachments(&self, attachments: Vec<NewAttachment>) -> StoreResult<()> {
        let what = "saving attachments";
        let mut client = self.client().await?;
        let tx = client.transaction().await.db(what)?;
        let insert = insert_attachment_sql(SQL);
        for a in &attachments {
            let size = a.payload.len() as i64;
            sql::execute(
                &tx,
                &insert,
                &[
                    &a.project_id,
                    &a.event_id,
                    &a.name,
                    &a.content_type,
                    &a.attachment_type,
                    &size,
                    &a.sha1,
                    &a.received,
                    &a.payload,
                    &a.dedup_key,
                ],
                what,
            )
            .await?;
        }
        tx.commit().await.db(what)
    }

    async fn event_attachments(
        &self,
        project_id: i64,
        event_id: &str,
    ) -> StoreResult<Vec<EventAttachment>> {
        records(
            &self.client().await?,
            &event_attachments_sql(SQL),
            &[&project_id, &event_id],
            "listing an event's attachments",
        )
        .await
    }

    async fn event_attachment(
        &self,
        project_id: i64,
        event_id: &str,
        id: i64,
    ) -> StoreResult<Option<EventAttachment>> {
        record_opt(
            &self.client().await?,
            &attachment_sql(SQL),
            &[&project_id, &event_id, &id],
            "reading an attachment",
        )
        .await
    }

    async fn attachment_payload(
        &self,
        project_id: i64,
        event_id: &str,
        id: i64,
    ) -> StoreResult<Option<Vec<u8>>> {
        let row = sql::query_opt(
            &self.client().await?,
            &payload_sql(SQL),
            &[&project_id, &event_id, &id],
            "reading an attachment's bytes",
        )
        .await?;
        row.as_ref().map(|row| get(row, 0)).transpose()
    }

    async fn delete_attachment(
        &self,
        project_id: i64,
        event_id: &str,
        id: i64,
    ) -> StoreResult<bool> {
        let deleted = sql::execute(
            &self.client().await?,
            &delete_attachment_sql(SQL),
            &[&project_id, &event_id, &id],
            "deleting an attachment",
        )
        .await?;
        Ok(deleted > 0)
    }

    async fn issue_attachments(
        &self,
        project_id: i64,
        issue_id: i64,
        limit: u64,
    ) -> StoreResult<Vec<EventAttachment>> {
        records(
            &self.client().await?,
            &issue_attachments_sql(SQL),
            &[&project_id, &issue_id, &sql_int(limit)],
            "listing an issue's attachments",
        )
        .await
    }
}
