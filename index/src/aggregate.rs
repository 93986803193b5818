//! Aggregations for the pattern tools: counts by a field, time histograms, the first time
//! something was seen. All run on fast (columnar) fields in one pass over the matching
//! documents, with collectors of their own: tantivy's aggregations build and serialize a
//! request tree per call, which cost more than the counting at 1M events.

use chrono::{DateTime, Duration, Utc};
use tantivy::collector::{Collector, SegmentCollector};
use tantivy::columnar::{Column, StrColumn};
use tantivy::{COLLECT_BLOCK_BUFFER_LEN, DocId, Score, SegmentOrdinal, SegmentReader};

use std::cmp::Reverse;
use std::sync::Arc;

use crate::by_ordinal::{Accumulate, ByOrdinal};
use crate::columns::{Rows, Terms, all_values, first_values, for_each_term};
use crate::query::QueryMode;
use crate::search::Scope;
use crate::{IndexReader, Result};

/// What to count documents by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupBy {
    Issue,
    Project,
    Release,
    Environment,
    Level,
    ErrorType,
    Organization,
}

impl GroupBy {
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "issue" | "issue_id" => GroupBy::Issue,
            "project" => GroupBy::Project,
            "release" => GroupBy::Release,
            "environment" => GroupBy::Environment,
            "level" => GroupBy::Level,
            "error.type" | "error_type" | "exception_type" => GroupBy::ErrorType,
            _ => return None,
        })
    }

    fn field(self) -> &'static str {
        match self {
            GroupBy::Issue => "issue_id",
            GroupBy::Project => "project",
            GroupBy::Release => "release",
            GroupBy::Environment => "environment",
            GroupBy::Level => "level",
            GroupBy::ErrorType => "exception_type",
            GroupBy::Organization => "organization",
        }
    }
}

/// A filter for aggregations: a query string in a dialect, within a scope.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub query: String,
    pub mode: QueryMode,
    pub scope: Scope,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bucket {
    pub key: String,
    pub count: u64,
}

/// One bar of a time histogram: documents in `[start, start + interval)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimeBucket {
    pub start: DateTime<Utc>,
    pub count: u64,
}

impl IndexReader {
    /// The `top` most frequent values of `group` among matching documents, with counts
    /// (most first, ties by value), and how many matching documents there are in all.
    /// Exact: every segment's counts are merged before the top is taken.
    pub fn count_by(
        &self,
        filter: &Filter,
        group: GroupBy,
        top: usize,
        now: DateTime<Utc>,
    ) -> Result<(Vec<Bucket>, u64)> {
        let (mut each, total) = self.count_by_each(filter, &[group], top, now)?;
        Ok((each.pop().unwrap_or_default(), total))
    }

    /// [`Self::count_by`] for several groupings of the same documents, in one pass.
    pub fn count_by_each(
        &self,
        filter: &Filter,
        groups: &[GroupBy],
        top: usize,
        now: DateTime<Utc>,
    ) -> Result<(Vec<Vec<Bucket>>, u64)> {
        let searcher = self.searcher();
        let query = self.scoped_query(&searcher, &filter.query, filter.mode, &filter.scope, now)?;
        let collector = CountByTerms {
            fields: groups.iter().map(|g| g.field()).collect(),
            top: top.clamp(1, 10_000),
        };
        let (counts, total) = searcher.search(&query, &collector)?;
        let each = counts
            .into_iter()
            .map(|buckets| {
                buckets
                    .into_iter()
                    .map(|(key, count)| Bucket { key, count })
                    .collect()
            })
            .collect();
        Ok((each, total))
    }

    /// Matching documents per `interval` from `since` to `until` (empty bars included).
    pub fn histogram(
        &self,
        filter: &Filter,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
        interval: Duration,
        now: DateTime<Utc>,
    ) -> Result<Vec<TimeBucket>> {
        let interval_ms = interval.num_milliseconds().max(1000);
        let bars = ((until - since).num_milliseconds() / interval_ms).clamp(1, 10_000);
        let mut filter = filter.clone();
        filter.scope.since = Some(since);
        filter.scope.until = Some(until);
        let searcher = self.searcher();
        let query = self.scoped_query(&searcher, &filter.query, filter.mode, &filter.scope, now)?;
        let counts = searcher.search(
            &query,
            &Histogram {
                start_ms: since.timestamp_millis(),
                interval_ms,
                bars: bars as usize,
            },
        )?;
        // Bars past the end of representable time (a hostile window) are left out.
        Ok(counts
            .into_iter()
            .enumerate()
            .map_while(|(i, count)| {
                let start = Duration::try_milliseconds((i as i64).checked_mul(interval_ms)?)
                    .and_then(|offset| since.checked_add_signed(offset))?;
                Some(TimeBucket { start, count })
            })
            .collect())
    }

