//! Fast-field columns, opened once per segment and kept.
//!
//! Opening a column decodes its metadata: for the timestamp column of a million-document
//! segment that is about 1.5M instructions, more than a 24-hour query then spends reading
//! it. Segments never change, so what is opened (or derived) for one stays valid for its
//! whole life; a search only pays for segments it has not seen before. After each reload
//! the entries of segments merged away are dropped, so their files are not kept mapped.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, OnceLock};

use tantivy::columnar::column_index::MultiValueIndex;
use tantivy::columnar::{Column, ColumnIndex, RowId, StrColumn};
use tantivy::index::SegmentId;
use tantivy::{COLLECT_BLOCK_BUFFER_LEN, DateTime, DocId, Searcher, SegmentReader};

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
    TERMS.retain(&live);
    HASHES.retain(&live);
    crate::range::DATE_SUMMARIES.retain(&live);
    crate::range::COUNT_SUMMARIES.retain(&live);
    crate::term_filter::BITSETS.retain(&live);
    crate::loaded::retain(&live);
}

/// A cache's lock, taken over from a thread that panicked holding it (a cache is never
/// left half-written: entries are built outside it and inserted whole).
pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
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

/// The values of a string column's dictionary, decoded once, for dictionaries of up to
/// [`MAX_DECODED_TERMS`] values (issue ids, users, releases; not the million document
/// keys). Turning ordinals into values is then a lookup: walking the dictionary
/// decompresses its blocks again on every search.
pub(crate) enum Terms {
    /// Every value packed into an integer ([`crate::packed`]): issue ids, levels,
    /// environments. Counts by these merge across segments as integers.
    Packed(Vec<u128>),
    /// Values back to back, and where each ends.
    Bytes { bytes: Vec<u8>, ends: Vec<u32> },
}

impl Terms {
    /// `f(value)` for the value of ordinal `ord`, if there is one.
    fn with<R>(&self, ord: u64, f: impl FnOnce(&[u8]) -> R) -> Option<R> {
        let ord = usize::try_from(ord).ok()?;
        match self {
            Terms::Packed(keys) => {
                let key = *keys.get(ord)?;
                Some(f(&key.to_be_bytes()[..crate::packed::len(key)]))
            }
            Terms::Bytes { bytes, ends } => {
                let end = *ends.get(ord)? as usize;
                let start = if ord == 0 { 0 } else { ends[ord - 1] as usize };
                bytes.get(start..end).map(f)
            }
        }
    }

    fn len(&self) -> usize {
        match self {
            Terms::Packed(keys) => keys.len(),
            Terms::Bytes { ends, .. } => ends.len(),
        }
    }

    /// The values as integers, when every one packed.
    pub(crate) fn packed(&self) -> Option<&[u128]> {
        match self {
            Terms::Packed(keys) => Some(keys),
            Terms::Bytes { .. } => None,
        }
    }
}

/// The first value of each of `docs` (at most [`COLLECT_BLOCK_BUFFER_LEN`], a collector's
/// block, in order) into `out`, `None` where a document has none. A column where every
/// document has one value (most of ours) is read with one call for the block, not a call
/// and an index lookup per document, which was most of counting a day of events; one that
/// some documents lack (issue ids, users) asks its index once per block of its bitmap.
pub(crate) fn first_values<T>(
    column: Option<&Column<T>>,
    docs: &[DocId],
    out: &mut [Option<T>; COLLECT_BLOCK_BUFFER_LEN],
) where
    T: PartialOrd + Copy + std::fmt::Debug + Send + Sync + 'static,
{
    let out = &mut out[..docs.len()];
    let Some(column) = column else {
        out.fill(None);
        return;
    };
    match &column.index {
        ColumnIndex::Full => column.first_vals(docs, out),
        ColumnIndex::Optional(index) => {
            let mut with_value = Vec::with_capacity(docs.len());
            let mut rows = Vec::with_capacity(docs.len());
            index.rank_if_exists_batch(docs, &mut with_value, &mut rows);
            let mut values = [None; COLLECT_BLOCK_BUFFER_LEN];
            let values = &mut values[..rows.len()];
            column.values.get_vals_opt(&rows, values);
            // The documents with a value come in the block's order: one walk places them.
            let mut found = with_value.iter().zip(values.iter()).peekable();
            for (slot, &doc) in out.iter_mut().zip(docs) {
                *slot = found.next_if(|(d, _)| **d == doc).and_then(|(_, v)| *v);
            }
        }
        _ => {
            for (value, &doc) in out.iter_mut().zip(docs) {
                *value = column.first(doc);
            }
        }
    }
}

