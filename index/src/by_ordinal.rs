//! What the matching documents add up to per term ordinal of one segment's string column
//! (events and times per issue, documents per value), for the collectors of `groups` and
//! `aggregate`.
//!
//! Most searches match a few thousand events of a dictionary of 50k issue ids: zeroing a
//! slot per ordinal up front, in every segment, and scanning them all at harvest cost more
//! than the counting. So the hits are kept as a list and sorted at harvest while they are
//! few, and folded into a slot per ordinal once they pass a quarter of the dictionary.

/// A per-ordinal total: what an empty one is, and what one matching document adds.
pub(crate) trait Accumulate: Copy {
    /// What a document brings (its time, or nothing).
    type Hit: Copy;
    const EMPTY: Self;
    fn add(&mut self, hit: Self::Hit);
    fn is_empty(&self) -> bool;
}

pub(crate) enum ByOrdinal<A: Accumulate> {
    Sparse {
        hits: Vec<(u64, A::Hit)>,
        terms: usize,
    },
    Dense(Vec<A>),
}

impl<A: Accumulate> ByOrdinal<A> {
    /// Empty, for a dictionary of `terms` values.
    pub(crate) fn new(terms: usize) -> Self {
        ByOrdinal::Sparse {
            hits: Vec::new(),
            terms,
        }
    }

    /// Add a document with value `ord` (ordinals outside the dictionary are ignored).
    /// Inlined: it runs once per matching document and value.
    #[inline]
    pub(crate) fn add(&mut self, ord: u64, hit: A::Hit) {
        match self {
            ByOrdinal::Dense(slots) => {
                if let Some(slot) = slots.get_mut(ord as usize) {
                    slot.add(hit);
                }
            }
            ByOrdinal::Sparse { hits, terms } => {
                if ord as usize >= *terms {
                    return;
                }
                hits.push((ord, hit));
                if hits.len() > *terms / 4 {
                    // Folded here, not through `add`: a recursive `add` is not inlined into
                    // the collectors' per-document loops.
                    let mut slots = vec![A::EMPTY; *terms];
                    for &(ord, hit) in hits.iter() {
                        if let Some(slot) = slots.get_mut(ord as usize) {
                            slot.add(hit);
                        }
                    }
                    *self = ByOrdinal::Dense(slots);
                }
            }
        }
    }

    /// `(ordinal, total)` of every value seen, by ordinal.
    pub(crate) fn into_sorted(self) -> Vec<(u64, A)> {
        match self {
            ByOrdinal::Dense(slots) => {
                // Sized first: grown a value at a time, the list was copied over and over.
                let mut out = Vec::with_capacity(slots.iter().filter(|a| !a.is_empty()).count());
                out.extend((0u64..).zip(slots).filter(|(_, a)| !a.is_empty()));
                out
            }
            ByOrdinal::Sparse { mut hits, .. } => {
                hits.sort_unstable_by_key(|&(ord, _)| ord);
                let mut out: Vec<(u64, A)> = Vec::new();
                for (ord, hit) in hits {
                    match out.last_mut() {
                        Some((last, a)) if *last == ord => a.add(hit),
                        _ => {
                            let mut a = A::EMPTY;
                            a.add(hit);
                            out.push((ord, a));
                        }
                    }
                }
                out
            }
        }
    }
}
