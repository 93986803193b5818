//! Ranges on date and count fast fields, without reading the whole column.
//!
//! tantivy answers a range on a fast field by scanning the column: a 24-hour window over a
//! million events reads a million timestamps, and `timesSeen:>100` reads a million counts
//! to find the issues among them. Two things make it cheap here:
//!
//! - Each segment gets a summary, computed once and kept (segments never change): the
//!   lowest and highest value of every block of [`BLOCK`] documents. Documents arrive
//!   roughly in time order, so a window reads only the blocks it overlaps, and takes blocks
//!   wholly inside it without reading them. Out-of-order documents only widen some blocks'
//!   spans: the answer is exact whatever the order; only the speed-up shrinks.
//! - Inside an intersection led by a more selective clause (`kind:issue`), the range is
//!   asked about one document at a time (`seek_danger`), and checks just that value.

use std::fmt::Debug;
use std::ops::{Bound, RangeInclusive};
use std::sync::Arc;

use tantivy::columnar::{Column, ColumnIndex};
use tantivy::query::{ConstScorer, EmptyScorer, EnableScoring, Explanation, Query, Scorer, Weight};
use tantivy::{DateTime, DocId, DocSet, Score, SeekDangerResult, SegmentReader, TERMINATED};

use crate::columns::SegmentCache;

/// Documents per summary block: 2k blocks (32 KiB) for a million-document segment.
const BLOCK: u32 = 512;

/// A value type with a fast column: dates and counts.
pub(crate) trait RangeValue: Copy + PartialOrd + Debug + Send + Sync + 'static {
    const LOWEST: Self;
    const HIGHEST: Self;
    /// The next value up or down, `None` past the end.
    fn step(self, up: bool) -> Option<Self>;
    fn column(reader: &SegmentReader, field: &str) -> tantivy::Result<Option<Column<Self>>>;
    fn summaries() -> &'static SegmentCache<Summary<Self>>;
}

impl RangeValue for DateTime {
    const LOWEST: Self = DateTime::MIN;
    const HIGHEST: Self = DateTime::MAX;

    fn step(self, up: bool) -> Option<Self> {
        let ns = self.into_timestamp_nanos();
        let next = if up {
            ns.checked_add(1)
        } else {
            ns.checked_sub(1)
        };
        next.map(DateTime::from_timestamp_nanos)
    }

    fn column(reader: &SegmentReader, field: &str) -> tantivy::Result<Option<Column<Self>>> {
        crate::columns::date(reader, field)
    }

    fn summaries() -> &'static SegmentCache<Summary<Self>> {
        &DATE_SUMMARIES
    }
}

impl RangeValue for u64 {
    const LOWEST: Self = 0;
    const HIGHEST: Self = u64::MAX;

    fn step(self, up: bool) -> Option<Self> {
        if up {
            self.checked_add(1)
        } else {
            self.checked_sub(1)
        }
    }

    fn column(reader: &SegmentReader, field: &str) -> tantivy::Result<Option<Column<Self>>> {
        crate::columns::count(reader, field)
    }

    fn summaries() -> &'static SegmentCache<Summary<Self>> {
        &COUNT_SUMMARIES
    }
}

/// Per block of a segment: the lowest and highest value, `None` where no document has one.
pub(crate) type Summary<T> = Arc<Vec<Option<(T, T)>>>;

pub(crate) static DATE_SUMMARIES: SegmentCache<Summary<DateTime>> = SegmentCache::new();
pub(crate) static COUNT_SUMMARIES: SegmentCache<Summary<u64>> = SegmentCache::new();

/// Documents whose `field` value lies between `lower` and `upper`.
pub(crate) fn fast_range<T: RangeValue>(
    field: &str,
    lower: Bound<T>,
    upper: Bound<T>,
) -> Box<dyn Query> {
    let start = match lower {
        Bound::Included(v) => Some(v),
        Bound::Excluded(v) => v.step(true),
        Bound::Unbounded => Some(T::LOWEST),
    };
    let end = match upper {
        Bound::Included(v) => Some(v),
        Bound::Excluded(v) => v.step(false),
        Bound::Unbounded => Some(T::HIGHEST),
    };
    match (start, end) {
        (Some(start), Some(end)) if start <= end => Box::new(FastRangeQuery {
            field: field.to_owned(),
            range: start..=end,
        }),
        _ => Box::new(tantivy::query::EmptyQuery),
    }
}

