//! Timestamps: reading them, correcting the SDK's clock, and keeping them inside retention.
//!
//! SDKs send a timestamp as a number of seconds or as an RFC 3339 string, with or without zone
//! and fraction (§5); Python even mixes both in one event. Vigil stores every timestamp as float
//! Unix seconds with microsecond precision. Internally the arithmetic is done in integer
//! microseconds so that shifting by a clock drift does not add float noise.
//!
//! The order follows Relay: first the envelope's `sent_at` corrects a drifted device clock
//! (`clock_drift.rs`, at least 55 minutes off), then an event still dated in the future or
//! before retention is moved to the receive time (`normalize_timestamps` in `event.rs`), then a
//! missing event timestamp becomes the receive time.

use crate::json::{Json, Object};
use time::{Date, Month, OffsetDateTime};

use super::errors::{self, EventErrors};
use super::{NormalizeContext, NormalizeError};

/// Microseconds since the Unix epoch.
pub(crate) type Micros = i64;

const MICROS_PER_SEC: i64 = 1_000_000;
/// Smaller differences between `sent_at` and the receive time are network delay, not a wrong
/// clock (Relay's `MINIMUM_CLOCK_DRIFT`, chosen to still catch time-zone mistakes).
const MIN_CLOCK_DRIFT: Micros = 55 * 60 * MICROS_PER_SEC;
/// How far ahead of the receive time an event may claim to be (Relay `max_secs_in_future`).
const MAX_SECS_IN_FUTURE: i64 = 60;
/// Retention when the project says nothing (Relay `DEFAULT_EVENT_RETENTION`).
const DEFAULT_RETENTION_DAYS: i64 = 90;
/// Year 10000 starts here; later instants cannot be written as RFC 3339.
const MAX_SECS: f64 = 253_402_300_800.0;

/// Reads a timestamp: a non-negative number of seconds, a numeric string, or an RFC 3339 date
/// and time (`T` or space between, fraction and zone optional, no zone meaning UTC).
pub(crate) fn parse_timestamp(value: &Json<'_>) -> Option<Micros> {
    match value {
        Json::Number(n) => secs_to_micros(n.as_f64()?),
        Json::String(s) => {
            let s = s.trim();
            match s.parse::<f64>() {
                Ok(secs) => secs_to_micros(secs),
                Err(_) => parse_rfc3339(s),
            }
        }
        _ => None,
    }
}

fn secs_to_micros(secs: f64) -> Option<Micros> {
    // Negative timestamps are "too stale" for Relay and never come from a real clock.
    (secs.is_finite() && (0.0..MAX_SECS).contains(&secs)).then(|| (secs * 1e6).round() as Micros)
}

/// Parses `YYYY-MM-DD[T ]HH:MM:SS[.fraction][Z|±HH[:MM]]`.
fn parse_rfc3339(s: &str) -> Option<Micros> {
    let b = s.as_bytes();
    let num = |range: std::ops::Range<usize>| -> Option<i64> {
        let part = b.get(range)?;
        part.iter().all(u8::is_ascii_digit).then(|| {
            part.iter()
                .fold(0i64, |acc, d| acc * 10 + i64::from(d - b'0'))
        })
    };
    if b.len() < 19 || b[4] != b'-' || b[7] != b'-' || b[13] != b':' || b[16] != b':' {
        return None;
    }
    if !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    let year = i32::try_from(num(0..4)?).ok()?;
    let month = Month::try_from(u8::try_from(num(5..7)?).ok()?).ok()?;
    let day = u8::try_from(num(8..10)?).ok()?;
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let date = Date::from_calendar_date(year, month, day).ok()?;

    let mut pos = 19;
    let mut micros = 0i64;
    if b.get(pos) == Some(&b'.') {
        pos += 1;
        let start = pos;
        while b.get(pos).is_some_and(u8::is_ascii_digit) {
            pos += 1;
        }
        let digits = &b[start..pos];
        if digits.is_empty() {
            return None;
        }
        // Microsecond precision; further digits are dropped as Relay does.
        for i in 0..6 {
            micros = micros * 10 + digits.get(i).map_or(0, |d| i64::from(d - b'0'));
        }
    }

    let offset_secs = match &b[pos..] {
        [] | [b'Z'] | [b'z'] => 0,
        [sign @ (b'+' | b'-'), rest @ ..] => {
            let (h, m) = match rest {
                [h1, h2] => (digits2(*h1, *h2)?, 0),
                [h1, h2, b':', m1, m2] | [h1, h2, m1, m2] => {
                    (digits2(*h1, *h2)?, digits2(*m1, *m2)?)
                }
                _ => return None,
            };
            if h > 23 || m > 59 {
                return None;
            }
            let secs = h * 3600 + m * 60;
            if *sign == b'-' {
                -secs
            } else {
                secs
            }
        }
        _ => return None,
    };

    let days = i64::from(date.to_julian_day()) - i64::from(UNIX_EPOCH_JULIAN_DAY);
    let secs = days * 86_400 + hour * 3600 + minute * 60 + second - offset_secs;
    (secs >= 0).then(|| secs * MICROS_PER_SEC + micros)
}

