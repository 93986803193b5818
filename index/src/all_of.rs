//! Conjunctions, with their dense exact terms ANDed as bitsets.
//!
//! `is:unresolved level:error` among issues is three filters that each match a large share
//! of a segment (see [`crate::term_filter`]). Intersected one candidate at a time, they
//! cost a seek per candidate per filter; ANDed a word at a time, a million-document
//! segment costs 16k word operations per filter. The other clauses (free text, ranges,
//! sparse terms, alternatives) then intersect with that one bitset as tantivy does.

use std::sync::Arc;

use tantivy::query::{
    ConstScorer, EmptyScorer, EnableScoring, Exclude, Explanation, PhraseQuery, Query, Scorer,
    Weight, intersect_scorers,
};
use tantivy::{
    COLLECT_BLOCK_BUFFER_LEN, DocId, DocSet, Score, SeekDangerResult, SegmentReader, Term,
};

use crate::range::{Anded, and_range_into, is_fast_range};
use crate::term_filter::{Bits, Density, TermFilter, density};

/// Documents matching every one of `must` and none of `must_not`.
#[derive(Debug)]
pub(crate) struct AllOf {
    must: Vec<Box<dyn Query>>,
    must_not: Vec<Box<dyn Query>>,
}

impl Clone for AllOf {
    fn clone(&self) -> Self {
        AllOf {
            must: self.must.iter().map(|q| q.box_clone()).collect(),
            must_not: self.must_not.iter().map(|q| q.box_clone()).collect(),
        }
    }
}

impl AllOf {
    /// `must` must not be empty: a conjunction of only exclusions would match nothing.
    pub(crate) fn new(must: Vec<Box<dyn Query>>, must_not: Vec<Box<dyn Query>>) -> Self {
        debug_assert!(!must.is_empty());
        AllOf { must, must_not }
    }
}

/// A clause of the conjunction, with the term it filters on if it is an exact term, or
/// the words of its phrase.
struct Clause {
    term: Option<Term>,
    phrase: Option<Vec<Term>>,
    /// The query itself when it is a range of fast values (turned into a bitset).
    range: Option<Box<dyn Query>>,
    weight: Box<dyn Weight>,
}

struct AllOfWeight {
    must: Vec<Clause>,
    must_not: Vec<Clause>,
}

impl Query for AllOf {
    fn weight(&self, scoring: EnableScoring<'_>) -> tantivy::Result<Box<dyn Weight>> {
        let unscored = EnableScoring::disabled_from_schema(scoring.schema());
        let clauses = |queries: &[Box<dyn Query>]| -> tantivy::Result<Vec<Clause>> {
            queries
                .iter()
                .map(|q| {
                    Ok(Clause {
                        term: q.downcast_ref::<TermFilter>().map(|t| t.term().clone()),
                        phrase: q
                            .downcast_ref::<PhraseQuery>()
                            .map(PhraseQuery::phrase_terms),
                        range: is_fast_range(q.as_ref()).then(|| q.box_clone()),
                        weight: q.weight(unscored)?,
                    })
                })
                .collect()
        };
        Ok(Box::new(AllOfWeight {
            must: clauses(&self.must)?,
            must_not: clauses(&self.must_not)?,
        }))
    }

    fn query_terms<'a>(&'a self, visitor: &mut dyn FnMut(&'a Term, bool)) {
        for q in &self.must {
            q.query_terms(visitor);
        }
    }
}