    /// The earliest `timestamp` among matching documents (e.g. when a release was first seen).
    pub fn first_seen(&self, filter: &Filter, now: DateTime<Utc>) -> Result<Option<DateTime<Utc>>> {
        let searcher = self.searcher();
        let query = self.scoped_query(&searcher, &filter.query, filter.mode, &filter.scope, now)?;
        let earliest = searcher.search(&query, &Earliest)?;
        Ok(earliest.and_then(DateTime::from_timestamp_millis))
    }
}

/// Matching documents per value of each of some string fast fields, and the matches in
/// all. Per segment the counts are kept by term ordinal ([`ByOrdinal`]); the ordinals that
/// were counted are turned into values in one walk of the dictionary, into one buffer (an issue search counts tens of thousands of issue ids: a string apiece cost
/// more than the counting). Each segment's list comes out sorted by value, so the segments
/// merge in one pass, and only the values of the top buckets become strings.
struct CountByTerms {
    fields: Vec<&'static str>,
    top: usize,
}

struct CountSegment {
    fields: Vec<FieldCounts>,
    total: u64,
}

struct FieldCounts {
    column: Option<StrColumn>,
    decoded: Option<Arc<Terms>>,
    counts: Tallies,
    rows: Rows<u64>,
}

/// A segment's matching documents by value ordinal, a list while they are few (`u32`: a
/// segment holds fewer than 2^31 documents).
type Tallies = ByOrdinal<u32>;

impl Accumulate for u32 {
    type Hit = ();
    const EMPTY: Self = 0;

    fn add(&mut self, (): ()) {
        *self += 1;
    }

    fn is_empty(&self) -> bool {
        *self == 0
    }
}

/// One segment's counts of one field, sorted by value.
enum SegmentCounts {
    /// Every value packed into an integer ([`crate::packed`]), with its count.
    Packed(Vec<(u128, u64)>),
    /// Values back to back in `bytes`, and (start, end, count).
    Bytes {
        bytes: Vec<u8>,
        entries: Vec<(u32, u32, u64)>,
    },
}

impl SegmentCounts {
    fn bytes() -> Self {
        SegmentCounts::Bytes {
            bytes: Vec::new(),
            entries: Vec::new(),
        }
    }

    fn push_bytes(&mut self, value: &[u8], count: u64) {
        if let SegmentCounts::Bytes { bytes, entries } = self {
            let start = bytes.len() as u32;
            bytes.extend_from_slice(value);
            entries.push((start, bytes.len() as u32, count));
        }
    }

    /// The same counts with their values as bytes.
    fn into_bytes(self) -> Self {
        let SegmentCounts::Packed(packed) = self else {
            return self;
        };
        let mut out = SegmentCounts::bytes();
        for (key, count) in packed {
            out.push_bytes(&key.to_be_bytes()[..crate::packed::len(key)], count);
        }
        out
    }
}

impl Collector for CountByTerms {
    /// Per field, the top values with their counts; and the matches in all.
    type Fruit = (Vec<Vec<(String, u64)>>, u64);
    type Child = CountSegment;

    fn for_segment(
        &self,
        _segment: SegmentOrdinal,
        reader: &SegmentReader,
    ) -> tantivy::Result<CountSegment> {
        let mut fields = Vec::with_capacity(self.fields.len());
        for &field in &self.fields {
            let column = crate::columns::text(reader, field)?;
            let terms = column.as_ref().map_or(0, |c| c.dictionary().num_terms());
            fields.push(FieldCounts {
                column,
                decoded: crate::columns::terms(reader, field)?,
                counts: Tallies::new(terms),
                rows: Rows::default(),
            });
        }
        Ok(CountSegment { fields, total: 0 })
    }

