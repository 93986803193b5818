//! Conjunctions, with their dense exact terms ANDed as bitsets.
//!
//! `is:unresolved level:error` among issues is three filters that each match a large share
//! of a segment (see [`crate::term_filter`]). Intersected one candidate at a time, they
//! cost a seek per candidate per filter; ANDed a word at a time, a million-document
//! segment costs 16k word operations per filter. The other clauses (free text, ranges,
//! sparse terms, alternatives) then intersect with that one bitset as tantivy does.

use std::sync::Arc;

use tantivy::query::{
    ConstScorer, EmptyScorer, EnableScoring, Exclude, Explanation, Query, Scorer, Weight,
    intersect_scorers,
};
use tantivy::{DocId, DocSet, Score, SegmentReader, Term};

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

/// A clause of the conjunction, with the term it filters on if it is an exact term.
struct Clause {
    term: Option<Term>,
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
        for clause in &self.must {
            match clause_density(reader, clause)? {
                Density::Absent => return Ok(Box::new(EmptyScorer)),
                Density::Dense(bits) => match &mut words {
                    Some(words) => words.iter_mut().zip(bits.iter()).for_each(|(w, b)| *w &= b),
                    None => words = Some(bits.to_vec()),
                },
                Density::Sparse => scorers.push(clause.weight.scorer(reader, boost)?),
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

fn clause_density(reader: &SegmentReader, clause: &Clause) -> tantivy::Result<Density> {
    match &clause.term {
        Some(term) => density(reader, term),
        None => Ok(Density::Sparse),
    }
}
