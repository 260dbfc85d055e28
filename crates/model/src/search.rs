//! Sentry's issue search syntax (`is:unresolved level:error !browser:Chrome "some text"`,
//! `times_seen:>10 firstSeen:-24h`, `(release:[a,b] OR url:*/checkout/*) error.handled:0`),
//! parsed into terms that each backend compiles to its own SQL.
//!
//! The grammar follows Sentry's `event_search`: terms side by side must all hold, `AND` binds
//! tighter than `OR`, parentheses group. A key Sentry gives a meaning Vigil cannot answer is
//! refused with its name rather than ignored, so a search never answers more than it asked for.
//! Any other `key:value` is a tag.

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
    /// `is:new`, `is:ongoing`, `is:regressed`, `is:escalating`: the unresolved issue's
    /// substatus.
    Substatus { substatus: String, negated: bool },
    /// `is:unhandled`, `error.unhandled:1`, `error.handled:0`: an event of the issue was not
    /// handled by the application.
    Unhandled { negated: bool },
    /// `level:error`: the issue's level.
    Level { value: String, negated: bool },
    /// `key:value` for any tag, `environment`, `release`, `user.email`, … matched against the
    /// issue's tag values (`environment` and `release` are tags too). `*` in the value is a
    /// wildcard (`\*` a star).
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
    /// and the issue's metadata value. `*` is a wildcard.
    Text(String),
    /// `message:`, `error.type:`, `error.value:`, `project:`, `firstRelease:`: one of the
    /// issue's own text fields.
    Field {
        field: TextField,
        value: String,
        negated: bool,
    },
    /// `times_seen:>10`, `user.count:<=5` (negation is folded into the comparison).
    Number {
        field: NumberField,
        op: Comparison,
        value: i64,
    },
    /// `firstSeen:-24h`, `age:+7d`, `lastSeen:>2026-01-01`, `event.timestamp:<…`.
    Date {
        field: DateField,
        op: Comparison,
        at: DateValue,
    },
    /// `id:<32 hex>`: the issue holds this event (lowercase hex, no dashes).
    EventId { id: String, negated: bool },
    /// `issue:SHOP-1A`: the issue of that short id (project slug, per-project number).
    ShortId {
        project: String,
        number: i64,
        negated: bool,
    },
    /// `assigned:me|none|<email>`, `is:assigned` (not `none`), `is:unassigned`: who the issue
    /// is assigned to.
    Assigned { who: Person, negated: bool },
    /// `bookmarks:me|<email>`, `is:bookmarked`: the user bookmarked the issue.
    Bookmarked { who: Person, negated: bool },
    /// `is:for_review`: unresolved, not marked reviewed, and unassigned or assigned to the
    /// searcher (Sentry's "For Review").
    ForReview { negated: bool },
    /// `a OR b`: any of the groups holds, each group being terms that must all hold.
    Any(Vec<Vec<SearchTerm>>),
}

/// Whom a triage term names: the searcher, nobody, or a member by email (Vigil's usernames
/// are emails).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Person {
    Me,
    Nobody,
    /// Lowercased as typed; the store compares it with the users' email keys.
    Email(String),
}

impl Person {
    fn parse(value: &str) -> Option<Person> {
        match value {
            "me" => Some(Person::Me),
            "none" => Some(Person::Nobody),
            email if email.contains('@') && !email.contains(char::is_whitespace) => {
                Some(Person::Email(email.to_lowercase()))
            }
            _ => None,
        }
    }
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

/// The issue's text fields a [`SearchTerm::Field`] matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TextField {
    /// `message:`: contains the value (or matches its wildcards) in title, culprit or message,
    /// whatever the case, as Sentry's message search.
    Message,
    /// `error.type:`: the issue's exception type (its metadata `type`).
    ErrorType,
    /// `error.value:`: the issue's exception value (its metadata `value`).
    ErrorValue,
    /// `project:`: the slug of the issue's project.
    Project,
    /// `firstRelease:`: the release the issue was first seen in.
    FirstRelease,
}

/// The issue's counters a [`SearchTerm::Number`] compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum NumberField {
    /// `times_seen:`: events of the issue.
    TimesSeen,
    /// `user.count:`: distinct users of the issue.
    UserCount,
}

/// The times a [`SearchTerm::Date`] compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum DateField {
    /// `firstSeen:`, `age:`.
    FirstSeen,
    /// `lastSeen:`.
    LastSeen,
    /// `event.timestamp:`, `timestamp:`: any event of the issue happened then.
    EventTimestamp,
}

/// How a number or time compares with the value given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Comparison {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
}

impl Comparison {
    /// The SQL operator.
    pub fn sql(self) -> &'static str {
        match self {
            Comparison::Eq => "=",
            Comparison::Ne => "<>",
            Comparison::Gt => ">",
            Comparison::Ge => ">=",
            Comparison::Lt => "<",
            Comparison::Le => "<=",
        }
    }

    /// The comparison that holds exactly where this one does not.
    pub fn negate(self) -> Comparison {
        match self {
            Comparison::Eq => Comparison::Ne,
            Comparison::Ne => Comparison::Eq,
            Comparison::Gt => Comparison::Le,
            Comparison::Ge => Comparison::Lt,
            Comparison::Lt => Comparison::Ge,
            Comparison::Le => Comparison::Gt,
        }
    }
}

/// A time in a search: absolute, or relative to when the search runs (so parsing stays
/// independent of the clock).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum DateValue {
    /// Unix seconds.
    At(i64),
    /// This many seconds before the search runs.
    Ago(i64),
}

