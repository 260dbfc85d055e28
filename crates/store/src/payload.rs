//! The stored form of events and queued envelopes: zstd-compressed bytes, for any backend.
//!
//! An event is kept as its normalized JSON compressed with zstd, with its tags as a JSON array
//! of `[key, value]` pairs and the uncompressed length beside it (which bounds decompression).
//! Where it can, an event is compressed against its *reference*: the first event stored with
//! its first grouping hash, used as a zstd raw-content dictionary. The events of one issue are
//! mostly the same text (the stack trace, the SDK, the contexts), so only what differs is
//! stored: about a tenth of compressing each on its own. Queued envelopes are kept compressed
//! on their own.
//!
//! Both backends use this module; each stores the bytes in its own tables.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use zstd::zstd_safe::{self, CCtx, CParameter};

use crate::{NewEvent, StoreError, StoreResult, StoredEvent};

/// zstd level 1: ingest is the hot path and reads are rare; on event JSON the higher levels
/// gain only a little size for several times the CPU.
const ZSTD_LEVEL: i32 = 1;

/// Events larger than this are compressed on their own and never become a reference: a
/// dictionary costs its size on every use.
pub(crate) const MAX_REFERENCE_BYTES: usize = 256 * 1024;

/// References kept in memory (by project and hash), about 10 KB each.
const CACHE_ENTRIES: usize = 2048;

/// A stored reference: its id and its JSON.
#[derive(Debug, Clone)]
pub(crate) struct Reference {
    pub id: i64,
    pub json: Arc<[u8]>,
}

/// What an event's `data` was compressed against.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum ReferenceLink {
    /// Nothing: compressed on its own.
    None,
    /// A stored reference event.
    Stored(i64),
    /// The reference this batch brings at this index of [`EncodedBatch::references`].
    New(usize),
}

/// An event with its JSON serialized and compressed, ready to insert.
pub(crate) struct EncodedEvent {
    /// The event; its `data` has been moved into `data_zstd`.
    pub event: NewEvent,
    pub data_zstd: Vec<u8>,
    pub reference: ReferenceLink,
    /// Bytes of the JSON before compression.
    pub size: i64,
    /// `tags` as a JSON array of `[key, value]` pairs.
    pub tags_json: String,
}

/// A reference event a batch brings: the first event of a hash not seen before.
pub(crate) struct NewReference {
    pub project_id: i64,
    pub hash: String,
    pub json: Arc<[u8]>,
    /// The reference's JSON, compressed on its own.
    pub data_zstd: Vec<u8>,
}

/// A batch of events ready to insert, with the references they are compressed against.
pub(crate) struct EncodedBatch {
    pub events: Vec<EncodedEvent>,
    pub references: Vec<NewReference>,
}

fn failed(what: &str, error: impl std::fmt::Display) -> StoreError {
    StoreError::Database(format!("{what}: {error}"))
}

fn corrupt(what: &str, error: impl std::fmt::Display) -> StoreError {
    StoreError::Database(format!("{what}: stored data is unreadable: {error}"))
}

/// The hash whose reference an event is compressed against: its first.
pub(crate) fn reference_hash(event: &NewEvent) -> Option<&str> {
    event.hashes.first().map(String::as_str)
}

/// Serializes and compresses events, outside any transaction.
///
/// One per batch: it keeps its zstd context for events without a reference, and creating a
/// context costs more than compressing a typical event.
///
/// An event is compressed with its reference as a zstd *prefix*: the content the frame refers
/// back to, exactly what a raw-content dictionary is to the decoder, so [`Decoder`] reads it
/// with the reference's JSON as its dictionary. Consecutive events rarely share a reference
/// (one batch spans many issues), and loading a reference as a dictionary builds and fills
/// tables sized for reuse (about 150 KB for a 12 KB reference) that one event then copies:
/// that cost more than the compression. A prefix is indexed into the context's own tables,
/// once, for the one event; nothing is kept, so memory does not grow with the hot issues.
pub(crate) struct Encoder {
    plain: zstd::bulk::Compressor<'static>,
}

/// An event serialized, waiting for its batch's references to be known.
struct Serialized {
    event: NewEvent,
    json: Vec<u8>,
    reference: ReferenceLink,
}

impl Encoder {
    pub(crate) fn new() -> StoreResult<Encoder> {
        let plain = zstd::bulk::Compressor::new(ZSTD_LEVEL)
            .map_err(|e| failed("creating a zstd context", e))?;
        Ok(Encoder { plain })
    }

