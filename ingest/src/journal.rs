//! The journal: every verified delivery is appended here and fsynced before Sentry gets
//! its 2xx, so an acknowledged webhook survives a crash.
//!
//! Layout: `journal/<first seq, 20 digits>.wal` segment files. Each record is framed as
//! `[u32 len][u32 crc32(payload)][payload]`, payload = `[u64 seq][u32 meta len][meta JSON]
//! [body]`, all little endian. One thread owns the active segment; concurrent appends that
//! arrive while it is syncing are written and fsynced together (group commit).
//!
//! On open, every segment is read back: a torn or corrupt tail (a crash mid-write) is cut
//! off, and the records after the caller's checkpoint are returned for replay. After the
//! index commits, [`Journal::checkpoint`] deletes the segments it no longer needs.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use crate::delivery::Delivery;

const HEADER_LEN: usize = 8;
/// A payload larger than this is corruption, not a record (webhook bodies are limited far below).
const MAX_PAYLOAD: usize = 256 * 1024 * 1024;

/// Journal failures. Every append failure is reported to its caller, who must not ack.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("journal i/o error at {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("journal writer has stopped")]
    Stopped,
    #[error("journal queue is full")]
    Full,
    /// The delivery's metadata cannot be written as JSON: the record is refused, not
    /// journaled with empty metadata that could never be replayed.
    #[error("delivery metadata cannot be encoded for the journal: {0}")]
    Encode(String),
}

impl JournalError {
    fn io(path: &Path, source: std::io::Error) -> Self {
        JournalError::Io {
            path: path.to_owned(),
            source,
        }
    }
}

/// Called after every fsync with its duration and the number of records it made durable.
pub type FsyncObserver = Arc<dyn Fn(Duration, usize) + Send + Sync>;

/// Tuning for the journal.
#[derive(Clone)]
pub struct JournalOptions {
    /// Start a new segment once the active one is this large.
    pub segment_bytes: u64,
    /// Most records written under one fsync.
    pub max_batch: usize,
    /// Appends waiting for the writer before new ones are refused.
    pub queue: usize,
    pub on_fsync: Option<FsyncObserver>,
    /// Appends are refused while the volume has less than this much free space (plus the
    /// batch), so the index can still commit what was acknowledged. 0: no check.
    pub reserve_bytes: u64,
}

impl Default for JournalOptions {
    fn default() -> Self {
        JournalOptions {
            segment_bytes: 32 * 1024 * 1024,
            max_batch: 1024,
            // Deliveries waiting for their fsync; a full queue answers 503. Slots are
            // allocated up front, and 4k is far more than the listeners have in flight.
            queue: 4 * 1024,
            on_fsync: None,
            reserve_bytes: 0,
        }
    }
}

/// One journaled delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub seq: u64,
    pub delivery: Delivery,
    pub body: Vec<u8>,
}

/// Counters the server exports as metrics.
#[derive(Debug, Default)]
pub struct JournalStats {
    pub records: AtomicU64,
    pub bytes: AtomicU64,
    pub fsyncs: AtomicU64,
    pub fsync_micros: AtomicU64,
    pub torn_tails: AtomicU64,
}

/// What the journal learned when it opened.
pub struct Opened<T> {
    pub journal: Journal<T>,
    /// Records after the checkpoint, in sequence order, to be indexed again.
    pub replay: Vec<Record>,
}

/// Handle to the journal; cheap to clone. Appends carry an attachment `T` (the already
/// normalised changes) that is handed to the sink in sequence order once durable.
pub struct Journal<T> {
    tx: SyncSender<Append<T>>,
    shared: Arc<Shared>,
}

impl<T> Clone for Journal<T> {
    fn clone(&self) -> Self {
        Journal {
            tx: self.tx.clone(),
            shared: self.shared.clone(),
        }
    }
}

struct Append<T> {
    /// The delivery's metadata, already encoded (so a failure reaches the caller).
    meta: Vec<u8>,
    body: Vec<u8>,
    attachment: T,
    reply: oneshot::Sender<Result<u64, JournalError>>,
}

struct Shared {
    dir: PathBuf,
    /// First sequence number of each segment, oldest first; the last one is active.
    segments: Mutex<Vec<u64>>,
    alive: AtomicBool,
    stats: JournalStats,
    /// Set while writes fail (a full or read-only disk); cleared by the next good write.
    write_error: Mutex<Option<WriteError>>,
}

