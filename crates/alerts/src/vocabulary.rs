//! Sentry's words for rule parts: the ids of conditions, filters and actions, the intervals
//! of frequency conditions, the level numbers and the match operators, with the words Sentry's
//! UI shows for each. Parsing, evaluation, the API's labels and the web UI's rule form all read
//! them from here, so that they cannot disagree.

/// A new issue (Sentry's "first seen").
pub const FIRST_SEEN: &str = "sentry.rules.conditions.first_seen_event.FirstSeenEventCondition";
/// A resolved issue is seen again.
pub const REGRESSION: &str = "sentry.rules.conditions.regression_event.RegressionEventCondition";
/// An ignored (snoozed) issue comes back.
pub const REAPPEARED: &str = "sentry.rules.conditions.reappeared_event.ReappearedEventCondition";
/// The issue is seen more than `value` times in `interval`.
pub const EVENT_FREQUENCY: &str = "sentry.rules.conditions.event_frequency.EventFrequencyCondition";
/// The issue is seen by more than `value` users in `interval`.
pub const UNIQUE_USER_FREQUENCY: &str =
    "sentry.rules.conditions.event_frequency.EventUniqueUserFrequencyCondition";

/// The conditions in the order Sentry's rule form offers them, with the words it uses there.
pub const CONDITIONS: &[(&str, &str)] = &[
    (FIRST_SEEN, "A new issue is created"),
    (
        REGRESSION,
        "The issue changes state from resolved to unresolved",
    ),
    (
        REAPPEARED,
        "The issue changes state from ignored to unresolved",
    ),
    (
        EVENT_FREQUENCY,
        "The issue is seen more than N times in an interval",
    ),
    (
        UNIQUE_USER_FREQUENCY,
        "The issue is seen by more than N users in an interval",
    ),
];

pub const LEVEL_FILTER: &str = "sentry.rules.filters.level.LevelFilter";
pub const TAGGED_EVENT_FILTER: &str = "sentry.rules.filters.tagged_event.TaggedEventFilter";

pub const EMAIL_ACTION: &str = "sentry.mail.actions.NotifyEmailAction";
/// Vigil's own: POSTs the body of Sentry's legacy webhooks plugin to `url`.
pub const WEBHOOK_ACTION: &str = "vigil.actions.WebhookAction";
/// Vigil's own: posts a Slack incoming-webhook message to `webhook_url`.
pub const SLACK_ACTION: &str = "vigil.actions.SlackWebhookAction";

/// Frequency intervals as Sentry names them: code, seconds, label.
pub const INTERVALS: &[(&str, u64, &str)] = &[
    ("1m", 60, "one minute"),
    ("5m", 5 * 60, "5 minutes"),
    ("15m", 15 * 60, "15 minutes"),
    ("1h", 3600, "one hour"),
    ("1d", 86_400, "one day"),
    ("1w", 7 * 86_400, "one week"),
    ("30d", 30 * 86_400, "30 days"),
];

/// The seconds of an interval code (`1h` → 3600).
pub fn interval_secs(code: &str) -> Option<u64> {
    INTERVALS
        .iter()
        .find(|(c, _, _)| *c == code)
        .map(|(_, secs, _)| *secs)
}

pub fn interval_label(code: &str) -> &str {
    INTERVALS
        .iter()
        .find(|(c, _, _)| *c == code)
        .map_or(code, |(_, _, label)| label)
}

/// Sentry's `LOG_LEVELS`: the numbers a LevelFilter compares.
pub const LEVELS: &[(&str, u8)] = &[
    ("debug", 10),
    ("info", 20),
    ("warning", 30),
    ("error", 40),
    ("fatal", 50),
];

/// The number of a level name; `warn` and `critical` are the SDKs' aliases.
pub fn level_number(name: &str) -> Option<u8> {
    let name = match name {
        "warn" => "warning",
        "critical" => "fatal",
        "log" => "info",
        other => other,
    };
    LEVELS.iter().find(|(n, _)| *n == name).map(|(_, num)| *num)
}

pub fn level_name(number: u8) -> Option<&'static str> {
    LEVELS
        .iter()
        .find(|(_, n)| *n == number)
        .map(|(name, _)| *name)
}

