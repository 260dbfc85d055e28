//! Outcomes: what became of every item Vigil received, counted per project, hour, data
//! category, outcome and reason, as Sentry's outcomes are (its "Stats" page and
//! `GET /api/0/organizations/{org}/stats_v2/` read them).
//!
//! The names and ids are Relay's and Sentry's (`relay_base_schema::DataCategory`,
//! `sentry.utils.outcomes.Outcome`), so that the API answers with the words Sentry's clients
//! know.

use std::collections::BTreeMap;

/// What became of an item: Sentry's outcome, stored by its id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Outcome {
    Accepted,
    /// Dropped by an inbound filter; the reason is the filter's id.
    Filtered,
    /// Dropped over a rate limit or quota; the reason is its reason code.
    RateLimited,
    /// Dropped as malformed or over a size limit; the reason is Relay's discard reason.
    Invalid,
    Abuse,
    /// Dropped by the SDK itself, as its client reports say.
    ClientDiscard,
    CardinalityLimited,
}

impl Outcome {
    pub const ALL: [Outcome; 7] = [
        Outcome::Accepted,
        Outcome::Filtered,
        Outcome::RateLimited,
        Outcome::Invalid,
        Outcome::Abuse,
        Outcome::ClientDiscard,
        Outcome::CardinalityLimited,
    ];

    /// Sentry's numeric id.
    pub fn id(self) -> i64 {
        match self {
            Outcome::Accepted => 0,
            Outcome::Filtered => 1,
            Outcome::RateLimited => 2,
            Outcome::Invalid => 3,
            Outcome::Abuse => 4,
            Outcome::ClientDiscard => 5,
            Outcome::CardinalityLimited => 6,
        }
    }

    pub fn from_id(id: i64) -> Option<Outcome> {
        Outcome::ALL.into_iter().find(|o| o.id() == id)
    }

    /// The name the API speaks (`Outcome.api_name()`).
    pub fn api_name(self) -> &'static str {
        match self {
            Outcome::Accepted => "accepted",
            Outcome::Filtered => "filtered",
            Outcome::RateLimited => "rate_limited",
            Outcome::Invalid => "invalid",
            Outcome::Abuse => "abuse",
            Outcome::ClientDiscard => "client_discard",
            Outcome::CardinalityLimited => "cardinality_limited",
        }
    }

    /// An API name, in any case (Sentry's `Outcome.parse`).
    pub fn parse(name: &str) -> Option<Outcome> {
        Outcome::ALL
            .into_iter()
            .find(|o| o.api_name().eq_ignore_ascii_case(name))
    }
}

macro_rules! data_categories {
    ($($variant:ident = $name:literal),+ $(,)?) => {
        /// What kind of data an outcome counts: Relay's data categories, by their names.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum DataCategory {
            $($variant),+
        }

        impl DataCategory {
            pub const ALL: &'static [DataCategory] = &[$(DataCategory::$variant),+];

            /// Relay's canonical name, as stored.
            pub fn name(self) -> &'static str {
                match self {
                    $(DataCategory::$variant => $name),+
                }
            }
        }
    };
}

data_categories! {
    Default = "default",
    Error = "error",
    Transaction = "transaction",
    Security = "security",
    Attachment = "attachment",
    Session = "session",
    Profile = "profile",
    Replay = "replay",
    TransactionProcessed = "transaction_processed",
    TransactionIndexed = "transaction_indexed",
    Monitor = "monitor",
    ProfileIndexed = "profile_indexed",
    Span = "span",
    MonitorSeat = "monitor_seat",
    UserReportV2 = "feedback",
    MetricBucket = "metric_bucket",
    SpanIndexed = "span_indexed",
    ProfileDuration = "profile_duration",
    ProfileChunk = "profile_chunk",
    MetricSecond = "metric_second",
    ReplayVideo = "replay_video",
    Uptime = "uptime",
    AttachmentItem = "attachment_item",
    LogItem = "log_item",
    LogByte = "log_byte",
    ProfileDurationUi = "profile_duration_ui",
    ProfileChunkUi = "profile_chunk_ui",
    SeerAutofix = "seer_autofix",
    SeerScanner = "seer_scanner",
    PreventUser = "prevent_user",
    PreventReview = "prevent_review",
    SizeAnalysis = "size_analysis",
    InstallableBuild = "installable_build",
    TraceMetric = "trace_metric",
    SeerUser = "seer_user",
    ProfileBackend = "profile_backend",
    ProfileUi = "profile_ui",
}

impl DataCategory {
    /// A name as Relay parses it (`DataCategory::from_name`): the canonical names, and
    /// `user_report_v2` for feedback.
    pub fn parse(name: &str) -> Option<DataCategory> {
        if name == "user_report_v2" {
            return Some(DataCategory::UserReportV2);
        }
        DataCategory::ALL.iter().copied().find(|c| c.name() == name)
    }

