//! Discover's `field=` strings (`transaction`, `p95()`, `count_unique(user)`, …): which ones
//! Vigil answers for transactions, their meta types and units, and their values.

use serde_json::{json, Value};
use vigil_store::{Project, StoredTransaction, TransactionAggregate};

use crate::serialize::iso;

/// A column of one transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Column {
    Transaction,
    /// The project's slug.
    Project,
    ProjectId,
    /// The event id.
    Id,
    /// When the transaction ended, as Sentry's `timestamp` of a transaction is.
    Timestamp,
    Duration,
    Op,
    Status,
    Trace,
    Release,
    Environment,
    User,
}

/// An aggregate over a group of transactions.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Aggregate {
    Count,
    CountUniqueUser,
    /// `p50()`…`p99()`: the percentile (50, 75, 95, 99).
    Percentile(u8),
    Avg,
    Max,
    FailureRate,
    FailureCount,
    /// `apdex()`, or `apdex(N)` with N the threshold it was asked with.
    Apdex(Option<f64>),
    /// Transactions per minute (`tpm()`, and `epm()` which is the same for transactions).
    PerMinute,
    PerSecond,
}

/// One `field=` value, parsed; `name` is the string as given, the key of its value in rows.
#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    pub name: String,
    pub kind: FieldKind,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FieldKind {
    Column(Column),
    Aggregate(Aggregate),
}

impl Field {
    /// Parses a `field=` string; the error says what is not supported.
    pub fn parse(name: &str) -> Result<Field, String> {
        let trimmed = name.trim();
        let kind = match trimmed {
            "transaction" => FieldKind::Column(Column::Transaction),
            "project" | "project.name" => FieldKind::Column(Column::Project),
            "project.id" | "project_id" => FieldKind::Column(Column::ProjectId),
            "id" => FieldKind::Column(Column::Id),
            "timestamp" => FieldKind::Column(Column::Timestamp),
            "transaction.duration" => FieldKind::Column(Column::Duration),
            "transaction.op" => FieldKind::Column(Column::Op),
            "transaction.status" => FieldKind::Column(Column::Status),
            "trace" => FieldKind::Column(Column::Trace),
            "release" => FieldKind::Column(Column::Release),
            "environment" => FieldKind::Column(Column::Environment),
            "user" => FieldKind::Column(Column::User),
            _ => FieldKind::Aggregate(parse_aggregate(trimmed)?),
        };
        Ok(Field {
            name: name.to_string(),
            kind,
        })
    }

    pub fn is_aggregate(&self) -> bool {
        matches!(self.kind, FieldKind::Aggregate(_))
    }

    /// Sentry's meta type of the field's values.
    pub fn meta_type(&self) -> &'static str {
        match self.kind {
            FieldKind::Column(Column::ProjectId) => "integer",
            FieldKind::Column(Column::Timestamp) => "date",
            FieldKind::Column(Column::Duration) => "duration",
            FieldKind::Column(_) => "string",
            FieldKind::Aggregate(a) => match a {
                Aggregate::Count | Aggregate::CountUniqueUser | Aggregate::FailureCount => {
                    "integer"
                }
                Aggregate::Percentile(_) | Aggregate::Avg | Aggregate::Max => "duration",
                Aggregate::FailureRate => "percentage",
                Aggregate::Apdex(_) => "number",
                Aggregate::PerMinute | Aggregate::PerSecond => "rate",
            },
        }
    }

    /// Sentry's meta unit: durations in milliseconds, rates per minute or second.
    pub fn unit(&self) -> Option<&'static str> {
        match self.meta_type() {
            "duration" => Some("millisecond"),
            "rate" if matches!(self.kind, FieldKind::Aggregate(Aggregate::PerSecond)) => {
                Some("1/second")
            }
            "rate" => Some("1/minute"),
            _ => None,
        }
    }
}

/// `count()`, `p95()`, `p95(transaction.duration)`, `apdex(300)`, …
fn parse_aggregate(name: &str) -> Result<Aggregate, String> {
    let unknown = || format!("Unknown field: {name}");
    let (function, argument) = name
        .strip_suffix(')')
        .and_then(|rest| rest.split_once('('))
        .ok_or_else(unknown)?;
    let argument = argument.trim();
    let duration_or_empty = matches!(argument, "" | "transaction.duration");
    let aggregate = match function {
        "count" if matches!(argument, "" | "id") => Aggregate::Count,
        "count_unique" if argument == "user" => Aggregate::CountUniqueUser,
        "p50" if duration_or_empty => Aggregate::Percentile(50),
        "p75" if duration_or_empty => Aggregate::Percentile(75),
        "p95" if duration_or_empty => Aggregate::Percentile(95),
        "p99" if duration_or_empty => Aggregate::Percentile(99),
        "avg" if argument == "transaction.duration" => Aggregate::Avg,
        "max" if argument == "transaction.duration" => Aggregate::Max,
        "failure_rate" if argument.is_empty() => Aggregate::FailureRate,
        "failure_count" if argument.is_empty() => Aggregate::FailureCount,
        "apdex" if argument.is_empty() => Aggregate::Apdex(None),
        "apdex" => Aggregate::Apdex(Some(
            argument
                .parse::<f64>()
                .ok()
                .filter(|t| t.is_finite() && *t > 0.0)
                .ok_or_else(|| format!("apdex threshold must be a positive number: {name}"))?,
        )),
        "tpm" | "epm" if argument.is_empty() => Aggregate::PerMinute,
        "tps" | "eps" if argument.is_empty() => Aggregate::PerSecond,
        _ => return Err(unknown()),
    };
    Ok(aggregate)
}