impl DateValue {
    /// Unix seconds, given the time now.
    pub fn resolve(self, now: f64) -> f64 {
        match self {
            DateValue::At(secs) => secs as f64,
            DateValue::Ago(secs) => now - secs as f64,
        }
    }
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
    #[error("unterminated list in search (`key:[a, b]`)")]
    UnterminatedList,
    #[error("unbalanced parenthesis in search")]
    UnbalancedParenthesis,
    #[error("`{0}` needs a search term on each side")]
    DanglingOperator(&'static str),
    #[error("parentheses nested deeper than {MAX_DEPTH} in search")]
    TooDeep,
    #[error("empty parentheses in search")]
    EmptyGroup,
    #[error("a group in parentheses cannot be negated; negate its terms")]
    NegatedGroup,
    #[error("invalid value `{value}` for `{key}`: {expected}")]
    InvalidValue {
        key: String,
        value: String,
        expected: &'static str,
    },
    #[error("unsupported search key `{key}`: {reason}")]
    UnsupportedKey { key: String, reason: &'static str },
}

/// How deep parentheses may nest: the parser and the SQL compiler recurse per level.
pub const MAX_DEPTH: usize = 16;

/// Where comparisons apply, for the message refusing one elsewhere.
const COMPARABLE: &str =
    "comparisons apply to times_seen, user.count, age, firstSeen, lastSeen and event.timestamp";

/// Keys Sentry's issue search gives a meaning Vigil does not answer (yet): refused, never read
/// as tags that would match nothing.
const UNSUPPORTED_KEYS: &[(&str, &str)] = &[
    ("subscribed", "subscriptions are not searchable yet"),
    ("issue.seer_actionability", "Seer is not part of Vigil"),
    ("issue.seer_last_run", "Seer is not part of Vigil"),
    ("detector", "detectors are not part of Vigil"),
    (
        "regressed_in_release",
        "regressions are not tracked by release",
    ),
    ("release.stage", "release stages are not tracked"),
    (
        "release.version",
        "semantic release comparisons are not supported",
    ),
    (
        "release.package",
        "semantic release comparisons are not supported",
    ),
    (
        "release.build",
        "semantic release comparisons are not supported",
    ),
    (
        "transaction.duration",
        "applies to transactions, not issues",
    ),
    (
        "event.type",
        "issues are searched by issue.category / issue.type",
    ),
    ("issue.id", "open the issue by its id instead"),
    ("stack.filename", "stack frames are not indexed for search"),
    ("stack.function", "stack frames are not indexed for search"),
    ("stack.module", "stack frames are not indexed for search"),
    ("stack.abs_path", "stack frames are not indexed for search"),
    ("stack.package", "stack frames are not indexed for search"),
];

/// Key prefixes with a meaning outside issue search.
const UNSUPPORTED_PREFIXES: &[(&str, &str)] = &[
    ("measurements.", "applies to transactions, not issues"),
    ("span.", "applies to spans, not issues"),
    ("spans.", "applies to transactions, not issues"),
    ("transaction.", "applies to transactions, not issues"),
    ("profile.", "profiles are not part of Vigil"),
];

/// Parses Sentry's issue-search syntax.
///
/// Tokens are separated by whitespace; `"quoted text"` is one token; `key:"quoted value"` keeps
/// its spaces; `key:[a, "b c"]` is a list (any of them); a leading `!` negates a `key:value`.
/// `AND` / `OR` (upper case) join terms, `AND` binding tighter, and `( … )` groups. Free text
/// tokens of one group are joined with spaces into one `Text` term.
///
/// This is the syntax Discover shares; [`parse_issue_search`] also refuses what the issue list
/// cannot answer.
pub fn parse_search(input: &str) -> Result<SearchQuery, SearchError> {
    parse(input, false)
}

/// [`parse_search`] for the issue list: keys Sentry gives a meaning Vigil's issues cannot
/// answer (`assigned:`, `transaction.duration:`, `count():`, …) are refused by name instead of
/// being read as tags or text that would match nothing.
pub fn parse_issue_search(input: &str) -> Result<SearchQuery, SearchError> {
    parse(input, true)
}

fn parse(input: &str, issues: bool) -> Result<SearchQuery, SearchError> {
    let tokens = tokenize(input)?;
    let mut pos = 0;
    let terms = parse_any(&tokens, &mut pos, 0, issues)?;
    if pos < tokens.len() {
        return Err(SearchError::UnbalancedParenthesis);
    }
    Ok(SearchQuery { terms })
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Open,
    Close,
    Or,
    And,
    Word(String),
}

/// `group (OR group)*`: one group is its terms, more become one [`SearchTerm::Any`].
fn parse_any(
    tokens: &[Token],
    pos: &mut usize,
    depth: usize,
    issues: bool,
) -> Result<Vec<SearchTerm>, SearchError> {
    let mut groups = Vec::new();
    loop {
        let group = parse_all(tokens, pos, depth, issues)?;
        let or_follows = tokens.get(*pos) == Some(&Token::Or);
        if group.is_empty() && (or_follows || !groups.is_empty()) {
            return Err(SearchError::DanglingOperator("OR"));
        }
        groups.push(group);
        if !or_follows {
            break;
        }
        *pos += 1;
    }
    if groups.len() == 1 {
        Ok(groups.pop().unwrap_or_default())
    } else {
        Ok(vec![SearchTerm::Any(groups)])
    }
}

/// Terms side by side (or joined by `AND`) until `OR`, `)` or the end.
fn parse_all(
    tokens: &[Token],
    pos: &mut usize,
    depth: usize,
    issues: bool,
) -> Result<Vec<SearchTerm>, SearchError> {
    let mut terms = Vec::new();
    let mut text: Vec<String> = Vec::new();
    let flush = |terms: &mut Vec<SearchTerm>, text: &mut Vec<String>| {
        if !text.is_empty() {
            terms.push(SearchTerm::Text(text.join(" ")));
            text.clear();
        }
    };
    while let Some(token) = tokens.get(*pos) {
        match token {
            Token::Or => break,
            Token::Close if depth > 0 => break,
            Token::Close => return Err(SearchError::UnbalancedParenthesis),
            Token::And => {
                let next_is_term =
                    matches!(tokens.get(*pos + 1), Some(Token::Word(_) | Token::Open));
                if (terms.is_empty() && text.is_empty()) || !next_is_term {
                    return Err(SearchError::DanglingOperator("AND"));
                }
                flush(&mut terms, &mut text);
                *pos += 1;
            }
            Token::Open => {
                *pos += 1;
                let inner = parse_any(tokens, pos, depth + 1, issues)?;
                if tokens.get(*pos) != Some(&Token::Close) {
                    return Err(SearchError::UnbalancedParenthesis);
                }
                *pos += 1;
                if inner.is_empty() {
                    return Err(SearchError::EmptyGroup);
                }
                flush(&mut terms, &mut text);
                terms.extend(inner);
            }
            Token::Word(word) => {
                *pos += 1;
                match parse_word(word, issues)? {
                    Some(parsed) => terms.extend(parsed),
                    None => text.push(unquote(word)),
                }
            }
        }
    }
    flush(&mut terms, &mut text);
    Ok(terms)
}

/// The terms of one `key:value` word, or `None` for free text.
fn parse_word(token: &str, issues: bool) -> Result<Option<Vec<SearchTerm>>, SearchError> {
    let (negated, body) = match token.strip_prefix('!') {
        Some(rest) if rest.starts_with('(') => return Err(SearchError::NegatedGroup),
        Some(rest) if rest.contains(':') => (true, rest),
        _ => (false, token),
    };
    if let Some(function) = aggregate_key(body).filter(|_| issues) {
        return Err(SearchError::UnsupportedKey {
            key: function.to_owned(),
            reason: "aggregate functions apply to Discover, not the issue list",
        });
    }
    let Some((key, raw)) = split_key_value(body) else {
        return Ok(None);
    };
    let key = key
        .strip_prefix("tags[")
        .and_then(|k| k.strip_suffix(']'))
        .map(|tag| Key::Tag(tag.to_owned()))
        .unwrap_or_else(|| Key::Named(key.to_owned()));
    if let Some(list) = raw.strip_prefix('[') {
        let values = parse_list(key.name(), list)?;
        let mut each = Vec::with_capacity(values.len());
        for value in &values {
            each.push(term_for(&key, value, negated, issues)?);
        }
        // `key:[a,b]` is any of them; `!key:[a,b]` none of them.
        return Ok(Some(if negated || each.len() == 1 {
            each.concat()
        } else {
            vec![SearchTerm::Any(each)]
        }));
    }
    term_for(&key, &unquote(raw), negated, issues).map(Some)
}

/// A key as typed: `tags[name]` is always a tag, a plain name may be one of Sentry's fields.
enum Key {
    Tag(String),
    Named(String),
}

impl Key {
    fn name(&self) -> &str {
        match self {
            Key::Tag(name) | Key::Named(name) => name,
        }
    }
}

/// `count():>5`, `p95(transaction.duration):…`: the function, for refusing it.
fn aggregate_key(body: &str) -> Option<&str> {
    if body.starts_with('"') {
        return None;
    }
    let open = body.find('(')?;
    let name = &body[..open];
    let valid = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.'));
    let close = body[open..].find(')')? + open;
    (valid && body[close + 1..].starts_with(':')).then_some(&body[..=close])
}

/// The values of `[a, "b c", d]` (the text after `[`).
fn parse_list(key: &str, list: &str) -> Result<Vec<String>, SearchError> {
    let invalid = |expected| SearchError::InvalidValue {
        key: key.to_owned(),
        value: format!("[{list}"),
        expected,
    };
    let inner = list
        .strip_suffix(']')
        .ok_or(SearchError::UnterminatedList)?;
    let mut values = Vec::new();
    let mut current = String::new();
    let mut in_quotes = false;
    let mut chars = inner.chars();
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
            ',' if !in_quotes => values.push(std::mem::take(&mut current)),
            c => current.push(c),
        }
    }
    values.push(current);
    let values: Vec<String> = values.iter().map(|v| unquote(v.trim())).collect();
    if values.iter().any(String::is_empty) {
        return Err(invalid("a list of non-empty values, `[a, b]`"));
    }
    Ok(values)
}

