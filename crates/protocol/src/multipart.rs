//! The `multipart/form-data` bodies of Sentry's upload API, parsed from a body held in memory:
//! the chunk upload of `sentry-cli` (`file_gzip` parts, gzip'd, or `file` parts, each named by
//! the SHA-1 of its bytes) and the release-file upload form (`file`, `name`, `dist`, `header`).
//!
//! Pure functions of the body: multer's futures are driven with `now_or_never` over a stream of
//! one item, which is always ready, so no runtime is needed and a fuzzer can call them.

use std::convert::Infallible;
use std::io::Read;

use bytes::Bytes;
use futures_util::FutureExt;
use sha1::{Digest, Sha1};

/// Why a multipart body is refused; the message names the part, for the uploader to read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MultipartError {
    #[error("the body is not multipart/form-data: {0}")]
    NotMultipart(String),
    #[error("the multipart body is malformed: {0}")]
    Malformed(String),
    #[error("unexpected form field `{0}`")]
    UnknownField(String),
    #[error("a chunk has no file name (the SHA-1 of its bytes)")]
    UnnamedChunk,
    #[error("chunk {name} is larger than the chunk size of {limit} bytes")]
    ChunkTooLarge { name: String, limit: usize },
    #[error("chunk {name} is not valid gzip: {reason}")]
    BadGzip { name: String, reason: String },
    #[error("chunk {name} does not match its checksum: its SHA-1 is {actual}")]
    ChecksumMismatch { name: String, actual: String },
    #[error("too many chunks in one request: {count}, at most {limit}")]
    TooManyChunks { count: usize, limit: usize },
    #[error("Missing uploaded file")]
    MissingFile,
    #[error("the uploaded file is larger than {limit} bytes")]
    FileTooLarge { limit: usize },
    #[error("field `{field}` is not valid: {reason}")]
    BadField { field: String, reason: String },
}

/// One chunk as uploaded, its checksum checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chunk {
    /// The SHA-1 of `data`, lowercase hex.
    pub checksum: String,
    pub data: Vec<u8>,
}

/// What the server offers in its chunk-upload options.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkLimits {
    /// The most one chunk may hold, inflated.
    pub chunk_size: usize,
    /// The most chunks one request may carry.
    pub chunks_per_request: usize,
}

/// A release file as the upload form sends it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReleaseFileForm {
    pub file: Vec<u8>,
    /// The file part's own file name (the default `name`).
    pub file_name: Option<String>,
    /// The file part's `Content-Type`.
    pub content_type: Option<String>,
    pub name: Option<String>,
    pub dist: Option<String>,
    /// `header` fields, `Key:Value` split at the first colon, in order.
    pub headers: Vec<(String, String)>,
}

/// One part of a body: its field name, file name and bytes.
struct Part {
    name: String,
    file_name: Option<String>,
    content_type: Option<String>,
    data: Bytes,
}

/// The parts of `body`, in order, reading at most `max_part` bytes of any.
fn parts(content_type: &str, body: Bytes, max_part: u64) -> Result<Vec<Part>, MultipartError> {
    let boundary = multer::parse_boundary(content_type)
        .map_err(|err| MultipartError::NotMultipart(err.to_string()))?;
    let stream = futures_util::stream::once(async move { Ok::<Bytes, Infallible>(body) });
    let limits = multer::SizeLimit::new().per_field(max_part);
    let mut multipart = multer::Multipart::with_constraints(
        stream,
        boundary,
        multer::Constraints::new().size_limit(limits),
    );
    let pending = || MultipartError::Malformed("the body ended early".into());
    let mut out = Vec::new();
    loop {
        let field = multipart
            .next_field()
            .now_or_never()
            .ok_or_else(pending)?
            .map_err(|err| MultipartError::Malformed(err.to_string()))?;
        let Some(field) = field else { break };
        let name = field.name().unwrap_or_default().to_owned();
        let file_name = field.file_name().map(str::to_owned);
        let content_type = field.content_type().map(ToString::to_string);
        let data = field
            .bytes()
            .now_or_never()
            .ok_or_else(pending)?
            .map_err(|err| match err {
                multer::Error::FieldSizeExceeded { .. } => MultipartError::Malformed(format!(
                    "part `{name}` is larger than {max_part} bytes"
                )),
                other => MultipartError::Malformed(other.to_string()),
            })?;
        out.push(Part {
            name,
            file_name,
            content_type,
            data,
        });
    }
    Ok(out)
}

/// Inflates a gzip'd chunk, refusing one that inflates past `limit` bytes.
fn gunzip(name: &str, data: &[u8], limit: usize) -> Result<Vec<u8>, MultipartError> {
    let mut out = Vec::new();
    flate2::read::MultiGzDecoder::new(data)
        .take(limit as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|err| MultipartError::BadGzip {
            name: name.to_owned(),
            reason: err.to_string(),
        })?;
    if out.len() > limit {
        return Err(MultipartError::ChunkTooLarge {
            name: name.to_owned(),
            limit,
        });
    }
    Ok(out)
}

