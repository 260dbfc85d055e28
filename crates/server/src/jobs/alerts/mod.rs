//! Issue alerts on the server: rules are evaluated by the ingest workers right after events are
//! stored ([`evaluate`]), firings write their notifications to the store's outbox, and the
//! senders here drain it: one task for email ([`smtp`]), one for webhooks and Slack ([`http`]).
//!
//! Every node runs both senders: the store hands each notification to one sender at a time
//! (a lease), so nothing is sent twice in normal operation, and a sender that dies leaves its
//! claims to come back after the lease. A failed delivery is retried with exponential backoff
//! until the notification is two hours old; emails of one rule to one recipient go out at most
//! once a minute, the rest of a burst batched into one digest.

pub mod evaluate;
pub mod http;
pub mod smtp;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use tokio::sync::{watch, Notify};
use vigil_store::{
    AlertRule, Notification, NotificationOutcome, Organization, Project, Store, UnixTime, User,
};

use crate::cache::TtlCache;
use crate::time::unix_now;
use crate::AppState;

/// Notifications one sender claims at a time.
const CLAIM_LIMIT: u64 = 50;
/// How long a claim is held before another sender may take it over.
const LEASE_SECS: f64 = 60.0;
/// A batch that has taken this long releases what it has not tried yet, so that no claim is
/// still being worked on when its lease ends (which would let another node send it too).
const BATCH_DEADLINE: Duration = Duration::from_secs(40);
/// An idle sender looks at the outbox this often even without a signal (retries come due,
/// other nodes record firings).
const IDLE_POLL: Duration = Duration::from_secs(1);
/// Pause after a store error.
const STORE_RETRY_PAUSE: Duration = Duration::from_secs(1);
/// At most one email per rule and recipient in this window; the rest wait and go as a digest.
const DIGEST_WINDOW: Duration = Duration::from_secs(60);
/// Deliveries in flight at once per sender (a slow receiver does not hold up the others).
const CONCURRENT_DELIVERIES: usize = 8;

/// `id`'s entry of `cache`, loaded on a miss: the loaded value is shared by all its readers.
async fn load_shared<T, F, Fut>(
    cache: &TtlCache<Arc<T>>,
    id: i64,
    load: F,
) -> vigil_store::StoreResult<Arc<T>>
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = vigil_store::StoreResult<T>>,
{
    cache
        .get_or_load(id, || async { Ok(Arc::new(load().await?)) })
        .await
}

/// What the ingest workers, the API and the senders share about alerts on this node.
#[derive(Default)]
pub struct Alerts {
    rules: TtlCache<Arc<Vec<AlertRule>>>,
    members: TtlCache<Arc<Vec<(User, String)>>>,
    projects: TtlCache<Arc<(Project, Organization)>>,
    /// Wakes the email sender: new notifications were recorded.
    email_signal: Notify,
    /// Wakes the HTTP sender.
    http_signal: Notify,
}

impl Alerts {
    /// Forgets the cached rules of a project: the rules API changed them.
    pub fn forget_rules(&self, project_id: i64) {
        self.rules.forget(project_id);
    }

    /// Tells the senders that there is something new in the outbox.
    pub fn outbox_changed(&self) {
        self.email_signal.notify_one();
        self.http_signal.notify_one();
    }

    /// A project's rules, cached for a few seconds.
    pub async fn rules(
        &self,
        store: &dyn Store,
        project_id: i64,
    ) -> vigil_store::StoreResult<Arc<Vec<AlertRule>>> {
        load_shared(&self.rules, project_id, || store.alert_rules(project_id)).await
    }

    /// An organization's members with their roles, cached for a few seconds.
    pub async fn members(
        &self,
        store: &dyn Store,
        organization_id: i64,
    ) -> vigil_store::StoreResult<Arc<Vec<(User, String)>>> {
        load_shared(&self.members, organization_id, || {
            store.organization_members(organization_id)
        })
        .await
    }

    /// A project and its organization, cached for a few seconds; `None` when either is gone.
    pub async fn project(
        &self,
        store: &dyn Store,
        project_id: i64,
    ) -> vigil_store::StoreResult<Option<Arc<(Project, Organization)>>> {
        if let Some(found) = self.projects.get(project_id) {
            return Ok(Some(found));
        }
        let Some(project) = store.project_by_id(project_id).await? else {
            return Ok(None);
        };
        let Some(organization) = store.organization_by_id(project.organization_id).await? else {
            return Ok(None);
        };
        let found = Arc::new((project, organization));
        self.projects.put(project_id, Arc::clone(&found));
        Ok(Some(found))
    }
}

