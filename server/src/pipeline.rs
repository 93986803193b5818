//! The indexing thread: applies normalised changes to the index in journal order, commits
//! on a short cadence (so acknowledged webhooks are searchable within a second), then
//! checkpoints the journal and applies retention.
//!
//! An acknowledged record is never dropped: one that cannot be applied is tried again,
//! then kept as a dead letter ([`crate::dead_letter`]) before the checkpoint may pass it.
//! If it cannot even be kept, the indexer stops without checkpointing, `/health` fails,
//! and the next start replays it from the journal.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use sentry_mcp_index::{Change, IndexError, IndexWriter};
use sentry_mcp_ingest::{Journal, Record, normalise};

use crate::dead_letter::DeadLetters;
use crate::metrics::Metrics;

/// Tries of one record's changes before it is kept as a dead letter.
const APPLY_ATTEMPTS: u32 = 3;
const RETRY_PAUSE: Duration = Duration::from_millis(50);

/// What the indexing thread writes to: the index, or (in tests) a wrapper that fails.
pub trait Store: Send + 'static {
    fn apply_all(&mut self, changes: Vec<Change>) -> Result<(), IndexError>;
    fn commit(&mut self, checkpoint: Option<u64>) -> Result<(), IndexError>;
    fn apply_retention(&mut self, cutoff: DateTime<Utc>) -> Result<(), IndexError>;
    fn num_docs(&self) -> u64;
    /// Search what a finished background merge left (see `IndexWriter::reload_if_merged`).
    fn reload_if_merged(&mut self) -> Result<bool, IndexError>;
}

impl Store for IndexWriter {
    fn apply_all(&mut self, changes: Vec<Change>) -> Result<(), IndexError> {
        IndexWriter::apply_all(self, changes).map(|_| ())
    }
    fn commit(&mut self, checkpoint: Option<u64>) -> Result<(), IndexError> {
        IndexWriter::commit(self, checkpoint)
    }
    fn apply_retention(&mut self, cutoff: DateTime<Utc>) -> Result<(), IndexError> {
        IndexWriter::apply_retention(self, cutoff)
    }
    fn num_docs(&self) -> u64 {
        self.reader().num_docs()
    }
    fn reload_if_merged(&mut self) -> Result<bool, IndexError> {
        IndexWriter::reload_if_merged(self)
    }
}

/// How long applied changes may wait before a commit makes them searchable.
pub const COMMIT_INTERVAL: Duration = Duration::from_millis(200);
/// Commit early when this many deliveries are waiting.
const COMMIT_BATCH: usize = 20_000;
const RETENTION_EVERY: Duration = Duration::from_secs(3600);
/// At most this often, an idle indexer returns free heap to the OS.
const TRIM_EVERY: Duration = Duration::from_secs(30);
/// Changes waiting for the indexer before the journal writer blocks.
/// Each slot is allocated up front (about 64 bytes): 8k of them keep the idle footprint
/// small while still holding several group commits' worth of deliveries.
pub const QUEUE: usize = 8 * 1024;

/// A message to the indexing thread.
pub enum Msg {
    /// Changes from one delivery. `seq` is its journal sequence number (none for demo data);
    /// `acked_at` is when its sender was answered, for the ack-to-searchable metric.
    Apply {
        seq: Option<u64>,
        changes: Vec<Change>,
        acked_at: Option<Instant>,
    },
    /// Commit now and answer once everything sent before is searchable.
    Flush(tokio::sync::oneshot::Sender<()>),
    /// Commit and end the thread, letting go of the index.
    Stop(tokio::sync::oneshot::Sender<()>),
}

pub type Sender = SyncSender<Msg>;

/// What the indexer applies before taking new deliveries: journal records not yet in the
/// index (in sequence order), then demo data.
#[derive(Default)]
pub struct Backlog {
    pub replay: Vec<Record>,
    pub demo: Vec<Change>,
}

/// Handle to the running indexing thread.
#[derive(Clone)]
pub struct Indexer {
    tx: Sender,
    alive: Arc<AtomicBool>,
    ready: Arc<AtomicBool>,
}

