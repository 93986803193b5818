//! The single writer of an index directory.
//!
//! Upserts are "read the stored copy, merge, delete by key, add". Documents changed since
//! the last commit are not visible to searchers yet, so the writer keeps them in `pending`
//! to merge against, and hands each to tantivy once, when it commits: an issue whose events
//! arrive by the hundred is indexed once per commit, not once per event. A commit stores
//! the caller's checkpoint (the last journal sequence number applied) as the commit
//! payload, atomically with the documents.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use tantivy::directory::error::LockError;
use tantivy::index::SegmentId;
use tantivy::query::{BooleanQuery, Occur, Query, RangeQuery, TermQuery};
use tantivy::schema::IndexRecordOption;
use tantivy::{Index, ReloadPolicy, Term};

use crate::document::{Change, IndexDoc};
use crate::schema::{Fields, to_tantivy_date};
use crate::{IndexError, Result};

/// Tuning for the writer.
#[derive(Debug, Clone)]
pub struct WriterOptions {
    /// Memory tantivy may use for buffered documents before it flushes a segment.
    pub memory_budget_bytes: usize,
}

impl Default for WriterOptions {
    fn default() -> Self {
        WriterOptions {
            memory_budget_bytes: 64 * 1024 * 1024,
        }
    }
}

/// Owns the tantivy `IndexWriter` of one directory. Not shared between threads: one
/// indexing thread drives it.
pub struct IndexWriter {
    path: PathBuf,
    index: Index,
    fields: Fields,
    writer: tantivy::IndexWriter,
    /// Reader used to look up stored copies for merging; reloaded after each commit.
    reader: tantivy::IndexReader,
    pending: HashMap<String, Pending>,
    checkpoint: Option<u64>,
}

/// A document changed since the last commit.
struct Pending {
    doc: IndexDoc,
    /// Whether tantivy holds an older copy (committed, or handed over before a commit that
    /// failed), which it must delete.
    replaces: bool,
    /// Handed to tantivy already; kept until a commit succeeds, so a failed one loses
    /// nothing and a later change still finds it.
    flushed: bool,
}

