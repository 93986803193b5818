//! The segments' sorted lists walked as one: a collector's per-segment answers (counts by
//! value, issue groups) come sorted by value, and are merged in one pass.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::collections::binary_heap::PeekMut;

/// `visit(key, list, item)` for every item of `lists` (each sorted by `key(list, item)`),
/// in key order; items with equal keys come one after another. The lists' next keys sit in
/// a heap whose top is replaced in place: merges of tens of thousands of values spent most
/// of their time comparing every list's next value at every step.
pub(crate) fn in_key_order<'a, T, K: Ord + Copy>(
    lists: &[&'a [T]],
    key: impl Fn(usize, &'a T) -> K,
    mut visit: impl FnMut(K, usize, &'a T),
) {
    let mut heap: BinaryHeap<Reverse<(K, usize, usize)>> = lists
        .iter()
        .enumerate()
        .filter_map(|(l, list)| Some(Reverse((key(l, list.first()?), l, 0))))
        .collect();
    while let Some(mut next) = heap.peek_mut() {
        let Reverse((k, l, i)) = *next;
        visit(k, l, &lists[l][i]);
        match lists[l].get(i + 1) {
            Some(item) => *next = Reverse((key(l, item), l, i + 1)),
            None => {
                PeekMut::pop(next);
            }
        }
    }
}
