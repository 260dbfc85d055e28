//! Rule evaluation on the processing path: after a batch's events are stored, each event is
//! checked against its project's rules and the firings are recorded with their notifications
//! in one store call, before the worker acknowledges the batch. A crash in between leaves the
//! batch queued: processing it again reports the same flags for the stored events and the
//! store records each firing once (by its dedup key), so an alert is neither lost nor doubled.
//!
//! Cheap by construction: rules, members and projects come from short-lived caches; an event
//! that is neither a new, regressed nor reappeared issue costs nothing more when its project's
//! rules have no frequency condition (the default rule has none); counts for frequency
//! conditions are one `issue_counts` call per interval per batch; only a firing reads more
//! (the event's data, to render the notifications).

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use vigil_alerts::{AlertContext, EventFacts};
use vigil_store::{
    AlertRule, Firing, Issue, IssueCounts, NewEvent, SavedEvent, StoreError, UnixTime,
};

use crate::AppState;

/// What is kept of one event between `save_events` (which takes the events) and evaluation.
struct Brief {
    project_id: i64,
    level: String,
    environment: Option<String>,
    /// Only when one of the project's rules has filters (tags are all a filter reads).
    tags: Vec<(String, String)>,
    received: UnixTime,
}

/// The rules of a batch's projects and what evaluation needs of each event, taken before the
/// events go to the store.
pub struct Pending {
    rules: HashMap<i64, Arc<Vec<AlertRule>>>,
    /// The count windows of each project's frequency conditions.
    windows: HashMap<i64, Vec<u64>>,
    /// Those of each project's windows in which users must be counted too (unique-user
    /// conditions), with the least number of users they must exceed; events alone come from
    /// counters, users from the events.
    user_windows: HashMap<i64, Vec<(u64, u64)>>,
    /// By the event's position in the batch; `None` for projects without rules.
    briefs: Vec<Option<Brief>>,
}

/// An event, its issue, and the rules that hold for it with their triggers.
type Holding<'a> = (
    &'a Brief,
    &'a SavedEvent,
    &'a Issue,
    Vec<(&'a AlertRule, &'static str)>,
);

/// Reads the rules of the batch's projects (cached) and keeps what evaluation needs.
pub async fn prepare(state: &AppState, events: &[NewEvent]) -> Result<Pending, StoreError> {
    let mut rules = HashMap::new();
    let projects: BTreeSet<i64> = events.iter().map(|e| e.project_id).collect();
    for project_id in projects {
        let project_rules = state.alerts.rules(state.store.as_ref(), project_id).await?;
        if !project_rules.is_empty() {
            rules.insert(project_id, project_rules);
        }
    }
    let briefs = events
        .iter()
        .map(|event| {
            let project_rules = rules.get(&event.project_id)?;
            let wants_tags = project_rules.iter().any(|rule| has_items(&rule.filters));
            Some(Brief {
                project_id: event.project_id,
                level: event.level.clone(),
                environment: event.environment.clone(),
                tags: if wants_tags {
                    event.tags.clone()
                } else {
                    Vec::new()
                },
                received: event.received,
            })
        })
        .collect();
    let windows = rules
        .iter()
        .map(|(&project_id, rules)| (project_id, vigil_alerts::count_windows(rules)))
        .collect();
    let user_windows = rules
        .iter()
        .map(|(&project_id, rules)| (project_id, vigil_alerts::user_count_thresholds(rules)))
        .filter(|(_, windows)| !windows.is_empty())
        .collect();
    Ok(Pending {
        rules,
        windows,
        user_windows,
        briefs,
    })
}

fn has_items(value: &serde_json::Value) -> bool {
    value.as_array().is_some_and(|items| !items.is_empty())
}

/// Whether any event of a project can make one of its rules fire without being a new,
/// regressed or reappeared issue: frequency conditions, or `actionMatch: none`.
fn fires_on_any_event(rules: &[AlertRule], windows: Option<&Vec<u64>>) -> bool {
    windows.is_some_and(|w| !w.is_empty()) || rules.iter().any(|rule| rule.action_match == "none")
}

