//! Counting against a limit of `limit` units per fixed window of `window_secs` seconds (windows
//! aligned on the unix epoch, so every node agrees where a window starts), for every quota
//! ingest enforces: a DSN key's, a project's, spike protection's.
//!
//! On one node (SQLite) the counts are kept in memory, exactly. Where several nodes share one
//! PostgreSQL database, each node **leases slices** of a window from a shared counter in the
//! store ([`vigil_store::Quotas::lease_quota`], one atomic statement) and admits from its slice
//! in memory: a request costs a store round trip only when its node's slice is used up, about
//! [`SLICES_PER_WINDOW`] times per window and node, and none at all once the store said the
//! window is spent (until it ends).
//!
//! Bounds, across any number of nodes:
//! - **Overshoot: none.** The shared counter never grants past the limit, and a node admits only
//!   what it was granted, so the items admitted in a window are at most the limit. (A limit
//!   lowered during a window is the exception: each node may still use the slice it holds,
//!   at most one slice per node.)
//! - **Undershoot: at most one slice per node and window.** A slice a node leased but did not
//!   use (its traffic stopped) is not given back, so the other nodes may be refused while up to
//!   `nodes × slice` units stay unused. A slice is `limit / SLICES_PER_WINDOW` (at least 1).
//!
//! This is Relay's design with the shared counter in PostgreSQL instead of Redis: Relay also
//! keeps a local cache of "this quota is spent until …" so that refused traffic costs no round
//! trip; where Relay checks Redis per batch of envelopes, a node here leases ahead.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use vigil_store::{QuotaLease, Store};

/// A node leases a window's limit in this many slices, so that a node reaches the store about
/// this often per window while it admits, and leaves at most one slice unused when it stops.
pub const SLICES_PER_WINDOW: i64 = 20;

/// One limit to count against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quota {
    /// Names the counter: `key:{id}`, `project:{id}:{category}`, `spike:{id}:{category}`.
    pub key: String,
    pub limit: i64,
    pub window_secs: i64,
}

impl Quota {
    /// Where the window around `now` (unix seconds) starts.
    fn window_start(&self, now: f64) -> i64 {
        let window = self.window_secs.max(1);
        (now.floor() as i64).div_euclid(window) * window
    }

    /// Whole seconds until the window around `now` ends, at least 1: the `Retry-After`.
    pub fn retry_after(&self, now: f64) -> u64 {
        let end = (self.window_start(now) + self.window_secs.max(1)) as f64;
        (end - now).ceil().max(1.0) as u64
    }

    /// Units one lease asks for beyond what a request needs.
    fn slice(&self) -> i64 {
        (self.limit / SLICES_PER_WINDOW).max(1)
    }
}

/// Where a node's grants come from.
enum Source {
    /// Grants are the count itself: one node, exact.
    Memory,
    /// Grants are slices leased from the store's shared counter.
    Shared(Arc<dyn Store>),
}

/// What a node holds of one quota's current window.
#[derive(Debug, Clone, Copy)]
struct Held {
    window_start: i64,
    /// The limit the units were granted under: a changed limit asks the store again.
    limit: i64,
    /// Granted and not yet admitted.
    available: i64,
    /// The source granted less than asked: nothing more this window.
    spent: bool,
    /// Admitted from memory (the count itself, for [`Source::Memory`]).
    used: i64,
}

/// Counts of every quota this node has admitted against lately.
pub struct QuotaLimiter {
    source: Source,
    held: Mutex<HashMap<String, Held>>,
}

impl std::fmt::Debug for QuotaLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let shared = matches!(self.source, Source::Shared(_));
        f.debug_struct("QuotaLimiter")
            .field("shared", &shared)
            .finish_non_exhaustive()
    }
}

/// Beyond this many counters the ones of ended windows are dropped.
const MAX_HELD: usize = 10_000;

impl QuotaLimiter {
    /// Counts in memory: one node.
    pub fn in_memory() -> QuotaLimiter {
        QuotaLimiter {
            source: Source::Memory,
            held: Mutex::default(),
        }
    }

    /// Leases from `store`'s shared counters: nodes sharing the store share the limits.
    pub fn shared(store: Arc<dyn Store>) -> QuotaLimiter {
        QuotaLimiter {
            source: Source::Shared(store),
            held: Mutex::default(),
        }
    }

