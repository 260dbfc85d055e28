//! The single-node ingest queue: an append-only log of segment files in `<data-dir>/queue/`.
//!
//! The queue's only durable promise is that an envelope answered 200 is on disk; everything else
//! about an entry (who holds it, how often it was tried, that it is done) may be lost in a crash
//! at the price of processing it again, which the store makes harmless (see the module docs of
//! the server's `jobs::workers`). So the log is built for that one write:
//!
//! - One writer thread appends. It takes every enqueue waiting when it wakes, writes their
//!   records with one `write` and one `fdatasync` (group commit), and only then answers them, so
//!   a thousand concurrent requests cost a handful of syncs.
//! - Claims and acknowledgements are served from an in-memory index (id → segment, offset,
//!   lease, attempts) on the caller's side, never behind a sync. They are appended to a side
//!   file per segment (`00000001.acks`), unsynced, so that after a restart acknowledged entries
//!   are mostly not processed again and `attempts` keeps counting.
//! - A segment is rolled at [`SEGMENT_BYTES`], and deleted with its side file once every entry
//!   in it is acknowledged and it is not the one being written; the one being written is rolled
//!   when it is drained and the queue has been idle for [`IDLE_ROLL`], so the disk use of a
//!   drained queue drops back to an empty segment.
//! - Bodies are stored as given (the decoded envelope): compressing them cost more CPU on the
//!   accept side than the bytes it saves cost to write, for a log that is deleted once drained
//!   (`docs/storage.md`). Records carry a flag, so compressed records read back all the same.
//! - At open every segment is scanned and its CRCs checked: a torn tail (the records of a batch
//!   whose sync never finished, so never answered) is cut off; a corrupt record elsewhere is
//!   logged and skipped. Leases of a previous process are void: this process owns the files now.
//!   Entries of a `queue.sqlite3` left by an earlier version are moved into the log, synced,
//!   before that file is removed.
//!
//! The record formats are in [`record`].

mod legacy;
mod record;
mod recovery;

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::oneshot;

use self::record::{
    encode_record, parse_record, segment_header, side_record, FLAG_ZSTD, SEGMENT_HEADER_LEN,
    SIDE_ACK, SIDE_CLAIM,
};
use self::recovery::{lock_dir, recover, upgrade};
use super::now;
use crate::payload::{compress_envelope, EnvelopeDecoder};
use crate::queue::{ClaimedEnvelope, IngestQueue, QueueStats, QueuedEnvelope};
use crate::{StoreError, StoreResult};

/// A segment no longer takes new records once it is this large.
const SEGMENT_BYTES: u64 = 64 << 20;
/// Enqueues written by one group commit at most…
const MAX_ENQUEUES_PER_COMMIT: usize = 1024;
/// …and their bytes, so that one huge burst does not hold the first callers for long.
const MAX_BYTES_PER_COMMIT: usize = 16 << 20;
/// How long the writer waits without an enqueue before it rolls a drained segment away.
const IDLE_ROLL: Duration = Duration::from_secs(1);
/// Whether bodies are stored zstd-compressed (see the module docs for why not).
const COMPRESS_BODIES: bool = false;
/// Bodies up to this size are compressed on the caller's task, larger ones on the blocking
/// pool (only when [`COMPRESS_BODIES`]).
const INLINE_COMPRESSION_BYTES: usize = 128 * 1024;
/// Bytes of old entries moved per sync when upgrading from `queue.sqlite3`.
const UPGRADE_BATCH_BYTES: usize = 8 << 20;

/// [`IngestQueue`] on a log of segment files.
#[derive(Clone)]
pub struct LogQueue {
    enqueues: mpsc::Sender<Enqueue>,
    inner: Arc<Inner>,
}

/// What the writer thread and the callers share.
struct Inner {
    dir: PathBuf,
    /// The directory's lock, held while the queue is open (see [`lock_dir`]).
    _lock: File,
    state: Mutex<State>,
    depth: AtomicU64,
    bytes: AtomicU64,
    /// Receive time of the oldest entry, as f64 bits; NaN bits when empty.
    oldest_received: AtomicU64,
    commits: AtomicU64,
}

