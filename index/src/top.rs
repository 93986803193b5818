//! The top hits of a result page and the count of all matches, in one pass over the
//! matching documents' fast fields.
//!
//! Pages are ordered by (sort value descending, key ascending). Within a segment key
//! ordinals sort as the keys do, so a segment keeps its best hits by (value, ordinal).
//! Keys are looked up only where they decide the order, between segments at equal values:
//! each lookup decompresses a block of a million-term dictionary, which cost more than the
//! whole search (tantivy's string sort looks up every segment's top hits). The page's own
//! keys come from its loaded documents. After a cursor, each segment turns the cursor's
//! key into an ordinal bound once, so the page after it costs one pass too.

use tantivy::collector::{Collector, SegmentCollector};
use tantivy::columnar::{Column, StrColumn, TermOrdHit};
use tantivy::{COLLECT_BLOCK_BUFFER_LEN, DocAddress, DocId, Score, SegmentOrdinal, SegmentReader};

use crate::columns::first_values;

/// Where the previous page ended: documents at or after it are skipped.
#[derive(Debug, Clone)]
pub(crate) struct After {
    pub value: i64,
    pub key: String,
}

/// The sort value's column: dates in milliseconds, counts clamped into `i64`.
#[derive(Debug, Clone, Copy)]
pub(crate) enum ValueColumn {
    Date,
    Count,
}

pub(crate) struct TopByValueThenKey {
    pub field: &'static str,
    pub column: ValueColumn,
    pub limit: usize,
    pub after: Option<After>,
    /// The string fast field ties are ordered by (`key`, or `issue_id` among issues).
    pub key_field: &'static str,
    /// Look up every hit's key (when the caller needs them before loading documents).
    pub all_keys: bool,
}

/// All matches counted, and the best `limit` as (value, key if looked up, address), best
/// first.
pub(crate) type TopFruit = (usize, Vec<(i64, Option<String>, DocAddress)>);

/// One segment's best hits, with its key column for the lookups the merge needs.
pub(crate) struct SegmentFruit {
    count: usize,
    hits: Vec<(i64, Option<String>, DocAddress, u64)>,
    keys: Option<StrColumn>,
}

enum Values {
    Date(Column<tantivy::DateTime>),
    Count(Column<u64>),
    Missing,
}

impl Values {
    /// The sort values of a block of documents, read in one batch. Documents without a
    /// value sort after every dated or counted one.
    fn block(&self, docs: &[DocId], out: &mut [i64; COLLECT_BLOCK_BUFFER_LEN]) {
        match self {
            Values::Date(c) => read_block(c, docs, out, |d| {
                d.map_or(i64::MIN, |d| d.into_timestamp_millis())
            }),
            Values::Count(c) => read_block(c, docs, out, |n| {
                n.map_or(0, |n| n.min(i64::MAX as u64) as i64)
            }),
            Values::Missing => out.fill(i64::MIN),
        }
    }
}

/// `column`'s first value of each of `docs`, as a sort value.
fn read_block<T>(
    column: &Column<T>,
    docs: &[DocId],
    out: &mut [i64; COLLECT_BLOCK_BUFFER_LEN],
    sort_value: impl Fn(Option<T>) -> i64,
) where
    T: PartialOrd + Copy + std::fmt::Debug + Send + Sync + 'static,
{
    let mut read = [None; COLLECT_BLOCK_BUFFER_LEN];
    first_values(Some(column), docs, &mut read);
    for (v, r) in out.iter_mut().zip(&read[..docs.len()]) {
        *v = sort_value(*r);
    }
}

/// One kept hit, ordered best first (highest value, then lowest key ordinal).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Hit {
    value: i64,
    ord: u64,
    doc: DocId,
}

impl Ord for Hit {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        other
            .value
            .cmp(&self.value)
            .then(self.ord.cmp(&other.ord))
            .then(self.doc.cmp(&other.doc))
    }
}

impl PartialOrd for Hit {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

pub(crate) struct TopSegment {
    segment: SegmentOrdinal,
    decoded: Option<std::sync::Arc<crate::columns::Terms>>,
    all_keys: bool,
    values: Values,
    keys: Option<StrColumn>,
    limit: usize,
    /// After a cursor: skip values above it, and at its value keys up to it (ordinals
    /// below this bound).
    after: Option<(i64, u64)>,
    /// Hits that may make the page, in no order, cut back to the best `limit` whenever
    /// they reach twice that. Issues are rewritten as they are seen, so a segment's matches
    /// mostly come in ascending order: a heap replaced its top at nearly every match.
    kept: Vec<Hit>,
    /// The worst hit the last cut kept: a hit no better cannot make the page.
    floor: Option<Hit>,
    count: usize,
}

impl TopSegment {
    /// Keep the best `limit` of `kept`; the worst of them becomes the floor.
    fn cut(&mut self) {
        if self.kept.len() > self.limit {
            self.kept.select_nth_unstable(self.limit - 1);
            self.kept.truncate(self.limit);
            self.floor = Some(self.kept[self.limit - 1]);
        }
    }
}

impl Collector for TopByValueThenKey {
    type Fruit = TopFruit;
    type Child = TopSegment;

