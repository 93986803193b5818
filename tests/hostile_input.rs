//! Hostile input on both listeners: deeply nested and huge JSON, invalid UTF-8, 10k-term
//! queries and slow-loris clients. Each gets a clear answer (or is cut off) in bounded time
//! and memory, and other clients are served meanwhile.

mod common;

use std::time::{Duration, Instant};

use common::tools::Tools;
use common::*;
use serde_json::json;
use tokio::io::AsyncWriteExt;

fn signed_raw(body: &[u8]) -> Webhook {
    Webhook::new("issue", body).signed(SECRET)
}

#[tokio::test]
async fn hostile_webhook_bodies_get_clear_answers_and_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path()).await;
    let (rss_before, _) = server.memory();

    // 10,000 levels of nesting inside an otherwise plausible delivery.
    let nested = format!(
        r#"{{"action":"created","data":{{"issue":{{"id":"1","title":{}1{}}}}}}}"#,
        "[".repeat(10_000),
        "]".repeat(10_000)
    );
    let started = Instant::now();
    let (status, text) = server.send(signed_raw(nested.as_bytes())).await;
    assert_eq!(status, 400, "{text}");
    assert!(text.contains("JSON"), "{text}");

    // A huge array (about 3 MB, under the body limit) where a string belongs.
    let huge = format!(
        r#"{{"action":"created","data":{{"issue":{{"id":"2","title":"t","tags":[{}0]}}}}}}"#,
        "0,".repeat(1_500_000)
    );
    let (status, text) = server.send(signed_raw(huge.as_bytes())).await;
    assert!(status == 200 || status == 400, "{status} {text}");

    // Invalid UTF-8, correctly signed.
    let mut garbage = br#"{"action":"created","data":{"issue":{"id":"3","title":""#.to_vec();
    garbage.extend([0xff, 0xfe, 0xc3, 0x28]);
    garbage.extend(br#""}}}"#);
    let (status, text) = server.send(signed_raw(&garbage)).await;
    assert_eq!(status, 400, "{text}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );

    // The server is healthy, its memory bounded, and normal deliveries still go in.
    assert_eq!(server.get(server.mcp, "/health").await.0, 200);
    let body = issue_body("created", "4", "unresolved", "2026-01-02T00:00:00Z");
    assert_eq!(server.post("issue", &body, SECRET).await.0, 200);
    wait_for(dir.path(), "kind:issue id:4", 1).await;
    let (rss_after, _) = server.memory();
    assert!(
        rss_after < rss_before + 200 * 1024 * 1024,
        "RSS grew from {rss_before} to {rss_after}"
    );
    assert!(search(dir.path(), "kind:issue id:1").is_empty());
    assert!(search(dir.path(), "kind:issue id:3").is_empty());
}

#[tokio::test]
async fn hostile_queries_and_mcp_bodies_are_refused_or_answered_in_bounded_time() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_with(dir.path(), &["--webhook-secret", SECRET, "--demo"]).await;
    let mut tools = Tools::open(&server).await;

    let many_terms: String = (0..10_000).map(|i| format!("term{i} ")).collect();
    let ors: String = (0..10_000)
        .map(|i| format!("level:l{i}"))
        .collect::<Vec<_>>()
        .join(" OR ");
    let parens = format!("{}timeout{}", "(".repeat(10_000), ")".repeat(10_000));
    for (tool, query) in [
        ("search_errors", many_terms.as_str()),
        ("search_errors", ors.as_str()),
        ("search_errors", parens.as_str()),
        ("list_issues", many_terms.as_str()),
    ] {
        let started = Instant::now();
        let answer = tools.call(tool, json!({"query": query})).await;
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{tool} took {:?}",
            started.elapsed()
        );
        if answer.is_error {
            assert!(
                !answer.text.is_empty() && answer.text.len() < 2_000,
                "{}",
                answer.text
            );
        }
    }

    // Invalid UTF-8 and a deeply nested JSON-RPC body on /mcp: protocol errors, not panics.
    let client = http_client();
    for body in [
        vec![0xff, 0xfe, 0xfd],
        format!("{}1{}", "[".repeat(10_000), "]".repeat(10_000)).into_bytes(),
    ] {
        let answer = client
            .post(format!("http://{}/mcp", server.mcp))
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 400);
        assert!(answer.text().await.unwrap().contains("-32700"));
    }
    // Still serving.
    tools.ok("list_issues", json!({})).await;
}

#[tokio::test]
async fn slow_loris_clients_do_not_starve_others_on_either_listener() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_with(dir.path(), &["--webhook-secret", SECRET, "--demo"]).await;
    let (rss_before, _) = server.memory();
    let mut slow = Vec::new();
    for addr in [server.mcp, server.webhook] {
        for _ in 0..100 {
            let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
            // A request line and part of a header, then nothing more.
            tcp.write_all(b"POST /webhooks/sentry HTTP/1.1\r\nHost: x\r\nX-Slow: ")
                .await
                .unwrap();
            slow.push(tcp);
        }
    }
    // Others are served at once, on both listeners, over MCP and webhooks alike.
    let started = Instant::now();
    let mut tools = Tools::open(&server).await;
    tools.ok("list_issues", json!({})).await;
    let body = issue_body("created", "77", "unresolved", "2026-01-02T00:00:00Z");
    assert_eq!(server.post("issue", &body, SECRET).await.0, 200);
    assert_eq!(server.get(server.webhook, "/health").await.0, 200);
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    let (rss_after, _) = server.memory();
    assert!(
        rss_after < rss_before + 64 * 1024 * 1024,
        "RSS grew from {rss_before} to {rss_after} for 200 idle connections"
    );
    drop(slow);
}
