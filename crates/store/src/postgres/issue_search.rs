//! The issue list: an [`IssueQuery`] compiled to one PostgreSQL statement (the port of
//! `sqlite/issue_search.rs`, with the same meaning term by term).
//!
//! Every value from the user is a bound parameter; only fixed fragments chosen by the shape of
//! the query become SQL text. Lists (projects, environments) are one array parameter each
//! (`= ANY($n)`), so queries of the same shape share one SQL text, whatever the lists' lengths,
//! and hit the per-connection statement cache.
//!
//! Tag terms look in `issue_tag_values`, the per-issue counts written at ingest, rather than in
//! events: an issue matches `browser:Firefox` when any of its events had that tag, which is
//! Sentry's meaning too. Free text uses `ILIKE`, which folds case by the database's locale
//! (SQLite's `LIKE` folds ASCII letters only; on ASCII text both agree).

use std::fmt::Write as _;

use async_trait::async_trait;
use deadpool_postgres::GenericClient;
use tokio_postgres::types::ToSql;

use super::issues::{self, COLUMNS};
use super::sql::{self, sql_int};
use super::PgStore;
use crate::search::IssueKind;
use crate::IssueSearch;
use crate::{Issue, IssueQuery, IssueSort, SearchTerm, StoreResult};

/// A bound value.
type Param = Box<dyn ToSql + Sync + Send>;

/// SQL text and its parameters, in order (`$1` is the first).
pub(crate) struct CompiledQuery {
    pub sql: String,
    pub params: Vec<Param>,
}

/// Runs the search.
pub(crate) async fn search<C: GenericClient>(
    client: &C,
    query: &IssueQuery,
) -> StoreResult<Vec<Issue>> {
    let compiled = compile(query);
    let params: Vec<&(dyn ToSql + Sync)> = compiled
        .params
        .iter()
        .map(|p| p.as_ref() as &(dyn ToSql + Sync))
        .collect();
    sql::query(client, &compiled.sql, &params, "searching issues")
        .await?
        .iter()
        .map(issues::from_row)
        .collect()
}

