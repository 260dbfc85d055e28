//! Templates: the `event` items that real SDKs sent (the captured fixtures), prepared so that
//! every send is a fresh event without touching JSON on the hot path.
//!
//! Why splicing rather than building each envelope from a `serde_json::Value`: the generator
//! runs on the same cores as the server it measures, and re-serializing an 8 KB event per
//! request (plus gzip) would make it the bottleneck of its own benchmark. So each template is
//! serialized once with sentinel strings where a send differs — the event id (envelope header
//! and payload), `sent_at`, the payload `timestamp` and the `fingerprint` — and a send copies
//! the literal pieces and writes the holes.
//!
//! Gzip goes the same way. A DEFLATE stream may be cut into blocks, and a block that ends with
//! a sync flush ends on a byte boundary, so independently compressed pieces can be concatenated.
//! Each literal piece is compressed once at load time; a send writes the holes as small stored
//! (uncompressed) blocks between them and appends the gzip trailer (CRC-32 and length of the
//! plain body). The result is one ordinary gzip member that any decoder reads, at the cost of a
//! memcpy and a CRC instead of a compression per request.

use std::fs;
use std::io::Write as _;
use std::ops::Range;
use std::path::Path;

use anyhow::{bail, Context, Result};
use bytes::Bytes;
use flate2::{Compress, Compression, Crc, FlushCompress};
use serde_json::{Map, Value};
use vigil_protocol::envelope::{parse_envelope, Item, ItemType};
use vigil_protocol::timestamp::format_iso;

/// What every sentinel starts with: a string no SDK payload contains.
const SENTINEL_PREFIX: &str = "@@vigil-loadgen:";

/// A place in a template that differs from send to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Hole {
    /// The event id, a quoted 32-hex string (envelope header and payload `event_id`).
    EventId,
    /// The envelope header `sent_at`, a quoted RFC 3339 string.
    SentAt,
    /// The payload `timestamp`, unix seconds as a number.
    Timestamp,
    /// The one string of the payload `fingerprint`, `"loadgen-<i>"`.
    Fingerprint,
}

impl Hole {
    const ALL: [Hole; 4] = [
        Hole::EventId,
        Hole::SentAt,
        Hole::Timestamp,
        Hole::Fingerprint,
    ];

    /// The sentinel value put into the JSON before serializing.
    fn sentinel(self) -> String {
        let name = match self {
            Hole::EventId => "event_id",
            Hole::SentAt => "sent_at",
            Hole::Timestamp => "timestamp",
            Hole::Fingerprint => "fingerprint",
        };
        format!("{SENTINEL_PREFIX}{name}@@")
    }

    /// The sentinel as it appears in serialized JSON, quotes included.
    fn token(self) -> String {
        format!("\"{}\"", self.sentinel())
    }
}

/// One piece of a serialized template.
#[derive(Debug, Clone)]
enum Piece {
    /// Bytes that are the same in every send, and the same bytes as a sync-flushed raw DEFLATE
    /// stream (see the module docs).
    Literal {
        raw: Vec<u8>,
        deflated: Vec<u8>,
    },
    Hole(Hole),
}

/// What makes one send different from another.
#[derive(Debug, Clone)]
pub struct Fresh {
    /// 32 lowercase hex characters.
    pub event_id: String,
    /// Now, in unix seconds: becomes `sent_at` and the payload `timestamp`, so the server has no
    /// clock drift to correct and no old-looking event to shift.
    pub now: f64,
    /// Which of the `--issues` groups this event belongs to.
    pub issue: u64,
}

/// The text of each hole for one send, quotes included where JSON needs them.
struct HoleValues {
    event_id: String,
    sent_at: String,
    timestamp: String,
    fingerprint: String,
}

impl HoleValues {
    fn new(fresh: &Fresh) -> HoleValues {
        HoleValues {
            event_id: format!("\"{}\"", fresh.event_id),
            sent_at: format!("\"{}\"", format_iso(fresh.now)),
            timestamp: format!("{:.6}", fresh.now),
            fingerprint: format!("\"loadgen-{}\"", fresh.issue),
        }
    }

    fn get(&self, hole: Hole) -> &str {
        match hole {
            Hole::EventId => &self.event_id,
            Hole::SentAt => &self.sent_at,
            Hole::Timestamp => &self.timestamp,
            Hole::Fingerprint => &self.fingerprint,
        }
    }
}