    fn requires_scoring(&self) -> bool {
        false
    }

    crate::blocks::collect_in_blocks!();

    fn merge_fruits(&self, fruits: Vec<(Vec<SegmentCounts>, u64)>) -> tantivy::Result<Self::Fruit> {
        let total = fruits.iter().map(|f| f.1).sum();
        let mut by_field: Vec<Vec<SegmentCounts>> =
            (0..self.fields.len()).map(|_| Vec::new()).collect();
        for (fields, _) in fruits {
            for (i, counts) in fields.into_iter().enumerate() {
                by_field[i].push(counts);
            }
        }
        let top = self.top.max(1);
        Ok((
            by_field.into_iter().map(|f| merge_counts(f, top)).collect(),
            total,
        ))
    }
}

/// The segments' sorted lists merged, and the `top` values by count: as integers when
/// every segment's values packed into one, else as bytes.
fn merge_counts(fruits: Vec<SegmentCounts>, top: usize) -> Vec<(String, u64)> {
    if fruits.iter().all(|f| matches!(f, SegmentCounts::Packed(_))) {
        let lists: Vec<Vec<(u128, u64)>> = fruits
            .into_iter()
            .filter_map(|f| match f {
                SegmentCounts::Packed(list) => Some(list),
                SegmentCounts::Bytes { .. } => None,
            })
            .collect();
        return most_first(merge_sorted(&lists), top)
            .into_iter()
            .map(|(key, count)| (crate::packed::unpack(key), count))
            .collect();
    }
    let fruits: Vec<SegmentCounts> = fruits.into_iter().map(SegmentCounts::into_bytes).collect();
    let lists: Vec<Vec<(&[u8], u64)>> = fruits
        .iter()
        .map(|f| match f {
            SegmentCounts::Bytes { bytes, entries } => entries
                .iter()
                .map(|&(start, end, count)| (&bytes[start as usize..end as usize], count))
                .collect(),
            SegmentCounts::Packed(_) => Vec::new(),
        })
        .collect();
    most_first(merge_sorted(&lists), top)
        .into_iter()
        .map(|(value, count)| (String::from_utf8_lossy(value).into_owned(), count))
        .collect()
}

/// Lists sorted by value merged into one, with each value's counts summed.
fn merge_sorted<V: Ord + Copy>(lists: &[Vec<(V, u64)>]) -> Vec<(V, u64)> {
    let mut merged: Vec<(V, u64)> = Vec::with_capacity(lists.iter().map(Vec::len).sum());
    let lists: Vec<&[(V, u64)]> = lists.iter().map(Vec::as_slice).collect();
    crate::merge::in_key_order(
        &lists,
        |_, e| e.0,
        |value, _, &(_, count)| match merged.last_mut() {
            Some(last) if last.0 == value => last.1 += count,
            _ => merged.push((value, count)),
        },
    );
    merged
}

/// The `top` entries of `by_value` (sorted by value) with the highest counts, most first,
/// ties in value order. Counts alone pick them: most values of a wide field tie at a count
/// of 1 or 2, and comparing their strings to break ties was most of a 24 h count by issue.
fn most_first<V>(mut by_value: Vec<(V, u64)>, top: usize) -> Vec<(V, u64)> {
    if by_value.len() > top {
        let mut counts: Vec<u64> = by_value.iter().map(|e| e.1).collect();
        let (_, &mut threshold, _) = counts.select_nth_unstable_by(top - 1, |a, b| b.cmp(a));
        let mut at_threshold = top - by_value.iter().filter(|e| e.1 > threshold).count();
        by_value.retain(|e| {
            e.1 > threshold
                || (e.1 == threshold && at_threshold > 0 && {
                    at_threshold -= 1;
                    true
                })
        });
    }
    // Stable: equal counts stay in value order.
    by_value.sort_by_key(|e| Reverse(e.1));
    by_value
}

impl SegmentCollector for CountSegment {
    type Fruit = (Vec<SegmentCounts>, u64);

    /// A block of one: matches come in blocks ([`crate::blocks::collect_segment`]).
    fn collect(&mut self, doc: DocId, _score: Score) {
        self.collect_block(&[doc]);
    }

