//! The queue log's binary formats: segment files of envelope records, and the side files of
//! claims and acknowledgements beside them.
//!
//! A segment starts with [`SEGMENT_HEADER_LEN`] bytes: a magic and the id the segment's first
//! entry would get (so that ids keep growing across restarts after every entry was drained).
//! Records follow, each a 12-byte header and a payload:
//!
//! ```text
//! header   "VQ" | version 1 | flags | payload length u32 | CRC-32 of header[0..8] + payload
//! payload  id i64 | project_id i64 | received f64 | body length u32
//!          | client_ip (u32 length, u32::MAX = none) | client_sdk (same) | body
//! ```
//!
//! Integers are little-endian. `flags` bit 0 marks a zstd-compressed body (the body length is
//! then the decompressed one). Bit 1 marks an erased record: once an entry is acknowledged its
//! record is overwritten in place by one of the same length that keeps only the id (so ids
//! keep growing across restarts) and zeros, so that what the SDK sent, secrets included, is not
//! left readable in the log after the scrubbed event is stored.
//!
//! A side-file record is 13 bytes: a kind ([`SIDE_CLAIM`] or [`SIDE_ACK`]), the entry id and a
//! CRC-32 of those 9 bytes.

use crate::queue::QueuedEnvelope;

/// Magic and format version at the start of every segment file.
pub(super) const SEGMENT_MAGIC: &[u8; 8] = b"VIGILQ\x00\x01";
/// Magic, then the next entry id when the segment was created.
pub(super) const SEGMENT_HEADER_LEN: usize = 16;

const RECORD_MAGIC: &[u8; 2] = b"VQ";
const RECORD_VERSION: u8 = 1;
pub(super) const RECORD_HEADER_LEN: usize = 12;
/// `flags` bit: the body is zstd-compressed.
pub(super) const FLAG_ZSTD: u8 = 1;
/// `flags` bit: the entry was acknowledged and its record erased (see the module docs).
pub(super) const FLAG_ERASED: u8 = 2;
/// id, project_id, received, body length, and the two optional strings' lengths.
const FIXED_PAYLOAD_LEN: usize = 8 + 8 + 8 + 4 + 4 + 4;
const NONE_LEN: u32 = u32::MAX;

pub(super) const SIDE_RECORD_LEN: usize = 13;
/// A claim: one attempt more.
pub(super) const SIDE_CLAIM: u8 = b'C';
/// An acknowledgement: the entry is done.
pub(super) const SIDE_ACK: u8 = b'A';

pub(super) fn segment_header(next_id: i64) -> [u8; SEGMENT_HEADER_LEN] {
    let mut header = [0; SEGMENT_HEADER_LEN];
    header[..8].copy_from_slice(SEGMENT_MAGIC);
    header[8..].copy_from_slice(&next_id.to_le_bytes());
    header
}

/// The next id a segment header records, `None` when the header is not one.
pub(super) fn parse_segment_header(bytes: &[u8]) -> Option<i64> {
    let header = bytes.get(..SEGMENT_HEADER_LEN)?;
    (&header[..8] == SEGMENT_MAGIC)
        .then(|| i64::from_le_bytes(header[8..].try_into().unwrap_or([0; 8])))
}

/// Appends one record to `out`; `body` is the stored form (raw, or compressed when `flags`
/// says so) of an envelope whose decoded body is `body_len` bytes. Fails only when a field
/// does not fit its length.
pub(super) fn encode_record(
    out: &mut Vec<u8>,
    id: i64,
    envelope: &QueuedEnvelope,
    flags: u8,
    body: &[u8],
    body_len: usize,
) -> Result<(), String> {
    let ip = envelope.client_ip.as_deref().map(str::as_bytes);
    let sdk = envelope.client_sdk.as_deref().map(str::as_bytes);
    let payload_len =
        FIXED_PAYLOAD_LEN + ip.map_or(0, <[u8]>::len) + sdk.map_or(0, <[u8]>::len) + body.len();
    let payload_len = u32::try_from(payload_len)
        .ok()
        .filter(|len| *len < u32::MAX)
        .ok_or_else(|| format!("an envelope of {payload_len} bytes is too large to queue"))?;
    let body_len = u32::try_from(body_len)
        .map_err(|_| format!("an envelope of {body_len} bytes is too large to queue"))?;
    let start = out.len();
    out.reserve(RECORD_HEADER_LEN + payload_len as usize);
    out.extend_from_slice(RECORD_MAGIC);
    out.push(RECORD_VERSION);
    out.push(flags);
    out.extend_from_slice(&payload_len.to_le_bytes());
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&id.to_le_bytes());
    out.extend_from_slice(&envelope.project_id.to_le_bytes());
    out.extend_from_slice(&envelope.received.to_le_bytes());
    out.extend_from_slice(&body_len.to_le_bytes());
    for field in [ip, sdk] {
        match field {
            // Lengths fit: the whole payload's did.
            Some(bytes) => {
                out.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
                out.extend_from_slice(bytes);
            }
            None => out.extend_from_slice(&NONE_LEN.to_le_bytes()),
        }
    }
    out.extend_from_slice(body);
    let crc = record_crc(&out[start..start + 8], &out[start + RECORD_HEADER_LEN..]);
    out[start + 8..start + RECORD_HEADER_LEN].copy_from_slice(&crc.to_le_bytes());
    Ok(())
}

