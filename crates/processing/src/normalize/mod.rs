//! Event normalization: turning what an SDK sent into the one shape Vigil stores.
//!
//! Sentry's ingest service, Relay, normalizes every event before Sentry groups and stores it
//! (`relay-event-normalization`); SDKs are tested against that behaviour, and grouping, titles
//! and the UI rely on its result. [`normalize_event`] reproduces it over the event's [`Json`] tree:
//! legacy spellings are renamed, ids and timestamps get one format, clock drift is corrected,
//! defaults are filled, and malformed fields are dropped with a note in the event's `errors`
//! instead of failing the event. Fields Vigil does not know are kept.
//!
//! Each submodule owns one part of the event; this module only fixes the order, which matters:
//! the depth cap runs first so nothing after it can recurse without bound, timestamps are read
//! before anything looks at them, exceptions before the type is inferred from them, the SDK
//! before the user (its `infer_ip` setting decides about the IP address).

mod attributes;
mod breadcrumbs;
mod client_tags;
mod contexts;
mod errors;
mod exception;
mod extra;
mod legacy;
mod limits;
mod logentry;
mod message_format;
mod release;
mod request;
mod shape;
mod stacktrace;
mod time;
mod transaction;
mod user;
mod value;

use crate::json::{Json, Object, Str};

pub(crate) use client_tags::MAX_TAG_CHARS;
pub(crate) use request::header_name;
pub(crate) use value::hex_id;

/// What normalization needs to know about how and when an event arrived.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NormalizeContext {
    /// Server receive time, Unix seconds. Becomes `received`, the default `timestamp`, and the
    /// reference for clock drift and retention.
    pub received: f64,
    /// The envelope header's `sent_at` (Unix seconds): the SDK's clock at sending, for
    /// clock-drift correction.
    pub sent_at: Option<f64>,
    /// The peer address (after trusted proxies); replaces `{{auto}}` and is inferred for
    /// browser events.
    pub client_ip: Option<String>,
    /// The envelope header's `event_id`; wins over the payload's.
    pub envelope_event_id: Option<String>,
    /// `sentry_client` of the request (`sentry.python/2.75.0`), used as `sdk` when the event
    /// names none.
    pub client_sdk: Option<String>,
    /// The project's event retention in days; older events are moved to the receive time.
    /// `0` means Sentry's default of 90.
    pub retention_days: u32,
    /// The project's data-scrubbing settings (Sentry's Security & Privacy), for the scrubber
    /// that runs on the event after normalization.
    pub scrubbing: vigil_model::ScrubbingSettings,
    /// The project's inbound filters, compiled once per settings read (shared by every event
    /// of a batch); checked right after normalization.
    pub filters: std::sync::Arc<crate::filter::Filters>,
    /// The project's uploaded source maps and the shared cache of built ones, for
    /// symbolicating JavaScript frames after scrubbing; `None` leaves frames as sent.
    pub symbolication: Option<crate::symbolicate::Symbolication>,
}

/// Why an event could not be normalized at all. Everything else is repaired and noted in the
/// event's `errors`.
#[derive(Debug, thiserror::Error)]
pub enum NormalizeError {
    /// The payload is not a JSON object (an array, a string, …).
    #[error("event is not a JSON object")]
    NotAnObject,
    /// A transaction without a usable start and end; Relay drops these too, since a
    /// transaction is a duration.
    #[error("invalid transaction: {0}")]
    InvalidTransaction(&'static str),
}

/// Normalizes one event (an `event`, `transaction` or `feedback` item, or a `/store/` body).
///
/// Never panics and never recurses deeper than a fixed bound, whatever the input.
pub fn normalize_event<'a>(
    raw: Json<'a>,
    ctx: &NormalizeContext,
) -> Result<Json<'a>, NormalizeError> {
    let mut event = match raw {
        Json::Object(map) => map,
        other => {
            limits::dispose(other);
            return Err(NormalizeError::NotAnObject);
        }
    };
    let mut errors = errors::EventErrors::default();

    limits::cap_depth(&mut event, &mut errors);
    legacy::canonicalize(&mut event);
    attributes::normalize_event_id(&mut event, ctx, &mut errors);
    if let Err(e) = time::normalize_timestamps(&mut event, ctx, &mut errors) {
        limits::dispose(Json::Object(event));
        return Err(e);
    }

    logentry::normalize_logentry(&mut event, &mut errors);
    exception::normalize_exceptions(&mut event, &mut errors);
    breadcrumbs::normalize_breadcrumbs(&mut event, &mut errors);
    attributes::normalize_type(&mut event);
    attributes::normalize_level_and_platform(&mut event, &mut errors);
    attributes::normalize_scalars(&mut event, &mut errors);
    release::normalize_release_fields(&mut event, &mut errors);
    client_tags::normalize_tags(&mut event, &mut errors);
    attributes::normalize_fingerprint(&mut event, &mut errors);
    extra::normalize_extra_and_modules(&mut event, &mut errors);
    request::normalize_request(&mut event, &mut errors);
    attributes::fill_sdk(&mut event, ctx, &mut errors);
    user::normalize_user(&mut event, ctx.client_ip.as_deref(), &mut errors);
    contexts::normalize_contexts(&mut event, &mut errors);
    transaction::normalize_transaction_parts(&mut event, &mut errors);

    if let Some(errors) = errors.into_value() {
        event.insert("errors", errors);
    }
    Ok(Json::Object(in_schema_order(event)))
}