/// How the senders retry. The defaults are the production ones; tests shorten them.
#[derive(Debug, Clone)]
pub struct SenderOptions {
    /// The wait after the first failure; it doubles with each attempt.
    pub retry_base: Duration,
    /// The longest wait between two attempts.
    pub retry_cap: Duration,
    /// A notification that fails when it is older than this is given up (`failed`).
    pub give_up_after: Duration,
    /// A sender without work looks at the outbox this often.
    pub idle_poll: Duration,
    /// At most one email per rule and recipient in this window (the rest of a burst waits
    /// and goes as one digest).
    pub digest_window: Duration,
}

impl Default for SenderOptions {
    fn default() -> SenderOptions {
        SenderOptions {
            retry_base: Duration::from_secs(10),
            retry_cap: Duration::from_secs(600),
            give_up_after: Duration::from_secs(2 * 3600),
            idle_poll: IDLE_POLL,
            digest_window: DIGEST_WINDOW,
        }
    }
}

impl SenderOptions {
    /// What to do after a failed attempt: retry after `base · 2^attempts` (capped), or give up
    /// once the notification is old enough.
    pub fn after_failure(
        &self,
        notification: &Notification,
        error: String,
        now: UnixTime,
    ) -> NotificationOutcome {
        if now - notification.created >= self.give_up_after.as_secs_f64() {
            return NotificationOutcome::Failed { error };
        }
        let factor = 2f64.powi(notification.attempts.min(30) as i32);
        let wait = (self.retry_base.as_secs_f64() * factor).min(self.retry_cap.as_secs_f64());
        NotificationOutcome::Retry {
            error,
            next_attempt: now + wait,
        }
    }
}

/// A delivery that did not work.
#[derive(Debug, Clone, PartialEq)]
pub enum DeliveryError {
    /// Worth trying again later (connection refused, 5xx, timeout…).
    Transient(String),
    /// Trying again cannot help (the server refused the recipient for good…).
    Permanent(String),
    /// Cannot be attempted at all (no SMTP server configured, a malformed address).
    Undeliverable(String),
}

/// Starts the email sender and the HTTP sender; they stop when `shutdown` turns true, after
/// the deliveries in flight. An SMTP URL that does not parse was refused at start already
/// (see [`smtp::Mailer::from_config`]); here it would make every email undeliverable.
pub fn spawn_senders(
    state: &AppState,
    options: SenderOptions,
    shutdown: watch::Receiver<bool>,
) -> Vec<tokio::task::JoinHandle<()>> {
    let mailer = match smtp::Mailer::from_config(&state.config) {
        Ok(mailer) => mailer.map(Arc::new),
        Err(err) => {
            tracing::error!(%err, "the SMTP URL is not usable; email alerts are undeliverable");
            None
        }
    };
    let http = match http::Poster::new() {
        Ok(poster) => Some(Arc::new(poster)),
        Err(err) => {
            tracing::error!(%err, "cannot build the HTTP client; webhook alerts wait");
            None
        }
    };
    vec![
        tokio::spawn(run_email_sender(
            state.clone(),
            mailer,
            options.clone(),
            shutdown.clone(),
        )),
        tokio::spawn(run_http_sender(state.clone(), http, options, shutdown)),
    ]
}

/// Claims due notifications of `kinds` until shutdown, waiting for a signal or the poll
/// interval when there are none; `deliver` handles one claimed batch.
async fn drain<F, Fut>(
    state: &AppState,
    kinds: &[&str],
    signal: &Notify,
    options: &SenderOptions,
    mut shutdown: watch::Receiver<bool>,
    mut deliver: F,
) where
    F: FnMut(Vec<Notification>) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    loop {
        if *shutdown.borrow() {
            return;
        }
        let claimed = match state
            .store
            .claim_notifications(kinds, unix_now(), CLAIM_LIMIT, LEASE_SECS)
            .await
        {
            Ok(claimed) => claimed,
            Err(err) => {
                tracing::error!(%err, ?kinds, "claiming notifications failed");
                tokio::time::sleep(STORE_RETRY_PAUSE).await;
                continue;
            }
        };
        if claimed.is_empty() {
            tokio::select! {
                () = signal.notified() => {}
                () = tokio::time::sleep(options.idle_poll) => {}
                _ = shutdown.changed() => {}
            }
            continue;
        }
        deliver(claimed).await;
    }
}

