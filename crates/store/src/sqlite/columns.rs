//! Typed values kept as text columns: JSON documents and enum names.
//!
//! Row readers of several tables store both; one reader each keeps their conversion errors
//! alike (the column's index, and what the text was) wherever a row is read.

use rusqlite::types::Type;
use rusqlite::Row;

/// A JSON column, or a conversion error naming it.
pub(crate) fn json_column(row: &Row<'_>, index: usize) -> rusqlite::Result<serde_json::Value> {
    let text: String = row.get(index)?;
    serde_json::from_str(&text)
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(index, Type::Text, e.into()))
}

/// A column holding an enum's name, parsed by `parse`; a name it does not know is a conversion
/// error saying "unknown `what`".
pub(crate) fn enum_column<T>(
    row: &Row<'_>,
    index: usize,
    what: &str,
    parse: impl FnOnce(&str) -> Option<T>,
) -> rusqlite::Result<T> {
    let text: String = row.get(index)?;
    parse(&text).ok_or_else(|| {
        rusqlite::Error::FromSqlConversionFailure(
            index,
            Type::Text,
            format!("unknown {what} `{text}`").into(),
        )
    })
}
