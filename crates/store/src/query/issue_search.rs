//! The issue list: an [`IssueQuery`] (scope, filters and Sentry's search terms) compiled to one
//! statement, the same term by term on both backends.
//!
//! Tag terms look in `issue_tag_values`, the per-issue counts written at ingest, rather than in
//! events: an issue matches `browser:Firefox` when any of its events had that tag, which is
//! Sentry's meaning too. A new search term is one arm of [`push_term`].

use std::fmt::Write as _;

use super::{sql_int, Builder, Dialect, Statement};
use crate::search::{DateField, IssueKind, NumberField, Person, TextField};
use crate::{IssueQuery, IssueSort, SearchTerm};

/// Builds the statement: scope, filters, terms, order, page. `columns` are the backend's
/// issue columns (of `issues i`), which its row reader expects.
pub(crate) fn compile(dialect: Dialect, columns: &str, query: &IssueQuery) -> Statement {
    let mut q = Builder::new(dialect);
    let org = q.bind(query.organization_id);
    let _ = write!(
        q.sql,
        "SELECT {columns} FROM issues i JOIN projects p ON p.id = i.project_id \
         WHERE p.organization_id = {org}"
    );
    if !query.project_ids.is_empty() {
        let projects = q.in_ints("i.project_id", &query.project_ids);
        q.and(&projects);
    }
    if !query.environments.is_empty() {
        let key = q.bind("environment");
        let values = q.in_texts("t.value", &query.environments);
        q.and(&format!(
            "EXISTS (SELECT 1 FROM issue_tag_values t WHERE t.issue_id = i.id \
             AND t.key = {key} AND {values})"
        ));
    }
    // The issue was seen within [since, until]: its [first_seen, last_seen] overlaps it.
    if let Some(since) = query.seen_since {
        let since = q.bind(since);
        q.and(&format!("i.last_seen >= {since}"));
    }
    if let Some(until) = query.seen_until {
        let until = q.bind(until);
        q.and(&format!("i.first_seen <= {until}"));
    }
    super::triage::push_filters(&mut q, query);
    for term in &query.search.terms {
        let condition = condition(&mut q, term, unix_now(), query.viewer);
        q.and(&condition);
    }

    let order = match query.sort {
        IssueSort::LastSeen => "i.last_seen",
        IssueSort::FirstSeen => "i.first_seen",
        IssueSort::Events => "i.times_seen",
        IssueSort::Users => "i.user_count",
    };
    let limit = q.bind(sql_int(query.limit));
    let offset = q.bind(sql_int(query.offset));
    let _ = write!(
        q.sql,
        " ORDER BY {order} DESC, i.id DESC LIMIT {limit} OFFSET {offset}"
    );
    q.finish()
}

/// `NOT ` before a negated condition.
fn not(negated: bool) -> &'static str {
    if negated {
        "NOT "
    } else {
        ""
    }
}

/// The time relative dates (`firstSeen:-24h`) count back from.
fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or_default()
}

/// The SQL of a user id a triage term names: the searcher's (`NULL` without one: nothing
/// matches), or a member's by email; `None` for nobody.
fn person_id(q: &mut Builder, who: &Person, viewer: Option<i64>) -> Option<String> {
    match who {
        Person::Me => Some(viewer.map_or_else(|| "NULL".to_owned(), |id| q.bind(id))),
        Person::Nobody => None,
        Person::Email(email) => {
            let key = q.bind(crate::shared::email_key(email));
            Some(format!(
                "(SELECT u.id FROM users u WHERE u.email_key = {key})"
            ))
        }
    }
}

