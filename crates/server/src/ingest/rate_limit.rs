//! Per-DSN-key rate limits: at most `count` events per `window` seconds, counted in fixed
//! windows on this node. Over the limit, event items are dropped and the answer is 429 with
//! `Retry-After` and `X-Sentry-Rate-Limits` scoped to the key, so the SDK stops sending errors
//! until the window ends while its sessions and other data keep flowing.

use std::collections::HashMap;
use std::sync::Mutex;

use vigil_store::KeyRateLimit;

/// Event categories a key's rate limit covers (Sentry's "errors" quota).
pub const LIMITED_CATEGORIES: &[&str] = &["default", "error", "security"];

/// Events counted per key in the current window.
#[derive(Debug, Default)]
pub struct KeyRateLimiter {
    windows: Mutex<HashMap<i64, Window>>,
}

#[derive(Debug, Clone, Copy)]
struct Window {
    start: i64,
    count: i64,
}

impl KeyRateLimiter {
    /// Admits `events` events of the key at `now` (unix seconds), or says in how many seconds
    /// the window ends. Admission is all or nothing per request.
    pub fn admit(
        &self,
        key_id: i64,
        limit: KeyRateLimit,
        events: i64,
        now: f64,
    ) -> Result<(), u64> {
        if events <= 0 {
            return Ok(());
        }
        let window = limit.window_secs.max(1);
        let start = (now as i64).div_euclid(window) * window;
        let mut windows = self
            .windows
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let entry = windows.entry(key_id).or_insert(Window { start, count: 0 });
        if entry.start != start {
            *entry = Window { start, count: 0 };
        }
        if entry.count + events > limit.count {
            let retry_after = (start + window) as f64 - now;
            return Err(retry_after.ceil().max(1.0) as u64);
        }
        entry.count += events;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMIT: KeyRateLimit = KeyRateLimit {
        count: 3,
        window_secs: 60,
    };

    #[test]
    fn admits_up_to_the_count_then_says_when_the_window_ends() {
        let limiter = KeyRateLimiter::default();
        let t = 6_000.0; // a window boundary
        assert_eq!(limiter.admit(1, LIMIT, 2, t), Ok(()));
        assert_eq!(limiter.admit(1, LIMIT, 1, t + 10.0), Ok(()));
        assert_eq!(limiter.admit(1, LIMIT, 1, t + 15.5), Err(45));
        assert_eq!(
            limiter.admit(2, LIMIT, 1, t + 15.5),
            Ok(()),
            "keys are counted apart"
        );
        assert_eq!(
            limiter.admit(1, LIMIT, 1, t + 60.0),
            Ok(()),
            "a new window starts empty"
        );
        assert_eq!(
            limiter.admit(1, LIMIT, 0, t + 61.0),
            Ok(()),
            "no events, nothing to limit"
        );
    }
}
