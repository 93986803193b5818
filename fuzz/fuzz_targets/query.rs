//! Sentry search syntax: the parser and planner (`index/src/query/`) on arbitrary query
//! strings, in both dialects, through the public API against a small real index.
//!
//! Input: the query text (invalid UTF-8 is replaced, as no tool argument can carry it).
//! Every input is planned and searched in both dialects (with a second page when there is
//! one); every 8th (by content) also runs `issue_groups` and `count_by`.
//! Checked: no panic; a refused query is a `QueryError` (position within the query and a
//! message), never another index error; every answer comes within `BOUND` even for a
//! 10 KB query (run with `-max_len=10240`).

#![no_main]

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use libfuzzer_sys::fuzz_target;
use sentry_mcp_index::synth::{SynthSpec, generate};
use sentry_mcp_index::{
    DocKind, Filter, GroupBy, IndexError, IndexReader, IndexWriter, QueryMode, Scope,
    SearchRequest, SortBy, WriterOptions,
};

/// Longest any one answer may take (a release build with debug assertions and coverage
/// instrumentation; the README's latencies are milliseconds at a million events).
const BOUND: Duration = Duration::from_secs(3);

fn now() -> DateTime<Utc> {
    DateTime::from_timestamp(1_760_000_000, 0).unwrap()
}

fn reader() -> &'static IndexReader {
    static READER: OnceLock<(tempfile::TempDir, IndexReader)> = OnceLock::new();
    &READER
        .get_or_init(|| {
            let dir = tempfile::Builder::new()
                .prefix("query-fuzz")
                .tempdir_in("/dev/shm")
                .or_else(|_| tempfile::tempdir())
                .unwrap();
            let options = WriterOptions {
                memory_budget_bytes: 20 * 1024 * 1024,
            };
            let mut writer = IndexWriter::open(dir.path(), &options).unwrap();
            let spec = SynthSpec {
                events: 400,
                issues: 40,
                span: chrono::Duration::try_days(3).unwrap(),
                now: now(),
                seed: 7,
            };
            for changes in generate(&spec) {
                writer.apply_all(changes).unwrap();
            }
            writer.commit(Some(1)).unwrap();
            let reader = writer.reader();
            reader.reload().unwrap();
            (dir, reader)
        })
        .1
}

fn timed<T>(what: &str, query: &str, f: impl FnOnce() -> T) -> T {
    let started = Instant::now();
    let out = f();
    let took = started.elapsed();
    assert!(
        took <= BOUND,
        "{what} took {took:?} on a {}-byte query",
        query.len()
    );
    out
}

fn check<T>(what: &str, query: &str, result: Result<T, IndexError>) -> Option<T> {
    match result {
        Ok(v) => Some(v),
        Err(IndexError::Query(e)) => {
            assert!(!e.message.is_empty(), "{what}: empty message");
            assert!(
                e.position <= query.chars().count(),
                "{what}: position {} past the end of a {}-character query",
                e.position,
                query.chars().count()
            );
            None
        }
        Err(e) => panic!("{what}: not a query error: {e:?}"),
    }
}

/// Tool calls run on tokio's blocking threads, which have 2 MiB stacks: so does each input
/// here (with AddressSanitizer's larger frames, a stricter test than the server's).
const STACK: usize = 2 * 1024 * 1024;

fuzz_target!(|data: &[u8]| {
    let data = data.to_vec();
    std::thread::Builder::new()
        .stack_size(STACK)
        .spawn(move || one(&data))
        .unwrap()
        .join()
        .unwrap();
});

fn one(data: &[u8]) {
    let query = String::from_utf8_lossy(data);
    let query = query.as_ref();
    let reader = reader();
    let sort = [SortBy::Date, SortBy::New, SortBy::Freq, SortBy::User][data.len() % 4];
    for (mode, kind) in [
        (QueryMode::Issues, DocKind::Issue),
        (QueryMode::Events, DocKind::Event),
    ] {
        let request = SearchRequest {
            query: query.to_owned(),
            mode,
            scope: Scope {
                kinds: vec![kind],
                ..Scope::default()
            },
            sort,
            limit: 7,
            cursor: None,
        };
        let page = timed("search_page", query, || reader.search_page(&request, now()));
        if let Some(page) = check("search_page", query, page) {
            assert!(page.docs.len() <= 7 && page.docs.len() <= page.total);
            if let Some(cursor) = page.next_cursor {
                let next = SearchRequest {
                    cursor: Some(cursor),
                    ..request
                };
                let second = timed("search_page (cursor)", query, || {
                    reader.search_page(&next, now())
                });
                let second = second.unwrap_or_else(|e| panic!("second page: {e}"));
                for doc in &second.docs {
                    assert!(
                        !page.docs.iter().any(|d| d.key() == doc.key()),
                        "{} on both pages",
                        doc.key()
                    );
                }
            }
        }
    }
    // The aggregations cost ten times a page: every 8th input (by content) also runs them.
    let digest = data
        .iter()
        .fold(0u32, |h, b| h.wrapping_mul(31).wrapping_add(u32::from(*b)));
    if digest % 8 == 0 {
        aggregations(reader, query);
    }
    timed("hints", query, || {
        sentry_mcp_index::query::hints(query, now())
    });
    timed("notes", query, || {
        sentry_mcp_index::query::notes(query, now())
    });
    timed("unknown_keys", query, || {
        sentry_mcp_index::query::unknown_keys(query, now())
    });
}

fn aggregations(reader: &IndexReader, query: &str) {
    let scope = Scope::default();
    let groups = timed("issue_groups", query, || {
        reader.issue_groups(query, &scope, 5, now())
    });
    check("issue_groups", query, groups);
    let filter = Filter {
        query: query.to_owned(),
        mode: QueryMode::Events,
        scope: Scope::default(),
    };
    let counts = timed("count_by", query, || {
        reader.count_by(&filter, GroupBy::Issue, 5, now())
    });
    check("count_by", query, counts);
}