    fn for_segment(
        &self,
        segment: SegmentOrdinal,
        reader: &SegmentReader,
    ) -> tantivy::Result<TopSegment> {
        let values = match self.column {
            ValueColumn::Date => crate::columns::date(reader, self.field)?.map(Values::Date),
            ValueColumn::Count => crate::columns::count(reader, self.field)?.map(Values::Count),
        }
        .unwrap_or(Values::Missing);
        let keys = crate::columns::text(reader, self.key_field)?;
        let after = match (&self.after, &keys) {
            (Some(a), Some(keys)) => {
                let first_after = match keys.dictionary().term_ord_or_next(&a.key)? {
                    TermOrdHit::Exact(ord) => ord + 1,
                    TermOrdHit::Next(ord) => ord,
                };
                Some((a.value, first_after))
            }
            (Some(a), None) => Some((a.value, u64::MAX)),
            (None, _) => None,
        };
        Ok(TopSegment {
            segment,
            decoded: if self.all_keys {
                crate::columns::terms(reader, self.key_field)?
            } else {
                None
            },
            all_keys: self.all_keys,
            values,
            keys,
            limit: self.limit.max(1),
            after,
            kept: Vec::with_capacity(2 * self.limit.max(1)),
            floor: None,
            count: 0,
        })
    }

    fn requires_scoring(&self) -> bool {
        false
    }

    crate::blocks::collect_in_blocks!();

    fn merge_fruits(&self, fruits: Vec<SegmentFruit>) -> tantivy::Result<TopFruit> {
        let limit = self.limit.max(1);
        let count = fruits.iter().map(|f| f.count).sum();
        let mut columns = Vec::with_capacity(fruits.len());
        let mut hits = Vec::new();
        for fruit in fruits {
            hits.extend(fruit.hits);
            columns.push(fruit.keys);
        }
        // By value, then segment and ordinal: right within a segment, and between
        // segments wherever their values differ.
        hits.sort_by(|a, b| {
            b.0.cmp(&a.0)
                .then(a.2.segment_ord.cmp(&b.2.segment_ord))
                .then(a.3.cmp(&b.3))
        });
        // Runs of equal value from several segments, reaching into the page, get their
        // keys looked up and are ordered by them.
        let mut start = 0;
        while start < hits.len().min(limit) {
            let value = hits[start].0;
            let end = start + hits[start..].partition_point(|h| h.0 == value);
            let segment = hits[start].2.segment_ord;
            if hits[start..end].iter().any(|h| h.2.segment_ord != segment) {
                for hit in &mut hits[start..end] {
                    if hit.1.is_none() {
                        let column = columns
                            .get(hit.2.segment_ord as usize)
                            .and_then(Option::as_ref);
                        hit.1 = column.and_then(|c| key_of(c, hit.3));
                    }
                }
                hits[start..end].sort_by(|a, b| a.1.cmp(&b.1));
            }
            start = end;
        }
        hits.truncate(limit);
        Ok((
            count,
            hits.into_iter()
                .map(|(v, key, addr, _)| (v, key, addr))
                .collect(),
        ))
    }
}

fn key_of(column: &StrColumn, ord: u64) -> Option<String> {
    let mut bytes = Vec::new();
    match column.dictionary().ord_to_term(ord, &mut bytes) {
        Ok(true) => String::from_utf8(bytes).ok(),
        _ => None,
    }
}

impl SegmentCollector for TopSegment {
    type Fruit = SegmentFruit;

    /// A block of one: matches come in blocks ([`crate::blocks::collect_segment`]).
    fn collect(&mut self, doc: DocId, _score: Score) {
        self.collect_block(&[doc]);
    }

    /// Sort values are read a block at a time; a key only for a hit that may make the page.
    fn collect_block(&mut self, docs: &[DocId]) {
        let mut values = [0i64; COLLECT_BLOCK_BUFFER_LEN];
        for docs in docs.chunks(COLLECT_BLOCK_BUFFER_LEN) {
            self.count += docs.len();
            self.values.block(docs, &mut values);
            for (&doc, &value) in docs.iter().zip(&values) {
                if self.floor.is_some_and(|f| value < f.value) {
                    continue;
                }
                let ord = self
                    .keys
                    .as_ref()
                    .and_then(|k| k.ords().first(doc))
                    .unwrap_or(u64::MAX);
                if let Some((after_value, first_ord)) = self.after
                    && (value > after_value || (value == after_value && ord < first_ord))
                {
                    continue;
                }
                let hit = Hit { value, ord, doc };
                if self.floor.is_some_and(|f| hit >= f) {
                    continue;
                }
                self.kept.push(hit);
                if self.kept.len() >= 2 * self.limit {
                    self.cut();
                }
            }
        }
    }

    fn harvest(mut self) -> SegmentFruit {
        self.cut();
        let mut hits = std::mem::take(&mut self.kept);
        hits.sort_by_key(|h| h.ord);
        let mut keys: Vec<Option<String>> = vec![None; hits.len()];
        if self.all_keys
            && let Some(column) = &self.keys
        {
            let mut ords: Vec<u64> = hits
                .iter()
                .map(|h| h.ord)
                .filter(|&o| o != u64::MAX)
                .collect();
            ords.dedup();
            let mut resolved = Vec::with_capacity(ords.len());
            crate::columns::for_each_term(column, self.decoded.as_deref(), &ords, |ord, bytes| {
                resolved.push((ord, String::from_utf8_lossy(bytes).into_owned()));
            });
            for (key, hit) in keys.iter_mut().zip(&hits) {
                if let Ok(i) = resolved.binary_search_by_key(&hit.ord, |(o, _)| *o) {
                    *key = Some(resolved[i].1.clone());
                }
            }
        }
        let segment = self.segment;
        SegmentFruit {
            count: self.count,
            hits: hits
                .into_iter()
                .zip(keys)
                .map(|(h, key)| (h.value, key, DocAddress::new(segment, h.doc), h.ord))
                .collect(),
            keys: self.keys,
        }
    }
}
