//! The SQLite backend: one file, no server, the default for one node.
//!
//! ## Shape
//! - `connection`: one writer connection behind a mutex and a few readers (WAL mode lets
//!   them read beside the writer); `migrations` run on the writer when the store opens.
//! - One module per area of the schema; each is plain synchronous rusqlite code over a
//!   `&Connection`, with statements from the per-connection cache (`prepare_cached`).
//!   Ingest is two: `ingest` writes each event of a batch (its row, its issue when new, its
//!   grouping hashes) and `tally` sums the batch's counts to write them once per issue.
//! - [`SqliteStore`] implements the async [`Store`] trait by running that code on tokio's
//!   blocking pool (`spawn_blocking`), so no query ever blocks the async runtime.
//!
//! ## Durability
//! `journal_mode=WAL` with `synchronous=FULL`: a write that returned is on disk, even across a
//! power cut, which the promise "an event that got a 200 is never lost" needs. Batching many
//! events into one transaction ([`Store::save_events`]) is what keeps that affordable.
//!
//! ## Time
//! Times are stored as REAL seconds since the epoch, the model's `UnixTime` as is: exact
//! round-trips, and SQL's `min`/`max` and comparisons work on the column directly.

mod alerts;
mod connection;
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
mod project_tags;
mod projects;
mod queue;
mod raw;
mod references;
mod releases;
mod retention;
mod secrets;
mod tally;
mod tokens;
mod traces;
mod users;

use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;

pub use self::queue::SqliteQueue;

use self::connection::Connections;
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

/// Read connections per store. Reads are short; a few cover a two-core machine's web traffic
/// while the writer ingests.
const READERS: usize = 4;

/// [`Store`] on an SQLite file. Cheap to clone: clones share the connections.
#[derive(Clone)]
pub struct SqliteStore {
    connections: Arc<Connections>,
    /// Reference events of the hashes seen lately, for compressing new events.
    references: Arc<crate::payload::ReferenceCache>,
}

impl SqliteStore {
    /// Opens (creating the file and its directory when missing) and migrates the database.
    ///
    /// Blocking: call it at start, before serving.
    pub fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        if let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| {
                StoreError::Database(format!("creating the directory {}: {e}", dir.display()))
            })?;
        }
        let mut writer = connection::open_writer(path)?;
        migrations::migrate(&mut writer)?;
        let readers = (0..READERS)
            .map(|_| connection::open_reader(path))
            .collect::<StoreResult<Vec<_>>>()?;
        Ok(SqliteStore {
            connections: Arc::new(Connections::new(writer, readers)),
            references: Arc::default(),
        })
    }

    /// Runs `f` on the blocking pool with the connections.
    async fn blocking<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connections) -> StoreResult<T> + Send + 'static,
    {
        let connections = Arc::clone(&self.connections);
        tokio::task::spawn_blocking(move || f(&connections))
            .await
            .map_err(|e| StoreError::Database(format!("store task failed: {e}")))?
    }

    async fn read<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&rusqlite::Connection) -> StoreResult<T> + Send + 'static,
    {
        self.blocking(move |connections| connections.read(f)).await
    }

    async fn write<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut rusqlite::Connection) -> StoreResult<T> + Send + 'static,
    {
        self.blocking(move |connections| connections.write(f)).await
    }
}