/// The terms of `key:value` (one value, unquoted).
fn term_for(
    key: &Key,
    value: &str,
    negated: bool,
    issues: bool,
) -> Result<Vec<SearchTerm>, SearchError> {
    let name = match key {
        Key::Tag(tag) => return tag_term(tag, value, negated, issues),
        Key::Named(name) => name.as_str(),
    };
    let invalid = |expected| SearchError::InvalidValue {
        key: name.to_owned(),
        value: value.to_owned(),
        expected,
    };
    let one = |term| Ok(vec![term]);
    let field = |field| {
        Ok(vec![SearchTerm::Field {
            field,
            value: value.to_owned(),
            negated,
        }])
    };
    match name {
        "is" => status_term(value, negated).map(|t| vec![t]),
        "level" => one(SearchTerm::Level {
            value: value.to_owned(),
            negated,
        }),
        "has" => one(SearchTerm::Has {
            key: value
                .strip_prefix("tags[")
                .and_then(|k| k.strip_suffix(']'))
                .unwrap_or(value)
                .to_owned(),
            negated,
        }),
        "issue.category" | "issue.type" => {
            let kind = match value {
                "error" => IssueKind::Errors,
                "performance" if name == "issue.category" => IssueKind::Performance,
                other if other.starts_with(IssueKind::PERFORMANCE_PREFIX) => {
                    IssueKind::Type(other.to_owned())
                }
                other => return Err(SearchError::UnknownIssueKind(other.to_owned())),
            };
            one(SearchTerm::Kind { kind, negated })
        }
        "issue.priority" => {
            priority_terms(value, negated).ok_or_else(|| invalid("high, medium or low"))
        }
        "message" => field(TextField::Message),
        "error.type" => field(TextField::ErrorType),
        "error.value" => field(TextField::ErrorValue),
        "project" => field(TextField::Project),
        "firstRelease" | "first_release" => field(TextField::FirstRelease),
        "error.handled" | "error.unhandled" => {
            let flag = parse_bool(value).ok_or_else(|| invalid("true or false (1 or 0)"))?;
            // Unhandled holds for `error.unhandled:true` and `error.handled:false`.
            let unhandled = flag == (name == "error.unhandled");
            one(SearchTerm::Unhandled {
                negated: unhandled == negated,
            })
        }
        "error.mechanism" => tag_term("mechanism", value, negated, issues),
        "times_seen" | "timesSeen" => number_term(NumberField::TimesSeen, name, value, negated),
        "user.count" => number_term(NumberField::UserCount, name, value, negated),
        "age" | "firstSeen" | "first_seen" => {
            date_terms(DateField::FirstSeen, name, value, negated)
        }
        "lastSeen" | "last_seen" => date_terms(DateField::LastSeen, name, value, negated),
        "event.timestamp" | "timestamp" => {
            date_terms(DateField::EventTimestamp, name, value, negated)
        }
        "assigned" | "assigned_or_suggested" if issues => {
            let who =
                Person::parse(value).ok_or_else(|| invalid("me, none or a member's email"))?;
            one(SearchTerm::Assigned { who, negated })
        }
        "bookmarks" if issues => match Person::parse(value) {
            Some(Person::Nobody) | None => Err(invalid("me or a member's email")),
            Some(who) => one(SearchTerm::Bookmarked { who, negated }),
        },
        "id" | "event.id" => {
            let id = event_id(value).ok_or_else(|| invalid("an event id, 32 hex digits"))?;
            one(SearchTerm::EventId { id, negated })
        }
        "issue" => {
            let (project, number) =
                parse_short_id(value).ok_or_else(|| invalid("a short id such as SHOP-1A"))?;
            one(SearchTerm::ShortId {
                project,
                number,
                negated,
            })
        }
        _ => {
            if let Some((_, reason)) = UNSUPPORTED_KEYS
                .iter()
                .chain(UNSUPPORTED_PREFIXES)
                .filter(|_| issues)
                .find(|(k, _)| name == *k || (k.ends_with('.') && name.starts_with(k)))
            {
                return Err(SearchError::UnsupportedKey {
                    key: name.to_owned(),
                    reason,
                });
            }
            tag_term(name, value, negated, issues)
        }
    }
}