    /// Whether it counts error events: Sentry's stats show `default` and `security` as
    /// `error`.
    pub fn is_error(self) -> bool {
        matches!(
            self,
            DataCategory::Default | DataCategory::Error | DataCategory::Security
        )
    }

    /// The name the stats API answers with (`error` for every error category).
    pub fn api_name(self) -> &'static str {
        if self.is_error() {
            DataCategory::Error.name()
        } else {
            self.name()
        }
    }
}

/// The reason stored for an outcome that has none (Sentry's hourly outcomes say `none`).
pub const NO_REASON: &str = "none";

/// The start of the hour holding `timestamp`, in unix seconds.
pub fn hour_of(timestamp: f64) -> i64 {
    let secs = if timestamp.is_finite() {
        timestamp.floor() as i64
    } else {
        0
    };
    secs.div_euclid(3600) * 3600
}

/// Counts of one project, hour, category, outcome and reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutcomeRow {
    pub project_id: i64,
    /// Unix seconds at the hour's start.
    pub hour: i64,
    pub category: DataCategory,
    pub outcome: Outcome,
    /// [`NO_REASON`] when there is none.
    pub reason: String,
    /// Items, or bytes for the byte categories (`attachment`, `log_byte`).
    pub quantity: i64,
    /// How many outcomes were recorded (one per attachment, one per client-report entry...).
    pub times_seen: i64,
}

impl OutcomeRow {
    /// The row's identity, without its counts.
    pub fn key(&self) -> (i64, i64, DataCategory, Outcome, &str) {
        (
            self.project_id,
            self.hour,
            self.category,
            self.outcome,
            &self.reason,
        )
    }
}

/// Rows with the same identity summed into one, in key order: what an upsert of one statement
/// needs (a row may not be updated twice by one statement).
pub fn merge_outcome_rows(rows: impl IntoIterator<Item = OutcomeRow>) -> Vec<OutcomeRow> {
    let mut merged: BTreeMap<(i64, i64, DataCategory, Outcome, String), OutcomeRow> =
        BTreeMap::new();
    for row in rows {
        let key = (
            row.project_id,
            row.hour,
            row.category,
            row.outcome,
            row.reason.clone(),
        );
        match merged.get_mut(&key) {
            Some(held) => {
                held.quantity += row.quantity;
                held.times_seen += row.times_seen;
            }
            None => {
                merged.insert(key, row);
            }
        }
    }
    merged.into_values().collect()
}

/// The outcomes of one delivery (a queue entry), added once however often it is processed.
#[derive(Debug, Clone, PartialEq)]
pub struct DeliveryOutcomes {
    pub project_id: i64,
    /// The delivery's key: its queue entry and receive time. Kept a day, long past the entry's
    /// acknowledgement.
    pub source: String,
    pub rows: Vec<OutcomeRow>,
}

/// Which rows to read: hours in `[since_hour, until_hour)` of some projects, optionally only
/// some categories, outcomes and reasons (empty: all).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OutcomeQuery {
    pub project_ids: Vec<i64>,
    pub since_hour: i64,
    pub until_hour: i64,
    pub categories: Vec<DataCategory>,
    pub outcomes: Vec<Outcome>,
    pub reasons: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_ids_round_trip() {
        for outcome in Outcome::ALL {
            assert_eq!(Outcome::from_id(outcome.id()), Some(outcome));
            assert_eq!(Outcome::parse(outcome.api_name()), Some(outcome));
        }
        assert_eq!(Outcome::parse("RATE_LIMITED"), Some(Outcome::RateLimited));
        assert_eq!(Outcome::parse("dropped"), None);
        for category in DataCategory::ALL {
            assert_eq!(DataCategory::parse(category.name()), Some(*category));
        }
        assert_eq!(
            DataCategory::parse("user_report_v2"),
            Some(DataCategory::UserReportV2)
        );
        assert_eq!(DataCategory::UserReportV2.name(), "feedback");
        assert_eq!(DataCategory::Security.api_name(), "error");
        assert_eq!(DataCategory::parse("scoobydoo"), None);
    }

    #[test]
    fn hours_start_on_the_hour() {
        assert_eq!(hour_of(7_200.0), 7_200);
        assert_eq!(hour_of(10_799.9), 7_200);
        assert_eq!(hour_of(-1.0), -3_600);
    }

    #[test]
    fn rows_of_one_identity_are_summed() {
        let row = |reason: &str, quantity| OutcomeRow {
            project_id: 1,
            hour: 3_600,
            category: DataCategory::Error,
            outcome: Outcome::Invalid,
            reason: reason.into(),
            quantity,
            times_seen: 1,
        };
        let merged =
            merge_outcome_rows([row("payload", 2), row("too_large", 1), row("payload", 3)]);
        assert_eq!(merged.len(), 2);
        assert_eq!((merged[0].quantity, merged[0].times_seen), (5, 2));
        assert_eq!(merged[1].reason, "too_large");
    }
}
