//! One envelope item: its JSON header line, its payload, and the item type that header names.

use std::fmt;
use std::str::FromStr;

use bytes::Bytes;
use serde_json::{Map, Value};

/// The kind of an item, from its `type` header (names as Relay's `ItemType::from_str`).
///
/// Unknown names are kept, not refused: SDKs add item types faster than servers learn them, and
/// Relay skips what it does not know and still answers 200.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ItemType {
    /// `event`: an error or message event.
    Event,
    /// `transaction`: a transaction event with its spans.
    Transaction,
    /// `span`: a span v2 container (JS SDK 11) or one v1 span.
    Span,
    /// `attachment`: raw bytes tied to the envelope's event.
    Attachment,
    /// `session`: one release-health session update.
    Session,
    /// `sessions`: pre-aggregated session counts.
    Sessions,
    /// `client_report`: what the SDK dropped and why.
    ClientReport,
    /// `check_in`: a cron monitor check-in.
    CheckIn,
    /// `user_report`: legacy user feedback.
    UserReport,
    /// `feedback`: a feedback event (Relay's `UserReportV2`).
    Feedback,
    /// `log`: a container of structured log entries.
    Log,
    /// `otel_log`: one OpenTelemetry log record.
    OtelLog,
    /// `profile`: a transaction-bound profile.
    Profile,
    /// `profile_chunk` (alias `profile_chunk_ui`, sent by Android SDK 8.10–8.11).
    ProfileChunk,
    /// `replay_event`: session replay metadata.
    ReplayEvent,
    /// `replay_recording`: session replay data.
    ReplayRecording,
    /// `replay_video`: session replay video.
    ReplayVideo,
    /// `security`: a CSP / HPKP / Expect-CT report.
    Security,
    /// `nel`: a Network Error Logging report.
    Nel,
    /// `trace_metric`: a container of trace-connected metrics.
    TraceMetric,
    /// `statsd`: metrics in statsd text form.
    Statsd,
    /// `metric_buckets`: pre-aggregated metric buckets.
    MetricBuckets,
    /// Any other name, kept verbatim (including Relay-internal ones like `form_data`).
    Unknown(String),
}

impl ItemType {
    /// The wire name; an alias is printed as its canonical name.
    pub fn as_str(&self) -> &str {
        match self {
            ItemType::Event => "event",
            ItemType::Transaction => "transaction",
            ItemType::Span => "span",
            ItemType::Attachment => "attachment",
            ItemType::Session => "session",
            ItemType::Sessions => "sessions",
            ItemType::ClientReport => "client_report",
            ItemType::CheckIn => "check_in",
            ItemType::UserReport => "user_report",
            ItemType::Feedback => "feedback",
            ItemType::Log => "log",
            ItemType::OtelLog => "otel_log",
            ItemType::Profile => "profile",
            ItemType::ProfileChunk => "profile_chunk",
            ItemType::ReplayEvent => "replay_event",
            ItemType::ReplayRecording => "replay_recording",
            ItemType::ReplayVideo => "replay_video",
            ItemType::Security => "security",
            ItemType::Nel => "nel",
            ItemType::TraceMetric => "trace_metric",
            ItemType::Statsd => "statsd",
            ItemType::MetricBuckets => "metric_buckets",
            ItemType::Unknown(name) => name,
        }
    }

    /// Whether an envelope holding this item must have an event id (protocol §4.1); the server
    /// generates one when the SDK sent none, so the answer `{"id": …}` names what was stored.
    pub fn requires_event(&self) -> bool {
        matches!(
            self,
            ItemType::Event
                | ItemType::Transaction
                | ItemType::Attachment
                | ItemType::UserReport
                | ItemType::Feedback
                | ItemType::Profile
                | ItemType::ReplayEvent
                | ItemType::Security
        )
    }
}

impl From<&str> for ItemType {
    fn from(name: &str) -> ItemType {
        match name {
            "event" => ItemType::Event,
            "transaction" => ItemType::Transaction,
            "span" => ItemType::Span,
            "attachment" => ItemType::Attachment,
            "session" => ItemType::Session,
            "sessions" => ItemType::Sessions,
            "client_report" => ItemType::ClientReport,
            "check_in" => ItemType::CheckIn,
            "user_report" => ItemType::UserReport,
            "feedback" => ItemType::Feedback,
            "log" => ItemType::Log,
            "otel_log" => ItemType::OtelLog,
            "profile" => ItemType::Profile,
            "profile_chunk" | "profile_chunk_ui" => ItemType::ProfileChunk,
            "replay_event" => ItemType::ReplayEvent,
            "replay_recording" => ItemType::ReplayRecording,
            "replay_video" => ItemType::ReplayVideo,
            "security" => ItemType::Security,
            "nel" => ItemType::Nel,
            "trace_metric" => ItemType::TraceMetric,
            "statsd" => ItemType::Statsd,
            "metric_buckets" => ItemType::MetricBuckets,
            other => ItemType::Unknown(other.to_owned()),
        }
    }
}

impl FromStr for ItemType {
    type Err = std::convert::Infallible;