/// The order of fields in Relay's `Event` schema, which is how Sentry stores and shows events.
/// Steps above take fields out and put them back, so without this the order would depend on
/// which repairs ran.
const FIELD_ORDER: &[&str] = &[
    "event_id",
    "level",
    "version",
    "type",
    "fingerprint",
    "culprit",
    "transaction",
    "transaction_info",
    "time_spent",
    "logentry",
    "logger",
    "modules",
    "platform",
    "timestamp",
    "start_timestamp",
    "received",
    "server_name",
    "release",
    "dist",
    "environment",
    "site",
    "user",
    "request",
    "contexts",
    "breadcrumbs",
    "exception",
    "stacktrace",
    "template",
    "threads",
    "tags",
    "extra",
    "debug_meta",
    "sdk",
    "errors",
    "csp",
    "hpkp",
    "expectct",
    "expectstaple",
    "spans",
    "measurements",
    "breakdowns",
];

/// Known fields in schema order, then the event's other fields in the order they came.
///
/// One pass over the event: each field goes to its slot or to the rest, so an event with
/// thousands of unknown top-level fields costs no more than reading them.
fn in_schema_order(event: Object<'_>) -> Object<'_> {
    let mut slots: [Option<(Str<'_>, Json<'_>)>; FIELD_ORDER.len()] = std::array::from_fn(|_| None);
    let mut rest = Vec::new();
    let len = event.len();
    for (key, value) in event {
        match FIELD_ORDER.iter().position(|known| *known == key) {
            Some(at) => slots[at] = Some((key, value)),
            None => rest.push((key, value)),
        }
    }
    let mut ordered = Object::with_capacity(len);
    ordered.extend(slots.into_iter().flatten().chain(rest));
    ordered
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn ctx() -> NormalizeContext {
        NormalizeContext {
            received: 1_795_574_444.0,
            ..NormalizeContext::default()
        }
    }

    #[test]
    fn minimal_event_gets_every_default() {
        let out = normalize_event(Json::from(json!({})), &ctx()).unwrap_or_default();
        assert_eq!(out["type"], json!("default"));
        assert_eq!(out["level"], json!("error"));
        assert_eq!(out["platform"], json!("other"));
        assert_eq!(out["timestamp"], json!(1_795_574_444.0));
        assert_eq!(out["received"], json!(1_795_574_444.0));
        assert_eq!(out["event_id"].as_str().map(str::len), Some(32));
        assert!(out.get("errors").is_none());
    }

    #[test]
    fn non_objects_are_refused() {
        for raw in [json!([]), json!("event"), json!(null), json!(4)] {
            assert!(matches!(
                normalize_event(Json::from(raw), &ctx()),
                Err(NormalizeError::NotAnObject)
            ));
        }
    }

    #[test]
    fn unknown_fields_are_kept() {
        let out = normalize_event(Json::from(json!({"my_field": {"a": [1]}})), &ctx())
            .unwrap_or_default();
        assert_eq!(out["my_field"], json!({"a": [1]}));
    }
}
