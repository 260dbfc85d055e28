//! The stored form of events and queued envelopes: zstd-compressed bytes, for any backend.
//!
//! An event is kept as its normalized JSON compressed with zstd, with its tags as a JSON array
//! of `[key, value]` pairs and the uncompressed length beside it (which bounds decompression).
//! Queued envelopes are kept compressed the same way. The PostgreSQL backend uses this module.
//! The SQLite backend writes the same columns in `sqlite/events.rs`, and additionally
//! compresses an event against its hash's first event (`sqlite/references.rs`); an SQLite row
//! without a reference is exactly this form.

use crate::{NewEvent, StoreError, StoreResult, StoredEvent};

/// zstd level 1: ingest is the hot path and reads are rare; on event JSON the higher levels
/// gain only a little size for several times the CPU.
const ZSTD_LEVEL: i32 = 1;

/// An event with its JSON serialized and compressed, ready to insert.
pub(crate) struct EncodedEvent {
    /// The event; its `data` has been moved into `data_zstd`.
    pub event: NewEvent,
    pub data_zstd: Vec<u8>,
    /// Bytes of the JSON before compression.
    pub size: i64,
    /// `tags` as a JSON array of `[key, value]` pairs.
    pub tags_json: String,
}

fn failed(what: &str, error: impl std::fmt::Display) -> StoreError {
    StoreError::Database(format!("{what}: {error}"))
}

fn corrupt(what: &str, error: impl std::fmt::Display) -> StoreError {
    StoreError::Database(format!("{what}: stored data is unreadable: {error}"))
}

/// Serializes and compresses events, outside any transaction.
///
/// One per batch: it keeps one zstd context, and creating a context costs more than
/// compressing a typical event.
pub(crate) struct Encoder {
    compressor: zstd::bulk::Compressor<'static>,
}

impl Encoder {
    pub(crate) fn new() -> StoreResult<Encoder> {
        let compressor = zstd::bulk::Compressor::new(ZSTD_LEVEL)
            .map_err(|e| failed("creating a zstd context", e))?;
        Ok(Encoder { compressor })
    }

    pub(crate) fn encode(&mut self, mut event: NewEvent) -> StoreResult<EncodedEvent> {
        let data = std::mem::take(&mut event.data);
        let json = serde_json::to_vec(&data).map_err(|e| failed("serializing event data", e))?;
        let data_zstd = self
            .compressor
            .compress(&json)
            .map_err(|e| failed("compressing event data", e))?;
        let tags_json =
            serde_json::to_string(&event.tags).map_err(|e| failed("serializing event tags", e))?;
        Ok(EncodedEvent {
            event,
            data_zstd,
            size: i64::try_from(json.len()).unwrap_or(i64::MAX),
            tags_json,
        })
    }
}

/// Decompresses the events of one read with one zstd context.
pub(crate) struct Decoder {
    decompressor: zstd::bulk::Decompressor<'static>,
}

impl Decoder {
    pub(crate) fn new() -> StoreResult<Decoder> {
        let decompressor =
            zstd::bulk::Decompressor::new().map_err(|e| failed("creating a zstd context", e))?;
        Ok(Decoder { decompressor })
    }

    /// Fills `event.tags` and `event.data` from their stored forms; `event.size` must be set.
    pub(crate) fn decode(
        &mut self,
        mut event: StoredEvent,
        tags_json: &str,
        data_zstd: &[u8],
    ) -> StoreResult<StoredEvent> {
        let what = || format!("event {}", event.event_id);
        event.tags = serde_json::from_str(tags_json).map_err(|e| corrupt(&what(), e))?;
        // `size` is the exact length of the JSON, so it bounds the output buffer.
        let capacity = usize::try_from(event.size).map_err(|e| corrupt(&what(), e))?;
        let json = self
            .decompressor
            .decompress(data_zstd, capacity)
            .map_err(|e| corrupt(&what(), e))?;
        event.data = serde_json::from_slice(&json).map_err(|e| corrupt(&what(), e))?;
        Ok(event)
    }
}

