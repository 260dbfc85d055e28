//! Timestamps as SDKs send them and as Sentry's web API prints them.
//!
//! SDKs disagree on the wire form of a time: the Python SDK sends RFC 3339 strings with
//! microseconds (`2026-11-25T02:40:53.070522Z`), the JS SDKs milliseconds, most event
//! `timestamp`s are unix seconds as a float, and some clients send zone-less strings that Relay
//! reads as UTC. Vigil keeps every time as `f64` unix seconds (UTC) and prints the one form
//! Sentry's API uses, `2026-11-25T02:41:26.483000Z`, which `sentry-cli` parses.

use serde_json::Value;
use time::{Date, Month, OffsetDateTime};

/// Julian day number of 1970-01-01.
const UNIX_EPOCH_JULIAN_DAY: i64 = 2_440_588;
/// 0001-01-01T00:00:00Z and 9999-12-31T23:59:59Z: the years four digits can print.
const MIN_PRINTABLE_SECS: i64 = -62_135_596_800;
const MAX_PRINTABLE_SECS: i64 = 253_402_300_799;

/// Reads a timestamp: a JSON number of unix seconds, an RFC 3339 string, or a string holding a
/// number. `None` for anything else, including `NaN`/infinite values.
pub fn parse_timestamp(value: &Value) -> Option<f64> {
    match value {
        Value::Number(number) => number.as_f64().filter(|secs| secs.is_finite()),
        Value::String(text) => parse_timestamp_text(text),
        _ => None,
    }
}

/// Reads a timestamp sent as a string: unix seconds or RFC 3339. For readers of other JSON
/// trees than `Value` (numbers are only `as_f64` and a finiteness check).
pub fn parse_timestamp_text(text: &str) -> Option<f64> {
    let text = text.trim();
    // `f64::from_str` also takes "inf" and "NaN"; only finite numbers are times.
    match text.parse::<f64>() {
        Ok(secs) if secs.is_finite() => Some(secs),
        Ok(_) => None,
        Err(_) => parse_rfc3339(text),
    }
}

/// Parses an RFC 3339 date-time into unix seconds.
///
/// Lenient where SDKs are sloppy: the zone may be missing (then it is UTC, as Relay assumes),
/// `Z` may be lower case, the offset may lack its colon (`+0100`) or minutes (`+01`), the
/// separator may be a space (Python's `str(datetime)`), seconds may be missing and the fraction
/// may have any number of digits. Calendar validity is checked (no February 30th).
pub fn parse_rfc3339(s: &str) -> Option<f64> {
    let mut cursor = Cursor {
        bytes: s.trim().as_bytes(),
        pos: 0,
    };

    let year = cursor.digits(4)? as i32;
    cursor.expect(b'-')?;
    let month = cursor.digits(2)?;
    cursor.expect(b'-')?;
    let day = cursor.digits(2)?;
    if !matches!(cursor.next()?, b'T' | b't' | b' ') {
        return None;
    }
    let hour = cursor.digits(2)?;
    cursor.expect(b':')?;
    let minute = cursor.digits(2)?;
    let second = if cursor.peek() == Some(b':') {
        cursor.pos += 1;
        cursor.digits(2)?
    } else {
        0
    };
    let mut fraction = 0.0;
    if matches!(cursor.peek(), Some(b'.' | b',')) {
        cursor.pos += 1;
        fraction = cursor.fraction()?;
    }
    let offset_secs = match cursor.next() {
        None => 0,
        Some(b'Z' | b'z') => 0,
        Some(sign @ (b'+' | b'-')) => {
            let hours = cursor.digits(2)?;
            if cursor.peek() == Some(b':') {
                cursor.pos += 1;
            }
            let minutes = if cursor.peek().is_some() {
                cursor.digits(2)?
            } else {
                0
            };
            if hours > 23 || minutes > 59 {
                return None;
            }
            let secs = i64::from(hours * 3600 + minutes * 60);
            if sign == b'-' {
                -secs
            } else {
                secs
            }
        }
        Some(_) => return None,
    };
    if cursor.peek().is_some() {
        return None;
    }
    // RFC 3339 allows a leap second (`:60`); it is counted as the next second, as chrono does.
    if hour > 23 || minute > 59 || second > 60 {
        return None;
    }

    let month = Month::try_from(u8::try_from(month).ok()?).ok()?;
    let date = Date::from_calendar_date(year, month, u8::try_from(day).ok()?).ok()?;
    let days = i64::from(date.to_julian_day()) - UNIX_EPOCH_JULIAN_DAY;
    let secs = days * 86_400 + i64::from(hour * 3600 + minute * 60 + second) - offset_secs;
    Some(secs as f64 + fraction)
}