impl Indexer {
    /// Start the thread. It applies `backlog` first, so replayed records keep their place
    /// ahead of new deliveries; `journal` is checkpointed after each commit.
    #[allow(clippy::too_many_arguments)] // the thread's whole world, passed once
    pub fn start(
        writer: impl Store,
        backlog: Backlog,
        rx: Receiver<Msg>,
        tx: Sender,
        journal: Journal<Vec<Change>>,
        dead_letters: DeadLetters,
        metrics: Arc<Metrics>,
        retention_days: u32,
    ) -> std::io::Result<Self> {
        let alive = Arc::new(AtomicBool::new(true));
        let ready = Arc::new(AtomicBool::new(false));
        metrics.dead_letters.set(dead_letters.count() as i64);
        let state = Loop {
            writer,
            journal,
            dead_letters,
            metrics,
            retention: Duration::from_secs(u64::from(retention_days) * 86_400),
            alive: alive.clone(),
        };
        let ready_flag = ready.clone();
        std::thread::Builder::new()
            .name("indexer".into())
            .spawn(move || state.run(backlog, ready_flag, rx))?;
        Ok(Indexer { tx, alive, ready })
    }

    pub fn is_alive(&self) -> bool {
        self.alive.load(Ordering::Relaxed)
    }

    /// True once the backlog (journal replay, demo data) is committed.
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Relaxed)
    }

    /// Wait until everything queued so far is committed and searchable.
    pub async fn flush(&self) -> bool {
        self.ask(Msg::Flush).await
    }

    /// Commit everything queued so far and end the thread (it releases the index).
    #[cfg_attr(not(test), allow(dead_code))]
    pub async fn stop(&self) -> bool {
        self.ask(Msg::Stop).await
    }

    async fn ask(&self, msg: fn(tokio::sync::oneshot::Sender<()>) -> Msg) -> bool {
        let (reply, done) = tokio::sync::oneshot::channel();
        let tx = self.tx.clone();
        let sent = tokio::task::spawn_blocking(move || tx.send(msg(reply)).is_ok()).await;
        matches!(sent, Ok(true)) && done.await.is_ok()
    }
}

struct Loop<S> {
    writer: S,
    journal: Journal<Vec<Change>>,
    dead_letters: DeadLetters,
    metrics: Arc<Metrics>,
    retention: Duration,
    alive: Arc<AtomicBool>,
}

/// What has been applied but not committed yet.
#[derive(Default)]
struct Uncommitted {
    deliveries: usize,
    last_seq: Option<u64>,
    since: Option<Instant>,
    oldest_ack: Option<Instant>,
}

impl<S: Store> Loop<S> {
    fn run(mut self, backlog: Backlog, ready: Arc<AtomicBool>, rx: Receiver<Msg>) {
        let alive = self.alive.clone();
        let _guard = scopeguard(move || alive.store(false, Ordering::Relaxed));
        let mut pending = Uncommitted::default();
        let replayed = backlog.replay.len();
        if !self.retry_dead_letters(&mut pending) {
            return;
        }
        for record in backlog.replay {
            let applied = match normalise(&record.delivery, &record.body) {
                Ok(outcome) => self.apply(Some(record.seq), outcome.changes),
                // Only verified, well-formed bodies are journaled, so this is a journal
                // from another version: keep the record rather than skip it.
                Err(e) => self.keep(&record, &e.to_string()),
            };
            if !applied {
                return;
            }
            pending.last_seq = Some(record.seq);
            pending.since.get_or_insert_with(Instant::now);
        }
        if !backlog.demo.is_empty() {
            self.apply(None, backlog.demo);
            pending.since.get_or_insert_with(Instant::now);
        }
        if !self.commit(&mut pending) {
            return;
        }
        crate::memory::release_free();
        tracing::info!(replayed, "journal replayed, index ready");
        ready.store(true, Ordering::Relaxed);
        let mut next_retention = Instant::now();
        // The replay's garbage is freed by other threads after the trim above (tantivy's
        // segment updater among them): trim again at the first idle second.
        let mut last_trim = Instant::now()
            .checked_sub(TRIM_EVERY)
            .unwrap_or_else(Instant::now);
        loop {
            let wait = match pending.since {
                Some(since) => COMMIT_INTERVAL.saturating_sub(since.elapsed()),
                None => Duration::from_secs(1),
            };
            match rx.recv_timeout(wait) {
                Ok(Msg::Apply {
                    seq,
                    changes,
                    acked_at,
                }) => {
                    if !self.apply(seq, changes) {
                        return;
                    }
                    pending.deliveries += 1;
                    pending.last_seq = seq.or(pending.last_seq);
                    pending.since.get_or_insert_with(Instant::now);
                    if let Some(at) = acked_at {
                        pending.oldest_ack.get_or_insert(at);
                    }
                }
                Ok(Msg::Flush(reply)) => {
                    if !self.commit(&mut pending) {
                        return;
                    }
                    let _ = reply.send(());
                }
                Ok(Msg::Stop(reply)) => {
                    if self.commit(&mut pending) {
                        let _ = reply.send(());
                    }
                    return;
                }
                Err(RecvTimeoutError::Timeout) => {
                    // Idle for a second with nothing to commit: let go of merged-away
                    // segments, and give the heap that bursts of ingest and of queries left
                    // behind back to the OS, now and then.
                    if pending.since.is_none() {
                        if let Err(e) = self.writer.reload_if_merged() {
                            tracing::warn!(error = %e, "reloading the index after a merge failed");
                        }
                        if last_trim.elapsed() >= TRIM_EVERY {
                            crate::memory::release_free();
                            crate::memory::serving();
                            last_trim = Instant::now();
                        }
                    }
                }
                Err(RecvTimeoutError::Disconnected) => {
                    self.commit(&mut pending);
                    return;
                }
            }
            let due = pending
                .since
                .is_some_and(|s| s.elapsed() >= COMMIT_INTERVAL);
            if (due || pending.deliveries >= COMMIT_BATCH) && !self.commit(&mut pending) {
                return;
            }
            if Instant::now() >= next_retention {
                self.apply_retention();
                next_retention = Instant::now() + RETENTION_EVERY;
            }
        }
    }