/// `issue.priority:high|medium|low`: the priority Vigil gives an issue by its level (fatal and
/// error high, warning medium, the rest low), as its `priority` field reads.
fn priority_terms(value: &str, negated: bool) -> Option<Vec<SearchTerm>> {
    const HIGH: &[&str] = &["fatal", "error"];
    const MEDIUM: &[&str] = &["warning"];
    let level = |value: &str, negated| SearchTerm::Level {
        value: value.to_owned(),
        negated,
    };
    // The levels the priority is, or (for low) is not.
    let (levels, is_not): (Vec<&str>, bool) = match value {
        "high" => (HIGH.to_vec(), false),
        "medium" => (MEDIUM.to_vec(), false),
        "low" => ([HIGH, MEDIUM].concat(), true),
        _ => return None,
    };
    Some(if is_not != negated {
        // None of the levels.
        levels.iter().map(|l| level(l, true)).collect()
    } else if levels.len() == 1 {
        vec![level(levels[0], false)]
    } else {
        vec![SearchTerm::Any(
            levels.iter().map(|l| vec![level(l, false)]).collect(),
        )]
    })
}

/// A tag term; `key:""` is "has no such tag". Comparisons are refused for issues (tags are
/// text); Discover, where some keys are numbers, reads them itself.
fn tag_term(
    key: &str,
    value: &str,
    negated: bool,
    issues: bool,
) -> Result<Vec<SearchTerm>, SearchError> {
    if value.is_empty() {
        return Ok(vec![SearchTerm::Has {
            key: key.to_owned(),
            negated: !negated,
        }]);
    }
    if issues && value.starts_with(['>', '<']) {
        return Err(SearchError::InvalidValue {
            key: key.to_owned(),
            value: value.to_owned(),
            expected: COMPARABLE,
        });
    }
    Ok(vec![SearchTerm::Tag {
        key: key.to_owned(),
        value: value.to_owned(),
        negated,
    }])
}