/// The index of the entries not yet acknowledged.
struct State {
    entries: BTreeMap<i64, Entry>,
    segments: BTreeMap<u64, Segment>,
    /// The segment being written, never removed.
    active: u64,
    /// Record bytes of the entries.
    bytes: u64,
}

struct Entry {
    segment: u64,
    offset: u64,
    len: u32,
    received: f64,
    lease_until: f64,
    attempts: u32,
}

struct Segment {
    /// For reading records back.
    file: Arc<File>,
    /// Where claims and acknowledgements of its entries go.
    side: File,
    /// Its entries not yet acknowledged.
    live: usize,
}

/// One waiting enqueue: the envelope, its body compressed when bodies are, and who to answer.
struct Enqueue {
    envelope: QueuedEnvelope,
    compressed: Option<Vec<u8>>,
    reply: oneshot::Sender<StoreResult<i64>>,
}

impl LogQueue {
    /// Opens (creating) the queue of a data dir, in `data_dir/queue/`, moving in the entries of
    /// an earlier version's `data_dir/queue.sqlite3`, and starts its writer thread. Blocking:
    /// call at start.
    pub fn open(data_dir: &Path) -> StoreResult<LogQueue> {
        LogQueue::open_with_segment_bytes(data_dir, SEGMENT_BYTES)
    }

    /// [`LogQueue::open`] with segments rolled at `segment_bytes` (tests roll small ones).
    fn open_with_segment_bytes(data_dir: &Path, segment_bytes: u64) -> StoreResult<LogQueue> {
        let dir = data_dir.join("queue");
        std::fs::create_dir_all(&dir).map_err(|e| io_error("creating", &dir, e))?;
        let lock = lock_dir(&dir)?;
        let (inner, mut appender) = recover(dir, lock, segment_bytes)?;
        upgrade(&legacy::path(data_dir), &inner, &mut appender)?;
        let (enqueues, receiver) = mpsc::channel();
        std::thread::Builder::new()
            .name("vigil-queue-writer".into())
            .spawn(move || run_writer(appender, receiver))
            .map_err(|e| StoreError::Database(format!("starting the queue writer: {e}")))?;
        Ok(LogQueue { enqueues, inner })
    }

    /// Group commits (each one write and one sync) since open: fewer than enqueues under
    /// concurrency, which is the point.
    pub fn commits(&self) -> u64 {
        self.inner.commits.load(Ordering::Relaxed)
    }
}

#[async_trait]
impl IngestQueue for LogQueue {
    async fn enqueue(&self, envelope: QueuedEnvelope) -> StoreResult<i64> {
        let (envelope, compressed) = if !COMPRESS_BODIES {
            (envelope, None)
        } else if envelope.body.len() <= INLINE_COMPRESSION_BYTES {
            let compressed = compress_envelope(&envelope.body)?;
            (envelope, Some(compressed))
        } else {
            tokio::task::spawn_blocking(move || {
                compress_envelope(&envelope.body).map(|compressed| (envelope, Some(compressed)))
            })
            .await
            .map_err(|e| StoreError::Database(format!("queue task failed: {e}")))??
        };
        let (reply, answer) = oneshot::channel();
        self.enqueues
            .send(Enqueue {
                envelope,
                compressed,
                reply,
            })
            .map_err(|_| StoreError::Database("the queue writer has stopped".into()))?;
        answer
            .await
            .map_err(|_| StoreError::Database("the queue writer stopped before answering".into()))?
    }