/// Builds the statement: scope, filters, terms, order, page.
pub(crate) fn compile(query: &IssueQuery) -> CompiledQuery {
    let mut q = Builder::default();
    let org = q.param(query.organization_id);
    let _ = write!(
        q.sql,
        "SELECT {COLUMNS} FROM issues i JOIN projects p ON p.id = i.project_id \
         WHERE p.organization_id = {org}"
    );
    if !query.project_ids.is_empty() {
        let ids = q.param(query.project_ids.clone());
        let _ = write!(q.sql, " AND i.project_id = ANY({ids}::BIGINT[])");
    }
    if !query.environments.is_empty() {
        let key = q.param("environment".to_string());
        let values = q.param(query.environments.clone());
        let _ = write!(
            q.sql,
            " AND EXISTS (SELECT 1 FROM issue_tag_values t WHERE t.issue_id = i.id \
             AND t.key = {key} AND t.value = ANY({values}::TEXT[]))"
        );
    }
    // The issue was seen within [since, until]: its [first_seen, last_seen] overlaps it.
    if let Some(since) = query.seen_since {
        let since = q.param(since);
        let _ = write!(q.sql, " AND i.last_seen >= {since}");
    }
    if let Some(until) = query.seen_until {
        let until = q.param(until);
        let _ = write!(q.sql, " AND i.first_seen <= {until}");
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
    let limit = q.param(sql_int(query.limit));
    let offset = q.param(sql_int(query.offset));
    let _ = write!(
        q.sql,
        " ORDER BY {order} DESC, i.id DESC LIMIT {limit} OFFSET {offset}"
    );
    CompiledQuery {
        sql: q.sql,
        params: q.params,
    }
}

#[derive(Default)]
struct Builder {
    sql: String,
    params: Vec<Param>,
}

impl Builder {
    /// Binds a value; returns its placeholder (`$n`).
    fn param(&mut self, value: impl ToSql + Sync + Send + 'static) -> String {
        self.params.push(Box::new(value));
        format!("${}", self.params.len())
    }

    fn push_term(&mut self, term: &SearchTerm) {
        match term {
            SearchTerm::Status { status, negated } => {
                let p = self.param(status.as_str().to_string());
                let op = if *negated { "<>" } else { "=" };
                let _ = write!(self.sql, " AND i.status {op} {p}");
            }
            SearchTerm::Unhandled { negated } => {
                self.sql.push_str(if *negated {
                    " AND NOT i.is_unhandled"
                } else {
                    " AND i.is_unhandled"
                });
            }
            SearchTerm::Level { value, negated } => {
                let p = self.param(value.clone());
                let op = if *negated { "<>" } else { "=" };
                let _ = write!(self.sql, " AND i.level {op} {p}");
            }
            SearchTerm::Tag {
                key,
                value,
                negated,
            } => {
                let key = self.param(key.clone());
                let value = self.param(value.clone());
                let not = if *negated { " NOT" } else { "" };
                let _ = write!(
                    self.sql,
                    " AND{not} EXISTS (SELECT 1 FROM issue_tag_values t \
                     WHERE t.issue_id = i.id AND t.key = {key} AND t.value = {value})"
                );
            }
            SearchTerm::Has { key, negated } => {
                let key = self.param(key.clone());
                let not = if *negated { " NOT" } else { "" };
                let _ = write!(
                    self.sql,
                    " AND{not} EXISTS (SELECT 1 FROM issue_tag_values t \
                     WHERE t.issue_id = i.id AND t.key = {key})"
                );
            }
            SearchTerm::Kind { kind, negated } => {
                let not = if *negated { " NOT" } else { "" };
                let test = match kind {
                    IssueKind::Errors => format!(
                        "left(i.event_type, {}) <> {}",
                        IssueKind::PERFORMANCE_PREFIX.len(),
                        self.param(IssueKind::PERFORMANCE_PREFIX.to_string())
                    ),
                    IssueKind::Performance => format!(
                        "left(i.event_type, {}) = {}",
                        IssueKind::PERFORMANCE_PREFIX.len(),
                        self.param(IssueKind::PERFORMANCE_PREFIX.to_string())
                    ),
                    IssueKind::Type(ty) => format!("i.event_type = {}", self.param(ty.clone())),
                };
                let _ = write!(self.sql, " AND{not} ({test})");
            }
            SearchTerm::Text(words) => {
                let p = self.param(like_pattern(words));
                let _ = write!(
                    self.sql,
                    " AND (i.title ILIKE {p} ESCAPE '\\' OR i.culprit ILIKE {p} ESCAPE '\\' \
                     OR (i.metadata::json ->> 'value') ILIKE {p} ESCAPE '\\')"
                );
            }
        }
    }
}

/// `%words%` with LIKE's wildcards in `words` escaped (by `\`), so `100%` and `snake_case`
/// match themselves.
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

    fn shown(compiled: &CompiledQuery) -> Vec<String> {
        compiled.params.iter().map(|p| format!("{p:?}")).collect()
    }

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
        let highest = (1..=compiled.params.len())
            .rev()
            .find(|n| compiled.sql.contains(&format!("${n}")));
        assert_eq!(highest, Some(compiled.params.len()), "{}", compiled.sql);
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
        assert_eq!(shown(&compiled)[1..3], ["\"browser\"", "\"Chrome\""]);
    }

    #[test]
    fn lists_are_one_parameter_whatever_their_length() {
        let with = |projects: Vec<i64>| {
            compile(&IssueQuery {
                organization_id: 1,
                project_ids: projects,
                ..IssueQuery::default()
            })
            .sql
        };
        assert_eq!(with(vec![1]), with(vec![1, 2, 3]));
    }
}

#[async_trait]
impl IssueSearch for PgStore {
    async fn search_issues(&self, query: &IssueQuery) -> StoreResult<Vec<Issue>> {
        search(&self.client().await?, query).await
    }
}