    /// Encodes a batch in order. `stored_reference` finds the reference of a hash that earlier
    /// batches stored; the first event of a hash without one becomes the hash's reference.
    pub(crate) fn encode_batch(
        &mut self,
        events: Vec<NewEvent>,
        mut stored_reference: impl FnMut(i64, &str) -> Option<Reference>,
    ) -> StoreResult<EncodedBatch> {
        let mut references: Vec<NewReference> = Vec::new();
        let mut new_by_key: HashMap<(i64, String), usize> = HashMap::new();
        // The reference of each event, apart from the events: the compression context borrows
        // them for the whole batch.
        let mut prefixes: Vec<Option<Arc<[u8]>>> = Vec::with_capacity(events.len());
        let mut serialized = Vec::with_capacity(events.len());
        for mut event in events {
            // Processing wrote the text; the store only compresses it.
            let json = std::mem::take(&mut event.data).into_bytes();
            let hash = reference_hash(&event).filter(|_| json.len() <= MAX_REFERENCE_BYTES);
            let (reference, prefix) = match hash {
                None => (ReferenceLink::None, None),
                Some(hash) => {
                    let key = (event.project_id, hash.to_owned());
                    if let Some(&index) = new_by_key.get(&key) {
                        let json = Arc::clone(&references[index].json);
                        (ReferenceLink::New(index), Some(json))
                    } else if let Some(stored) = stored_reference(event.project_id, hash) {
                        (ReferenceLink::Stored(stored.id), Some(stored.json))
                    } else {
                        let own: Arc<[u8]> = Arc::from(json.as_slice());
                        let data_zstd = self
                            .plain
                            .compress(&json)
                            .map_err(|e| failed("compressing a reference event", e))?;
                        references.push(NewReference {
                            project_id: event.project_id,
                            hash: key.1.clone(),
                            json: Arc::clone(&own),
                            data_zstd,
                        });
                        new_by_key.insert(key, references.len() - 1);
                        (ReferenceLink::New(references.len() - 1), Some(own))
                    }
                }
            };
            prefixes.push(prefix);
            serialized.push(Serialized {
                event,
                json,
                reference,
            });
        }

        let zstd_failed = |code| failed("compressing event data", zstd_safe::get_error_name(code));
        let mut with_reference =
            CCtx::try_create().ok_or_else(|| failed("creating a zstd context", "out of memory"))?;
        with_reference
            .set_parameter(CParameter::CompressionLevel(ZSTD_LEVEL))
            .map_err(zstd_failed)?;
        let mut encoded = Vec::with_capacity(serialized.len());
        for (
            Serialized {
                event,
                json,
                reference,
            },
            prefix,
        ) in serialized.into_iter().zip(&prefixes)
        {
            let data_zstd = match prefix {
                Some(prefix) => {
                    // A prefix serves the next frame only.
                    with_reference.ref_prefix(prefix).map_err(zstd_failed)?;
                    let mut compressed = Vec::with_capacity(zstd_safe::compress_bound(json.len()));
                    with_reference
                        .compress2(&mut compressed, &json)
                        .map_err(zstd_failed)?;
                    compressed
                }
                None => self
                    .plain
                    .compress(&json)
                    .map_err(|e| failed("compressing event data", e))?,
            };
            let tags_json = serde_json::to_string(&event.tags)
                .map_err(|e| failed("serializing event tags", e))?;
            encoded.push(EncodedEvent {
                event,
                data_zstd,
                reference,
                size: i64::try_from(json.len()).unwrap_or(i64::MAX),
                tags_json,
            });
        }
        Ok(EncodedBatch {
            events: encoded,
            references,
        })
    }
}

/// Decompresses the events of one read with its zstd contexts.
pub(crate) struct Decoder {
    plain: zstd::bulk::Decompressor<'static>,
    with_reference: zstd::bulk::Decompressor<'static>,
    /// The reference loaded into `with_reference`.
    loaded: Option<i64>,
}

impl Decoder {
    pub(crate) fn new() -> StoreResult<Decoder> {
        let context =
            || zstd::bulk::Decompressor::new().map_err(|e| failed("creating a zstd context", e));
        Ok(Decoder {
            plain: context()?,
            with_reference: context()?,
            loaded: None,
        })
    }

    /// Fills `event.tags` and `event.data` from their stored forms; `event.size` must be set.
    /// `reference` is the id and JSON of the reference the data was compressed against.
    pub(crate) fn decode(
        &mut self,
        mut event: StoredEvent,
        tags_json: &str,
        data_zstd: &[u8],
        reference: Option<(i64, &[u8])>,
    ) -> StoreResult<StoredEvent> {
        let what = || format!("event {}", event.event_id);
        event.tags = serde_json::from_str(tags_json).map_err(|e| corrupt(&what(), e))?;
        // `size` is the exact length of the JSON, so it bounds the output buffer.
        let capacity = usize::try_from(event.size).map_err(|e| corrupt(&what(), e))?;
        let json = match reference {
            None => self.plain.decompress(data_zstd, capacity),
            Some((id, dictionary)) => {
                if self.loaded != Some(id) {
                    self.with_reference
                        .set_dictionary(dictionary)
                        .map_err(|e| corrupt(&what(), e))?;
                    self.loaded = Some(id);
                }
                self.with_reference.decompress(data_zstd, capacity)
            }
        }
        .map_err(|e| corrupt(&what(), e))?;
        event.data = serde_json::from_slice(&json).map_err(|e| corrupt(&what(), e))?;
        Ok(event)
    }
}