/// Records what became of a notification; a store error leaves it claimed, so it comes back
/// after the lease (and may be sent again: the one case of a double send).
async fn finish(state: &AppState, notification: &Notification, outcome: NotificationOutcome) {
    match &outcome {
        NotificationOutcome::Retry { error, .. } | NotificationOutcome::Failed { error } => {
            tracing::warn!(
                id = notification.id,
                kind = notification.kind,
                target = notification.target,
                attempts = notification.attempts + 1,
                error,
                "alert delivery failed"
            );
        }
        NotificationOutcome::Undeliverable { reason } => {
            tracing::warn!(
                id = notification.id,
                kind = notification.kind,
                target = notification.target,
                reason,
                "alert undeliverable"
            );
        }
        NotificationOutcome::Sent { .. } | NotificationOutcome::Postpone { .. } => {}
    }
    if let Err(err) = state
        .store
        .finish_notification(notification.id, outcome)
        .await
    {
        tracing::error!(id = notification.id, %err, "recording a delivery failed");
    }
}

fn outcome_of(
    options: &SenderOptions,
    notification: &Notification,
    result: &Result<(), DeliveryError>,
    at: UnixTime,
) -> NotificationOutcome {
    match result {
        Ok(()) => NotificationOutcome::Sent { at },
        Err(DeliveryError::Transient(error)) => {
            options.after_failure(notification, error.clone(), at)
        }
        Err(DeliveryError::Permanent(error)) => NotificationOutcome::Failed {
            error: error.clone(),
        },
        Err(DeliveryError::Undeliverable(reason)) => NotificationOutcome::Undeliverable {
            reason: reason.clone(),
        },
    }
}

