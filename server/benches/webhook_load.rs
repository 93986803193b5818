//! Loopback load run against the release binary: how many webhooks per second are
//! acknowledged durably, and how long from a 2xx until `search` finds the document.
//! Prints figures; run with `cargo bench -p sentry-mcp --bench webhook_load`.
//! Options (env): LOAD_N (default 20000), LOAD_CONCURRENCY (default 64).

#![allow(clippy::disallowed_methods)] // fixed times built from constants

#[path = "../../tests/common/mod.rs"]
mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;

#[tokio::main]
async fn main() {
    let n: usize = std::env::var("LOAD_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    let concurrency: usize = std::env::var("LOAD_CONCURRENCY")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(64);
    let dir = tempfile::tempdir().unwrap();
    let server = Arc::new(Server::start(dir.path()).await);
    let mb = |b: u64| b as f64 / 1_048_576.0;
    let (idle, _) = server.memory();
    println!("server RSS at start (empty index): {:.1} MiB", mb(idle));
    let bodies: Vec<Vec<u8>> = (0..n)
        .map(|i| {
            issue_body(
                "created",
                &(1_000_000 + i).to_string(),
                "unresolved",
                "2026-01-02T00:00:00Z",
            )
        })
        .collect();
    let bodies = Arc::new(bodies);
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));

    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..concurrency {
        let (server, bodies, next) = (server.clone(), bodies.clone(), next.clone());
        workers.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= bodies.len() {
                    return latencies;
                }
                let t = Instant::now();
                let (status, text) = server.post("issue", &bodies[i], SECRET).await;
                assert_eq!(status, 200, "{text}");
                latencies.push(t.elapsed());
            }
        }));
    }
    let mut latencies = Vec::new();
    for w in workers {
        latencies.extend(w.await.unwrap());
    }
    let took = started.elapsed();
    latencies.sort();
    let pct = |p: f64| latencies[((latencies.len() as f64 * p) as usize).min(latencies.len() - 1)];
    println!(
        "acked durably: {n} webhooks in {:.2} s = {:.0} webhooks/s (concurrency {concurrency}); ack latency p50 {:.2} ms, p99 {:.2} ms",
        took.as_secs_f64(),
        n as f64 / took.as_secs_f64(),
        pct(0.5).as_secs_f64() * 1e3,
        pct(0.99).as_secs_f64() * 1e3
    );
    wait_for(dir.path(), "kind:issue project:test-project", 1).await;
    let (rss, peak) = server.memory();
    println!(
        "server RSS after the load: {:.1} MiB (peak {:.1} MiB while ingesting)",
        mb(rss),
        mb(peak)
    );
    let (_, metrics) = server.get(server.mcp, "/metrics").await;
    let value = |name: &str| {
        metrics
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(f64::NAN)
    };
    let fsyncs = value("sentry_mcp_journal_fsync_seconds_count");
    println!(
        "journal: {fsyncs} fsyncs for {n} webhooks ({:.1} per fsync), mean fsync {:.2} ms",
        n as f64 / fsyncs,
        value("sentry_mcp_journal_fsync_seconds_sum") / fsyncs * 1e3
    );

    // Ack to searchable, seen from outside: one webhook at a time, poll `search`.
    let mut visible = Vec::new();
    for i in 0..20 {
        let id = (5_000_000 + i).to_string();
        let body = issue_body("created", &id, "unresolved", "2026-01-02T00:00:00Z");
        assert_eq!(server.post("issue", &body, SECRET).await.0, 200);
        let acked = Instant::now();
        loop {
            if !search(dir.path(), &format!("kind:issue id:{id}")).is_empty() {
                visible.push(acked.elapsed());
                break;
            }
            assert!(acked.elapsed() < Duration::from_secs(10));
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    visible.sort();
    println!(
        "ack to searchable (polling the search command every 5 ms): p50 {:.0} ms, max {:.0} ms; server-side mean {:.0} ms",
        visible[visible.len() / 2].as_secs_f64() * 1e3,
        visible.last().unwrap().as_secs_f64() * 1e3,
        value("sentry_mcp_ack_to_searchable_seconds_sum")
            / value("sentry_mcp_ack_to_searchable_seconds_count")
            * 1e3
    );
}
