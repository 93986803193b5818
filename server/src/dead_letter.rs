//! Dead letters: acknowledged journal records that could not be indexed, kept in the data
//! dir with their raw bytes and the error, so the journal can move on without losing them.
//!
//! Layout: `dead-letters/<seq, 20 digits>.body` (the webhook body exactly as received) and
//! `<seq>.json` (delivery headers, error, when). Both are fsynced before the indexer may
//! checkpoint past the record. On start every dead letter is tried again (a newer version
//! may index it); the ones that go in are removed.

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use sentry_mcp_ingest::{Delivery, Record};
use serde::{Deserialize, Serialize};

/// What is kept next to the body.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Letter {
    seq: u64,
    delivery: Delivery,
    error: String,
    kept_at: DateTime<Utc>,
}

/// One kept record, read back.
#[derive(Debug, Clone)]
pub struct DeadLetter {
    pub record: Record,
    pub error: String,
}

/// The dead-letter folder of a data dir.
#[derive(Debug, Clone)]
pub struct DeadLetters {
    dir: PathBuf,
}

impl DeadLetters {
    pub fn new(data_dir: &Path) -> Self {
        DeadLetters {
            dir: data_dir.join("dead-letters"),
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Keep `record` durably with the reason it could not be indexed.
    pub fn keep(&self, record: &Record, error: &str) -> std::io::Result<()> {
        fs::create_dir_all(&self.dir)?;
        let letter = Letter {
            seq: record.seq,
            delivery: record.delivery.clone(),
            error: error.to_owned(),
            kept_at: Utc::now(),
        };
        let meta = serde_json::to_vec_pretty(&letter).map_err(std::io::Error::other)?;
        // The body first: a `.json` without its body is never left behind.
        write_synced(&self.path(record.seq, "body"), &record.body)?;
        write_synced(&self.path(record.seq, "json"), &meta)?;
        File::open(&self.dir)?.sync_all()
    }

    /// How many records are kept (0 when the folder does not exist).
    pub fn count(&self) -> usize {
        self.seqs().len()
    }

    /// Every kept record, oldest first. Unreadable letters are logged and skipped (they
    /// stay on disk for a person to look at).
    pub fn list(&self) -> Vec<DeadLetter> {
        let mut out = Vec::new();
        for seq in self.seqs() {
            match self.read(seq) {
                Ok(letter) => out.push(letter),
                Err(e) => tracing::warn!(seq, error = %e, "dead letter cannot be read"),
            }
        }
        out
    }

    /// How many are kept and the newest of them, reading only that one (for `status`).
    pub fn summary(&self) -> (usize, Option<DeadLetter>) {
        let seqs = self.seqs();
        let newest = seqs.last().and_then(|seq| self.read(*seq).ok());
        (seqs.len(), newest)
    }

    /// Forget a record that has now been indexed.
    pub fn remove(&self, seq: u64) -> std::io::Result<()> {
        fs::remove_file(self.path(seq, "json"))?;
        fs::remove_file(self.path(seq, "body"))
    }

    fn read(&self, seq: u64) -> std::io::Result<DeadLetter> {
        let letter: Letter = serde_json::from_slice(&fs::read(self.path(seq, "json"))?)
            .map_err(std::io::Error::other)?;
        let body = fs::read(self.path(seq, "body"))?;
        Ok(DeadLetter {
            record: Record {
                seq: letter.seq,
                delivery: letter.delivery,
                body,
            },
            error: letter.error,
        })
    }

    fn seqs(&self) -> Vec<u64> {
        let Ok(entries) = fs::read_dir(&self.dir) else {
            return Vec::new();
        };
        let mut seqs: Vec<u64> = entries
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                let name = e.file_name();
                name.to_str()?.strip_suffix(".json")?.parse().ok()
            })
            .collect();
        seqs.sort_unstable();
        seqs
    }

    fn path(&self, seq: u64, ext: &str) -> PathBuf {
        self.dir.join(format!("{seq:020}.{ext}"))
    }
}

fn write_synced(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut file = File::create(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}
