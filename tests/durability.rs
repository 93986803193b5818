//! An acknowledged webhook is never lost: kill -9 right after the last 2xx, restart, and
//! everything is searchable. A torn journal tail does not stop the service from starting.

#![allow(clippy::disallowed_methods)] // fixed times built from constants

mod common;

use common::*;
use std::io::Write;
use std::time::Duration;

#[tokio::test]
async fn kill_9_after_acks_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path()).await;
    const N: usize = 200;
    let mut tasks = Vec::new();
    let server = std::sync::Arc::new(server);
    for i in 0..N {
        let s = server.clone();
        tasks.push(tokio::spawn(async move {
            let body = issue_body(
                "created",
                &format!("{}", 70_000 + i),
                "unresolved",
                "2026-01-02T00:00:00Z",
            );
            s.post("issue", &body, SECRET).await
        }));
    }
    for t in tasks {
        let (status, text) = t.await.unwrap();
        assert_eq!(status, 200, "{text}");
    }
    // The moment the last 2xx arrived: no graceful shutdown, no final commit.
    std::sync::Arc::try_unwrap(server)
        .ok()
        .expect("no other handles")
        .kill9();

    let restarted = Server::start(dir.path()).await;
    let hits = wait_for(dir.path(), "kind:issue project:test-project", N).await;
    assert_eq!(hits.len(), N);
    assert!(restarted.logs().contains("journal replayed"));
}

#[tokio::test]
async fn a_truncated_last_journal_record_is_dropped_and_startup_succeeds() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path()).await;
    for i in 0..3 {
        let body = issue_body(
            "created",
            &format!("{}", 60_000 + i),
            "unresolved",
            "2026-01-02T00:00:00Z",
        );
        assert_eq!(server.post("issue", &body, SECRET).await.0, 200);
    }
    server.kill9();
    // A crash in the middle of an append leaves half a record at the end of the newest segment.
    let journal = dir.path().join("journal");
    let mut segments: Vec<_> = std::fs::read_dir(&journal)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    segments.sort();
    let last = segments.last().unwrap();
    let mut f = std::fs::OpenOptions::new().append(true).open(last).unwrap();
    f.write_all(&[200, 0, 0, 0, 1, 2, 3, 4, 0, 0, 0]).unwrap();
    drop(f);

    let restarted = Server::start(dir.path()).await;
    wait_for(dir.path(), "kind:issue project:test-project", 3).await;
    assert!(
        restarted.logs().contains("journal tail is torn"),
        "{}",
        restarted.logs()
    );
    let (status, _) = restarted.get(restarted.webhook, "/health").await;
    assert_eq!(status, 200);
    // And it keeps accepting.
    let body = issue_body("created", "60009", "unresolved", "2026-01-02T00:00:00Z");
    assert_eq!(restarted.post("issue", &body, SECRET).await.0, 200);
    wait_for(dir.path(), "kind:issue project:test-project", 4).await;
}

/// A record kept as a dead letter (here: one no version can read) is reported by `status`
/// and `/metrics`, and stays on disk.
#[tokio::test]
async fn dead_letters_are_shown_by_status_and_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let letters = dir.path().join("dead-letters");
    std::fs::create_dir_all(&letters).unwrap();
    let name = format!("{:020}", 41);
    std::fs::write(letters.join(format!("{name}.body")), b"{not json").unwrap();
    let letter = serde_json::json!({
        "seq": 41,
        "delivery": {"resource": "error", "request_id": "r-41", "sent_at_ms": 1, "received_at": "2026-01-01T00:00:00Z"},
        "error": "index update failed: disk on fire",
        "kept_at": "2026-01-01T00:00:01Z"
    });
    std::fs::write(letters.join(format!("{name}.json")), letter.to_string()).unwrap();
    let server = Server::start(dir.path()).await;
    let mut tools = common::tools::Tools::open(&server).await;
    let status = tools.ok("status", serde_json::json!({})).await;
    assert!(
        status
            .text
            .contains("1 received webhook(s) could not be indexed")
            && status.text.contains("disk on fire"),
        "{}",
        status.text
    );
    assert_eq!(status.data["dead_letters"]["count"], 1, "{}", status.data);
    let (_, metrics) = server.get(server.mcp, "/metrics").await;
    assert!(metrics.contains("sentry_mcp_dead_letters 1"), "{metrics}");
    assert!(
        letters.join(format!("{name}.body")).exists(),
        "kept until indexed"
    );
}

#[tokio::test]
async fn sigterm_lets_an_in_flight_webhook_finish_then_commits_the_index() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path()).await;
    let body = issue_body("created", "5151", "unresolved", "2026-01-02T00:00:00Z");
    let head = format!(
        "POST /webhooks/sentry HTTP/1.1\r\nhost: sentry-mcp\r\ncontent-type: application/json\r\n\
         content-length: {}\r\nsentry-hook-resource: issue\r\nsentry-hook-timestamp: {}\r\n\
         sentry-hook-signature: {}\r\nrequest-id: {}\r\nconnection: close\r\n\r\n",
        body.len(),
        now_secs(),
        sign(SECRET, &body),
        request_id()
    );
    let mut tcp = tokio::net::TcpStream::connect(server.webhook)
        .await
        .unwrap();
    tcp.write_all(head.as_bytes()).await.unwrap();
    tcp.write_all(&body[..10]).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;

    // SIGTERM while the delivery is half sent: the listener closes, the request finishes.
    server.terminate();
    tokio::time::sleep(Duration::from_millis(500)).await;
    tcp.write_all(&body[10..]).await.unwrap();
    let mut answer = String::new();
    tcp.read_to_string(&mut answer).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let status = server.wait();
    assert!(status.success(), "{status:?}");

    // Committed before exit: the index alone (no journal replay) has it.
    let hits = search(dir.path(), "5151");
    assert_eq!(hits.len(), 1, "{hits:?}");
}

#[tokio::test]
async fn a_request_that_never_finishes_cannot_hold_up_shutdown_past_the_grace() {
    use tokio::io::AsyncWriteExt;
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_with(
        dir.path(),
        &["--webhook-secret", SECRET, "--shutdown-grace", "1s"],
    )
    .await;
    let mut tcp = tokio::net::TcpStream::connect(server.webhook)
        .await
        .unwrap();
    tcp.write_all(b"POST /webhooks/sentry HTTP/1.1\r\nhost: x\r\ncontent-length: 100\r\n\r\n{")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let started = std::time::Instant::now();
    server.terminate();
    let status = tokio::task::spawn_blocking(move || server.wait())
        .await
        .unwrap();
    assert!(status.success(), "{status:?}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "waited {:?}",
        started.elapsed()
    );
}