/// A column's value for one transaction.
pub fn column_value(column: Column, transaction: &StoredTransaction, project: &Project) -> Value {
    let optional = |v: &Option<String>| v.clone().map(Value::String).unwrap_or(Value::Null);
    match column {
        Column::Transaction => json!(transaction.name),
        Column::Project => json!(project.slug),
        Column::ProjectId => json!(transaction.project_id),
        Column::Id => json!(transaction.event_id),
        Column::Timestamp => json!(iso(transaction.start + transaction.duration_ms / 1000.0)),
        Column::Duration => json!(transaction.duration_ms),
        Column::Op => json!(transaction.op),
        Column::Status => json!(transaction.status),
        Column::Trace => json!(transaction.trace_id),
        Column::Release => optional(&transaction.release),
        Column::Environment => optional(&transaction.environment),
        Column::User => optional(&transaction.user_tag),
    }
}

/// An aggregate's value for one group; `range_secs` is the length of the queried period
/// (for rates). Percentiles and durations of an empty group are `null`, as in Sentry's
/// tables; counts and rates are 0.
pub fn aggregate_value(
    aggregate: Aggregate,
    group: &TransactionAggregate,
    range_secs: f64,
) -> Value {
    let count = group.count as f64;
    let duration = |ms: f64| {
        if group.count == 0 {
            Value::Null
        } else {
            json!(ms)
        }
    };
    match aggregate {
        Aggregate::Count => json!(group.count),
        Aggregate::CountUniqueUser => json!(group.users),
        Aggregate::Percentile(50) => duration(group.p50_ms),
        Aggregate::Percentile(75) => duration(group.p75_ms),
        Aggregate::Percentile(95) => duration(group.p95_ms),
        Aggregate::Percentile(_) => duration(group.p99_ms),
        Aggregate::Avg => duration(group.avg_ms),
        Aggregate::Max => duration(group.max_ms),
        Aggregate::FailureCount => json!(group.failures),
        Aggregate::FailureRate => json!(ratio(group.failures as f64, count)),
        // Sentry's apdex: satisfied count whole, tolerated half (the store counts the
        // tolerated zone, over T up to 4T, apart from the satisfied one).
        Aggregate::Apdex(_) => json!(ratio(
            group.satisfied as f64 + group.tolerated as f64 / 2.0,
            count
        )),
        Aggregate::PerMinute => json!(ratio(count, range_secs / 60.0)),
        Aggregate::PerSecond => json!(ratio(count, range_secs)),
    }
}

/// A series point: like [`aggregate_value`] but never `null` (Sentry's charts draw 0).
pub fn series_value(
    aggregate: Aggregate,
    group: &TransactionAggregate,
    interval_secs: f64,
) -> Value {
    match aggregate_value(aggregate, group, interval_secs) {
        Value::Null => json!(0),
        value => value,
    }
}

fn ratio(numerator: f64, denominator: f64) -> f64 {
    if denominator > 0.0 {
        numerator / denominator
    } else {
        0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aggregates_parse_with_and_without_their_argument() {
        assert_eq!(
            Field::parse("p95()").expect("p95").kind,
            FieldKind::Aggregate(Aggregate::Percentile(95))
        );
        assert_eq!(
            Field::parse("p50(transaction.duration)").expect("p50").kind,
            FieldKind::Aggregate(Aggregate::Percentile(50))
        );
        assert_eq!(
            Field::parse("apdex(500)").expect("apdex").kind,
            FieldKind::Aggregate(Aggregate::Apdex(Some(500.0)))
        );
        assert_eq!(
            Field::parse("count_unique(user)").expect("users").kind,
            FieldKind::Aggregate(Aggregate::CountUniqueUser)
        );
    }

    #[test]
    fn unknown_fields_are_named_in_the_error() {
        assert_eq!(
            Field::parse("p42()").expect_err("unknown"),
            "Unknown field: p42()"
        );
        assert!(Field::parse("count_unique(browser)").is_err());
        assert!(Field::parse("apdex(-1)").is_err());
        assert!(Field::parse("message").is_err());
    }

    #[test]
    fn meta_says_durations_are_milliseconds() {
        let p95 = Field::parse("p95()").expect("p95");
        assert_eq!(
            (p95.meta_type(), p95.unit()),
            ("duration", Some("millisecond"))
        );
        let tpm = Field::parse("tpm()").expect("tpm");
        assert_eq!((tpm.meta_type(), tpm.unit()), ("rate", Some("1/minute")));
    }

    #[test]
    fn apdex_counts_tolerated_as_half() {
        let group = TransactionAggregate {
            count: 4,
            satisfied: 2,
            tolerated: 1,
            ..TransactionAggregate::default()
        };
        assert_eq!(
            aggregate_value(Aggregate::Apdex(None), &group, 60.0),
            json!(0.625)
        );
        assert_eq!(
            aggregate_value(Aggregate::PerMinute, &group, 120.0),
            json!(2.0)
        );
    }
}