    /// The limiter `store` needs: shared when several nodes may use it.
    pub fn for_store(store: &Arc<dyn Store>) -> QuotaLimiter {
        if store.is_shared() {
            QuotaLimiter::shared(Arc::clone(store))
        } else {
            QuotaLimiter::in_memory()
        }
    }

    /// Admits `quantity` units at `now` (unix seconds), all or none; `Err(retry_after)` with
    /// the seconds until the window ends when they do not fit. A store that cannot be asked
    /// admits (logged): a rate limit must not turn a database hiccup into lost data.
    pub async fn admit(&self, quota: &Quota, quantity: i64, now: f64) -> Result<(), u64> {
        if quantity <= 0 {
            return Ok(());
        }
        let window_start = quota.window_start(now);
        let need = match self.take_held(quota, window_start, quantity) {
            Taken::Admitted => return Ok(()),
            Taken::Spent => return Err(quota.retry_after(now)),
            Taken::Short(need) => need,
        };
        let granted = match &self.source {
            // Exactly what is needed: in memory nothing is left over to waste.
            Source::Memory => need.min((quota.limit - self.used(quota, window_start)).max(0)),
            Source::Shared(store) => {
                let want = need.max(quota.slice());
                let lease = QuotaLease {
                    key: quota.key.clone(),
                    window_start,
                    window_secs: quota.window_secs.max(1),
                    limit: quota.limit,
                    want,
                };
                match store.lease_quota(&lease).await {
                    Ok(granted) => {
                        if granted < want {
                            self.mark_spent(quota, window_start);
                        }
                        granted
                    }
                    Err(err) => {
                        tracing::warn!(%err, quota = quota.key, "cannot lease a quota; admitting");
                        return Ok(());
                    }
                }
            }
        };
        if matches!(self.source, Source::Memory) && granted < need {
            self.mark_spent(quota, window_start);
        }
        self.add_granted(quota, window_start, granted);
        match self.take_held(quota, window_start, quantity) {
            Taken::Admitted => Ok(()),
            _ => Err(quota.retry_after(now)),
        }
    }

