//! The quotas an envelope counts against, in the order they are evaluated, and the decisions
//! they make: which data categories are dropped, how many items, why, and for how long.
//!
//! For each group of data categories in the envelope (errors, transactions, attachments), the
//! group's items are counted against, in order:
//! 1. the DSN key's rate limit (errors only; scope `key`, reason `key_quota`);
//! 2. the project's rate limit of that group (errors, transactions; scope `project`, reason
//!    `project_quota`);
//! 3. the project's spike protection (errors, transactions, attachments; scope `project`,
//!    reason `spike_protection`): at most `max(floor, multiple × average hourly volume of the
//!    last 7 days)` items per clock hour.
//!
//! The first quota that refuses decides: the group's items are dropped and what the earlier
//! quotas admitted is given back. Other groups, and items of no group (sessions, logs,
//! check-ins, client reports), are kept. Accepted items are added to the project's hourly
//! volume, the baseline of spike protection.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use vigil_protocol::envelope::{Envelope, ItemType};
use vigil_protocol::rate_limits::RateLimit;
use vigil_store::{HourlyVolume, ProjectKey, ProjectQuotas, Store};

use super::rate_limit::{Quota, QuotaLimiter};
use crate::cache::TtlCache;
use crate::config::QuotaConfig;

/// Hours spike protection averages over.
pub const BASELINE_HOURS: i64 = 7 * 24;
/// How long a project's spike threshold is used before it is computed again.
const BASELINE_TTL: Duration = Duration::from_secs(60);

/// The groups of data categories quotas count, each limited as one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum QuotaCategory {
    Errors,
    Transactions,
    Attachments,
}

impl QuotaCategory {
    pub const ALL: [QuotaCategory; 3] = [
        QuotaCategory::Errors,
        QuotaCategory::Transactions,
        QuotaCategory::Attachments,
    ];

    /// The group of an item, with the item's own data category (Relay's names); `None` for
    /// items no quota counts.
    pub fn of_item(ty: ItemType) -> Option<(QuotaCategory, &'static str)> {
        match ty {
            ItemType::Event => Some((QuotaCategory::Errors, "error")),
            ItemType::Security => Some((QuotaCategory::Errors, "security")),
            ItemType::Transaction => Some((QuotaCategory::Transactions, "transaction")),
            ItemType::Span => Some((QuotaCategory::Transactions, "span")),
            ItemType::Attachment => Some((QuotaCategory::Attachments, "attachment")),
            _ => None,
        }
    }

    /// The counters' and the hourly volume's name of the group.
    pub fn name(self) -> &'static str {
        match self {
            QuotaCategory::Errors => "error",
            QuotaCategory::Transactions => "transaction",
            QuotaCategory::Attachments => "attachment",
        }
    }

    /// The categories an SDK must stop sending when the group is limited, as
    /// `X-Sentry-Rate-Limits` lists them.
    pub fn header_categories(self) -> &'static [&'static str] {
        match self {
            QuotaCategory::Errors => &["default", "error", "security"],
            QuotaCategory::Transactions => &["transaction", "span"],
            QuotaCategory::Attachments => &["attachment"],
        }
    }
}

/// One data category of an envelope dropped by a quota: what outcome counting records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimited {
    /// The items' data category (`error`, `security`, `transaction`, `span`, `attachment`).
    pub category: &'static str,
    /// The group the quota limits; the header names all of its categories.
    pub group: QuotaCategory,
    /// Items of `category` dropped.
    pub quantity: u64,
    /// `key_quota`, `project_quota` or `spike_protection`.
    pub reason_code: &'static str,
    /// `key` or `project`.
    pub scope: &'static str,
    /// Seconds until the quota's window ends.
    pub retry_after: u64,
}

/// The `X-Sentry-Rate-Limits` entries of some decisions: one per quota that refused a group.
pub fn header_limits(decisions: &[RateLimited]) -> Vec<RateLimit> {
    let mut limits: Vec<(QuotaCategory, RateLimit)> = Vec::new();
    for d in decisions {
        if limits.iter().any(|(group, _)| *group == d.group) {
            continue;
        }
        limits.push((
            d.group,
            RateLimit {
                retry_after_secs: d.retry_after,
                categories: d
                    .group
                    .header_categories()
                    .iter()
                    .map(|c| c.to_string())
                    .collect(),
                scope: d.scope.to_owned(),
                reason: Some(d.reason_code.to_owned()),
            },
        ));
    }
    limits.into_iter().map(|(_, limit)| limit).collect()
}