#[derive(Debug, Clone)]
struct FastRangeQuery<T> {
    field: String,
    range: RangeInclusive<T>,
}

impl<T: RangeValue> Query for FastRangeQuery<T> {
    fn weight(&self, _scoring: EnableScoring<'_>) -> tantivy::Result<Box<dyn Weight>> {
        Ok(Box::new(self.clone()))
    }
}

impl<T: RangeValue> FastRangeQuery<T> {
    /// The segment's column and its per-block summary, `None` when no value of the segment
    /// can be in the range.
    fn opened(&self, reader: &SegmentReader) -> tantivy::Result<Option<(Column<T>, Summary<T>)>> {
        let Some(column) = T::column(reader, &self.field)? else {
            return Ok(None);
        };
        let (start, end) = (*self.range.start(), *self.range.end());
        if start > column.max_value() || end < column.min_value() {
            return Ok(None);
        }
        let summary = T::summaries().get(reader, &self.field, || {
            Ok(Arc::new(summarise(&column, reader.max_doc())))
        })?;
        Ok(Some((column, summary)))
    }

    /// The segment's matching documents, `None` when there are none.
    fn docs(&self, reader: &SegmentReader) -> tantivy::Result<Option<RangeDocs<T>>> {
        Ok(self.opened(reader)?.map(|(column, summary)| {
            RangeDocs::new(column, self.range.clone(), summary, reader.max_doc())
        }))
    }

    /// AND the segment's matching documents into `words` (one bit per document), when the
    /// range takes or leaves most blocks whole (a time window over documents in time
    /// order: a few words per block, not a value per document). `No`, leaving `words` as
    /// they were, when more than [`MAX_PARTIAL_BLOCKS`] blocks would have to be read value
    /// by value (a count range like `timesSeen:>100`), or when the range holds fewer
    /// documents than a dense term (an hour of a month's segment): an intersection does
    /// those better. `Nothing` when no document of the segment is in the range.
    fn and_into(&self, reader: &SegmentReader, words: &mut [u64]) -> tantivy::Result<Anded> {
        let max_doc = reader.max_doc();
        let Some((column, summary)) = self.opened(reader)? else {
            return Ok(Anded::Nothing);
        };
        let (start, end) = (*self.range.start(), *self.range.end());
        let full = matches!(column.index, ColumnIndex::Full);
        let whole = |(low, high): (T, T)| full && start <= low && high <= end;
        let (mut overlapping, mut partial) = (0, 0);
        for &span in summary.iter().flatten() {
            if overlaps(&self.range, span) {
                overlapping += 1;
                partial += usize::from(!whole(span));
            }
        }
        if overlapping == 0 {
            return Ok(Anded::Nothing);
        }
        // A pass over the words costs about what intersecting a few thousand documents
        // does: a range of fewer documents than a dense term has is intersected instead.
        let few = (overlapping * BLOCK as usize) < (max_doc / crate::term_filter::DENSE) as usize;
        if few || partial > MAX_PARTIAL_BLOCKS {
            return Ok(Anded::No);
        }
        let mut docs = Vec::with_capacity(BLOCK as usize);
        for (block, span) in summary.iter().enumerate() {
            let first = block as u32 * BLOCK;
            let last = (first + BLOCK).min(max_doc);
            let Some(block_words) =
                words.get_mut((first / 64) as usize..last.div_ceil(64) as usize)
            else {
                break;
            };
            match *span {
                Some(span) if whole(span) => {}
                Some(span) if overlaps(&self.range, span) => {
                    docs.clear();
                    column.get_docids_for_value_range(self.range.clone(), first..last, &mut docs);
                    let mut mask = [0u64; (BLOCK / 64) as usize];
                    for &doc in &docs {
                        let at = doc - first;
                        mask[(at / 64) as usize] |= 1 << (at % 64);
                    }
                    block_words.iter_mut().zip(mask).for_each(|(w, m)| *w &= m);
                }
                _ => block_words.fill(0),
            }
        }
        Ok(Anded::Done)
    }
}

