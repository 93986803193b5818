//! The indexing thread: applies normalised changes to the index in journal order, commits
//! on a short cadence (so acknowledged webhooks are searchable within a second), then
//! checkpoints the journal and applies retention.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender};
use std::time::{Duration, Instant};

use chrono::Utc;
use sentry_mcp_index::{Change, IndexWriter};
use sentry_mcp_ingest::{Journal, Record, normalise};

use crate::metrics::Metrics;

/// How long applied changes may wait before a commit makes them searchable.
pub const COMMIT_INTERVAL: Duration = Duration::from_millis(200);
/// Commit early when this many deliveries are waiting.
const COMMIT_BATCH: usize = 20_000;
const RETENTION_EVERY: Duration = Duration::from_secs(3600);
/// Changes waiting for the indexer before the journal writer blocks.
pub const QUEUE: usize = 64 * 1024;

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
    pub fn start(
        writer: IndexWriter,
        backlog: Backlog,
        rx: Receiver<Msg>,
        tx: Sender,
        journal: Journal<Vec<Change>>,
        metrics: Arc<Metrics>,
        retention_days: u32,
    ) -> std::io::Result<Self> {
        let alive = Arc::new(AtomicBool::new(true));
        let ready = Arc::new(AtomicBool::new(false));
        let state = Loop {
            writer,
            journal,
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
        let (reply, done) = tokio::sync::oneshot::channel();
        let tx = self.tx.clone();
        let sent = tokio::task::spawn_blocking(move || tx.send(Msg::Flush(reply)).is_ok()).await;
        matches!(sent, Ok(true)) && done.await.is_ok()
    }
}

struct Loop {
    writer: IndexWriter,
    journal: Journal<Vec<Change>>,
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

impl Loop {
    fn run(mut self, backlog: Backlog, ready: Arc<AtomicBool>, rx: Receiver<Msg>) {
        let alive = self.alive.clone();
        let _guard = scopeguard(move || alive.store(false, Ordering::Relaxed));
        let mut pending = Uncommitted::default();
        let replayed = backlog.replay.len();
        for record in backlog.replay {
            match normalise(&record.delivery, &record.body) {
                Ok(outcome) => self.apply(outcome.changes),
                // Only verified, well-formed bodies are journaled; this means a newer
                // journal from a different version. Skip the record, keep going.
                Err(e) => {
                    tracing::error!(seq = record.seq, error = %e, "journal record cannot be indexed")
                }
            }
            pending.last_seq = Some(record.seq);
            pending.since.get_or_insert_with(Instant::now);
        }
        if !backlog.demo.is_empty() {
            self.apply(backlog.demo);
            pending.since.get_or_insert_with(Instant::now);
        }
        if !self.commit(&mut pending) {
            return;
        }
        tracing::info!(replayed, "journal replayed, index ready");
        ready.store(true, Ordering::Relaxed);
        let mut next_retention = Instant::now();
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
                    self.apply(changes);
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
                Err(RecvTimeoutError::Timeout) => {}
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

    fn apply(&mut self, changes: Vec<Change>) {
        if let Err(e) = self.writer.apply_all(changes) {
            tracing::error!(error = %e, "index update failed");
        }
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
        self.metrics
            .index_docs
            .set(self.writer.reader().num_docs() as i64);
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
