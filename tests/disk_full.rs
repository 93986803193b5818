//! A full data volume: webhooks get 503 (Sentry retries) and never a 2xx that is not on
//! disk, reads keep working, `/ready`, `status` and `/metrics` say what is wrong, and
//! writes resume by themselves once there is space again.
//!
//! The data dir is a 16 MiB tmpfs mounted in a private user and mount namespace
//! (`unshare -rm`, no root needed), 12 MiB of it taken by a filler file the test deletes
//! (through `/proc/PID/root`) to give the space back. The server keeps 1 MiB in reserve
//! (`--disk-reserve-mib 1`; 64 by default) so the index can always commit what was
//! acknowledged.

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::tools::Tools;
use common::*;
use serde_json::json;

/// An issue delivery of about 300 kB.
fn big_issue(id: u64) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "action": "created",
        "data": {"issue": {
            "id": id.to_string(), "title": format!("Big {id}"), "status": "unresolved",
            "culprit": "x".repeat(300_000),
            "project": {"slug": "disk"}, "lastSeen": "2026-12-01T00:00:00Z",
        }},
    }))
    .unwrap()
}

#[tokio::test]
async fn a_full_disk_refuses_webhooks_keeps_reads_and_recovers_by_itself() {
    let dir = tempfile::tempdir().unwrap();
    let mnt = dir.path().join("mnt");
    std::fs::create_dir(&mnt).unwrap();
    let script = r#"mount -t tmpfs -o size=16m tmpfs "$0" && head -c 12582912 /dev/zero > "$0/filler" && exec "$1" --data-dir "$0/data" --listen 127.0.0.1:0 --webhook-listen 127.0.0.1:0 --webhook-secret "$2" --retention-days 36500 --disk-reserve-mib 1"#;
    let mut command = Command::new("unshare");
    command
        .args(["-rm", "sh", "-c", script])
        .arg(&mnt)
        .arg(BIN)
        .arg(SECRET)
        .env("RUST_LOG", "info");
    let server = Server::launch(command, &mnt.join("data")).await;
    let mut tools = Tools::open(&server).await;

    // Fill the rest: 2xx until the disk is full, then 503s that say why.
    let mut acked = Vec::new();
    let mut refused = None;
    for id in 1..60 {
        let (status, text) = server.post("issue", &big_issue(id), SECRET).await;
        match status {
            200 => acked.push(id),
            503 => {
                refused = Some(text);
                break;
            }
            other => panic!("{other}: {text}"),
        }
    }
    let refused = refused.expect("the 16 MiB volume never filled up");
    assert!(!acked.is_empty(), "nothing fitted before the disk was full");
    assert!(refused.contains("journal"), "{refused}");

    // Everything acknowledged is there, and reads keep working.
    let want = format!("1 of {} issues", acked.len());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let listed = tools
            .ok("list_issues", json!({"query": "is:unresolved", "limit": 1}))
            .await;
        if listed.text.contains(&want) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{want}: {}\n{}",
            listed.text,
            server.logs()
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    for id in &acked {
        let answer = tools
            .ok("get_issue", json!({"issue_id": id.to_string()}))
            .await;
        assert!(
            answer.text.contains(&format!("Big {id}")),
            "{id}: {}",
            answer.text
        );
    }
    let (status, ready) = server.get(server.mcp, "/ready").await;
    assert_eq!(status, 200, "still serving reads: {ready}");
    assert!(ready.contains("No space left"), "{ready}");
    let status_tool = tools.ok("status", json!({})).await;
    assert!(
        status_tool.text.contains("journal cannot write"),
        "{}",
        status_tool.text
    );
    let metrics = server.get(server.mcp, "/metrics").await.1;
    assert!(
        metrics.contains("sentry_mcp_journal_write_failing 1"),
        "{metrics}"
    );

    // Space comes back: the next delivery is journaled, and the state clears.
    let filler: PathBuf = format!("/proc/{}/root{}/filler", server.pid(), mnt.display()).into();
    std::fs::remove_file(&filler).unwrap();
    let (status, text) = server.post("issue", &big_issue(100), SECRET).await;
    assert_eq!(status, 200, "{text}");
    let (_, ready) = server.get(server.mcp, "/ready").await;
    assert_eq!(ready.trim(), "ready");
    let metrics = server.get(server.mcp, "/metrics").await.1;
    assert!(
        metrics.contains("sentry_mcp_journal_write_failing 0"),
        "{metrics}"
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let answer = tools.call("get_issue", json!({"issue_id": "100"})).await;
        if !answer.is_error && answer.text.contains("Big 100") {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{}", answer.text);
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// A data dir on a read-only volume: the server refuses to start and says the volume is
/// read-only (it said "locked by another writer", sending the operator after a second pod).
#[tokio::test]
async fn a_read_only_data_dir_stops_the_start_saying_why() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    Server::start(&data).await.stop();
    let script = r#"mount --bind "$0" "$0" && mount -o remount,bind,ro "$0" && exec "$1" --data-dir "$0" --listen 127.0.0.1:0 --webhook-listen 127.0.0.1:0 --webhook-secret "$2""#;
    let out = Command::new("unshare")
        .args(["-rm", "sh", "-c", script])
        .arg(&data)
        .arg(BIN)
        .arg(SECRET)
        .output()
        .expect("unshare");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "started on a read-only dir: {stderr}"
    );
    assert!(stderr.contains("Read-only file system"), "{stderr}");
    assert!(!stderr.contains("locked by another writer"), "{stderr}");
}
