//! The PostgreSQL backend: several Vigil nodes share one database.
//!
//! ## Shape
//! The same behaviour as the SQLite backend (`sqlite/`, the reference), module by module:
//! one module per area of the schema, each async code over a pooled connection
//! (`pool`: tokio-postgres behind deadpool, statements prepared once per connection). Ingest
//! is `ingest` (the batch's plan and its writes) and `tally` (its counts); `queue` is the
//! ingest queue as a table. Event payloads are stored as on SQLite ([`crate::payload`]):
//! compressed against their hash's reference event (`references`).
//!
//! ## Several nodes
//! Everything that SQLite gets from having one writer is made explicit here, so that any number
//! of nodes can write at once: unique keys with `ON CONFLICT` for what two nodes may create
//! together (organizations, releases, grouping hashes, events), row locks for counters (short
//! ids per project, issue counts), `FOR UPDATE SKIP LOCKED` for the queue, and an advisory
//! lock for migrations. See `ingest.rs` for how a batch stays exact when it races another.
//!
//! ## Durability
//! Every connection runs with `synchronous_commit=on`: a commit that returned survives a crash
//! of the database server, as SQLite's `synchronous=FULL` does for the file.
//!
//! ## Time
//! Times are DOUBLE PRECISION seconds since the epoch, the model's `UnixTime` as is, as on
//! SQLite; only queue leases use the database's clock, which every node shares.

mod alerts;
mod error;
mod event_neighbours;
mod events;
mod ingest;
mod issue_search;
mod issues;
mod jobs;
mod keys;
mod migrations;
mod organizations;
mod pool;
mod project_tags;
mod projects;
mod queue;
mod raw;
mod references;
mod releases;
mod retention;
mod secrets;
mod sql;
mod tally;
mod test_database;
mod tokens;
mod traces;
mod users;

use std::sync::Arc;

use async_trait::async_trait;
use deadpool_postgres::{Client, Pool};

pub use self::queue::{PgQueue, STATS_REFRESH};
pub use self::test_database::TestDatabase;

use self::error::DbContext;
use crate::payload::{self, Encoder, Reference, ReferenceCache};
use crate::{
    AlertRule, Firing, IssueActivity, IssueCounts, NewAlertRule, Notification, NotificationOutcome,
};
use crate::{
    ApiToken, Deploy, Issue, IssueQuery, IssueStatus, KeyRateLimit, NewDeploy, NewEvent,
    Organization, Project, ProjectKey, RawItem, Release, ReleaseFields, RetentionPass, SavedEvent,
    Store, StoreError, StoreResult, StoredEvent, TagValueCount, UnixTime, User,
};
use crate::{
    PerformanceSettings, SavedSpans, SpanAggregate, SpanBatch, StoredSpan, StoredTransaction,
    Trace, TransactionAggregate, TransactionQuery, TransactionSort,
};

/// Connections of the store's pool: the workers' batches, the web UI and the API share them.
const STORE_CONNECTIONS: usize = 16;
/// Connections of a queue's own pool ([`PgQueue::connect`]): the accept path never waits
/// behind the store's queries for one.
const QUEUE_CONNECTIONS: usize = 8;

