//! What SQLite and PostgreSQL spell differently, and nothing else: the builders ask the
//! dialect for these fragments and write the rest of a statement once.

use super::Builder;

/// The SQL a backend speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    Sqlite,
    Postgres,
}

impl Dialect {
    /// The placeholder of the `n`th parameter (from 1): `?n` or `$n`. Numbered on both, so a
    /// value used twice is bound once.
    pub(crate) fn placeholder(self, n: usize) -> String {
        match self {
            Dialect::Sqlite => format!("?{n}"),
            Dialect::Postgres => format!("${n}"),
        }
    }

    /// `column` is one of a list: SQLite has one placeholder per element; PostgreSQL one array
    /// of `element_type`, so its statement text is the same whatever the list's length.
    pub(crate) fn in_list(
        self,
        column: &str,
        placeholders: &[String],
        element_type: &str,
    ) -> String {
        match self {
            Dialect::Sqlite => format!("{column} IN ({})", placeholders.join(", ")),
            Dialect::Postgres => format!(
                "{column} = ANY({}::{element_type}[])",
                placeholders.concat()
            ),
        }
    }

    /// `column` matches the LIKE `pattern` (escaped by `\`) whatever the case. SQLite's `LIKE`
    /// folds ASCII letters only, PostgreSQL's `ILIKE` by the database's locale; on ASCII text
    /// both agree.
    pub(crate) fn like_any_case(self, column: &str, pattern: &str) -> String {
        let like = match self {
            Dialect::Sqlite => "LIKE",
            Dialect::Postgres => "ILIKE",
        };
        format!("{column} {like} {pattern} ESCAPE '\\'")
    }

    /// The text of `field` of the JSON object stored as text in `column`.
    pub(crate) fn json_text(self, column: &str, field: &str) -> String {
        match self {
            Dialect::Sqlite => format!("json_extract({column}, '$.{field}')"),
            Dialect::Postgres => format!("({column}::json ->> '{field}')"),
        }
    }

    /// The first `len` characters of `column`.
    pub(crate) fn text_prefix(self, column: &str, len: usize) -> String {
        match self {
            Dialect::Sqlite => format!("substr({column}, 1, {len})"),
            Dialect::Postgres => format!("left({column}, {len})"),
        }
    }

    /// The `[[key, value], …]` JSON array in `column` holds the pair `[key, value]`; false
    /// when the column is null.
    pub(crate) fn has_pair(self, q: &mut Builder, column: &str, key: &str, value: &str) -> String {
        match self {
            Dialect::Sqlite => {
                let (key, value) = (q.bind(key), q.bind(value));
                format!(
                    "EXISTS (SELECT 1 FROM json_each({column}) j \
                     WHERE j.value ->> 0 = {key} AND j.value ->> 1 = {value})"
                )
            }
            Dialect::Postgres => {
                // Containment answers from the JSONB as stored, without unpacking it.
                let pair = q.bind(serde_json::json!([[key, value]]).to_string());
                format!("COALESCE({column} @> {pair}::TEXT::JSONB, FALSE)")
            }
        }
    }

    /// Rows whose project (`project_column`) is in the organization. SQLite's plans join the
    /// projects (see [`Dialect::organization_join`]); PostgreSQL's use a sub-select, which
    /// lets it read the projects once.
    pub(crate) fn in_organization(self, q: &mut Builder, project_column: &str, id: i64) -> String {
        let id = q.bind(id);
        match self {
            Dialect::Sqlite => format!("p.organization_id = {id}"),
            Dialect::Postgres => {
                format!(
                    "{project_column} IN (SELECT id FROM projects WHERE organization_id = {id})"
                )
            }
        }
    }

    /// The join [`Dialect::in_organization`] needs after the FROM of its table, if any.
    pub(crate) fn organization_join(self, project_column: &str) -> String {
        match self {
            Dialect::Sqlite => format!(" JOIN projects p ON p.id = {project_column}"),
            Dialect::Postgres => String::new(),
        }
    }

    /// Inserts a row of `columns`, or replaces the non-key columns of the row with the same
    /// `key` columns (the first ones of `columns`). Both speak `ON CONFLICT … DO UPDATE` (SQLite
    /// since 3.24); only the placeholders differ.
    pub(crate) fn upsert(self, table: &str, columns: &[&str], key: usize) -> String {
        let values: Vec<String> = (1..=columns.len()).map(|n| self.placeholder(n)).collect();
        let updates: Vec<String> = columns[key..]
            .iter()
            .map(|c| format!("{c} = excluded.{c}"))
            .collect();
        format!(
            "INSERT INTO {table} ({}) VALUES ({}) ON CONFLICT ({}) DO UPDATE SET {}",
            columns.join(", "),
            values.join(", "),
            columns[..key].join(", "),
            updates.join(", ")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_numbered_in_each_dialect() {
        assert_eq!(Dialect::Sqlite.placeholder(3), "?3");
        assert_eq!(Dialect::Postgres.placeholder(3), "$3");
    }

    #[test]
    fn lists_are_expanded_on_sqlite_and_one_array_on_postgres() {
        let ids = [1, 2, 3];
        let mut sqlite = Builder::new(Dialect::Sqlite);
        assert_eq!(sqlite.in_ints("x", &ids), "x IN (?1, ?2, ?3)");
        assert_eq!(sqlite.params.len(), 3);
        let mut postgres = Builder::new(Dialect::Postgres);
        assert_eq!(postgres.in_ints("x", &ids), "x = ANY($1::BIGINT[])");
        assert_eq!(postgres.params, [super::super::Param::Ints(ids.to_vec())]);
    }

    #[test]
    fn upsert_replaces_the_columns_after_the_key() {
        assert_eq!(
            Dialect::Postgres.upsert("settings", &["project_id", "a", "b"], 1),
            "INSERT INTO settings (project_id, a, b) VALUES ($1, $2, $3) \
             ON CONFLICT (project_id) DO UPDATE SET a = excluded.a, b = excluded.b"
        );
        assert!(Dialect::Sqlite
            .upsert("settings", &["project_id", "a"], 1)
            .contains("VALUES (?1, ?2)"));
    }

    #[test]
    fn tag_pairs_bind_two_texts_on_sqlite_and_one_json_on_postgres() {
        let mut sqlite = Builder::new(Dialect::Sqlite);
        let test = Dialect::Sqlite.has_pair(&mut sqlite, "t.tags", "k", "v");
        assert!(
            test.contains("j.value ->> 0 = ?1 AND j.value ->> 1 = ?2"),
            "{test}"
        );
        let mut postgres = Builder::new(Dialect::Postgres);
        let test = Dialect::Postgres.has_pair(&mut postgres, "t.tags", "k", "v");
        assert_eq!(test, "COALESCE(t.tags @> $1::TEXT::JSONB, FALSE)");
        assert_eq!(
            postgres.params,
            [super::super::Param::Text(r#"[["k","v"]]"#.into())]
        );
    }
}
