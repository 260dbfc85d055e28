//! The event pipeline's steps, as pure functions over events.
//!
//! An event arrives as the JSON an SDK sent, parsed once into a [`json::Json`] tree that borrows
//! from those bytes; [`process_event`] normalizes it (the way Relay does), derives its tags,
//! groups it (the way Sentry's `newstyle:2023-01-11` configuration does), derives its title,
//! culprit and metadata, and writes the result out as the JSON text the store keeps. Nothing
//! here does I/O or knows about HTTP or storage: the server feeds in bytes and context, the
//! store takes the result.

pub mod filter;
pub mod grouping;
pub mod json;
pub mod normalize;
pub mod parameterize;
pub mod payload;
pub mod performance;
pub mod scrub;
pub mod symbolicate;
pub mod tags;
pub mod title;
pub mod user_report;

use serde_json::Value;
use vigil_model::JsonText;

use json::Json;

pub use filter::{FilterId, Filtered};
pub use grouping::input::CertificateReport;
pub use grouping::{group_event, GroupingResult};
pub use normalize::{normalize_event, NormalizeContext, NormalizeError};
pub use title::{derive_summary, EventSummary};

/// An event after every processing step, ready for the store.
#[derive(Debug, Clone, PartialEq)]
pub struct ProcessedEvent {
    /// 32 lowercase hex chars.
    pub event_id: String,
    /// `error`, `default`, `csp`, …
    pub event_type: String,
    pub timestamp: f64,
    pub received: f64,
    pub level: String,
    pub platform: String,
    pub title: String,
    pub culprit: String,
    pub metadata: Value,
    pub hashes: Vec<String>,
    pub grouping_variant: String,
    pub environment: Option<String>,
    pub release: Option<String>,
    pub transaction: Option<String>,
    pub user_tag: Option<String>,
    pub tags: Vec<(String, String)>,
    pub is_unhandled: bool,
    /// Searchable text: the formatted message and the exception values.
    pub message: String,
    /// `contexts.trace.trace_id`: the trace the event happened in.
    pub trace_id: Option<String>,
    /// The whole normalized event, with `title`, `culprit`, `metadata`, `location`, `tags`
    /// and `hashes` filled in as Sentry stores them, written out.
    pub data: JsonText,
}

impl ProcessedEvent {
    /// The event in the store's terms, for project `project_id`.
    pub fn into_new_event(self, project_id: i64) -> vigil_model::NewEvent {
        vigil_model::NewEvent {
            project_id,
            trace_id: self.trace_id,
            event_id: self.event_id,
            event_type: self.event_type,
            timestamp: self.timestamp,
            received: self.received,
            level: self.level,
            platform: self.platform,
            title: self.title,
            culprit: self.culprit,
            metadata: self.metadata,
            hashes: self.hashes,
            environment: self.environment,
            release: self.release,
            transaction: self.transaction,
            user_tag: self.user_tag,
            tags: self.tags,
            is_unhandled: self.is_unhandled,
            message: self.message,
            data: self.data,
        }
    }
}