/// SHA-1 of `data`, lowercase hex.
pub fn sha1_hex(data: &[u8]) -> String {
    hex::encode(Sha1::digest(data))
}

/// The chunks of a `POST …/chunk-upload/` body: `file_gzip` parts inflated (bounded by the
/// chunk size), `file` parts as they are; each part's SHA-1 must be its file name (hex, any
/// case). An empty body of parts is no chunks.
pub fn parse_chunk_upload(
    content_type: &str,
    body: Bytes,
    limits: &ChunkLimits,
) -> Result<Vec<Chunk>, MultipartError> {
    // A gzip'd part is at most a little larger than what it inflates to.
    let max_part = limits.chunk_size as u64 + limits.chunk_size as u64 / 64 + 1024;
    let parts = parts(content_type, body, max_part)?;
    let count = parts.len();
    if count > limits.chunks_per_request {
        return Err(MultipartError::TooManyChunks {
            count,
            limit: limits.chunks_per_request,
        });
    }
    let mut chunks = Vec::with_capacity(count);
    for part in parts {
        let name = part
            .file_name
            .filter(|name| !name.is_empty())
            .ok_or(MultipartError::UnnamedChunk)?;
        let data = match part.name.as_str() {
            "file_gzip" => gunzip(&name, &part.data, limits.chunk_size)?,
            "file" if part.data.len() > limits.chunk_size => {
                return Err(MultipartError::ChunkTooLarge {
                    name,
                    limit: limits.chunk_size,
                })
            }
            "file" => part.data.to_vec(),
            _ => return Err(MultipartError::UnknownField(part.name)),
        };
        let actual = sha1_hex(&data);
        if !actual.eq_ignore_ascii_case(name.trim()) {
            return Err(MultipartError::ChecksumMismatch { name, actual });
        }
        chunks.push(Chunk {
            checksum: actual,
            data,
        });
    }
    Ok(chunks)
}