/// Evaluates the stored events (`saved`, in the order of the events given to [`prepare`])
/// and records the firings. An error leaves the batch to be processed again.
pub async fn fire(
    state: &AppState,
    pending: Pending,
    saved: &[SavedEvent],
) -> Result<(), StoreError> {
    if pending.rules.is_empty() {
        return Ok(());
    }
    let any_event_projects: BTreeSet<i64> = pending
        .rules
        .iter()
        .filter(|(project_id, rules)| fires_on_any_event(rules, pending.windows.get(project_id)))
        .map(|(&project_id, _)| project_id)
        .collect();
    let candidates: Vec<(&Brief, &SavedEvent)> = pending
        .briefs
        .iter()
        .zip(saved)
        .filter_map(|(brief, saved)| Some((brief.as_ref()?, saved)))
        .filter(|(brief, saved)| {
            saved.new_issue
                || saved.regressed
                || saved.reappeared
                || any_event_projects.contains(&brief.project_id)
        })
        .collect();
    if candidates.is_empty() {
        return Ok(());
    }

    let mut issues: HashMap<i64, Issue> = HashMap::new();
    for (_, saved) in &candidates {
        if !issues.contains_key(&saved.issue_id) {
            if let Some(issue) = state.store.issue_by_id(saved.issue_id).await? {
                issues.insert(issue.id, issue);
            }
        }
    }
    let counts = frequency_counts(state, &pending, &candidates, &issues).await?;

    // Which rules hold for which event: cheap, from what is in memory.
    let mut holding: Vec<Holding> = Vec::new();
    for (brief, saved) in candidates {
        let Some(issue) = issues.get(&saved.issue_id) else {
            continue;
        };
        let Some(rules) = pending.rules.get(&brief.project_id) else {
            continue;
        };
        let facts = EventFacts {
            issue,
            event_id: &saved.event_id,
            level: &brief.level,
            environment: brief.environment.as_deref(),
            tags: &brief.tags,
            new_issue: saved.new_issue,
            regressed: saved.regressed,
            reappeared: saved.reappeared,
            received: brief.received,
        };
        let lookup = |window: u64| counts.get(&(window, issue.id)).copied();
        let fired: Vec<(&AlertRule, &'static str)> = rules
            .iter()
            .filter_map(|rule| Some((rule, vigil_alerts::evaluate(rule, &facts, &lookup)?)))
            .collect();
        if !fired.is_empty() {
            holding.push((brief, saved, issue, fired));
        }
    }
    // A frequency condition keeps holding once passed, for every later event of the issue;
    // the rule's frequency refuses those firings. Refuse them here, before the event is read
    // and rendered: one lookup per batch, and within the batch only an issue's first firing
    // per rule (a later one is within the frequency by construction).
    let pairs: Vec<(i64, i64)> = holding
        .iter()
        .flat_map(|(_, _, issue, fired)| fired.iter().map(|(rule, _)| (rule.id, issue.id)))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let last_fired: HashMap<(i64, i64), f64> = pairs
        .iter()
        .copied()
        .zip(state.store.last_fired(&pairs).await?)
        .filter_map(|(pair, at)| Some((pair, at?)))
        .collect();
    let mut seen_in_batch: BTreeSet<(i64, i64)> = BTreeSet::new();

    let mut firings = Vec::new();
    for (brief, saved, issue, fired) in holding {
        let fired: Vec<(&AlertRule, &'static str)> = fired
            .into_iter()
            .filter(|(rule, _)| {
                let pair = (rule.id, issue.id);
                let frequency = f64::from(rule.frequency_minutes) * 60.0;
                let too_soon = last_fired
                    .get(&pair)
                    .is_some_and(|at| brief.received < at + frequency);
                // A re-processed event must reach the store again (its key decides).
                let repeat_in_batch = !seen_in_batch.insert(pair);
                (!too_soon || saved.duplicate) && !repeat_in_batch
            })
            .collect();
        if fired.is_empty() {
            continue;
        }
        let Some(found) = state
            .alerts
            .project(state.store.as_ref(), brief.project_id)
            .await?
        else {
            continue;
        };
        let (project, organization) = found.as_ref();
        let members = state
            .alerts
            .members(state.store.as_ref(), organization.id)
            .await?;
        // The stored event: `save_events` took the batch, and reading the few events that fire
        // costs less than keeping every event's data in case it does.
        let event = state
            .store
            .event_by_id(project.id, &saved.event_id)
            .await?
            .map_or(serde_json::Value::Null, |stored| stored.data);
        let permalink = crate::links::permalink(&state.config, organization, issue.id);
        for (rule, trigger) in fired {
            let notifications = vigil_alerts::render_notifications(&AlertContext {
                organization,
                project,
                issue,
                event: &event,
                rule,
                trigger,
                permalink: &permalink,
                members: &members,
            });
            firings.push(Firing {
                rule_id: rule.id,
                project_id: project.id,
                issue_id: issue.id,
                event_id: saved.event_id.clone(),
                trigger: trigger.to_string(),
                at: brief.received,
                frequency_secs: f64::from(rule.frequency_minutes) * 60.0,
                dedup_key: format!("{}:{}:{}:{}", rule.id, issue.id, trigger, saved.event_id),
                notifications,
            });
        }
    }
    if firings.is_empty() {
        return Ok(());
    }
    let recorded = state.store.record_firings(firings).await?;
    if recorded.iter().any(|&new| new) {
        state.alerts.outbox_changed();
    }
    Ok(())
}

/// The counts frequency conditions need: for each window the rules of the candidates'
/// projects use, one `issue_counts` call for the issues of those projects, counted from the
/// batch's latest receive time back; users only in the windows of unique-user conditions.
async fn frequency_counts(
    state: &AppState,
    pending: &Pending,
    candidates: &[(&Brief, &SavedEvent)],
    issues: &HashMap<i64, Issue>,
) -> Result<HashMap<(u64, i64), IssueCounts>, StoreError> {
    let mut issues_by_window: HashMap<u64, BTreeSet<i64>> = HashMap::new();
    // Per window of a unique-user condition, the least number of users it must exceed.
    let mut user_thresholds: HashMap<u64, u64> = HashMap::new();
    let mut latest = f64::MIN;
    for (brief, saved) in candidates {
        let Some(windows) = pending.windows.get(&brief.project_id) else {
            continue;
        };
        for &window in windows {
            issues_by_window
                .entry(window)
                .or_default()
                .insert(saved.issue_id);
            latest = latest.max(brief.received);
        }
        for &(window, least) in pending
            .user_windows
            .get(&brief.project_id)
            .into_iter()
            .flatten()
        {
            user_thresholds
                .entry(window)
                .and_modify(|known| *known = (*known).min(least))
                .or_insert(least);
        }
    }
    let mut counts = HashMap::new();
    for (window, issue_ids) in issues_by_window {
        let since = latest - window as f64;
        // Users are counted from the events, the one costly read: only for issues that have
        // had more users in all their life than a unique-user condition of this window must
        // exceed. For the others the issue's own user count stands in (it cannot fire).
        let (with_users, without_users): (Vec<i64>, Vec<i64>) = match user_thresholds.get(&window) {
            Some(&least) => issue_ids.into_iter().partition(|id| {
                issues
                    .get(id)
                    .is_some_and(|issue| issue.user_count.max(0) as u64 > least)
            }),
            None => (Vec::new(), issue_ids.into_iter().collect()),
        };
        for (ids, users) in [(with_users, true), (without_users, false)] {
            if ids.is_empty() {
                continue;
            }
            for mut count in state.store.issue_counts(&ids, since, users).await? {
                if !users {
                    if let Some(issue) = issues.get(&count.issue_id) {
                        count.users = issue.user_count.max(0) as u64;
                    }
                }
                counts.insert((window, count.issue_id), count);
            }
        }
    }
    Ok(counts)
}