fn status_term(value: &str, negated: bool) -> Result<SearchTerm, SearchError> {
    Ok(match value {
        "unhandled" => SearchTerm::Unhandled { negated },
        "handled" => SearchTerm::Unhandled { negated: !negated },
        "unresolved" | "resolved" | "ignored" | "archived" | "muted" => {
            let status = crate::IssueStatus::parse(value)
                .ok_or_else(|| SearchError::UnknownStatus(value.to_owned()))?;
            SearchTerm::Status { status, negated }
        }
        "new" | "ongoing" | "regressed" | "escalating" => SearchTerm::Substatus {
            substatus: value.to_owned(),
            negated,
        },
        "assigned" => SearchTerm::Assigned {
            who: Person::Nobody,
            negated: !negated,
        },
        "unassigned" => SearchTerm::Assigned {
            who: Person::Nobody,
            negated,
        },
        "for_review" => SearchTerm::ForReview { negated },
        "bookmarked" => SearchTerm::Bookmarked {
            who: Person::Me,
            negated,
        },
        "subscribed" | "linked" | "unlinked" => {
            return Err(SearchError::UnsupportedKey {
                key: format!("is:{value}"),
                reason: "not tracked yet",
            })
        }
        other => return Err(SearchError::UnknownStatus(other.to_owned())),
    })
}

/// `true`/`false`, `1`/`0`, as Sentry's boolean filters take them.
fn parse_bool(value: &str) -> Option<bool> {
    match value.to_ascii_lowercase().as_str() {
        "true" | "1" => Some(true),
        "false" | "0" => Some(false),
        _ => None,
    }
}

/// `>=`, `<=`, `>`, `<` or none (equal) before a value.
fn split_comparison(value: &str) -> (Comparison, &str) {
    for (prefix, op) in [
        (">=", Comparison::Ge),
        ("<=", Comparison::Le),
        (">", Comparison::Gt),
        ("<", Comparison::Lt),
    ] {
        if let Some(rest) = value.strip_prefix(prefix) {
            return (op, rest);
        }
    }
    (Comparison::Eq, value)
}

/// `times_seen:>10`, `user.count:1k` (Sentry's `k`, `m`, `b` multipliers).
fn number_term(
    field: NumberField,
    key: &str,
    value: &str,
    negated: bool,
) -> Result<Vec<SearchTerm>, SearchError> {
    let (op, number) = split_comparison(value);
    let number = parse_count(number).ok_or_else(|| SearchError::InvalidValue {
        key: key.to_owned(),
        value: value.to_owned(),
        expected: "a whole number, optionally after >, >=, < or <= (`>10`, `1k`)",
    })?;
    let op = if negated { op.negate() } else { op };
    Ok(vec![SearchTerm::Number {
        field,
        op,
        value: number,
    }])
}

fn parse_count(text: &str) -> Option<i64> {
    let (digits, multiplier) = match text.char_indices().last()? {
        (i, 'k' | 'K') => (&text[..i], 1e3),
        (i, 'm' | 'M') => (&text[..i], 1e6),
        (i, 'b' | 'B') => (&text[..i], 1e9),
        _ => (text, 1.0),
    };
    if digits.is_empty()
        || !digits
            .chars()
            .all(|c| c.is_ascii_digit() || c == '.' || c == '-')
    {
        return None;
    }
    let n = digits.parse::<f64>().ok()? * multiplier;
    (n.is_finite() && n.fract() == 0.0 && n.abs() < 9e15).then_some(n as i64)
}

/// Seconds of a relative time unit (Sentry's `w`, `d`, `h`, `m`).
fn unit_secs(unit: char) -> Option<i64> {
    match unit {
        'w' => Some(7 * 86_400),
        'd' => Some(86_400),
        'h' => Some(3_600),
        'm' => Some(60),
        _ => None,
    }
}

/// `-24h` (within the last 24 hours), `+7d` (older than 7 days), `>2026-01-01`,
/// `<=2026-01-01T10:00:00Z`, or a date alone (that day) or a time alone (5 minutes either
/// side, as Sentry reads one).
fn date_terms(
    field: DateField,
    key: &str,
    value: &str,
    negated: bool,
) -> Result<Vec<SearchTerm>, SearchError> {
    let invalid = || SearchError::InvalidValue {
        key: key.to_owned(),
        value: value.to_owned(),
        expected: "a relative time (-24h, +7d; units w, d, h, m) or a date \
                   (2026-01-01, >2026-01-01T10:00:00Z)",
    };
    let bound = |op: Comparison, at| SearchTerm::Date {
        field,
        op: if negated { op.negate() } else { op },
        at,
    };
    if let Some(sign @ ('-' | '+')) = value.chars().next() {
        let unit = value.chars().last().ok_or_else(invalid)?;
        // The unit is ASCII once known, and so is the sign: slicing between them is safe.
        let secs = unit_secs(unit).ok_or_else(invalid)?;
        let amount = value.get(1..value.len() - 1).ok_or_else(invalid)?;
        if amount.is_empty() || !amount.chars().all(|c| c.is_ascii_digit()) {
            return Err(invalid());
        }
        let ago = amount
            .parse::<i64>()
            .ok()
            .and_then(|n| n.checked_mul(secs))
            .filter(|s| *s < 1_000 * 366 * 86_400)
            .ok_or_else(invalid)?;
        let op = if sign == '-' {
            Comparison::Ge
        } else {
            Comparison::Le
        };
        return Ok(vec![bound(op, DateValue::Ago(ago))]);
    }
    let (op, text) = split_comparison(value);
    let (at, has_time) = parse_datetime(text).ok_or_else(invalid)?;
    if op != Comparison::Eq {
        return Ok(vec![bound(op, DateValue::At(at))]);
    }
    let (start, end) = if has_time {
        (at - 300, at + 300)
    } else {
        (at, at + 86_400)
    };
    let (from, to) = (DateValue::At(start), DateValue::At(end));
    Ok(if negated {
        vec![SearchTerm::Any(vec![
            vec![SearchTerm::Date {
                field,
                op: Comparison::Lt,
                at: from,
            }],
            vec![SearchTerm::Date {
                field,
                op: Comparison::Ge,
                at: to,
            }],
        ])]
    } else {
        vec![
            SearchTerm::Date {
                field,
                op: Comparison::Ge,
                at: from,
            },
            SearchTerm::Date {
                field,
                op: Comparison::Lt,
                at: to,
            },
        ]
    })
}

