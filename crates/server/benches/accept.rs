//! What accepting one envelope costs before it reaches the queue: undoing `Content-Encoding`,
//! splitting the envelope, checking its event payloads, and the bytes handed to the queue.
//! Allocation counts come from divan's `AllocProfiler`; inputs are the SDK fixture bodies, so
//! the figures are deterministic enough to compare commits (`cargo bench -p vigil-server
//! --bench accept`).

use std::io::Write;
use std::path::Path;

use axum::http::HeaderValue;
use bytes::Bytes;
use divan::{black_box, Bencher};
use vigil_protocol::envelope::parse_envelope;
use vigil_server::ingest::body::decode_content;
use vigil_server::ingest::enqueue::prepare;

#[global_allocator]
static ALLOC: divan::AllocProfiler = divan::AllocProfiler::system();

/// The load generator's error event (12 KB, `length` headers, a hyphenated header event id).
const RUST_PANIC: &str = "rust-panic/001-post-api-42-envelope";
/// A browser error event: items without `length`.
const BROWSER_ERROR: &str = "browser-uncaught-error/002-post-api-42-envelope";

/// The decompression limit of the default settings.
const LIMIT: usize = 20 * 1024 * 1024;

fn main() {
    divan::main();
}

/// The body of one fixture request (`scenario/request`), as sent without `Content-Encoding`.
fn fixture(request: &str) -> Bytes {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/fixtures/sdk-payloads")
        .join(request)
        .join("body.bin");
    let body = std::fs::read(&path).unwrap_or_else(|err| panic!("{}: {err}", path.display()));
    Bytes::from(body)
}

fn gzip(data: &[u8]) -> Bytes {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(data).expect("write to a Vec");
    Bytes::from(encoder.finish().expect("gzip into a Vec"))
}

/// Decode, parse, prepare, and the queue body: everything the accept path does with a body
/// between reading it and `queue.enqueue`.
fn accept(content_encoding: Option<&HeaderValue>, wire: Bytes) -> Vec<u8> {
    let decoded = decode_content(content_encoding, wire, LIMIT).expect("fixture decodes");
    let envelope = parse_envelope(decoded.clone()).expect("fixture is an envelope");
    let prepared = prepare(envelope, Some(decoded));
    assert!(prepared.invalid.is_empty());
    prepared.into_queue_body()
}

fn bench_accept(bencher: Bencher, request: &str, encoding: Option<&'static str>) {
    let plain = fixture(request);
    let wire = match encoding {
        Some(_) => gzip(&plain),
        None => plain,
    };
    let content_encoding = encoding.map(HeaderValue::from_static);
    bencher
        .counter(divan::counter::BytesCount::new(wire.len()))
        .bench(|| black_box(accept(content_encoding.as_ref(), black_box(wire.clone()))));
}

#[divan::bench]
fn rust_panic(bencher: Bencher) {
    bench_accept(bencher, RUST_PANIC, None);
}

#[divan::bench]
fn rust_panic_gzip(bencher: Bencher) {
    bench_accept(bencher, RUST_PANIC, Some("gzip"));
}

#[divan::bench]
fn browser_error(bencher: Bencher) {
    bench_accept(bencher, BROWSER_ERROR, None);
}
