//! The issue list: an [`IssueQuery`] compiled to one SQL statement.
//!
//! Every value from the user is a bound parameter; only fixed fragments chosen by the shape of
//! the query become SQL text. Queries of the same shape therefore share one SQL text and hit
//! the statement cache.
//!
//! Tag terms look in `issue_tag_values`, the per-issue counts written at ingest, rather than in
//! events: an issue matches `browser:Firefox` when any of its events had that tag, which is
//! Sentry's meaning too.

use std::fmt::Write as _;

use async_trait::async_trait;
use rusqlite::types::Value;
use rusqlite::{params_from_iter, Connection};

use super::error::DbContext;
use super::issues::{self, COLUMNS};
use super::sql_int;
use super::SqliteStore;
use crate::search::IssueKind;
use crate::IssueSearch;
use crate::{Issue, IssueQuery, IssueSort, SearchTerm, StoreResult};

/// SQL text and its parameters, in order.
#[derive(Debug, PartialEq)]
pub(crate) struct CompiledQuery {
    pub sql: String,
    pub params: Vec<Value>,
}

/// Runs the search on `conn`.
pub(crate) fn search(conn: &Connection, query: &IssueQuery) -> StoreResult<Vec<Issue>> {
    let compiled = compile(query);
    conn.prepare_cached(&compiled.sql)
        .and_then(|mut stmt| {
            stmt.query_map(params_from_iter(compiled.params.iter()), issues::from_row)?
                .collect()
        })
        .db("searching issues")
}

/// Builds the statement: scope, filters, terms, order, page.
pub(crate) fn compile(query: &IssueQuery) -> CompiledQuery {
    let mut q = Builder::default();
    let _ = write!(
        q.sql,
        "SELECT {COLUMNS} FROM issues i JOIN projects p ON p.id = i.project_id \
         WHERE p.organization_id = ?"
    );
    q.params.push(Value::Integer(query.organization_id));

    if !query.project_ids.is_empty() {
        q.sql.push_str(" AND i.project_id IN (");
        q.push_list(query.project_ids.iter().map(|id| Value::Integer(*id)));
        q.sql.push(')');
    }
    if !query.environments.is_empty() {
        q.sql.push_str(" AND EXISTS (SELECT 1 FROM issue_tag_values t WHERE t.issue_id = i.id AND t.key = ? AND t.value IN (");
        q.params.push(text("environment"));
        q.push_list(query.environments.iter().map(|e| text(e)));
        q.sql.push_str("))");
    }
    // The issue was seen within [since, until]: its [first_seen, last_seen] overlaps it.
    if let Some(since) = query.seen_since {
        q.sql.push_str(" AND i.last_seen >= ?");
        q.params.push(Value::Real(since));
    }
    if let Some(until) = query.seen_until {
        q.sql.push_str(" AND i.first_seen <= ?");
        q.params.push(Value::Real(until));
    }
    for term in &query.search.terms {
        q.push_term(term);
    }

    let order = match query.sort {
        IssueSort::LastSeen => "i.last_seen",
        IssueSort::FirstSeen => "i.first_seen",
        IssueSort::Events => "i.times_seen",
        IssueSort::Users => "i.user_count",
    };
    let _ = write!(q.sql, " ORDER BY {order} DESC, i.id DESC LIMIT ? OFFSET ?");
    q.params.push(Value::Integer(sql_int(query.limit)));
    q.params.push(Value::Integer(sql_int(query.offset)));
    CompiledQuery {
        sql: q.sql,
        params: q.params,
    }
}

#[derive(Default)]
struct Builder {
    sql: String,
    params: Vec<Value>,
}

impl Builder {
    /// `?, ?, ?` for each value.
    fn push_list(&mut self, values: impl Iterator<Item = Value>) {
        for (n, value) in values.enumerate() {
            self.sql.push_str(if n == 0 { "?" } else { ", ?" });
            self.params.push(value);
        }
    }