/// Where the bytes of a rendered body came from, for the gzip path.
enum Segment<'t> {
    /// A literal piece: its pre-compressed form.
    Literal(&'t [u8]),
    /// Bytes written for this send: this range of the plain body.
    Dynamic(Range<usize>),
}

/// One event item of a captured request, ready to be sent again and again.
#[derive(Debug, Clone)]
pub struct Template {
    /// `<scenario>/<request folder>`, e.g. `django-zerodivision/001-post-api-42-envelope`.
    pub name: String,
    /// The envelope header line, without its newline.
    header: Vec<Piece>,
    /// The item header serialized without its closing `}`, so that `length` can be appended.
    item_header_open: Vec<u8>,
    /// The event payload.
    payload: Vec<Piece>,
}

impl Template {
    /// Prepares the event item `item` of an envelope whose header was `envelope_headers`.
    ///
    /// The envelope header keeps what the SDK sent (`sdk`, `trace`, …) except `event_id` and
    /// `sent_at`, which every send replaces, and `dsn`, which names the capture server's project
    /// and would not match the target's. The payload gets a placeholder `fingerprint`, replacing
    /// any the SDK set, so that the number of issues is exactly `--issues`.
    pub fn from_event_item(
        name: String,
        envelope_headers: &Map<String, Value>,
        item: &Item,
    ) -> Result<Template> {
        if item.ty() != ItemType::Event {
            bail!("{name}: item is a {}, not an event", item.ty().as_str());
        }

        let mut header = Map::new();
        header.insert("event_id".into(), Value::from(Hole::EventId.sentinel()));
        header.insert("sent_at".into(), Value::from(Hole::SentAt.sentinel()));
        for (key, value) in envelope_headers {
            if !matches!(key.as_str(), "event_id" | "sent_at" | "dsn") {
                header.insert(key.clone(), value.clone());
            }
        }

        let mut item_header = item.headers.clone();
        item_header.remove("length");
        let mut item_header_open = serde_json::to_vec(&item_header)?;
        // A map with at least `type` in it serializes as `{…}`: drop the `}` to append `length`.
        if item_header_open.pop() != Some(b'}') || item_header.is_empty() {
            bail!("{name}: item header is not a non-empty JSON object");
        }

        let mut payload: Value = serde_json::from_slice(&item.payload)
            .with_context(|| format!("{name}: event payload is not JSON"))?;
        let Some(event) = payload.as_object_mut() else {
            bail!("{name}: event payload is not a JSON object");
        };
        // Assigning keeps an existing key's position (serde_json's `preserve_order`), so the
        // payload keeps the SDK's field order.
        event.insert("event_id".into(), Value::from(Hole::EventId.sentinel()));
        event.insert("timestamp".into(), Value::from(Hole::Timestamp.sentinel()));
        event.insert(
            "fingerprint".into(),
            Value::Array(vec![Value::from(Hole::Fingerprint.sentinel())]),
        );

        Ok(Template {
            header: split_at_holes(&serde_json::to_vec(&header)?)?,
            item_header_open,
            payload: split_at_holes(&serde_json::to_vec(&payload)?)?,
            name,
        })
    }

    /// The envelope for one send, uncompressed.
    pub fn render(&self, fresh: &Fresh) -> Vec<u8> {
        let mut plain = Vec::new();
        self.render_into(fresh, &mut plain, None);
        plain
    }

    /// The envelope for one send as a gzip member (`Content-Encoding: gzip`).
    ///
    /// `plain` is scratch space, reused across calls by the caller.
    pub fn render_gzip(&self, fresh: &Fresh, plain: &mut Vec<u8>) -> Vec<u8> {
        let mut segments = Vec::with_capacity(self.header.len() + self.payload.len() + 2);
        self.render_into(fresh, plain, Some(&mut segments));

        let mut crc = Crc::new();
        crc.update(plain);
        let literal_len: usize = segments
            .iter()
            .map(|s| match s {
                Segment::Literal(bytes) => bytes.len(),
                Segment::Dynamic(_) => 0,
            })
            .sum();
        let mut out = Vec::with_capacity(literal_len + 64 + plain.len() / 8);
        // Gzip header: magic, method deflate, no flags, no mtime, no extra flags, OS unknown.
        out.extend_from_slice(&[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff]);
        for segment in segments {
            match segment {
                Segment::Literal(deflated) => out.extend_from_slice(deflated),
                Segment::Dynamic(range) => {
                    for chunk in plain[range].chunks(usize::from(u16::MAX)) {
                        write_stored_block(&mut out, chunk, false);
                    }
                }
            }
        }
        write_stored_block(&mut out, &[], true);
        out.extend_from_slice(&crc.sum().to_le_bytes());
        // ISIZE is the length modulo 2^32 by definition.
        out.extend_from_slice(&(plain.len() as u32).to_le_bytes());
        out
    }