    /// Gives back units admitted at `now` that were not used after all (a later quota of the
    /// same request refused them), so that this node can admit them again this window.
    pub fn refund(&self, quota: &Quota, quantity: i64, now: f64) {
        let window_start = quota.window_start(now);
        let mut held = self.lock();
        if let Some(h) = held.get_mut(&quota.key) {
            if h.window_start == window_start {
                h.available += quantity;
                h.used -= quantity;
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Held>> {
        self.held.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The quota's entry for this window, started afresh when the window or the limit changed.
    fn entry<'a>(
        held: &'a mut HashMap<String, Held>,
        quota: &Quota,
        window_start: i64,
    ) -> &'a mut Held {
        if held.len() >= MAX_HELD && !held.contains_key(&quota.key) {
            held.retain(|_, h| h.window_start >= window_start);
        }
        let h = held.entry(quota.key.clone()).or_insert(Held {
            window_start,
            limit: quota.limit,
            available: 0,
            spent: false,
            used: 0,
        });
        if h.window_start != window_start {
            *h = Held {
                window_start,
                limit: quota.limit,
                available: 0,
                spent: false,
                used: 0,
            };
        } else if h.limit != quota.limit {
            // Ask the source again under the new limit; what is held stays usable.
            h.limit = quota.limit;
            h.spent = false;
        }
        h
    }

    fn take_held(&self, quota: &Quota, window_start: i64, quantity: i64) -> Taken {
        let mut held = self.lock();
        let h = Self::entry(&mut held, quota, window_start);
        if h.available >= quantity {
            h.available -= quantity;
            h.used += quantity;
            Taken::Admitted
        } else if h.spent {
            Taken::Spent
        } else {
            Taken::Short(quantity - h.available)
        }
    }

    fn used(&self, quota: &Quota, window_start: i64) -> i64 {
        let mut held = self.lock();
        let h = Self::entry(&mut held, quota, window_start);
        h.used + h.available
    }

    fn add_granted(&self, quota: &Quota, window_start: i64, granted: i64) {
        let mut held = self.lock();
        let h = Self::entry(&mut held, quota, window_start);
        h.available += granted;
    }

    fn mark_spent(&self, quota: &Quota, window_start: i64) {
        let mut held = self.lock();
        Self::entry(&mut held, quota, window_start).spent = true;
    }
}

enum Taken {
    Admitted,
    /// The window is spent: refused without asking the source.
    Spent,
    /// This many more units are needed from the source.
    Short(i64),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quota(key: &str, limit: i64) -> Quota {
        Quota {
            key: key.into(),
            limit,
            window_secs: 60,
        }
    }

    #[tokio::test]
    async fn admits_up_to_the_limit_then_says_when_the_window_ends() {
        let limiter = QuotaLimiter::in_memory();
        let q = quota("key:1", 3);
        let t = 6_000.0; // a window boundary
        assert_eq!(limiter.admit(&q, 2, t).await, Ok(()));
        assert_eq!(limiter.admit(&q, 1, t + 10.0).await, Ok(()));
        assert_eq!(limiter.admit(&q, 1, t + 15.5).await, Err(45));
        assert_eq!(
            limiter.admit(&quota("key:2", 3), 1, t + 15.5).await,
            Ok(()),
            "quotas are counted apart"
        );
        assert_eq!(
            limiter.admit(&q, 1, t + 60.0).await,
            Ok(()),
            "a new window starts empty"
        );
        assert_eq!(
            limiter.admit(&q, 0, t + 61.0).await,
            Ok(()),
            "nothing to count"
        );
    }

    #[tokio::test]
    async fn a_request_is_admitted_whole_or_not_at_all() {
        let limiter = QuotaLimiter::in_memory();
        let q = quota("project:1:error", 5);
        assert_eq!(limiter.admit(&q, 4, 0.0).await, Ok(()));
        assert_eq!(
            limiter.admit(&q, 2, 1.0).await,
            Err(59),
            "2 do not fit in 1"
        );
        assert_eq!(
            limiter.admit(&q, 1, 2.0).await,
            Ok(()),
            "the refused request took nothing"
        );
        assert_eq!(limiter.admit(&q, 1, 3.0).await, Err(57));
    }

    #[tokio::test]
    async fn refunded_units_are_admitted_again() {
        let limiter = QuotaLimiter::in_memory();
        let q = quota("key:1", 2);
        assert_eq!(limiter.admit(&q, 2, 0.0).await, Ok(()));
        limiter.refund(&q, 2, 1.0);
        assert_eq!(limiter.admit(&q, 2, 2.0).await, Ok(()));
        assert!(limiter.admit(&q, 1, 3.0).await.is_err());
        // A refund of an ended window changes nothing in the next.
        limiter.refund(&q, 2, 1.0);
        assert_eq!(limiter.admit(&q, 2, 61.0).await, Ok(()));
        assert!(limiter.admit(&q, 1, 62.0).await.is_err());
    }

    #[tokio::test]
    async fn a_raised_limit_applies_within_the_window() {
        let limiter = QuotaLimiter::in_memory();
        assert_eq!(limiter.admit(&quota("key:1", 1), 1, 0.0).await, Ok(()));
        assert!(limiter.admit(&quota("key:1", 1), 1, 1.0).await.is_err());
        assert_eq!(limiter.admit(&quota("key:1", 3), 2, 2.0).await, Ok(()));
        assert!(limiter.admit(&quota("key:1", 3), 1, 3.0).await.is_err());
    }

    #[test]
    fn retry_after_counts_to_the_window_end_at_least_one_second() {
        let q = Quota {
            key: "spike:1:error".into(),
            limit: 10,
            window_secs: 3600,
        };
        assert_eq!(q.retry_after(7200.0), 3600);
        assert_eq!(q.retry_after(7200.0 + 3599.5), 1);
        assert_eq!(
            q.retry_after(-1.0),
            1,
            "before the epoch still rounds sanely"
        );
    }

    #[test]
    fn slices_are_a_twentieth_of_the_limit_at_least_one() {
        assert_eq!(quota("k", 1000).slice(), 50);
        assert_eq!(quota("k", 10).slice(), 1);
        assert_eq!(quota("k", 0).slice(), 1);
    }
}