/// Buffers for [`all_values`], kept by a segment collector so a block allocates nothing.
pub(crate) struct Rows<T> {
    docs: Vec<DocId>,
    rows: Vec<RowId>,
    /// For a multi-valued column: ranks of the documents that have values, and where each
    /// one's values start and end.
    ranks: Vec<RowId>,
    starts: Vec<RowId>,
    ends: Vec<RowId>,
    values: Vec<T>,
}

impl<T> Default for Rows<T> {
    fn default() -> Self {
        Rows {
            docs: Vec::new(),
            rows: Vec::new(),
            ranks: Vec::new(),
            starts: Vec::new(),
            ends: Vec::new(),
            values: Vec::new(),
        }
    }
}

/// Every value of each of `docs` (a collector's block, in order), for counting: which
/// document a value came from is not kept. An optional column's index is asked once per
/// block of its bitmap and the values are read in one batch; asked a document at a time,
/// it was most of counting an issue's 27k events by release and environment.
pub(crate) fn all_values<'a, T>(
    column: &Column<T>,
    docs: &[DocId],
    rows: &'a mut Rows<T>,
) -> &'a [T]
where
    T: PartialOrd + Copy + Default + std::fmt::Debug + Send + Sync + 'static,
{
    rows.docs.clear();
    rows.rows.clear();
    match &column.index {
        ColumnIndex::Multivalued(MultiValueIndex::MultiValueIndexV2(index)) => {
            // Where each document's values start and end, read in batches: tantivy reads
            // them a document at a time, two dynamic calls and a bitmap rank apiece (half
            // of counting an issue's events by release, a field issues hold several of).
            rows.ranks.clear();
            let ranks = &mut rows.ranks;
            index
                .optional_index
                .rank_if_exists_batch(docs, &mut rows.docs, ranks);
            rows.starts.clear();
            rows.starts.resize(ranks.len(), 0);
            index.start_index_column.get_vals(ranks, &mut rows.starts);
            ranks.iter_mut().for_each(|rank| *rank += 1);
            rows.ends.clear();
            rows.ends.resize(ranks.len(), 0);
            index.start_index_column.get_vals(ranks, &mut rows.ends);
            for (&start, &end) in rows.starts.iter().zip(&rows.ends) {
                rows.rows.extend(start..end);
            }
        }
        _ => column.row_ids_for_docs(docs, &mut rows.docs, &mut rows.rows),
    }
    rows.values.clear();
    rows.values.resize(rows.rows.len(), T::default());
    column.values.get_vals(&rows.rows, &mut rows.values);
    &rows.values
}

/// Dictionaries with more values than this are walked instead (their decoded copy would
/// cost more memory than the walk costs time).
const MAX_DECODED_TERMS: usize = 100_000;

static TERMS: SegmentCache<Option<Arc<Terms>>> = SegmentCache::new();

/// `field`'s decoded dictionary in this segment, if it has one small enough.
pub(crate) fn terms(reader: &SegmentReader, field: &str) -> tantivy::Result<Option<Arc<Terms>>> {
    TERMS.get(reader, field, || {
        let Some(column) = text(reader, field)? else {
            return Ok(None);
        };
        let dictionary = column.dictionary();
        if dictionary.num_terms() > MAX_DECODED_TERMS {
            return Ok(None);
        }
        let mut bytes = Vec::new();
        let mut ends = Vec::with_capacity(dictionary.num_terms());
        let mut keys = Some(Vec::with_capacity(dictionary.num_terms()));
        let mut stream = dictionary.stream()?;
        while stream.advance() {
            let term = stream.key();
            match (&mut keys, crate::packed::pack(term)) {
                (Some(keys), Some(key)) => keys.push(key),
                (packed, _) => *packed = None,
            }
            bytes.extend_from_slice(term);
            ends.push(bytes.len() as u32);
        }
        let terms = match keys {
            Some(keys) => Terms::Packed(keys),
            None => {
                bytes.shrink_to_fit();
                Terms::Bytes { bytes, ends }
            }
        };
        Ok(Some(Arc::new(terms)))
    })
}