/// The SQL condition of one term, its values bound on `q`; `viewer` is who `me` is.
fn condition(q: &mut Builder, term: &SearchTerm, now: f64, viewer: Option<i64>) -> String {
    let dialect = q.dialect;
    match term {
        SearchTerm::Status { status, negated } => {
            let status = q.bind(status.as_str());
            let op = if *negated { "<>" } else { "=" };
            format!("i.status {op} {status}")
        }
        SearchTerm::Substatus { substatus, negated } => {
            let substatus = q.bind(substatus.as_str());
            let op = if *negated { "<>" } else { "=" };
            format!("i.substatus {op} {substatus}")
        }
        SearchTerm::Unhandled { negated } => format!("{}i.is_unhandled", not(*negated)),
        SearchTerm::Level { value, negated } => {
            let value = q.bind(value.as_str());
            let op = if *negated { "<>" } else { "=" };
            format!("i.level {op} {value}")
        }
        SearchTerm::Tag {
            key,
            value,
            negated,
        } => {
            let key = q.bind(key.as_str());
            let test = text_test(q, "t.value", value, Match::Exact);
            format!(
                "{}EXISTS (SELECT 1 FROM issue_tag_values t \
                 WHERE t.issue_id = i.id AND t.key = {key} AND {test})",
                not(*negated)
            )
        }
        SearchTerm::Has { key, negated } => {
            let key = q.bind(key.as_str());
            format!(
                "{}EXISTS (SELECT 1 FROM issue_tag_values t \
                 WHERE t.issue_id = i.id AND t.key = {key})",
                not(*negated)
            )
        }
        SearchTerm::Kind { kind, negated } => {
            let prefix = dialect.text_prefix("i.event_type", IssueKind::PERFORMANCE_PREFIX.len());
            let test = match kind {
                IssueKind::Errors => {
                    format!("{prefix} <> {}", q.bind(IssueKind::PERFORMANCE_PREFIX))
                }
                IssueKind::Performance => {
                    format!("{prefix} = {}", q.bind(IssueKind::PERFORMANCE_PREFIX))
                }
                IssueKind::Type(ty) => format!("i.event_type = {}", q.bind(ty.as_str())),
            };
            format!("{}({test})", not(*negated))
        }
        SearchTerm::Text(words) => message_test(q, words),
        SearchTerm::Field {
            field,
            value,
            negated,
        } => {
            let test = match field {
                TextField::Message => message_test(q, value),
                TextField::ErrorType => {
                    let column =
                        format!("coalesce({}, '')", dialect.json_text("i.metadata", "type"));
                    text_test(q, &column, value, Match::Exact)
                }
                TextField::ErrorValue => {
                    let column =
                        format!("coalesce({}, '')", dialect.json_text("i.metadata", "value"));
                    text_test(q, &column, value, Match::Exact)
                }
                TextField::Project => text_test(q, "p.slug", value, Match::Exact),
                TextField::FirstRelease => {
                    text_test(q, "coalesce(i.first_release, '')", value, Match::Exact)
                }
            };
            if *negated {
                format!("NOT ({test})")
            } else {
                test
            }
        }
        SearchTerm::Number { field, op, value } => {
            let column = match field {
                NumberField::TimesSeen => "i.times_seen",
                NumberField::UserCount => "i.user_count",
            };
            let value = q.bind(*value);
            format!("{column} {} {value}", op.sql())
        }
        SearchTerm::Date { field, op, at } => {
            let at = q.bind(at.resolve(now));
            let op = op.sql();
            match field {
                DateField::FirstSeen => format!("i.first_seen {op} {at}"),
                DateField::LastSeen => format!("i.last_seen {op} {at}"),
                // Any event of the issue then (events_issue_timestamp answers it).
                DateField::EventTimestamp => format!(
                    "EXISTS (SELECT 1 FROM events e WHERE e.issue_id = i.id \
                     AND e.timestamp {op} {at})"
                ),
            }
        }
        SearchTerm::EventId { id, negated } => {
            let id = q.bind(id.as_str());
            // events_project_event_id answers it.
            format!(
                "{}EXISTS (SELECT 1 FROM events e WHERE e.project_id = i.project_id \
                 AND e.event_id = {id} AND e.issue_id = i.id)",
                not(*negated)
            )
        }
        SearchTerm::ShortId {
            project,
            number,
            negated,
        } => {
            let (project, number) = (q.bind(project.as_str()), q.bind(*number));
            format!(
                "{}(lower(p.slug) = {project} AND i.short_id = {number})",
                not(*negated)
            )
        }
        SearchTerm::Assigned { who, negated } => match person_id(q, who, viewer) {
            None => format!("i.assignee_id IS {}NULL", not(*negated)),
            // Unassigned issues are not `assigned:X`, and are `!assigned:X`.
            Some(id) => format!("{}COALESCE(i.assignee_id = {id}, FALSE)", not(*negated)),
        },
        SearchTerm::Bookmarked { who, negated } => {
            let id = person_id(q, who, viewer).unwrap_or_else(|| "NULL".to_owned());
            format!(
                "{}EXISTS (SELECT 1 FROM issue_user_states b WHERE b.issue_id = i.id \
                 AND b.user_id = {id} AND b.bookmarked = TRUE)",
                not(*negated)
            )
        }
        SearchTerm::ForReview { negated } => {
            let me = viewer.map_or_else(|| "NULL".to_owned(), |id| q.bind(id));
            format!(
                "{}(i.status = 'unresolved' AND i.reviewed_at IS NULL \
                 AND (i.assignee_id IS NULL OR COALESCE(i.assignee_id = {me}, FALSE)))",
                not(*negated)
            )
        }
        SearchTerm::Any(groups) => {
            let groups: Vec<String> = groups
                .iter()
                .map(|group| {
                    let all: Vec<String> = group
                        .iter()
                        .map(|term| condition(q, term, now, viewer))
                        .collect();
                    match all.len() {
                        // A group is never empty as parsed; empty holds, as an empty AND.
                        0 => "1 = 1".to_owned(),
                        1 => all.concat(),
                        _ => format!("({})", all.join(" AND ")),
                    }
                })
                .collect();
            format!("({})", groups.join(" OR "))
        }
    }
}

