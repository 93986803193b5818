//! Webhook normalisation (`sentry_mcp_ingest::normalise`) with arbitrary resource names,
//! headers and bodies, and what it returns applied as the index would apply it.
//!
//! Input: one or more deliveries separated by a line holding one NUL byte (`\n\0\n`). Each
//! delivery is a header line `resource[\tSentry-Hook-Timestamp[\treceived_at_ms]]` and the
//! body after it, so a fixture file is a seed as `issue\n` + its bytes.
//!
//! Checked: no panic anywhere; `check_timestamp` answers; the changes apply ("newer state
//! wins") in order and applying a delivery twice changes nothing (duplicates are harmless);
//! every document survives its stored-JSON round trip, maps to a tantivy document and
//! summarises; every 8th delivery that normalises also goes through a real `IndexWriter`
//! (committed every 64, searched after each commit, started afresh every 4096).

#![no_main]

use std::collections::HashMap;
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use libfuzzer_sys::fuzz_target;
use sentry_mcp_index::schema::Fields;
use sentry_mcp_index::{Change, DocKind, IndexDoc, IndexWriter, SearchRequest, WriterOptions};
use sentry_mcp_ingest::{Delivery, check_timestamp, normalise};

struct Real {
    _dir: tempfile::TempDir,
    writer: IndexWriter,
    applied: u64,
}

static REAL: Mutex<Option<Real>> = Mutex::new(None);
static DELIVERIES: Mutex<u64> = Mutex::new(0);

fn now() -> DateTime<Utc> {
    DateTime::from_timestamp(1_760_000_000, 0).unwrap()
}

fn fields() -> &'static Fields {
    static FIELDS: std::sync::OnceLock<Fields> = std::sync::OnceLock::new();
    FIELDS.get_or_init(Fields::new)
}

/// Apply `changes` to `docs` as `IndexWriter::apply_all` does.
fn apply(docs: &mut HashMap<String, IndexDoc>, changes: &[Change]) {
    let mut new_event = false;
    for change in changes {
        let is_event = matches!(change, Change::Put(d) if d.kind == DocKind::Event);
        let key = change.key();
        let stored = docs.get(&key);
        let was_new = stored.is_none();
        if let Some(doc) = change.clone().apply(stored, new_event) {
            assert_eq!(
                doc.key(),
                key,
                "a change produced a document of another key"
            );
            docs.insert(key, doc);
        }
        if is_event {
            new_event = was_new;
        }
    }
}

fn check_doc(doc: &IndexDoc) {
    let json = serde_json::to_string(doc).expect("document serialises");
    let back: IndexDoc = serde_json::from_str(&json)
        .unwrap_or_else(|e| panic!("stored document does not read back ({e}): {json}"));
    assert_eq!(&back, doc, "stored document round trip changed it");
    let _ = fields().to_tantivy(doc);
    let _ = doc.summary();
}

fn real_index(changes: &[Change]) {
    let mut real = REAL.lock().unwrap_or_else(|e| e.into_inner());
    if real.as_ref().is_some_and(|r| r.applied >= 4096) {
        *real = None;
    }
    let r = real.get_or_insert_with(|| {
        let dir = tempfile::Builder::new()
            .prefix("normalise-fuzz")
            .tempdir_in("/dev/shm")
            .or_else(|_| tempfile::tempdir())
            .unwrap();
        let options = WriterOptions {
            memory_budget_bytes: 20 * 1024 * 1024,
        };
        let writer = IndexWriter::open(dir.path(), &options).expect("open index writer");
        Real {
            _dir: dir,
            writer,
            applied: 0,
        }
    });
    r.writer
        .apply_all(changes.to_vec())
        .unwrap_or_else(|e| panic!("the index refused normalised changes: {e}"));
    r.applied += 1;
    if r.applied.is_multiple_of(64) {
        r.writer.commit(Some(r.applied)).expect("commit");
        let reader = r.writer.reader();
        for change in changes {
            if let Change::Put(doc) | Change::Observe(doc) = change {
                let found = reader.get(doc.kind, &doc.id).expect("get");
                assert!(
                    found.is_some(),
                    "committed document {} not found",
                    doc.key()
                );
            }
        }
        let request = SearchRequest {
            limit: 5,
            ..Default::default()
        };
        reader.search_page(&request, now()).expect("search_page");
    }
}

fn one(header: &[u8], body: &[u8], docs: &mut HashMap<String, IndexDoc>) {
    let header = String::from_utf8_lossy(header);
    let mut parts = header.split('\t');
    let resource = parts.next().unwrap_or_default().to_owned();
    let timestamp = parts.next();
    let received_ms: Option<i64> = parts.next().and_then(|p| p.trim().parse().ok());
    let received_at = received_ms
        .and_then(DateTime::from_timestamp_millis)
        .unwrap_or_else(now);
    let sent_at_ms = timestamp.and_then(|t| {
        check_timestamp(Some(t), received_at, std::time::Duration::from_secs(300)).ok()
    });
    let _ = check_timestamp(
        timestamp,
        now(),
        std::time::Duration::from_secs(u64::MAX / 2),
    );
    let delivery = Delivery {
        resource,
        request_id: Some("fuzz".into()),
        sent_at_ms: sent_at_ms.or_else(|| timestamp.and_then(|t| t.trim().parse().ok())),
        received_at,
    };
    let Ok(outcome) = normalise(&delivery, body) else {
        return;
    };
    apply(docs, &outcome.changes);
    let once = docs.clone();
    apply(docs, &outcome.changes);
    for (key, doc) in docs.iter() {
        assert_eq!(
            Some(doc),
            once.get(key),
            "the same delivery applied twice changed {key}"
        );
        check_doc(doc);
    }
    let mut count = DELIVERIES.lock().unwrap_or_else(|e| e.into_inner());
    *count += 1;
    if count.is_multiple_of(8) {
        drop(count);
        real_index(&outcome.changes);
    }
}

fuzz_target!(|data: &[u8]| {
    let mut docs = HashMap::new();
    for delivery in data.split_inclusive_sep() {
        let (header, body) = match delivery.iter().position(|b| *b == b'\n') {
            Some(i) => (&delivery[..i], &delivery[i + 1..]),
            None => (delivery, &[][..]),
        };
        one(header, body, &mut docs);
    }
});

trait Split {
    fn split_inclusive_sep(&self) -> Vec<&[u8]>;
}

impl Split for [u8] {
    /// Split on `\n\0\n`.
    fn split_inclusive_sep(&self) -> Vec<&[u8]> {
        let mut out = Vec::new();
        let mut rest = self;
        while let Some(i) = rest.windows(3).position(|w| w == b"\n\0\n") {
            out.push(&rest[..i]);
            rest = &rest[i + 3..];
        }
        out.push(rest);
        out
    }
}