    /// A block at a time: each column is read for the whole block at once.
    fn collect_block(&mut self, docs: &[DocId]) {
        for docs in docs.chunks(COLLECT_BLOCK_BUFFER_LEN) {
            self.total += docs.len() as u64;
            for field in &mut self.fields {
                field.add_block(docs);
            }
        }
    }

    fn harvest(self) -> Self::Fruit {
        let fields = self.fields.into_iter().map(FieldCounts::harvest).collect();
        (fields, self.total)
    }
}

impl FieldCounts {
    /// Count a block's values, read for the whole block at once.
    fn add_block(&mut self, docs: &[DocId]) {
        if let Some(column) = &self.column {
            for &ord in all_values(column.ords(), docs, &mut self.rows) {
                self.counts.add(ord, ());
            }
        }
    }

    /// The counted values, as integers when the dictionary's values packed into them.
    fn harvest(self) -> SegmentCounts {
        let Some(column) = &self.column else {
            return SegmentCounts::Packed(Vec::new());
        };
        let counted = self.counts.into_sorted();
        if let Some(keys) = self.decoded.as_deref().and_then(Terms::packed) {
            // Sized first: collected through a filter, the list grew by reallocation.
            let mut packed = Vec::with_capacity(counted.len());
            packed.extend(
                counted
                    .iter()
                    .filter_map(|&(ord, n)| Some((*keys.get(ord as usize)?, u64::from(n)))),
            );
            return SegmentCounts::Packed(packed);
        }
        let ords: Vec<u64> = counted.iter().map(|&(o, _)| o).collect();
        let mut out = SegmentCounts::bytes();
        // Terms come in the order of `ords`, skipping any that did not resolve.
        let mut next = counted.iter();
        for_each_term(column, self.decoded.as_deref(), &ords, |ord, term| {
            if let Some(&(_, n)) = next.find(|&&(o, _)| o == ord) {
                out.push_bytes(term, u64::from(n));
            }
        });
        out
    }
}

/// Matching documents per fixed-width bar of `timestamp`, from `start_ms`.
struct Histogram {
    start_ms: i64,
    interval_ms: i64,
    bars: usize,
}

struct HistogramSegment {
    timestamp: Option<Column<tantivy::DateTime>>,
    start_ms: i64,
    interval_ms: i64,
    counts: Vec<u64>,
}

impl Collector for Histogram {
    type Fruit = Vec<u64>;
    type Child = HistogramSegment;

    fn for_segment(
        &self,
        _segment: SegmentOrdinal,
        reader: &SegmentReader,
    ) -> tantivy::Result<HistogramSegment> {
        Ok(HistogramSegment {
            timestamp: crate::columns::date(reader, "timestamp")?,
            start_ms: self.start_ms,
            interval_ms: self.interval_ms,
            counts: vec![0; self.bars],
        })
    }

    fn requires_scoring(&self) -> bool {
        false
    }

    crate::blocks::collect_in_blocks!();

    fn merge_fruits(&self, fruits: Vec<Vec<u64>>) -> tantivy::Result<Vec<u64>> {
        let mut out = vec![0; self.bars];
        for fruit in fruits {
            for (sum, n) in out.iter_mut().zip(fruit) {
                *sum += n;
            }
        }
        Ok(out)
    }
}

impl HistogramSegment {
    /// Count a document of time `at` in its bar.
    fn add(&mut self, at: Option<tantivy::DateTime>) {
        let Some(at) = at else {
            return;
        };
        let offset = at.into_timestamp_millis().saturating_sub(self.start_ms);
        if offset < 0 {
            return;
        }
        if let Some(n) = self.counts.get_mut((offset / self.interval_ms) as usize) {
            *n += 1;
        }
    }
}

impl SegmentCollector for HistogramSegment {
    type Fruit = Vec<u64>;

    /// A block of one: matches come in blocks ([`crate::blocks::collect_segment`]).
    fn collect(&mut self, doc: DocId, _score: Score) {
        self.collect_block(&[doc]);
    }