    /// Apply one record's changes, trying again on failure; a record that still fails is
    /// kept as a dead letter. False when it could be neither applied nor kept: the thread
    /// must stop before any later commit checkpoints past it. The changes are not copied
    /// for the retries (this is the path of every webhook): a retry reads the record back
    /// from the journal and normalises it again.
    fn apply(&mut self, seq: Option<u64>, changes: Vec<Change>) -> bool {
        let Err(first) = self.writer.apply_all(changes) else {
            return true;
        };
        self.failed(seq, 1, &first);
        let Some(seq) = seq else {
            // Demo data has no journal record; nothing acknowledged is lost.
            tracing::error!(error = %first, "demo data could not be indexed");
            return true;
        };
        let record = match self.journal.read(seq) {
            Ok(Some(record)) => record,
            Ok(None) => {
                tracing::error!(
                    seq,
                    "record to keep is not in the journal; stopping the indexer"
                );
                return false;
            }
            Err(e) => {
                tracing::error!(seq, error = %e, "record to keep cannot be read; stopping the indexer");
                return false;
            }
        };
        let mut error = first.to_string();
        for attempt in 2..=APPLY_ATTEMPTS {
            std::thread::sleep(RETRY_PAUSE * (attempt - 1));
            let changes = match normalise(&record.delivery, &record.body) {
                Ok(outcome) => outcome.changes,
                Err(e) => {
                    error = e.to_string();
                    break;
                }
            };
            match self.writer.apply_all(changes) {
                Ok(()) => return true,
                Err(e) => {
                    self.failed(Some(seq), attempt, &e);
                    error = e.to_string();
                }
            }
        }
        self.keep(&record, &error)
    }

    fn failed(&self, seq: Option<u64>, attempt: u32, error: &IndexError) {
        tracing::warn!(?seq, attempt, %error, "index update failed");
        self.metrics.index_apply_failures.inc();
    }

    /// Keep a record that cannot be indexed. False when even that fails.
    fn keep(&mut self, record: &Record, error: &str) -> bool {
        match self.dead_letters.keep(record, error) {
            Ok(()) => {
                tracing::error!(
                    seq = record.seq,
                    error,
                    dir = %self.dead_letters.dir().display(),
                    "record cannot be indexed; kept as a dead letter"
                );
                self.metrics
                    .dead_letters
                    .set(self.dead_letters.count() as i64);
                true
            }
            Err(e) => {
                tracing::error!(
                    seq = record.seq,
                    error = %e,
                    "record can be neither indexed nor kept; stopping the indexer so the journal keeps it"
                );
                false
            }
        }
    }

    /// Try the dead letters of earlier runs again (this version may index them); the ones
    /// that go in are removed once committed. False when the index cannot be written.
    fn retry_dead_letters(&mut self, pending: &mut Uncommitted) -> bool {
        let letters = self.dead_letters.list();
        if letters.is_empty() {
            return true;
        }
        let mut indexed = Vec::new();
        for letter in letters {
            let record = &letter.record;
            let Ok(outcome) = normalise(&record.delivery, &record.body) else {
                continue;
            };
            if self.writer.apply_all(outcome.changes).is_ok() {
                indexed.push(record.seq);
            }
        }
        pending.since.get_or_insert_with(Instant::now);
        if !self.commit(pending) {
            return false;
        }
        for seq in &indexed {
            if let Err(e) = self.dead_letters.remove(*seq) {
                tracing::warn!(seq, error = %e, "indexed dead letter could not be removed");
            }
        }
        let left = self.dead_letters.count();
        tracing::info!(indexed = indexed.len(), left, "dead letters tried again");
        self.metrics.dead_letters.set(left as i64);
        true
    }