    async fn claim(&self, max: usize, lease_secs: f64) -> StoreResult<Vec<ClaimedEnvelope>> {
        // Reading the bodies back is file I/O: off the runtime's threads.
        let inner = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || inner.claim(max, lease_secs))
            .await
            .map_err(|e| StoreError::Database(format!("queue task failed: {e}")))?
    }

    async fn ack(&self, ids: &[i64]) -> StoreResult<()> {
        if !ids.is_empty() {
            self.inner.ack(ids);
        }
        Ok(())
    }

    async fn stats(&self) -> StoreResult<QueueStats> {
        let depth = self.inner.depth.load(Ordering::Relaxed);
        let oldest = f64::from_bits(self.inner.oldest_received.load(Ordering::Relaxed));
        Ok(QueueStats {
            depth,
            bytes: self.inner.bytes.load(Ordering::Relaxed),
            oldest_received: (!oldest.is_nan() && depth > 0).then_some(oldest),
        })
    }
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Copies the index's figures to the counters `stats` reads without the lock.
    fn publish(&self, state: &State) {
        self.depth
            .store(state.entries.len() as u64, Ordering::Relaxed);
        self.bytes.store(state.bytes, Ordering::Relaxed);
        let oldest = state
            .entries
            .first_key_value()
            .map_or(f64::NAN, |(_, entry)| entry.received);
        self.oldest_received
            .store(oldest.to_bits(), Ordering::Relaxed);
    }

    /// Adds written (and synced) records to the index.
    fn insert(&self, placed: &[Placed]) {
        let mut state = self.lock();
        let mut side = SideWrites::default();
        for place in placed {
            let Some(segment) = state.segments.get_mut(&place.segment) else {
                continue;
            };
            segment.live += 1;
            for _ in 0..place.attempts {
                side.add(place.segment, SIDE_CLAIM, place.id);
            }
            state.bytes += u64::from(place.len);
            state.entries.insert(
                place.id,
                Entry {
                    segment: place.segment,
                    offset: place.offset,
                    len: place.len,
                    received: place.received,
                    lease_until: 0.0,
                    attempts: place.attempts,
                },
            );
        }
        side.write(&state);
        self.publish(&state);
    }

    /// Leases the oldest free entries and reads them back.
    fn claim(&self, max: usize, lease_secs: f64) -> StoreResult<Vec<ClaimedEnvelope>> {
        let now = now();
        let mut picked = Vec::new();
        {
            let mut state = self.lock();
            let State {
                entries, segments, ..
            } = &mut *state;
            let mut side = SideWrites::default();
            for (&id, entry) in entries.iter_mut() {
                if picked.len() >= max {
                    break;
                }
                if entry.lease_until > now {
                    continue;
                }
                let Some(segment) = segments.get(&entry.segment) else {
                    continue;
                };
                entry.lease_until = now + lease_secs;
                entry.attempts += 1;
                side.add(entry.segment, SIDE_CLAIM, id);
                picked.push((
                    id,
                    entry.attempts,
                    Arc::clone(&segment.file),
                    entry.offset,
                    entry.len,
                ));
            }
            side.write(&state);
        }
        let mut decoder = None;
        let mut buffer = Vec::new();
        let mut claimed = Vec::with_capacity(picked.len());
        let mut unreadable = Vec::new();
        for (id, attempts, file, offset, len) in picked {
            match read_entry(&file, id, offset, len, &mut buffer, &mut decoder) {
                Ok(envelope) => claimed.push(ClaimedEnvelope {
                    id,
                    attempts: i64::from(attempts),
                    envelope,
                }),
                Err(reason) => {
                    // It was whole when written or at open: the disk has failed it since.
                    tracing::error!(id, %reason, "a queued envelope can no longer be read; dropped");
                    unreadable.push(id);
                }
            }
        }
        if !unreadable.is_empty() {
            self.ack(&unreadable);
        }
        Ok(claimed)
    }

    /// Removes entries, erases their records, and removes the segments this leaves without any.
    fn ack(&self, ids: &[i64]) {
        let mut erasures = Erasures::default();
        let removed = {
            let mut state = self.lock();
            let mut side = SideWrites::default();
            let mut drained = Vec::new();
            for id in ids {
                let Some(entry) = state.entries.remove(id) else {
                    continue;
                };
                state.bytes = state.bytes.saturating_sub(u64::from(entry.len));
                side.add(entry.segment, SIDE_ACK, *id);
                if let Some(segment) = state.segments.get_mut(&entry.segment) {
                    segment.live = segment.live.saturating_sub(1);
                    if segment.live == 0 {
                        drained.push(entry.segment);
                    }
                    erasures.add(&segment.file, entry.segment, *id, &entry);
                }
            }
            side.write(&state);
            self.publish(&state);
            drained
                .into_iter()
                .filter(|&number| state.remove_if_drained(number))
                .collect::<Vec<_>>()
        };
        // Writing and unlinking can take a while: not under the lock. A removed segment's
        // records go with its file.
        erasures.write(&removed);
        for number in removed {
            remove_segment_files(&self.dir, number);
        }
    }
}