static HASHES: SegmentCache<Option<Arc<Vec<u64>>>> = SegmentCache::new();

/// A hash of each value of `field`'s decoded dictionary in this segment, by ordinal (the
/// same value hashes alike in every segment), to count distinct values across segments
/// without their strings.
pub(crate) fn term_hashes(
    reader: &SegmentReader,
    field: &str,
) -> tantivy::Result<Option<Arc<Vec<u64>>>> {
    HASHES.get(reader, field, || {
        let Some(terms) = terms(reader, field)? else {
            return Ok(None);
        };
        let hashes = (0..terms.len() as u64)
            .map(|ord| terms.with(ord, hash).unwrap_or_default())
            .collect();
        Ok(Some(Arc::new(hashes)))
    })
}

/// The hash of a value in [`term_hashes`].
pub(crate) fn hash(bytes: &[u8]) -> u64 {
    use std::hash::BuildHasher;
    foldhash::quality::FixedState::with_seed(0x5e47).hash_one(bytes)
}

/// `f(ord, value)` for each of the sorted, distinct `ords` of `column`: looked up in the
/// decoded dictionary when there is one, else in one walk of the dictionary.
pub(crate) fn for_each_term(
    column: &StrColumn,
    decoded: Option<&Terms>,
    ords: &[u64],
    mut f: impl FnMut(u64, &[u8]),
) {
    if let Some(terms) = decoded {
        for &ord in ords {
            terms.with(ord, |value| f(ord, value));
        }
        return;
    }
    let mut next = ords.iter();
    let _ = column.dictionary().sorted_ords_to_term_cb(ords, |value| {
        if let Some(&ord) = next.next() {
            f(ord, value);
        }
    });
}

#[cfg(test)]
mod tests {
    use tantivy::columnar::Cardinality;
    use tantivy::schema::{FAST, Schema};
    use tantivy::{Index, TantivyDocument};

    use super::*;

    /// A block's values (all of them, or each document's first) read at once are the
    /// values read a document at a time, for a column every document has one of, one some
    /// documents lack, and one with several.
    #[test]
    fn a_blocks_values_are_each_documents_values() {
        let mut schema = Schema::builder();
        let full = schema.add_u64_field("full", FAST);
        let optional = schema.add_u64_field("optional", FAST);
        let multi = schema.add_u64_field("multi", FAST);
        let index = Index::create_in_ram(schema.build());
        let mut writer = index.writer_with_num_threads(1, 15_000_000).unwrap();
        for i in 0..5000u64 {
            let mut doc = TantivyDocument::new();
            doc.add_u64(full, i);
            if i % 7 != 0 {
                doc.add_u64(optional, i * 2);
            }
            for k in 0..i % 4 {
                doc.add_u64(multi, i * 10 + k);
            }
            writer.add_document(doc).unwrap();
        }
        writer.commit().unwrap();
        let searcher = index.reader().unwrap().searcher();
        let reader = searcher.segment_reader(0);
        let docs: Vec<DocId> = (0..5000).filter(|d| d % 3 != 1).collect();
        for (field, cardinality) in [
            ("full", Cardinality::Full),
            ("optional", Cardinality::Optional),
            ("multi", Cardinality::Multivalued),
        ] {
            let column = reader.fast_fields().u64(field).unwrap();
            assert_eq!(column.get_cardinality(), cardinality);
            if cardinality == Cardinality::Multivalued {
                // The index read in batches, not through tantivy's per-document path.
                assert!(matches!(
                    column.index,
                    ColumnIndex::Multivalued(MultiValueIndex::MultiValueIndexV2(_))
                ));
            }
            let mut rows = Rows::default();
            let mut first = [None; COLLECT_BLOCK_BUFFER_LEN];
            for block in docs.chunks(COLLECT_BLOCK_BUFFER_LEN) {
                let one_by_one: Vec<u64> = block
                    .iter()
                    .flat_map(|&d| column.values_for_doc(d))
                    .collect();
                assert_eq!(all_values(&column, block, &mut rows), one_by_one, "{field}");
                first_values(Some(&column), block, &mut first);
                let firsts: Vec<Option<u64>> = block.iter().map(|&d| column.first(d)).collect();
                assert_eq!(&first[..block.len()], firsts.as_slice(), "{field}");
            }
        }
    }
}