/// Why the journal cannot write right now, and since when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteError {
    pub since: chrono::DateTime<chrono::Utc>,
    pub message: String,
    /// Appends refused since then.
    pub refused: u64,
}

impl<T: Send + 'static> Journal<T> {
    /// Open (or create) the journal in `dir`. Records with `seq <= checkpoint` are already
    /// indexed and are not returned for replay. `sink` receives every durable append, in
    /// sequence order, on the writer thread, before its caller is answered.
    pub fn open(
        dir: &Path,
        checkpoint: Option<u64>,
        options: JournalOptions,
        sink: impl FnMut(u64, T) + Send + 'static,
    ) -> Result<Opened<T>, JournalError> {
        std::fs::create_dir_all(dir).map_err(|e| JournalError::io(dir, e))?;
        let stats = JournalStats::default();
        let mut firsts = list_segments(dir)?;
        let mut replay = Vec::new();
        let mut last_seq = checkpoint.unwrap_or(0);
        for (i, first) in firsts.iter().enumerate() {
            let path = segment_path(dir, *first);
            let is_last = i + 1 == firsts.len();
            let (records, valid_len, file_len) = read_segment(&path)?;
            if valid_len < file_len {
                stats.torn_tails.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(segment = %path.display(), valid_len, file_len, "journal tail is torn, dropping it");
                if is_last {
                    let f = OpenOptions::new()
                        .write(true)
                        .open(&path)
                        .map_err(|e| JournalError::io(&path, e))?;
                    f.set_len(valid_len)
                        .map_err(|e| JournalError::io(&path, e))?;
                    f.sync_all().map_err(|e| JournalError::io(&path, e))?;
                }
            }
            for r in records {
                last_seq = last_seq.max(r.seq);
                if checkpoint.is_none_or(|c| r.seq > c) {
                    replay.push(r);
                }
            }
        }
        // A record or checkpoint at u64::MAX leaves no sequence number for the next record.
        let next_seq = last_seq.checked_add(1).ok_or_else(|| {
            JournalError::io(
                dir,
                std::io::Error::other(format!(
                    "sequence number {last_seq} (a record or the checkpoint) leaves none for the next record"
                )),
            )
        })?;
        // Always append to a fresh segment: an old one may end in bytes we refused to trust.
        // Only the last segment may be appended to, as it was cut back to its intact records
        // above: it is named `next_seq` after a restart that wrote nothing (or whose every
        // record was torn), or later still when corrupt (the next number moves up to it).
        // Appending to any other existing file would put records after garbage, where
        // replay never reads them, and two entries for one file would let a checkpoint
        // delete the active segment.
        let next_seq = match firsts.last() {
            Some(&newest) if newest >= next_seq => newest,
            _ => {
                firsts.push(next_seq);
                next_seq
            }
        };
        let active_path = segment_path(dir, next_seq);
        let active = create_segment(dir, &active_path)?;
        let shared = Arc::new(Shared {
            dir: dir.to_owned(),
            segments: Mutex::new(firsts),
            alive: AtomicBool::new(true),
            stats,
            write_error: Mutex::default(),
        });
        let (tx, rx) = std::sync::mpsc::sync_channel(options.queue.max(1));
        let writer = Writer {
            shared: shared.clone(),
            file: active,
            path: active_path,
            len: 0,
            next_seq,
            options,
        };
        std::thread::Builder::new()
            .name("journal-writer".into())
            .spawn(move || writer.run(rx, sink))
            .map_err(|e| JournalError::io(dir, e))?;
        Ok(Opened {
            journal: Journal { tx, shared },
            replay,
        })
    }

    /// Append one delivery and wait until it is durable. Returns its sequence number.
    pub async fn append(
        &self,
        delivery: Delivery,
        body: Vec<u8>,
        attachment: T,
    ) -> Result<u64, JournalError> {
        let meta = encode_meta(&delivery)?;
        let (reply, answer) = oneshot::channel();
        match self.tx.try_send(Append {
            meta,
            body,
            attachment,
            reply,
        }) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => return Err(JournalError::Full),
            Err(TrySendError::Disconnected(_)) => return Err(JournalError::Stopped),
        }
        answer.await.map_err(|_| JournalError::Stopped)?
    }
}

