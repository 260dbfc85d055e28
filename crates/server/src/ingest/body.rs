//! Reading a request body within its size limit and undoing its `Content-Encoding`.
//!
//! Limits apply twice: to the bytes on the wire while they stream in, and to the decompressed
//! bytes while they are produced, so a small compression bomb stops at the limit instead of
//! filling memory.

use std::sync::Arc;

use axum::body::{Body, HttpBody};
use axum::http::HeaderValue;
use bytes::{Bytes, BytesMut};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use vigil_protocol::encoding::{self, DecodeError};

use super::error::IngestError;

/// The bytes of request bodies that all requests together may hold in memory, wire and
/// decompressed bytes both counted. Each request is bounded on its own; this bounds their sum,
/// so a burst of large envelopes is answered 429 instead of exhausting memory.
#[derive(Debug, Clone)]
pub struct MemoryBudget(Arc<Semaphore>);

/// Bytes held by one request; returned to the budget when dropped.
#[derive(Debug, Default)]
pub struct Reservation(Option<OwnedSemaphorePermit>);

impl MemoryBudget {
    pub fn new(bytes: usize) -> MemoryBudget {
        MemoryBudget(Arc::new(Semaphore::new(
            (bytes / 1024).clamp(1, Semaphore::MAX_PERMITS),
        )))
    }

    /// Takes `bytes` from the budget (in KiB units), or `Overloaded` when it is spent.
    pub fn reserve(&self, bytes: usize) -> Result<Reservation, IngestError> {
        let kib = u32::try_from(bytes.div_ceil(1024)).map_err(|_| IngestError::Overloaded)?;
        if kib == 0 {
            return Ok(Reservation(None));
        }
        Arc::clone(&self.0)
            .try_acquire_many_owned(kib)
            .map(|permit| Reservation(Some(permit)))
            .map_err(|_| IngestError::Overloaded)
    }
}

impl Reservation {
    /// Holds `other`'s bytes too, until this reservation is dropped.
    pub fn merge(&mut self, other: Reservation) {
        match (&mut self.0, other.0) {
            (Some(mine), Some(theirs)) => mine.merge(theirs),
            (None, theirs) => self.0 = theirs,
            (_, None) => {}
        }
    }
}

/// Collects the body, refusing more than `limit` bytes on the wire and reserving what it holds
/// from the shared budget as it arrives. A body that arrives in one frame is kept as it came;
/// one in several is copied once, into a buffer sized by its `Content-Length`.
pub async fn read_limited(
    body: Body,
    limit: usize,
    budget: &MemoryBudget,
) -> Result<(Bytes, Reservation), IngestError> {
    let expected = usize::try_from(body.size_hint().lower())
        .unwrap_or(limit)
        .min(limit);
    let mut body = Limited::new(body, limit);
    let mut first: Option<Bytes> = None;
    let mut buffer = BytesMut::new();
    let mut reservation = Reservation::default();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|err| {
            if err.downcast_ref::<LengthLimitError>().is_some() {
                IngestError::BodyTooLarge(limit)
            } else {
                IngestError::Decode {
                    encoding: "transfer".into(),
                    reason: err.to_string(),
                }
            }
        })?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        reservation.merge(budget.reserve(data.len())?);
        if first.is_none() && buffer.is_empty() {
            first = Some(data);
            continue;
        }
        if let Some(first) = first.take() {
            buffer.reserve(expected.max(first.len() + data.len()));
            buffer.extend_from_slice(&first);
        }
        buffer.extend_from_slice(&data);
    }
    Ok((first.unwrap_or_else(|| buffer.freeze()), reservation))
}