impl State {
    /// Drops a segment from the index when nothing in it is left and it is not being written;
    /// `true` when it did (its files are then to be removed).
    fn remove_if_drained(&mut self, number: u64) -> bool {
        let drained = number != self.active
            && self
                .segments
                .get(&number)
                .is_some_and(|segment| segment.live == 0);
        if drained {
            self.segments.remove(&number);
        }
        drained
    }
}

/// Side records gathered under the lock, one write per segment.
#[derive(Default)]
struct SideWrites(BTreeMap<u64, Vec<u8>>);

impl SideWrites {
    fn add(&mut self, segment: u64, kind: u8, id: i64) {
        self.0
            .entry(segment)
            .or_default()
            .extend_from_slice(&side_record(kind, id));
    }

    /// Not synced: losing them only means processing an entry again.
    fn write(self, state: &State) {
        for (number, bytes) in self.0 {
            if let Some(segment) = state.segments.get(&number) {
                if let Err(err) = (&segment.side).write_all(&bytes) {
                    tracing::warn!(%err, segment = number, "writing queue acknowledgements");
                }
            }
        }
    }
}

/// Records of acknowledged entries to overwrite with erased ones, gathered under the lock and
/// written after it, one write per run of adjacent records.
#[derive(Default)]
struct Erasures(Vec<Erasure>);

struct Erasure {
    file: Arc<File>,
    segment: u64,
    offset: u64,
    len: u32,
    id: i64,
}

impl Erasures {
    fn add(&mut self, file: &Arc<File>, segment: u64, id: i64, entry: &Entry) {
        self.0.push(Erasure {
            file: Arc::clone(file),
            segment,
            offset: entry.offset,
            len: entry.len,
            id,
        });
    }

    /// Not synced: an erasure lost in a crash leaves a record whose entry is acknowledged (or
    /// is processed again, harmlessly), and a torn one is skipped as corrupt at open. Records of
    /// the segments in `skip` are not written (their files are being removed).
    fn write(mut self, skip: &[u64]) {
        self.0.retain(|e| !skip.contains(&e.segment));
        self.0.sort_unstable_by_key(|e| (e.segment, e.offset));
        let mut buffer = Vec::new();
        // The first erasure of the run being gathered in `buffer`.
        let mut run: Option<usize> = None;
        for (index, erasure) in self.0.iter().enumerate() {
            match run {
                Some(start) => {
                    let first = &self.0[start];
                    if erasure.segment != first.segment
                        || erasure.offset != first.offset + buffer.len() as u64
                    {
                        write_erasure(first, &buffer);
                        buffer.clear();
                        run = Some(index);
                    }
                }
                None => run = Some(index),
            }
            record::encode_erased(&mut buffer, erasure.id, erasure.len as usize);
        }
        if let Some(start) = run {
            write_erasure(&self.0[start], &buffer);
        }
    }
}

fn write_erasure(first: &Erasure, bytes: &[u8]) {
    if let Err(err) = first.file.write_all_at(bytes, first.offset) {
        tracing::warn!(%err, segment = first.segment, "erasing acknowledged queue records");
    }
}