impl<T> Journal<T> {
    /// The record `seq`, read back from its segment; `None` when it is not in the journal
    /// (checkpointed away, or never written). For records that could not be indexed.
    pub fn read(&self, seq: u64) -> Result<Option<Record>, JournalError> {
        let first = {
            let segments = self
                .shared
                .segments
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            match segments.iter().rev().find(|first| **first <= seq) {
                Some(first) => *first,
                None => return Ok(None),
            }
        };
        let path = segment_path(&self.shared.dir, first);
        let (records, _, _) = read_segment(&path)?;
        Ok(records.into_iter().find(|r| r.seq == seq))
    }

    /// Everything up to and including `seq` is in the index: delete segments that hold
    /// nothing newer. The active segment is never deleted.
    pub fn checkpoint(&self, seq: u64) -> Result<(), JournalError> {
        let mut segments = self
            .shared
            .segments
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        while segments.len() > 1 && segments[1] <= seq.saturating_add(1) {
            let path = segment_path(&self.shared.dir, segments[0]);
            match std::fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(JournalError::io(&path, e)),
            }
            segments.remove(0);
        }
        Ok(())
    }

    /// False once the writer thread has stopped (error or panic).
    pub fn is_alive(&self) -> bool {
        self.shared.alive.load(Ordering::Relaxed)
    }

    pub fn stats(&self) -> &JournalStats {
        &self.shared.stats
    }

    /// Why appends fail now (the disk is full or read-only), if they do. Appends are tried
    /// as they come, so this clears by itself once the disk takes writes again.
    pub fn write_error(&self) -> Option<WriteError> {
        self.shared
            .write_error
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub fn segment_count(&self) -> usize {
        self.shared.segments.lock().map(|s| s.len()).unwrap_or(0)
    }
}

struct Writer {
    shared: Arc<Shared>,
    file: File,
    path: PathBuf,
    len: u64,
    next_seq: u64,
    options: JournalOptions,
}

/// Marks the journal dead when the writer thread ends for any reason, panics included.
struct AliveGuard(Arc<Shared>);

impl Drop for AliveGuard {
    fn drop(&mut self) {
        self.0.alive.store(false, Ordering::Relaxed);
    }
}

impl Writer {
    fn run<T>(mut self, rx: Receiver<Append<T>>, mut sink: impl FnMut(u64, T)) {
        let _guard = AliveGuard(self.shared.clone());
        let mut buf = Vec::new();
        while let Ok(first) = rx.recv() {
            let mut batch = vec![first];
            while batch.len() < self.options.max_batch {
                match rx.try_recv() {
                    Ok(next) => batch.push(next),
                    Err(_) => break,
                }
            }
            buf.clear();
            let first_seq = self.next_seq;
            if first_seq.checked_add(batch.len() as u64).is_none() {
                for append in batch {
                    let _ = append.reply.send(Err(JournalError::io(
                        &self.path,
                        std::io::Error::other("journal sequence numbers are exhausted"),
                    )));
                }
                continue;
            }
            for (i, append) in batch.iter().enumerate() {
                encode(first_seq + i as u64, &append.meta, &append.body, &mut buf);
            }
            let written = self
                .check_space(buf.len())
                .and_then(|()| self.write_durably(&buf, batch.len()));
            match written {
                Ok(()) => {
                    self.note_write(None, 0);
                    self.next_seq += batch.len() as u64;
                    let stats = &self.shared.stats;
                    stats
                        .records
                        .fetch_add(batch.len() as u64, Ordering::Relaxed);
                    stats.bytes.fetch_add(buf.len() as u64, Ordering::Relaxed);
                    for (i, append) in batch.into_iter().enumerate() {
                        let seq = first_seq + i as u64;
                        sink(seq, append.attachment);
                        let _ = append.reply.send(Ok(seq));
                    }
                    if self.len >= self.options.segment_bytes
                        && let Err(e) = self.roll()
                    {
                        tracing::error!(error = %e, "journal cannot start a new segment, stopping");
                        return;
                    }
                }
                Err(e) => {
                    tracing::error!(error = %e, records = batch.len(), "journal write failed");
                    self.note_write(Some(e.to_string()), batch.len() as u64);
                    let healthy = self.undo_partial_write();
                    for append in batch {
                        let _ = append.reply.send(Err(JournalError::io(
                            &self.path,
                            std::io::Error::other(e.to_string()),
                        )));
                    }
                    if !healthy {
                        tracing::error!(
                            "journal segment could not be repaired, stopping the journal writer"
                        );
                        return;
                    }
                }
            }
        }
    }