    fn push_term(&mut self, term: &SearchTerm) {
        match term {
            SearchTerm::Status { status, negated } => {
                self.sql.push_str(if *negated {
                    " AND i.status <> ?"
                } else {
                    " AND i.status = ?"
                });
                self.params.push(text(status.as_str()));
            }
            SearchTerm::Unhandled { negated } => {
                self.sql.push_str(if *negated {
                    " AND NOT i.is_unhandled"
                } else {
                    " AND i.is_unhandled"
                });
            }
            SearchTerm::Level { value, negated } => {
                self.sql.push_str(if *negated {
                    " AND i.level <> ?"
                } else {
                    " AND i.level = ?"
                });
                self.params.push(text(value));
            }
            SearchTerm::Tag {
                key,
                value,
                negated,
            } => {
                self.sql
                    .push_str(if *negated { " AND NOT" } else { " AND" });
                self.sql.push_str(
                    " EXISTS (SELECT 1 FROM issue_tag_values t \
                     WHERE t.issue_id = i.id AND t.key = ? AND t.value = ?)",
                );
                self.params.push(text(key));
                self.params.push(text(value));
            }
            SearchTerm::Has { key, negated } => {
                self.sql
                    .push_str(if *negated { " AND NOT" } else { " AND" });
                self.sql.push_str(
                    " EXISTS (SELECT 1 FROM issue_tag_values t WHERE t.issue_id = i.id AND t.key = ?)",
                );
                self.params.push(text(key));
            }
            SearchTerm::Kind { kind, negated } => {
                self.sql
                    .push_str(if *negated { " AND NOT" } else { " AND" });
                let prefix_len = IssueKind::PERFORMANCE_PREFIX.len();
                let _ = match kind {
                    IssueKind::Errors => {
                        write!(self.sql, " substr(i.event_type, 1, {prefix_len}) <> ?")
                    }
                    IssueKind::Performance => {
                        write!(self.sql, " substr(i.event_type, 1, {prefix_len}) = ?")
                    }
                    IssueKind::Type(_) => write!(self.sql, " i.event_type = ?"),
                };
                self.params.push(text(match kind {
                    IssueKind::Type(ty) => ty,
                    _ => IssueKind::PERFORMANCE_PREFIX,
                }));
            }
            SearchTerm::Text(words) => {
                // LIKE folds ASCII case only; see `like_pattern`.
                self.sql.push_str(
                    " AND (i.title LIKE ? ESCAPE '\\' OR i.culprit LIKE ? ESCAPE '\\' \
                     OR json_extract(i.metadata, '$.value') LIKE ? ESCAPE '\\')",
                );
                let pattern = like_pattern(words);
                for _ in 0..3 {
                    self.params.push(text(&pattern));
                }
            }
        }
    }
}

fn text(s: &str) -> Value {
    Value::Text(s.to_string())
}

/// `%words%` with LIKE's wildcards in `words` escaped (by `\`), so `100%` and `snake_case`
/// match themselves. SQLite's LIKE is case-insensitive for ASCII letters only.
fn like_pattern(words: &str) -> String {
    let mut pattern = String::with_capacity(words.len() + 2);
    pattern.push('%');
    for c in words.chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::search::parse_search;

    #[test]
    fn like_wildcards_in_text_match_themselves() {
        assert_eq!(
            like_pattern(r"100% snake_case C:\x"),
            r"%100\% snake\_case C:\\x%"
        );
    }

    #[test]
    fn input_only_ever_reaches_sql_as_parameters() {
        let hostile = "x' OR 1=1 --";
        let query = IssueQuery {
            organization_id: 1,
            search: parse_search(&format!(
                "level:\"{hostile}\" browser:\"{hostile}\" {hostile}"
            ))
            .expect("valid search"),
            environments: vec![hostile.to_string()],
            limit: 25,
            ..IssueQuery::default()
        };
        let compiled = compile(&query);
        assert!(!compiled.sql.contains(hostile));
        assert_eq!(compiled.sql.matches('?').count(), compiled.params.len());
    }

    #[test]
    fn negated_tag_becomes_not_exists() {
        let query = IssueQuery {
            organization_id: 1,
            search: parse_search("!browser:Chrome").expect("valid search"),
            ..IssueQuery::default()
        };
        let compiled = compile(&query);
        assert!(compiled
            .sql
            .contains("AND NOT EXISTS (SELECT 1 FROM issue_tag_values"));
        assert_eq!(compiled.params[1], text("browser"));
        assert_eq!(compiled.params[2], text("Chrome"));
    }
}

#[async_trait]
impl IssueSearch for SqliteStore {
    async fn search_issues(&self, query: &IssueQuery) -> StoreResult<Vec<Issue>> {
        let query = query.clone();
        self.read(move |conn| search(conn, &query)).await
    }
}