    fn collect_block(&mut self, docs: &[DocId]) {
        let mut times = [None; COLLECT_BLOCK_BUFFER_LEN];
        for docs in docs.chunks(COLLECT_BLOCK_BUFFER_LEN) {
            first_values(self.timestamp.as_ref(), docs, &mut times);
            for &at in &times[..docs.len()] {
                self.add(at);
            }
        }
    }

    fn harvest(self) -> Vec<u64> {
        self.counts
    }
}

/// The lowest `timestamp` (ms) among matching documents.
struct Earliest;

impl Collector for Earliest {
    type Fruit = Option<i64>;
    type Child = EarliestSegment;

    fn for_segment(
        &self,
        _segment: SegmentOrdinal,
        reader: &SegmentReader,
    ) -> tantivy::Result<EarliestSegment> {
        Ok(EarliestSegment {
            timestamp: crate::columns::date(reader, "timestamp")?,
            earliest: None,
        })
    }

    fn requires_scoring(&self) -> bool {
        false
    }

    crate::blocks::collect_in_blocks!();

    fn merge_fruits(&self, fruits: Vec<Option<i64>>) -> tantivy::Result<Option<i64>> {
        Ok(fruits.into_iter().flatten().min())
    }
}

struct EarliestSegment {
    timestamp: Option<Column<tantivy::DateTime>>,
    earliest: Option<i64>,
}

impl SegmentCollector for EarliestSegment {
    type Fruit = Option<i64>;

    fn collect(&mut self, doc: DocId, _score: Score) {
        if let Some(at) = self.timestamp.as_ref().and_then(|c| c.first(doc)) {
            let ms = at.into_timestamp_millis();
            self.earliest = Some(self.earliest.map_or(ms, |e| e.min(ms)));
        }
    }

    fn harvest(self) -> Option<i64> {
        self.earliest
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Change, DocKind, IndexDoc, IndexReader};

    /// The list of ordinals and the counters count alike, whenever the switch happens.
    #[test]
    fn sparse_and_dense_tallies_agree() {
        let terms = 1000;
        let ords: Vec<u64> = (0..400u64).map(|i| (i * 7919) % 97 * 3).collect();
        let mut dense = Tallies::Dense(vec![0; terms]);
        let mut switching = Tallies::new(terms);
        let mut sparse = Tallies::new(terms);
        for &o in &ords {
            dense.add(o, ());
            switching.add(o, ());
        }
        for &o in &ords[..200] {
            sparse.add(o, ());
        }
        // Out of the dictionary: ignored by both.
        dense.add(5_000, ());
        switching.add(5_000, ());
        sparse.add(5_000, ());
        assert!(matches!(sparse, Tallies::Sparse { .. }));
        assert!(matches!(switching, Tallies::Dense(_)));
        let dense = dense.into_sorted();
        assert_eq!(switching.into_sorted(), dense);
        assert_eq!(dense.iter().map(|&(_, n)| u64::from(n)).sum::<u64>(), 400);
        let mut expect: Vec<(u64, u32)> = Vec::new();
        let mut first: Vec<u64> = ords[..200].to_vec();
        first.sort();
        for o in first {
            match expect.last_mut() {
                Some((last, n)) if *last == o => *n += 1,
                _ => expect.push((o, 1)),
            }
        }
        assert_eq!(sparse.into_sorted(), expect);
    }

    /// Picking by count, then keeping value order among ties, answers as a full sort by
    /// (count descending, value) does, wherever the top cuts through a run of ties.
    #[test]
    fn most_first_is_a_full_sort_cut_at_top() {
        // Entries in value order (the entry index stands for the value), counts with many
        // ties.
        let by_value: Vec<(usize, u64)> =
            (0..500).map(|i| (i, (i as u64 * 7919) % 13 / 4)).collect();
        for top in [1, 2, 3, 10, 77, 250, 499, 500, 600] {
            let mut expect = by_value.clone();
            expect.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
            expect.truncate(top);
            assert_eq!(most_first(by_value.clone(), top), expect, "top {top}");
        }
    }

