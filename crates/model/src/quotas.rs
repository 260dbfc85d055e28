//! What limits a project's ingest beyond its DSN keys' own limits: its rate limits per data
//! category and its spike protection, and the counts both are measured with.
//!
//! Sentry's public API has no per-project count limit (its quotas are billing plans), so the
//! project limits are Vigil's own (`vigilRateLimits` on the project); spike protection is
//! switched as Sentry switches it (`/organizations/{org}/spike-protections/`).

use serde::{Deserialize, Serialize};

use crate::KeyRateLimit;

/// A project's ingest limits. Without a row: no rate limits, spike protection on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProjectQuotas {
    /// At most this many error events (`error`, `default`, `security`) per window.
    pub errors: Option<KeyRateLimit>,
    /// At most this many transactions per window (spans sent on their own count with them).
    pub transactions: Option<KeyRateLimit>,
    /// Whether bursts far over the project's usual hourly volume are cut.
    pub spike_protection: bool,
}

impl Default for ProjectQuotas {
    fn default() -> Self {
        ProjectQuotas {
            errors: None,
            transactions: None,
            spike_protection: true,
        }
    }
}

/// One slice of a shared quota asked of the store: up to `want` units of the window of
/// `window_secs` seconds starting at `window_start` (unix seconds) of the counter `key`, whose
/// total must stay at most `limit`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuotaLease {
    pub key: String,
    pub window_start: i64,
    pub window_secs: i64,
    pub limit: i64,
    pub want: i64,
}

/// Items of one project and data category accepted in one hour (`hour` is the unix second the
/// hour starts at): the baseline spike protection measures bursts against.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HourlyVolume {
    pub project_id: i64,
    pub category: String,
    pub hour: i64,
    pub count: i64,
}