    /// Refuse a write that would leave less than the reserve free on the volume.
    fn check_space(&self, bytes: usize) -> Result<(), std::io::Error> {
        let reserve = self.options.reserve_bytes;
        if reserve == 0 {
            return Ok(());
        }
        let Some(free) = free_bytes(&self.shared.dir) else {
            return Ok(());
        };
        if free < reserve.saturating_add(bytes as u64) {
            return Err(std::io::Error::other(format!(
                "No space left for the journal: {} KiB free on the data volume, {} KiB kept \
                 for the index to commit",
                free / 1024,
                reserve / 1024
            )));
        }
        Ok(())
    }

    /// Record whether the last write worked (`failure` is `None`) or why not.
    fn note_write(&self, failure: Option<String>, refused: u64) {
        let mut state = self
            .shared
            .write_error
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        match (failure, state.as_mut()) {
            (None, None) => {}
            (None, Some(was)) => {
                tracing::info!(refused = was.refused, "journal writes again");
                *state = None;
            }
            (Some(_), Some(was)) => was.refused += refused,
            (Some(message), None) => {
                *state = Some(WriteError {
                    since: chrono::Utc::now(),
                    message,
                    refused,
                });
            }
        }
    }

    fn write_durably(&mut self, buf: &[u8], records: usize) -> Result<(), std::io::Error> {
        self.file.write_all(buf)?;
        let started = Instant::now();
        self.file.sync_data()?;
        if let Some(observe) = &self.options.on_fsync {
            observe(started.elapsed(), records);
        }
        let stats = &self.shared.stats;
        stats.fsyncs.fetch_add(1, Ordering::Relaxed);
        stats
            .fsync_micros
            .fetch_add(duration_micros(started.elapsed()), Ordering::Relaxed);
        self.len += buf.len() as u64;
        Ok(())
    }

    /// After a failed write, cut the segment back to its last good length so later
    /// records do not follow garbage.
    fn undo_partial_write(&mut self) -> bool {
        use std::io::{Seek, SeekFrom};
        self.file.set_len(self.len).is_ok()
            && self.file.seek(SeekFrom::Start(self.len)).is_ok()
            && self.file.sync_all().is_ok()
    }

    fn roll(&mut self) -> Result<(), JournalError> {
        let path = segment_path(&self.shared.dir, self.next_seq);
        self.file = create_segment(&self.shared.dir, &path)?;
        self.path = path;
        self.len = 0;
        self.shared
            .segments
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(self.next_seq);
        Ok(())
    }
}

/// Free bytes for unprivileged writers on the volume holding `dir`.
#[cfg(unix)]
#[allow(clippy::useless_conversion)] // the field types differ between platforms
fn free_bytes(dir: &Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let path = std::ffi::CString::new(dir.as_os_str().as_bytes()).ok()?;
    // SAFETY: `path` is NUL-terminated and outlives the call; `statvfs` only fills `st`.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::statvfs(path.as_ptr(), &mut st) };
    (rc == 0).then(|| u64::from(st.f_bavail).saturating_mul(u64::from(st.f_frsize)))
}

#[cfg(not(unix))]
fn free_bytes(_dir: &Path) -> Option<u64> {
    None
}

fn duration_micros(d: Duration) -> u64 {
    d.as_micros().min(u64::MAX as u128) as u64
}

fn segment_path(dir: &Path, first_seq: u64) -> PathBuf {
    dir.join(format!("{first_seq:020}.wal"))
}

fn list_segments(dir: &Path) -> Result<Vec<u64>, JournalError> {
    let mut firsts = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| JournalError::io(dir, e))? {
        let entry = entry.map_err(|e| JournalError::io(dir, e))?;
        let name = entry.file_name();
        let Some(stem) = name.to_str().and_then(|n| n.strip_suffix(".wal")) else {
            continue;
        };
        // Only the names `segment_path` writes: `5.wal` or `+5.wal` would parse as 5 and
        // then be opened as `00000000000000000005.wal`, which is not them.
        match stem.parse::<u64>() {
            Ok(first) if segment_path(dir, first) == entry.path() => firsts.push(first),
            _ => {
                tracing::warn!(file = %entry.path().display(), "not a journal segment name, ignored")
            }
        }
    }
    firsts.sort_unstable();
    Ok(firsts)
}