/// The longest wait of some decisions: the `Retry-After` of an answer naming them.
pub fn retry_after(decisions: &[RateLimited]) -> u64 {
    decisions.iter().map(|d| d.retry_after).max().unwrap_or(1)
}

/// Quota state of a node: the counters, each project's quotas and spike threshold as read
/// lately, and the accepted counts not yet written to the hourly volume.
pub struct QuotaState {
    limiter: QuotaLimiter,
    config: QuotaConfig,
    projects: TtlCache<ProjectQuotas>,
    thresholds: Mutex<HashMap<(i64, QuotaCategory), (i64, Instant)>>,
    volume: Mutex<HashMap<(i64, QuotaCategory, i64), i64>>,
}

impl QuotaState {
    pub fn new(store: &Arc<dyn Store>, config: QuotaConfig) -> QuotaState {
        QuotaState {
            limiter: QuotaLimiter::for_store(store),
            config,
            projects: TtlCache::default(),
            thresholds: Mutex::default(),
            volume: Mutex::default(),
        }
    }

    /// Forgets this node's copy of a project's quotas, so that a change applies at once.
    pub fn forget_project(&self, project_id: i64) {
        self.projects.forget(project_id);
    }

    /// Counts the envelope's items against the quotas of `key` and its project at `now` (unix
    /// seconds); the decisions for the groups to drop. The caller drops those groups' items.
    pub async fn enforce(
        &self,
        store: &dyn Store,
        key: &ProjectKey,
        envelope: &Envelope,
        now: f64,
    ) -> Vec<RateLimited> {
        let mut counts: Vec<(QuotaCategory, &'static str, u64)> = Vec::new();
        for item in &envelope.items {
            if let Some((group, category)) = QuotaCategory::of_item(item.ty()) {
                match counts
                    .iter_mut()
                    .find(|(g, c, _)| *g == group && *c == category)
                {
                    Some((_, _, n)) => *n += 1,
                    None => counts.push((group, category, 1)),
                }
            }
        }
        if counts.is_empty() {
            return Vec::new();
        }
        let project_id = key.project_id;
        let project = self
            .projects
            .get_or_load(project_id, || store.project_quotas(project_id))
            .await
            .unwrap_or_else(|err| {
                tracing::warn!(%err, project_id, "cannot read the project's quotas; not limiting");
                ProjectQuotas {
                    spike_protection: false,
                    ..ProjectQuotas::default()
                }
            });
        let mut decisions = Vec::new();
        for group in QuotaCategory::ALL {
            let quantity: u64 = counts
                .iter()
                .filter(|(g, _, _)| *g == group)
                .map(|(_, _, n)| n)
                .sum();
            if quantity == 0 {
                continue;
            }
            let quotas = self.quotas_of(store, key, &project, group, now).await;
            match self.admit_all(&quotas, quantity as i64, now).await {
                Ok(()) => self.record_volume(project_id, group, quantity as i64, now),
                Err((reason_code, scope, retry_after)) => {
                    decisions.extend(counts.iter().filter(|(g, _, _)| *g == group).map(
                        |(_, category, n)| RateLimited {
                            category,
                            group,
                            quantity: *n,
                            reason_code,
                            scope,
                            retry_after,
                        },
                    ));
                }
            }
        }
        decisions
    }

    /// The quotas a group of the key's project counts against, in evaluation order, each with
    /// its reason code and scope.
    async fn quotas_of(
        &self,
        store: &dyn Store,
        key: &ProjectKey,
        project: &ProjectQuotas,
        group: QuotaCategory,
        now: f64,
    ) -> Vec<(Quota, &'static str, &'static str)> {
        let mut quotas = Vec::new();
        if let (QuotaCategory::Errors, Some(limit)) = (group, key.rate_limit) {
            quotas.push((
                Quota {
                    key: format!("key:{}", key.id),
                    limit: limit.count,
                    window_secs: limit.window_secs,
                },
                "key_quota",
                "key",
            ));
        }
        let project_limit = match group {
            QuotaCategory::Errors => project.errors,
            QuotaCategory::Transactions => project.transactions,
            QuotaCategory::Attachments => None,
        };
        if let Some(limit) = project_limit {
            quotas.push((
                Quota {
                    key: format!("project:{}:{}", key.project_id, group.name()),
                    limit: limit.count,
                    window_secs: limit.window_secs,
                },
                "project_quota",
                "project",
            ));
        }
        if project.spike_protection && self.config.spike_protection_multiple > 0.0 {
            let threshold = self.threshold(store, key.project_id, group, now).await;
            quotas.push((
                Quota {
                    key: format!("spike:{}:{}", key.project_id, group.name()),
                    limit: threshold,
                    window_secs: 3600,
                },
                "spike_protection",
                "project",
            ));
        }
        quotas
    }

    /// Admits `quantity` against every quota, or against none: a refusal gives back what the
    /// quotas before it admitted.
    async fn admit_all(
        &self,
        quotas: &[(Quota, &'static str, &'static str)],
        quantity: i64,
        now: f64,
    ) -> Result<(), (&'static str, &'static str, u64)> {
        for (i, (quota, reason, scope)) in quotas.iter().enumerate() {
            if let Err(retry_after) = self.limiter.admit(quota, quantity, now).await {
                for (earlier, _, _) in &quotas[..i] {
                    self.limiter.refund(earlier, quantity, now);
                }
                return Err((reason, scope, retry_after));
            }
        }
        Ok(())
    }

    /// The project's spike threshold for a group: items per clock hour, computed from the
    /// hourly volume of the last [`BASELINE_HOURS`] and kept for [`BASELINE_TTL`].
    async fn threshold(
        &self,
        store: &dyn Store,
        project_id: i64,
        group: QuotaCategory,
        now: f64,
    ) -> i64 {
        let cached = self
            .thresholds
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&(project_id, group))
            .filter(|(_, at)| at.elapsed() < BASELINE_TTL)
            .map(|(threshold, _)| *threshold);
        if let Some(threshold) = cached {
            return threshold;
        }
        let hour = hour_of(now);
        let from = hour - BASELINE_HOURS * 3600;
        let threshold = match store
            .hourly_volume(project_id, group.name(), from, hour)
            .await
        {
            Ok(volume) => spike_threshold(&volume, hour, &self.config),
            Err(err) => {
                tracing::warn!(%err, project_id, "cannot read hourly volume; spike floor applies");
                self.config.spike_protection_floor
            }
        };
        let mut thresholds = self
            .thresholds
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if thresholds.len() > 10_000 {
            thresholds.clear();
        }
        thresholds.insert((project_id, group), (threshold, Instant::now()));
        threshold
    }

