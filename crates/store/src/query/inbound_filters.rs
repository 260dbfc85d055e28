//! The statements of a project's inbound filters, the same on both backends: the row read by
//! project (parameter 1) and the row written whole over what was there. The legacy-browser
//! state and the pattern lists are JSON in text columns (`false`, `true` or a list of
//! subfilters; arrays of strings), written by [`json_text`] and read by the row reader.

use super::Dialect;
use crate::{InboundFilters, IpRange, StoreError, StoreResult};

/// The filters' columns after `project_id`, in the order both statements use.
pub(crate) const COLUMNS: [&str; 12] = [
    "browser_extensions",
    "localhost",
    "web_crawlers",
    "filtered_transaction",
    "legacy_browsers",
    "react_hydration_errors",
    "chunk_load_error",
    "error_messages",
    "releases",
    "blacklisted_ips",
    "csp_ignored_sources_defaults",
    "csp_ignored_sources",
];

/// `Ok` for filters processing can apply as stored: every IP entry an address or a CIDR range
/// (the API and the web UI check first with their own messages; this keeps any other caller
/// from storing an entry that would silently match nothing).
pub(crate) fn check(filters: &InboundFilters) -> StoreResult<()> {
    if let Some(bad) = filters
        .blacklisted_ips
        .iter()
        .find(|e| IpRange::parse(e).is_none())
    {
        return Err(StoreError::Invalid(format!(
            "blacklisted IPs: {bad:?} is not an IP address or CIDR range"
        )));
    }
    Ok(())
}

/// A value as the JSON text its column holds.
pub(crate) fn json_text(value: &serde_json::Value) -> String {
    value.to_string()
}

/// The text of each JSON column of `filters`: legacy browsers, error messages, releases, IPs,
/// CSP sources.
pub(crate) fn json_columns(filters: &InboundFilters) -> [String; 5] {
    [
        json_text(&filters.legacy_browsers.to_json()),
        json_text(&filters.error_messages.clone().into()),
        json_text(&filters.releases.clone().into()),
        json_text(&filters.blacklisted_ips.clone().into()),
        json_text(&filters.csp_ignored_sources.clone().into()),
    ]
}

/// The project's row: [`COLUMNS`], in order.
pub(crate) fn select_sql(dialect: Dialect) -> String {
    format!(
        "SELECT {} FROM inbound_filters WHERE project_id = {}",
        COLUMNS.join(", "),
        dialect.placeholder(1)
    )
}

/// Writes `project_id` then [`COLUMNS`], replacing the project's row.
pub(crate) fn upsert_sql(dialect: Dialect) -> String {
    let mut columns = vec!["project_id"];
    columns.extend(COLUMNS);
    dialect.upsert("inbound_filters", &columns, 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::LegacyBrowsers;

    #[test]
    fn filters_are_written_whole_by_project() {
        let sql = upsert_sql(Dialect::Postgres);
        assert!(sql.starts_with(
            "INSERT INTO inbound_filters (project_id, browser_extensions, localhost, web_crawlers, \
             filtered_transaction, legacy_browsers, react_hydration_errors, chunk_load_error, \
             error_messages, releases, blacklisted_ips, csp_ignored_sources_defaults, \
             csp_ignored_sources) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, \
             $13) ON CONFLICT (project_id) DO UPDATE SET"
        ));
        assert!(select_sql(Dialect::Sqlite).ends_with("WHERE project_id = ?1"));
    }

    #[test]
    fn json_columns_and_the_ip_check() {
        let filters = InboundFilters {
            legacy_browsers: LegacyBrowsers::only(["ie"]),
            releases: vec!["1.*".into()],
            blacklisted_ips: vec!["10.0.0.0/8".into()],
            ..InboundFilters::none()
        };
        assert_eq!(
            json_columns(&filters),
            [r#"["ie"]"#, "[]", r#"["1.*"]"#, r#"["10.0.0.0/8"]"#, "[]"].map(String::from)
        );
        assert!(check(&filters).is_ok());
        let bad = InboundFilters {
            blacklisted_ips: vec!["10.0.0.0/40".into()],
            ..filters
        };
        assert!(matches!(check(&bad), Err(StoreError::Invalid(_))));
    }
}