fn create_segment(dir: &Path, path: &Path) -> Result<File, JournalError> {
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| JournalError::io(path, e))?;
    // The new file name must be durable too, or a crash could lose the whole segment.
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| JournalError::io(dir, e))?;
    Ok(file)
}

/// A delivery's metadata as stored in a record.
pub fn encode_meta(delivery: &Delivery) -> Result<Vec<u8>, JournalError> {
    serde_json::to_vec(delivery).map_err(|e| JournalError::Encode(e.to_string()))
}

/// Append the framed record (`meta` from [`encode_meta`]) to `out`.
pub fn encode(seq: u64, meta: &[u8], body: &[u8], out: &mut Vec<u8>) {
    let payload_len = 8 + 4 + meta.len() + body.len();
    let start = out.len();
    out.extend_from_slice(&(payload_len as u32).to_le_bytes());
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&seq.to_le_bytes());
    out.extend_from_slice(&(meta.len() as u32).to_le_bytes());
    out.extend_from_slice(meta);
    out.extend_from_slice(body);
    let crc = crc32fast::hash(&out[start + HEADER_LEN..]);
    out[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
}

/// Decode the record at the start of `bytes`: the record and its framed length, or `None`
/// when the bytes do not hold a whole, intact record.
pub fn decode(bytes: &[u8]) -> Option<(Record, usize)> {
    let header = bytes.get(..HEADER_LEN)?;
    let len = u32::from_le_bytes(header[..4].try_into().ok()?) as usize;
    let crc = u32::from_le_bytes(header[4..8].try_into().ok()?);
    if !(12..=MAX_PAYLOAD).contains(&len) {
        return None;
    }
    let payload = bytes.get(HEADER_LEN..HEADER_LEN + len)?;
    if crc32fast::hash(payload) != crc {
        return None;
    }
    let seq = u64::from_le_bytes(payload[..8].try_into().ok()?);
    let meta_len = u32::from_le_bytes(payload[8..12].try_into().ok()?) as usize;
    let meta = payload.get(12..12 + meta_len)?;
    let delivery = serde_json::from_slice(meta).ok()?;
    let body = payload[12 + meta_len..].to_vec();
    Some((
        Record {
            seq,
            delivery,
            body,
        },
        HEADER_LEN + len,
    ))
}