/// `YYYY-MM-DD`, optionally `THH:MM[:SS[.fff]]` and `Z` or `±HH:MM` (UTC without one): Unix
/// seconds, and whether a time was given.
fn parse_datetime(text: &str) -> Option<(i64, bool)> {
    let digits = |s: &str| -> Option<i64> {
        (!s.is_empty() && s.chars().all(|c| c.is_ascii_digit()))
            .then(|| s.parse().ok())
            .flatten()
    };
    let (date, rest) = match text.find(['T', ' ']) {
        Some(i) => (&text[..i], Some(&text[i + 1..])),
        None => (text, None),
    };
    let mut parts = date.splitn(3, '-');
    let (y, m, d) = (
        digits(parts.next()?)?,
        digits(parts.next()?)?,
        digits(parts.next()?)?,
    );
    if date.len() != 10 || !(1..=12).contains(&m) || !(1..=days_in_month(y, m)).contains(&d) {
        return None;
    }
    let mut secs = days_from_civil(y, m, d) * 86_400;
    let Some(rest) = rest else {
        return Some((secs, false));
    };
    let (time, offset) = if let Some(time) = rest.strip_suffix(['Z', 'z']) {
        (time, 0)
    } else if let Some(i) = rest.rfind(['+', '-']) {
        let (sign, zone) = (&rest[i..i + 1], &rest[i + 1..]);
        let (h, m) = zone.split_once(':').unwrap_or((zone, "00"));
        let (h, m) = (digits(h)?, digits(m)?);
        if h > 23 || m > 59 {
            return None;
        }
        let offset = h * 3600 + m * 60;
        (&rest[..i], if sign == "+" { offset } else { -offset })
    } else {
        (rest, 0)
    };
    let time = time
        .split_once('.')
        .map(|(t, frac)| digits(frac).map(|_| t))
        .unwrap_or(Some(time))?;
    let mut fields = time.split(':');
    let h = digits(fields.next()?)?;
    let min = digits(fields.next()?)?;
    let s = fields.next().map(digits).unwrap_or(Some(0))?;
    if fields.next().is_some() || h > 23 || min > 59 || s > 60 {
        return None;
    }
    secs += h * 3600 + min * 60 + s - offset;
    Some((secs, true))
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// An event id as stored: 32 lowercase hex digits (a UUID's dashes dropped).
pub fn event_id(text: &str) -> Option<String> {
    let hex: String = if text.len() == 36 {
        let dashes = [8, 13, 18, 23];
        if !dashes.iter().all(|&i| text.as_bytes()[i] == b'-') {
            return None;
        }
        text.chars().filter(|c| *c != '-').collect()
    } else {
        text.to_owned()
    };
    (hex.len() == 32 && hex.chars().all(|c| c.is_ascii_hexdigit()))
        .then(|| hex.to_ascii_lowercase())
}

/// `SHOP-1A` → (`shop`, 42): [`crate::parse_short_id`], the one reading of short ids.
pub fn parse_short_id(text: &str) -> Option<(String, i64)> {
    crate::parse_short_id(text)
}

/// `key:value` where key is a plain identifier (letters, digits, `._-`) or `tags[name]`; URLs
/// such as `http://x` in free text are not keys because `//` follows the colon.
fn split_key_value(token: &str) -> Option<(&str, &str)> {
    let (key, value) = if token.starts_with("tags[") {
        let close = token.find("]:")?;
        (&token[..=close], &token[close + 2..])
    } else {
        token.split_once(':')?
    };
    let name = key
        .strip_prefix("tags[")
        .and_then(|k| k.strip_suffix(']'))
        .unwrap_or(key);
    let key_ok = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | ':' | '@'))
        && (name.len() != key.len() || !name.contains([':', '@']));
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

