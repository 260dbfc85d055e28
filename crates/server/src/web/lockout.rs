//! Backoff on repeated failed logins, per e-mail address.
//!
//! After [`FREE_ATTEMPTS`] failures in a row, each further failure locks the address for
//! twice as long as the one before (from [`FIRST_LOCK`] up to [`MAX_LOCK`]); a success clears
//! it. Guessing a password then takes days instead of seconds, while a person who mistyped a few
//! times waits seconds. The counters live in each node's memory: with N nodes an attacker gets
//! at most N times the attempts, still exponentially throttled, and a restart forgets them; in
//! exchange a failed login costs no write to the shared store, which an attacker could otherwise
//! use to load it.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failures allowed before the first lock.
pub const FREE_ATTEMPTS: u32 = 5;
pub const FIRST_LOCK: Duration = Duration::from_secs(2);
pub const MAX_LOCK: Duration = Duration::from_secs(15 * 60);
/// Addresses tracked at most; past it, entries whose lock ran out are forgotten.
const MAX_TRACKED: usize = 100_000;

#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    locked_until: Option<Instant>,
}

/// Failed logins per address.
#[derive(Default)]
pub struct Lockout {
    failures: Mutex<HashMap<String, Failures>>,
}

impl Lockout {
    /// How long the address must still wait, if it is locked.
    pub fn locked_for(&self, email: &str, now: Instant) -> Option<Duration> {
        let failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        failures
            .get(&email.to_lowercase())
            .and_then(|f| f.locked_until)
            .and_then(|until| until.checked_duration_since(now))
            .filter(|left| !left.is_zero())
    }

    /// Counts a failure; returns the lock it starts, if any.
    pub fn fail(&self, email: &str, now: Instant) -> Option<Duration> {
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        if failures.len() >= MAX_TRACKED {
            failures.retain(|_, f| f.locked_until.is_some_and(|until| until > now));
        }
        let entry = failures.entry(email.to_lowercase()).or_insert(Failures {
            count: 0,
            locked_until: None,
        });
        entry.count += 1;
        if entry.count < FREE_ATTEMPTS {
            return None;
        }
        let doublings = (entry.count - FREE_ATTEMPTS).min(20);
        let lock = FIRST_LOCK.saturating_mul(1 << doublings).min(MAX_LOCK);
        entry.locked_until = Some(now + lock);
        Some(lock)
    }

    /// Forgets the failures of an address that logged in.
    pub fn succeed(&self, email: &str) {
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        failures.remove(&email.to_lowercase());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locks_after_free_attempts_doubling_up_to_the_cap() {
        let lockout = Lockout::default();
        let now = Instant::now();
        for _ in 1..FREE_ATTEMPTS {
            assert_eq!(lockout.fail("A@x.org", now), None);
        }
        assert_eq!(lockout.locked_for("a@x.org", now), None);
        assert_eq!(lockout.fail("a@x.org", now), Some(FIRST_LOCK));
        assert_eq!(lockout.locked_for("a@X.org", now), Some(FIRST_LOCK));
        assert_eq!(lockout.fail("a@x.org", now), Some(FIRST_LOCK * 2));
        for _ in 0..30 {
            lockout.fail("a@x.org", now);
        }
        assert_eq!(lockout.locked_for("a@x.org", now), Some(MAX_LOCK));
        assert_eq!(lockout.locked_for("a@x.org", now + MAX_LOCK), None);
        lockout.succeed("a@x.org");
        assert_eq!(lockout.fail("a@x.org", now), None);
        assert_eq!(lockout.locked_for("b@x.org", now), None);
    }
}