/// What [`and_range_into`] did.
pub(crate) enum Anded {
    /// ANDed into the words.
    Done,
    /// No document of the segment is in the range: the conjunction matches nothing.
    Nothing,
    /// Left alone: the range is better intersected as a scorer.
    No,
}

/// Blocks a range may have to read value by value and still be ANDed as a bitset: a time
/// window over documents in time order has one or two per segment.
const MAX_PARTIAL_BLOCKS: usize = 16;

/// Whether `query` is a range of [`fast_range`].
pub(crate) fn is_fast_range(query: &dyn Query) -> bool {
    query.downcast_ref::<FastRangeQuery<DateTime>>().is_some()
        || query.downcast_ref::<FastRangeQuery<u64>>().is_some()
}

/// AND the documents of a range of [`fast_range`] in one segment into `words` (one bit per
/// document), for a conjunction that ANDs its dense terms as bitsets: the range then joins
/// them a word at a time instead of being intersected a document at a time. `No`, with
/// `words` untouched, for any other query or a range better intersected (see `and_into`).
pub(crate) fn and_range_into(
    query: &dyn Query,
    reader: &SegmentReader,
    words: &mut [u64],
) -> tantivy::Result<Anded> {
    if let Some(range) = query.downcast_ref::<FastRangeQuery<DateTime>>() {
        return range.and_into(reader, words);
    }
    match query.downcast_ref::<FastRangeQuery<u64>>() {
        Some(range) => range.and_into(reader, words),
        None => Ok(Anded::No),
    }
}

impl<T: RangeValue> Weight for FastRangeQuery<T> {
    fn scorer(&self, reader: &SegmentReader, boost: Score) -> tantivy::Result<Box<dyn Scorer>> {
        Ok(match self.docs(reader)? {
            Some(docs) => Box::new(ConstScorer::new(docs, boost)),
            None => Box::new(EmptyScorer),
        })
    }

    fn explain(&self, reader: &SegmentReader, doc: DocId) -> tantivy::Result<Explanation> {
        let found = T::column(reader, &self.field)?
            .is_some_and(|c| c.values_for_doc(doc).any(|v| self.range.contains(&v)));
        if found {
            Ok(Explanation::new("in the range", 1.0))
        } else {
            Err(tantivy::TantivyError::InvalidArgument(format!(
                "document {doc} is not in the range"
            )))
        }
    }
}

fn summarise<T: RangeValue>(column: &Column<T>, max_doc: u32) -> Vec<Option<(T, T)>> {
    let full = matches!(column.index, ColumnIndex::Full);
    let mut out = Vec::with_capacity(max_doc.div_ceil(BLOCK) as usize);
    let mut values = vec![T::LOWEST; BLOCK as usize];
    let mut first = 0;
    while first < max_doc {
        let last = (first + BLOCK).min(max_doc);
        let span = if full {
            let values = &mut values[..(last - first) as usize];
            column.values.get_range(u64::from(first), values);
            min_max(values.iter().copied())
        } else {
            min_max((first..last).flat_map(|doc| column.values_for_doc(doc)))
        };
        out.push(span);
        first = last;
    }
    out
}

fn min_max<T: RangeValue>(values: impl Iterator<Item = T>) -> Option<(T, T)> {
    values.fold(None, |span, v| match span {
        None => Some((v, v)),
        Some((low, high)) => Some((
            if v < low { v } else { low },
            if v > high { v } else { high },
        )),
    })
}

/// The matching documents of one segment, found block by block as they are asked for.
struct RangeDocs<T: RangeValue> {
    column: Column<T>,
    range: RangeInclusive<T>,
    summary: Summary<T>,
    full: bool,
    max_doc: u32,
    /// Matches found so far and not yet passed, from `buffer[at]`.
    buffer: Vec<DocId>,
    at: usize,
    /// The first document not yet looked at.
    next: DocId,
    /// At most this many matches: the documents of the blocks the range overlaps.
    estimate: u32,
}