/// Splits the input into words, `(`, `)`, `OR` and `AND`. A `(` opens a group at the start of
/// a word; a `)` closing one ends a word (a `)` with no group open is text).
fn tokenize(input: &str) -> Result<Vec<Token>, SearchError> {
    let mut tokens = Vec::new();
    let mut depth = 0usize;
    let mut chars = input.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        match chars.peek() {
            None => break,
            Some('(') => {
                chars.next();
                depth += 1;
                if depth > MAX_DEPTH {
                    return Err(SearchError::TooDeep);
                }
                tokens.push(Token::Open);
                continue;
            }
            Some(')') if depth > 0 => {
                chars.next();
                depth -= 1;
                tokens.push(Token::Close);
                continue;
            }
            _ => {}
        }
        let mut word = String::new();
        let mut in_quotes = false;
        let mut in_list = false;
        // Parentheses opened inside this word (`foo(bar)`), which its own `)` close.
        let mut own_parens = 0usize;
        while let Some(&c) = chars.peek() {
            if !in_quotes && !in_list {
                if c.is_whitespace() {
                    break;
                }
                if c == ')' && own_parens == 0 && depth > 0 {
                    break;
                }
            }
            chars.next();
            match c {
                '\\' if in_quotes => {
                    word.push(c);
                    if let Some(next) = chars.next() {
                        word.push(next);
                    }
                    continue;
                }
                '"' => in_quotes = !in_quotes,
                '[' if !in_quotes && !in_list && word.ends_with(':') => in_list = true,
                ']' if !in_quotes && in_list => in_list = false,
                '(' if !in_quotes && !in_list => own_parens += 1,
                ')' if !in_quotes && !in_list => own_parens = own_parens.saturating_sub(1),
                _ => {}
            }
            word.push(c);
        }
        if in_quotes {
            return Err(SearchError::UnterminatedQuote);
        }
        if in_list {
            return Err(SearchError::UnterminatedList);
        }
        tokens.push(match word.as_str() {
            "OR" => Token::Or,
            "AND" => Token::And,
            _ => Token::Word(word),
        });
    }
    if depth > 0 {
        return Err(SearchError::UnbalancedParenthesis);
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

    fn terms(text: &str) -> Vec<SearchTerm> {
        parse_search(text).expect("valid search").terms
    }

    fn tag(key: &str, value: &str, negated: bool) -> SearchTerm {
        SearchTerm::Tag {
            key: key.into(),
            value: value.into(),
            negated,
        }
    }

    #[test]
    fn and_binds_tighter_than_or_and_parentheses_group() {
        assert_eq!(
            terms("a:1 OR b:2 c:3"),
            vec![SearchTerm::Any(vec![
                vec![tag("a", "1", false)],
                vec![tag("b", "2", false), tag("c", "3", false)],
            ])]
        );
        assert_eq!(
            terms("(a:1 OR b:2) AND c:3"),
            vec![
                SearchTerm::Any(vec![vec![tag("a", "1", false)], vec![tag("b", "2", false)]]),
                tag("c", "3", false),
            ]
        );
        assert_eq!(terms("(a:1)"), vec![tag("a", "1", false)]);
        assert_eq!(
            terms("timeout OR refused"),
            vec![SearchTerm::Any(vec![
                vec![SearchTerm::Text("timeout".into())],
                vec![SearchTerm::Text("refused".into())],
            ])]
        );
        assert!(parse_search(&"(".repeat(17)).is_err());
        assert!(parse_search(&format!("{}a{}", "(".repeat(16), ")".repeat(16))).is_ok());
        for bad in [
            "a:1 OR",
            "OR a:1",
            "a:1 AND",
            "(a:1",
            "a:1 OR ()",
            "!(a:1)",
            "a:1 AND OR b:2",
        ] {
            assert!(parse_search(bad).is_err(), "{bad}");
        }
        // A `)` with no group open, and a function call inside a word, are text.
        assert_eq!(terms("ok :)"), vec![SearchTerm::Text("ok :)".into())]);
        assert_eq!(terms("(f(x))"), vec![SearchTerm::Text("f(x)".into())]);
    }

    #[test]
    fn lists_are_any_of_and_negated_lists_none_of() {
        assert_eq!(
            terms(r#"release:[a, "b c"]"#),
            vec![SearchTerm::Any(vec![
                vec![tag("release", "a", false)],
                vec![tag("release", "b c", false)],
            ])]
        );
        assert_eq!(
            terms("!release:[a,b]"),
            vec![tag("release", "a", true), tag("release", "b", true)]
        );
        assert_eq!(terms("tags[foo]:[x]"), vec![tag("foo", "x", false)]);
        assert!(parse_search("release:[a,").is_err());
        assert!(parse_search("release:[a,,b]").is_err());
    }

    #[test]
    fn comparisons_and_relative_times() {
        assert_eq!(
            terms("times_seen:>10 !user.count:>=1k"),
            vec![
                SearchTerm::Number {
                    field: NumberField::TimesSeen,
                    op: Comparison::Gt,
                    value: 10
                },
                SearchTerm::Number {
                    field: NumberField::UserCount,
                    op: Comparison::Lt,
                    value: 1000
                },
            ]
        );
        assert_eq!(
            terms("age:-24h lastSeen:+7d"),
            vec![
                SearchTerm::Date {
                    field: DateField::FirstSeen,
                    op: Comparison::Ge,
                    at: DateValue::Ago(86_400)
                },
                SearchTerm::Date {
                    field: DateField::LastSeen,
                    op: Comparison::Le,
                    at: DateValue::Ago(7 * 86_400)
                },
            ]
        );
        assert_eq!(
            terms("firstSeen:>2026-01-01 event.timestamp:<2026-01-02T10:30:00+02:00"),
            vec![
                SearchTerm::Date {
                    field: DateField::FirstSeen,
                    op: Comparison::Gt,
                    at: DateValue::At(1_767_225_600)
                },
                SearchTerm::Date {
                    field: DateField::EventTimestamp,
                    op: Comparison::Lt,
                    at: DateValue::At(1_767_225_600 + 86_400 + 8 * 3600 + 1800)
                },
            ]
        );
        // A day alone is that day; negated, any time outside it.
        assert_eq!(terms("firstSeen:2026-01-01").len(), 2);
        assert!(
            matches!(&terms("!firstSeen:2026-01-01")[..], [SearchTerm::Any(groups)] if groups.len() == 2)
        );
        for bad in [
            "times_seen:lots",
            "times_seen:1.5",
            "age:-24x",
            "age:-",
            "age:24h",
            "firstSeen:2026-02-30",
            "firstSeen:>2026-01-01T25:00",
            "browser:>5",
        ] {
            let err = parse_issue_search(bad).expect_err(bad);
            let key = bad.split(':').next().unwrap_or_default();
            assert!(err.to_string().contains(key), "{bad}: {err}");
        }
    }

    #[test]
    fn error_fields_ids_and_refused_keys() {
        assert_eq!(
            terms("error.handled:0 !error.unhandled:true is:handled"),
            vec![
                SearchTerm::Unhandled { negated: false },
                SearchTerm::Unhandled { negated: true },
                SearchTerm::Unhandled { negated: true },
            ]
        );
        assert_eq!(
            terms("error.type:ValueError !message:*timeout*"),
            vec![
                SearchTerm::Field {
                    field: TextField::ErrorType,
                    value: "ValueError".into(),
                    negated: false
                },
                SearchTerm::Field {
                    field: TextField::Message,
                    value: "*timeout*".into(),
                    negated: true
                },
            ]
        );
        assert_eq!(
            terms("id:B734577D-50FD-48EA-9070-B488E32BDBF7 issue:my-shop-1a"),
            vec![
                SearchTerm::EventId {
                    id: "b734577d50fd48ea9070b488e32bdbf7".into(),
                    negated: false
                },
                SearchTerm::ShortId {
                    project: "my-shop".into(),
                    number: 42,
                    negated: false
                },
            ]
        );
        assert_eq!(
            terms(r#"browser:"""#),
            vec![SearchTerm::Has {
                key: "browser".into(),
                negated: true
            }]
        );
        for (bad, key) in [
            ("assigned:my_teams", "assigned"),
            ("bookmarks:none", "bookmarks"),
            ("is:linked", "is:linked"),
            ("count():>5", "count()"),
            ("transaction.duration:>1s", "transaction.duration"),
            ("measurements.lcp:>1", "measurements.lcp"),
            ("error.handled:maybe", "error.handled"),
            ("id:xyz", "id"),
        ] {
            let err = parse_issue_search(bad).expect_err(bad);
            assert!(
                err.to_string().contains(&format!("`{key}`")),
                "{bad}: {err}"
            );
        }
        // Discover shares the syntax: there they are tags (and text) of events.
        assert!(parse_search("transaction.duration:300 event.type:error count():>5").is_ok());
    }

    #[test]
    fn priority_is_read_from_the_level() {
        let level = |value: &str, negated| SearchTerm::Level {
            value: value.into(),
            negated,
        };
        assert_eq!(
            terms("issue.priority:medium"),
            vec![level("warning", false)]
        );
        assert_eq!(
            terms("!issue.priority:high"),
            vec![level("fatal", true), level("error", true)]
        );
        assert_eq!(terms("issue.priority:low").len(), 3);
        assert_eq!(
            terms("issue.priority:[high, medium]"),
            vec![SearchTerm::Any(vec![
                vec![SearchTerm::Any(vec![
                    vec![level("fatal", false)],
                    vec![level("error", false)]
                ])],
                vec![level("warning", false)],
            ])]
        );
        assert!(parse_search("issue.priority:urgent").is_err());
    }

    #[test]
    fn short_ids_read_back_what_projects_write() {
        let project = crate::Project {
            id: 1,
            organization_id: 1,
            slug: "shop".into(),
            name: "Shop".into(),
            platform: None,
            date_created: 0.0,
        };
        for n in [1, 31, 32, 1000, 123_456_789] {
            assert_eq!(
                parse_short_id(&project.short_id(n)),
                Some(("shop".into(), n))
            );
        }
        assert_eq!(parse_short_id("SHOP-0"), None);
        assert_eq!(parse_short_id("123-4"), None);
        assert_eq!(parse_short_id("SHOP-1U"), None);
    }

    /// Random text over the grammar's own characters parses or is refused, never panics, and
    /// the issue list's reading accepts only what the shared one does (as the fuzz target).
    #[test]
    fn grammar_soup_never_panics() {
        const PIECES: &[&str] = &[
            "(",
            ")",
            "[",
            "]",
            "\"",
            "!",
            ":",
            "*",
            "<",
            ">=",
            "-",
            "+",
            " OR ",
            " AND ",
            ",",
            "\\",
            " ",
            "a",
            "1",
            "24h",
            "is",
            "times_seen",
            "age",
            "release",
            "tags[x]",
            "issue",
            "id",
            "2026-01-01",
            "T10:00",
            "Z",
            "é",
            "count()",
            "-1A",
        ];
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut lengths = 0;
        for _ in 0..20_000 {
            let mut text = String::new();
            for _ in 0..(1 + next() % 12) {
                text.push_str(PIECES[(next() % PIECES.len() as u64) as usize]);
            }
            lengths += text.len();
            let shared = parse_search(&text);
            let issues = parse_issue_search(&text);
            assert!(shared.is_ok() || issues.is_err(), "{text:?}");
            if let Ok(issues) = issues {
                assert_eq!(Ok(issues), shared, "{text:?}");
            }
        }
        assert!(lengths > 100_000, "the soup is not empty");
    }
}