/// Appends an erased record of `len` bytes (the length of the record it replaces, at least a
/// header and the fixed payload) for entry `id`: a valid record with [`FLAG_ERASED`], the id
/// and zeros.
pub(super) fn encode_erased(out: &mut Vec<u8>, id: i64, len: usize) {
    let len = len.max(RECORD_HEADER_LEN + FIXED_PAYLOAD_LEN);
    let start = out.len();
    out.reserve(len);
    out.extend_from_slice(RECORD_MAGIC);
    out.push(RECORD_VERSION);
    out.push(FLAG_ERASED);
    // The replaced record's payload length fitted a u32.
    out.extend_from_slice(&((len - RECORD_HEADER_LEN) as u32).to_le_bytes());
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&id.to_le_bytes());
    out.resize(start + len, 0);
    let crc = record_crc(
        &out[start..start + 8],
        &out[start + RECORD_HEADER_LEN..start + len],
    );
    out[start + 8..start + RECORD_HEADER_LEN].copy_from_slice(&crc.to_le_bytes());
}

fn record_crc(header: &[u8], payload: &[u8]) -> u32 {
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(header);
    hasher.update(payload);
    hasher.finalize()
}

/// What a whole record holds, its body still in stored form.
pub(super) struct Record<'a> {
    pub(super) id: i64,
    pub(super) flags: u8,
    pub(super) body_len: usize,
    pub(super) project_id: i64,
    pub(super) received: f64,
    pub(super) client_ip: Option<&'a [u8]>,
    pub(super) client_sdk: Option<&'a [u8]>,
    pub(super) body: &'a [u8],
}

/// Why bytes are not a record.
#[derive(Debug, PartialEq)]
pub(super) enum Invalid {
    /// The bytes end before the record does.
    Incomplete,
    /// Not a record header, or the CRC does not match.
    Corrupt,
}

/// The record at the start of `bytes` and its total length.
pub(super) fn parse_record(bytes: &[u8]) -> Result<(Record<'_>, usize), Invalid> {
    let header = bytes.get(..RECORD_HEADER_LEN).ok_or(Invalid::Incomplete)?;
    if &header[..2] != RECORD_MAGIC
        || header[2] != RECORD_VERSION
        || header[3] & !(FLAG_ZSTD | FLAG_ERASED) != 0
    {
        return Err(Invalid::Corrupt);
    }
    let payload_len = u32::from_le_bytes(field(header, 4)) as usize;
    let crc = u32::from_le_bytes(field(header, 8));
    let total = RECORD_HEADER_LEN + payload_len;
    let payload = bytes
        .get(RECORD_HEADER_LEN..total)
        .ok_or(Invalid::Incomplete)?;
    if payload_len < FIXED_PAYLOAD_LEN || record_crc(&header[..8], payload) != crc {
        return Err(Invalid::Corrupt);
    }
    let mut rest = &payload[FIXED_PAYLOAD_LEN - 8..];
    let mut string = || -> Result<Option<&[u8]>, Invalid> {
        let (len, after) = rest.split_at_checked(4).ok_or(Invalid::Corrupt)?;
        let len = u32::from_le_bytes(field(len, 0));
        rest = after;
        if len == NONE_LEN {
            return Ok(None);
        }
        let (value, after) = rest
            .split_at_checked(len as usize)
            .ok_or(Invalid::Corrupt)?;
        rest = after;
        Ok(Some(value))
    };
    let client_ip = string()?;
    let client_sdk = string()?;
    let record = Record {
        id: i64::from_le_bytes(field(payload, 0)),
        project_id: i64::from_le_bytes(field(payload, 8)),
        received: f64::from_le_bytes(field(payload, 16)),
        body_len: u32::from_le_bytes(field(payload, 24)) as usize,
        flags: header[3],
        client_ip,
        client_sdk,
        body: rest,
    };
    Ok((record, total))
}

