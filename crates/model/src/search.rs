//! Sentry's issue search syntax (`is:unresolved level:error !browser:Chrome "some text"`),
//! parsed into terms that each backend compiles to its own SQL.

use serde::{Deserialize, Serialize};

/// One term of a search.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum SearchTerm {
    /// `is:unresolved`, `is:resolved`, `is:ignored` (`is:archived`, `is:muted` alias ignored);
    /// negated with `!is:`.
    Status {
        status: crate::IssueStatus,
        negated: bool,
    },
    /// `is:unhandled` / `!is:unhandled`... kept for Sentry parity.
    Unhandled { negated: bool },
    /// `level:error`: the issue's level.
    Level { value: String, negated: bool },
    /// `key:value` for any tag, `environment`, `release`, `user.email`, … matched against the
    /// issue's tag values (`environment` and `release` are tags too).
    Tag {
        key: String,
        value: String,
        negated: bool,
    },
    /// `has:key` / `!has:key`.
    Has { key: String, negated: bool },
    /// `issue.category:error|performance`, `issue.type:performance_n_plus_one_db_queries`
    /// (`issue.type:error` is the error category): what kind of problem the issue is.
    Kind { kind: IssueKind, negated: bool },
    /// Words not of the `key:value` form; matched case-insensitively against title, culprit
    /// and the issue's metadata value.
    Text(String),
}

/// The kinds of issue `issue.category:` and `issue.type:` select.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum IssueKind {
    /// Issues made by error (and message) events.
    Errors,
    /// Performance issues: N+1 queries, slow queries, …
    Performance,
    /// One performance issue type, e.g. `performance_slow_db_query`.
    Type(String),
}

impl IssueKind {
    /// The event type prefix every performance issue's type has.
    pub const PERFORMANCE_PREFIX: &'static str = "performance_";
}

/// A parsed search: all terms must hold.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SearchQuery {
    pub terms: Vec<SearchTerm>,
}

/// Why a search could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SearchError {
    #[error("unknown status in `is:{0}`")]
    UnknownStatus(String),
    #[error("unknown issue category or type `{0}` (error, performance, performance_…)")]
    UnknownIssueKind(String),
    #[error("unterminated quote in search")]
    UnterminatedQuote,
}

/// Parses Sentry's issue-search syntax.
///
/// Tokens are separated by whitespace; `"quoted text"` is one token; `key:"quoted value"` keeps
/// its spaces; a leading `!` negates a `key:value`. Free text tokens are joined with spaces into
/// one `Text` term. `is:unassigned`, `is:for_review` and other states Vigil does not track yet
/// are ignored rather than rejected, so Sentry's saved searches keep working.
pub fn parse_search(input: &str) -> Result<SearchQuery, SearchError> {
    let mut terms = Vec::new();
    let mut text: Vec<String> = Vec::new();
    for token in tokenize(input)? {
        let (negated, body) = match token.strip_prefix('!') {
            Some(rest) if rest.contains(':') => (true, rest.to_string()),
            _ => (false, token.clone()),
        };
        let Some((key, value)) = split_key_value(&body) else {
            text.push(unquote(&token));
            continue;
        };
        let value = unquote(value);
        match key {
            "is" => match value.as_str() {
                "unhandled" => terms.push(SearchTerm::Unhandled { negated }),
                "handled" => terms.push(SearchTerm::Unhandled { negated: !negated }),
                "unresolved" | "resolved" | "ignored" | "archived" | "muted" => {
                    let status = crate::IssueStatus::parse(&value)
                        .ok_or_else(|| SearchError::UnknownStatus(value.clone()))?;
                    terms.push(SearchTerm::Status { status, negated });
                }
                "assigned" | "unassigned" | "for_review" | "linked" | "unlinked" | "bookmarked"
                | "new" | "ongoing" | "regressed" | "escalating" => {}
                other => return Err(SearchError::UnknownStatus(other.to_string())),
            },
            "level" => terms.push(SearchTerm::Level { value, negated }),
            "has" => terms.push(SearchTerm::Has {
                key: value,
                negated,
            }),
            "issue.category" | "issue.type" => {
                let kind = match value.as_str() {
                    "error" => IssueKind::Errors,
                    "performance" if key == "issue.category" => IssueKind::Performance,
                    other if other.starts_with(IssueKind::PERFORMANCE_PREFIX) => {
                        IssueKind::Type(other.to_owned())
                    }
                    other => return Err(SearchError::UnknownIssueKind(other.to_owned())),
                };
                terms.push(SearchTerm::Kind { kind, negated });
            }
            _ => terms.push(SearchTerm::Tag {
                key: key.to_string(),
                value,
                negated,
            }),
        }
    }
    if !text.is_empty() {
        terms.push(SearchTerm::Text(text.join(" ")));
    }
    Ok(SearchQuery { terms })
}