    fn from_str(name: &str) -> Result<ItemType, Self::Err> {
        Ok(ItemType::from(name))
    }
}

impl fmt::Display for ItemType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One item of an envelope.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    /// The item header as sent, unknown keys included. After [`crate::envelope::parse_envelope`]
    /// it always has a string `type`.
    pub headers: Map<String, Value>,
    /// The payload bytes; a slice of the envelope body, not a copy.
    pub payload: Bytes,
}

impl Item {
    /// An item of type `ty` holding `payload`, with its `length` header set — for building
    /// envelopes, e.g. wrapping a legacy `/store/` event the way Relay does.
    pub fn new(ty: ItemType, payload: Bytes) -> Item {
        let mut headers = Map::new();
        headers.insert("type".to_owned(), Value::from(ty.as_str()));
        headers.insert("length".to_owned(), Value::from(payload.len()));
        Item { headers, payload }
    }

    /// The item type; an item built by hand without a `type` is `Unknown("")`.
    pub fn ty(&self) -> ItemType {
        self.header_str("type")
            .map_or_else(|| ItemType::Unknown(String::new()), ItemType::from)
    }

    /// The `content_type` header (`application/json`, `application/vnd.sentry.items.log+json`, …).
    pub fn content_type(&self) -> Option<&str> {
        self.header_str("content_type")
    }

    /// The `filename` header of an attachment.
    pub fn filename(&self) -> Option<&str> {
        self.header_str("filename")
    }

    /// The `attachment_type` header (`event.attachment` when absent, per protocol §4.2).
    pub fn attachment_type(&self) -> Option<&str> {
        self.header_str("attachment_type")
    }

    /// The `item_count` header of a container item (`span`, `log`, `trace_metric`), which must
    /// equal the number of entries in its payload's `items`.
    pub fn item_count(&self) -> Option<u64> {
        self.headers.get("item_count").and_then(Value::as_u64)
    }

    fn header_str(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(Value::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KNOWN: [ItemType; 22] = [
        ItemType::Event,
        ItemType::Transaction,
        ItemType::Span,
        ItemType::Attachment,
        ItemType::Session,
        ItemType::Sessions,
        ItemType::ClientReport,
        ItemType::CheckIn,
        ItemType::UserReport,
        ItemType::Feedback,
        ItemType::Log,
        ItemType::OtelLog,
        ItemType::Profile,
        ItemType::ProfileChunk,
        ItemType::ReplayEvent,
        ItemType::ReplayRecording,
        ItemType::ReplayVideo,
        ItemType::Security,
        ItemType::Nel,
        ItemType::TraceMetric,
        ItemType::Statsd,
        ItemType::MetricBuckets,
    ];

    #[test]
    fn known_names_round_trip() {
        for ty in KNOWN {
            assert_eq!(ItemType::from(ty.as_str()), ty);
            assert_eq!(ty.to_string(), ty.as_str());
        }
    }

    #[test]
    fn profile_chunk_ui_is_an_alias() {
        assert_eq!(ItemType::from("profile_chunk_ui"), ItemType::ProfileChunk);
        assert_eq!(ItemType::ProfileChunk.as_str(), "profile_chunk");
    }

    #[test]
    fn unknown_names_are_kept_verbatim() {
        let ty: ItemType = "form_data".parse().unwrap_or(ItemType::Event);
        assert_eq!(ty, ItemType::Unknown("form_data".to_owned()));
        assert_eq!(ty.as_str(), "form_data");
        // Names are case-sensitive in Relay.
        assert_eq!(
            ItemType::from("Event"),
            ItemType::Unknown("Event".to_owned())
        );
    }

    #[test]
    fn event_bound_types_require_an_event_id() {
        assert!(ItemType::Event.requires_event());
        assert!(ItemType::Attachment.requires_event());
        assert!(ItemType::UserReport.requires_event());
        assert!(!ItemType::Session.requires_event());
        assert!(!ItemType::Span.requires_event());
        assert!(!ItemType::CheckIn.requires_event());
        assert!(!ItemType::Unknown("x".into()).requires_event());
    }

    #[test]
    fn new_item_sets_type_and_length() {
        let item = Item::new(ItemType::Event, Bytes::from_static(b"{}"));
        assert_eq!(item.ty(), ItemType::Event);
        assert_eq!(item.headers.get("length"), Some(&Value::from(2)));
        assert_eq!(item.content_type(), None);
    }

    #[test]
    fn header_accessors_ignore_non_strings() {
        let mut item = Item::new(ItemType::Attachment, Bytes::new());
        item.headers.insert("filename".into(), Value::from(5));
        item.headers
            .insert("content_type".into(), Value::from("text/csv"));
        item.headers.insert("item_count".into(), Value::from(3));
        assert_eq!(item.filename(), None);
        assert_eq!(item.content_type(), Some("text/csv"));
        assert_eq!(item.item_count(), Some(3));
        item.headers.remove("type");
        assert_eq!(item.ty(), ItemType::Unknown(String::new()));
    }
}
