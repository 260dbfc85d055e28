//! Reading a request body within its size limit and undoing its `Content-Encoding`.
//!
//! Limits apply twice: to the bytes on the wire while they stream in, and to the decompressed
//! bytes while they are produced, so a small compression bomb stops at the limit instead of
//! filling memory.

use std::io::Read;
use std::sync::Arc;

use axum::body::Body;
use axum::http::HeaderMap;
use bytes::{Bytes, BytesMut};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

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
/// from the shared budget as it arrives.
pub async fn read_limited(
    body: Body,
    limit: usize,
    budget: &MemoryBudget,
) -> Result<(Bytes, Reservation), IngestError> {
    let mut body = Limited::new(body, limit);
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
        if let Ok(data) = frame.into_data() {
            reservation.merge(budget.reserve(data.len())?);
            buffer.extend_from_slice(&data);
        }
    }
    Ok((buffer.freeze(), reservation))
}

/// Undoes every encoding named in `Content-Encoding` (applied in order, so undone in reverse),
/// producing at most `limit` bytes.
pub fn decode_content(
    headers: &HeaderMap,
    data: Bytes,
    limit: usize,
) -> Result<Bytes, IngestError> {
    let Some(value) = headers.get(axum::http::header::CONTENT_ENCODING) else {
        return Ok(data);
    };
    let value = String::from_utf8_lossy(value.as_bytes()).to_ascii_lowercase();
    let mut data = data;
    for encoding in value.split(',').map(str::trim).rev() {
        data = decode_one(encoding, data, limit)?;
    }
    Ok(data)
}

/// [`decode_content`], reserving the decompressed bytes from the budget (an identity body
/// reuses the bytes already reserved).
pub fn decode_reserved(
    headers: &HeaderMap,
    data: Bytes,
    limit: usize,
    budget: &MemoryBudget,
) -> Result<(Bytes, Reservation), IngestError> {
    let wire_len = data.len();
    let decoded = decode_content(headers, data, limit)?;
    if decoded.len() == wire_len {
        return Ok((decoded, Reservation::default()));
    }
    let reservation = budget.reserve(decoded.len())?;
    Ok((decoded, reservation))
}

fn decode_one(encoding: &str, data: Bytes, limit: usize) -> Result<Bytes, IngestError> {
    match encoding {
        // sentry-ruby 5 and old sentry-android send an empty value or `UTF-8`; Relay treats
        // those as identity.
        "" | "identity" | "utf-8" | "utf8" => Ok(data),
        "gzip" | "x-gzip" => read_all(
            encoding,
            flate2::read::MultiGzDecoder::new(&data[..]),
            limit,
        ),
        "deflate" => {
            // RFC 9110 says zlib-wrapped; some clients send raw deflate. Try zlib first.
            match read_all(encoding, flate2::read::ZlibDecoder::new(&data[..]), limit) {
                Err(IngestError::Decode { .. }) => read_all(
                    encoding,
                    flate2::read::DeflateDecoder::new(&data[..]),
                    limit,
                ),
                other => other,
            }
        }
        "br" => read_all(encoding, brotli::Decompressor::new(&data[..], 4096), limit),
        "zstd" => {
            let decoder =
                zstd::stream::read::Decoder::new(&data[..]).map_err(|err| IngestError::Decode {
                    encoding: encoding.into(),
                    reason: err.to_string(),
                })?;
            read_all(encoding, decoder, limit)
        }
        other => Err(IngestError::UnsupportedEncoding(other.to_string())),
    }
}

fn read_all(encoding: &str, reader: impl Read, limit: usize) -> Result<Bytes, IngestError> {
    let mut out = Vec::new();
    let mut limited = reader.take(limit as u64 + 1);
    limited
        .read_to_end(&mut out)
        .map_err(|err| IngestError::Decode {
            encoding: encoding.to_string(),
            reason: err.to_string(),
        })?;
    if out.len() > limit {
        return Err(IngestError::BodyTooLarge(limit));
    }
    Ok(Bytes::from(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn headers(encoding: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("content-encoding", encoding.parse().expect("valid header"));
        h
    }

    fn gzip(data: &[u8]) -> Bytes {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(data).expect("write to vec");
        Bytes::from(enc.finish().expect("finish gzip"))
    }

    #[test]
    fn gzip_body_is_decoded() {
        let out = decode_content(&headers("gzip"), gzip(b"hello"), 100).expect("decodes");
        assert_eq!(&out[..], b"hello");
    }

    #[test]
    fn compression_bomb_stops_at_the_limit() {
        let bomb = gzip(&vec![b'a'; 10 * 1024 * 1024]);
        assert!(bomb.len() < 100 * 1024);
        let err = decode_content(&headers("gzip"), bomb, 1024 * 1024).expect_err("over limit");
        assert!(matches!(err, IngestError::BodyTooLarge(_)));
    }

    #[test]
    fn body_that_lies_about_its_encoding_is_a_bad_request() {
        let err = decode_content(
            &headers("gzip"),
            Bytes::from_static(b"{\"not\":\"gzip\"}"),
            100,
        )
        .expect_err("not gzip");
        assert_eq!(err.status(), axum::http::StatusCode::BAD_REQUEST);
    }

    #[test]
    fn empty_and_utf8_encodings_are_identity() {
        for enc in ["", "UTF-8", "identity"] {
            let mut h = HeaderMap::new();
            h.insert("content-encoding", enc.parse().expect("valid header"));
            assert_eq!(
                &decode_content(&h, Bytes::from_static(b"x"), 10).expect("identity")[..],
                b"x"
            );
        }
    }

    /// Decodes `compressed` as sent with `Content-Encoding: encoding` and checks it reads `plain`.
    fn assert_decodes(encoding: &str, compressed: Vec<u8>, plain: &[u8]) {
        let decoded = decode_content(&headers(encoding), Bytes::from(compressed), 100)
            .unwrap_or_else(|err| panic!("{encoding}: {err}"));
        assert_eq!(&decoded[..], plain, "{encoding}");
    }

    #[test]
    fn zlib_and_raw_deflate_both_decode() {
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        z.write_all(b"zlib").expect("write");
        assert_decodes("deflate", z.finish().expect("finish"), b"zlib");
        let mut d = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
        d.write_all(b"raw").expect("write");
        assert_decodes("deflate", d.finish().expect("finish"), b"raw");
    }

    #[test]
    fn br_and_zstd_decode() {
        let mut br = Vec::new();
        {
            let mut w = brotli::CompressorWriter::new(&mut br, 4096, 5, 22);
            w.write_all(b"brotli").expect("write");
        }
        assert_decodes("br", br, b"brotli");
        assert_decodes(
            "zstd",
            zstd::encode_all(&b"zstd"[..], 3).expect("zstd"),
            b"zstd",
        );
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
    fn unknown_encoding_is_refused() {
        let err =
            decode_content(&headers("lzma"), Bytes::from_static(b"x"), 10).expect_err("unknown");
        assert!(matches!(err, IngestError::UnsupportedEncoding(_)));
    }
}
