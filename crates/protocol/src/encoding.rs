//! Undoing a request body's `Content-Encoding` (gzip, deflate, br, zstd, as the SDKs send them)
//! within a limit on the decoded bytes, so that a small compression bomb stops at the limit
//! instead of filling memory.

use std::io::Read;

use bytes::Bytes;

/// Why a body cannot be decoded.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DecodeError {
    /// An encoding no SDK sends and Relay does not take (lowercased).
    #[error("unsupported content encoding: {0}")]
    Unsupported(String),
    /// The bytes are not what the encoding says.
    #[error("invalid {encoding} body: {reason}")]
    Invalid { encoding: String, reason: String },
    /// Decoding produced more than the limit (in bytes).
    #[error("decoded body over {0} bytes")]
    TooLarge(usize),
}

/// How much larger than its compressed bytes a body is assumed to be when the format does not
/// say: about what JSON compresses by. Only the first allocation depends on it.
const ASSUMED_RATIO: usize = 4;
/// The most a size stated inside compressed data may exceed the compressed bytes by before it
/// is not believed (a bomb may state anything).
const BELIEVED_RATIO: usize = 64;

/// Undoes every encoding named in a `Content-Encoding` value (applied in order, so undone in
/// reverse), producing at most `limit` bytes. No value is the identity.
pub fn decode_content(
    content_encoding: Option<&[u8]>,
    data: Bytes,
    limit: usize,
) -> Result<Bytes, DecodeError> {
    let Some(value) = content_encoding else {
        return Ok(data);
    };
    let value = String::from_utf8_lossy(value);
    let mut data = data;
    for encoding in value.split(',').map(str::trim).rev() {
        data = decode_one(encoding, data, limit)?;
    }
    Ok(data)
}

fn decode_one(encoding: &str, data: Bytes, limit: usize) -> Result<Bytes, DecodeError> {
    let is = |name: &str| encoding.eq_ignore_ascii_case(name);
    let assumed = data.len().saturating_mul(ASSUMED_RATIO);
    // sentry-ruby 5 and old sentry-android send an empty value or `UTF-8`; Relay treats those
    // as identity.
    if is("") || is("identity") || is("utf-8") || is("utf8") {
        Ok(data)
    } else if is("gzip") || is("x-gzip") {
        let size = stated_size(&data, gzip_size(&data)).unwrap_or(assumed);
        read_all(
            encoding,
            flate2::bufread::MultiGzDecoder::new(&data[..]),
            size,
            limit,
        )
    } else if is("deflate") {
        // RFC 9110 says zlib-wrapped; some clients send raw deflate. Try zlib first.
        match read_all(
            encoding,
            flate2::bufread::ZlibDecoder::new(&data[..]),
            assumed,
            limit,
        ) {
            Err(DecodeError::Invalid { .. }) => read_all(
                encoding,
                flate2::bufread::DeflateDecoder::new(&data[..]),
                assumed,
                limit,
            ),
            other => other,
        }
    } else if is("br") {
        read_all(
            encoding,
            brotli::Decompressor::new(&data[..], 4096),
            assumed,
            limit,
        )
    } else if is("zstd") {
        let size = zstd::zstd_safe::get_frame_content_size(&data)
            .ok()
            .flatten()
            .and_then(|size| usize::try_from(size).ok());
        let size = stated_size(&data, size).unwrap_or(assumed);
        let decoder = zstd::stream::read::Decoder::with_buffer(&data[..])
            .map_err(|err| invalid(encoding, err))?;
        read_all(encoding, decoder, size, limit)
    } else {
        Err(DecodeError::Unsupported(encoding.to_ascii_lowercase()))
    }
}

fn invalid(encoding: &str, err: std::io::Error) -> DecodeError {
    DecodeError::Invalid {
        encoding: encoding.to_string(),
        reason: err.to_string(),
    }
}

/// A decoded size stated by the compressed data, if believable.
fn stated_size(data: &[u8], stated: Option<usize>) -> Option<usize> {
    stated.filter(|size| *size <= data.len().saturating_mul(BELIEVED_RATIO))
}

/// The size a gzip member states in its trailer (modulo 4 GiB; the last member's only).
fn gzip_size(data: &[u8]) -> Option<usize> {
    let trailer: [u8; 4] = data.get(data.len().checked_sub(4)?..)?.try_into().ok()?;
    usize::try_from(u32::from_le_bytes(trailer)).ok()
}

/// Reads `reader` to its end into one buffer, first sized for `expected` bytes.
fn read_all(
    encoding: &str,
    reader: impl Read,
    expected: usize,
    limit: usize,
) -> Result<Bytes, DecodeError> {
    let mut out = Vec::with_capacity(expected.min(limit));
    let mut limited = reader.take(limit as u64 + 1);
    limited
        .read_to_end(&mut out)
        .map_err(|err| invalid(encoding, err))?;
    if out.len() > limit {
        return Err(DecodeError::TooLarge(limit));
    }
    Ok(Bytes::from(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn decode(encoding: &str, data: impl Into<Bytes>, limit: usize) -> Result<Bytes, DecodeError> {
        decode_content(Some(encoding.as_bytes()), data.into(), limit)
    }

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(data).expect("write to vec");
        enc.finish().expect("finish gzip")
    }

    /// Decodes `compressed` as sent with `Content-Encoding: encoding` and checks it reads `plain`.
    fn assert_decodes(encoding: &str, compressed: Vec<u8>, plain: &[u8]) {
        let decoded =
            decode(encoding, compressed, 100).unwrap_or_else(|err| panic!("{encoding}: {err}"));
        assert_eq!(&decoded[..], plain, "{encoding}");
    }

    #[test]
    fn gzip_body_is_decoded_and_names_ignore_case() {
        assert_decodes("gzip", gzip(b"hello"), b"hello");
        assert_decodes("GZip", gzip(b"upper"), b"upper");
        assert_decodes("x-gzip", gzip(b"x"), b"x");
    }

    #[test]
    fn encodings_are_undone_in_reverse_order() {
        let twice = gzip(&gzip(b"twice"));
        assert_eq!(
            &decode("gzip, gzip", twice, 100).expect("decodes")[..],
            b"twice"
        );
    }

    #[test]
    fn compression_bomb_stops_at_the_limit() {
        let bomb = gzip(&vec![b'a'; 10 * 1024 * 1024]);
        assert!(bomb.len() < 100 * 1024);
        assert_eq!(
            decode("gzip", bomb, 1024 * 1024),
            Err(DecodeError::TooLarge(1024 * 1024))
        );
    }

    #[test]
    fn body_that_lies_about_its_encoding_is_invalid() {
        let err = decode("gzip", &b"{\"not\":\"gzip\"}"[..], 100).expect_err("not gzip");
        assert!(matches!(err, DecodeError::Invalid { .. }), "{err}");
    }

    #[test]
    fn empty_and_utf8_encodings_are_identity() {
        for enc in ["", "UTF-8", "identity"] {
            assert_eq!(&decode(enc, &b"x"[..], 10).expect("identity")[..], b"x");
        }
        assert_eq!(
            &decode_content(None, Bytes::from_static(b"y"), 10).expect("none")[..],
            b"y"
        );
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
    fn unknown_encoding_is_refused_by_name() {
        assert_eq!(
            decode("LZMA", &b"x"[..], 10),
            Err(DecodeError::Unsupported("lzma".into()))
        );
    }
}
