//! Stored documents lately loaded, kept parsed by their address. A segment never changes,
//! so an address names one document for the segment's whole life: nothing to invalidate,
//! only segments that are gone to forget. Loading one from the store decompresses a block
//! and parses its JSON, a tenth of a `search_errors` call for the 20 issues it shows; the
//! same hot issues come back in call after call during an incident.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use tantivy::DocId;
use tantivy::index::SegmentId;

use crate::IndexDoc;

/// JSON bytes of the documents kept at most, before the cache starts over: a few hundred
/// issues, or fewer events with their stack traces. Small, because a 1M-event pod's memory
/// budget is tight: 2 MiB cost 1.4 MiB of heap after a round of every tool.
const BUDGET_BYTES: usize = 512 << 10;

#[derive(Default)]
struct Loaded {
    docs: HashMap<(SegmentId, DocId), IndexDoc>,
    bytes: usize,
}

static LOADED: Mutex<Option<Loaded>> = Mutex::new(None);

fn lock() -> std::sync::MutexGuard<'static, Option<Loaded>> {
    crate::columns::lock(&LOADED)
}

/// The document at (`segment`, `doc`), if it was loaded lately.
pub(crate) fn get(segment: SegmentId, doc: DocId) -> Option<IndexDoc> {
    lock().as_ref()?.docs.get(&(segment, doc)).cloned()
}

/// Keep `found`, loaded from (`segment`, `doc`), whose stored JSON is `bytes` long.
pub(crate) fn put(segment: SegmentId, doc: DocId, found: &IndexDoc, bytes: usize) {
    if bytes > BUDGET_BYTES / 8 {
        return;
    }
    let mut loaded = lock();
    let loaded = loaded.get_or_insert_with(Loaded::default);
    if loaded.bytes + bytes > BUDGET_BYTES {
        *loaded = Loaded::default();
    }
    if loaded.docs.insert((segment, doc), found.clone()).is_none() {
        loaded.bytes += bytes;
    }
}

/// Forget the documents of segments that are gone (merged away, or deleted by retention).
pub(crate) fn retain(live: &HashSet<SegmentId>) {
    if let Some(loaded) = lock().as_mut() {
        loaded.docs.retain(|(segment, _), _| live.contains(segment));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Change, DocKind};

    /// A document read twice is the same; the next commit's copy of it (a new address) is
    /// what a later read returns; and what is kept stays within the budget.
    #[test]
    fn kept_documents_follow_their_address_and_stay_within_budget() {
        let (_dir, mut w) = crate::testing::fresh_writer();
        let at = crate::testing::at("2026-06-01T12:00:00Z");
        let mut issue = IndexDoc::new(DocKind::Issue, "7", at);
        issue.title = "first title".into();
        w.apply_all(vec![Change::Put(issue.clone())]).unwrap();
        w.commit(Some(1)).unwrap();
        let r = w.reader();
        assert_eq!(
            r.get(DocKind::Issue, "7").unwrap().unwrap().title,
            "first title"
        );
        assert_eq!(
            r.get(DocKind::Issue, "7").unwrap().unwrap().title,
            "first title"
        );
        issue.title = "second title".into();
        issue.version.state_at_ms += 1;
        w.apply_all(vec![Change::Put(issue)]).unwrap();
        w.commit(Some(2)).unwrap();
        let r = w.reader();
        assert_eq!(
            r.get(DocKind::Issue, "7").unwrap().unwrap().title,
            "second title"
        );

        let doc = IndexDoc::new(DocKind::Event, "e", at);
        let segment = SegmentId::generate_random();
        for n in 0..10_000 {
            put(segment, n, &doc, 1_000);
        }
        let kept = lock().as_ref().map_or(0, |l| l.bytes);
        assert!(kept <= BUDGET_BYTES, "{kept} bytes kept");
        assert!(get(segment, 9_999).is_some());
        retain(&HashSet::new());
        assert!(get(segment, 9_999).is_none());
    }
}