    /// Segments' counts merge to the same top, with counts summed across segments and
    /// ties in value order, whether every segment's values packed into integers, some did,
    /// or none did (a value too long to pack).
    #[test]
    fn packed_and_byte_counts_merge_alike() {
        // Values whose byte order differs from their numeric order, with a long one.
        let values: Vec<String> = (0..300u64)
            .map(|i| match i {
                7 => "an-exception-type-longer-than-16".to_owned(),
                _ => (i * 37 % 1000).to_string(),
            })
            .collect();
        let segment = |seed: u64, pack: bool| {
            let mut counted: Vec<(&str, u64)> = values
                .iter()
                .enumerate()
                .filter(|(i, _)| !(*i as u64 + seed).is_multiple_of(3))
                .map(|(i, v)| (v.as_str(), (i as u64 * seed) % 5 + 1))
                .filter(|(v, _)| !pack || crate::packed::pack(v.as_bytes()).is_some())
                .collect();
            counted.sort();
            let mut out = SegmentCounts::bytes();
            for &(v, n) in &counted {
                out.push_bytes(v.as_bytes(), n);
            }
            match pack {
                true => SegmentCounts::Packed(
                    counted
                        .iter()
                        .map(|&(v, n)| (crate::packed::pack(v.as_bytes()).unwrap(), n))
                        .collect(),
                ),
                false => out,
            }
        };
        let expect = |segments: &[(u64, bool)], top: usize| {
            let mut sums: std::collections::BTreeMap<String, u64> = Default::default();
            for &(seed, pack) in segments {
                let SegmentCounts::Bytes { bytes, entries } = segment(seed, pack).into_bytes()
                else {
                    unreachable!()
                };
                for (start, end, n) in entries {
                    let value = String::from_utf8(bytes[start as usize..end as usize].to_vec());
                    *sums.entry(value.unwrap()).or_default() += n;
                }
            }
            let mut all: Vec<(String, u64)> = sums.into_iter().collect();
            all.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
            all.truncate(top);
            all
        };
        for segments in [
            vec![(1, true), (2, true), (5, true)],
            vec![(1, true), (2, false), (5, true)],
            vec![(1, false), (2, false)],
            vec![(4, true)],
            vec![],
        ] {
            for top in [1, 5, 40, 1000] {
                let fruits = segments.iter().map(|&(s, p)| segment(s, p)).collect();
                assert_eq!(
                    merge_counts(fruits, top),
                    expect(&segments, top),
                    "{segments:?} top {top}"
                );
            }
        }
    }

    fn event(id: &str, issue: &str, release: &str, at: DateTime<Utc>) -> Change {
        let mut d = IndexDoc::new(DocKind::Event, id, at);
        d.issue_id = Some(issue.into());
        d.release = Some(release.into());
        d.project = Some("web".into());
        Change::Put(d)
    }

    /// Events copied from the Sentry API are kept, and left out of counts of delivered
    /// events; the delivered copy of one takes its place and counts, and a fetched copy
    /// never displaces a delivered one.
    #[test]
    fn fetched_events_are_kept_but_not_counted() {
        let (_dir, mut w) = crate::testing::fresh_writer();
        let t0 = crate::testing::at("2026-01-01T00:00:00Z");
        let fetched = |id: &str| {
            let Change::Put(mut d) = event(id, "a", "1.0", t0) else {
                unreachable!()
            };
            d.fetched = true;
            d.source = "sentry_api.fetched".into();
            // Stamped with the time of the request: later than any delivery.
            d.version.sent_at_ms = (t0 + Duration::hours(1)).timestamp_millis();
            Change::Put(d)
        };
        let observed = |id: &str| {
            let mut issue = IndexDoc::new(DocKind::Issue, "a", t0);
            issue.issue_id = Some("a".into());
            vec![event(id, "a", "1.0", t0), Change::Observe(issue)]
        };
        w.apply_all(observed("delivered")).unwrap();
        w.apply_all(vec![fetched("f1"), fetched("f2"), fetched("delivered")])
            .unwrap();
        w.commit(None).unwrap();
        let r = w.reader();
        let all = Filter {
            mode: QueryMode::Events,
            scope: crate::Scope {
                kinds: vec![DocKind::Event],
                delivered_only: true,
                ..Default::default()
            },
            ..Default::default()
        };
        let count = |r: &IndexReader| r.count_by(&all, GroupBy::Issue, 10, t0).unwrap().1;
        let bars = |r: &IndexReader| {
            r.histogram(&all, t0, t0 + Duration::hours(1), Duration::hours(1), t0)
                .unwrap()[0]
                .count
        };
        let grouped = |r: &IndexReader| r.issue_groups("", &all.scope, 0, t0).unwrap().total_events;
        assert_eq!((count(&r), bars(&r), grouped(&r)), (1, 1, 1));
        let f1 = r
            .get(DocKind::Event, "f1")
            .unwrap()
            .expect("a fetched event is kept");
        assert!(f1.fetched);
        let delivered = r.get(DocKind::Event, "delivered").unwrap().unwrap();
        assert!(
            !delivered.fetched,
            "the fetched copy did not displace the delivered one"
        );

        // f1 is delivered after all: it replaces its fetched copy and counts. Not in its
        // issue's times seen: the issue state fetched with it (Sentry's count) has it.
        w.apply_all(observed("f1")).unwrap();
        w.apply_all(observed("f1")).unwrap();
        w.commit(None).unwrap();
        let r = w.reader();
        assert_eq!((count(&r), bars(&r), grouped(&r)), (2, 2, 2));
        assert!(!r.get(DocKind::Event, "f1").unwrap().unwrap().fetched);
        let issue = r.get(DocKind::Issue, "a").unwrap().unwrap();
        assert_eq!(issue.times_seen, Some(1));
    }