/// How a value without wildcards compares.
#[derive(Clone, Copy, PartialEq)]
enum Match {
    /// Equal (case-sensitive, index-friendly), as Sentry's tag and field filters.
    Exact,
    /// Contains, whatever the case, as Sentry's message search.
    Contains,
}

/// `column` matches `value`: with a `*` in it a case-insensitive LIKE of its wildcards,
/// otherwise as `mode` says.
fn text_test(q: &mut Builder, column: &str, value: &str, mode: Match) -> String {
    if has_wildcard(value) || mode == Match::Contains {
        let pattern = q.bind(glob_pattern(value, mode == Match::Contains));
        q.dialect.like_any_case(column, &pattern)
    } else {
        let value = q.bind(value.replace("\\*", "*"));
        format!("{column} = {value}")
    }
}

/// Title, culprit or message (the metadata value) contains `words` (or matches their
/// wildcards), whatever the case. Each is coalesced, so the test is never NULL and negates.
fn message_test(q: &mut Builder, words: &str) -> String {
    let p = q.bind(glob_pattern(words, true));
    let metadata = format!(
        "coalesce({}, '')",
        q.dialect.json_text("i.metadata", "value")
    );
    let tests = ["i.title", "i.culprit", metadata.as_str()]
        .map(|column| q.dialect.like_any_case(column, &p));
    format!("({})", tests.join(" OR "))
}

/// Whether `value` has an unescaped `*`.
fn has_wildcard(value: &str) -> bool {
    let mut escaped = false;
    for c in value.chars() {
        match c {
            '*' if !escaped => return true,
            '\\' => escaped = !escaped,
            _ => escaped = false,
        }
    }
    false
}

