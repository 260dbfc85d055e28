//! Organizations, users, projects, keys and tokens, and the envelope items kept as they arrived.

use super::{prefixed, Columns, Record};
use crate::{
    ApiToken, InboundFilters, KeyRateLimit, LegacyBrowsers, Organization, Project, ProjectKey,
    RawItem, ScrubbingSettings, StoreError, StoreResult, User,
};

/// Of `organizations` aliased `o`, in the order of [`Organization`]'s reader.
pub(crate) const ORGANIZATION_COLUMNS: &str = "o.id, o.slug, o.name, o.date_created";

/// Of `users`, in the order of [`User`]'s reader (see [`user_at`]).
pub(crate) const USER_COLUMNS: &str = "id, email, password_hash, is_admin, date_created";

/// In the order of [`Project`]'s reader.
pub(crate) const PROJECT_COLUMNS: &str = "id, organization_id, slug, name, platform, date_created";

/// In the order of [`ProjectKey`]'s reader.
pub(crate) const KEY_COLUMNS: &str =
    "id, project_id, public_key, secret_key, label, is_active, date_created, \
     rate_limit_count, rate_limit_window";

/// From `id, slug, name, date_created`.
impl Record for Organization {
    fn read(row: &impl Columns) -> StoreResult<Self> {
        Ok(Organization {
            id: row.column(0)?,
            slug: row.column(1)?,
            name: row.column(2)?,
            date_created: row.column(3)?,
        })
    }
}

/// From [`USER_COLUMNS`].
impl Record for User {
    fn read(row: &impl Columns) -> StoreResult<Self> {
        user_at(row, 0)
    }
}

/// A user read from [`USER_COLUMNS`] starting at column `first`, for joins that select other
/// columns before them.
pub(crate) fn user_at(row: &impl Columns, first: usize) -> StoreResult<User> {
    Ok(User {
        id: row.column(first)?,
        email: row.column(first + 1)?,
        password_hash: row.column(first + 2)?,
        is_admin: row.column(first + 3)?,
        date_created: row.column(first + 4)?,
    })
}

/// From [`crate::query::inbound_filters::select_sql`]'s columns.
impl Record for InboundFilters {
    fn read(row: &impl Columns) -> StoreResult<Self> {
        let legacy: serde_json::Value = row.json(4, "a project's legacy-browser filter")?;
        Ok(InboundFilters {
            browser_extensions: row.column(0)?,
            localhost: row.column(1)?,
            web_crawlers: row.column(2)?,
            filtered_transaction: row.column(3)?,
            legacy_browsers: LegacyBrowsers::from_json(&legacy).ok_or_else(|| {
                StoreError::Database(format!("unreadable legacy-browser filter: {legacy}"))
            })?,
            react_hydration_errors: row.column(5)?,
            chunk_load_error: row.column(6)?,
            error_messages: row.json(7, "a project's error-message filters")?,
            releases: row.json(8, "a project's release filters")?,
            blacklisted_ips: row.json(9, "a project's IP filters")?,
            csp_ignored_sources_defaults: row.column(10)?,
            csp_ignored_sources: row.json(11, "a project's ignored CSP sources")?,
        })
    }
}

/// From [`crate::query::scrubbing_settings::select_sql`]'s columns.
impl Record for ScrubbingSettings {
    fn read(row: &impl Columns) -> StoreResult<Self> {
        Ok(ScrubbingSettings {
            data_scrubber: row.column(0)?,
            data_scrubber_defaults: row.column(1)?,
            scrub_ip_addresses: row.column(2)?,
            sensitive_fields: row.json(3, "a project's sensitive fields")?,
            safe_fields: row.json(4, "a project's safe fields")?,
            relay_pii_config: row.column(5)?,
        })
    }
}

/// From `id, organization_id, slug, name, platform, date_created`.
impl Record for Project {
    fn read(row: &impl Columns) -> StoreResult<Self> {
        Ok(Project {
            id: row.column(0)?,
            organization_id: row.column(1)?,
            slug: row.column(2)?,
            name: row.column(3)?,
            platform: row.column(4)?,
            date_created: row.column(5)?,
        })
    }
}

/// A member of an organization and their role, from [`Member::columns`].
pub(crate) struct Member(pub User, pub String);

impl Member {
    /// The user's columns (of `users u`) and the role (of `members m`).
    pub(crate) fn columns() -> String {
        format!("{}, m.role", prefixed(USER_COLUMNS, "u."))
    }

    /// The member as the [`crate::Accounts`] trait hands it out.
    pub(crate) fn into_pair(self) -> (User, String) {
        (self.0, self.1)
    }
}

impl Record for Member {
    fn read(row: &impl Columns) -> StoreResult<Self> {
        Ok(Member(user_at(row, 0)?, row.column(5)?))
    }
}

/// From `id, project_id, public_key, secret_key, label, is_active, date_created,
/// rate_limit_count, rate_limit_window`; a key has a rate limit when both of its columns are set.
impl Record for ProjectKey {
    fn read(row: &impl Columns) -> StoreResult<Self> {
        let count: Option<i64> = row.column(7)?;
        let window: Option<i64> = row.column(8)?;
        Ok(ProjectKey {
            id: row.column(0)?,
            project_id: row.column(1)?,
            public_key: row.column(2)?,
            secret_key: row.column(3)?,
            label: row.column(4)?,
            is_active: row.column(5)?,
            date_created: row.column(6)?,
            rate_limit: count
                .zip(window)
                .map(|(count, window_secs)| KeyRateLimit { count, window_secs }),
        })
    }
}

/// From `id, user_id, scopes, date_created`; the scopes are a JSON array of strings.
impl Record for ApiToken {
    fn read(row: &impl Columns) -> StoreResult<Self> {
        Ok(ApiToken {
            id: row.column(0)?,
            user_id: row.column(1)?,
            scopes: row.json(2, "token scopes")?,
            date_created: row.column(3)?,
        })
    }
}

/// The columns a raw item is read by, in its reader's order.
pub(crate) const RAW_ITEM_COLUMNS: &str =
    "project_id, item_type, event_id, received, headers, payload, dedup_key";

/// From [`RAW_ITEM_COLUMNS`]; the headers are JSON.
impl Record for RawItem {
    fn read(row: &impl Columns) -> StoreResult<Self> {
        Ok(RawItem {
            project_id: row.column(0)?,
            item_type: row.column(1)?,
            event_id: row.column(2)?,
            received: row.column(3)?,
            headers: row.json(4, "raw item headers")?,
            payload: row.column(5)?,
            dedup_key: row.column(6)?,
        })
    }
}
