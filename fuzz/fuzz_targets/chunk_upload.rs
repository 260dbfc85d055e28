//! The upload API's multipart parsers on arbitrary bodies: the chunk upload and the release-file
//! form never panic, never hand back a chunk over the chunk size or one whose SHA-1 is not its
//! name; and the fuzzer's bytes, sent as a gzip'd chunk named by their SHA-1, come back whole.

#![no_main]

use std::io::Write;

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use vigil_protocol::multipart::{
    parse_chunk_upload, parse_release_file_upload, sha1_hex, ChunkLimits,
};

const CONTENT_TYPE: &str = "multipart/form-data; boundary=b0undary";
const LIMITS: ChunkLimits = ChunkLimits {
    chunk_size: 1 << 16,
    chunks_per_request: 8,
};

fuzz_target!(|data: &[u8]| {
    let body = Bytes::copy_from_slice(data);
    if let Ok(chunks) = parse_chunk_upload(CONTENT_TYPE, body.clone(), &LIMITS) {
        assert!(chunks.len() <= LIMITS.chunks_per_request);
        for chunk in chunks {
            assert!(chunk.data.len() <= LIMITS.chunk_size);
            assert_eq!(chunk.checksum, sha1_hex(&chunk.data));
        }
    }
    if let Ok(form) = parse_release_file_upload(CONTENT_TYPE, body, 1 << 16) {
        assert!(form.file.len() <= 1 << 16);
    }

    if data.len() <= LIMITS.chunk_size {
        let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gzip.write_all(data).expect("writes to a vec");
        let gzipped = gzip.finish().expect("finishes");
        let mut own = Vec::new();
        write!(
            own,
            "--b0undary\r\nContent-Disposition: form-data; name=\"file_gzip\"; filename=\"{}\"\r\n\r\n",
            sha1_hex(data)
        )
        .expect("writes to a vec");
        own.extend_from_slice(&gzipped);
        own.extend_from_slice(b"\r\n--b0undary--\r\n");
        let chunks = parse_chunk_upload(CONTENT_TYPE, own.into(), &LIMITS).expect("own body parses");
        assert_eq!(chunks.len(), 1);
        assert_eq!(chunks[0].data, data);
    }
});