/// A transport error's message followed by its causes: the outer message alone ("error sending
/// request") rarely says what went wrong.
fn with_causes(mut text: String, err: &dyn std::error::Error) -> String {
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

async fn run_http_sender(
    state: AppState,
    poster: Option<Arc<http::Poster>>,
    options: SenderOptions,
    shutdown: watch::Receiver<bool>,
) {
    let Some(poster) = poster else {
        return;
    };
    let alerts = Arc::clone(&state.alerts);
    drain(
        &state,
        &["webhook", "slack"],
        &alerts.http_signal,
        &options,
        shutdown,
        |claimed| deliver_http(&state, &poster, &options, claimed),
    )
    .await;
}

/// Posts each claimed notification, several at once; what the batch deadline leaves untried
/// is handed back without counting an attempt.
async fn deliver_http(
    state: &AppState,
    poster: &http::Poster,
    options: &SenderOptions,
    claimed: Vec<Notification>,
) {
    let started = Instant::now();
    futures_util::stream::iter(claimed)
        .for_each_concurrent(CONCURRENT_DELIVERIES, |notification| async move {
            if started.elapsed() > BATCH_DEADLINE {
                finish(
                    state,
                    &notification,
                    NotificationOutcome::Postpone { until: unix_now() },
                )
                .await;
                return;
            }
            let result = poster
                .post(&notification.target, &notification.payload)
                .await;
            let outcome = outcome_of(options, &notification, &result, unix_now());
            finish(state, &notification, outcome).await;
        })
        .await;
}

async fn run_email_sender(
    state: AppState,
    mailer: Option<Arc<smtp::Mailer>>,
    options: SenderOptions,
    shutdown: watch::Receiver<bool>,
) {
    let alerts = Arc::clone(&state.alerts);
    drain(
        &state,
        &["email"],
        &alerts.email_signal,
        &options,
        shutdown,
        |claimed| deliver_emails(&state, mailer.as_deref(), &options, claimed),
    )
    .await;
}

/// Sends claimed emails, at most one per rule and recipient per digest window (a minute):
/// notifications of one rule to one recipient become one email (a digest when there are
/// several); a group whose last email is more recent than that waits for its minute.
async fn deliver_emails(
    state: &AppState,
    mailer: Option<&smtp::Mailer>,
    options: &SenderOptions,
    claimed: Vec<Notification>,
) {
    let Some(mailer) = mailer else {
        for notification in &claimed {
            finish(
                state,
                notification,
                NotificationOutcome::Undeliverable {
                    reason: smtp::NOT_CONFIGURED.to_string(),
                },
            )
            .await;
        }
        return;
    };
    let started = Instant::now();
    futures_util::stream::iter(digest_groups(claimed))
        .for_each_concurrent(CONCURRENT_DELIVERIES, |group| async move {
            if started.elapsed() > BATCH_DEADLINE {
                for notification in &group {
                    finish(
                        state,
                        notification,
                        NotificationOutcome::Postpone { until: unix_now() },
                    )
                    .await;
                }
                return;
            }
            deliver_email_group(state, mailer, options, group).await;
        })
        .await;
}

/// Claimed notifications grouped by rule and recipient, in the order they were claimed.
fn digest_groups(claimed: Vec<Notification>) -> Vec<Vec<Notification>> {
    let mut groups: Vec<Vec<Notification>> = Vec::new();
    let mut index: HashMap<(i64, String), usize> = HashMap::new();
    for notification in claimed {
        let key = (notification.rule_id, notification.target.clone());
        match index.get(&key) {
            Some(&at) => groups[at].push(notification),
            None => {
                index.insert(key, groups.len());
                groups.push(vec![notification]);
            }
        }
    }
    groups
}

async fn deliver_email_group(
    state: &AppState,
    mailer: &smtp::Mailer,
    options: &SenderOptions,
    group: Vec<Notification>,
) {
    let Some(first) = group.first() else {
        return;
    };
    let last_sent = match state
        .store
        .last_sent(first.rule_id, "email", &first.target)
        .await
    {
        Ok(last_sent) => last_sent,
        Err(err) => {
            // Not knowing, wait: the claims come back after the lease.
            tracing::error!(%err, "reading when the last alert email was sent failed");
            return;
        }
    };
    if let Some(last) = last_sent {
        let until = last + options.digest_window.as_secs_f64();
        if unix_now() < until {
            for notification in &group {
                finish(state, notification, NotificationOutcome::Postpone { until }).await;
            }
            return;
        }
    }
    let payload = if group.len() == 1 {
        first.payload.clone()
    } else {
        vigil_alerts::render_digest(&group)
    };
    let result = mailer.send(&first.target, &payload).await;
    let at = unix_now();
    for notification in &group {
        let outcome = outcome_of(options, notification, &result, at);
        finish(state, notification, outcome).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vigil_store::NotificationStatus;

    fn notification(id: i64, rule_id: i64, target: &str, attempts: u32) -> Notification {
        Notification {
            id,
            rule_id,
            project_id: 1,
            issue_id: id,
            event_id: format!("{id:032x}"),
            trigger: "first_seen".to_string(),
            kind: "email".to_string(),
            target: target.to_string(),
            payload: serde_json::json!({}),
            status: NotificationStatus::Pending,
            attempts,
            next_attempt: 1000.0,
            last_error: None,
            created: 1000.0,
            sent_at: None,
        }
    }

    #[test]
    fn retries_double_from_the_base_up_to_the_cap_then_give_up() {
        let options = SenderOptions::default();
        let waits: Vec<f64> = [0, 1, 2, 5, 6, 12]
            .iter()
            .map(|&attempts| {
                match options.after_failure(
                    &notification(1, 1, "a@b", attempts),
                    "down".into(),
                    1100.0,
                ) {
                    NotificationOutcome::Retry { next_attempt, .. } => next_attempt - 1100.0,
                    other => panic!("expected a retry, got {other:?}"),
                }
            })
            .collect();
        assert_eq!(waits, vec![10.0, 20.0, 40.0, 320.0, 600.0, 600.0]);
        let old = options.after_failure(
            &notification(1, 1, "a@b", 20),
            "down".into(),
            1000.0 + 2.0 * 3600.0,
        );
        assert_eq!(
            old,
            NotificationOutcome::Failed {
                error: "down".into()
            }
        );
    }

    #[test]
    fn retries_keep_going_for_more_than_an_hour() {
        let options = SenderOptions::default();
        let mut n = notification(1, 1, "a@b", 0);
        let mut at = n.created;
        loop {
            match options.after_failure(&n, "down".into(), at) {
                NotificationOutcome::Retry { next_attempt, .. } => {
                    at = next_attempt;
                    n.attempts += 1;
                }
                NotificationOutcome::Failed { .. } => break,
                other => panic!("unexpected {other:?}"),
            }
        }
        assert!(
            at - n.created >= 3600.0,
            "gave up after {} s",
            at - n.created
        );
    }

    #[test]
    fn groups_by_rule_and_recipient_in_claim_order() {
        let groups = digest_groups(vec![
            notification(1, 7, "a@x", 0),
            notification(2, 7, "b@x", 0),
            notification(3, 7, "a@x", 0),
            notification(4, 8, "a@x", 0),
        ]);
        let ids: Vec<Vec<i64>> = groups
            .iter()
            .map(|g| g.iter().map(|n| n.id).collect())
            .collect();
        assert_eq!(ids, vec![vec![1, 3], vec![2], vec![4]]);
    }
}
