//! What both backends decide before any SQL runs, written once: the columns event, issue,
//! release and deploy rows are read by (and the undecoded event row they are read into), a user's e-mail key, the organization roles a membership may have,
//! and the pattern a release search matches. Each backend only binds and executes them its own way.

use crate::{IssueStatus, StoreError, StoreResult, StoredEvent};

/// The columns an event row is read by, in its reader's order ([`crate::rows`]' `EventRow`).
pub(crate) const EVENT_COLUMNS: &str =
    "project_id, event_id, issue_id, event_type, timestamp, received, level, platform, title, \
     culprit, environment, release, transaction_name, user_tag, tags, data, size, reference_id";

/// An event row as read by [`EVENT_COLUMNS`] (its reader is in [`crate::rows`]), before its
/// tags and data are decoded: decoding wants the reference event the data was compressed
/// against, which both backends read for many rows at once.
pub(crate) struct EventRow {
    pub(crate) event: StoredEvent,
    pub(crate) tags_json: String,
    pub(crate) data_zstd: Vec<u8>,
    pub(crate) reference_id: Option<i64>,
}

/// The order of an issue's events: newest first (as `issue_events` lists them) or oldest
/// first; ties on the timestamp go by receipt, then by storage order.
pub(crate) fn event_order(newest_first: bool) -> &'static str {
    if newest_first {
        "timestamp DESC, received DESC, id DESC"
    } else {
        "timestamp ASC, received ASC, id ASC"
    }
}

/// The columns an issue row is read by, of `issues` aliased `i`, in its reader's order.
pub(crate) const ISSUE_COLUMNS: &str =
    "i.id, i.project_id, i.short_id, i.status, i.substatus, i.level, i.event_type, i.title, \
     i.culprit, i.metadata, i.platform, i.first_seen, i.last_seen, i.times_seen, i.user_count, \
     i.first_release, i.is_unhandled, i.resolved_at";

/// The substatus that goes with a status set by hand, as Sentry sets them: resolving clears
/// it, ignoring without a condition is `archived_forever`, reopening makes it `ongoing`.
pub(crate) fn substatus_for(status: IssueStatus) -> &'static str {
    match status {
        IssueStatus::Resolved => "",
        IssueStatus::Ignored => "archived_forever",
        IssueStatus::Unresolved => "ongoing",
    }
}

/// The columns an issue's tag value row is read by, in its reader's order.
pub(crate) const TAG_VALUE_COLUMNS: &str = "key, value, times_seen, first_seen, last_seen";

/// The columns of an event row retention reads back to uncount it, in its reader's order.
pub(crate) const EXPIRED_COLUMNS: &str =
    "id, issue_id, timestamp, user_tag, environment, release, tags";

/// The tables whose rows belong to one issue (by `issue_id`) and are deleted with it, besides
/// its grouping hashes, which retention reads as it deletes them: its counters, its users, and
/// the alerts about it (what fired, what was or was to be sent, its activity).
pub(crate) const ISSUE_ROW_TABLES: [&str; 8] = [
    "issue_users",
    "issue_tag_values",
    "issue_hourly",
    "issue_minutely",
    "notifications",
    "alert_firings",
    "rule_issue_state",
    "issue_activities",
];

/// The columns a release row is read by, in its readers' order.
pub(crate) const RELEASE_COLUMNS: &str = "id, organization_id, version, reference, url, \
     date_created, date_started, date_released, first_event, last_event, status";

/// The columns a deploy row is read by, in its readers' order.
pub(crate) const DEPLOY_COLUMNS: &str =
    "id, release_id, environment, name, url, date_started, date_finished";

/// The uniqueness key of an e-mail address: lowercased in Rust (Unicode-aware) rather than by
/// SQL (SQLite's `lower()`/`NOCASE` fold ASCII only), so `Ä@x` and `ä@x` are one user on
/// either backend whatever the database's locale.
pub(crate) fn email_key(email: &str) -> String {
    email.to_lowercase()
}

/// The key of a new user's e-mail address, which must not be empty.
pub(crate) fn new_email_key(email: &str) -> StoreResult<String> {
    if email.is_empty() {
        return Err(StoreError::Invalid("e-mail is empty".into()));
    }
    Ok(email_key(email))
}

/// `Ok` for a slug a new organization or project may have; `what` names which (`project`).
pub(crate) fn check_slug(what: &str, slug: &str) -> StoreResult<()> {
    if slug.is_empty() {
        return Err(StoreError::Invalid(format!("{what} slug is empty")));
    }
    Ok(())
}

/// Sentry's organization roles.
const ROLES: &[&str] = &["owner", "manager", "admin", "member", "billing"];

/// `Ok` for one of Sentry's organization roles, else what the roles are.
pub(crate) fn check_role(role: &str) -> StoreResult<()> {
    if ROLES.contains(&role) {
        return Ok(());
    }
    Err(StoreError::Invalid(format!(
        "unknown role `{role}` (one of {})",
        ROLES.join(", ")
    )))
}

/// The `LIKE … ESCAPE '\'` pattern matching `query` anywhere in a value (its own `%`, `_` and
/// `\` taken literally); `None` for no query or an empty one.
pub(crate) fn substring_pattern(query: Option<&str>) -> Option<String> {
    query.filter(|q| !q.is_empty()).map(|q| {
        let escaped = q
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        format!("%{escaped}%")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_keys_fold_unicode_and_refuse_empty() {
        assert_eq!(email_key("Ä@X.org"), "ä@x.org");
        assert_eq!(new_email_key("A@x").unwrap(), "a@x");
        assert!(matches!(new_email_key(""), Err(StoreError::Invalid(_))));
    }

    #[test]
    fn roles_are_sentrys() {
        assert!(check_role("member").is_ok());
        assert!(matches!(check_role("root"), Err(StoreError::Invalid(_))));
    }

    #[test]
    fn patterns_take_wildcards_literally() {
        assert_eq!(substring_pattern(None), None);
        assert_eq!(substring_pattern(Some("")), None);
        assert_eq!(
            substring_pattern(Some(r"1.0_%\x")).as_deref(),
            Some(r"%1.0\_\%\\x%")
        );
    }
}