impl IndexWriter {
    /// Open the index in `dir`, creating it if needed.
    pub fn open(dir: &Path, options: &WriterOptions) -> Result<Self> {
        std::fs::create_dir_all(dir).map_err(|e| IndexError::Open {
            path: dir.to_owned(),
            source: e.into(),
        })?;
        let fields = Fields::new();
        crate::rebuild::upgrade_if_needed(dir, &fields)?;
        let directory =
            tantivy::directory::MmapDirectory::open(dir).map_err(|e| IndexError::Open {
                path: dir.to_owned(),
                source: e.into(),
            })?;
        let index = Index::open_or_create(directory, fields.schema.clone()).map_err(|source| {
            IndexError::Open {
                path: dir.to_owned(),
                source,
            }
        })?;
        let writer = index
            .writer_with_num_threads(1, options.memory_budget_bytes)
            .map_err(|e| match e {
                // Only a lock someone holds is "locked"; failing to create the lock file
                // (a read-only or full volume) is an open error that says why.
                tantivy::TantivyError::LockFailure(LockError::LockBusy, _) => {
                    IndexError::Locked(dir.to_owned())
                }
                tantivy::TantivyError::LockFailure(LockError::IoError(source), _) => {
                    IndexError::NotWritable {
                        path: dir.to_owned(),
                        source: std::io::Error::new(source.kind(), source.to_string()),
                    }
                }
                source => IndexError::Open {
                    path: dir.to_owned(),
                    source,
                },
            })?;
        // Every event rewrites its issue document, so segments fill with deleted copies of
        // issues; merge a segment once a third of it is deleted, or issue queries slow down.
        let mut policy = tantivy::indexer::LogMergePolicy::default();
        policy.set_del_docs_ratio_before_merge(0.3);
        writer.set_merge_policy(Box::new(policy));
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .doc_store_cache_num_blocks(crate::DOC_STORE_CACHE_BLOCKS)
            .try_into()?;
        let checkpoint = read_checkpoint(&index)?;
        Ok(IndexWriter {
            path: dir.to_owned(),
            index,
            fields,
            writer,
            reader,
            pending: HashMap::new(),
            checkpoint,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The checkpoint stored with the last commit: every journal record up to and including
    /// it is in the index.
    pub fn checkpoint(&self) -> Option<u64> {
        self.checkpoint
    }

    /// A reader that sees what this writer commits; reloaded after each commit.
    pub fn reader(&self) -> crate::IndexReader {
        crate::IndexReader::from_parts(self.index.clone(), self.fields.clone(), self.reader.clone())
    }

    /// Apply the changes of one delivery, in order. Returns how many documents changed.
    pub fn apply_all(&mut self, changes: Vec<Change>) -> Result<usize> {
        let mut changed = 0;
        // An event's issue observation follows the event: it counts only a new event.
        let mut new_event = false;
        for change in changes {
            let is_event = matches!(&change, Change::Put(d) if d.kind == crate::DocKind::Event);
            let (did_change, was_new) = self.apply(change, new_event)?;
            if is_event {
                new_event = was_new;
            }
            changed += usize::from(did_change);
        }
        Ok(changed)
    }

    /// Apply one change; returns whether the index changed and whether the document was new.
    fn apply(&mut self, change: Change, new_event: bool) -> Result<(bool, bool)> {
        let key = change.key();
        let committed;
        let (stored, replaces) = match self.pending.get(&key) {
            Some(p) => (Some(&p.doc), p.replaces || p.flushed),
            None => {
                committed = self.load_committed(&key)?;
                (committed.as_ref(), committed.is_some())
            }
        };
        // A fetched copy counts as seen: Sentry's issue state, fetched with it, already
        // counts the event, so its later delivery must not count it again.
        let was_new = stored.is_none();
        let Some(doc) = change.apply(stored, new_event) else {
            return Ok((false, was_new));
        };
        if stored == Some(&doc) {
            return Ok((false, was_new));
        }
        self.pending.insert(
            key,
            Pending {
                doc,
                replaces,
                flushed: false,
            },
        );
        Ok((true, was_new))
    }

    /// Hand the pending documents to tantivy: each replaces its committed copy, if any (a
    /// key the last commit does not hold needs no delete, which would cost tantivy a
    /// lookup in every segment; new events are most deliveries). Oldest first: a segment's
    /// documents then lie in time order, which is what lets a time window skip the blocks
    /// of a segment it does not overlap (`range.rs`); in the table's order, one large
    /// commit (a replay, a backfill) spread every block over its whole time span.
    fn flush_pending(&mut self) -> Result<()> {
        let mut due: Vec<(&String, &mut Pending)> = self
            .pending
            .iter_mut()
            .filter(|(_, p)| !p.flushed)
            .collect();
        due.sort_unstable_by_key(|(_, p)| p.doc.timestamp);
        for (key, p) in due {
            if p.replaces {
                self.writer
                    .delete_term(Term::from_field_text(self.fields.key, key));
            }
            self.writer.add_document(self.fields.to_tantivy(&p.doc))?;
            p.flushed = true;
        }
        Ok(())
    }

    /// Make everything applied so far durable and visible, with `checkpoint` as payload.
    pub fn commit(&mut self, checkpoint: Option<u64>) -> Result<()> {
        self.flush_pending()?;
        let mut prepared = self.writer.prepare_commit()?;
        if let Some(seq) = checkpoint.or(self.checkpoint) {
            prepared.set_payload(&seq.to_string());
        }
        prepared.commit()?;
        self.reload()?;
        self.pending.clear();
        // A large backlog (a replay, the demo) would otherwise keep its table for good.
        self.pending.shrink_to(256);
        if checkpoint.is_some() {
            self.checkpoint = checkpoint;
        }
        Ok(())
    }

    /// Let go of segments a finished background merge replaced: searchers keep using the
    /// old ones until the next commit otherwise, and a merge reads them through memory
    /// maps, so a quiet server stays resident with hundreds of MiB of deleted files (about
    /// 240 MiB after one merge of a 1M-event index). Returns whether it reloaded.
    pub fn reload_if_merged(&mut self) -> Result<bool> {
        let on_disk: HashSet<SegmentId> =
            self.index.searchable_segment_ids()?.into_iter().collect();
        let searcher = self.reader.searcher();
        let searched: HashSet<SegmentId> = searcher
            .segment_readers()
            .iter()
            .map(|r| r.segment_id())
            .collect();
        if on_disk == searched {
            return Ok(false);
        }
        drop(searcher);
        self.reload()?;
        Ok(true)
    }

    /// Search the index as last written, and drop the caches of segments that are gone.
    fn reload(&self) -> Result<()> {
        self.reader.reload()?;
        crate::columns::forget_gone_segments(&self.reader.searcher());
        Ok(())
    }

    /// Finish background segment merges and release the index lock.
    pub fn wait_for_merges(self) -> Result<()> {
        Ok(self.writer.wait_merging_threads()?)
    }

    /// Delete events, alerts and records older than `cutoff`, and issues that are closed
    /// (resolved or ignored) and were last seen before it, then commit.
    pub fn apply_retention(&mut self, cutoff: DateTime<Utc>) -> Result<()> {
        // Pending documents go in first, so the deletes below see them.
        self.flush_pending()?;
        let f = &self.fields;
        let before = |field| -> Box<dyn Query> {
            Box::new(RangeQuery::new(
                std::ops::Bound::Unbounded,
                std::ops::Bound::Excluded(Term::from_field_date(field, to_tantivy_date(cutoff))),
            ))
        };
        let term = |field, value: &str| -> Box<dyn Query> {
            Box::new(TermQuery::new(
                Term::from_field_text(field, value),
                IndexRecordOption::Basic,
            ))
        };
        let old_non_issue = BooleanQuery::new(vec![
            (Occur::Must, before(f.timestamp)),
            (Occur::MustNot, term(f.kind, "issue")),
        ]);
        let closed = BooleanQuery::new(vec![
            (Occur::Should, term(f.status, "resolved")),
            (Occur::Should, term(f.status, "ignored")),
        ]);
        let old_closed_issue = BooleanQuery::new(vec![
            (Occur::Must, term(f.kind, "issue")),
            (Occur::Must, before(f.timestamp)),
            (Occur::Must, Box::new(closed)),
        ]);
        self.writer.delete_query(Box::new(old_non_issue))?;
        self.writer.delete_query(Box::new(old_closed_issue))?;
        self.commit(None)
    }

    fn load_committed(&self, key: &str) -> Result<Option<IndexDoc>> {
        let searcher = self.reader.searcher();
        let query = TermQuery::new(
            Term::from_field_text(self.fields.key, key),
            IndexRecordOption::Basic,
        );
        crate::reader::first_match(&searcher, &query)?
            .map(|addr| crate::reader::load_doc(&searcher, &self.fields, addr))
            .transpose()
    }
}

fn read_checkpoint(index: &Index) -> Result<Option<u64>> {
    let metas = index.load_metas()?;
    Ok(metas.payload.as_deref().and_then(|p| p.parse().ok()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::DocKind;

    /// After a merge finished in the background, the next idle check searches the merged
    /// segment (and lets go of the old ones); with nothing merged it does nothing.
    #[test]
    fn a_finished_merge_is_searched_after_reload_if_merged() {
        let (_dir, mut w) = crate::testing::fresh_writer();
        let at = crate::testing::at("2026-06-01T12:00:00Z");
        for i in 0..3 {
            let d = IndexDoc::new(DocKind::Event, format!("e{i}"), at);
            w.apply_all(vec![Change::Put(d)]).unwrap();
            w.commit(Some(i)).unwrap();
        }
        let segments = |w: &IndexWriter| w.reader.searcher().segment_readers().len();
        assert_eq!(segments(&w), 3);
        assert!(!w.reload_if_merged().unwrap());
        let ids = w.index.searchable_segment_ids().unwrap();
        w.writer.merge(&ids).wait().unwrap();
        assert_eq!(segments(&w), 3, "merged, not yet reloaded");
        assert!(w.reload_if_merged().unwrap());
        assert_eq!(segments(&w), 1);
        assert_eq!(w.reader().num_docs(), 3);
        assert!(!w.reload_if_merged().unwrap());
    }

    /// An issue observed many times between commits is indexed once, with its last state,
    /// and replaces its committed copy at the next commit: one live document throughout.
    #[test]
    fn a_document_changed_between_commits_is_indexed_once() {
        let (_dir, mut w) = crate::testing::fresh_writer();
        let at = crate::testing::at("2026-06-01T12:00:00Z");
        let event = |i: i64| {
            let mut e = IndexDoc::new(
                DocKind::Event,
                format!("e{i}"),
                at + chrono::Duration::minutes(i),
            );
            e.issue_id = Some("7".into());
            let mut issue = IndexDoc::new(DocKind::Issue, "7", e.timestamp);
            issue.issue_id = Some("7".into());
            issue.last_seen = Some(e.timestamp);
            vec![Change::Put(e), Change::Observe(issue)]
        };
        let issues = |w: &IndexWriter| {
            let searcher = w.reader.searcher();
            let term =
                Term::from_field_text(w.fields.key, &crate::document::doc_key(DocKind::Issue, "7"));
            let query = TermQuery::new(term, IndexRecordOption::Basic);
            searcher.search(&query, &tantivy::collector::Count).unwrap()
        };
        for i in 0..3 {
            w.apply_all(event(i)).unwrap();
        }
        w.commit(Some(1)).unwrap();
        assert_eq!(issues(&w), 1);
        assert_eq!(w.reader().num_docs(), 4, "three events and their issue");
        let issue = w.reader().get(DocKind::Issue, "7").unwrap().unwrap();
        assert_eq!(issue.times_seen, Some(3));
        for i in 3..5 {
            w.apply_all(event(i)).unwrap();
        }
        w.commit(Some(2)).unwrap();
        assert_eq!(issues(&w), 1, "the committed copy was replaced");
        assert_eq!(w.reader().num_docs(), 6);
        let issue = w.reader().get(DocKind::Issue, "7").unwrap().unwrap();
        assert_eq!(issue.times_seen, Some(5));
        assert_eq!(issue.last_seen, Some(at + chrono::Duration::minutes(4)));
    }

    /// A commit's documents lie in each segment in time order, however they arrived: a
    /// time window then reads only the blocks it overlaps.
    #[test]
    fn a_commit_hands_its_documents_over_oldest_first() {
        let (_dir, mut w) = crate::testing::fresh_writer();
        let at = crate::testing::at("2026-06-01T12:00:00Z");
        // 2,000 events in a scrambled order (a multiplicative walk modulo a prime).
        for n in 1..2_000i64 {
            let i = n * 1_361 % 2_003;
            let e = IndexDoc::new(
                DocKind::Event,
                format!("e{i}"),
                at + chrono::Duration::seconds(i),
            );
            w.apply_all(vec![Change::Put(e)]).unwrap();
        }
        w.commit(Some(1)).unwrap();
        let searcher = w.reader.searcher();
        let mut seen = 0;
        for segment in searcher.segment_readers() {
            let column = segment.fast_fields().date("timestamp").unwrap();
            let times: Vec<_> = (0..segment.max_doc())
                .filter_map(|d| column.first(d))
                .collect();
            assert!(times.is_sorted(), "a segment out of time order");
            seen += times.len();
        }
        assert_eq!(seen, 1_999);
    }
}
