//! Envelopes: the container every current SDK posts to `/api/{id}/envelope/`.
//!
//! ```text
//! Envelope = Headers { "\n" Item } [ "\n" ] ;
//! Item     = Headers "\n" Payload ;
//! ```
//!
//! A JSON header line, then items, each a JSON header line and a payload. A payload is either
//! `length` bytes (anything, newlines included) or, without `length`, the bytes up to the next
//! `\n` — the JS SDKs never send `length`, the Python SDK always does. [`parse_envelope`] applies
//! Relay's rules exactly (protocol §4), with one deliberate leniency: any run of whitespace at
//! the very end is accepted, because proxies and hand-written test envelopes add trailing
//! newlines and nothing is lost by ignoring them.
//!
//! Parsing looks only at headers; payloads are handed on as zero-copy slices of the body, and
//! whether they are valid JSON is the business of whoever processes that item type.

mod header;
mod item;

use bytes::Bytes;
use serde_json::{Map, Value};

use self::header::{read_header, Header};
pub use self::item::{Item, ItemType};
use crate::ids::normalize_uuid;
use crate::timestamp::parse_timestamp;

/// Why a body is not an envelope. Each message is one line, for a 400 answer's `detail`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvelopeError {
    /// The body is empty or only whitespace.
    #[error("missing envelope header")]
    MissingHeader,
    /// The first line is not a JSON object, has a duplicate key or an invalid `event_id`.
    #[error("invalid envelope header: {0}")]
    InvalidHeader(String),
    /// Something other than `\n` follows the envelope header.
    #[error("missing newline after envelope header")]
    MissingNewlineAfterHeader,
    /// An item header is not valid JSON (or repeats a key).
    #[error("invalid item header: {0}")]
    InvalidItemHeader(String),
    /// An item header is valid JSON but not an object.
    #[error("item header is not a JSON object")]
    ItemHeaderNotObject,
    /// An item header without `type`.
    #[error("missing item type")]
    MissingItemType,
    /// An item `type` that is not a string.
    #[error("item type is not a string")]
    InvalidItemType,
    /// An item `length` that is not a non-negative integer.
    #[error("invalid item length")]
    InvalidItemLength,
    /// Something other than `\n` follows an item header.
    #[error("missing newline after item header")]
    MissingNewlineAfterItemHeader,
    /// The byte after a `length`-delimited payload is not `\n` (a wrong `length`).
    #[error("missing newline after item payload")]
    MissingNewlineAfterPayload,
    /// An item's `length` runs past the end of the body.
    #[error("unexpected end of file")]
    UnexpectedEof,
}

/// A parsed envelope.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Envelope {
    /// The envelope header as sent (`event_id`, `dsn`, `sent_at`, `sdk`, `trace`, and any
    /// unknown keys, in their original order).
    pub headers: Map<String, Value>,
    /// The items in body order; unknown types included.
    pub items: Vec<Item>,
}

impl Envelope {
    /// The header `event_id` as 32 lowercase hex. `sentry-cli` and the Rust SDK send the
    /// hyphenated form here while the payload has the simple form, so ids must be compared in
    /// this normalized form.
    pub fn event_id(&self) -> Option<String> {
        self.headers
            .get("event_id")
            .and_then(Value::as_str)
            .and_then(normalize_uuid)
    }

    /// The header `dsn`, with which a tunnel (no request auth) authenticates.
    pub fn dsn(&self) -> Option<&str> {
        self.headers.get("dsn").and_then(Value::as_str)
    }

    /// The header `sent_at` (the SDK's clock at send time) in unix seconds, for clock-drift
    /// correction. `None` when absent or unreadable — Relay refuses an unreadable `sent_at`, but
    /// dropping an event over a field that only tunes timestamps loses more than it protects.
    pub fn sent_at(&self) -> Option<f64> {
        self.headers.get("sent_at").and_then(parse_timestamp)
    }

    /// Whether some item needs an event id (protocol §4.1), so the server must make one up when
    /// the header has none.
    pub fn requires_event_id(&self) -> bool {
        self.items.iter().any(|item| item.ty().requires_event())
    }

    /// Serializes the envelope, every item with a `length` header equal to its payload size,
    /// so that payloads containing newlines survive. `parse_envelope(to_vec())` gives back the
    /// same envelope, apart from `length` headers that were missing or wrong.
    pub fn to_vec(&self) -> Vec<u8> {
        let size = self
            .items
            .iter()
            .map(|item| item.payload.len() + 64)
            .sum::<usize>();
        let mut out = Vec::with_capacity(size + 256);
        write_json(&mut out, &self.headers);
        out.push(b'\n');
        for item in &self.items {
            let mut headers = item.headers.clone();
            headers.insert("length".to_owned(), Value::from(item.payload.len()));
            write_json(&mut out, &headers);
            out.push(b'\n');
            out.extend_from_slice(&item.payload);
            out.push(b'\n');
        }
        out
    }
}

fn write_json(out: &mut Vec<u8>, map: &Map<String, Value>) {
    serde_json::to_writer(out, map)
        .expect("a JSON map with string keys always serializes into a Vec");
}