impl Weight for AllOfWeight {
    fn scorer(&self, reader: &SegmentReader, boost: Score) -> tantivy::Result<Box<dyn Scorer>> {
        let max_doc = reader.max_doc();
        let mut words: Option<Vec<u64>> = None;
        let mut scorers: Vec<Box<dyn Scorer>> = Vec::new();
        let mut ranges = Vec::new();
        for clause in &self.must {
            match clause_density(reader, clause)? {
                Density::Absent => return Ok(Box::new(EmptyScorer)),
                Density::Dense(bits) => match &mut words {
                    Some(words) => words.iter_mut().zip(bits.iter()).for_each(|(w, b)| *w &= b),
                    None => words = Some(bits.to_vec()),
                },
                Density::Sparse if clause.range.is_some() => ranges.push(clause),
                Density::Sparse => scorers.push(sparse_scorer(reader, clause, boost)?),
            }
        }
        // With dense terms ANDed already and nothing sparser to lead, a range (a time
        // window) joins them as a bitset too, a few words per block of documents, instead
        // of being intersected a document at a time (a third of counting a day of events
        // by issue). Led by a sparse clause (an issue's events, a word), the range is only
        // asked about that clause's documents, which costs less than a pass over the words.
        let lead = scorers.is_empty();
        for clause in ranges {
            let anded = match (&mut words, &clause.range) {
                (Some(words), Some(range)) if lead => {
                    and_range_into(range.as_ref(), reader, words)?
                }
                _ => Anded::No,
            };
            match anded {
                Anded::Done => {}
                Anded::Nothing => return Ok(Box::new(EmptyScorer)),
                Anded::No => scorers.push(clause.weight.scorer(reader, boost)?),
            }
        }
        let mut excluded: Vec<Box<dyn Scorer>> = Vec::new();
        for clause in &self.must_not {
            match (clause_density(reader, clause)?, &mut words) {
                (Density::Absent, _) => {}
                (Density::Dense(bits), Some(words)) => words
                    .iter_mut()
                    .zip(bits.iter())
                    .for_each(|(w, b)| *w &= !b),
                _ => excluded.push(clause.weight.scorer(reader, boost)?),
            }
        }
        if let Some(words) = words {
            scorers.push(Box::new(ConstScorer::new(
                Bits::new(Arc::new(words), max_doc),
                boost,
            )));
        }
        let all = intersect_scorers(scorers, max_doc);
        if excluded.is_empty() {
            Ok(all)
        } else {
            Ok(Box::new(Exclude::new(all, excluded)))
        }
    }

    fn explain(&self, reader: &SegmentReader, doc: DocId) -> tantivy::Result<Explanation> {
        let mut scorer = self.scorer(reader, 1.0)?;
        if scorer.seek(doc) == doc {
            Ok(Explanation::new("all clauses match", 1.0))
        } else {
            Err(tantivy::TantivyError::InvalidArgument(format!(
                "document {doc} does not match"
            )))
        }
    }
}

/// A clause's scorer. A phrase's cost is re-estimated from its rarest word: tantivy
/// estimates it as if its words were independent, but the words of a phrase people search
/// for come together (`connection reset` in one title), so a phrase of words common among
/// events was taken for rare, led the conjunction and matched positions in every event
/// holding them before `kind:issue` was asked (a third of the issue search's time).
fn sparse_scorer(
    reader: &SegmentReader,
    clause: &Clause,
    boost: Score,
) -> tantivy::Result<Box<dyn Scorer>> {
    let scorer = clause.weight.scorer(reader, boost)?;
    let Some(words) = &clause.phrase else {
        return Ok(scorer);
    };
    let mut rarest = u32::MAX;
    for word in words {
        rarest = rarest.min(reader.inverted_index(word.field())?.doc_freq(word)?);
    }
    // tantivy's own rule for what checking a phrase costs per candidate: ten per word.
    let cost = u64::from(rarest) * 10 * words.len() as u64;
    Ok(Box::new(Costed { scorer, cost }))
}

/// A scorer with a better estimate of what leading an intersection costs.
struct Costed {
    scorer: Box<dyn Scorer>,
    cost: u64,
}

impl DocSet for Costed {
    fn advance(&mut self) -> DocId {
        self.scorer.advance()
    }

    fn seek(&mut self, target: DocId) -> DocId {
        self.scorer.seek(target)
    }

    fn seek_danger(&mut self, target: DocId) -> SeekDangerResult {
        self.scorer.seek_danger(target)
    }

    fn fill_buffer(&mut self, buffer: &mut [DocId; COLLECT_BLOCK_BUFFER_LEN]) -> usize {
        self.scorer.fill_buffer(buffer)
    }

    fn doc(&self) -> DocId {
        self.scorer.doc()
    }

    fn size_hint(&self) -> u32 {
        self.scorer.size_hint()
    }

    fn cost(&self) -> u64 {
        self.cost
    }
}

impl Scorer for Costed {
    fn score(&mut self) -> Score {
        self.scorer.score()
    }
}

fn clause_density(reader: &SegmentReader, clause: &Clause) -> tantivy::Result<Density> {
    match &clause.term {
        Some(term) => density(reader, term),
        None => Ok(Density::Sparse),
    }
}