/// Why an event could not be processed at all (most defects are repaired and recorded in the
/// event's `errors` instead).
#[derive(Debug, thiserror::Error)]
pub enum ProcessingError {
    #[error(transparent)]
    Normalize(#[from] NormalizeError),
}

/// What became of an event a project's inbound filters may drop: kept (processed), or
/// dropped by a filter, which is not an error (Sentry counts it as a `filtered` outcome).
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome<T> {
    Kept(T),
    Filtered(Filtered),
}

impl<T> Outcome<T> {
    /// The processed result, `None` when a filter dropped it.
    pub fn kept(self) -> Option<T> {
        match self {
            Outcome::Kept(value) => Some(value),
            Outcome::Filtered(_) => None,
        }
    }
}

/// For an event whose frames source maps changed, adds the hashes its minified frames give:
/// the issue its build's earlier events opened before the maps were uploaded is found by them,
/// so that the map arriving does not split that issue in two (the event joins it, and its new
/// hashes lead the next builds' events there too).
fn add_minified_hashes(event: &Json<'_>, hashes: &mut Vec<String>) {
    let mut minified = event.clone();
    symbolicate::restore_raw_stacktraces(&mut minified);
    let view = grouping::input::EventView::new(&minified);
    for hash in grouping::group_view(&view).hashes {
        if !hashes.contains(&hash) {
            hashes.push(hash);
        }
    }
}

/// Runs every step over one raw event, and writes the normalized event out as the JSON the
/// store keeps; or tells which of the project's inbound filters drops it.
pub fn process_event(
    raw: Json<'_>,
    ctx: &NormalizeContext,
) -> Result<Outcome<ProcessedEvent>, ProcessingError> {
    let mut event = normalize_event(raw, ctx)?;
    // Before scrubbing, as Relay filters: a dropped event is not worth scrubbing.
    if let Some(filter) = filter::check(&event, &ctx.filters, ctx.client_ip.as_deref()) {
        let category = filter::category(&event);
        return Ok(Outcome::Filtered(Filtered { filter, category }));
    }
    // Before anything reads the event: titles, tags, the search text and the stored JSON are
    // made from what is left (Sentry gets events already scrubbed by Relay).
    scrub::scrub_event(&mut event, &ctx.scrubbing);
    // Where Sentry symbolicates: after Relay's normalization and scrubbing, before grouping,
    // title and culprit, which then see the original frames.
    let mapped = ctx
        .symbolication
        .as_ref()
        .is_some_and(|symbolication| symbolicate::symbolicate_event(&mut event, symbolication));
    // One read of the event for both: the stack trace rules then run once per stack trace.
    let (summary, mut grouping) = {
        let view = grouping::input::EventView::new(&event);
        (title::summarize(&view), grouping::group_view(&view))
    };
    if mapped {
        add_minified_hashes(&event, &mut grouping.hashes);
    }
    let tags = tags::derive_tags(&event);
    let user_tag = tags::user_tag(&event);
    let message = tags::search_text(&event);
    let is_unhandled = tags::is_unhandled(&event);

    let str_field =
        |event: &Json<'_>, key: &str| event.get(key).and_then(Json::as_str).map(str::to_owned);
    let event_id = str_field(&event, "event_id").unwrap_or_default();
    let event_type = str_field(&event, "type").unwrap_or_else(|| "default".to_owned());
    let level = str_field(&event, "level").unwrap_or_else(|| "error".to_owned());
    let platform = str_field(&event, "platform").unwrap_or_else(|| "other".to_owned());
    let environment = str_field(&event, "environment");
    let release = str_field(&event, "release");
    let transaction = str_field(&event, "transaction");
    let trace_id = event
        .pointer("/contexts/trace/trace_id")
        .and_then(Json::as_str)
        .map(str::to_owned);
    let timestamp = event
        .get("timestamp")
        .and_then(Json::as_f64)
        .unwrap_or(ctx.received);
    let received = event
        .get("received")
        .and_then(Json::as_f64)
        .unwrap_or(ctx.received);

    let data = {
        // The derived fields borrow from what goes into the record; the tree is written out
        // and dropped before they move there.
        let mut event = event;
        if let Some(obj) = event.as_object_mut() {
            obj.insert("title", Json::from(summary.title.as_str()));
            obj.insert("culprit", Json::from(summary.culprit.as_str()));
            obj.insert("metadata", Json::from(summary.metadata.clone()));
            if let Some(location) = &summary.location {
                obj.insert("location", Json::from(location.as_str()));
            }
            obj.insert(
                "tags",
                tags.iter()
                    .map(|(k, v)| Json::Array(vec![Json::from(k.as_str()), Json::from(v.as_str())]))
                    .collect(),
            );
            obj.insert(
                "hashes",
                grouping.hashes.iter().map(String::as_str).collect(),
            );
            let mut config = json::Object::with_capacity(1);
            config.insert("id", Json::from(grouping::CONFIG_ID));
            obj.insert("grouping_config", Json::Object(config));
        }
        event.to_json_text()
    };

    Ok(Outcome::Kept(ProcessedEvent {
        event_id,
        event_type,
        timestamp,
        received,
        level,
        platform,
        title: summary.title,
        culprit: summary.culprit,
        metadata: summary.metadata,
        hashes: grouping.hashes,
        grouping_variant: grouping.variant,
        environment,
        release,
        transaction,
        user_tag,
        trace_id,
        tags,
        is_unhandled,
        message,
        data,
    }))
}