    /// Writes the plain envelope into `plain` (cleared first) and, when asked, where each part
    /// of it came from.
    fn render_into<'t>(
        &'t self,
        fresh: &Fresh,
        plain: &mut Vec<u8>,
        mut segments: Option<&mut Vec<Segment<'t>>>,
    ) {
        let values = HoleValues::new(fresh);
        let payload_len: usize = self
            .payload
            .iter()
            .map(|piece| match piece {
                Piece::Literal { raw, .. } => raw.len(),
                Piece::Hole(hole) => values.get(*hole).len(),
            })
            .sum();

        plain.clear();
        plain.reserve(payload_len + 512);
        write_pieces(&self.header, &values, plain, segments.as_deref_mut());

        let start = plain.len();
        plain.push(b'\n');
        plain.extend_from_slice(&self.item_header_open);
        // Writing into a Vec cannot fail.
        let _ = writeln!(plain, ",\"length\":{payload_len}}}");
        push_dynamic(segments.as_deref_mut(), start..plain.len());

        write_pieces(&self.payload, &values, plain, segments.as_deref_mut());
        let start = plain.len();
        plain.push(b'\n');
        push_dynamic(segments, start..plain.len());
    }
}

/// Loads every event item of the envelope requests under `dir` (one folder per scenario, one
/// sub-folder per request, as `fixtures/sdk-payloads/README.md` describes), from scenarios whose
/// folder name contains `filter`. Requests that are not envelopes, or hold no event, are skipped.
pub fn load_templates(dir: &Path, filter: Option<&str>) -> Result<Vec<Template>> {
    let mut templates = Vec::new();
    for scenario in sorted_subdirs(dir)
        .with_context(|| format!("cannot read the fixtures directory {}", dir.display()))?
    {
        let scenario_name = file_name(&scenario);
        if filter.is_some_and(|f| !scenario_name.contains(f)) {
            continue;
        }
        for request in sorted_subdirs(&scenario)? {
            if !is_envelope_request(&request) {
                continue;
            }
            let body = match fs::read(request.join("body.decoded"))
                .or_else(|_| fs::read(request.join("body.bin")))
            {
                Ok(body) => body,
                Err(_) => continue,
            };
            let Ok(envelope) = parse_envelope(Bytes::from(body)) else {
                continue;
            };
            for item in envelope.items.iter().filter(|i| i.ty() == ItemType::Event) {
                let name = format!("{scenario_name}/{}", file_name(&request));
                templates.push(Template::from_event_item(name, &envelope.headers, item)?);
            }
        }
    }
    Ok(templates)
}

/// Whether a captured request went to an `/envelope/` endpoint (`request.json`'s `path`). A
/// request without a readable `request.json` is tried as an envelope anyway.
fn is_envelope_request(request: &Path) -> bool {
    let Ok(text) = fs::read(request.join("request.json")) else {
        return true;
    };
    let Ok(meta) = serde_json::from_slice::<Value>(&text) else {
        return true;
    };
    match meta.get("path").and_then(Value::as_str) {
        Some(path) => path.trim_end_matches('/').ends_with("/envelope"),
        None => true,
    }
}