/// `N` bytes at `at` of a slice whose length was checked (zeros otherwise: never a panic).
fn field<const N: usize>(bytes: &[u8], at: usize) -> [u8; N] {
    bytes
        .get(at..at + N)
        .and_then(|slice| slice.try_into().ok())
        .unwrap_or([0; N])
}

/// A record found by [`scan`]: where it is and what the index needs of it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Found {
    pub(super) offset: usize,
    pub(super) len: usize,
    pub(super) id: i64,
    pub(super) received: f64,
    /// Acknowledged and erased: only its id counts.
    pub(super) erased: bool,
}

/// What a segment's bytes hold.
#[derive(Debug, Default, PartialEq)]
pub(super) struct Scan {
    pub(super) records: Vec<Found>,
    /// Ranges that held no valid record, skipped to the next valid one.
    pub(super) skipped: Vec<(usize, usize)>,
    /// Where the last valid record ends; bytes after it are a torn (or corrupt) tail.
    pub(super) valid_end: usize,
}

/// Reads the records of a segment (after its header), skipping corrupt stretches: after a
/// record that fails, the next position where a valid record starts is taken up again.
pub(super) fn scan(bytes: &[u8], start: usize) -> Scan {
    let mut scan = Scan {
        valid_end: start,
        ..Scan::default()
    };
    let mut at = start;
    while at < bytes.len() {
        match parse_record(&bytes[at..]) {
            Ok((record, len)) => {
                scan.records.push(Found {
                    offset: at,
                    len,
                    id: record.id,
                    received: record.received,
                    erased: record.flags & FLAG_ERASED != 0,
                });
                at += len;
                scan.valid_end = at;
            }
            Err(_) => match next_valid(bytes, at + 1) {
                Some(next) => {
                    scan.skipped.push((at, next));
                    at = next;
                }
                None => break,
            },
        }
    }
    scan
}

/// The first position from `from` on where a complete, valid record starts.
fn next_valid(bytes: &[u8], from: usize) -> Option<usize> {
    let mut at = from;
    while at < bytes.len() {
        let candidate = bytes[at..].windows(3).position(|w| w == b"VQ\x01")? + at;
        if parse_record(&bytes[candidate..]).is_ok() {
            return Some(candidate);
        }
        at = candidate + 1;
    }
    None
}

pub(super) fn side_record(kind: u8, id: i64) -> [u8; SIDE_RECORD_LEN] {
    let mut record = [0; SIDE_RECORD_LEN];
    record[0] = kind;
    record[1..9].copy_from_slice(&id.to_le_bytes());
    let crc = crc32fast::hash(&record[..9]);
    record[9..].copy_from_slice(&crc.to_le_bytes());
    record
}