/// Undoes every encoding named in `Content-Encoding` (see [`vigil_protocol::encoding`]),
/// producing at most `limit` bytes.
pub fn decode_content(
    content_encoding: Option<&HeaderValue>,
    data: Bytes,
    limit: usize,
) -> Result<Bytes, IngestError> {
    encoding::decode_content(content_encoding.map(HeaderValue::as_bytes), data, limit).map_err(
        |err| match err {
            DecodeError::Unsupported(name) => IngestError::UnsupportedEncoding(name),
            DecodeError::Invalid { encoding, reason } => IngestError::Decode { encoding, reason },
            DecodeError::TooLarge(limit) => IngestError::BodyTooLarge(limit),
        },
    )
}

/// [`decode_content`], reserving the decompressed bytes from the budget (an identity body
/// reuses the bytes already reserved).
pub fn decode_reserved(
    content_encoding: Option<&HeaderValue>,
    data: Bytes,
    limit: usize,
    budget: &MemoryBudget,
) -> Result<(Bytes, Reservation), IngestError> {
    let wire_len = data.len();
    let decoded = decode_content(content_encoding, data, limit)?;
    if decoded.len() == wire_len {
        return Ok((decoded, Reservation::default()));
    }
    let reservation = budget.reserve(decoded.len())?;
    Ok((decoded, reservation))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn headers(encoding: &str) -> Option<HeaderValue> {
        Some(encoding.parse().expect("valid header"))
    }

    fn gzip(data: &[u8]) -> Bytes {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(data).expect("write to vec");
        Bytes::from(enc.finish().expect("finish gzip"))
    }

    #[test]
    fn body_that_lies_about_its_encoding_is_a_bad_request() {
        let err = decode_content(
            headers("gzip").as_ref(),
            Bytes::from_static(b"{\"not\":\"gzip\"}"),
            100,
        )
        .expect_err("not gzip");
        assert_eq!(err.status(), axum::http::StatusCode::BAD_REQUEST);
    }

    #[test]
    fn budget_refuses_past_its_size_and_refills_on_drop() {
        let budget = MemoryBudget::new(10 * 1024);
        let mut held = budget.reserve(6 * 1024).expect("fits");
        held.merge(budget.reserve(3 * 1024).expect("fits"));
        assert!(matches!(
            budget.reserve(2 * 1024),
            Err(IngestError::Overloaded)
        ));
        drop(held);
        assert!(budget.reserve(10 * 1024).is_ok());
    }

    #[test]
    fn compression_bomb_is_too_large() {
        let bomb = gzip(&vec![b'a'; 4 * 1024 * 1024]);
        let err = decode_content(headers("gzip").as_ref(), bomb, 1024).expect_err("over limit");
        assert_eq!(err.status(), axum::http::StatusCode::PAYLOAD_TOO_LARGE);
    }

    #[test]
    fn unknown_encoding_is_refused() {
        let err = decode_content(headers("lzma").as_ref(), Bytes::from_static(b"x"), 10)
            .expect_err("unknown");
        assert!(matches!(err, IngestError::UnsupportedEncoding(_)));
    }

    /// Reads `chunks` as one request body, the way hyper hands it over in frames.
    fn read_chunks(chunks: Vec<&'static [u8]>, limit: usize) -> Result<Bytes, IngestError> {
        let stream = futures_util::stream::iter(
            chunks
                .into_iter()
                .map(|chunk| Ok::<_, std::io::Error>(Bytes::from_static(chunk))),
        );
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a runtime");
        let budget = MemoryBudget::new(1024 * 1024);
        runtime
            .block_on(read_limited(Body::from_stream(stream), limit, &budget))
            .map(|(bytes, _)| bytes)
    }

    #[test]
    fn body_in_frames_is_joined_and_in_one_frame_kept() {
        let joined = read_chunks(vec![b"ab", b"", b"cd", b"e"], 100).expect("within limit");
        assert_eq!(&joined[..], b"abcde");
        let one = read_chunks(vec![b"whole"], 100).expect("within limit");
        assert_eq!(&one[..], b"whole");
        assert_eq!(&read_chunks(vec![], 100).expect("empty")[..], b"");
        assert!(matches!(
            read_chunks(vec![b"abc", b"def"], 4),
            Err(IngestError::BodyTooLarge(4))
        ));
    }
}