fn sorted_subdirs(dir: &Path) -> Result<Vec<std::path::PathBuf>> {
    let mut dirs = Vec::new();
    for entry in fs::read_dir(dir).with_context(|| format!("cannot read {}", dir.display()))? {
        let entry = entry?;
        if entry.file_type()?.is_dir() {
            dirs.push(entry.path());
        }
    }
    dirs.sort();
    Ok(dirs)
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Cuts serialized JSON at every sentinel token into literals and holes.
fn split_at_holes(json: &[u8]) -> Result<Vec<Piece>> {
    let tokens: Vec<(Hole, String)> = Hole::ALL.iter().map(|h| (*h, h.token())).collect();
    let prefix = format!("\"{SENTINEL_PREFIX}");
    let mut pieces = Vec::new();
    let mut rest = json;
    while let Some(at) = find(rest, prefix.as_bytes()) {
        let Some((hole, token)) = tokens
            .iter()
            .find(|(_, token)| rest[at..].starts_with(token.as_bytes()))
        else {
            bail!("a template contains the loadgen's sentinel prefix {SENTINEL_PREFIX:?}");
        };
        if at > 0 {
            pieces.push(literal(&rest[..at]));
        }
        pieces.push(Piece::Hole(*hole));
        rest = &rest[at + token.len()..];
    }
    if !rest.is_empty() {
        pieces.push(literal(rest));
    }
    Ok(pieces)
}

fn literal(raw: &[u8]) -> Piece {
    Piece::Literal {
        raw: raw.to_vec(),
        deflated: deflate_sync_flushed(raw),
    }
}

/// Compresses `raw` into raw DEFLATE blocks that end on a byte boundary and are not final, so
/// that they can be followed by any other blocks (see the module docs).
fn deflate_sync_flushed(raw: &[u8]) -> Vec<u8> {
    let mut compress = Compress::new(Compression::default(), false);
    let mut out = Vec::with_capacity(raw.len() + 128);
    loop {
        // `compress_vec` writes into spare capacity only.
        if out.capacity() - out.len() < 64 {
            out.reserve(out.capacity().max(256));
        }
        let consumed = usize::try_from(compress.total_in()).unwrap_or(raw.len());
        compress
            .compress_vec(&raw[consumed..], &mut out, FlushCompress::Sync)
            .expect("deflating from memory into memory cannot fail");
        // zlib's rule: the flush is complete once all input is in and the call left room.
        let all_in = usize::try_from(compress.total_in()).unwrap_or(raw.len()) == raw.len();
        if all_in && out.len() < out.capacity() {
            return out;
        }
    }
}

/// A DEFLATE stored block (RFC 1951 §3.2.4) at a byte boundary: header byte (BFINAL, BTYPE 00,
/// padding), LEN and NLEN little-endian, then the bytes. `data` is at most 65,535 bytes.
fn write_stored_block(out: &mut Vec<u8>, data: &[u8], last: bool) {
    let len = u16::try_from(data.len()).expect("stored blocks are cut at 65,535 bytes");
    out.push(u8::from(last));
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&(!len).to_le_bytes());
    out.extend_from_slice(data);
}

fn write_pieces<'t>(
    pieces: &'t [Piece],
    values: &HoleValues,
    plain: &mut Vec<u8>,
    mut segments: Option<&mut Vec<Segment<'t>>>,
) {
    for piece in pieces {
        match piece {
            Piece::Literal { raw, deflated } => {
                plain.extend_from_slice(raw);
                if let Some(segments) = segments.as_deref_mut() {
                    segments.push(Segment::Literal(deflated));
                }
            }
            Piece::Hole(hole) => {
                let start = plain.len();
                plain.extend_from_slice(values.get(*hole).as_bytes());
                push_dynamic(segments.as_deref_mut(), start..plain.len());
            }
        }
    }
}