/// Reads a record back and checks that it is still the one written.
fn read_entry(
    file: &File,
    id: i64,
    offset: u64,
    len: u32,
    buffer: &mut Vec<u8>,
    decoder: &mut Option<EnvelopeDecoder>,
) -> Result<QueuedEnvelope, String> {
    buffer.resize(len as usize, 0);
    file.read_exact_at(buffer, offset)
        .map_err(|e| e.to_string())?;
    let (record, _) = parse_record(buffer).map_err(|e| format!("{e:?} record"))?;
    if record.id != id {
        return Err(format!("entry {} found where {id} was written", record.id));
    }
    let body = if record.flags & FLAG_ZSTD != 0 {
        let decoder = match decoder {
            Some(decoder) => decoder,
            None => decoder.insert(EnvelopeDecoder::new().map_err(|e| e.to_string())?),
        };
        decoder
            .decode(id, record.body, record.body_len as i64)
            .map_err(|e| e.to_string())?
    } else {
        record.body.to_vec()
    };
    if body.len() != record.body_len {
        return Err(format!(
            "body of {} bytes, {} recorded",
            body.len(),
            record.body_len
        ));
    }
    let text = |bytes: Option<&[u8]>| {
        bytes
            .map(|b| String::from_utf8(b.to_vec()))
            .transpose()
            .map_err(|e| e.to_string())
    };
    Ok(QueuedEnvelope {
        project_id: record.project_id,
        received: record.received,
        client_ip: text(record.client_ip)?,
        client_sdk: text(record.client_sdk)?,
        body,
    })
}

/// A record to append: its id, envelope, stored body, and attempts already made (moved
/// entries).
struct Pending<'a> {
    id: i64,
    envelope: &'a QueuedEnvelope,
    compressed: Option<&'a [u8]>,
    attempts: u32,
}

/// Where a record went.
struct Placed {
    id: i64,
    segment: u64,
    offset: u64,
    len: u32,
    received: f64,
    attempts: u32,
}

/// The writer's side of the log: the segment being written.
struct Appender {
    inner: Arc<Inner>,
    file: File,
    number: u64,
    size: u64,
    /// Size at which the segment is rolled.
    segment_bytes: u64,
    next_id: i64,
    /// A write or sync failed: the file's end is not known, so the next batch starts a new
    /// segment (its records may or may not be in the old one; unanswered, either is fine).
    broken: bool,
    buffer: Vec<u8>,
}