/// A LIKE pattern (escaped by `\`) of `value` whose `*` match anything (`\*` a star) and whose
/// LIKE wildcards match themselves; `contains` surrounds it with `%`.
fn glob_pattern(value: &str, contains: bool) -> String {
    let mut pattern = String::with_capacity(value.len() + 2);
    if contains {
        pattern.push('%');
    }
    let mut chars = value.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'*') => {
                chars.next();
                pattern.push('*');
            }
            '*' => pattern.push('%'),
            '%' | '_' | '\\' => {
                pattern.push('\\');
                pattern.push(c);
            }
            c => pattern.push(c),
        }
    }
    if contains {
        pattern.push('%');
    }
    pattern
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::Param;
    use crate::search::parse_search;

    const BOTH: [Dialect; 2] = [Dialect::Sqlite, Dialect::Postgres];

    fn search(text: &str) -> IssueQuery {
        IssueQuery {
            organization_id: 1,
            search: parse_search(text).expect("valid search"),
            limit: 25,
            ..IssueQuery::default()
        }
    }

    /// The highest placeholder number in `sql`.
    fn highest_placeholder(dialect: Dialect, sql: &str, params: usize) -> Option<usize> {
        (1..=params + 1)
            .rev()
            .find(|n| sql.contains(&dialect.placeholder(*n)))
    }

    #[test]
    fn like_wildcards_in_text_match_themselves() {
        assert_eq!(
            glob_pattern(r"100% snake_case C:\x", true),
            r"%100\% snake\_case C:\\x%"
        );
        assert_eq!(glob_pattern(r"*/checkout/*", false), "%/checkout/%");
        assert_eq!(glob_pattern(r"a\*b*", false), "a*b%");
        assert!(has_wildcard("a*") && !has_wildcard(r"a\*"));
    }

    #[test]
    fn input_only_ever_reaches_sql_as_parameters() {
        let hostile = "x' OR 1=1 --";
        let query = IssueQuery {
            environments: vec![hostile.to_string()],
            ..search(&format!(
                "level:\"{hostile}\" browser:\"{hostile}\" {hostile}"
            ))
        };
        for dialect in BOTH {
            let compiled = compile(dialect, "i.id", &query);
            assert!(!compiled.sql.contains(hostile));
            assert_eq!(
                highest_placeholder(dialect, &compiled.sql, compiled.params.len()),
                Some(compiled.params.len()),
                "{}",
                compiled.sql
            );
        }
    }

    #[test]
    fn negated_tag_becomes_not_exists() {
        for dialect in BOTH {
            let compiled = compile(dialect, "i.id", &search("!browser:Chrome"));
            assert!(compiled
                .sql
                .contains("AND NOT EXISTS (SELECT 1 FROM issue_tag_values"));
            assert_eq!(
                compiled.params[1..3],
                [Param::from("browser"), Param::from("Chrome")]
            );
        }
    }

    #[test]
    fn lists_are_one_parameter_on_postgres_whatever_their_length() {
        let with = |projects: Vec<i64>| {
            compile(
                Dialect::Postgres,
                "i.id",
                &IssueQuery {
                    organization_id: 1,
                    project_ids: projects,
                    ..IssueQuery::default()
                },
            )
            .sql
        };
        assert_eq!(with(vec![1]), with(vec![1, 2, 3]));
    }

    #[test]
    fn scoped_query_reads_the_same_on_both_dialects_but_for_their_spelling() {
        let query = IssueQuery {
            project_ids: vec![7, 8],
            environments: vec!["prod".into()],
            seen_since: Some(100.0),
            ..search("is:unresolved")
        };
        let sqlite = compile(Dialect::Sqlite, "i.id", &query);
        assert_eq!(
            sqlite.sql,
            "SELECT i.id FROM issues i JOIN projects p ON p.id = i.project_id \
             WHERE p.organization_id = ?1 AND i.project_id IN (?2, ?3) \
             AND EXISTS (SELECT 1 FROM issue_tag_values t WHERE t.issue_id = i.id \
             AND t.key = ?4 AND t.value IN (?5)) AND i.last_seen >= ?6 AND i.status = ?7 \
             ORDER BY i.last_seen DESC, i.id DESC LIMIT ?8 OFFSET ?9"
        );
        assert_eq!(
            sqlite.params,
            [
                Param::Int(1),
                Param::Int(7),
                Param::Int(8),
                Param::from("environment"),
                Param::from("prod"),
                Param::Real(100.0),
                Param::from("unresolved"),
                Param::Int(25),
                Param::Int(0),
            ]
        );
        let postgres = compile(Dialect::Postgres, "i.id", &query);
        assert_eq!(
            postgres.sql,
            "SELECT i.id FROM issues i JOIN projects p ON p.id = i.project_id \
             WHERE p.organization_id = $1 AND i.project_id = ANY($2::BIGINT[]) \
             AND EXISTS (SELECT 1 FROM issue_tag_values t WHERE t.issue_id = i.id \
             AND t.key = $3 AND t.value = ANY($4::TEXT[])) AND i.last_seen >= $5 \
             AND i.status = $6 ORDER BY i.last_seen DESC, i.id DESC LIMIT $7 OFFSET $8"
        );
        assert_eq!(postgres.params[1], Param::Ints(vec![7, 8]));
        assert_eq!(postgres.params[3], Param::Texts(vec!["prod".into()]));
    }

    #[test]
    fn free_text_binds_its_pattern_once_for_three_columns() {
        let sqlite = compile(Dialect::Sqlite, "i.id", &search("100%"));
        assert!(sqlite.sql.contains(
            "AND (i.title LIKE ?2 ESCAPE '\\' OR i.culprit LIKE ?2 ESCAPE '\\' \
             OR coalesce(json_extract(i.metadata, '$.value'), '') LIKE ?2 ESCAPE '\\')"
        ));
        assert_eq!(sqlite.params[1], Param::from("%100\\%%"));
        let postgres = compile(Dialect::Postgres, "i.id", &search("100%"));
        assert!(postgres
            .sql
            .contains("OR coalesce((i.metadata::json ->> 'value'), '') ILIKE $2 ESCAPE '\\')"));
    }

    #[test]
    fn issue_kinds_compare_the_type_prefix() {
        let sqlite = compile(
            Dialect::Sqlite,
            "i.id",
            &search("!issue.category:performance"),
        );
        assert!(
            sqlite
                .sql
                .contains("AND NOT (substr(i.event_type, 1, 12) = ?2)"),
            "{}",
            sqlite.sql
        );
        let postgres = compile(Dialect::Postgres, "i.id", &search("issue.category:error"));
        assert!(postgres.sql.contains("AND (left(i.event_type, 12) <> $2)"));
        assert_eq!(postgres.params[1], Param::from("performance_"));
    }
}
