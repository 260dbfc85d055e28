//! The statements of a project's data-scrubbing settings, the same on both backends: the row
//! read by project (parameter 1) and the row written whole over what was there. The field
//! lists are kept as JSON arrays in text columns, written and read by [`field_list_json`] and
//! the row reader; the advanced rules (`relayPiiConfig`) as the text the user wrote, NULL for
//! none.

use super::Dialect;
use crate::{check_field_list, ScrubbingSettings, StoreError, StoreResult};

/// The settings' columns after `project_id`, in the order both statements use.
const COLUMNS: [&str; 6] = [
    "data_scrubber",
    "data_scrubber_defaults",
    "scrub_ip_addresses",
    "sensitive_fields",
    "safe_fields",
    "relay_pii_config",
];

/// `Ok` for lists the web UI can show back and the scrubber can compile (see
/// [`check_field_list`]); the API and the web UI check first, with their own messages, and this
/// keeps any other caller from storing what they would refuse, on either backend.
pub(crate) fn check(settings: &ScrubbingSettings) -> StoreResult<()> {
    for (name, list) in [
        ("sensitive fields", &settings.sensitive_fields),
        ("safe fields", &settings.safe_fields),
    ] {
        check_field_list(list).map_err(|e| StoreError::Invalid(format!("{name}: {e}")))?;
    }
    Ok(())
}

/// A field list as the JSON text its column holds.
pub(crate) fn field_list_json(fields: &[String]) -> String {
    serde_json::Value::from(fields).to_string()
}

/// The project's row: [`COLUMNS`], in order.
pub(crate) fn select_sql(dialect: Dialect) -> String {
    format!(
        "SELECT {} FROM scrubbing_settings WHERE project_id = {}",
        COLUMNS.join(", "),
        dialect.placeholder(1)
    )
}

/// Writes `project_id` then [`COLUMNS`], replacing the project's row.
pub(crate) fn upsert_sql(dialect: Dialect) -> String {
    let mut columns = vec!["project_id"];
    columns.extend(COLUMNS);
    dialect.upsert("scrubbing_settings", &columns, 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_are_written_whole_by_project() {
        assert_eq!(
            upsert_sql(Dialect::Postgres),
            "INSERT INTO scrubbing_settings (project_id, data_scrubber, data_scrubber_defaults, \
             scrub_ip_addresses, sensitive_fields, safe_fields, relay_pii_config) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (project_id) DO UPDATE SET \
             data_scrubber = excluded.data_scrubber, \
             data_scrubber_defaults = excluded.data_scrubber_defaults, \
             scrub_ip_addresses = excluded.scrub_ip_addresses, \
             sensitive_fields = excluded.sensitive_fields, \
             safe_fields = excluded.safe_fields, \
             relay_pii_config = excluded.relay_pii_config"
        );
        assert!(select_sql(Dialect::Sqlite).ends_with("WHERE project_id = ?1"));
    }

    #[test]
    fn field_lists_are_json_arrays() {
        assert_eq!(field_list_json(&[]), "[]");
        assert_eq!(
            field_list_json(&["card \"no\"".to_string(), "iban".to_string()]),
            r#"["card \"no\"","iban"]"#
        );
    }
}