/// Julian day number of 1970-01-01.
const UNIX_EPOCH_JULIAN_DAY: i32 = 2_440_588;

fn digits2(a: u8, b: u8) -> Option<i64> {
    (a.is_ascii_digit() && b.is_ascii_digit())
        .then(|| i64::from(a - b'0') * 10 + i64::from(b - b'0'))
}

/// The stored form of a timestamp: float seconds. Dividing the exact integer by 10^6 yields the
/// float closest to the decimal value, so `…43.024442` prints back as `…43.024442`.
pub(crate) fn to_value(micros: Micros) -> Json<'static> {
    serde_json::Number::from_f64(micros as f64 / 1e6).map_or(Json::Null, Json::Number)
}

/// Converts float seconds from the context (receive time, `sent_at`) to microseconds.
pub(crate) fn micros_from_secs(secs: f64) -> Micros {
    if secs.is_finite() {
        (secs * 1e6).round() as Micros
    } else {
        0
    }
}

/// RFC 3339 text of a timestamp, for the `sdk_time`/`server_time` details of clock notes.
pub(crate) fn format_rfc3339(micros: Micros) -> String {
    let nanos = i128::from(micros) * 1000;
    OffsetDateTime::from_unix_timestamp_nanos(nanos)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

/// Where a timestamp slot is, for error notes: `breadcrumbs.values.3.timestamp`. Kept as parts
/// so that the common case, nothing wrong, builds no strings.
#[derive(Clone, Copy)]
struct Slot<'a> {
    list: Option<(&'static str, usize)>,
    key: &'a str,
}

impl Slot<'_> {
    fn path(&self) -> String {
        match self.list {
            Some((list, index)) => format!("{list}.{index}.{}", self.key),
            None => self.key.to_owned(),
        }
    }
}

/// Where the timestamps of an event live: the event itself, its breadcrumbs and its spans.
/// Visits each object that may hold one, with the key and where it is.
fn for_each_slot<'a>(event: &mut Object<'a>, mut visit: impl FnMut(Slot<'_>, &mut Object<'a>)) {
    for key in ["timestamp", "start_timestamp"] {
        visit(Slot { list: None, key }, event);
    }
    if let Some(Json::Array(crumbs)) = event
        .get_mut("breadcrumbs")
        .and_then(|b| b.get_mut("values"))
    {
        for (i, crumb) in crumbs.iter_mut().enumerate() {
            if let Json::Object(crumb) = crumb {
                visit(
                    Slot {
                        list: Some(("breadcrumbs.values", i)),
                        key: "timestamp",
                    },
                    crumb,
                );
            }
        }
    }
    if let Some(Json::Array(spans)) = event.get_mut("spans") {
        for (i, span) in spans.iter_mut().enumerate() {
            if let Json::Object(span) = span {
                for key in ["start_timestamp", "timestamp"] {
                    visit(
                        Slot {
                            list: Some(("spans", i)),
                            key,
                        },
                        span,
                    );
                }
            }
        }
    }
}

/// Reads, corrects and writes back every timestamp of the event, sets `received`, and fills a
/// missing event timestamp. Fails only for a transaction without a usable start and end, which
/// Relay rejects as well.
pub(crate) fn normalize_timestamps(
    event: &mut Object<'_>,
    ctx: &NormalizeContext,
    errors: &mut EventErrors,
) -> Result<(), NormalizeError> {
    let received = micros_from_secs(ctx.received);

    // Read every slot into canonical form; unreadable ones are dropped with a note.
    for_each_slot(event, |slot, map| {
        let Some(raw) = map.get_mut(slot.key) else {
            return;
        };
        if raw.is_null() {
            map.shift_remove(slot.key);
            return;
        }
        match parse_timestamp(raw) {
            Some(micros) => *raw = to_value(micros),
            None => {
                errors.invalid(&slot.path(), Some(raw));
                map.shift_remove(slot.key);
            }
        }
    });

    // The device clock was wrong by the difference between its `sent_at` and our clock.
    if let Some(sent_at) = ctx.sent_at.map(micros_from_secs) {
        let drift = received - sent_at;
        if drift.abs() >= MIN_CLOCK_DRIFT {
            shift_all(event, drift);
            errors.push_with(
                errors::CLOCK_DRIFT,
                "timestamp",
                None,
                clock_details(sent_at, received),
            );
        }
    }

    // An event still dated in the future or before retention is treated as sent right now.
    if let Some(timestamp) = event.get("timestamp").and_then(parse_timestamp) {
        let retention_days = match ctx.retention_days {
            0 => DEFAULT_RETENTION_DAYS,
            days => i64::from(days),
        };
        let kind = if timestamp > received + MAX_SECS_IN_FUTURE * MICROS_PER_SEC {
            Some(errors::FUTURE_TIMESTAMP)
        } else if timestamp < received - retention_days * 86_400 * MICROS_PER_SEC {
            Some(errors::PAST_TIMESTAMP)
        } else {
            None
        };
        if let Some(kind) = kind {
            shift_all(event, received - timestamp);
            errors.push_with(kind, "timestamp", None, clock_details(timestamp, received));
        }
    }

    let is_transaction = event.get("type").and_then(Json::as_str) == Some("transaction");
    if is_transaction {
        check_transaction_range(event)?;
    }
    if !event.contains_key("timestamp") {
        event.insert("timestamp", to_value(received));
    }
    event.insert("received", to_value(received));
    Ok(())
}

