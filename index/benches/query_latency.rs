//! Single-run query latencies on an index of generated events (default 1M; set
//! SYNTH_EVENTS). The index is built once into `target/synth-index-<N>` and reused.
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
    let dir =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("../target/synth-index-{events}"));
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
        let mut total = 0;
        let times = measure(|| total = reader.search_page(req, now).expect(name).total);
        report(name, total as u64, &times);
    }
    // Paging deep with cursors: 40 pages of 25.
    let mut req = events_q("");
    let started = Instant::now();
    for _ in 0..40 {
        let page = reader.search_page(&req, now).expect("page");
        req.cursor = page.next_cursor;
    }
    println!(
        "{:<78} {:>9} per page (40 pages of 25 via cursors)",
        "events 24h: paging",
        fmt(started.elapsed() / 40)
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
    let mut n = 0;
    let times = measure(|| {
        n = reader
            .count_by(&filter, GroupBy::Issue, 10, now)
            .expect("count")
            .1
    });
    report("aggregate: top 10 issues by events in 24h", n, &times);
    let times = measure(|| {
        n = reader
            .count_by(&filter, GroupBy::Release, 10, now)
            .expect("count")
            .1
    });
    report("aggregate: events by release in 24h", n, &times);
    let times = measure(|| {
        n = reader
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
    report("aggregate: 24 hourly bars", n, &times);
    // What `search_errors` runs: matching events grouped by issue, with per-issue users,
    // first and last event.
    for query in ["timeout", "environment:production", ""] {
        let times = measure(|| {
            n = reader
                .issue_groups(query, &window, 20, now)
                .expect("groups")
                .total_events
        });
        report(
            &format!("issue groups (search_errors) 24h: `{query}`"),
            n,
            &times,
        );
    }
}

/// Build the index unless a finished one is there; returns the generator's "now".
fn build(dir: &PathBuf, events: usize) -> chrono::DateTime<Utc> {
    let marker = dir.join("synth-now");
    if let Ok(s) = std::fs::read_to_string(&marker)
        && let Ok(t) = s.trim().parse()
    {
        return t;
    }
    let _ = std::fs::remove_dir_all(dir);
    let now = Utc::now();
    let spec = SynthSpec {
        events,
        issues: (events / 200).max(50),
        span: Duration::days(7),
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
    println!(
        "built {events} events in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    std::fs::write(&marker, now.to_rfc3339()).expect("marker");
    now
}

fn measure(mut f: impl FnMut()) -> Vec<StdDuration> {
    f(); // warm the caches once
    let mut times: Vec<StdDuration> = (0..15)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .collect();
    times.sort();
    times
}

fn report(name: &str, matches: u64, times: &[StdDuration]) {
    println!(
        "{name:<78} {:>9} p50 {:>9} max  ({matches} matches)",
        fmt(times[times.len() / 2]),
        fmt(times[times.len() - 1])
    );
}

fn fmt(d: StdDuration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}