/// Whether `url` names a PostgreSQL database (`postgres://…` or `postgresql://…`).
pub fn is_postgres_url(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

/// [`Store`] on a PostgreSQL database. Cheap to clone: clones share the pool.
#[derive(Clone)]
pub struct PgStore {
    pool: Pool,
    /// Reference events of the hashes seen lately, for compressing new events.
    references: Arc<ReferenceCache>,
}

impl PgStore {
    /// Connects to the database at `url` (`postgres://user:password@host:port/database`) and
    /// migrates it. Several nodes may do so at once.
    pub async fn connect(url: &str) -> StoreResult<PgStore> {
        let pool = pool::build(url, STORE_CONNECTIONS)?;
        let mut client = pool.get().await.db("connecting to PostgreSQL")?;
        migrations::migrate(&mut client).await?;
        drop(client);
        Ok(PgStore {
            pool,
            references: Arc::default(),
        })
    }

    /// The ingest queue in this store's database, on this store's pool.
    pub async fn queue(&self) -> StoreResult<PgQueue> {
        PgQueue::start(self.pool.clone()).await
    }

    async fn client(&self) -> StoreResult<Client> {
        self.pool.get().await.db("getting a database connection")
    }
}

impl PgQueue {
    /// Connects to the database at `url` with a pool of its own, migrates it (the queue's table
    /// is part of the schema) and starts the queue.
    pub async fn connect(url: &str) -> StoreResult<PgQueue> {
        let pool = pool::build(url, QUEUE_CONNECTIONS)?;
        let mut client = pool.get().await.db("connecting to PostgreSQL")?;
        migrations::migrate(&mut client).await?;
        drop(client);
        PgQueue::start(pool).await
    }
}

/// Now, as stored.
pub(crate) fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

#[async_trait]
impl Store for PgStore {
    async fn ping(&self) -> StoreResult<()> {
        let client = self.client().await?;
        client.simple_query("SELECT 1").await.db("ping")?;
        Ok(())
    }

    async fn ensure_organization(&self, slug: &str) -> StoreResult<Organization> {
        organizations::ensure(&self.client().await?, slug).await
    }

    async fn organization_by_slug(&self, slug: &str) -> StoreResult<Option<Organization>> {
        organizations::by_slug(&self.client().await?, slug).await
    }

    async fn organization_by_id(&self, id: i64) -> StoreResult<Option<Organization>> {
        organizations::by_id(&self.client().await?, id).await
    }

    async fn list_organizations(&self) -> StoreResult<Vec<Organization>> {
        organizations::list(&self.client().await?).await
    }

    async fn create_project(
        &self,
        organization_id: i64,
        slug: &str,
        platform: Option<&str>,
    ) -> StoreResult<(Project, ProjectKey)> {
        projects::create(&mut self.client().await?, organization_id, slug, platform).await
    }

    async fn list_projects(&self, organization_id: Option<i64>) -> StoreResult<Vec<Project>> {
        projects::list(&self.client().await?, organization_id).await
    }

    async fn project_by_id(&self, id: i64) -> StoreResult<Option<Project>> {
        projects::by_id(&self.client().await?, id).await
    }

    async fn project_by_slug(
        &self,
        organization_id: i64,
        slug: &str,
    ) -> StoreResult<Option<Project>> {
        projects::by_slug(&self.client().await?, organization_id, slug).await
    }

    async fn key_by_public_key(&self, public_key: &str) -> StoreResult<Option<ProjectKey>> {
        projects::key_by_public_key(&self.client().await?, public_key).await
    }

    async fn list_keys(&self, project_id: i64) -> StoreResult<Vec<ProjectKey>> {
        projects::list_keys(&self.client().await?, project_id).await
    }

    async fn set_key_active(&self, key_id: i64, active: bool) -> StoreResult<()> {
        projects::set_key_active(&self.client().await?, key_id, active).await
    }

    async fn set_key_rate_limit(
        &self,
        key_id: i64,
        limit: Option<KeyRateLimit>,
    ) -> StoreResult<()> {
        projects::set_key_rate_limit(&self.client().await?, key_id, limit).await
    }

    async fn create_key(&self, project_id: i64, label: &str) -> StoreResult<ProjectKey> {
        keys::create(&self.client().await?, project_id, label).await
    }

    async fn delete_key(&self, key_id: i64) -> StoreResult<bool> {
        keys::delete(&self.client().await?, key_id).await
    }

    async fn create_user(
        &self,
        email: &str,
        password_hash: &str,
        is_admin: bool,
    ) -> StoreResult<User> {
        users::create(&self.client().await?, email, password_hash, is_admin).await
    }

    async fn user_by_email(&self, email: &str) -> StoreResult<Option<User>> {
        users::by_email(&self.client().await?, email).await
    }

    async fn user_by_id(&self, id: i64) -> StoreResult<Option<User>> {
        users::by_id(&self.client().await?, id).await
    }

    async fn count_users(&self) -> StoreResult<u64> {
        users::count(&self.client().await?).await
    }

    async fn add_member(&self, organization_id: i64, user_id: i64, role: &str) -> StoreResult<()> {
        users::add_member(&self.client().await?, organization_id, user_id, role).await
    }

    async fn organizations_of_user(&self, user_id: i64) -> StoreResult<Vec<Organization>> {
        users::organizations_of(&self.client().await?, user_id).await
    }

    async fn secret(&self, name: &str, fresh: &[u8]) -> StoreResult<Vec<u8>> {
        secrets::get_or_create(&self.client().await?, name, fresh).await
    }

    async fn create_token(
        &self,
        user_id: i64,
        token_hash: &str,
        scopes: &[String],
    ) -> StoreResult<ApiToken> {
        tokens::create(&self.client().await?, user_id, token_hash, scopes).await
    }

    async fn token_by_hash(&self, token_hash: &str) -> StoreResult<Option<(ApiToken, User)>> {
        tokens::by_hash(&self.client().await?, token_hash).await
    }

    async fn save_events(&self, events: Vec<NewEvent>) -> StoreResult<Vec<SavedEvent>> {
        if events.is_empty() {
            return Ok(Vec::new());
        }
        events.iter().try_for_each(crate::batch::validate)?;
        let mut client = self.client().await?;
        // The references of the batch's hashes: from memory, else one statement for all.
        let mut missing: Vec<(i64, &str)> = events
            .iter()
            .filter_map(|e| payload::reference_hash(e).map(|hash| (e.project_id, hash)))
            .filter(|(project_id, hash)| self.references.get(*project_id, hash).is_none())
            .collect();
        missing.sort_unstable();
        missing.dedup();
        let loaded = references::load(&client, &missing).await?;
        for (key, reference) in &loaded {
            self.references
                .remember(key.0, key.1.clone(), reference.clone());
        }
        // Serialize and compress on the blocking pool.
        let cache = Arc::clone(&self.references);
        let encoded = tokio::task::spawn_blocking(move || {
            Encoder::new()?.encode_batch(events, |project_id, hash| {
                cache
                    .get(project_id, hash)
                    .or_else(|| loaded.get(&(project_id, hash.to_owned())).cloned())
            })
        })
        .await
        .map_err(|e| StoreError::Database(format!("encoding events failed: {e}")))??;
        let (saved, reference_ids) = ingest::save(&mut client, &encoded).await?;
        // Committed: later batches may compress against these.
        for (new, id) in encoded.references.into_iter().zip(reference_ids) {
            let reference = Reference { id, json: new.json };
            self.references
                .remember(new.project_id, new.hash, reference);
        }
        Ok(saved)
    }

    async fn save_raw_items(&self, items: Vec<RawItem>) -> StoreResult<()> {
        if items.is_empty() {
            return Ok(());
        }
        raw::save_items(&self.client().await?, &items).await
    }

    async fn add_client_reports(
        &self,
        project_id: i64,
        source: &str,
        received: UnixTime,
        counts: &[(String, String, i64)],
    ) -> StoreResult<bool> {
        let mut client = self.client().await?;
        raw::add_client_reports(&mut client, project_id, source, received, counts).await
    }

    async fn claim_job(&self, name: &str, interval_secs: f64) -> StoreResult<bool> {
        jobs::claim(&self.client().await?, name, now(), interval_secs).await
    }

    async fn delete_expired(&self, before: UnixTime, limit: u64) -> StoreResult<RetentionPass> {
        let mut client = self.client().await?;
        let (pass, references) = retention::delete_expired(&mut client, before, limit).await?;
        for (project_id, hash) in references {
            self.references.forget(project_id, &hash);
        }
        Ok(pass)
    }

    async fn upsert_release(
        &self,
        organization_id: i64,
        version: &str,
        project_ids: &[i64],
        fields: &ReleaseFields,
    ) -> StoreResult<(Release, bool)> {
        releases::upsert(
            &mut self.client().await?,
            organization_id,
            version,
            project_ids,
            fields,
        )
        .await
    }

    async fn release_by_version(
        &self,
        organization_id: i64,
        version: &str,
    ) -> StoreResult<Option<Release>> {
        releases::by_version(&self.client().await?, organization_id, version).await
    }

    async fn list_releases(
        &self,
        organization_id: i64,
        project_id: Option<i64>,
        query: Option<&str>,
        offset: u64,
        limit: u64,
    ) -> StoreResult<Vec<Release>> {
        releases::list(
            &self.client().await?,
            organization_id,
            project_id,
            query,
            offset,
            limit,
        )
        .await
    }

    async fn delete_release(&self, organization_id: i64, version: &str) -> StoreResult<bool> {
        releases::delete(&self.client().await?, organization_id, version).await
    }

    async fn create_deploy(&self, release_id: i64, deploy: &NewDeploy) -> StoreResult<Deploy> {
        releases::create_deploy(&self.client().await?, release_id, deploy).await
    }

    async fn list_deploys(&self, release_id: i64) -> StoreResult<Vec<Deploy>> {
        releases::list_deploys(&self.client().await?, release_id).await
    }

    async fn search_issues(&self, query: &IssueQuery) -> StoreResult<Vec<Issue>> {
        issue_search::search(&self.client().await?, query).await
    }

    async fn issue_by_id(&self, id: i64) -> StoreResult<Option<Issue>> {
        issues::by_id(&self.client().await?, id).await
    }

    async fn set_issue_status(&self, id: i64, status: IssueStatus) -> StoreResult<Option<Issue>> {
        issues::set_status(&self.client().await?, id, status).await
    }

    async fn issue_events(
        &self,
        issue_id: i64,
        offset: u64,
        limit: u64,
    ) -> StoreResult<Vec<StoredEvent>> {
        events::of_issue(&self.client().await?, issue_id, offset, limit).await
    }

    async fn issue_edge_event(
        &self,
        issue_id: i64,
        latest: bool,
    ) -> StoreResult<Option<StoredEvent>> {
        events::edge_of_issue(&self.client().await?, issue_id, latest).await
    }

    async fn issue_event_neighbours(
        &self,
        issue_id: i64,
        project_id: i64,
        event_id: &str,
    ) -> StoreResult<(Option<String>, Option<String>)> {
        event_neighbours::neighbours(&self.client().await?, issue_id, project_id, event_id).await
    }

    async fn event_by_id(
        &self,
        project_id: i64,
        event_id: &str,
    ) -> StoreResult<Option<StoredEvent>> {
        events::by_id(&self.client().await?, project_id, event_id).await
    }

    async fn issue_hourly_counts(
        &self,
        issue_ids: &[i64],
        since: f64,
    ) -> StoreResult<Vec<(i64, i64, i64)>> {
        issues::hourly_counts(&self.client().await?, issue_ids, since).await
    }

    async fn issue_tag_values(&self, issue_id: i64) -> StoreResult<Vec<TagValueCount>> {
        issues::tag_values(&self.client().await?, issue_id).await
    }

    async fn project_tag_values(
        &self,
        project_id: i64,
        key: &str,
        limit: u64,
    ) -> StoreResult<Vec<TagValueCount>> {
        project_tags::values(&self.client().await?, project_id, key, limit).await
    }

    async fn raw_items(&self, project_id: i64, item_type: &str) -> StoreResult<Vec<RawItem>> {
        raw::items(&self.client().await?, project_id, item_type).await
    }

    async fn client_reports(&self, project_id: i64) -> StoreResult<Vec<(String, String, i64)>> {
        raw::client_reports(&self.client().await?, project_id).await
    }
    async fn save_spans(&self, batch: SpanBatch) -> StoreResult<SavedSpans> {
        traces::save_spans(self, batch).await
    }

    async fn transaction_by_event_id(
        &self,
        project_id: i64,
        event_id: &str,
    ) -> StoreResult<Option<StoredTransaction>> {
        traces::transaction_by_event_id(self, project_id, event_id).await
    }

    async fn segment_spans(
        &self,
        project_id: i64,
        trace_id: &str,
        segment_id: &str,
    ) -> StoreResult<Vec<StoredSpan>> {
        traces::segment_spans(self, project_id, trace_id, segment_id).await
    }

    async fn trace(&self, organization_id: i64, trace_id: &str) -> StoreResult<Trace> {
        traces::trace(self, organization_id, trace_id).await
    }

    async fn aggregate_transactions(
        &self,
        query: &TransactionQuery,
        by_transaction: bool,
    ) -> StoreResult<Vec<TransactionAggregate>> {
        traces::aggregate_transactions(self, query, by_transaction).await
    }

    async fn list_transactions(
        &self,
        query: &TransactionQuery,
        sort: TransactionSort,
        limit: u64,
        offset: u64,
    ) -> StoreResult<Vec<StoredTransaction>> {
        traces::list_transactions(self, query, sort, limit, offset).await
    }

    async fn transaction_series(
        &self,
        query: &TransactionQuery,
        interval_secs: u64,
    ) -> StoreResult<Vec<(UnixTime, TransactionAggregate)>> {
        traces::transaction_series(self, query, interval_secs).await
    }

    async fn duration_histogram(
        &self,
        query: &TransactionQuery,
        buckets: u32,
    ) -> StoreResult<Vec<(f64, f64, u64)>> {
        traces::duration_histogram(self, query, buckets).await
    }

    async fn span_aggregates(
        &self,
        query: &TransactionQuery,
        by_group: bool,
        op_prefix: Option<&str>,
        limit: u64,
    ) -> StoreResult<Vec<SpanAggregate>> {
        traces::span_aggregates(self, query, by_group, op_prefix, limit).await
    }

    async fn performance_settings(&self, project_id: i64) -> StoreResult<PerformanceSettings> {
        traces::performance_settings(self, project_id).await
    }

    async fn set_performance_settings(
        &self,
        project_id: i64,
        settings: &PerformanceSettings,
    ) -> StoreResult<()> {
        traces::set_performance_settings(self, project_id, settings).await
    }
    async fn create_alert_rule(&self, rule: &NewAlertRule) -> StoreResult<AlertRule> {
        alerts::create_alert_rule(self, rule).await
    }

    async fn update_alert_rule(
        &self,
        id: i64,
        rule: &NewAlertRule,
    ) -> StoreResult<Option<AlertRule>> {
        alerts::update_alert_rule(self, id, rule).await
    }

    async fn delete_alert_rule(&self, id: i64) -> StoreResult<bool> {
        alerts::delete_alert_rule(self, id).await
    }

    async fn alert_rule(&self, id: i64) -> StoreResult<Option<AlertRule>> {
        alerts::alert_rule(self, id).await
    }

    async fn alert_rules(&self, project_id: i64) -> StoreResult<Vec<AlertRule>> {
        alerts::alert_rules(self, project_id).await
    }

    async fn record_firings(&self, firings: Vec<Firing>) -> StoreResult<Vec<bool>> {
        alerts::record_firings(self, firings).await
    }

    async fn claim_notifications(
        &self,
        kinds: &[&str],
        now: UnixTime,
        limit: u64,
        lease_secs: f64,
    ) -> StoreResult<Vec<Notification>> {
        alerts::claim_notifications(self, kinds, now, limit, lease_secs).await
    }

    async fn finish_notification(&self, id: i64, outcome: NotificationOutcome) -> StoreResult<()> {
        alerts::finish_notification(self, id, outcome).await
    }

    async fn list_notifications(
        &self,
        project_id: i64,
        limit: u64,
    ) -> StoreResult<Vec<Notification>> {
        alerts::list_notifications(self, project_id, limit).await
    }

    async fn last_sent(
        &self,
        rule_id: i64,
        kind: &str,
        target: &str,
    ) -> StoreResult<Option<UnixTime>> {
        alerts::last_sent(self, rule_id, kind, target).await
    }

    async fn last_fired(&self, pairs: &[(i64, i64)]) -> StoreResult<Vec<Option<UnixTime>>> {
        alerts::last_fired(self, pairs).await
    }

    async fn issue_activities(&self, issue_id: i64) -> StoreResult<Vec<IssueActivity>> {
        alerts::issue_activities(self, issue_id).await
    }

    async fn issue_counts(
        &self,
        issue_ids: &[i64],
        since: UnixTime,
        with_users: bool,
    ) -> StoreResult<Vec<IssueCounts>> {
        alerts::issue_counts(self, issue_ids, since, with_users).await
    }

    async fn organization_members(&self, organization_id: i64) -> StoreResult<Vec<(User, String)>> {
        alerts::organization_members(self, organization_id).await
    }

    async fn snooze_issue(&self, id: i64, until: UnixTime) -> StoreResult<Option<Issue>> {
        alerts::snooze_issue(self, id, until).await
    }
}
