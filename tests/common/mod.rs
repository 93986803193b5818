//! Helpers for end-to-end tests: start the real binary on free ports, sign and post
//! webhooks over real HTTP, and query the data dir with the real `search` command.

#![allow(dead_code)]

pub mod fake_sentry;
pub mod mcp;
pub mod tools;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use hmac::{Hmac, KeyInit, Mac};
use serde_json::Value;
use sha2::Sha256;

pub const SECRET: &str = "test-client-secret-7f3a";
pub const BIN: &str = env!("CARGO_BIN_EXE_sentry-mcp");

/// Sentry's webhook fixtures in `shared/` beside the repository; says where it looked when
/// they are not there.
pub fn fixtures() -> PathBuf {
    let dir =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures/sentry-webhooks");
    assert!(
        dir.is_dir(),
        "the tests need the shared fixtures at {} (the `shared/` folder next to this repository)",
        dir.display()
    );
    dir
}

/// One fixture file's bytes; a missing file names its path.
pub fn fixture(name: &str) -> Vec<u8> {
    let path = fixtures().join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// A running `sentry-mcp serve`.
pub struct Server {
    child: Child,
    pub data_dir: PathBuf,
    pub webhook: SocketAddr,
    pub mcp: SocketAddr,
    logs: Arc<Mutex<Vec<String>>>,
    client: reqwest::Client,
}

impl Server {
    /// Start with the test secret and a retention long enough for the 2019 fixtures.
    pub async fn start(data_dir: &Path) -> Server {
        Self::start_with(data_dir, &["--webhook-secret", SECRET]).await
    }

    pub async fn start_with(data_dir: &Path, extra: &[&str]) -> Server {
        let mut command = Command::new(BIN);
        command
            .args(["--data-dir", data_dir.to_str().unwrap()])
            .args(["--listen", "127.0.0.1:0", "--webhook-listen", "127.0.0.1:0"])
            .args(["--retention-days", "36500"])
            .args(extra)
            .env("RUST_LOG", "info");
        Self::launch(command, data_dir).await
    }

    /// Start with exactly these arguments and environment variables (a deployment's), on
    /// the data dir `SENTRY_MCP_DATA_DIR` names.
    pub async fn start_env(
        args: &[String],
        env: &std::collections::BTreeMap<String, String>,
    ) -> Server {
        let mut command = Command::new(BIN);
        command.args(args).envs(env);
        let data_dir = PathBuf::from(&env["SENTRY_MCP_DATA_DIR"]);
        Self::launch(command, &data_dir).await
    }

    /// Start `command` (a sentry-mcp command line, perhaps wrapped) and wait until ready.
    pub async fn launch(mut command: Command, data_dir: &Path) -> Server {
        let mut child = command
            .env_remove("SENTRY_WEBHOOK_SECRET")
            .env_remove("SENTRY_AUTH_TOKEN")
            .env_remove("SENTRY_MCP_TOKEN")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start sentry-mcp");
        let stderr = child.stderr.take().unwrap();
        let logs = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let sink = logs.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if line.contains("listening") {
                    let _ = tx.send(line.clone());
                }
                sink.lock().unwrap().push(line);
            }
        });
        let mut addrs = std::collections::HashMap::new();
        while addrs.len() < 2 {
            let line = rx
                .recv_timeout(Duration::from_secs(30))
                .unwrap_or_else(|_| {
                    panic!(
                        "server did not start; logs:\n{}",
                        logs.lock().unwrap().join("\n")
                    )
                });
            let name = if line.contains("listener=\"webhook\"") {
                "webhook"
            } else {
                "mcp"
            };
            let addr: SocketAddr = line.rsplit("addr=").next().unwrap().trim().parse().unwrap();
            addrs.insert(name, addr);
        }
        let server = Server {
            child,
            data_dir: data_dir.to_owned(),
            webhook: addrs["webhook"],
            mcp: addrs["mcp"],
            logs,
            client: http_client(),
        };
        server.wait_ready().await;
        server
    }

    pub async fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(r) = self
                .client
                .get(format!("http://{}/ready", self.webhook))
                .send()
                .await
                && r.status() == 200
            {
                return;
            }
            assert!(Instant::now() < deadline, "server never became ready");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub fn webhook_url(&self) -> String {
        format!("http://{}/webhooks/sentry", self.webhook)
    }

    pub fn logs(&self) -> String {
        self.logs.lock().unwrap().join("\n")
    }

    /// Post `body` signed with `secret` as Sentry would, with a fresh Request-ID.
    pub async fn post(&self, resource: &str, body: &[u8], secret: &str) -> (u16, String) {
        self.send(Webhook::new(resource, body).signed(secret)).await
    }

    pub async fn send(&self, hook: Webhook) -> (u16, String) {
        let mut req = self.client.post(self.webhook_url()).body(hook.body.clone());
        req = req.header("content-type", "application/json");
        for (k, v) in &hook.headers {
            req = req.header(k.as_str(), v.as_str());
        }
        let resp = req.send().await.expect("webhook request");
        (
            resp.status().as_u16(),
            resp.text().await.unwrap_or_default(),
        )
    }

    pub async fn get(&self, addr: SocketAddr, path: &str) -> (u16, String) {
        let resp = self
            .client
            .get(format!("http://{addr}{path}"))
            .send()
            .await
            .expect("get");
        (
            resp.status().as_u16(),
            resp.text().await.unwrap_or_default(),
        )
    }

    /// SIGKILL: no graceful shutdown, no final commit.
    pub fn kill9(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// SIGTERM and wait for a clean exit.
    pub fn stop(self) -> std::process::ExitStatus {
        self.terminate();
        self.wait()
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Resident and peak resident memory of the server process, in bytes (Linux).
    pub fn memory(&self) -> (u64, u64) {
        (self.status_bytes("VmRSS:"), self.status_bytes("VmHWM:"))
    }

    /// A size from `/proc/PID/status` (`VmRSS:`, `RssAnon:`, ...) in bytes, 0 if absent.
    pub fn status_bytes(&self, key: &str) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
            * 1024
    }

    /// Send SIGTERM and return at once.
    pub fn terminate(&self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
    }

    /// Wait for the process to exit.
    pub fn wait(mut self) -> std::process::ExitStatus {
        self.child.wait().unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A webhook request under construction.
#[derive(Clone)]
pub struct Webhook {
    pub body: Vec<u8>,
    pub headers: Vec<(String, String)>,
}

impl Webhook {
    /// Resource, timestamp and a fresh Request-ID; no signature yet.
    pub fn new(resource: &str, body: &[u8]) -> Self {
        Webhook {
            body: body.to_vec(),
            headers: vec![
                ("sentry-hook-resource".into(), resource.into()),
                ("sentry-hook-timestamp".into(), now_secs().to_string()),
                ("request-id".into(), request_id()),
            ],
        }
    }

    pub fn signed(self, secret: &str) -> Self {
        let sig = sign(secret, &self.body);
        self.header("sentry-hook-signature", &sig)
    }

    /// Set (or replace) a header.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.retain(|(k, _)| k != name);
        self.headers.push((name.into(), value.into()));
        self
    }

    pub fn without(mut self, name: &str) -> Self {
        self.headers.retain(|(k, _)| k != name);
        self
    }
}

/// A plain-http reqwest client for talking to the server under test. reqwest is built with
/// rustls but no provider of its own (the Sentry API client brings ring), so install it first.
pub fn http_client() -> reqwest::Client {
    sentry_mcp_api::install_default_tls_provider();
    reqwest::Client::new()
}

pub fn sign(secret: &str, body: &[u8]) -> String {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

pub fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

pub fn request_id() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    format!("{:016x}{:016x}", std::process::id() as u64 ^ now_secs(), n)
}

/// Run `sentry-mcp search` on a data dir; one JSON value per printed line.
pub fn search(data_dir: &Path, query: &str) -> Vec<Value> {
    let out = Command::new(BIN)
        .args([
            "search",
            query,
            "--data-dir",
            data_dir.to_str().unwrap(),
            "--limit",
            "1000",
        ])
        .output()
        .expect("run search");
    assert!(
        out.status.success(),
        "search {query:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).expect("search prints JSON lines"))
        .collect()
}

/// Poll `search` until it returns at least `n` documents (searchable within ~1 s of ack).
pub async fn wait_for(data_dir: &Path, query: &str, n: usize) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let hits = search(data_dir, query);
        if hits.len() >= n {
            return hits;
        }
        assert!(
            Instant::now() < deadline,
            "{query:?}: {} of {n} documents after 10 s",
            hits.len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Build a minimal issue webhook body.
pub fn issue_body(action: &str, id: &str, status: &str, last_seen: &str) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "action": action,
        "installation": {"uuid": "inst-1"},
        "data": {"issue": {
            "id": id, "shortId": format!("TEST-{id}"), "title": format!("Boom {id}"),
            "status": status, "level": "error", "count": "3", "userCount": 2,
            "project": {"id": "1", "slug": "test-project", "name": "test-project"},
            "firstSeen": "2026-01-01T00:00:00Z", "lastSeen": last_seen,
        }},
        "actor": {"type": "application", "id": "sentry", "name": "Sentry"}
    }))
    .unwrap()
}
