//! What opening the queue does before its writer starts: lock the directory, read the log back
//! into the index (cutting a torn tail, skipping corrupt records, replaying the side files) and
//! move in the entries of an earlier version's `queue.sqlite3`.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::record::{
    parse_segment_header, parse_side, scan, SEGMENT_HEADER_LEN, SIDE_ACK, SIDE_CLAIM,
};
use super::{
    create_segment, io_error, legacy, open_segment_file, open_side, remove_segment_files,
    segment_path, side_path, sync_dir, Appender, Entry, Inner, Pending, Segment, State,
    UPGRADE_BATCH_BYTES,
};
use crate::{StoreError, StoreResult};

/// How long opening waits for the directory's lock: a queue closed in this process a moment ago
/// releases it when its writer thread has ended.
const LOCK_WAIT: Duration = Duration::from_secs(3);

/// Locks the queue's directory for this process: two processes appending to one log would
/// interleave their records, and each would void the other's leases at open. The lock goes with
/// the process, so a killed server leaves nothing to clean up.
pub(super) fn lock_dir(dir: &Path) -> StoreResult<File> {
    let path = dir.join("lock");
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| io_error("opening", &path, e))?;
    let deadline = std::time::Instant::now() + LOCK_WAIT;
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(file),
            Err(std::fs::TryLockError::WouldBlock) if std::time::Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(StoreError::Database(format!(
                    "the ingest queue in {} is in use by another process (is another `vigil serve` running on this data dir?)",
                    dir.display()
                )))
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(io_error("locking", &path, e)),
        }
    }
}

/// Segment numbers and side-file numbers in the queue's directory.
pub(super) fn list(dir: &Path) -> StoreResult<(Vec<u64>, Vec<u64>)> {
    let mut segments = Vec::new();
    let mut sides = Vec::new();
    let entries = std::fs::read_dir(dir).map_err(|e| io_error("listing", dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| io_error("listing", dir, e))?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let Some((stem, extension)) = name.split_once('.') else {
            continue;
        };
        let Ok(number) = stem.parse::<u64>() else {
            continue;
        };
        match extension {
            "log" => segments.push(number),
            "acks" => sides.push(number),
            _ => {}
        }
    }
    segments.sort_unstable();
    Ok((segments, sides))
}

/// Reads the segments into an index, cuts a torn tail, replays the side files, starts a new
/// segment to write, and removes the drained ones.
pub(super) fn recover(
    dir: PathBuf,
    lock: File,
    segment_bytes: u64,
) -> StoreResult<(Arc<Inner>, Appender)> {
    let (numbers, sides) = list(&dir)?;
    for orphan in sides.iter().filter(|n| !numbers.contains(n)) {
        remove_segment_files(&dir, *orphan);
    }
    let last = numbers.last().copied();
    let mut state = State {
        entries: BTreeMap::new(),
        segments: BTreeMap::new(),
        active: 0,
        bytes: 0,
    };
    let mut next_id: i64 = 1;
    for &number in &numbers {
        let path = segment_path(&dir, number);
        let bytes = std::fs::read(&path).map_err(|e| io_error("reading", &path, e))?;
        if bytes.len() < SEGMENT_HEADER_LEN {
            // Created, but its header never reached the disk: it holds nothing.
            tracing::warn!(path = %path.display(), "removing a queue segment without a header");
            remove_segment_files(&dir, number);
            continue;
        }
        let Some(base_id) = parse_segment_header(&bytes) else {
            tracing::error!(path = %path.display(), "not a queue segment; left alone");
            continue;
        };
        next_id = next_id.max(base_id);
        let scanned = scan(&bytes, SEGMENT_HEADER_LEN);
        for (from, to) in &scanned.skipped {
            tracing::error!(
                path = %path.display(), offset = from, bytes = to - from,
                "corrupt queue records skipped"
            );
        }
        if scanned.valid_end < bytes.len() {
            if Some(number) == last {
                // The batch being written when the process stopped: never synced, never
                // answered.
                tracing::warn!(
                    path = %path.display(), bytes = bytes.len() - scanned.valid_end,
                    "cutting the torn tail of the queue log"
                );
                OpenOptions::new()
                    .write(true)
                    .open(&path)
                    .and_then(|file| {
                        file.set_len(scanned.valid_end as u64)?;
                        file.sync_all()
                    })
                    .map_err(|e| io_error("truncating", &path, e))?;
            } else {
                tracing::error!(
                    path = %path.display(), offset = scanned.valid_end,
                    bytes = bytes.len() - scanned.valid_end,
                    "corrupt bytes at the end of a queue segment skipped"
                );
            }
        }
        let file = open_segment_file(&path)?;
        let mut live = 0;
        for found in &scanned.records {
            next_id = next_id.max(found.id.saturating_add(1));
            if found.erased {
                continue;
            }
            if state.entries.contains_key(&found.id) {
                tracing::error!(id = found.id, "queue entry found twice; the second skipped");
                continue;
            }
            live += 1;
            state.bytes += found.len as u64;
            state.entries.insert(
                found.id,
                Entry {
                    segment: number,
                    offset: found.offset as u64,
                    len: found.len as u32,
                    received: found.received,
                    lease_until: 0.0,
                    attempts: 0,
                },
            );
        }
        let acked = replay_side(&dir, number, &mut state)?;
        let side = open_side(&dir, number)?;
        state.segments.insert(
            number,
            Segment {
                file: Arc::new(file),
                side,
                live: live - acked,
            },
        );
    }
    // The new segment, with the next id in its header, exists before drained ones go, so ids
    // keep growing even when nothing else is left.
    let number = last.map_or(1, |n| n + 1);
    let (file, segment) = create_segment(&dir, number, next_id)?;
    state.segments.insert(number, segment);
    state.active = number;
    let drained: Vec<u64> = state
        .segments
        .iter()
        .filter(|(_, segment)| segment.live == 0)
        .map(|(n, _)| *n)
        .collect();
    for old in drained {
        if state.remove_if_drained(old) {
            remove_segment_files(&dir, old);
        }
    }
    let inner = Arc::new(Inner {
        dir,
        _lock: lock,
        state: Mutex::new(state),
        depth: AtomicU64::new(0),
        bytes: AtomicU64::new(0),
        oldest_received: AtomicU64::new(f64::NAN.to_bits()),
        commits: AtomicU64::new(0),
    });
    inner.publish(&inner.lock());
    let appender = Appender {
        inner: Arc::clone(&inner),
        file,
        number,
        size: SEGMENT_HEADER_LEN as u64,
        segment_bytes,
        next_id,
        broken: false,
        buffer: Vec::new(),
    };
    Ok((inner, appender))
}