/// Prints unix seconds the way Sentry's web API does: UTC, microseconds, `Z`
/// (`2026-11-25T02:41:26.483000Z`).
///
/// Total for every input, because it prints stored values that cannot be refused any more:
/// times outside years 1–9999 are clamped to those bounds and `NaN` prints as the epoch.
pub fn format_iso(ts: f64) -> String {
    let ts = if ts.is_nan() { 0.0 } else { ts };
    // `as` saturates (infinities become i64::MIN/MAX), so clamping in integers is exact even
    // where an f64 can no longer tell microseconds apart.
    let micros = ((ts * 1e6).round() as i64).clamp(
        MIN_PRINTABLE_SECS * 1_000_000,
        MAX_PRINTABLE_SECS * 1_000_000 + 999_999,
    );
    let secs = micros.div_euclid(1_000_000);
    let sub = micros.rem_euclid(1_000_000);
    let dt = OffsetDateTime::from_unix_timestamp(secs).unwrap_or(OffsetDateTime::UNIX_EPOCH);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
        dt.year(),
        u8::from(dt.month()),
        dt.day(),
        dt.hour(),
        dt.minute(),
        dt.second(),
        sub
    )
}

/// A read position in an ASCII date-time.
struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn next(&mut self) -> Option<u8> {
        let byte = self.peek()?;
        self.pos += 1;
        Some(byte)
    }

    fn expect(&mut self, want: u8) -> Option<()> {
        (self.next()? == want).then_some(())
    }

    /// Exactly `n` decimal digits as a number.
    fn digits(&mut self, n: usize) -> Option<u32> {
        let mut value = 0u32;
        for _ in 0..n {
            let byte = self.next()?;
            if !byte.is_ascii_digit() {
                return None;
            }
            value = value * 10 + u32::from(byte - b'0');
        }
        Some(value)
    }

    /// One or more fraction digits as a value in `[0, 1)`; digits past nanoseconds are read and
    /// dropped, since an `f64` of unix seconds cannot hold them anyway.
    fn fraction(&mut self) -> Option<f64> {
        let mut numerator = 0u64;
        let mut denominator = 1u64;
        let start = self.pos;
        while let Some(byte) = self.peek().filter(u8::is_ascii_digit) {
            if denominator < 1_000_000_000 {
                numerator = numerator * 10 + u64::from(byte - b'0');
                denominator *= 10;
            }
            self.pos += 1;
        }
        (self.pos > start).then(|| numerator as f64 / denominator as f64)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// 2026-11-25T02:41:26Z
    const BASE: f64 = 1_795_574_486.0;

    fn close(a: Option<f64>, b: f64) -> bool {
        a.is_some_and(|a| (a - b).abs() < 1e-5)
    }

    #[test]
    fn js_sdk_milliseconds_with_z() {
        assert!(close(
            parse_rfc3339("2026-11-25T02:41:26.483Z"),
            BASE + 0.483
        ));
    }

    #[test]
    fn python_sdk_microseconds_with_z() {
        assert!(close(
            parse_rfc3339("2026-11-25T02:41:26.070522Z"),
            BASE + 0.070522
        ));
    }

    #[test]
    fn no_zone_means_utc() {
        assert!(close(parse_rfc3339("2026-11-25T02:41:26"), BASE));
        assert!(close(parse_rfc3339("2026-11-25T02:41:26.5"), BASE + 0.5));
    }

    #[test]
    fn offsets_are_applied() {
        assert!(close(parse_rfc3339("2026-11-25T03:41:26+01:00"), BASE));
        assert!(close(parse_rfc3339("2026-11-25T03:41:26+0100"), BASE));
        assert!(close(parse_rfc3339("2026-11-25T03:41:26+01"), BASE));
        assert!(close(
            parse_rfc3339("2026-11-24T21:11:26.25-05:30"),
            BASE + 0.25
        ));
        assert!(close(parse_rfc3339("2026-11-25T02:41:26+00:00"), BASE));
    }

    #[test]
    fn lenient_separators_and_case() {
        assert!(close(
            parse_rfc3339("2026-11-25 02:41:26.483"),
            BASE + 0.483
        ));
        assert!(close(parse_rfc3339("2026-11-25t02:41:26z"), BASE));
        assert!(close(parse_rfc3339("2026-11-25T02:41"), BASE - 26.0));
        assert!(close(parse_rfc3339("2026-11-25T02:41:26,5Z"), BASE + 0.5));
    }

    #[test]
    fn long_fractions_are_truncated_not_rejected() {
        assert!(close(
            parse_rfc3339("2026-11-25T02:41:26.123456789123Z"),
            BASE + 0.123456789
        ));
    }

    #[test]
    fn leap_second_counts_as_next_second() {
        assert!(close(parse_rfc3339("2026-11-25T02:41:60Z"), BASE + 34.0));
    }

    #[test]
    fn epoch_and_pre_epoch() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some(0.0));
        assert_eq!(parse_rfc3339("1969-12-31T23:59:59Z"), Some(-1.0));
        assert_eq!(parse_rfc3339("1970-01-01T00:02:03Z"), Some(123.0));
    }

    #[test]
    fn invalid_date_times_are_rejected() {
        for bad in [
            "",
            "2026-11-25",
            "2026-02-30T00:00:00Z",
            "2026-13-01T00:00:00Z",
            "2026-11-25T24:00:00Z",
            "2026-11-25T02:61:00Z",
            "2026-11-25T02:41:26.Z",
            "2026-11-25T02:41:26Zjunk",
            "2026-11-25T02:41:26+25:00",
            "2026-11-25X02:41:26Z",
            "26-11-25T02:41:26Z",
            "２０２６-11-25T02:41:26Z",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn parse_timestamp_reads_numbers_and_strings() {
        assert_eq!(parse_timestamp(&json!(1795574486.5)), Some(BASE + 0.5));
        assert_eq!(parse_timestamp(&json!(1795574486)), Some(BASE));
        assert_eq!(parse_timestamp(&json!("1795574486.5")), Some(BASE + 0.5));
        assert!(close(
            parse_timestamp(&json!("2026-11-25T02:41:26.483Z")),
            BASE + 0.483
        ));
    }

    #[test]
    fn parse_timestamp_rejects_other_values() {
        for bad in [
            json!(null),
            json!(true),
            json!([]),
            json!({}),
            json!("soon"),
            json!("NaN"),
            json!("inf"),
            json!("-Infinity"),
        ] {
            assert_eq!(parse_timestamp(&bad), None, "{bad}");
        }
    }

    #[test]
    fn format_iso_prints_microseconds_and_z() {
        assert_eq!(format_iso(BASE + 0.483), "2026-11-25T02:41:26.483000Z");
        assert_eq!(format_iso(BASE), "2026-11-25T02:41:26.000000Z");
        assert_eq!(format_iso(0.0), "1970-01-01T00:00:00.000000Z");
        assert_eq!(format_iso(-0.5), "1969-12-31T23:59:59.500000Z");
    }

    #[test]
    fn format_iso_rounds_to_the_nearest_microsecond() {
        assert_eq!(
            format_iso(BASE + 0.070_522_4),
            "2026-11-25T02:41:26.070522Z"
        );
        assert_eq!(
            format_iso(BASE + 0.999_999_7),
            "2026-11-25T02:41:27.000000Z"
        );
    }

    #[test]
    fn format_iso_is_total() {
        assert_eq!(format_iso(f64::NAN), "1970-01-01T00:00:00.000000Z");
        assert_eq!(format_iso(f64::INFINITY), "9999-12-31T23:59:59.999999Z");
        assert_eq!(format_iso(f64::NEG_INFINITY), "0001-01-01T00:00:00.000000Z");
    }

    #[test]
    fn format_then_parse_round_trips() {
        for ts in [0.0, BASE + 0.483, 1e9 + 0.000_001, 4_102_444_800.25] {
            assert!(close(parse_rfc3339(&format_iso(ts)), ts), "{ts}");
        }
    }
}