impl<T: RangeValue> RangeDocs<T> {
    fn new(column: Column<T>, range: RangeInclusive<T>, summary: Summary<T>, max_doc: u32) -> Self {
        let estimate = summary
            .iter()
            .enumerate()
            .filter(|(_, span)| span.is_some_and(|s| overlaps(&range, s)))
            .map(|(i, _)| BLOCK.min(max_doc - i as u32 * BLOCK))
            .sum();
        let mut docs = RangeDocs {
            full: matches!(column.index, ColumnIndex::Full),
            column,
            range,
            summary,
            max_doc,
            buffer: Vec::with_capacity(BLOCK as usize),
            at: 0,
            next: 0,
            estimate,
        };
        docs.refill();
        docs
    }

    /// Look at blocks from `next` on until one has a match or the segment ends.
    fn refill(&mut self) {
        self.buffer.clear();
        self.at = 0;
        while self.buffer.is_empty() && self.next < self.max_doc {
            let block = self.next / BLOCK;
            let end = ((block + 1) * BLOCK).min(self.max_doc);
            match self.summary.get(block as usize).copied().flatten() {
                Some(span) if overlaps(&self.range, span) => {
                    let (start, last) = (*self.range.start(), *self.range.end());
                    if self.full && start <= span.0 && span.1 <= last {
                        self.buffer.extend(self.next..end);
                    } else {
                        self.column.get_docids_for_value_range(
                            self.range.clone(),
                            self.next..end,
                            &mut self.buffer,
                        );
                    }
                }
                _ => {}
            }
            self.next = end;
        }
    }

    fn matches(&self, doc: DocId) -> bool {
        self.column
            .values_for_doc(doc)
            .any(|v| self.range.contains(&v))
    }
}

fn overlaps<T: RangeValue>(range: &RangeInclusive<T>, (low, high): (T, T)) -> bool {
    !(high < *range.start() || low > *range.end())
}

impl<T: RangeValue> DocSet for RangeDocs<T> {
    fn advance(&mut self) -> DocId {
        self.at += 1;
        if self.at >= self.buffer.len() {
            self.refill();
        }
        self.doc()
    }

    fn seek(&mut self, target: DocId) -> DocId {
        if self.doc() >= target {
            return self.doc();
        }
        if self.buffer.last().is_some_and(|&last| last >= target) {
            // Galloping: intersections mostly seek a little ahead.
            let rest = &self.buffer[self.at..];
            let mut bound = 1;
            while bound < rest.len() && rest[bound] < target {
                bound *= 2;
            }
            self.at += rest[..bound.min(rest.len())].partition_point(|&d| d < target);
            return self.doc();
        }
        self.next = self.next.max(target);
        self.refill();
        self.doc()
    }

    /// One value read: led by a sparser clause, the range is asked about a document at a
    /// time, and a miss leaves it where it was (allowed: the caller only seeks further).
    fn seek_danger(&mut self, target: DocId) -> SeekDangerResult {
        if target >= self.max_doc {
            return SeekDangerResult::SeekLowerBound(TERMINATED);
        }
        if !self.matches(target) {
            return SeekDangerResult::SeekLowerBound(target + 1);
        }
        self.buffer.clear();
        self.buffer.push(target);
        self.at = 0;
        self.next = target + 1;
        SeekDangerResult::Found
    }

    fn doc(&self) -> DocId {
        self.buffer.get(self.at).copied().unwrap_or(TERMINATED)
    }

    fn size_hint(&self) -> u32 {
        self.estimate
    }

    /// What leading an intersection costs, against the other clauses: walking a range
    /// takes most blocks whole, while being asked one document at a time reads a column
    /// value per candidate (costlier than a bitset's word lookup). So a range leads a
    /// dense term of about its size (a 24 h window of a segment that is mostly that day,
    /// within `kind:event`) instead of checking every one of the term's documents.
    fn cost(&self) -> u64 {
        u64::from(self.estimate) / RANGE_COST_DIVISOR
    }
}

