//! Exact-term filters (`kind:event`, `level:error`, `environment:production`), with the
//! common terms kept as bitsets.
//!
//! Filters of the index's own dimensions match a large share of a segment: half of a
//! million documents are `level:error`. Intersecting such a posting list means decoding a
//! block of it for nearly every candidate. A term matching at least 1/[`DENSE`] of a
//! segment is turned into a bitset once (segments never change) and then answers a seek
//! with a word lookup; rarer terms keep their posting lists, which are cheap to walk.

use std::sync::Arc;

use tantivy::query::{
    ConstScorer, EmptyScorer, EnableScoring, Explanation, Query, Scorer, TermQuery, Weight,
};
use tantivy::schema::IndexRecordOption;
use tantivy::{DocId, DocSet, Score, SegmentReader, TERMINATED, Term};

use crate::columns::SegmentCache;

/// A term is dense when it matches at least one document in this many.
pub(crate) const DENSE: u32 = 32;

/// Bitsets kept per segment at most: 16 of a million-document segment take 2 MiB.
const MAX_PER_SEGMENT: usize = 16;

pub(crate) static BITSETS: SegmentCache<Arc<Vec<u64>>> = SegmentCache::new();

/// Documents that have exactly `term`.
pub(crate) fn term_filter(term: Term) -> Box<dyn Query> {
    Box::new(TermFilter { term })
}

#[derive(Debug, Clone)]
pub(crate) struct TermFilter {
    term: Term,
}

impl TermFilter {
    pub(crate) fn term(&self) -> &Term {
        &self.term
    }
}

/// How a term's documents are best read in one segment.
pub(crate) enum Density {
    /// No document has it.
    Absent,
    /// As a bitset (one bit per document of the segment).
    Dense(Arc<Vec<u64>>),
    /// From its posting list.
    Sparse,
}

pub(crate) fn density(reader: &SegmentReader, term: &Term) -> tantivy::Result<Density> {
    let inverted = reader.inverted_index(term.field())?;
    let Some(info) = inverted.get_term_info(term)? else {
        return Ok(Density::Absent);
    };
    let max_doc = reader.max_doc();
    if info.doc_freq < max_doc / DENSE {
        return Ok(Density::Sparse);
    }
    let key = format!(
        "{}={}",
        term.field().field_id(),
        String::from_utf8_lossy(term.serialized_value_bytes())
    );
    if let Some(bits) = BITSETS.peek(reader, &key) {
        return Ok(Density::Dense(bits));
    }
    if BITSETS.len_for(reader) >= MAX_PER_SEGMENT {
        return Ok(Density::Sparse);
    }
    let bits = BITSETS.get(reader, &key, || {
        let mut words = vec![0u64; max_doc.div_ceil(64) as usize];
        if let Some(mut docs) = inverted.read_postings(term, IndexRecordOption::Basic)? {
            let mut doc = docs.doc();
            while doc != TERMINATED {
                words[(doc / 64) as usize] |= 1 << (doc % 64);
                doc = docs.advance();
            }
        }
        Ok(Arc::new(words))
    })?;
    Ok(Density::Dense(bits))
}

impl Query for TermFilter {
    fn weight(&self, scoring: EnableScoring<'_>) -> tantivy::Result<Box<dyn Weight>> {
        let postings = TermQuery::new(self.term.clone(), IndexRecordOption::Basic)
            .weight(EnableScoring::disabled_from_schema(scoring.schema()))?;
        Ok(Box::new(TermFilterWeight {
            term: self.term.clone(),
            postings,
        }))
    }

    fn query_terms<'a>(&'a self, visitor: &mut dyn FnMut(&'a Term, bool)) {
        visitor(&self.term, false);
    }
}

struct TermFilterWeight {
    term: Term,
    postings: Box<dyn Weight>,
}

impl Weight for TermFilterWeight {
    fn scorer(&self, reader: &SegmentReader, boost: Score) -> tantivy::Result<Box<dyn Scorer>> {
        Ok(match density(reader, &self.term)? {
            Density::Absent => Box::new(EmptyScorer),
            Density::Dense(bits) => {
                Box::new(ConstScorer::new(Bits::new(bits, reader.max_doc()), boost))
            }
            Density::Sparse => self.postings.scorer(reader, boost)?,
        })
    }

    fn explain(&self, reader: &SegmentReader, doc: DocId) -> tantivy::Result<Explanation> {
        self.postings.explain(reader, doc)
    }
}

/// The documents of a bitset, ascending.
pub(crate) struct Bits {
    words: Arc<Vec<u64>>,
    max_doc: u32,
    len: u32,
    doc: DocId,
}

impl Bits {
    pub(crate) fn new(words: Arc<Vec<u64>>, max_doc: u32) -> Self {
        let len = words.iter().map(|w| w.count_ones()).sum();
        let mut bits = Bits {
            words,
            max_doc,
            len,
            doc: 0,
        };
        bits.doc = bits.next_from(0);
        bits
    }

    /// The first document at or after `from`.
    fn next_from(&self, from: DocId) -> DocId {
        if from >= self.max_doc {
            return TERMINATED;
        }
        let mut at = (from / 64) as usize;
        let mut word = self.words[at] & (u64::MAX << (from % 64));
        loop {
            if word != 0 {
                let doc = at as u32 * 64 + word.trailing_zeros();
                return if doc < self.max_doc { doc } else { TERMINATED };
            }
            at += 1;
            match self.words.get(at) {
                Some(&w) => word = w,
                None => return TERMINATED,
            }
        }
    }
}

impl DocSet for Bits {
    fn advance(&mut self) -> DocId {
        self.doc = self.next_from(self.doc.saturating_add(1));
        self.doc
    }

    fn seek(&mut self, target: DocId) -> DocId {
        if target > self.doc {
            self.doc = self.next_from(target);
        }
        self.doc
    }

    fn doc(&self) -> DocId {
        self.doc
    }

    fn size_hint(&self) -> u32 {
        self.len
    }
}