/// Read every intact record of a segment; also returns the length of the intact prefix
/// and the file length.
fn read_segment(path: &Path) -> Result<(Vec<Record>, u64, u64), JournalError> {
    let mut bytes = Vec::new();
    File::open(path)
        .and_then(|mut f| f.read_to_end(&mut bytes))
        .map_err(|e| JournalError::io(path, e))?;
    let mut records = Vec::new();
    let mut offset = 0;
    while offset < bytes.len() {
        match decode(&bytes[offset..]) {
            Some((record, used)) => {
                records.push(record);
                offset += used;
            }
            None => break,
        }
    }
    Ok((records, offset as u64, bytes.len() as u64))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;

    fn delivery(id: &str) -> Delivery {
        Delivery {
            resource: "issue".into(),
            request_id: Some(id.into()),
            sent_at_ms: Some(1),
            received_at: Utc::now(),
        }
    }

    #[test]
    fn frame_round_trips_and_detects_damage() {
        let mut buf = Vec::new();
        encode(
            7,
            &encode_meta(&delivery("a")).unwrap(),
            b"{\"x\":1}",
            &mut buf,
        );
        let (record, used) = decode(&buf).unwrap();
        assert_eq!(used, buf.len());
        assert_eq!(record.seq, 7);
        assert_eq!(record.body, b"{\"x\":1}");
        assert_eq!(record.delivery.request_id.as_deref(), Some("a"));
        assert!(
            decode(&buf[..buf.len() - 1]).is_none(),
            "truncated record is refused"
        );
        let mut flipped = buf.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 1;
        assert!(decode(&flipped).is_none(), "checksum catches a flipped bit");
        assert!(decode(&[0xff; 8]).is_none());
    }

    fn open(dir: &Path, checkpoint: Option<u64>) -> (Opened<()>, std::sync::mpsc::Receiver<u64>) {
        let (tx, rx) = std::sync::mpsc::channel();
        let opened = Journal::open(
            dir,
            checkpoint,
            JournalOptions::default(),
            move |seq, ()| {
                let _ = tx.send(seq);
            },
        )
        .unwrap();
        (opened, rx)
    }

    #[tokio::test]
    async fn appends_are_replayed_after_restart_and_torn_tail_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let (opened, sunk) = open(dir.path(), None);
        assert!(opened.replay.is_empty());
        for i in 0..5 {
            let seq = opened
                .journal
                .append(delivery(&i.to_string()), b"{}".to_vec(), ())
                .await
                .unwrap();
            assert_eq!(seq, i + 1);
        }
        assert_eq!(sunk.try_iter().collect::<Vec<_>>(), vec![1, 2, 3, 4, 5]);
        drop(opened);
        // Simulate a crash mid-write: half a record at the end of the last segment.
        let last = list_segments(dir.path())
            .unwrap()
            .into_iter()
            .last()
            .unwrap();
        let mut half = Vec::new();
        encode(
            6,
            &encode_meta(&delivery("torn")).unwrap(),
            b"{\"half\":true}",
            &mut half,
        );
        let mut f = OpenOptions::new()
            .append(true)
            .open(segment_path(dir.path(), last))
            .unwrap();
        f.write_all(&half[..half.len() / 2]).unwrap();
        drop(f);

        let (opened, _) = open(dir.path(), Some(2));
        let seqs: Vec<u64> = opened.replay.iter().map(|r| r.seq).collect();
        assert_eq!(
            seqs,
            vec![3, 4, 5],
            "only records after the checkpoint, torn tail dropped"
        );
        assert_eq!(opened.journal.stats().torn_tails.load(Ordering::Relaxed), 1);
        let seq = opened
            .journal
            .append(delivery("next"), b"{}".to_vec(), ())
            .await
            .unwrap();
        assert_eq!(seq, 6, "sequence continues after the last intact record");
    }

    #[tokio::test]
    async fn concurrent_appends_share_fsyncs_and_checkpoint_trims_segments() {
        let dir = tempfile::tempdir().unwrap();
        let (tx, _rx) = std::sync::mpsc::channel();
        let options = JournalOptions {
            segment_bytes: 512,
            ..Default::default()
        };
        let opened = Journal::open(dir.path(), None, options, move |seq, ()| {
            let _ = tx.send(seq);
        })
        .unwrap();
        let journal = opened.journal;
        let mut tasks = Vec::new();
        for i in 0..200 {
            let j = journal.clone();
            tasks.push(tokio::spawn(async move {
                j.append(delivery(&i.to_string()), vec![b'x'; 100], ())
                    .await
            }));
        }
        let mut seqs = Vec::new();
        for t in tasks {
            seqs.push(t.await.unwrap().unwrap());
        }
        seqs.sort_unstable();
        assert_eq!(seqs, (1..=200).collect::<Vec<_>>());
        let fsyncs = journal.stats().fsyncs.load(Ordering::Relaxed);
        assert!(
            fsyncs < 200,
            "group commit: {fsyncs} fsyncs for 200 appends"
        );
        // Sequential appends make a batch each, so the small segments roll several times.
        for i in 0..20 {
            journal
                .append(delivery(&format!("s{i}")), vec![b'y'; 200], ())
                .await
                .unwrap();
        }
        assert!(journal.segment_count() > 3);
        journal.checkpoint(220).unwrap();
        // The writer may not yet have rolled past the segment holding record 220.
        assert!(
            journal.segment_count() <= 2,
            "only the active segment (and maybe its predecessor) is left"
        );
        assert!(
            list_segments(dir.path()).unwrap().len() <= 2,
            "old segment files are deleted"
        );
    }

    fn record(seq: u64, body: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        encode(seq, &encode_meta(&delivery("x")).unwrap(), body, &mut out);
        out
    }

    /// Found by `fuzz/fuzz_targets/journal.rs`: a restart that wrote nothing leaves an empty
    /// last segment named for the next record. Open listed it twice (once found, once as
    /// the new active segment), and the first checkpoint then deleted the file the writer
    /// was appending to: every record acknowledged after it was lost on the next crash.
    #[tokio::test]
    async fn a_restart_without_records_keeps_its_segment_through_a_checkpoint() {
        let dir = tempfile::tempdir().unwrap();
        drop(open(dir.path(), None));
        let (opened, _) = open(dir.path(), None);
        assert_eq!(opened.journal.segment_count(), 1, "one file, listed once");
        let journal = opened.journal;
        let first = journal
            .append(delivery("a"), b"a".to_vec(), ())
            .await
            .unwrap();
        journal.checkpoint(first).unwrap();
        let second = journal
            .append(delivery("b"), b"b".to_vec(), ())
            .await
            .unwrap();
        drop(journal);
        let (reopened, _) = open(dir.path(), Some(first));
        let seqs: Vec<u64> = reopened.replay.iter().map(|r| r.seq).collect();
        assert_eq!(
            seqs,
            vec![second],
            "the acknowledged record after the checkpoint"
        );
    }

    /// Found by `fuzz/fuzz_targets/journal.rs` (`fuzz/regressions/journal/`): with segments
    /// `5.wal` and `6.wal` holding no intact record and checkpoint 4, the next record (5) was
    /// appended to the end of `5.wal`, after bytes replay stops at, and so never replayed.
    #[tokio::test]
    async fn records_are_never_appended_after_garbage() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(segment_path(dir.path(), 5), b"\xff\xffgarbage").unwrap();
        let mut torn = record(6, b"torn");
        torn.truncate(torn.len() - 1);
        std::fs::write(segment_path(dir.path(), 6), &torn).unwrap();
        let (opened, _) = open(dir.path(), Some(4));
        assert!(opened.replay.is_empty());
        let seq = opened
            .journal
            .append(delivery("a"), b"kept".to_vec(), ())
            .await
            .unwrap();
        assert!(seq > 4);
        let back = opened.journal.read(seq).unwrap().expect("read back");
        assert_eq!(back.body, b"kept");
        drop(opened);
        let (reopened, _) = open(dir.path(), Some(4));
        let bodies: Vec<&[u8]> = reopened.replay.iter().map(|r| r.body.as_slice()).collect();
        assert_eq!(bodies, vec![&b"kept"[..]]);
    }

    /// Found by `fuzz/fuzz_targets/journal.rs`: `5.wal` or `+5.wal` parsed as segment 5 and
    /// was then opened as `00000000000000000005.wal`, so the journal did not open at all.
    #[test]
    fn files_not_named_like_segments_are_ignored() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["5.wal", "+5.wal", "00000000000000000005.wal.tmp", "x.wal"] {
            std::fs::write(dir.path().join(name), record(5, b"no")).unwrap();
        }
        std::fs::write(segment_path(dir.path(), 3), record(3, b"yes")).unwrap();
        let (opened, _) = open(dir.path(), None);
        let bodies: Vec<&[u8]> = opened.replay.iter().map(|r| r.body.as_slice()).collect();
        assert_eq!(bodies, vec![&b"yes"[..]]);
    }

    /// Found by `fuzz/fuzz_targets/journal.rs`: a record (or checkpoint) at the end of the
    /// sequence numbers overflowed `next_seq` in the writer thread (a panic in debug builds,
    /// numbering from 0 again in release, behind the checkpoint, so never replayed).
    #[tokio::test]
    async fn sequence_numbers_at_their_end_are_errors_not_panics() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(segment_path(dir.path(), 1), record(u64::MAX - 1, b"")).unwrap();
        let (opened, _) = open(dir.path(), None);
        let e = opened
            .journal
            .append(delivery("a"), b"{}".to_vec(), ())
            .await
            .unwrap_err();
        assert!(e.to_string().contains("exhausted"), "{e}");
        opened.journal.checkpoint(u64::MAX).unwrap();
        drop(opened);
        let e = Journal::<()>::open(
            dir.path(),
            Some(u64::MAX),
            JournalOptions::default(),
            |_, ()| {},
        )
        .err()
        .expect("a checkpoint at u64::MAX leaves no next record");
        assert!(
            e.to_string().contains("leaves none for the next record"),
            "{e}"
        );
    }
}