/// A transaction is a duration: without both ends, or ending before it starts, it is
/// meaningless, and Relay drops it.
fn check_transaction_range(event: &Object<'_>) -> Result<(), NormalizeError> {
    let end = event.get("timestamp").and_then(parse_timestamp);
    let start = event.get("start_timestamp").and_then(parse_timestamp);
    match (start, end) {
        (None, _) => Err(NormalizeError::InvalidTransaction(
            "start_timestamp missing or invalid",
        )),
        (_, None) => Err(NormalizeError::InvalidTransaction(
            "timestamp missing or invalid",
        )),
        (Some(start), Some(end)) if end < start => Err(NormalizeError::InvalidTransaction(
            "end timestamp before start timestamp",
        )),
        _ => Ok(()),
    }
}

fn shift_all(event: &mut Object<'_>, delta: Micros) {
    for_each_slot(event, |slot, map| {
        if let Some(raw) = map.get_mut(slot.key) {
            if let Some(micros) = parse_timestamp(raw) {
                *raw = to_value(micros.saturating_add(delta).max(0));
            }
        }
    });
}

fn clock_details(sdk_time: Micros, server_time: Micros) -> Object<'static> {
    let mut details = Object::new();
    details.insert("sdk_time", Json::from(format_rfc3339(sdk_time)));
    details.insert("server_time", Json::from(format_rfc3339(server_time)));
    details
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use super::*;

    fn ctx(received: f64) -> NormalizeContext {
        NormalizeContext {
            received,
            ..NormalizeContext::default()
        }
    }

    fn event(v: Value) -> Object<'static> {
        Json::from(v).as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn accepts_every_documented_spelling() {
        let expected = Some(1_304_358_096 * MICROS_PER_SEC);
        for s in [
            "2011-05-02T17:41:36Z",
            "2011-05-02T17:41:36",
            "2011-05-02T17:41:36.000",
            "2011-05-02 17:41:36",
            "2011-05-02T19:41:36+02:00",
            "2011-05-02T12:41:36-0500",
            "1304358096",
        ] {
            assert_eq!(parse_timestamp(&Json::from(json!(s))), expected, "{s}");
        }
        assert_eq!(
            parse_timestamp(&Json::from(json!(1_304_358_096.0))),
            expected
        );
        assert_eq!(parse_timestamp(&Json::from(json!(1_304_358_096))), expected);
    }

    #[test]
    fn keeps_microseconds() {
        let micros = parse_timestamp(&Json::from(json!("2026-11-25T02:40:43.024442123Z")));
        assert_eq!(micros, Some(1_795_574_443_024_442));
        assert_eq!(
            micros.map(|m| to_value(m).to_value()),
            Some(json!(1_795_574_443.024_442))
        );
    }

    #[test]
    fn rejects_impossible_times() {
        for v in [
            json!("2011-02-30T00:00:00Z"),
            json!("2011-05-02T24:00:00Z"),
            json!("yesterday"),
            json!("2011-05-02T17:41:36+25:00"),
            json!(-1),
            json!(1e20),
            json!(true),
            json!({"secs": 1}),
        ] {
            assert_eq!(parse_timestamp(&Json::from(v.clone())), None, "{v}");
        }
    }

    #[test]
    fn formats_rfc3339() {
        assert_eq!(
            format_rfc3339(1_304_358_096 * MICROS_PER_SEC),
            "2011-05-02T17:41:36Z"
        );
    }

    #[test]
    fn missing_timestamp_becomes_received() {
        let mut e = event(json!({}));
        let mut errors = EventErrors::default();
        assert!(normalize_timestamps(&mut e, &ctx(1000.5), &mut errors).is_ok());
        assert_eq!(e["timestamp"], json!(1000.5));
        assert_eq!(e["received"], json!(1000.5));
    }

    #[test]
    fn small_drift_is_network_delay() {
        let mut e = event(json!({"timestamp": 1_000_000.0}));
        let mut errors = EventErrors::default();
        let c = NormalizeContext {
            sent_at: Some(1_000_000.0),
            ..ctx(1_000_000.0 + 54.0 * 60.0)
        };
        assert!(normalize_timestamps(&mut e, &c, &mut errors).is_ok());
        assert_eq!(e["timestamp"], json!(1_000_000.0));
        assert!(errors.entries().is_empty());
    }

    #[test]
    fn drift_shifts_every_timestamp() {
        let day = 86_400.0;
        let mut e = event(json!({
            "type": "transaction",
            "timestamp": "2026-11-25T02:40:43Z",
            "start_timestamp": 1_795_574_442.5,
            "breadcrumbs": {"values": [{"timestamp": 1_795_574_440.25}, {"message": "no time"}]},
            "spans": [{"start_timestamp": 1_795_574_442.75, "timestamp": "2026-11-25T02:40:43Z"}]
        }));
        let sent_at = 1_795_574_443.0;
        let c = NormalizeContext {
            sent_at: Some(sent_at),
            ..ctx(sent_at + 3.0 * day)
        };
        let mut errors = EventErrors::default();
        assert!(normalize_timestamps(&mut e, &c, &mut errors).is_ok());
        assert_eq!(e["timestamp"], json!(1_795_574_443.0 + 3.0 * day));
        assert_eq!(e["start_timestamp"], json!(1_795_574_442.5 + 3.0 * day));
        assert_eq!(
            e["breadcrumbs"]["values"][0]["timestamp"],
            json!(1_795_574_440.25 + 3.0 * day)
        );
        assert!(e["breadcrumbs"]["values"][1].get("timestamp").is_none());
        assert_eq!(
            e["spans"][0]["start_timestamp"],
            json!(1_795_574_442.75 + 3.0 * day)
        );
        assert_eq!(errors.entries()[0]["type"], json!("clock_drift"));
        assert_eq!(
            errors.entries()[0]["sdk_time"],
            json!("2026-11-25T02:40:43Z")
        );
    }

    #[test]
    fn future_event_moves_to_received() {
        let mut e =
            event(json!({"timestamp": 2000.0, "breadcrumbs": {"values": [{"timestamp": 1990.0}]}}));
        let mut errors = EventErrors::default();
        assert!(normalize_timestamps(&mut e, &ctx(1000.0), &mut errors).is_ok());
        assert_eq!(e["timestamp"], json!(1000.0));
        assert_eq!(e["breadcrumbs"]["values"][0]["timestamp"], json!(990.0));
        assert_eq!(errors.entries()[0]["type"], json!("future_timestamp"));
    }

    #[test]
    fn event_older_than_retention_moves_to_received() {
        let received = 200.0 * 86_400.0;
        let mut e = event(json!({"timestamp": 10.0 * 86_400.0}));
        let mut errors = EventErrors::default();
        let c = NormalizeContext {
            retention_days: 30,
            ..ctx(received)
        };
        assert!(normalize_timestamps(&mut e, &c, &mut errors).is_ok());
        assert_eq!(e["timestamp"], json!(received));
        assert_eq!(errors.entries()[0]["type"], json!("past_timestamp"));
    }

    #[test]
    fn unreadable_timestamps_are_noted() {
        let mut e =
            event(json!({"timestamp": "soon", "breadcrumbs": {"values": [{"timestamp": []}]}}));
        let mut errors = EventErrors::default();
        assert!(normalize_timestamps(&mut e, &ctx(5.0), &mut errors).is_ok());
        assert_eq!(e["timestamp"], json!(5.0));
        let names: Vec<_> = errors.entries().iter().map(|e| e["name"].clone()).collect();
        assert_eq!(
            names,
            vec![json!("timestamp"), json!("breadcrumbs.values.0.timestamp")]
        );
    }

    #[test]
    fn transaction_needs_an_ordered_range() {
        let mut errors = EventErrors::default();
        let mut backwards =
            event(json!({"type": "transaction", "start_timestamp": 20.0, "timestamp": 10.0}));
        assert!(normalize_timestamps(&mut backwards, &ctx(30.0), &mut errors).is_err());
        let mut no_start = event(json!({"type": "transaction", "timestamp": 10.0}));
        assert!(normalize_timestamps(&mut no_start, &ctx(30.0), &mut errors).is_err());
    }
}