impl Appender {
    /// Writes records with one write and one sync.
    fn append(&mut self, pending: &[Pending<'_>]) -> StoreResult<Vec<Placed>> {
        if self.broken || self.size >= self.segment_bytes {
            self.roll()?;
        }
        self.buffer.clear();
        let mut placed = Vec::with_capacity(pending.len());
        for item in pending {
            let start = self.buffer.len();
            let (flags, body) = match item.compressed {
                Some(compressed) => (FLAG_ZSTD, compressed),
                None => (0, &item.envelope.body[..]),
            };
            encode_record(
                &mut self.buffer,
                item.id,
                item.envelope,
                flags,
                body,
                item.envelope.body.len(),
            )
            .map_err(StoreError::Database)?;
            self.next_id = self.next_id.max(item.id.saturating_add(1));
            placed.push(Placed {
                id: item.id,
                segment: self.number,
                offset: self.size + start as u64,
                // Records are below u32::MAX: encode_record checked.
                len: (self.buffer.len() - start) as u32,
                received: item.envelope.received,
                attempts: item.attempts,
            });
        }
        let written = self
            .file
            .write_all(&self.buffer)
            .and_then(|()| self.file.sync_data());
        if self.buffer.capacity() > MAX_BYTES_PER_COMMIT * 2 {
            self.buffer = Vec::new();
        }
        if let Err(err) = written {
            self.broken = true;
            return Err(StoreError::Database(format!(
                "writing the queue segment {}: {err}",
                segment_path(&self.inner.dir, self.number).display()
            )));
        }
        self.size += placed.iter().map(|p| u64::from(p.len)).sum::<u64>();
        Ok(placed)
    }

    /// Starts a new segment; the old one goes once drained (now, if it is).
    fn roll(&mut self) -> StoreResult<()> {
        let number = self.number + 1;
        let (file, segment) = create_segment(&self.inner.dir, number, self.next_id)?;
        let old = std::mem::replace(&mut self.number, number);
        self.file = file;
        self.size = SEGMENT_HEADER_LEN as u64;
        self.broken = false;
        let removed = {
            let mut state = self.inner.lock();
            state.segments.insert(number, segment);
            state.active = number;
            state.remove_if_drained(old)
        };
        if removed {
            remove_segment_files(&self.inner.dir, old);
        }
        Ok(())
    }

    /// Rolls the segment being written when it holds records, all of them acknowledged: an idle
    /// queue then takes no more disk than an empty segment.
    fn roll_if_drained(&mut self) {
        if self.size <= SEGMENT_HEADER_LEN as u64 && !self.broken {
            return;
        }
        let drained = self
            .inner
            .lock()
            .segments
            .get(&self.number)
            .is_some_and(|segment| segment.live == 0);
        if drained {
            if let Err(err) = self.roll() {
                tracing::warn!(%err, "rolling the drained queue segment");
            }
        }
    }

    /// Writes a batch of enqueues, then answers them.
    fn commit(&mut self, batch: Vec<Enqueue>) {
        let first_id = self.next_id;
        let pending: Vec<Pending<'_>> = batch
            .iter()
            .zip(first_id..)
            .map(|(enqueue, id)| Pending {
                id,
                envelope: &enqueue.envelope,
                compressed: enqueue.compressed.as_deref(),
                attempts: 0,
            })
            .collect();
        let result = self.append(&pending);
        drop(pending);
        // Ids are never given twice, even those of a failed write.
        self.next_id = self.next_id.max(first_id + batch.len() as i64);
        self.inner.commits.fetch_add(1, Ordering::Relaxed);
        match result {
            Ok(placed) => {
                self.inner.insert(&placed);
                // A receiver that went away (its request was cancelled) is no error: the entry
                // is queued either way.
                for (enqueue, place) in batch.into_iter().zip(placed) {
                    drop(enqueue.reply.send(Ok(place.id)));
                }
            }
            Err(err) => {
                tracing::error!(%err, "queue write failed");
                let message = err.to_string();
                for enqueue in batch {
                    drop(
                        enqueue
                            .reply
                            .send(Err(StoreError::Database(message.clone()))),
                    );
                }
            }
        }
    }
}

/// The writer thread: waits for an enqueue, takes every other one already waiting, writes them
/// with one sync, answers them all.
fn run_writer(mut appender: Appender, receiver: mpsc::Receiver<Enqueue>) {
    loop {
        let first = match receiver.recv_timeout(IDLE_ROLL) {
            Ok(first) => first,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                appender.roll_if_drained();
                continue;
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => return,
        };
        let mut bytes = first.envelope.body.len();
        let mut batch = vec![first];
        while batch.len() < MAX_ENQUEUES_PER_COMMIT && bytes < MAX_BYTES_PER_COMMIT {
            match receiver.try_recv() {
                Ok(enqueue) => {
                    bytes += enqueue.envelope.body.len();
                    batch.push(enqueue);
                }
                Err(_) => break,
            }
        }
        appender.commit(batch);
    }
}

fn segment_path(dir: &Path, number: u64) -> PathBuf {
    dir.join(format!("{number:08}.log"))
}

fn side_path(dir: &Path, number: u64) -> PathBuf {
    dir.join(format!("{number:08}.acks"))
}

fn io_error(what: &str, path: &Path, error: std::io::Error) -> StoreError {
    StoreError::Database(format!("{what} {}: {error}", path.display()))
}

/// Makes a directory entry (a new or removed file) durable.
fn sync_dir(dir: &Path) -> StoreResult<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| io_error("syncing", dir, e))
}

