//! Durability under fire: signed webhooks stream in from several senders while the server
//! is killed with SIGKILL at random moments and restarted on the same data dir. At the end
//! every acknowledged webhook is found through the MCP tools, complete, and nothing that
//! was found is a half-applied state.
//!
//! Short by default (8 kills, for CI); the long run is `KILL_LOOP_CYCLES=60 cargo test -p
//! sentry-mcp --test kill_loop -- --nocapture`. Prints `acked N, found N`.

mod common;

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::tools::Tools;
use common::*;
use serde_json::{Value, json};

const SENDERS: usize = 8;

/// One delivery to whatever address the server has now; true when it answered 200.
async fn deliver(client: &reqwest::Client, addr: SocketAddr, id: u64) -> bool {
    let body = issue_body(
        "created",
        &id.to_string(),
        "unresolved",
        "2026-11-30T00:00:00Z",
    );
    let sent = client
        .post(format!("http://{addr}/webhooks/sentry"))
        .header("content-type", "application/json")
        .header("sentry-hook-resource", "issue")
        .header("sentry-hook-timestamp", now_secs().to_string())
        .header("request-id", request_id())
        .header("sentry-hook-signature", sign(SECRET, &body))
        .body(body)
        .timeout(Duration::from_secs(5))
        .send()
        .await;
    matches!(sent, Ok(r) if r.status() == 200)
}

/// Every issue `list_issues` returns, page by page.
async fn all_issues(tools: &mut Tools) -> Vec<Value> {
    let mut cursor: Option<String> = None;
    let mut issues = Vec::new();
    loop {
        let mut args = json!({"query": "", "limit": 25, "sort": "date"});
        if let Some(c) = &cursor {
            args["cursor"] = json!(c);
        }
        let page = tools.ok("list_issues", args).await;
        let items = page.data["issues"].as_array();
        issues.extend(
            items
                .unwrap_or_else(|| panic!("{}", page.text))
                .iter()
                .cloned(),
        );
        cursor = page.data["cursor"].as_str().map(str::to_owned);
        if cursor.is_none() {
            return issues;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_at_random_moments_loses_no_acknowledged_webhook() {
    let cycles: usize = std::env::var("KILL_LOOP_CYCLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(8);
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::start(dir.path()).await;
    let addr = Arc::new(Mutex::new(server.webhook));
    let acked = Arc::new(Mutex::new(BTreeSet::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let mut senders = Vec::new();
    for sender in 0..SENDERS as u64 {
        let (addr, acked, stop) = (addr.clone(), acked.clone(), stop.clone());
        senders.push(tokio::spawn(async move {
            let client = http_client();
            let mut next = 1_000_000 * (sender + 1);
            while !stop.load(Ordering::Relaxed) {
                let to = *addr.lock().unwrap();
                if deliver(&client, to, next).await {
                    acked.lock().unwrap().insert(next.to_string());
                } else {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                // A new id either way: an unacknowledged delivery may or may not be kept.
                next += 1;
            }
        }));
    }

    let mut rng = fastrand::Rng::with_seed(cycles as u64);
    for cycle in 0..cycles {
        tokio::time::sleep(Duration::from_millis(rng.u64(50..400))).await;
        let before = acked.lock().unwrap().len();
        server.kill9();
        server = Server::start(dir.path()).await;
        *addr.lock().unwrap() = server.webhook;
        eprintln!("cycle {}: killed after {before} acks, restarted", cycle + 1);
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    stop.store(true, Ordering::Relaxed);
    for s in senders {
        s.await.unwrap();
    }
    // One more kill right after the last acks, then the final count.
    server.kill9();
    let server = Server::start(dir.path()).await;
    let acked = acked.lock().unwrap().clone();
    assert!(
        acked.len() > 100,
        "too few acks to mean anything: {}",
        acked.len()
    );

    let mut tools = Tools::open(&server).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let (found, issues) = loop {
        let issues = all_issues(&mut tools).await;
        let found: BTreeSet<String> = issues
            .iter()
            .map(|i| i["id"].as_str().unwrap().to_owned())
            .collect();
        if acked.is_subset(&found) || std::time::Instant::now() > deadline {
            break (found, issues);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let missing: Vec<&String> = acked.difference(&found).take(10).collect();
    println!(
        "acked {}, found {} of them ({} found in all, over {cycles} kills)",
        acked.len(),
        acked.intersection(&found).count(),
        found.len()
    );
    assert!(missing.is_empty(), "acknowledged but lost: {missing:?}");
    // Whatever is there is whole: each issue carries its full state, never a torn record.
    for issue in &issues {
        let id = issue["id"].as_str().unwrap();
        assert_eq!(issue["title"], format!("Boom {id}"), "{issue}");
        assert_eq!(issue["status"], "unresolved", "{issue}");
        assert_eq!(issue["project"], "test-project", "{issue}");
        assert_eq!(issue["times_seen"], 3, "{issue}");
    }
    // No duplicates from replays.
    assert_eq!(issues.len(), found.len());
}