    fn record_volume(&self, project_id: i64, group: QuotaCategory, quantity: i64, now: f64) {
        let mut volume = self.volume.lock().unwrap_or_else(PoisonError::into_inner);
        *volume.entry((project_id, group, hour_of(now))).or_default() += quantity;
    }

    /// Takes the accepted counts recorded since the last call, for the store's hourly volume.
    pub fn take_volume(&self) -> Vec<HourlyVolume> {
        let taken =
            std::mem::take(&mut *self.volume.lock().unwrap_or_else(PoisonError::into_inner));
        taken
            .into_iter()
            .map(|((project_id, group, hour), count)| HourlyVolume {
                project_id,
                category: group.name().to_owned(),
                hour,
                count,
            })
            .collect()
    }

    /// Puts counts the store could not take back, to be written with the next ones.
    pub fn restore_volume(&self, counts: Vec<HourlyVolume>) {
        let mut volume = self.volume.lock().unwrap_or_else(PoisonError::into_inner);
        for c in counts {
            let group = QuotaCategory::ALL
                .into_iter()
                .find(|g| g.name() == c.category);
            if let Some(group) = group {
                *volume.entry((c.project_id, group, c.hour)).or_default() += c.count;
            }
        }
    }
}

/// The unix second the hour around `now` starts at.
pub fn hour_of(now: f64) -> i64 {
    (now.floor() as i64).div_euclid(3600) * 3600
}