    #[test]
    fn counts_histograms_and_first_seen_on_fast_fields() {
        let (_dir, mut w) = crate::testing::fresh_writer();
        let t0 = crate::testing::at("2026-01-01T00:00:00Z");
        for i in 0..6 {
            let issue = if i < 4 { "a" } else { "b" };
            let release = if i < 3 { "1.0" } else { "2.0" };
            w.apply_all(vec![event(
                &format!("e{i}"),
                issue,
                release,
                t0 + Duration::minutes(30 * i),
            )])
            .unwrap();
        }
        w.commit(None).unwrap();
        let r = w.reader();
        let all = Filter {
            mode: QueryMode::Events,
            ..Default::default()
        };
        let (buckets, total) = r.count_by(&all, GroupBy::Issue, 10, t0).unwrap();
        assert_eq!(total, 6);
        assert_eq!(
            buckets,
            vec![
                Bucket {
                    key: "a".into(),
                    count: 4
                },
                Bucket {
                    key: "b".into(),
                    count: 2
                }
            ]
        );
        let bars = r
            .histogram(&all, t0, t0 + Duration::hours(3), Duration::hours(1), t0)
            .unwrap();
        assert_eq!(
            bars.iter().map(|b| b.count).collect::<Vec<_>>(),
            vec![2, 2, 2]
        );
        assert_eq!(bars[1].start, t0 + Duration::hours(1));
        // Bars start where the window starts, not on round hours.
        let since =
            t0 + Duration::minutes(7) + Duration::milliseconds(3) + Duration::nanoseconds(466_001);
        let bars = r
            .histogram(
                &all,
                since,
                since + Duration::hours(2),
                Duration::hours(1),
                t0,
            )
            .unwrap();
        assert_eq!(
            bars.iter().map(|b| b.count).collect::<Vec<_>>(),
            vec![2, 2],
            "e1,e2 then e3,e4"
        );
        assert_eq!(bars[0].start, since);
        // Bucket keys come back as f64 milliseconds; every offset must land in its bar.
        for ms in 0..300 {
            let since =
                t0 + Duration::minutes(7) + Duration::milliseconds(ms) + Duration::nanoseconds(1);
            let bars = r
                .histogram(
                    &all,
                    since,
                    since + Duration::hours(2),
                    Duration::minutes(10),
                    t0,
                )
                .unwrap();
            assert_eq!(
                bars.iter().map(|b| b.count).sum::<u64>(),
                4,
                "window starting {since}"
            );
        }
        let release2 = Filter {
            query: "release:2.0".into(),
            mode: QueryMode::Events,
            ..Default::default()
        };
        assert_eq!(
            r.first_seen(&release2, t0).unwrap(),
            Some(t0 + Duration::minutes(90))
        );
        let none = Filter {
            query: "release:9.9".into(),
            mode: QueryMode::Events,
            ..Default::default()
        };
        assert_eq!(r.first_seen(&none, t0).unwrap(), None);
    }
}
