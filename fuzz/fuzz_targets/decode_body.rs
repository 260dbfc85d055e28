//! `Content-Encoding` decoding on arbitrary bytes under every encoding the ingest endpoints
//! take: it never panics and never returns more than its limit; and a body the fuzzer's bytes
//! are gzipped into decodes back to them.

#![no_main]

use std::io::Write;

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use vigil_protocol::encoding::{decode_content, DecodeError};

const LIMIT: usize = 1 << 20;

fuzz_target!(|data: &[u8]| {
    for encoding in [
        "gzip", "deflate", "br", "zstd", "identity", "gzip, br", "lzma",
    ] {
        match decode_content(
            Some(encoding.as_bytes()),
            Bytes::copy_from_slice(data),
            LIMIT,
        ) {
            Ok(decoded) => assert!(decoded.len() <= LIMIT),
            Err(DecodeError::Unsupported(name)) => assert_eq!(name, "lzma"),
            Err(_) => {}
        }
    }
    let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gzip.write_all(data).expect("writes to a vec");
    let gzipped = Bytes::from(gzip.finish().expect("finishes"));
    let decoded = decode_content(Some(b"gzip"), gzipped, LIMIT).expect("own gzip decodes");
    assert_eq!(&decoded[..], data);
});