/// LevelFilter's `match`: code and Sentry's label.
pub const LEVEL_MATCHES: &[(&str, &str)] = &[
    ("eq", "equal to"),
    ("gte", "greater than or equal to"),
    ("lte", "less than or equal to"),
];

/// TaggedEventFilter's `match`: code and Sentry's label.
pub const TAG_MATCHES: &[(&str, &str)] = &[
    ("eq", "equals"),
    ("ne", "does not equal"),
    ("sw", "starts with"),
    ("ew", "ends with"),
    ("co", "contains"),
    ("nc", "does not contain"),
    ("is", "is set"),
    ("ns", "is not set"),
];

pub fn match_label<'a>(table: &[(&str, &'a str)], code: &'a str) -> &'a str {
    table
        .iter()
        .find(|(c, _)| *c == code)
        .map_or(code, |(_, label)| label)
}

/// NotifyEmailAction's `targetType`.
pub const TARGET_TYPES: &[&str] = &["IssueOwners", "Team", "Member"];
/// [`TARGET_TYPES`] in the order a form offers them, with what each means in Vigil.
pub const TARGET_TYPE_LABELS: &[(&str, &str)] = &[
    ("IssueOwners", "Issue owners"),
    ("Member", "A member"),
    ("Team", "Team (every member: Vigil has no teams)"),
];
/// NotifyEmailAction's `fallthroughType`: who hears of an issue that has no owner.
pub const FALLTHROUGH_TYPES: &[&str] = &["AllMembers", "ActiveMembers", "NoOne"];
/// [`FALLTHROUGH_TYPES`] in the order a form offers them, with their words.
pub const FALLTHROUGH_LABELS: &[(&str, &str)] = &[
    ("ActiveMembers", "active members"),
    ("AllMembers", "all members"),
    ("NoOne", "no one"),
];
/// How conditions (`actionMatch`) and filters (`filterMatch`) combine.
pub const MATCH_MODES: &[&str] = &["all", "any", "none"];

/// The action frequencies (a rule's `frequency`, in minutes) Sentry's form offers, with their
/// words; the API accepts any number of minutes within its bounds.
pub const ACTION_FREQUENCIES: &[(u32, &str)] = &[
    (5, "5 minutes"),
    (10, "10 minutes"),
    (30, "30 minutes"),
    (60, "one hour"),
    (180, "3 hours"),
    (720, "12 hours"),
    (1440, "one day"),
    (10_080, "one week"),
    (43_200, "30 days"),
];

/// The words for an action frequency: the form's when it offers the number, else in minutes.
pub fn frequency_label(minutes: u32) -> String {
    ACTION_FREQUENCIES
        .iter()
        .find(|(m, _)| *m == minutes)
        .map_or(format!("{minutes} minutes"), |(_, label)| label.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codes<'a>(table: &[(&'a str, &str)]) -> Vec<&'a str> {
        let mut codes: Vec<&str> = table.iter().map(|(code, _)| *code).collect();
        codes.sort_unstable();
        codes
    }

    fn sorted<'a>(list: &[&'a str]) -> Vec<&'a str> {
        let mut list = list.to_vec();
        list.sort_unstable();
        list
    }

    #[test]
    fn labelled_tables_name_exactly_the_accepted_codes() {
        assert_eq!(codes(TARGET_TYPE_LABELS), sorted(TARGET_TYPES));
        assert_eq!(codes(FALLTHROUGH_LABELS), sorted(FALLTHROUGH_TYPES));
        assert_eq!(
            codes(CONDITIONS),
            sorted(&[
                FIRST_SEEN,
                REGRESSION,
                REAPPEARED,
                EVENT_FREQUENCY,
                UNIQUE_USER_FREQUENCY
            ])
        );
    }

    #[test]
    fn offered_frequencies_lie_within_sentrys_bounds() {
        assert!(ACTION_FREQUENCIES
            .iter()
            .all(|(minutes, _)| (5..=43_200).contains(minutes)));
        assert_eq!(frequency_label(60), "one hour");
        assert_eq!(frequency_label(45), "45 minutes");
    }
}