/// Records written bytes, merging with the previous dynamic range so that neighbouring holes
/// share one stored block.
fn push_dynamic(segments: Option<&mut Vec<Segment<'_>>>, range: Range<usize>) {
    let Some(segments) = segments else { return };
    if let Some(Segment::Dynamic(last)) = segments.last_mut() {
        if last.end == range.start {
            last.end = range.end;
            return;
        }
    }
    segments.push(Segment::Dynamic(range));
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use std::io::Read;
    use std::path::PathBuf;

    use flate2::read::GzDecoder;
    use vigil_protocol::envelope::Envelope;

    use super::*;

    const ENVELOPE: &[u8] = b"{\"event_id\":\"9ec79c33ec9942ab8353589fcb2e04dc\",\"dsn\":\"http://k@h/42\",\"sent_at\":\"2020-01-01T00:00:00Z\",\"sdk\":{\"name\":\"sentry.python\"}}\n\
{\"type\":\"event\",\"content_type\":\"application/json\"}\n\
{\"event_id\":\"9ec79c33ec9942ab8353589fcb2e04dc\",\"timestamp\":1577836800,\"message\":\"boom\",\"fingerprint\":[\"custom\"],\"level\":\"error\"}\n";

    fn fresh(issue: u64) -> Fresh {
        Fresh {
            event_id: vigil_protocol::ids::new_event_id(),
            now: 1_800_000_000.25,
            issue,
        }
    }

    fn template() -> Template {
        let envelope = parse_envelope(Bytes::from_static(ENVELOPE)).unwrap();
        Template::from_event_item("test/001".into(), &envelope.headers, &envelope.items[0]).unwrap()
    }

    fn event_of(envelope: &Envelope) -> Value {
        assert_eq!(envelope.items.len(), 1);
        assert_eq!(envelope.items[0].ty(), ItemType::Event);
        serde_json::from_slice(&envelope.items[0].payload).unwrap()
    }

    fn gunzip(body: &[u8]) -> Vec<u8> {
        let mut plain = Vec::new();
        GzDecoder::new(body).read_to_end(&mut plain).unwrap();
        plain
    }

    /// The fixtures directory, or `None` (saying the test is skipped) where it is not there.
    fn fixtures_if_present() -> Option<PathBuf> {
        let dir =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures/sdk-payloads");
        if dir.is_dir() {
            return Some(dir);
        }
        eprintln!("skipped: no fixtures at {}", dir.display());
        None
    }

    #[test]
    fn rendered_envelope_parses_back_with_fresh_ids_and_fingerprint() {
        let template = template();
        let fresh = fresh(3);
        let envelope = parse_envelope(Bytes::from(template.render(&fresh))).unwrap();

        assert_eq!(
            envelope.event_id().as_deref(),
            Some(fresh.event_id.as_str())
        );
        assert_eq!(envelope.sent_at(), Some(1_800_000_000.25));
        assert_eq!(
            envelope.dsn(),
            None,
            "the capture server's dsn must not be sent"
        );
        assert_eq!(envelope.headers["sdk"]["name"], "sentry.python");
        assert_eq!(
            envelope.items[0].headers["content_type"],
            "application/json"
        );

        let event = event_of(&envelope);
        assert_eq!(event["event_id"], fresh.event_id.as_str());
        assert_eq!(event["timestamp"].as_f64(), Some(1_800_000_000.25));
        assert_eq!(event["fingerprint"], serde_json::json!(["loadgen-3"]));
        assert_eq!(event["message"], "boom");
        assert_eq!(
            envelope.items[0].headers["length"].as_u64(),
            Some(envelope.items[0].payload.len() as u64)
        );
    }

    #[test]
    fn every_render_has_a_new_event_id() {
        let template = template();
        let a = parse_envelope(Bytes::from(template.render(&fresh(0)))).unwrap();
        let b = parse_envelope(Bytes::from(template.render(&fresh(0)))).unwrap();
        assert_ne!(a.event_id(), b.event_id());
        assert_ne!(event_of(&a)["event_id"], event_of(&b)["event_id"]);
    }

    #[test]
    fn spliced_gzip_decodes_to_the_plain_envelope() {
        let template = template();
        let fresh = fresh(7);
        let mut scratch = Vec::new();
        let gzipped = template.render_gzip(&fresh, &mut scratch);
        assert_eq!(gunzip(&gzipped), template.render(&fresh));
    }

    #[test]
    fn fixture_templates_render_valid_envelopes_plain_and_gzipped() {
        let Some(dir) = fixtures_if_present() else {
            return;
        };
        let templates = load_templates(&dir, None).unwrap();
        assert!(templates.len() >= 15, "only {} templates", templates.len());
        let mut scratch = Vec::new();
        for (i, template) in templates.iter().enumerate() {
            let fresh = fresh(i as u64);
            let plain = template.render(&fresh);
            assert_eq!(
                gunzip(&template.render_gzip(&fresh, &mut scratch)),
                plain,
                "{}",
                template.name
            );
            let envelope = parse_envelope(Bytes::from(plain))
                .unwrap_or_else(|e| panic!("{}: {e}", template.name));
            assert_eq!(
                envelope.event_id().as_deref(),
                Some(fresh.event_id.as_str())
            );
            let event = event_of(&envelope);
            assert_eq!(
                event["event_id"],
                fresh.event_id.as_str(),
                "{}",
                template.name
            );
            assert_eq!(event["fingerprint"][0], format!("loadgen-{i}"));
        }
    }

    #[test]
    fn template_filter_picks_scenarios_by_name() {
        let Some(dir) = fixtures_if_present() else {
            return;
        };
        let templates = load_templates(&dir, Some("django-zerodivision")).unwrap();
        assert_eq!(templates.len(), 1);
        assert_eq!(
            templates[0].name,
            "django-zerodivision/001-post-api-42-envelope"
        );
        // Raven's store requests and sentry-cli's web API calls are not envelopes.
        assert!(load_templates(&dir, Some("raven")).unwrap().is_empty());
    }

    #[test]
    fn non_event_items_are_refused() {
        let item = Item::new(ItemType::Transaction, Bytes::from_static(b"{}"));
        assert!(Template::from_event_item("t".into(), &Map::new(), &item).is_err());
    }
}