/// Creates segment `number`, its header synced, with an empty side file.
fn create_segment(dir: &Path, number: u64, next_id: i64) -> StoreResult<(File, Segment)> {
    let path = segment_path(dir, number);
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)
        .map_err(|e| io_error("creating", &path, e))?;
    file.write_all(&segment_header(next_id))
        .and_then(|()| file.sync_data())
        .map_err(|e| io_error("writing", &path, e))?;
    sync_dir(dir)?;
    let reader = open_segment_file(&path)?;
    let side = open_side(dir, number)?;
    Ok((
        file,
        Segment {
            file: Arc::new(reader),
            side,
            live: 0,
        },
    ))
}

/// A segment file as the index holds it: read to claim entries, written to erase them.
fn open_segment_file(path: &Path) -> StoreResult<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .map_err(|e| io_error("opening", path, e))
}

fn open_side(dir: &Path, number: u64) -> StoreResult<File> {
    let path = side_path(dir, number);
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .map_err(|e| io_error("opening", &path, e))
}

/// Removes a drained segment's files. Not synced: a segment that comes back after a crash only
/// has its entries processed again.
fn remove_segment_files(dir: &Path, number: u64) {
    for path in [segment_path(dir, number), side_path(dir, number)] {
        match std::fs::remove_file(&path) {
            Ok(()) => {}
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
            Err(err) => {
                tracing::warn!(%err, path = %path.display(), "removing a drained queue segment")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::recovery::list;
    use super::*;

    fn envelope(n: usize) -> QueuedEnvelope {
        QueuedEnvelope {
            project_id: 1,
            received: n as f64,
            client_ip: None,
            client_sdk: None,
            body: vec![b'x'; 16 * 1024 + n],
        }
    }

    fn segments(data_dir: &Path) -> Vec<u64> {
        list(&data_dir.join("queue")).expect("list").0
    }

    fn dir_bytes(data_dir: &Path) -> u64 {
        std::fs::read_dir(data_dir.join("queue"))
            .expect("dir")
            .map(|entry| entry.expect("entry").metadata().expect("metadata").len())
            .sum()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn segments_roll_at_their_size_and_go_once_drained() {
        let dir = tempfile::TempDir::new().expect("temp dir");
        let queue = LogQueue::open_with_segment_bytes(dir.path(), 64 * 1024).expect("open");
        for n in 0..40 {
            queue.enqueue(envelope(n)).await.expect("enqueue");
        }
        let written = segments(dir.path());
        assert!(
            written.len() >= 8,
            "40 × 16 KiB in 64 KiB segments: {written:?}"
        );
        assert!(dir_bytes(dir.path()) > 40 * 16 * 1024);

        // Acknowledging the oldest half removes the segments that held only them.
        let claimed = queue.claim(20, 60.0).await.expect("claim");
        let ids: Vec<i64> = claimed.iter().map(|c| c.id).collect();
        queue.ack(&ids).await.expect("ack");
        let left = segments(dir.path());
        assert!(
            left.len() < written.len() && left[0] > written[0],
            "{left:?}"
        );
        assert_eq!(queue.stats().await.expect("stats").depth, 20);

        // The rest: only the segment being written stays, until the idle writer rolls it too.
        let claimed = queue.claim(100, 60.0).await.expect("claim");
        let ids: Vec<i64> = claimed.iter().map(|c| c.id).collect();
        queue.ack(&ids).await.expect("ack");
        assert_eq!(segments(dir.path()).len(), 1);
        let mut waited = Duration::ZERO;
        while dir_bytes(dir.path()) > SEGMENT_HEADER_LEN as u64 && waited < Duration::from_secs(30)
        {
            tokio::time::sleep(Duration::from_millis(100)).await;
            waited += Duration::from_millis(100);
        }
        assert_eq!(
            dir_bytes(dir.path()),
            SEGMENT_HEADER_LEN as u64,
            "an empty segment is left"
        );

        // Ids keep growing across a restart of the drained queue.
        let last = *ids.last().expect("ids");
        drop(queue);
        let queue = LogQueue::open(dir.path()).expect("reopen");
        assert!(queue.enqueue(envelope(0)).await.expect("enqueue") > last);
        assert_eq!(
            segments(dir.path()).len(),
            1,
            "the drained segments were removed at open"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn attempts_and_acknowledgements_survive_a_restart() {
        let dir = tempfile::TempDir::new().expect("temp dir");
        {
            let queue = LogQueue::open(dir.path()).expect("open");
            for n in 0..3 {
                queue.enqueue(envelope(n)).await.expect("enqueue");
            }
            let first = queue.claim(2, 0.0).await.expect("claim");
            queue.ack(&[first[0].id]).await.expect("ack");
            let again = queue.claim(1, 0.0).await.expect("claim");
            assert_eq!((again[0].id, again[0].attempts), (first[1].id, 2));
        }
        let queue = LogQueue::open(dir.path()).expect("reopen");
        let claimed = queue.claim(10, 60.0).await.expect("claim");
        let attempts: Vec<(QueuedEnvelope, i64)> = claimed
            .into_iter()
            .map(|c| (c.envelope, c.attempts))
            .collect();
        assert_eq!(attempts, vec![(envelope(1), 3), (envelope(2), 1)]);
    }

    /// Every segment file's bytes, concatenated.
    fn log_bytes(data_dir: &Path) -> Vec<u8> {
        segments(data_dir)
            .into_iter()
            .flat_map(|n| std::fs::read(segment_path(&data_dir.join("queue"), n)).expect("read"))
            .collect()
    }

    fn occurrences(haystack: &[u8], needle: &[u8]) -> usize {
        haystack
            .windows(needle.len())
            .filter(|w| *w == needle)
            .count()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn acknowledged_records_are_erased_and_the_others_survive_a_restart() {
        const SECRET: &[u8] = b"PLANTED-queue-secret-51c9";
        let dir = tempfile::TempDir::new().expect("temp dir");
        let with_secret = |n: usize| {
            let mut envelope = envelope(n);
            envelope.body.extend_from_slice(SECRET);
            envelope
        };
        let last = {
            let queue = LogQueue::open(dir.path()).expect("open");
            let mut ids = Vec::new();
            for n in 0..6 {
                ids.push(queue.enqueue(with_secret(n)).await.expect("enqueue"));
            }
            queue.claim(6, 60.0).await.expect("claim");
            // A run of three adjacent records, then one alone: entries 3 and 5 stay queued.
            queue
                .ack(&[ids[0], ids[1], ids[2], ids[4]])
                .await
                .expect("ack");
            assert_eq!(occurrences(&log_bytes(dir.path()), SECRET), 2);
            ids[5]
        };
        let queue = LogQueue::open(dir.path()).expect("reopen");
        let claimed = queue.claim(10, 60.0).await.expect("claim");
        let left: Vec<QueuedEnvelope> = claimed.iter().map(|c| c.envelope.clone()).collect();
        assert_eq!(left, vec![with_secret(3), with_secret(5)]);
        assert_eq!(claimed[0].attempts, 2, "attempts still count");
        assert!(queue.enqueue(envelope(9)).await.expect("enqueue") > last);
        let ids: Vec<i64> = claimed.iter().map(|c| c.id).collect();
        queue.ack(&ids).await.expect("ack");
        assert_eq!(occurrences(&log_bytes(dir.path()), SECRET), 0);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_queue_in_use_is_not_opened_twice() {
        let dir = tempfile::TempDir::new().expect("temp dir");
        let queue = LogQueue::open(dir.path()).expect("open");
        let error = match LogQueue::open(dir.path()) {
            Err(error) => error.to_string(),
            Ok(_) => panic!("the queue was opened twice"),
        };
        assert!(error.contains("in use by another process"), "{error}");
        drop(queue);
        LogQueue::open(dir.path()).expect("open once the first one is closed");
    }
}