/// Spike threshold from the hourly volume before `hour`: `max(floor, multiple × average)`, the
/// average taken over the hours since the first one with any volume (at most
/// [`BASELINE_HOURS`]), so that a project a day old is measured against its day, not diluted
/// over a week of zeros. Without history it is the floor: new projects are not limited.
pub fn spike_threshold(volume: &[HourlyVolume], hour: i64, config: &QuotaConfig) -> i64 {
    let total: i64 = volume.iter().map(|v| v.count).sum();
    let average = match volume.iter().map(|v| v.hour).min() {
        Some(first) => {
            let hours = ((hour - first) / 3600).clamp(1, BASELINE_HOURS);
            total as f64 / hours as f64
        }
        None => 0.0,
    };
    let scaled = (config.spike_protection_multiple * average).ceil();
    // Saturating: an absurd multiple means "no practical limit".
    let scaled = if scaled >= i64::MAX as f64 {
        i64::MAX
    } else {
        scaled as i64
    };
    scaled.max(config.spike_protection_floor)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(multiple: f64, floor: i64) -> QuotaConfig {
        QuotaConfig {
            spike_protection_multiple: multiple,
            spike_protection_floor: floor,
        }
    }

    fn volume(hour: i64, count: i64) -> HourlyVolume {
        HourlyVolume {
            project_id: 1,
            category: "error".into(),
            hour,
            count,
        }
    }

    #[test]
    fn spike_threshold_is_a_multiple_of_the_hourly_average_above_the_floor() {
        let now = 1_000 * 3600;
        // A week of 100 an hour: average 100.
        let week: Vec<_> = (1..=BASELINE_HOURS)
            .map(|h| volume(now - h * 3600, 100))
            .collect();
        assert_eq!(spike_threshold(&week, now, &config(5.0, 10)), 500);
        assert_eq!(
            spike_threshold(&week, now, &config(5.0, 1000)),
            1000,
            "floor"
        );
        // No history: the floor.
        assert_eq!(spike_threshold(&[], now, &config(5.0, 1000)), 1000);
        // Two hours old, 300 and 100: the average of those two hours, not of a week.
        let young = [volume(now - 2 * 3600, 300), volume(now - 3600, 100)];
        assert_eq!(spike_threshold(&young, now, &config(5.0, 10)), 1000);
        // Quiet hours count as zeros once the project has history before them.
        let sparse = [volume(now - 10 * 3600, 1000)];
        assert_eq!(spike_threshold(&sparse, now, &config(2.0, 10)), 200);
    }

    #[test]
    fn items_fall_into_their_groups() {
        assert_eq!(
            QuotaCategory::of_item(ItemType::Event),
            Some((QuotaCategory::Errors, "error"))
        );
        assert_eq!(
            QuotaCategory::of_item(ItemType::Span),
            Some((QuotaCategory::Transactions, "span"))
        );
        assert_eq!(QuotaCategory::of_item(ItemType::Session), None);
        assert_eq!(QuotaCategory::of_item(ItemType::CheckIn), None);
    }

    #[test]
    fn header_has_one_entry_per_limited_group() {
        let decision = |category, group, reason_code, scope, retry_after| RateLimited {
            category,
            group,
            quantity: 1,
            reason_code,
            scope,
            retry_after,
        };
        let decisions = [
            decision("error", QuotaCategory::Errors, "key_quota", "key", 60),
            decision("security", QuotaCategory::Errors, "key_quota", "key", 60),
            decision(
                "transaction",
                QuotaCategory::Transactions,
                "spike_protection",
                "project",
                1800,
            ),
        ];
        assert_eq!(
            vigil_protocol::rate_limits::format_rate_limits(&header_limits(&decisions)),
            "60:default;error;security:key:key_quota, \
             1800:transaction;span:project:spike_protection"
        );
        assert_eq!(retry_after(&decisions), 1800);
    }
}
