//! Fast-field columns, opened once per segment and kept.
//!
//! Opening a column decodes its metadata: for the timestamp column of a million-document
//! segment that is about 1.5M instructions, more than a 24-hour query then spends reading
//! it. Segments never change, so what is opened (or derived) for one stays valid for its
//! whole life; a search only pays for segments it has not seen before. After each reload
//! the entries of segments merged away are dropped, so their files are not kept mapped.

use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, OnceLock};

use tantivy::columnar::{Column, StrColumn};
use tantivy::index::SegmentId;
use tantivy::{DateTime, Searcher, SegmentReader};

/// Segments kept before a cache starts over: a bound in case reloads are rare (another
/// process's index read with `search`) while segments come and go.
const MAX_SEGMENTS: usize = 256;

/// Values derived from one segment's field, shared by every search.
pub(crate) struct SegmentCache<T> {
    entries: OnceLock<Mutex<HashMap<SegmentId, HashMap<String, T>>>>,
}

impl<T: Clone> SegmentCache<T> {
    pub(crate) const fn new() -> Self {
        SegmentCache {
            entries: OnceLock::new(),
        }
    }

    /// The value for (`reader`'s segment, `field`), built by `build` the first time.
    pub(crate) fn get(
        &self,
        reader: &SegmentReader,
        field: &str,
        build: impl FnOnce() -> tantivy::Result<T>,
    ) -> tantivy::Result<T> {
        let entries = self.entries.get_or_init(Default::default);
        let segment = reader.segment_id();
        if let Some(found) = lock(entries).get(&segment).and_then(|s| s.get(field)) {
            return Ok(found.clone());
        }
        // Built outside the lock: two searches may both build it, and both answers agree.
        let built = build()?;
        let mut entries = lock(entries);
        if entries.len() >= MAX_SEGMENTS {
            entries.clear();
        }
        entries
            .entry(segment)
            .or_default()
            .insert(field.to_owned(), built.clone());
        Ok(built)
    }
}

impl<T: Clone> SegmentCache<T> {
    /// The value for (`reader`'s segment, `field`) if it was built.
    pub(crate) fn peek(&self, reader: &SegmentReader, field: &str) -> Option<T> {
        let entries = self.entries.get()?;
        lock(entries)
            .get(&reader.segment_id())
            .and_then(|s| s.get(field))
            .cloned()
    }

    /// How many values are kept for `reader`'s segment.
    pub(crate) fn len_for(&self, reader: &SegmentReader) -> usize {
        self.entries.get().map_or(0, |entries| {
            lock(entries)
                .get(&reader.segment_id())
                .map_or(0, HashMap::len)
        })
    }
}

impl<T> SegmentCache<T> {
    fn retain(&self, live: &HashSet<SegmentId>) {
        if let Some(entries) = self.entries.get() {
            lock(entries).retain(|segment, _| live.contains(segment));
        }
    }
}

static DATES: SegmentCache<Option<Column<DateTime>>> = SegmentCache::new();
static COUNTS: SegmentCache<Option<Column<u64>>> = SegmentCache::new();
static TEXTS: SegmentCache<Option<StrColumn>> = SegmentCache::new();

/// Drop what is kept for segments `searcher` no longer has.
pub(crate) fn forget_gone_segments(searcher: &Searcher) {
    let live: HashSet<SegmentId> = searcher
        .segment_readers()
        .iter()
        .map(|r| r.segment_id())
        .collect();
    DATES.retain(&live);
    COUNTS.retain(&live);
    TEXTS.retain(&live);
    crate::range::DATE_SUMMARIES.retain(&live);
    crate::range::COUNT_SUMMARIES.retain(&live);
    crate::term_filter::BITSETS.retain(&live);
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A date column (`None` when no document of the segment has the field).
pub(crate) fn date(
    reader: &SegmentReader,
    field: &str,
) -> tantivy::Result<Option<Column<DateTime>>> {
    DATES.get(reader, field, || reader.fast_fields().column_opt(field))
}

/// A u64 column (`None` when no document of the segment has the field).
pub(crate) fn count(reader: &SegmentReader, field: &str) -> tantivy::Result<Option<Column<u64>>> {
    COUNTS.get(reader, field, || reader.fast_fields().column_opt(field))
}

/// A string column with its dictionary (`None` when no document of the segment has it).
pub(crate) fn text(reader: &SegmentReader, field: &str) -> tantivy::Result<Option<StrColumn>> {
    TEXTS.get(reader, field, || reader.fast_fields().str(field))
}