/// The side records at the start of `bytes`, up to the first that is torn or corrupt, and
/// how many bytes they take.
pub(super) fn parse_side(bytes: &[u8]) -> (Vec<(u8, i64)>, usize) {
    let mut records = Vec::with_capacity(bytes.len() / SIDE_RECORD_LEN);
    for chunk in bytes.chunks_exact(SIDE_RECORD_LEN) {
        let crc = u32::from_le_bytes(field(chunk, 9));
        if crc32fast::hash(&chunk[..9]) != crc || !matches!(chunk[0], SIDE_CLAIM | SIDE_ACK) {
            break;
        }
        records.push((chunk[0], i64::from_le_bytes(field(chunk, 1))));
    }
    let len = records.len() * SIDE_RECORD_LEN;
    (records, len)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn envelope(n: usize) -> QueuedEnvelope {
        QueuedEnvelope {
            project_id: 7,
            received: 1_700_000_000.5 + n as f64,
            client_ip: n.is_multiple_of(2).then(|| "10.0.0.1".to_owned()),
            client_sdk: Some("sentry.rust/0.1".to_owned()),
            body: format!("{{\"event_id\":\"{n:032x}\"}}\n")
                .repeat(n + 1)
                .into_bytes(),
        }
    }

    fn log(count: usize) -> Vec<u8> {
        let mut bytes = segment_header(1).to_vec();
        for n in 0..count {
            let e = envelope(n);
            encode_record(&mut bytes, n as i64 + 1, &e, 0, &e.body, e.body.len()).unwrap();
        }
        bytes
    }

    #[test]
    fn an_erased_record_keeps_its_place_and_id_and_nothing_else() {
        let mut bytes = log(3);
        let scanned = scan(&bytes, SEGMENT_HEADER_LEN);
        let middle = scanned.records[1];
        let mut erased = Vec::new();
        encode_erased(&mut erased, middle.id, middle.len);
        assert_eq!(erased.len(), middle.len);
        bytes[middle.offset..middle.offset + middle.len].copy_from_slice(&erased);
        assert!(!bytes
            .windows(b"event_id".len())
            .skip(middle.offset)
            .take(middle.len)
            .any(|w| w == b"event_id"));
        let rescanned = scan(&bytes, SEGMENT_HEADER_LEN);
        assert!(rescanned.skipped.is_empty());
        assert_eq!(rescanned.valid_end, bytes.len());
        let erased: Vec<(i64, bool)> = rescanned.records.iter().map(|f| (f.id, f.erased)).collect();
        assert_eq!(erased, vec![(1, false), (2, true), (3, false)]);
    }

    #[test]
    fn records_round_trip() {
        let bytes = log(3);
        assert_eq!(parse_segment_header(&bytes), Some(1));
        let scan = scan(&bytes, SEGMENT_HEADER_LEN);
        assert_eq!(scan.records.len(), 3);
        assert_eq!(scan.valid_end, bytes.len());
        let found = scan.records[2];
        let (record, len) = parse_record(&bytes[found.offset..]).unwrap();
        let e = envelope(2);
        assert_eq!((record.id, len, record.project_id), (3, found.len, 7));
        assert_eq!(record.received, e.received);
        assert_eq!(record.client_ip, Some(&b"10.0.0.1"[..]));
        assert_eq!(record.client_sdk, Some(&b"sentry.rust/0.1"[..]));
        assert_eq!((record.body, record.body_len), (&e.body[..], e.body.len()));
        assert_eq!(
            parse_record(&bytes[scan.records[1].offset..])
                .unwrap()
                .0
                .client_ip,
            None
        );
    }

    #[test]
    fn a_torn_tail_ends_the_valid_part_and_a_corrupt_record_is_skipped() {
        let bytes = log(4);
        let records = scan(&bytes, SEGMENT_HEADER_LEN).records;
        let torn = &bytes[..bytes.len() - 5];
        let scanned = scan(torn, SEGMENT_HEADER_LEN);
        assert_eq!(scanned.records.len(), 3);
        assert_eq!(scanned.valid_end, records[3].offset);

        let mut corrupt = bytes.clone();
        corrupt[records[1].offset + RECORD_HEADER_LEN + 3] ^= 0x40;
        let scanned = scan(&corrupt, SEGMENT_HEADER_LEN);
        let ids: Vec<i64> = scanned.records.iter().map(|f| f.id).collect();
        assert_eq!(ids, vec![1, 3, 4]);
        assert_eq!(
            scanned.skipped,
            vec![(records[1].offset, records[2].offset)]
        );
        assert_eq!(scanned.valid_end, bytes.len());
    }

    #[test]
    fn side_records_stop_at_the_first_bad_one() {
        let mut bytes = Vec::new();
        bytes.extend_from_slice(&side_record(SIDE_CLAIM, 5));
        bytes.extend_from_slice(&side_record(SIDE_ACK, 5));
        bytes.extend_from_slice(&side_record(SIDE_ACK, 6)[..7]);
        assert_eq!(
            parse_side(&bytes),
            (vec![(SIDE_CLAIM, 5), (SIDE_ACK, 5)], 2 * SIDE_RECORD_LEN)
        );
        bytes[1] ^= 1;
        assert_eq!(parse_side(&bytes), (vec![], 0));
    }
}