/// Parses an envelope body (after `Content-Encoding` has been undone).
///
/// The rules, as Relay applies them:
/// 1. The first line is a JSON object, followed by `\n` or the end. Zero items is valid.
/// 2. Each item is a JSON header object with a string `type`, then `\n` — or the end, which
///    gives an empty payload.
/// 3. With `length: N` the payload is the next N bytes, which must be followed by `\n` or the
///    end (anything else, `\r` included, means the length is wrong).
/// 4. Without `length` (or with `length: null`) the payload runs to the next `\n` or the end;
///    a `\r` before that newline belongs to the payload.
/// 5. The byte after an item starts the next header; whitespace before a header is skipped, and
///    whitespace at the end of the body is ignored.
///
/// Unknown item types and unknown header keys are kept. Payloads are slices of `data`.
pub fn parse_envelope(data: Bytes) -> Result<Envelope, EnvelopeError> {
    let (headers, header_end) = match read_header(&data) {
        None => return Err(EnvelopeError::MissingHeader),
        Some(Err(error)) => return Err(EnvelopeError::InvalidHeader(error.to_string())),
        Some(Ok((Header::NotObject, _))) => {
            return Err(EnvelopeError::InvalidHeader("not a JSON object".to_owned()))
        }
        Some(Ok((Header::Object(headers), end))) => (headers, end),
    };
    if !ends_line(&data, header_end) {
        return Err(EnvelopeError::MissingNewlineAfterHeader);
    }
    check_event_id(&headers)?;

    let mut items = Vec::new();
    let mut offset = header_end + 1;
    while data.get(offset..).is_some_and(|rest| !is_blank(rest)) {
        let (item, next) = parse_item(&data, offset)?;
        items.push(item);
        offset = next;
    }
    Ok(Envelope { headers, items })
}

/// Parses the item whose header starts at (or after whitespace following) `offset`; returns it
/// and the offset just past its terminating newline.
fn parse_item(data: &Bytes, offset: usize) -> Result<(Item, usize), EnvelopeError> {
    let rest = data.get(offset..).unwrap_or_default();
    let (headers, header_end) = match read_header(rest) {
        None => return Err(EnvelopeError::UnexpectedEof),
        Some(Err(error)) => return Err(EnvelopeError::InvalidItemHeader(error.to_string())),
        Some(Ok((Header::NotObject, _))) => return Err(EnvelopeError::ItemHeaderNotObject),
        Some(Ok((Header::Object(headers), end))) => (headers, offset + end),
    };
    if !ends_line(data, header_end) {
        return Err(EnvelopeError::MissingNewlineAfterItemHeader);
    }
    match headers.get("type") {
        None | Some(Value::Null) => return Err(EnvelopeError::MissingItemType),
        Some(Value::String(_)) => {}
        Some(_) => return Err(EnvelopeError::InvalidItemType),
    }
    let length = match headers.get("length") {
        None | Some(Value::Null) => None,
        Some(value) => Some(value.as_u64().ok_or(EnvelopeError::InvalidItemLength)?),
    };

    // The last header may end the body without a newline: then the payload starts (and ends)
    // at the end.
    let payload_start = (header_end + 1).min(data.len());
    let payload_end = match length {
        Some(length) => {
            let end = usize::try_from(length)
                .ok()
                .and_then(|length| payload_start.checked_add(length))
                .filter(|end| *end <= data.len())
                .ok_or(EnvelopeError::UnexpectedEof)?;
            if !ends_line(data, end) {
                return Err(EnvelopeError::MissingNewlineAfterPayload);
            }
            end
        }
        None => data[payload_start..]
            .iter()
            .position(|byte| *byte == b'\n')
            .map_or(data.len(), |newline| payload_start + newline),
    };

    let item = Item {
        headers,
        payload: data.slice(payload_start..payload_end),
    };
    Ok((item, payload_end + 1))
}

/// Whether `offset` is a line end: a `\n` or the end of the body.
fn ends_line(data: &[u8], offset: usize) -> bool {
    matches!(data.get(offset), None | Some(b'\n'))
}

/// Whether `bytes` is only JSON whitespace (what serde_json skips before a value).
fn is_blank(bytes: &[u8]) -> bool {
    bytes
        .iter()
        .all(|byte| matches!(byte, b' ' | b'\t' | b'\n' | b'\r'))
}

/// Relay refuses an envelope whose `event_id` is not a UUID: the answer `{"id": …}` must name
/// the event the SDK sent, and an id that cannot be stored cannot be named.
fn check_event_id(headers: &Map<String, Value>) -> Result<(), EnvelopeError> {
    match headers.get("event_id") {
        None | Some(Value::Null) => Ok(()),
        Some(Value::String(id)) if normalize_uuid(id).is_some() => Ok(()),
        Some(_) => Err(EnvelopeError::InvalidHeader(
            "event_id is not a UUID".to_owned(),
        )),
    }
}

#[cfg(test)]
mod tests;
