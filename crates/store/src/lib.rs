//! Vigil's domain and its persistence.
//!
//! One [`Store`] trait is the seam between the HTTP faces and the database: the server, the CLI
//! and the tests speak only to it, and each backend (SQLite for one node, PostgreSQL for several
//! nodes sharing one database) implements it with its own migrations. The trait is async so that
//! a networked backend fits; the SQLite backend runs its blocking work on tokio's blocking pool.
//! This crate knows nothing of HTTP or of how events are normalized and grouped: it receives
//! finished [`NewEvent`]s.

pub mod alerts;
mod batch;
pub mod model;
mod payload;
pub mod postgres;
pub mod queue;
mod rollup;
pub mod search;
pub mod sqlite;
mod tag_pairs;
pub mod traces;

use async_trait::async_trait;

pub use alerts::*;
pub use model::*;
pub use queue::{ClaimedEnvelope, IngestQueue, QueueStats, QueuedEnvelope};
pub use search::{SearchQuery, SearchTerm};
pub use traces::*;

/// What can go wrong talking to the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Database(String),
    #[error("{0} already exists")]
    Conflict(String),
    #[error("{0} not found")]
    NotFound(String),
    #[error("invalid input: {0}")]
    Invalid(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// Everything Vigil keeps, behind one interface.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Answers when the database does.
    async fn ping(&self) -> StoreResult<()>;

    // --- organizations, projects, keys -------------------------------------------------------

    /// The organization with this slug, created (name = slug) when missing.
    async fn ensure_organization(&self, slug: &str) -> StoreResult<Organization>;
    async fn organization_by_slug(&self, slug: &str) -> StoreResult<Option<Organization>>;
    async fn organization_by_id(&self, id: i64) -> StoreResult<Option<Organization>>;
    async fn list_organizations(&self) -> StoreResult<Vec<Organization>>;

    /// A new project with one active key. `Conflict` when the slug is taken in the organization.
    async fn create_project(
        &self,
        organization_id: i64,
        slug: &str,
        platform: Option<&str>,
    ) -> StoreResult<(Project, ProjectKey)>;
    /// Projects of one organization, or of all when `None`; ordered by id.
    async fn list_projects(&self, organization_id: Option<i64>) -> StoreResult<Vec<Project>>;
    async fn project_by_id(&self, id: i64) -> StoreResult<Option<Project>>;
    async fn project_by_slug(
        &self,
        organization_id: i64,
        slug: &str,
    ) -> StoreResult<Option<Project>>;

    /// The key with this public part (any state: the caller checks `is_active`).
    async fn key_by_public_key(&self, public_key: &str) -> StoreResult<Option<ProjectKey>>;
    async fn list_keys(&self, project_id: i64) -> StoreResult<Vec<ProjectKey>>;
    async fn set_key_active(&self, key_id: i64, active: bool) -> StoreResult<()>;
    /// Sets (`Some`) or clears a key's rate limit.
    async fn set_key_rate_limit(&self, key_id: i64, limit: Option<KeyRateLimit>)
        -> StoreResult<()>;
    /// A new active key of the project; `NotFound` when there is no such project.
    async fn create_key(&self, project_id: i64, label: &str) -> StoreResult<ProjectKey>;
    /// `true` when there was such a key; events it sent stay.
    async fn delete_key(&self, key_id: i64) -> StoreResult<bool>;

    // --- users, membership, tokens -----------------------------------------------------------

    /// `Conflict` when the e-mail is taken (compared case-insensitively).
    async fn create_user(
        &self,
        email: &str,
        password_hash: &str,
        is_admin: bool,
    ) -> StoreResult<User>;
    async fn user_by_email(&self, email: &str) -> StoreResult<Option<User>>;
    async fn user_by_id(&self, id: i64) -> StoreResult<Option<User>>;
    async fn count_users(&self) -> StoreResult<u64>;
    /// Makes the user a member of the organization (idempotent). `role`: `owner`, `member`.
    async fn add_member(&self, organization_id: i64, user_id: i64, role: &str) -> StoreResult<()>;
    /// Organizations the user may read: all for admins, else those they are a member of.
    async fn organizations_of_user(&self, user_id: i64) -> StoreResult<Vec<Organization>>;

    /// The secret stored under `name`, storing `fresh` first when there is none: every node
    /// on the database gets the same bytes (the web UI signs its session cookies with one).
    async fn secret(&self, name: &str, fresh: &[u8]) -> StoreResult<Vec<u8>>;

    /// Stores a token by the SHA-256 hex of its secret; the secret itself is never stored.
    async fn create_token(
        &self,
        user_id: i64,
        token_hash: &str,
        scopes: &[String],
    ) -> StoreResult<ApiToken>;
    async fn token_by_hash(&self, token_hash: &str) -> StoreResult<Option<(ApiToken, User)>>;

    // --- ingest ------------------------------------------------------------------------------

    /// Writes events and upserts their issues (counts, first/last seen, distinct users, tag
    /// values, regression of resolved issues) in one transaction. Idempotent by
    /// `(project_id, event_id)`: an event stored before is reported `duplicate` and counts
    /// nothing again.
    async fn save_events(&self, events: Vec<NewEvent>) -> StoreResult<Vec<SavedEvent>>;

    /// Keeps envelope items that have no pipeline of their own yet, in one transaction. An item
    /// whose `dedup_key` is stored already in its project is skipped, so an envelope processed
    /// twice keeps its items once.
    async fn save_raw_items(&self, items: Vec<RawItem>) -> StoreResult<()>;

    /// Adds the SDK-reported discards of one `client_report` item, `(reason, category,
    /// quantity)`, to per-project counters — once per `source` (the item's place in the
    /// queue): `false`, changing nothing, when that source was added before.
    async fn add_client_reports(
        &self,
        project_id: i64,
        source: &str,
        received: UnixTime,
        counts: &[(String, String, i64)],
    ) -> StoreResult<bool>;

    // --- background jobs ---------------------------------------------------------------------

    /// Claims the current run of a periodic job for the caller: `true` for exactly one caller
    /// among every process sharing the database once the job is due, which makes it due again
    /// `interval_secs` later. How cluster-wide chores (retention) run once, not once per node.
    async fn claim_job(&self, name: &str, interval_secs: f64) -> StoreResult<bool>;

    /// One retention batch, in one transaction: deletes up to `limit` events with a timestamp
    /// before `before` and takes what they counted off their issues (count, hourly buckets, tag
    /// values, users), deletes the issues left without events (with their hashes), and deletes
    /// raw items and client-report sources received before `before`. Called until it deletes
    /// nothing.
    async fn delete_expired(&self, before: UnixTime, limit: u64) -> StoreResult<RetentionPass>;

    // --- releases ----------------------------------------------------------------------------

    /// Creates the release or updates the fields given, adding it to `project_ids`; `true`
    /// when it was created. Events create releases too (on `save_events`).
    async fn upsert_release(
        &self,
        organization_id: i64,
        version: &str,
        project_ids: &[i64],
        fields: &ReleaseFields,
    ) -> StoreResult<(Release, bool)>;
    async fn release_by_version(
        &self,
        organization_id: i64,
        version: &str,
    ) -> StoreResult<Option<Release>>;
    /// Releases of an organization (or of one project), newest first; `query` filters by a
    /// substring of the version.
    async fn list_releases(
        &self,
        organization_id: i64,
        project_id: Option<i64>,
        query: Option<&str>,
        offset: u64,
        limit: u64,
    ) -> StoreResult<Vec<Release>>;
    /// `true` when there was such a release.
    async fn delete_release(&self, organization_id: i64, version: &str) -> StoreResult<bool>;
    async fn create_deploy(&self, release_id: i64, deploy: &NewDeploy) -> StoreResult<Deploy>;
    /// Deploys of a release, newest first.
    async fn list_deploys(&self, release_id: i64) -> StoreResult<Vec<Deploy>>;

    // --- reads -------------------------------------------------------------------------------

    /// Issues matching the query, sorted, `limit` of them from `offset`.
    async fn search_issues(&self, query: &IssueQuery) -> StoreResult<Vec<Issue>>;
    async fn issue_by_id(&self, id: i64) -> StoreResult<Option<Issue>>;
    /// Sets the status (and substatus, resolved time); `None` when no such issue.
    async fn set_issue_status(&self, id: i64, status: IssueStatus) -> StoreResult<Option<Issue>>;
    /// Events of an issue, newest first.
    async fn issue_events(
        &self,
        issue_id: i64,
        offset: u64,
        limit: u64,
    ) -> StoreResult<Vec<StoredEvent>>;
    /// The newest (`latest = true`) or oldest event of an issue.
    async fn issue_edge_event(
        &self,
        issue_id: i64,
        latest: bool,
    ) -> StoreResult<Option<StoredEvent>>;
    /// `(older, newer)`: the ids of the events just before and after `event_id` in its issue,
    /// in the order of `issue_events`; `(None, None)` for an event not in the issue.
    async fn issue_event_neighbours(
        &self,
        issue_id: i64,
        project_id: i64,
        event_id: &str,
    ) -> StoreResult<(Option<String>, Option<String>)>;
    async fn event_by_id(
        &self,
        project_id: i64,
        event_id: &str,
    ) -> StoreResult<Option<StoredEvent>>;
    /// Events per hour of each issue since `since`: `(issue_id, hour start, count)`, for the
    /// `stats` of issue lists and charts. Hours without events are absent.
    async fn issue_hourly_counts(
        &self,
        issue_ids: &[i64],
        since: UnixTime,
    ) -> StoreResult<Vec<(i64, i64, i64)>>;
    /// Tag values of an issue with their counts, most seen first within each key.
    async fn issue_tag_values(&self, issue_id: i64) -> StoreResult<Vec<TagValueCount>>;
    /// Values of one tag over all issues of a project (counts summed), most recently seen
    /// first, at most `limit`: the environments a project has seen.
    async fn project_tag_values(
        &self,
        project_id: i64,
        key: &str,
        limit: u64,
    ) -> StoreResult<Vec<TagValueCount>>;
    /// Envelope items kept raw, of one project and type, oldest first (for tests and later
    /// pipelines).
    async fn raw_items(&self, project_id: i64, item_type: &str) -> StoreResult<Vec<RawItem>>;
    /// Client-report counters of a project: `(reason, category, quantity)`.
    async fn client_reports(&self, project_id: i64) -> StoreResult<Vec<(String, String, i64)>>;

    // --- performance: transactions, spans, traces ----------------------------------------------

    /// Writes a batch of transactions and spans in one database transaction. Idempotent: a
    /// transaction already stored under its project and event id, or a span under its project,
    /// trace and span id, is skipped (and not counted again in any aggregate).
    async fn save_spans(&self, batch: SpanBatch) -> StoreResult<SavedSpans>;
    async fn transaction_by_event_id(
        &self,
        project_id: i64,
        event_id: &str,
    ) -> StoreResult<Option<StoredTransaction>>;
    /// The spans of one segment, by start time.
    async fn segment_spans(
        &self,
        project_id: i64,
        trace_id: &str,
        segment_id: &str,
    ) -> StoreResult<Vec<StoredSpan>>;
    /// Every transaction, span and error event of a trace in the organization's projects.
    async fn trace(&self, organization_id: i64, trace_id: &str) -> StoreResult<Trace>;
    /// Aggregates per project and transaction name (`by_transaction`), else one over all that
    /// match (none when nothing matches). Apdex uses each project's threshold.
    async fn aggregate_transactions(
        &self,
        query: &TransactionQuery,
        by_transaction: bool,
    ) -> StoreResult<Vec<TransactionAggregate>>;
    /// Transactions that match, without `data`.
    async fn list_transactions(
        &self,
        query: &TransactionQuery,
        sort: TransactionSort,
        limit: u64,
        offset: u64,
    ) -> StoreResult<Vec<StoredTransaction>>;
    /// One aggregate per `interval_secs` bucket from `query.since` to `query.until` (both
    /// required), oldest first, empty buckets included (count 0).
    async fn transaction_series(
        &self,
        query: &TransactionQuery,
        interval_secs: u64,
    ) -> StoreResult<Vec<(UnixTime, TransactionAggregate)>>;
    /// Durations in `buckets` equal-width bins between the fastest and slowest match:
    /// `(from_ms, to_ms, count)`.
    async fn duration_histogram(
        &self,
        query: &TransactionQuery,
        buckets: u32,
    ) -> StoreResult<Vec<(f64, f64, u64)>>;
    /// Time spent in spans of the matching transactions, by op (`by_group` false) or by op
    /// and normalized description (`by_group` true; only ops starting with `op_prefix` when
    /// given), most total time first.
    async fn span_aggregates(
        &self,
        query: &TransactionQuery,
        by_group: bool,
        op_prefix: Option<&str>,
        limit: u64,
    ) -> StoreResult<Vec<SpanAggregate>>;
    async fn performance_settings(&self, project_id: i64) -> StoreResult<PerformanceSettings>;
    async fn set_performance_settings(
        &self,
        project_id: i64,
        settings: &PerformanceSettings,
    ) -> StoreResult<()>;

    // --- alerts: rules, firings, the outbox, issue activity -----------------------------------

    async fn create_alert_rule(&self, rule: &NewAlertRule) -> StoreResult<AlertRule>;
    /// Replaces a rule's fields; `None` when there is no such rule.
    async fn update_alert_rule(
        &self,
        id: i64,
        rule: &NewAlertRule,
    ) -> StoreResult<Option<AlertRule>>;
    /// Deletes a rule (its firings and pending notifications go with it).
    async fn delete_alert_rule(&self, id: i64) -> StoreResult<bool>;
    async fn alert_rule(&self, id: i64) -> StoreResult<Option<AlertRule>>;
    /// A project's rules, by id.
    async fn alert_rules(&self, project_id: i64) -> StoreResult<Vec<AlertRule>>;
    /// Records firings in one transaction. A firing is skipped (`false`) when its dedup key was
    /// recorded before, or when its rule fired for the same issue less than `frequency_secs`
    /// before `at`; otherwise it is recorded with its notifications, due at once (`true`).
    async fn record_firings(&self, firings: Vec<Firing>) -> StoreResult<Vec<bool>>;
    /// Claims up to `limit` pending notifications of these kinds due at `now` that no other
    /// sender holds, holding them for `lease_secs`; oldest first.
    async fn claim_notifications(
        &self,
        kinds: &[&str],
        now: UnixTime,
        limit: u64,
        lease_secs: f64,
    ) -> StoreResult<Vec<Notification>>;
    /// Ends a claim. `Sent` also adds a `notification` entry to the issue's activity.
    async fn finish_notification(&self, id: i64, outcome: NotificationOutcome) -> StoreResult<()>;
    /// A project's notifications, newest first (attempts and last errors are visible).
    async fn list_notifications(
        &self,
        project_id: i64,
        limit: u64,
    ) -> StoreResult<Vec<Notification>>;
    /// When a notification of this rule, kind and target was last sent (digests wait a minute).
    async fn last_sent(
        &self,
        rule_id: i64,
        kind: &str,
        target: &str,
    ) -> StoreResult<Option<UnixTime>>;
    /// When each `(rule_id, issue_id)` last fired (`None`: never), in the order asked: the
    /// worker skips rendering what the rule's frequency would refuse anyway.
    async fn last_fired(&self, pairs: &[(i64, i64)]) -> StoreResult<Vec<Option<UnixTime>>>;
    /// An issue's activity, newest first.
    async fn issue_activities(&self, issue_id: i64) -> StoreResult<Vec<IssueActivity>>;
    /// Events of each issue with `timestamp >= since`, and their distinct users when
    /// `with_users` (0 otherwise: users are read from the events, which only unique-user
    /// conditions need). One entry per issue asked for, in that order.
    ///
    /// Events come from counters ingest keeps, not from the events: per-minute buckets for the
    /// rest of `since`'s hour, per-hour buckets after. So they include the events of `since`'s
    /// minute before `since` (at most a minute's worth); and when `since` lies more than about
    /// two hours back, where the minute buckets are gone, the events of its whole hour.
    async fn issue_counts(
        &self,
        issue_ids: &[i64],
        since: UnixTime,
        with_users: bool,
    ) -> StoreResult<Vec<IssueCounts>>;
    /// The members of an organization with their role, by user id.
    async fn organization_members(&self, organization_id: i64) -> StoreResult<Vec<(User, String)>>;
    /// Ignores an issue until a time: its first event at or after it makes it unresolved
    /// again, reported as `reappeared` (Sentry's "ignore for N minutes").
    async fn snooze_issue(&self, id: i64, until: UnixTime) -> StoreResult<Option<Issue>>;
}