/// Applies a segment's side file to the index (attempts, acknowledgements), cutting it after
/// its last whole record so that new ones line up. Returns how many of its entries were
/// acknowledged.
fn replay_side(dir: &Path, number: u64, state: &mut State) -> StoreResult<usize> {
    let path = side_path(dir, number);
    let bytes = match std::fs::read(&path) {
        Ok(bytes) => bytes,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(err) => return Err(io_error("reading", &path, err)),
    };
    let (records, valid) = parse_side(&bytes);
    let mut acked = 0;
    for (kind, id) in records {
        let Some(entry) = state.entries.get_mut(&id).filter(|e| e.segment == number) else {
            continue;
        };
        match kind {
            SIDE_CLAIM => entry.attempts += 1,
            SIDE_ACK => {
                let len = entry.len;
                state.entries.remove(&id);
                state.bytes = state.bytes.saturating_sub(u64::from(len));
                acked += 1;
            }
            _ => {}
        }
    }
    if valid < bytes.len() {
        OpenOptions::new()
            .write(true)
            .open(&path)
            .and_then(|file| file.set_len(valid as u64))
            .map_err(|e| io_error("truncating", &path, e))?;
    }
    Ok(acked)
}

/// Moves the entries of an earlier version's `queue.sqlite3` into the log, synced, then removes
/// that file. Entries already in the log (an upgrade interrupted after its write) are not
/// moved twice; ids and attempts are kept.
pub(super) fn upgrade(path: &Path, inner: &Inner, appender: &mut Appender) -> StoreResult<()> {
    if !path.exists() {
        return Ok(());
    }
    let mut batch: Vec<legacy::LegacyEntry> = Vec::new();
    let mut batch_bytes = 0;
    let mut moved = 0u64;
    let mut flush = |batch: &mut Vec<legacy::LegacyEntry>| -> StoreResult<()> {
        let pending: Vec<Pending<'_>> = batch
            .iter()
            .map(|entry| Pending {
                id: entry.id,
                envelope: &entry.envelope,
                compressed: None,
                attempts: u32::try_from(entry.attempts).unwrap_or(0),
            })
            .collect();
        let placed = appender.append(&pending)?;
        inner.insert(&placed);
        moved += placed.len() as u64;
        batch.clear();
        Ok(())
    };
    legacy::read_entries(path, |entry| {
        if inner.lock().entries.contains_key(&entry.id) {
            return Ok(());
        }
        batch_bytes += entry.envelope.body.len();
        batch.push(entry);
        if batch_bytes >= UPGRADE_BATCH_BYTES {
            batch_bytes = 0;
            flush(&mut batch)?;
        }
        Ok(())
    })?;
    if !batch.is_empty() {
        flush(&mut batch)?;
    }
    legacy::remove(path).map_err(|e| io_error("removing", path, e))?;
    if let Some(dir) = path.parent() {
        sync_dir(dir)?;
    }
    tracing::info!(
        moved,
        "moved the entries of the old queue file into the queue log"
    );
    Ok(())
}