    /// Commit what is pending. False when the index can no longer be written: the thread
    /// then stops, `/health` fails and a restart replays the journal.
    fn commit(&mut self, pending: &mut Uncommitted) -> bool {
        if pending.since.is_none() {
            return true;
        }
        let started = Instant::now();
        if let Err(e) = self.writer.commit(pending.last_seq) {
            tracing::error!(error = %e, "index commit failed, stopping the indexer");
            return false;
        }
        self.metrics.commit(started.elapsed());
        if let Some(ack) = pending.oldest_ack {
            self.metrics.searchable(ack.elapsed());
        }
        if let Some(seq) = pending.last_seq
            && let Err(e) = self.journal.checkpoint(seq)
        {
            tracing::warn!(error = %e, "journal checkpoint failed; segments kept for now");
        }
        self.metrics.index_docs.set(self.writer.num_docs() as i64);
        self.metrics
            .journal_segments
            .set(self.journal.segment_count() as i64);
        *pending = Uncommitted::default();
        true
    }

    fn apply_retention(&mut self) {
        let cutoff = Utc::now() - self.retention;
        if let Err(e) = self.writer.apply_retention(cutoff) {
            tracing::warn!(error = %e, "retention pass failed");
        }
    }
}

/// Runs `f` when dropped, including during a panic.
fn scopeguard(f: impl FnOnce()) -> impl Drop {
    struct Guard<F: FnOnce()>(Option<F>);
    impl<F: FnOnce()> Drop for Guard<F> {
        fn drop(&mut self) {
            if let Some(f) = self.0.take() {
                f();
            }
        }
    }
    Guard(Some(f))
}

#[cfg(test)]
mod tests {
    use super::*;
    use sentry_mcp_index::{DocKind, IndexReader, WriterOptions};
    use sentry_mcp_ingest::{Delivery, JournalOptions, Opened};

    /// The real index, except that changes touching `poison` always fail.
    struct Failing {
        inner: IndexWriter,
        poison: String,
    }

    impl Store for Failing {
        fn apply_all(&mut self, changes: Vec<Change>) -> Result<(), IndexError> {
            if changes.iter().any(|c| c.key() == self.poison) {
                return Err(IndexError::Aggregation("injected failure".into()));
            }
            Store::apply_all(&mut self.inner, changes)
        }
        fn commit(&mut self, checkpoint: Option<u64>) -> Result<(), IndexError> {
            Store::commit(&mut self.inner, checkpoint)
        }
        fn apply_retention(&mut self, cutoff: DateTime<Utc>) -> Result<(), IndexError> {
            Store::apply_retention(&mut self.inner, cutoff)
        }
        fn num_docs(&self) -> u64 {
            self.inner.reader().num_docs()
        }
        fn reload_if_merged(&mut self) -> Result<bool, IndexError> {
            Store::reload_if_merged(&mut self.inner)
        }
    }

    fn error_webhook(event_id: &str) -> (Delivery, Vec<u8>) {
        let body = serde_json::json!({"action": "created", "data": {"error": {
            "event_id": event_id, "issue_id": "77", "title": "ValueError: bad", "level": "error",
            "datetime": Utc::now().to_rfc3339(), "project": 1}}});
        let delivery = Delivery {
            resource: "error".into(),
            request_id: Some(format!("req-{event_id}")),
            sent_at_ms: Some(Utc::now().timestamp_millis()),
            received_at: Utc::now(),
        };
        (delivery, serde_json::to_vec(&body).unwrap())
    }

    struct Running {
        indexer: Indexer,
        journal: Journal<Vec<Change>>,
        reader: IndexReader,
        metrics: Arc<Metrics>,
    }

