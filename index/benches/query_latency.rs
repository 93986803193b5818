//! Single-run query latencies on an index of generated events: by default the issue's
//! production size, 1M events over 50k issues in 30 days (set SYNTH_EVENTS; issues are
//! always one per 20 events). The index is built once into `target/synth-<N>-events-30d`
//! and reused.
//! Prints one line per query: matches, p50 and max of 15 runs.

#![allow(clippy::disallowed_methods)] // fixed times built from constants

use std::path::PathBuf;
use std::time::{Duration as StdDuration, Instant};

use chrono::{Duration, Utc};
use sentry_mcp_index::synth::{SynthSpec, generate};
use sentry_mcp_index::{
    DocKind, Filter, GroupBy, IndexReader, IndexWriter, QueryMode, Scope, SearchRequest, SortBy,
    WriterOptions,
};

fn main() {
    let events: usize = std::env::var("SYNTH_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join(format!("../target/synth-{events}-events-30d"));
    let now = build(&dir, events);
    let reader = IndexReader::open(&dir).expect("open index");
    println!(
        "index: {} documents ({} events) at {}",
        reader.num_docs(),
        events,
        dir.display()
    );

    let issues = |q: &str, sort: SortBy| SearchRequest {
        query: q.into(),
        mode: QueryMode::Issues,
        scope: Scope {
            kinds: vec![DocKind::Issue],
            ..Default::default()
        },
        sort,
        limit: 25,
        cursor: None,
    };
    let events_q = |q: &str| SearchRequest {
        query: q.into(),
        mode: QueryMode::Events,
        scope: Scope {
            kinds: vec![DocKind::Event],
            since: Some(now - Duration::hours(24)),
            ..Default::default()
        },
        limit: 25,
        ..Default::default()
    };
    let cases: Vec<(&str, SearchRequest)> = vec![
        (
            "issues is:unresolved level:error, sort date",
            issues("is:unresolved level:error", SortBy::Date),
        ),
        (
            "issues timesSeen:>100 lastSeen:-24h, sort freq",
            issues("timesSeen:>100 lastSeen:-24h", SortBy::Freq),
        ),
        (
            "issues free text \"connection reset\"",
            issues("\"connection reset\"", SortBy::Date),
        ),
        (
            "events 24h: !environment:staging browser.name:Firefox",
            events_q("!environment:staging browser.name:Firefox"),
        ),
        (
            "events 24h: tags[customer]:acme* release:[checkout@1.20.0, checkout@1.21.0]",
            events_q("tags[customer]:acme* release:[checkout@1.20.0, checkout@1.21.0]"),
        ),
        (
            "events 24h: error.type:TimeoutError OR error.type:SSLError",
            events_q("error.type:TimeoutError OR error.type:SSLError"),
        ),
        ("events 24h: free text timeout", events_q("timeout")),
    ];
    for (name, req) in &cases {
        case(name, || {
            reader.search_page(req, now).expect(name).total as u64
        });
    }
    // Paging deep with cursors: 40 pages of 25, timed as a whole.
    case(
        "events 24h: paging, 40 pages of 25 via cursors (all 40)",
        || {
            let mut req = events_q("");
            let mut seen = 0;
            for _ in 0..40 {
                let page = reader.search_page(&req, now).expect("page");
                seen += page.docs.len() as u64;
                req.cursor = page.next_cursor;
            }
            seen
        },
    );

    let window = Scope {
        kinds: vec![DocKind::Event],
        since: Some(now - Duration::hours(24)),
        until: Some(now),
        ..Default::default()
    };
    let filter = Filter {
        query: String::new(),
        mode: QueryMode::Events,
        scope: window.clone(),
    };
    case("aggregate: top 10 issues by events in 24h", || {
        reader
            .count_by(&filter, GroupBy::Issue, 10, now)
            .expect("count")
            .1
    });
    case("aggregate: events by release in 24h", || {
        reader
            .count_by(&filter, GroupBy::Release, 10, now)
            .expect("count")
            .1
    });
    case("aggregate: 24 hourly bars", || {
        reader
            .histogram(
                &filter,
                now - Duration::hours(24),
                now,
                Duration::hours(1),
                now,
            )
            .expect("hist")
            .len() as u64
    });
    // What `search_errors` runs: matching events grouped by issue, with per-issue users,
    // first and last event.
    for query in ["timeout", "environment:production", ""] {
        case(
            &format!("issue groups (search_errors) 24h: `{query}`"),
            || {
                reader
                    .issue_groups(query, &window, 20, now)
                    .expect("groups")
                    .total_events
            },
        );
    }
}

/// Build the index unless a finished one is there; returns the generator's "now".
fn build(dir: &PathBuf, events: usize) -> chrono::DateTime<Utc> {
    let marker = dir.join("synth-now");
    // Built by this version (an older schema is built again).
    if let Ok(s) = std::fs::read_to_string(&marker)
        && let Ok(t) = s.trim().parse()
        && IndexReader::open(dir).is_ok()
    {
        return t;
    }
    let _ = std::fs::remove_dir_all(dir);
    let now = Utc::now();
    let spec = SynthSpec {
        events,
        issues: (events / 20).max(50),
        span: Duration::days(30),
        now,
        seed: 42,
    };
    let mut writer = IndexWriter::open(
        dir,
        &WriterOptions {
            memory_budget_bytes: 256 * 1024 * 1024,
        },
    )
    .expect("writer");
    let started = Instant::now();
    for (i, changes) in generate(&spec).enumerate() {
        writer.apply_all(changes).expect("apply");
        if i % 200_000 == 199_999 {
            writer.commit(None).expect("commit");
        }
    }
    writer.commit(None).expect("commit");
    // The merges the last commits started finish here, not in the first server that opens
    // a copy (they would run under its measurements).
    writer.wait_for_merges().expect("merges");
    println!(
        "built {events} events in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    std::fs::write(&marker, now.to_rfc3339()).expect("marker");
    now
}

/// Runs `f` once to warm the caches, then BENCH_REPS times (default 15), and prints the
/// median and the slowest run with the match count `f` returns. With BENCH_ONLY set, only
/// cases whose name contains it run (for profiling one query).
fn case(name: &str, mut f: impl FnMut() -> u64) {
    if let Ok(only) = std::env::var("BENCH_ONLY")
        && !name.contains(&only)
    {
        return;
    }
    let reps: usize = std::env::var("BENCH_REPS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(15);
    let mut matches = f();
    let mut times: Vec<StdDuration> = (0..reps.max(1))
        .map(|_| {
            let t = Instant::now();
            matches = f();
            t.elapsed()
        })
        .collect();
    times.sort();
    println!(
        "{name:<78} {:>9} p50 {:>9} max  ({matches} matches)",
        fmt(times[times.len() / 2]),
        fmt(times[times.len() - 1])
    );
}

fn fmt(d: StdDuration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}
