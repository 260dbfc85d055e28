//! What both backends decide before any SQL runs, written once: the columns release and
//! deploy rows are read by, a user's e-mail key, the organization roles a membership may have,
//! and the pattern a release search matches. Each backend only binds and executes them its own way.

use crate::{StoreError, StoreResult};

/// The columns a release row is read by, in its readers' order.
pub(crate) const RELEASE_COLUMNS: &str = "id, organization_id, version, reference, url, \
     date_created, date_started, date_released, first_event, last_event";

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