    fn start(data: &std::path::Path, poison: &str) -> Running {
        let writer = IndexWriter::open(&data.join("index"), &WriterOptions::default()).unwrap();
        let reader = writer.reader();
        let (tx, rx) = std::sync::mpsc::sync_channel(QUEUE);
        let sink = tx.clone();
        let Opened { journal, replay } = Journal::open(
            &data.join("journal"),
            writer.checkpoint(),
            JournalOptions::default(),
            move |seq, changes| {
                let _ = sink.send(Msg::Apply {
                    seq: Some(seq),
                    changes,
                    acked_at: None,
                });
            },
        )
        .unwrap();
        let metrics = Metrics::new();
        let store = Failing {
            inner: writer,
            poison: poison.into(),
        };
        let backlog = Backlog {
            replay,
            demo: Vec::new(),
        };
        let indexer = Indexer::start(
            store,
            backlog,
            rx,
            tx,
            journal.clone(),
            DeadLetters::new(data),
            metrics.clone(),
            30,
        )
        .unwrap();
        Running {
            indexer,
            journal,
            reader,
            metrics,
        }
    }

    /// Journal one delivery as the webhook handler does; its sequence number and body.
    async fn send(run: &Running, event_id: &str) -> (u64, Vec<u8>) {
        let (delivery, body) = error_webhook(event_id);
        let changes = normalise(&delivery, &body).unwrap().changes;
        let seq = run
            .journal
            .append(delivery, body.clone(), changes)
            .await
            .unwrap();
        (seq, body)
    }

    fn has_event(reader: &IndexReader, id: &str) -> bool {
        reader.reload().unwrap();
        reader.get(DocKind::Event, id).unwrap().is_some()
    }

    #[tokio::test]
    async fn a_record_that_cannot_be_applied_is_kept_and_indexed_on_the_next_start() {
        let dir = tempfile::tempdir().unwrap();
        let bad = "bad00000000000000000000000000001";
        let run = start(dir.path(), &format!("event:{bad}"));
        send(&run, "00000000000000000000000000000001").await;
        let (seq, body) = send(&run, bad).await;
        send(&run, "00000000000000000000000000000003").await;
        assert!(
            run.indexer.flush().await,
            "the indexer goes on after a bad record"
        );
        assert!(has_event(&run.reader, "00000000000000000000000000000003"));
        assert!(!has_event(&run.reader, bad));
        let letters = DeadLetters::new(dir.path()).list();
        assert_eq!(letters.len(), 1);
        assert_eq!(letters[0].record.seq, seq);
        assert_eq!(letters[0].record.body, body, "the raw bytes are kept");
        assert!(
            letters[0].error.contains("injected failure"),
            "{}",
            letters[0].error
        );
        let metrics = run.metrics.render();
        assert!(metrics.contains("sentry_mcp_dead_letters 1"), "{metrics}");
        assert!(
            metrics.contains("sentry_mcp_index_apply_failures_total 3"),
            "{metrics}"
        );
        assert!(run.indexer.stop().await);
        drop(run);
        std::thread::sleep(Duration::from_millis(100)); // the thread lets go of the index

        // A version that can index it picks it up on start and forgets the letter.
        let run = start(dir.path(), "nothing");
        let deadline = Instant::now() + Duration::from_secs(10);
        while !run.indexer.is_ready() {
            assert!(Instant::now() < deadline);
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(has_event(&run.reader, bad));
        assert_eq!(DeadLetters::new(dir.path()).count(), 0);
        assert!(run.metrics.render().contains("sentry_mcp_dead_letters 0"));
    }

    #[tokio::test]
    async fn a_record_that_can_be_neither_applied_nor_kept_stops_the_checkpoint() {
        let dir = tempfile::tempdir().unwrap();
        // A file where the dead-letter folder should be: keeping fails.
        std::fs::write(dir.path().join("dead-letters"), b"in the way").unwrap();
        let bad = "bad00000000000000000000000000002";
        let run = start(dir.path(), &format!("event:{bad}"));
        send(&run, "00000000000000000000000000000004").await;
        let (seq, _) = send(&run, bad).await;
        send(&run, "00000000000000000000000000000005").await;
        assert!(!run.indexer.flush().await, "the indexer stops");
        assert!(!run.indexer.is_alive());
        drop(run);
        std::thread::sleep(Duration::from_millis(300));
        let writer =
            IndexWriter::open(&dir.path().join("index"), &WriterOptions::default()).unwrap();
        assert!(
            writer.checkpoint().is_none_or(|c| c < seq),
            "checkpoint {:?} passed record {seq}",
            writer.checkpoint()
        );
        let opened = Journal::<()>::open(
            &dir.path().join("journal"),
            writer.checkpoint(),
            JournalOptions::default(),
            |_, _| {},
        )
        .unwrap();
        assert!(
            opened.replay.iter().any(|r| r.seq == seq),
            "the record is still in the journal for the next start"
        );
    }
}