/// See [`RangeDocs::cost`].
const RANGE_COST_DIVISOR: u64 = 2;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Change, DocKind, IndexDoc};
    use std::ops::RangeBounds;
    use tantivy::collector::DocSetCollector;
    use tantivy::query::{BooleanQuery, Occur, TermQuery};
    use tantivy::schema::IndexRecordOption;

    /// Every window over shuffled times finds exactly what a filter over all documents
    /// finds, alone and inside an intersection (where it is asked one document at a time).
    #[test]
    fn ranges_match_a_full_scan_whatever_the_order() {
        let (_dir, mut w) = crate::testing::fresh_writer();
        let t0 = crate::testing::at("2026-01-01T00:00:00Z");
        // Mostly in order, with stragglers far back in time every 97th document.
        let at = |i: i64| {
            if i % 97 == 0 {
                t0 + chrono::Duration::seconds(i % 13)
            } else {
                t0 + chrono::Duration::minutes(i)
            }
        };
        let kind = |i: i64| {
            if i % 7 == 0 {
                DocKind::Issue
            } else {
                DocKind::Event
            }
        };
        for i in 0..3000 {
            let mut d = IndexDoc::new(kind(i), format!("d{i}"), at(i));
            d.times_seen = Some((i % 50) as u64);
            w.apply_all(vec![Change::Put(d)]).unwrap();
        }
        w.commit(None).unwrap();
        let reader = w.reader();
        let searcher = reader.searcher();
        let ms = |t: chrono::DateTime<chrono::Utc>| {
            DateTime::from_timestamp_millis(t.timestamp_millis())
        };
        let issues = || -> Box<dyn Query> {
            Box::new(TermQuery::new(
                tantivy::Term::from_field_text(reader.fields().kind, "issue"),
                IndexRecordOption::Basic,
            ))
        };
        // Alone; intersected one document at a time; and ANDed as a bitset with the dense
        // `kind:issue` (`AllOf`), which must all agree.
        let count = |q: Box<dyn Query>, only_issues: bool| {
            if !only_issues {
                return searcher.search(&q, &DocSetCollector).unwrap().len();
            }
            let dense = crate::term_filter::term_filter(tantivy::Term::from_field_text(
                reader.fields().kind,
                "issue",
            ));
            let anded = crate::all_of::AllOf::new(vec![dense, q.box_clone()], Vec::new());
            let anded = searcher.search(&anded, &DocSetCollector).unwrap().len();
            let q: Box<dyn Query> = Box::new(BooleanQuery::new(vec![
                (Occur::Must, issues()),
                (Occur::Must, q),
            ]));
            let one_by_one = searcher.search(&q, &DocSetCollector).unwrap().len();
            assert_eq!(anded, one_by_one, "as a bitset and one document at a time");
            one_by_one
        };
        for (from, to) in [
            (0, 10),
            (100, 700),
            (511, 513),
            (0, 3000),
            (2990, 5000),
            (-5, 0),
        ] {
            let (lo, hi) = (
                ms(t0 + chrono::Duration::minutes(from)),
                ms(t0 + chrono::Duration::minutes(to)),
            );
            for only_issues in [false, true] {
                let expected = (0..3000)
                    .filter(|&i| !only_issues || kind(i) == DocKind::Issue)
                    .filter(|&i| (lo..hi).contains(&ms(at(i))))
                    .count();
                let found = count(
                    fast_range("timestamp", Bound::Included(lo), Bound::Excluded(hi)),
                    only_issues,
                );
                assert_eq!(
                    found, expected,
                    "[{from}, {to}) minutes, issues only: {only_issues}"
                );
            }
        }
        for (lo, hi) in [
            (Bound::Excluded(40), Bound::Unbounded),
            (Bound::Included(3), Bound::Included(3)),
        ] {
            for only_issues in [false, true] {
                let expected = (0..3000)
                    .filter(|&i| !only_issues || kind(i) == DocKind::Issue)
                    .filter(|&i| (lo, hi).contains(&((i % 50) as u64)))
                    .count();
                let found = count(fast_range("times_seen", lo, hi), only_issues);
                assert_eq!(
                    found, expected,
                    "times_seen {lo:?}..{hi:?}, issues only: {only_issues}"
                );
            }
        }
        assert_eq!(
            count(
                fast_range::<u64>("times_seen", Bound::Excluded(u64::MAX), Bound::Unbounded),
                false
            ),
            0
        );
    }
}
