//! What a reconcile costs against the in-process fake Sentry (`tests/common/fake_sentry.rs`):
//! `sentry-mcp backfill` over N issues (default 10,000) into an empty index, again with
//! nothing changed, and again after 1% of the issues were resolved in "Sentry's UI".
//! Prints requests and seconds per pass; run with `cargo bench -p sentry-mcp --bench reconcile`.
//! Options (env): RECONCILE_N (default 10000).

#![allow(clippy::disallowed_methods)] // fixed times built from constants

#[path = "../../tests/common/mod.rs"]
mod common;

use chrono::Utc;
use common::BIN;
use common::fake_sentry::FakeSentry;
use serde_json::Value;

#[tokio::main]
async fn main() {
    let n: u64 = std::env::var("RECONCILE_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let fake = FakeSentry::start().await;
    let now = Utc::now();
    for id in 1..=n {
        // Spread over the last 20 days, newest first.
        let age = chrono::Duration::seconds((id * 20 * 86_400 / n) as i64);
        fake.add_issue(id, "unresolved", now - age);
    }
    let dir = tempfile::tempdir().unwrap();
    println!("reconcile of {n} issues against the fake Sentry (loopback, release build)");
    println!(
        "{:<28} {:>8} {:>8} {:>8} {:>9}",
        "pass", "pages", "requests", "written", "seconds"
    );
    let run = async |label: &str| {
        let out = tokio::process::Command::new(BIN)
            .arg("backfill")
            .args(["--data-dir", dir.path().to_str().unwrap()])
            .args(fake.args())
            .args(["--since", "-30d"])
            .env("RUST_LOG", "warn")
            .output()
            .await
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let r: Value = serde_json::from_slice(&out.stdout).unwrap();
        println!(
            "{label:<28} {:>8} {:>8} {:>8} {:>9.2}",
            r["pages"],
            r["requests"],
            r["issues_written"],
            r["seconds"].as_f64().unwrap()
        );
        r
    };
    let first = run("empty index").await;
    assert_eq!(first["issues_written"].as_u64(), Some(n));
    let again = run("nothing changed").await;
    assert_eq!(again["issues_written"].as_u64(), Some(0));
    for id in (1..=n).step_by(100) {
        fake.set_status(id, "resolved");
    }
    let changed = run("1% resolved in Sentry").await;
    assert_eq!(changed["issues_written"].as_u64(), Some(n.div_ceil(100)));
}