/// The JSON of a stored reference from its stored (compressed) form.
pub(crate) fn decompress_reference(id: i64, data_zstd: &[u8]) -> StoreResult<Arc<[u8]>> {
    // References are at most MAX_REFERENCE_BYTES of JSON.
    zstd::bulk::decompress(data_zstd, MAX_REFERENCE_BYTES)
        .map(Arc::from)
        .map_err(|e| corrupt(&format!("reference event {id}"), e))
}

/// The newest references by `(project_id, hash)`, so that encoding a batch rarely needs the
/// database to find them.
#[derive(Default)]
pub(crate) struct ReferenceCache {
    by_key: Mutex<HashMap<(i64, String), Reference>>,
}

impl ReferenceCache {
    pub(crate) fn get(&self, project_id: i64, hash: &str) -> Option<Reference> {
        let map = self.by_key.lock().unwrap_or_else(PoisonError::into_inner);
        map.get(&(project_id, hash.to_owned())).cloned()
    }

    /// Drops a reference that retention deleted.
    pub(crate) fn forget(&self, project_id: i64, hash: &str) {
        let mut map = self.by_key.lock().unwrap_or_else(PoisonError::into_inner);
        map.remove(&(project_id, hash.to_owned()));
    }

    /// Keeps a reference that is committed.
    pub(crate) fn remember(&self, project_id: i64, hash: String, reference: Reference) {
        let mut map = self.by_key.lock().unwrap_or_else(PoisonError::into_inner);
        if map.len() >= CACHE_ENTRIES {
            // Bounded, not ordered: dropping an arbitrary eighth costs one lookup per dropped
            // hash when it comes back.
            let drop: Vec<_> = map.keys().take(CACHE_ENTRIES / 8).cloned().collect();
            for key in drop {
                map.remove(&key);
            }
        }
        map.insert((project_id, hash), reference);
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
    use crate::test_events::error_event;
    use serde_json::json;

    fn event(n: u32, hash: &str) -> NewEvent {
        NewEvent {
            received: 2.0,
            tags: vec![("browser".into(), "Firefox".into())],
            data: json!({"ü": "x".repeat(1000), "frames": "y".repeat(2000), "n": n}).into(),
            ..error_event(1, n, 1.0, &[hash])
        }
    }

    fn stored(encoded: &EncodedEvent) -> StoredEvent {
        StoredEvent {
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
        }
    }

    #[test]
    fn events_round_trip_through_their_stored_form() {
        let events = vec![event(1, "a"), event(2, "a"), event(3, "b")];
        let data: Vec<_> = events.iter().map(|e| e.data.clone()).collect();
        let stored_b = Reference {
            id: 9,
            json: Arc::from(event(0, "b").data.as_bytes()),
        };
        let lookup = {
            let stored_b = stored_b.clone();
            move |_, hash: &str| (hash == "b").then(|| stored_b.clone())
        };
        let batch = Encoder::new()
            .unwrap()
            .encode_batch(events, lookup)
            .unwrap();
        assert_eq!(
            batch.references.len(),
            1,
            "the first event of `a` becomes its reference"
        );
        let links: Vec<_> = batch.events.iter().map(|e| e.reference).collect();
        assert_eq!(
            links,
            [
                ReferenceLink::New(0),
                ReferenceLink::New(0),
                ReferenceLink::Stored(9)
            ]
        );
        assert!(
            batch.events[1].data_zstd.len() * 5 < batch.events[0].data_zstd.len() + 100,
            "an event like its reference takes little space"
        );
        let mut decoder = Decoder::new().unwrap();
        for (encoded, data) in batch.events.iter().zip(data) {
            let reference = match encoded.reference {
                ReferenceLink::None => None,
                ReferenceLink::New(i) => Some((-1 - i as i64, &*batch.references[i].json)),
                ReferenceLink::Stored(id) => Some((id, &*stored_b.json)),
            };
            let decoded = decoder
                .decode(
                    stored(encoded),
                    &encoded.tags_json,
                    &encoded.data_zstd,
                    reference,
                )
                .unwrap();
            assert_eq!(decoded.data, data.to_value());
            assert_eq!(decoded.tags, encoded.event.tags);
        }
        let reference = &batch.references[0];
        assert_eq!(
            &*decompress_reference(1, &reference.data_zstd).unwrap(),
            &*reference.json
        );
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