/// `key:value` where key is a plain identifier (letters, digits, `._-`); URLs such as
/// `http://x` in free text are not keys because `//` follows the colon.
fn split_key_value(token: &str) -> Option<(&str, &str)> {
    let (key, value) = token.split_once(':')?;
    let key_ok = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if !key_ok || value.is_empty() || value.starts_with("//") {
        return None;
    }
    Some((key, value))
}

fn unquote(s: &str) -> String {
    if s.len() >= 2 && s.starts_with('"') && s.ends_with('"') {
        s[1..s.len() - 1].replace("\\\"", "\"")
    } else {
        s.to_string()
    }
}

fn tokenize(input: &str) -> Result<Vec<String>, SearchError> {
    let mut tokens = Vec::new();
    let mut current = String::new();
    let mut in_quotes = false;
    let mut chars = input.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if in_quotes => {
                current.push(c);
                if let Some(next) = chars.next() {
                    current.push(next);
                }
            }
            '"' => {
                in_quotes = !in_quotes;
                current.push(c);
            }
            c if c.is_whitespace() && !in_quotes => {
                if !current.is_empty() {
                    tokens.push(std::mem::take(&mut current));
                }
            }
            c => current.push(c),
        }
    }
    if in_quotes {
        return Err(SearchError::UnterminatedQuote);
    }
    if !current.is_empty() {
        tokens.push(current);
    }
    Ok(tokens)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::IssueStatus;

    #[test]
    fn parses_issue_category_and_type() {
        let parsed = parse_search(
            "issue.category:performance !issue.type:performance_slow_db_query issue.type:error",
        )
        .expect("parses");
        assert_eq!(
            parsed.terms,
            vec![
                SearchTerm::Kind {
                    kind: IssueKind::Performance,
                    negated: false
                },
                SearchTerm::Kind {
                    kind: IssueKind::Type("performance_slow_db_query".into()),
                    negated: true
                },
                SearchTerm::Kind {
                    kind: IssueKind::Errors,
                    negated: false
                },
            ]
        );
        assert!(parse_search("issue.category:feedback").is_err());
    }

    #[test]
    fn parses_status_level_tags_and_text() {
        let q = parse_search(
            r#"is:unresolved level:error !browser:Chrome division by zero environment:"prod eu""#,
        )
        .expect("valid search");
        assert_eq!(
            q.terms,
            vec![
                SearchTerm::Status {
                    status: IssueStatus::Unresolved,
                    negated: false
                },
                SearchTerm::Level {
                    value: "error".into(),
                    negated: false
                },
                SearchTerm::Tag {
                    key: "browser".into(),
                    value: "Chrome".into(),
                    negated: true
                },
                SearchTerm::Tag {
                    key: "environment".into(),
                    value: "prod eu".into(),
                    negated: false
                },
                SearchTerm::Text("division by zero".into()),
            ]
        );
    }

    #[test]
    fn url_in_free_text_is_not_a_key() {
        let q = parse_search("http://example.com/x").expect("valid");
        assert_eq!(
            q.terms,
            vec![SearchTerm::Text("http://example.com/x".into())]
        );
    }

    #[test]
    fn unknown_status_is_an_error() {
        assert!(parse_search("is:sleeping").is_err());
        assert!(parse_search("\"open").is_err());
    }
}