/// The release-file upload form: one `file` (at most `max_size` bytes), and optional `name`,
/// `dist` and repeated `header` (`Key:Value`) fields.
pub fn parse_release_file_upload(
    content_type: &str,
    body: Bytes,
    max_size: usize,
) -> Result<ReleaseFileForm, MultipartError> {
    let parts = parts(content_type, body, max_size as u64).map_err(|err| match err {
        MultipartError::Malformed(reason) if reason.starts_with("part `file`") => {
            MultipartError::FileTooLarge { limit: max_size }
        }
        other => other,
    })?;
    let mut form = ReleaseFileForm {
        file: Vec::new(),
        file_name: None,
        content_type: None,
        name: None,
        dist: None,
        headers: Vec::new(),
    };
    let mut has_file = false;
    for part in parts {
        let text = |part: &Part| {
            String::from_utf8(part.data.to_vec()).map_err(|_| MultipartError::BadField {
                field: part.name.clone(),
                reason: "not UTF-8 text".into(),
            })
        };
        match part.name.as_str() {
            "file" if has_file => {
                return Err(MultipartError::BadField {
                    field: "file".into(),
                    reason: "sent more than once".into(),
                })
            }
            "file" => {
                has_file = true;
                form.file_name = part.file_name.clone();
                form.content_type = part.content_type.clone();
                form.file = part.data.to_vec();
            }
            "name" => form.name = Some(text(&part)?),
            "dist" => form.dist = Some(text(&part)?).filter(|d| !d.is_empty()),
            "header" => {
                let value = text(&part)?;
                let (key, value) =
                    value
                        .split_once(':')
                        .ok_or_else(|| MultipartError::BadField {
                            field: "header".into(),
                            reason: format!("`{value}` is not `Key:Value`"),
                        })?;
                // As Sentry: the value trimmed, the key as sent.
                form.headers.push((key.to_owned(), value.trim().to_owned()));
            }
            _ => return Err(MultipartError::UnknownField(part.name)),
        }
    }
    if !has_file {
        return Err(MultipartError::MissingFile);
    }
    Ok(form)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    const BOUNDARY: &str = "XyZ";
    const CONTENT_TYPE: &str = "multipart/form-data; boundary=XyZ";
    const LIMITS: ChunkLimits = ChunkLimits {
        chunk_size: 64,
        chunks_per_request: 2,
    };

    fn body(parts: &[(&str, Option<&str>, &[u8])]) -> Bytes {
        let mut out = Vec::new();
        for (name, file_name, data) in parts {
            write!(
                out,
                "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\""
            )
            .unwrap();
            if let Some(file_name) = file_name {
                write!(out, "; filename=\"{file_name}\"").unwrap();
            }
            out.extend_from_slice(b"\r\n\r\n");
            out.extend_from_slice(data);
            out.extend_from_slice(b"\r\n");
        }
        write!(out, "--{BOUNDARY}--\r\n").unwrap();
        out.into()
    }

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        encoder.write_all(data).unwrap();
        encoder.finish().unwrap()
    }

    #[test]
    fn gzip_and_plain_chunks_are_checked_against_their_names() {
        let (a, b) = (b"first chunk".as_slice(), b"second".as_slice());
        let name_a = sha1_hex(a).to_uppercase();
        let name_b = sha1_hex(b);
        let gz = gzip(a);
        let chunks = parse_chunk_upload(
            CONTENT_TYPE,
            body(&[
                ("file_gzip", Some(&name_a), &gz),
                ("file", Some(&name_b), b),
            ]),
            &LIMITS,
        )
        .unwrap();
        assert_eq!(chunks.len(), 2);
        assert_eq!(
            (chunks[0].checksum.as_str(), chunks[0].data.as_slice()),
            (sha1_hex(a).as_str(), a)
        );
        assert_eq!(chunks[1].data, b);
        assert_eq!(
            parse_chunk_upload(CONTENT_TYPE, body(&[]), &LIMITS).unwrap(),
            []
        );
    }

    #[test]
    fn bad_chunks_are_refused_by_name() {
        let name = sha1_hex(b"abc");
        let wrong = parse_chunk_upload(
            CONTENT_TYPE,
            body(&[("file", Some(&name), b"abd")]),
            &LIMITS,
        );
        assert!(
            matches!(wrong, Err(MultipartError::ChecksumMismatch { name: n, .. }) if n == name)
        );
        let corrupt = parse_chunk_upload(
            CONTENT_TYPE,
            body(&[("file_gzip", Some(&name), b"\x1f\x8b not gzip")]),
            &LIMITS,
        );
        assert!(
            matches!(corrupt, Err(MultipartError::BadGzip { .. })),
            "{corrupt:?}"
        );
        let mut truncated = gzip(b"abc");
        truncated.truncate(truncated.len() - 6);
        let cut = parse_chunk_upload(
            CONTENT_TYPE,
            body(&[("file_gzip", Some(&name), &truncated)]),
            &LIMITS,
        );
        assert!(
            matches!(cut, Err(MultipartError::BadGzip { .. })),
            "{cut:?}"
        );
        let big = vec![b'x'; 65];
        let bomb = gzip(&big);
        let too_large = parse_chunk_upload(
            CONTENT_TYPE,
            body(&[("file_gzip", Some(&sha1_hex(&big)), &bomb)]),
            &LIMITS,
        );
        assert!(matches!(
            too_large,
            Err(MultipartError::ChunkTooLarge { limit: 64, .. })
        ));
        let too_many = parse_chunk_upload(
            CONTENT_TYPE,
            body(&[("file", Some(name.as_str()), b"abc".as_slice()); 3]),
            &LIMITS,
        );
        assert!(matches!(
            too_many,
            Err(MultipartError::TooManyChunks { count: 3, limit: 2 })
        ));
        let unnamed = parse_chunk_upload(CONTENT_TYPE, body(&[("file", None, b"abc")]), &LIMITS);
        assert_eq!(unnamed, Err(MultipartError::UnnamedChunk));
        let other = parse_chunk_upload(
            CONTENT_TYPE,
            body(&[("blob", Some(&name), b"abc")]),
            &LIMITS,
        );
        assert_eq!(other, Err(MultipartError::UnknownField("blob".into())));
        let not_multipart =
            parse_chunk_upload("application/json", Bytes::from_static(b"{}"), &LIMITS);
        assert!(matches!(
            not_multipart,
            Err(MultipartError::NotMultipart(_))
        ));
        let mut cut_body = body(&[("file", Some(&name), b"abc")]).to_vec();
        cut_body.truncate(cut_body.len() - 12);
        let cut = parse_chunk_upload(CONTENT_TYPE, cut_body.into(), &LIMITS);
        assert!(matches!(cut, Err(MultipartError::Malformed(_))), "{cut:?}");
    }

    #[test]
    fn the_release_file_form_is_read() {
        let form = parse_release_file_upload(
            CONTENT_TYPE,
            body(&[
                ("file", Some("app.js"), b"code"),
                ("name", None, b"~/static/app.js"),
                ("dist", None, b"web"),
                ("header", None, b"Sourcemap: app.js.map"),
                ("header", None, b"X-Other:a:b"),
            ]),
            100,
        )
        .unwrap();
        assert_eq!(form.file, b"code");
        assert_eq!(form.file_name.as_deref(), Some("app.js"));
        assert_eq!(form.name.as_deref(), Some("~/static/app.js"));
        assert_eq!(form.dist.as_deref(), Some("web"));
        assert_eq!(
            form.headers,
            [
                ("Sourcemap".into(), "app.js.map".into()),
                ("X-Other".into(), "a:b".into())
            ]
        );
        let missing = parse_release_file_upload(CONTENT_TYPE, body(&[("name", None, b"x")]), 100);
        assert_eq!(missing, Err(MultipartError::MissingFile));
        let bad_header = parse_release_file_upload(
            CONTENT_TYPE,
            body(&[("file", Some("a"), b"x"), ("header", None, b"nocolon")]),
            100,
        );
        assert!(
            matches!(bad_header, Err(MultipartError::BadField { field, .. }) if field == "header")
        );
        let too_large =
            parse_release_file_upload(CONTENT_TYPE, body(&[("file", Some("a"), &[0; 101])]), 100);
        assert_eq!(too_large, Err(MultipartError::FileTooLarge { limit: 100 }));
    }
}