/// Now, as stored.
pub(crate) fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// An offset or limit as SQLite's signed integer; past `i64::MAX` is "no limit" anyway.
pub(crate) fn sql_int(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

#[async_trait]
impl Store for SqliteStore {
    async fn ping(&self) -> StoreResult<()> {
        self.read(|conn| {
            conn.query_row("SELECT 1", [], |_| Ok(()))
                .map_err(|e| StoreError::Database(format!("ping: {e}")))
        })
        .await
    }

    async fn ensure_organization(&self, slug: &str) -> StoreResult<Organization> {
        let slug = slug.to_owned();
        self.write(move |conn| organizations::ensure(conn, &slug))
            .await
    }

    async fn organization_by_slug(&self, slug: &str) -> StoreResult<Option<Organization>> {
        let slug = slug.to_owned();
        self.read(move |conn| organizations::by_slug(conn, &slug))
            .await
    }

    async fn organization_by_id(&self, id: i64) -> StoreResult<Option<Organization>> {
        self.read(move |conn| organizations::by_id(conn, id)).await
    }

    async fn list_organizations(&self) -> StoreResult<Vec<Organization>> {
        self.read(organizations::list).await
    }

    async fn create_project(
        &self,
        organization_id: i64,
        slug: &str,
        platform: Option<&str>,
    ) -> StoreResult<(Project, ProjectKey)> {
        let slug = slug.to_owned();
        let platform = platform.map(str::to_owned);
        self.write(move |conn| projects::create(conn, organization_id, &slug, platform.as_deref()))
            .await
    }

    async fn list_projects(&self, organization_id: Option<i64>) -> StoreResult<Vec<Project>> {
        self.read(move |conn| projects::list(conn, organization_id))
            .await
    }

    async fn project_by_id(&self, id: i64) -> StoreResult<Option<Project>> {
        self.read(move |conn| projects::by_id(conn, id)).await
    }

    async fn project_by_slug(
        &self,
        organization_id: i64,
        slug: &str,
    ) -> StoreResult<Option<Project>> {
        let slug = slug.to_owned();
        self.read(move |conn| projects::by_slug(conn, organization_id, &slug))
            .await
    }

    async fn key_by_public_key(&self, public_key: &str) -> StoreResult<Option<ProjectKey>> {
        let public_key = public_key.to_owned();
        self.read(move |conn| projects::key_by_public_key(conn, &public_key))
            .await
    }

    async fn list_keys(&self, project_id: i64) -> StoreResult<Vec<ProjectKey>> {
        self.read(move |conn| projects::list_keys(conn, project_id))
            .await
    }

    async fn set_key_rate_limit(
        &self,
        key_id: i64,
        limit: Option<KeyRateLimit>,
    ) -> StoreResult<()> {
        self.write(move |conn| projects::set_key_rate_limit(conn, key_id, limit))
            .await
    }

    async fn create_key(&self, project_id: i64, label: &str) -> StoreResult<ProjectKey> {
        let label = label.to_owned();
        self.write(move |conn| keys::create(conn, project_id, &label))
            .await
    }

    async fn delete_key(&self, key_id: i64) -> StoreResult<bool> {
        self.write(move |conn| keys::delete(conn, key_id)).await
    }

    async fn set_key_active(&self, key_id: i64, active: bool) -> StoreResult<()> {
        self.write(move |conn| projects::set_key_active(conn, key_id, active))
            .await
    }

    async fn create_user(
        &self,
        email: &str,
        password_hash: &str,
        is_admin: bool,
    ) -> StoreResult<User> {
        let email = email.to_owned();
        let password_hash = password_hash.to_owned();
        self.write(move |conn| users::create(conn, &email, &password_hash, is_admin))
            .await
    }

    async fn user_by_email(&self, email: &str) -> StoreResult<Option<User>> {
        let email = email.to_owned();
        self.read(move |conn| users::by_email(conn, &email)).await
    }

    async fn user_by_id(&self, id: i64) -> StoreResult<Option<User>> {
        self.read(move |conn| users::by_id(conn, id)).await
    }

    async fn count_users(&self) -> StoreResult<u64> {
        self.read(users::count).await
    }

    async fn add_member(&self, organization_id: i64, user_id: i64, role: &str) -> StoreResult<()> {
        let role = role.to_owned();
        self.write(move |conn| users::add_member(conn, organization_id, user_id, &role))
            .await
    }

    async fn organizations_of_user(&self, user_id: i64) -> StoreResult<Vec<Organization>> {
        self.read(move |conn| users::organizations_of(conn, user_id))
            .await
    }

    async fn secret(&self, name: &str, fresh: &[u8]) -> StoreResult<Vec<u8>> {
        let (name, fresh) = (name.to_owned(), fresh.to_vec());
        self.write(move |conn| secrets::get_or_create(conn, &name, &fresh))
            .await
    }

    async fn create_token(
        &self,
        user_id: i64,
        token_hash: &str,
        scopes: &[String],
    ) -> StoreResult<ApiToken> {
        let token_hash = token_hash.to_owned();
        let scopes = scopes.to_vec();
        self.write(move |conn| tokens::create(conn, user_id, &token_hash, &scopes))
            .await
    }

    async fn token_by_hash(&self, token_hash: &str) -> StoreResult<Option<(ApiToken, User)>> {
        let token_hash = token_hash.to_owned();
        self.read(move |conn| tokens::by_hash(conn, &token_hash))
            .await
    }

    async fn save_events(&self, events: Vec<NewEvent>) -> StoreResult<Vec<SavedEvent>> {
        if events.is_empty() {
            return Ok(Vec::new());
        }
        events.iter().try_for_each(crate::batch::validate)?;
        let cache = Arc::clone(&self.references);
        self.blocking(move |connections| {
            // Serialize and compress before taking the writer, which other batches wait for.
            // The references of the batch's hashes: from memory, else from a reader.
            let mut known = std::collections::HashMap::new();
            for event in &events {
                let Some(hash) = crate::payload::reference_hash(event) else {
                    continue;
                };
                let key = (event.project_id, hash.to_owned());
                if known.contains_key(&key) {
                    continue;
                }
                let reference = match cache.get(event.project_id, hash) {
                    Some(reference) => Some(reference),
                    None => {
                        let stored = connections
                            .read(|conn| references::load(conn, event.project_id, hash))?;
                        if let Some(reference) = &stored {
                            cache.remember(event.project_id, hash.to_owned(), reference.clone());
                        }
                        stored
                    }
                };
                known.insert(key, reference);
            }
            let mut encoder = crate::payload::Encoder::new()?;
            let encoded = encoder.encode_batch(events, |project_id, hash| {
                known.get(&(project_id, hash.to_owned())).cloned().flatten()
            })?;
            let (saved, reference_ids) = connections.write(|conn| ingest::save(conn, &encoded))?;
            // Committed: later batches may compress against these.
            for (new, id) in encoded.references.into_iter().zip(reference_ids) {
                let reference = crate::payload::Reference { id, json: new.json };
                cache.remember(new.project_id, new.hash, reference);
            }
            Ok(saved)
        })
        .await
    }

    async fn save_raw_items(&self, items: Vec<RawItem>) -> StoreResult<()> {
        if items.is_empty() {
            return Ok(());
        }
        self.write(move |conn| raw::save_items(conn, &items)).await
    }

    async fn add_client_reports(
        &self,
        project_id: i64,
        source: &str,
        received: UnixTime,
        counts: &[(String, String, i64)],
    ) -> StoreResult<bool> {
        let source = source.to_owned();
        let counts = counts.to_vec();
        self.write(move |conn| {
            raw::add_client_reports(conn, project_id, &source, received, &counts)
        })
        .await
    }

    async fn claim_job(&self, name: &str, interval_secs: f64) -> StoreResult<bool> {
        let name = name.to_owned();
        self.write(move |conn| jobs::claim(conn, &name, now(), interval_secs))
            .await
    }

    async fn delete_expired(&self, before: UnixTime, limit: u64) -> StoreResult<RetentionPass> {
        let cache = Arc::clone(&self.references);
        self.write(move |conn| {
            let (pass, references) = retention::delete_expired(conn, before, limit)?;
            for (project_id, hash) in references {
                cache.forget(project_id, &hash);
            }
            Ok(pass)
        })
        .await
    }

    async fn upsert_release(
        &self,
        organization_id: i64,
        version: &str,
        project_ids: &[i64],
        fields: &ReleaseFields,
    ) -> StoreResult<(Release, bool)> {
        let (version, project_ids, fields) =
            (version.to_owned(), project_ids.to_vec(), fields.clone());
        self.write(move |conn| {
            releases::upsert(conn, organization_id, &version, &project_ids, &fields)
        })
        .await
    }

    async fn release_by_version(
        &self,
        organization_id: i64,
        version: &str,
    ) -> StoreResult<Option<Release>> {
        let version = version.to_owned();
        self.read(move |conn| releases::by_version(conn, organization_id, &version))
            .await
    }

    async fn list_releases(
        &self,
        organization_id: i64,
        project_id: Option<i64>,
        query: Option<&str>,
        offset: u64,
        limit: u64,
    ) -> StoreResult<Vec<Release>> {
        let query = query.map(str::to_owned);
        self.read(move |conn| {
            releases::list(
                conn,
                organization_id,
                project_id,
                query.as_deref(),
                offset,
                limit,
            )
        })
        .await
    }

    async fn delete_release(&self, organization_id: i64, version: &str) -> StoreResult<bool> {
        let version = version.to_owned();
        self.write(move |conn| releases::delete(conn, organization_id, &version))
            .await
    }

    async fn create_deploy(&self, release_id: i64, deploy: &NewDeploy) -> StoreResult<Deploy> {
        let deploy = deploy.clone();
        self.write(move |conn| releases::create_deploy(conn, release_id, &deploy))
            .await
    }

    async fn list_deploys(&self, release_id: i64) -> StoreResult<Vec<Deploy>> {
        self.read(move |conn| releases::list_deploys(conn, release_id))
            .await
    }

    async fn search_issues(&self, query: &IssueQuery) -> StoreResult<Vec<Issue>> {
        let query = query.clone();
        self.read(move |conn| issue_search::search(conn, &query))
            .await
    }

    async fn issue_by_id(&self, id: i64) -> StoreResult<Option<Issue>> {
        self.read(move |conn| issues::by_id(conn, id)).await
    }

    async fn set_issue_status(&self, id: i64, status: IssueStatus) -> StoreResult<Option<Issue>> {
        self.write(move |conn| issues::set_status(conn, id, status))
            .await
    }

    async fn issue_events(
        &self,
        issue_id: i64,
        offset: u64,
        limit: u64,
    ) -> StoreResult<Vec<StoredEvent>> {
        self.read(move |conn| events::of_issue(conn, issue_id, offset, limit))
            .await
    }

    async fn issue_edge_event(
        &self,
        issue_id: i64,
        latest: bool,
    ) -> StoreResult<Option<StoredEvent>> {
        self.read(move |conn| events::edge_of_issue(conn, issue_id, latest))
            .await
    }

    async fn issue_event_neighbours(
        &self,
        issue_id: i64,
        project_id: i64,
        event_id: &str,
    ) -> StoreResult<(Option<String>, Option<String>)> {
        let event_id = event_id.to_owned();
        self.read(move |conn| event_neighbours::neighbours(conn, issue_id, project_id, &event_id))
            .await
    }

    async fn event_by_id(
        &self,
        project_id: i64,
        event_id: &str,
    ) -> StoreResult<Option<StoredEvent>> {
        let event_id = event_id.to_owned();
        self.read(move |conn| events::by_id(conn, project_id, &event_id))
            .await
    }

    async fn issue_hourly_counts(
        &self,
        issue_ids: &[i64],
        since: f64,
    ) -> StoreResult<Vec<(i64, i64, i64)>> {
        let issue_ids = issue_ids.to_vec();
        self.read(move |conn| issues::hourly_counts(conn, &issue_ids, since))
            .await
    }

    async fn issue_tag_values(&self, issue_id: i64) -> StoreResult<Vec<TagValueCount>> {
        self.read(move |conn| issues::tag_values(conn, issue_id))
            .await
    }

    async fn project_tag_values(
        &self,
        project_id: i64,
        key: &str,
        limit: u64,
    ) -> StoreResult<Vec<TagValueCount>> {
        let key = key.to_owned();
        self.read(move |conn| project_tags::values(conn, project_id, &key, limit))
            .await
    }

    async fn raw_items(&self, project_id: i64, item_type: &str) -> StoreResult<Vec<RawItem>> {
        let item_type = item_type.to_owned();
        self.read(move |conn| raw::items(conn, project_id, &item_type))
            .await
    }

    async fn client_reports(&self, project_id: i64) -> StoreResult<Vec<(String, String, i64)>> {
        self.read(move |conn| raw::client_reports(conn, project_id))
            .await
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