thread_local! {
    /// One zstd context per blocking-pool thread for queued envelopes: creating one costs more
    /// than compressing a typical envelope.
    static ENVELOPE_COMPRESSOR: std::cell::RefCell<Option<zstd::bulk::Compressor<'static>>> =
        const { std::cell::RefCell::new(None) };
}

/// Compresses a queued envelope's body (call it on the blocking pool).
pub(crate) fn compress_envelope(body: &[u8]) -> StoreResult<Vec<u8>> {
    let failed = |e: std::io::Error| failed("compressing a queued envelope", e);
    ENVELOPE_COMPRESSOR.with(|cell| {
        let mut slot = cell.borrow_mut();
        let mut compressor = match slot.take() {
            Some(compressor) => compressor,
            None => zstd::bulk::Compressor::new(ZSTD_LEVEL).map_err(failed)?,
        };
        let compressed = compressor.compress(body).map_err(failed);
        *slot = Some(compressor);
        compressed
    })
}

/// Decompresses queued envelope bodies of one claim with one context.
pub(crate) struct EnvelopeDecoder {
    decompressor: zstd::bulk::Decompressor<'static>,
}

impl EnvelopeDecoder {
    pub(crate) fn new() -> StoreResult<EnvelopeDecoder> {
        let decompressor =
            zstd::bulk::Decompressor::new().map_err(|e| failed("creating a zstd context", e))?;
        Ok(EnvelopeDecoder { decompressor })
    }

    /// The body of queue entry `id`, `size` bytes long uncompressed.
    pub(crate) fn decode(&mut self, id: i64, compressed: &[u8], size: i64) -> StoreResult<Vec<u8>> {
        let capacity = usize::try_from(size)
            .map_err(|e| StoreError::Database(format!("queue entry {id} is corrupt: {e}")))?;
        self.decompressor
            .decompress(compressed, capacity)
            .map_err(|e| StoreError::Database(format!("queue entry {id} is corrupt: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn events_round_trip_through_their_stored_form() {
        let event = NewEvent {
            project_id: 1,
            event_id: "a".repeat(32),
            event_type: "error".into(),
            timestamp: 1.0,
            received: 2.0,
            level: "error".into(),
            platform: "python".into(),
            title: "t".into(),
            culprit: "c".into(),
            metadata: json!({}),
            hashes: vec!["h".into()],
            environment: None,
            release: None,
            transaction: None,
            user_tag: None,
            tags: vec![("browser".into(), "Firefox".into())],
            is_unhandled: false,
            message: String::new(),
            data: json!({"ü": "x".repeat(1000), "n": 1}),
        };
        let data = event.data.clone();
        let encoded = Encoder::new().unwrap().encode(event).unwrap();
        let stored = StoredEvent {
            project_id: 1,
            event_id: encoded.event.event_id.clone(),
            issue_id: None,
            event_type: String::new(),
            timestamp: 1.0,
            received: 2.0,
            level: String::new(),
            platform: String::new(),
            title: String::new(),
            culprit: String::new(),
            environment: None,
            release: None,
            transaction: None,
            user_tag: None,
            tags: Vec::new(),
            data: serde_json::Value::Null,
            size: encoded.size,
        };
        let decoded = Decoder::new()
            .unwrap()
            .decode(stored, &encoded.tags_json, &encoded.data_zstd)
            .unwrap();
        assert_eq!(decoded.data, data);
        assert_eq!(decoded.tags, encoded.event.tags);
    }

    #[test]
    fn envelopes_round_trip_and_corruption_is_an_error() {
        let body = b"{\"event_id\":\"x\"}\n{\"type\":\"event\"}\n{}\n".repeat(10);
        let compressed = compress_envelope(&body).unwrap();
        let mut decoder = EnvelopeDecoder::new().unwrap();
        assert_eq!(
            decoder.decode(1, &compressed, body.len() as i64).unwrap(),
            body
        );
        assert!(decoder.decode(1, b"not zstd", 10).is_err());
    }
}
