//! The MCP transports end to end, against the real binary: the official Python SDK over
//! legacy SSE, streamable HTTP and stdio; Holmes's own client code over /sse and /mcp;
//! session isolation, disconnects and cleanup, the refusals (unknown session, malformed
//! JSON, bearer token, Host, Origin, body size, concurrency), shutdown with open streams,
//! and protocol errors as JSON-RPC names them (-32700, -32600, -32602, 404 for an ended
//! session) on every transport.

#![allow(clippy::disallowed_methods)] // fixed times built from constants

mod common;

use std::time::{Duration, Instant};

use common::mcp::*;
use common::*;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn demo_server(dir: &std::path::Path, extra: &[&str]) -> Server {
    let mut args = vec!["--demo"];
    args.extend_from_slice(extra);
    Server::start_with(dir, &args).await
}

fn base(server: &Server) -> String {
    format!("http://{}", server.mcp)
}

fn call(answer: &Value, i: usize) -> &Value {
    &answer["calls"][i]
}

/// What every SDK transport must show: the server, the tools, a working `status`, and a
/// readable error for an unknown tool and for bad arguments.
fn check_sdk_answer(transport: &str, answer: &Value) {
    assert_eq!(answer["server"]["name"], "sentry-mcp", "{transport}");
    let names = tool_names(answer);
    assert!(
        names.contains(&"status".to_owned()),
        "{transport}: {names:?}"
    );
    let status = call(answer, 0);
    assert_eq!(status["is_error"], false, "{transport}: {status}");
    assert!(
        status["text"]
            .as_str()
            .unwrap()
            .contains("sentry-mcp index:"),
        "{transport}: {status}"
    );
    let unknown = call(answer, 1);
    assert_eq!(unknown["is_error"], true, "{transport}: {unknown}");
    assert!(
        unknown["text"].as_str().unwrap().contains("not found"),
        "{transport}: {unknown}"
    );
    let bad = call(answer, 2);
    assert_eq!(bad["is_error"], true, "{transport}: {bad}");
    assert!(
        bad["text"].as_str().unwrap().contains("issue_id"),
        "{transport}: the error should name the missing argument: {bad}"
    );
}

fn sdk_calls() -> Vec<(&'static str, Value)> {
    vec![
        ("status", json!({})),
        ("no_such_tool", json!({})),
        ("get_issue", json!({})),
    ]
}

#[tokio::test]
async fn python_sdk_over_sse_streamable_http_and_stdio() {
    let dir = tempfile::tempdir().unwrap();
    let server = demo_server(dir.path(), &[]).await;
    let sse_url = format!("{}/sse", base(&server));
    let http_url = format!("{}/mcp", base(&server));
    let data_dir = dir.path().to_str().unwrap();
    let stdio_cmd = [BIN, "stdio", "--data-dir", data_dir];
    let calls = sdk_calls();
    let (sse, http, stdio) = tokio::join!(
        mcp_call(Target::Sse(&sse_url), &calls, &[]),
        mcp_call(Target::Http(&http_url), &calls, &[]),
        mcp_call(Target::Stdio(&stdio_cmd), &calls, &[]),
    );
    check_sdk_answer("sse", &sse);
    check_sdk_answer("streamable http", &http);
    check_sdk_answer("stdio", &stdio);
    // Every transport serves the same tools.
    assert_eq!(tool_names(&sse), tool_names(&http));
    assert_eq!(tool_names(&sse), tool_names(&stdio));
}

#[tokio::test]
async fn holmes_client_code_over_sse_and_streamable_http() {
    let dir = tempfile::tempdir().unwrap();
    let server = demo_server(dir.path(), &[]).await;
    // Holmes appends /sse in sse mode: give it the bare base URL, as its docs do.
    let sse_base = base(&server);
    let mcp_url = format!("{sse_base}/mcp");
    let (sse, http) = tokio::join!(
        holmes_probe(
            &sse_base,
            "sse",
            &[
                "--tool",
                "status",
                "--repeat",
                "3",
                "--health-check-tool",
                "status"
            ],
        ),
        holmes_probe(
            &mcp_url,
            "streamable-http",
            &[
                "--tool",
                "status",
                "--repeat",
                "3",
                "--health-check-tool",
                "status"
            ],
        ),
    );
    for (mode, out) in [("sse", &sse), ("streamable-http", &http)] {
        assert_eq!(out["impl"], "holmes", "{mode}: {out}");
        assert_eq!(out["prerequisites_ok"], true, "{mode}: {out}");
        assert!(out["ntools"].as_u64().unwrap() >= 1, "{mode}: {out}");
        assert_eq!(out["call"]["status"], "success", "{mode}: {out}");
        assert!(
            out["call"]["data"]
                .as_str()
                .unwrap()
                .contains("sentry-mcp index:"),
            "{mode}: {out}"
        );
        assert_eq!(out["call"]["latency_session_each"]["n"], 3, "{mode}");
    }
    assert!(
        sse["effective_url"].as_str().unwrap().ends_with("/sse"),
        "{sse}"
    );
}

#[tokio::test]
async fn concurrent_sse_sessions_each_get_their_own_answers() {
    let dir = tempfile::tempdir().unwrap();
    let server = demo_server(dir.path(), &[]).await;
    let base = base(&server);
    let sessions = 40u64;
    let mut tasks = Vec::new();
    for n in 0..sessions {
        let base = base.clone();
        tasks.push(tokio::spawn(async move {
            let mut s = SseSession::open(&base, &[]).await.unwrap();
            // Ids unique across sessions: a leak between sessions would show as a
            // foreign id on this stream (SseSession::request checks every message).
            let id = 1000 * (n + 1);
            let init = s.initialize(id).await;
            assert_eq!(init["result"]["serverInfo"]["name"], "sentry-mcp");
            for k in 1..=3 {
                let answer = s
                    .request(
                        id + k,
                        "tools/call",
                        json!({"name": "status", "arguments": {}}),
                    )
                    .await;
                assert_eq!(answer["result"]["isError"], false, "{answer}");
            }
            let ping = s.request(id + 9, "ping", json!({})).await;
            assert_eq!(ping["result"], json!({}));
            s.session_id().to_owned()
        }));
    }
    let mut ids = std::collections::HashSet::new();
    for t in tasks {
        ids.insert(t.await.unwrap());
    }
    assert_eq!(ids.len() as u64, sessions, "session ids must be unique");
    // Every stream was dropped: the sessions are gone.
    wait_for_sse_sessions(&server, 0).await;
    let (_, metrics) = server.get(server.mcp, "/metrics").await;
    assert!(
        metrics.contains(&format!(
            "sentry_mcp_mcp_sse_sessions_opened_total {sessions}"
        )),
        "{metrics}"
    );
}

async fn sse_sessions_open(server: &Server) -> u64 {
    let (_, metrics) = server.get(server.mcp, "/metrics").await;
    metrics
        .lines()
        .find_map(|l| l.strip_prefix("sentry_mcp_mcp_sse_sessions "))
        .unwrap_or_else(|| panic!("no session gauge in /metrics:\n{metrics}"))
        .trim()
        .parse()
        .unwrap()
}

async fn wait_for_sse_sessions(server: &Server, n: u64) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let open = sse_sessions_open(server).await;
        if open == n {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{open} SSE sessions still open, expected {n}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_client_that_disconnects_mid_call_is_cleaned_up() {
    let dir = tempfile::tempdir().unwrap();
    let server = demo_server(dir.path(), &[]).await;
    let base = base(&server);
    for round in 0..5 {
        let mut s = SseSession::open(&base, &[]).await.unwrap();
        s.initialize(1).await;
        wait_for_sse_sessions(&server, 1).await;
        // A call in flight, then the client goes away without reading the answer.
        let (status, _) = s
            .post(&json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
                          "params": {"name": "status", "arguments": {}}}))
            .await;
        assert_eq!(status, 202, "round {round}");
        let endpoint = s.endpoint.clone();
        drop(s);
        wait_for_sse_sessions(&server, 0).await;
        // The closed session is gone for good.
        let (status, body) = post_raw(
            &http_client(),
            &base,
            &endpoint,
            &[],
            json!({"jsonrpc": "2.0", "id": 3, "method": "ping"}).to_string(),
        )
        .await;
        assert_eq!(status, 404, "round {round}: {body}");
    }
    // The server is healthy and serves new sessions.
    assert_eq!(server.get(server.mcp, "/health").await.0, 200);
    let mut s = SseSession::open(&base, &[]).await.unwrap();
    s.initialize(1).await;
    let answer = s
        .request(2, "tools/call", json!({"name": "status", "arguments": {}}))
        .await;
    assert_eq!(answer["result"]["isError"], false);
    let logs = server.logs();
    assert!(!logs.contains("panicked"), "{logs}");
}

#[tokio::test]
async fn messages_refusals_are_one_line_reasons() {
    let dir = tempfile::tempdir().unwrap();
    let server = demo_server(dir.path(), &["--mcp-max-request-bytes", "4096"]).await;
    let base = base(&server);
    let client = http_client();
    let ping = json!({"jsonrpc": "2.0", "id": 1, "method": "ping"}).to_string();
    let one_line = |body: &str| body.trim_end().lines().count() == 1;

    let (status, body) = post_raw(
        &client,
        &base,
        "/messages?sessionId=nope",
        &[],
        ping.clone(),
    )
    .await;
    assert_eq!(status, 404, "{body}");
    assert!(
        body.contains("unknown or closed session") && one_line(&body),
        "{body}"
    );
    let (status, body) = post_raw(&client, &base, "/messages", &[], ping.clone()).await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("sessionId") && one_line(&body), "{body}");

    let mut s = SseSession::open(&base, &[]).await.unwrap();
    assert!(
        s.endpoint.starts_with("/messages?sessionId="),
        "{}",
        s.endpoint
    );
    // Bodies that are not JSON-RPC: 400 with a one-line JSON-RPC error (see
    // legacy_sse_answers_protocol_errors_as_json_rpc).
    let (status, body) = s.post_raw("{\"jsonrpc\": \"2.0\", ").await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body.contains("not valid JSON") && body.contains("-32700") && one_line(&body),
        "{body}"
    );
    let (status, body) = s.post(&json!({"hello": "world"})).await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body.contains("`jsonrpc` must be") && body.contains("-32600") && one_line(&body),
        "{body}"
    );
    let (status, _) = s.post_raw(vec![b' '; 5000]).await;
    assert_eq!(status, 413);
    // The session survived all of that.
    s.initialize(7).await;
    let answer = s.request(8, "ping", json!({})).await;
    assert_eq!(answer["result"], json!({}));
    // A batch is accepted and answered message by message.
    let (status, _) = s
        .post(&json!([{"jsonrpc": "2.0", "id": 20, "method": "ping"},
                      {"jsonrpc": "2.0", "id": 21, "method": "ping"}]))
        .await;
    assert_eq!(status, 202);
    let mut ids = Vec::new();
    for _ in 0..2 {
        let (_, data) = s.next_event().await.unwrap();
        ids.push(serde_json::from_str::<Value>(&data).unwrap()["id"].clone());
    }
    ids.sort_by_key(|v| v.as_u64());
    assert_eq!(ids, vec![json!(20), json!(21)]);
}

#[tokio::test]
async fn bearer_token_is_required_on_mcp_routes_only() {
    let token = "test-mcp-token-5b1e";
    let dir = tempfile::tempdir().unwrap();
    let server = demo_server(dir.path(), &["--mcp-token", token]).await;
    let base = base(&server);
    let client = http_client();
    let bearer = format!("Bearer {token}");

    // Without or with a wrong token: 401 with a one-line reason, on every MCP route.
    let (status, body) = SseSession::open(&base, &[]).await.err().unwrap();
    assert_eq!(status, 401);
    assert!(body.contains("missing bearer token"), "{body}");
    let (status, body) = SseSession::open(&base, &[("authorization", "Bearer nope")])
        .await
        .err()
        .unwrap();
    assert_eq!((status, body.trim()), (401, "wrong bearer token"));
    let init = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                   "clientInfo": {"name": "t", "version": "0"}}});
    let resp = client
        .post(format!("{base}/mcp"))
        .header("accept", "application/json, text/event-stream")
        .json(&init)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    assert_eq!(resp.headers()["www-authenticate"], "Bearer");
    let (status, _) = post_raw(&client, &base, "/messages?sessionId=x", &[], "{}").await;
    assert_eq!(status, 401);
    // Probes stay open.
    for path in ["/health", "/ready", "/metrics"] {
        assert_eq!(server.get(server.mcp, path).await.0, 200, "{path}");
    }

    // With the token: the SDK over both transports, and the raw client.
    let auth = [("Authorization", bearer.as_str())];
    let sse_url = format!("{base}/sse");
    let http_url = format!("{base}/mcp");
    let calls = [("status", json!({}))];
    let (sse, http) = tokio::join!(
        mcp_call(Target::Sse(&sse_url), &calls, &auth),
        mcp_call(Target::Http(&http_url), &calls, &auth),
    );
    assert_eq!(call(&sse, 0)["is_error"], false, "{sse}");
    assert_eq!(call(&http, 0)["is_error"], false, "{http}");
    let mut s = SseSession::open(&base, &[("authorization", bearer.as_str())])
        .await
        .unwrap();
    s.initialize(1).await;
    // The SDK without the token fails to connect.
    let refused = mcp_call_raw(Target::Sse(&sse_url), &calls, &[]).await;
    assert!(!refused.success, "{}", refused.stdout);
    assert!(refused.stderr.contains("401"), "{}", refused.stderr);

    assert!(
        !server.logs().contains(token),
        "the token must never be logged"
    );
}

#[tokio::test]
async fn host_and_origin_validation() {
    let dir = tempfile::tempdir().unwrap();
    let server = demo_server(dir.path(), &[]).await;
    let base = base(&server);
    let client = http_client();
    let initialize = |host: &str, origin: Option<&str>| {
        let mut req = client
            .post(format!("{base}/mcp"))
            .header("host", host)
            .header("accept", "application/json, text/event-stream")
            .json(&json!({"jsonrpc": "2.0", "id": 1, "method": "initialize",
                "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                           "clientInfo": {"name": "t", "version": "0"}}}));
        if let Some(origin) = origin {
            req = req.header("origin", origin);
        }
        req.send()
    };
    // The in-cluster Service name Holmes uses works by default, on /mcp and /sse.
    let cluster = "sentry-mcp.monitoring.svc.cluster.local:8000";
    for host in [cluster, "sentry-mcp:8000", "10.0.0.7:8000", "localhost"] {
        let resp = initialize(host, None).await.unwrap();
        assert_eq!(resp.status(), 200, "{host}");
        let body = resp.text().await.unwrap();
        assert!(body.contains("\"serverInfo\""), "{host}: {body}");
    }
    let resp = client
        .get(format!("{base}/sse"))
        .header("host", cluster)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    drop(resp);
    // Other names are refused (DNS rebinding), with a reason naming the flag.
    let resp = initialize("evil.example.com", None).await.unwrap();
    assert_eq!(resp.status(), 403);
    assert!(resp.text().await.unwrap().contains("--allowed-hosts"));
    // A browser Origin must be the server's own or a loopback page.
    let resp = initialize(cluster, Some("https://evil.example.com"))
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    assert!(resp.text().await.unwrap().contains("--allowed-origins"));
    for origin in [
        "http://localhost:6274",
        "http://sentry-mcp.monitoring.svc.cluster.local:8000",
    ] {
        assert_eq!(
            initialize(cluster, Some(origin)).await.unwrap().status(),
            200,
            "{origin}"
        );
    }
    // The SDK through a non-loopback Host works end to end: --allowed-hosts adds names.
    drop(server);
    let dir = tempfile::tempdir().unwrap();
    let server = demo_server(dir.path(), &["--allowed-hosts", "mcp.internal.example"]).await;
    let resp = client
        .post(format!("http://{}/mcp", server.mcp))
        .header("host", "mcp.internal.example:8000")
        .header("accept", "application/json, text/event-stream")
        .json(&json!({"jsonrpc": "2.0", "id": 1, "method": "initialize",
            "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                       "clientInfo": {"name": "t", "version": "0"}}}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
}

/// A POST whose body never finishes arriving: it holds one concurrency slot until dropped.
async fn hold_a_slot(server: &Server) -> tokio::net::TcpStream {
    let mut slow = tokio::net::TcpStream::connect(server.mcp).await.unwrap();
    slow.write_all(
        b"POST /messages?sessionId=x HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{",
    )
    .await
    .unwrap();
    slow
}

#[tokio::test]
async fn concurrency_limit_answers_503() {
    let dir = tempfile::tempdir().unwrap();
    let server = demo_server(dir.path(), &["--mcp-max-concurrency", "1"]).await;
    // Hold the only permit: a POST whose body never finishes arriving.
    let slow = hold_a_slot(&server).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (status, body) = post_raw(
        &http_client(),
        &base(&server),
        "/messages?sessionId=x",
        &[],
        "{}",
    )
    .await;
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("--mcp-max-concurrency"), "{body}");
    // Event streams are not counted, and the permit comes back when the request ends.
    let s = SseSession::open(&base(&server), &[]).await.unwrap();
    drop(slow);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        s.post(&json!({"jsonrpc": "2.0", "id": 1, "method": "ping"}))
            .await
            .0,
        202
    );
    // A request that finds the slot taken waits for it (briefly) instead of failing.
    let slow = hold_a_slot(&server).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let waiting = tokio::spawn(async move {
        s.post(&json!({"jsonrpc": "2.0", "id": 2, "method": "ping"}))
            .await
            .0
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    drop(slow);
    assert_eq!(waiting.await.unwrap(), 202);
}

#[tokio::test]
async fn shutdown_ends_open_streams() {
    let dir = tempfile::tempdir().unwrap();
    let server = demo_server(dir.path(), &[]).await;
    let mut s = SseSession::open(&base(&server), &[]).await.unwrap();
    s.initialize(1).await;
    let started = Instant::now();
    let status = server.stop();
    assert!(status.success(), "{status:?}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "shutdown waited {:?} for an open SSE stream",
        started.elapsed()
    );
    assert!(
        s.next_event().await.is_none(),
        "the stream should have ended"
    );
}

#[tokio::test]
async fn stdio_writes_only_mcp_to_stdout() {
    let dir = tempfile::tempdir().unwrap();
    // Without an index: a clear error on stderr, nothing on stdout.
    let out = std::process::Command::new(BIN)
        .args(["stdio", "--data-dir", dir.path().to_str().unwrap()])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(out.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("no index in"), "{stderr}");

    let server = demo_server(dir.path(), &[]).await;
    wait_for(dir.path(), "kind:issue", 1).await;
    let mut child = tokio::process::Command::new(BIN)
        .args(["stdio", "--data-dir", dir.path().to_str().unwrap()])
        .env("RUST_LOG", "debug")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let messages = [
        json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {},
            "clientInfo": {"name": "t", "version": "0"}}}),
        json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
        json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}),
        json!({"jsonrpc": "2.0", "id": 3, "method": "tools/call",
               "params": {"name": "status", "arguments": {}}}),
    ];
    for m in &messages {
        stdin.write_all(format!("{m}\n").as_bytes()).await.unwrap();
    }
    let mut stdout = child.stdout.take().unwrap();
    let mut text = String::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while text.lines().filter(|l| l.contains("\"id\":3")).count() == 0 {
        assert!(
            Instant::now() < deadline,
            "no answer to the status call: {text}"
        );
        let mut buf = [0u8; 65536];
        let n = tokio::time::timeout(Duration::from_secs(20), stdout.read(&mut buf))
            .await
            .unwrap()
            .unwrap();
        assert!(n > 0, "stdout closed: {text}");
        text.push_str(std::str::from_utf8(&buf[..n]).unwrap());
    }
    drop(stdin);
    let status = tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .expect("stdio server exits when stdin closes")
        .unwrap();
    assert!(status.success());
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).await.unwrap();
    text.push_str(&rest);
    let mut answered = Vec::new();
    for line in text.lines() {
        let v: Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("stdout must carry only MCP messages ({e}): {line:?}"));
        assert_eq!(v["jsonrpc"], "2.0", "{line}");
        answered.push(v["id"].clone());
    }
    answered.sort_by_key(|v| v.as_u64());
    assert_eq!(answered, vec![json!(1), json!(2), json!(3)]);
    let status_text = text.lines().find(|l| l.contains("\"id\":3")).unwrap();
    assert!(status_text.contains("sentry-mcp index:"), "{status_text}");
    let mut logs = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut logs)
        .await
        .unwrap();
    assert!(logs.contains("serving MCP on stdin/stdout"), "{logs}");
    drop(server);
}

/// Holmes opens a new session for every call, so a session must cost about nothing. The
/// bound is loose (a debug build answers in a few ms); it catches stalls such as a
/// delayed-ACK wait (~40 ms) when responses go out in several small writes.
#[tokio::test]
async fn one_session_per_call_is_cheap_on_both_transports() {
    let dir = tempfile::tempdir().unwrap();
    let server = demo_server(dir.path(), &[]).await;
    let url = base(&server);
    let args = |tool: &str| {
        vec![
            url.clone(),
            tool.to_owned(),
            "{}".to_owned(),
            "30".to_owned(),
        ]
    };
    let sse = run_python(
        &shared_client("lean_sse.py"),
        &args("status"),
        Duration::from_secs(60),
    )
    .await
    .json();
    let http = run_python(
        &repo_root().join("tests/python/lean_http.py"),
        &args("status"),
        Duration::from_secs(60),
    )
    .await
    .json();
    for (name, stats) in [("sse", &sse), ("streamable http", &http)] {
        assert_eq!(stats["is_error"], false, "{name}: {stats}");
        let p50 = stats["p50_ms"].as_f64().unwrap();
        // A delayed-ACK stall costs at least 40 ms on every session, so it shows even when
        // a loaded machine (CI next to a build) makes a healthy session take 20-30 ms.
        assert!(
            p50 < 38.0,
            "{name}: a whole session took {p50} ms (p50): {stats}"
        );
    }
}

/// deploy/holmes-config/sentry-toolset.yaml, loaded by Holmes's own loader and pointed at a
/// server that requires a token: both entries connect, pass the `status` health check and
/// call a tool, with the token filled in from SENTRY_MCP_TOKEN as in a Holmes pod.
#[tokio::test]
async fn holmes_loads_the_shipped_toolset_file() {
    let token = "toolset-file-token-81c2";
    let dir = tempfile::tempdir().unwrap();
    let server = demo_server(dir.path(), &["--mcp-token", token]).await;
    let yaml = repo_root().join("deploy/holmes-config/sentry-toolset.yaml");
    let out = run_python(
        &repo_root().join("tests/python/holmes_toolset_check.py"),
        &[
            yaml.to_str().unwrap().to_owned(),
            base(&server),
            token.to_owned(),
        ],
        Duration::from_secs(180),
    )
    .await
    .json();
    let expect = [
        ("sentry", "sse", "/sse", true),
        ("sentry-http", "streamable-http", "/mcp", false),
    ];
    for (name, mode, path, enabled) in expect {
        let t = &out[name];
        assert_eq!(t["mode"], mode, "{name}: {t}");
        assert_eq!(t["enabled"], enabled, "{name}: {t}");
        let url = t["url"].as_str().unwrap();
        assert!(
            url.starts_with("http://sentry-mcp.")
                && url.ends_with(&format!(".svc.cluster.local:8000{path}")),
            "{name}: {url}"
        );
        assert_eq!(t["prerequisites_ok"], true, "{name}: {t}");
        assert!(t["ntools"].as_u64().unwrap() >= 1, "{name}: {t}");
        assert_eq!(t["call_status"], "success", "{name}: {t}");
    }
    // The token really was needed: without it the same file fails to connect.
    let refused = run_python(
        &repo_root().join("tests/python/holmes_toolset_check.py"),
        &[
            yaml.to_str().unwrap().to_owned(),
            base(&server),
            "wrong".to_owned(),
        ],
        Duration::from_secs(180),
    )
    .await
    .json();
    assert_eq!(refused["sentry"]["prerequisites_ok"], false, "{refused}");
}

/// Bodies that are not JSON, and JSON that is not one JSON-RPC message, with the id the
/// error must carry (`null` when none can be read).
fn protocol_garbage() -> (Vec<&'static str>, Vec<(String, Value)>) {
    let malformed = vec!["{\"jsonrpc\": \"2.0\", ", "", "not json", "{\"id\": 1,}"];
    let invalid = vec![
        (json!({"hello": "world"}).to_string(), Value::Null),
        ("42".to_owned(), Value::Null),
        ("[]".to_owned(), Value::Null),
        (
            json!({"jsonrpc": "1.0", "id": 3, "method": "ping"}).to_string(),
            json!(3),
        ),
        (
            json!({"jsonrpc": "2.0", "id": "four", "method": 12}).to_string(),
            json!("four"),
        ),
        (
            json!({"jsonrpc": "2.0", "id": {"no": 1}, "method": "ping"}).to_string(),
            Value::Null,
        ),
    ];
    (malformed, invalid)
}

/// Known methods with params that do not fit, and the name the error must mention.
fn invalid_params() -> Vec<(Value, &'static str)> {
    vec![
        (
            json!({"jsonrpc": "2.0", "id": 7, "method": "tools/call",
                   "params": {"arguments": {}}}),
            "`name`",
        ),
        (
            json!({"jsonrpc": "2.0", "id": 8, "method": "tools/call"}),
            "`params`",
        ),
        (
            json!({"jsonrpc": "2.0", "id": 9, "method": "tools/call",
                   "params": {"name": "status", "arguments": "{}"}}),
            "expected a map",
        ),
        (
            json!({"jsonrpc": "2.0", "id": 10, "method": "tools/list", "params": []}),
            "tools/list",
        ),
    ]
}

/// Streamable HTTP (`POST /mcp`): malformed JSON is 400 with a JSON-RPC parse error
/// (-32700, `"id": null`), JSON that is not a JSON-RPC message is 400 with -32600, a known
/// method with invalid params is -32602 naming what is wrong (not -32601), and a wrong
/// `Content-Type` stays 415. The session survives all of it.
#[tokio::test]
async fn streamable_http_answers_protocol_errors_as_json_rpc() {
    let dir = tempfile::tempdir().unwrap();
    let server = demo_server(dir.path(), &[]).await;
    let mut mcp = HttpMcp::new(&base(&server));
    let (malformed, invalid) = protocol_garbage();
    for body in malformed {
        let answer = mcp.post_raw("application/json", body).await;
        assert_eq!(answer.status, 400, "{body:?}: {answer:?}");
        assert!(
            answer.content_type.starts_with("application/json"),
            "{answer:?}"
        );
        let text = assert_jsonrpc_error(&answer.message(), -32700, &Value::Null);
        assert!(text.contains("JSON"), "{body:?}: {text}");
    }
    for (body, id) in &invalid {
        let answer = mcp.post_raw("application/json", body.clone()).await;
        assert_eq!(answer.status, 400, "{body}: {answer:?}");
        assert!(
            answer.content_type.starts_with("application/json"),
            "{answer:?}"
        );
        assert_jsonrpc_error(&answer.message(), -32600, id);
    }
    // A batch is not one message: -32600 (streamable HTTP takes one message per POST).
    let batch = json!([{"jsonrpc": "2.0", "id": 1, "method": "ping"}]).to_string();
    let answer = mcp.post_raw("application/json", batch).await;
    assert_eq!(answer.status, 400, "{answer:?}");
    assert_jsonrpc_error(&answer.message(), -32600, &Value::Null);
    // The media type rule stays: JSON sent as text/plain is 415; so does the size limit.
    let ping = json!({"jsonrpc": "2.0", "id": 1, "method": "ping"}).to_string();
    assert_eq!(mcp.post_raw("text/plain", ping.clone()).await.status, 415);
    let huge = mcp
        .post_raw("application/json", vec![b' '; 1_100_000])
        .await;
    assert_eq!(huge.status, 413, "{huge:?}");
    // The rest of that body is never read: the server says it closes the connection, so
    // the client's next request goes down a new one instead of being lost.
    assert_eq!(huge.connection.as_deref(), Some("close"), "{huge:?}");

    // initialize with invalid params: -32602 naming the field, and no session.
    let answer = mcp
        .post(&json!({"jsonrpc": "2.0", "id": 1, "method": "initialize",
                      "params": {"capabilities": {}, "clientInfo": {"name": "t", "version": "0"}}}))
        .await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(answer.session, None, "{answer:?}");
    let text = assert_jsonrpc_error(&answer.message(), -32602, &json!(1));
    assert!(text.contains("`protocolVersion`"), "{text}");

    let init = mcp.initialize().await;
    assert_eq!(init["result"]["serverInfo"]["name"], "sentry-mcp", "{init}");
    for (message, names) in invalid_params() {
        let answer = mcp.post(&message).await;
        assert_eq!(answer.status, 200, "{message}: {answer:?}");
        let text = assert_jsonrpc_error(&answer.message(), -32602, &message["id"]);
        assert!(
            text.contains(names) && text.contains(message["method"].as_str().unwrap()),
            "{message}: the error should name {names} and the method: {text}"
        );
    }
    // An unknown method is still -32601.
    let answer = mcp
        .post(&json!({"jsonrpc": "2.0", "id": 11, "method": "tools/frobnicate", "params": {}}))
        .await;
    assert_jsonrpc_error(&answer.message(), -32601, &json!(11));
    // The session still answers.
    let answer = mcp.post_raw("application/json", ping).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(answer.message()["result"], json!({}), "{answer:?}");
    let answer = mcp
        .post(&json!({"jsonrpc": "2.0", "id": 12, "method": "tools/list"}))
        .await;
    assert!(
        answer.message()["result"]["tools"]
            .as_array()
            .unwrap()
            .len()
            > 1,
        "{answer:?}"
    );
    let answer = mcp
        .post(&json!({"jsonrpc": "2.0", "id": 13, "method": "tools/call",
                      "params": {"name": "status", "arguments": {}}}))
        .await;
    assert_eq!(answer.message()["result"]["isError"], false, "{answer:?}");
}

/// `DELETE /mcp` ends a session once (200); deleting it again, or a session that never
/// existed, is 404, as is any other request on the ended session.
#[tokio::test]
async fn deleting_an_unknown_or_ended_session_is_404() {
    let dir = tempfile::tempdir().unwrap();
    let server = demo_server(dir.path(), &[]).await;
    let mut mcp = HttpMcp::new(&base(&server));
    mcp.initialize().await;
    let id = mcp.session.clone().unwrap();
    let ping = json!({"jsonrpc": "2.0", "id": 2, "method": "ping"});
    assert_eq!(mcp.post(&ping).await.status, 200);
    let answer = mcp.delete(&id).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    let answer = mcp.delete(&id).await;
    assert_eq!(answer.status, 404, "deleted twice: {answer:?}");
    let answer = mcp.delete("0123456789abcdef-no-such-session").await;
    assert_eq!(answer.status, 404, "never existed: {answer:?}");
    assert_eq!(mcp.post(&ping).await.status, 404);
    // A new session works.
    let mut fresh = HttpMcp::new(&base(&server));
    fresh.initialize().await;
    assert_eq!(fresh.post(&ping).await.status, 200);
}

/// Legacy SSE (`POST /messages`): malformed JSON and non-JSON-RPC bodies are 400 with a
/// JSON-RPC error body; invalid params of a known method are answered -32602 on the
/// session's stream, like any answer on this transport.
#[tokio::test]
async fn legacy_sse_answers_protocol_errors_as_json_rpc() {
    let dir = tempfile::tempdir().unwrap();
    let server = demo_server(dir.path(), &[]).await;
    let mut s = SseSession::open(&base(&server), &[]).await.unwrap();
    let (malformed, invalid) = protocol_garbage();
    for body in malformed {
        let (status, text) = s.post_raw(body).await;
        assert_eq!(status, 400, "{body:?}: {text}");
        assert_eq!(text.trim_end().lines().count(), 1, "{text}");
        let message: Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{body:?}: not a JSON-RPC error body ({e}): {text}"));
        assert_jsonrpc_error(&message, -32700, &Value::Null);
    }
    for (body, id) in &invalid {
        let (status, text) = s.post_raw(body.clone()).await;
        assert_eq!(status, 400, "{body}: {text}");
        let message: Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{body}: not a JSON-RPC error body ({e}): {text}"));
        assert_jsonrpc_error(&message, -32600, id);
    }
    s.initialize(1).await;
    for (message, names) in invalid_params() {
        let (status, text) = s.post(&message).await;
        assert_eq!(status, 202, "{message}: {text}");
        let (_, data) = s.next_event().await.expect("an answer on the stream");
        let answer: Value = serde_json::from_str(&data).unwrap();
        let text = assert_jsonrpc_error(&answer, -32602, &message["id"]);
        assert!(text.contains(names), "{message}: {text}");
    }
    // A batch with one bad call: each message is answered on its own.
    let (status, _) = s
        .post(
            &json!([{"jsonrpc": "2.0", "id": 30, "method": "tools/call", "params": {}},
                      {"jsonrpc": "2.0", "id": 31, "method": "ping"}]),
        )
        .await;
    assert_eq!(status, 202);
    let mut answers = std::collections::BTreeMap::new();
    for _ in 0..2 {
        let (_, data) = s.next_event().await.unwrap();
        let v: Value = serde_json::from_str(&data).unwrap();
        answers.insert(v["id"].as_u64().unwrap(), v);
    }
    assert_jsonrpc_error(&answers[&30], -32602, &json!(30));
    assert_eq!(answers[&31]["result"], json!({}));
    let answer = s
        .request(40, "tools/call", json!({"name": "status", "arguments": {}}))
        .await;
    assert_eq!(answer["result"]["isError"], false, "{answer}");
}

/// stdio: a line that is not JSON is answered with -32700 and `"id": null` (not dropped),
/// JSON that is not a JSON-RPC message with -32600, invalid params with -32602; the
/// session goes on and stdout carries only JSON-RPC.
#[tokio::test]
async fn stdio_answers_protocol_errors_instead_of_dropping_lines() {
    let dir = tempfile::tempdir().unwrap();
    let server = demo_server(dir.path(), &[]).await;
    wait_for(dir.path(), "kind:issue", 1).await;
    let mut stdio = StdioMcp::spawn(BIN, dir.path());
    let (malformed, invalid) = protocol_garbage();
    // An empty line is no message: nothing to answer.
    for line in malformed.into_iter().filter(|l| !l.is_empty()) {
        stdio.send_line(line.as_bytes()).await;
        let answer = stdio.next_message().await;
        assert_jsonrpc_error(&answer, -32700, &Value::Null);
    }
    stdio.send_line(b"\xff\xfe not utf-8").await;
    assert_jsonrpc_error(&stdio.next_message().await, -32700, &Value::Null);
    for (line, id) in &invalid {
        stdio.send_line(line.as_bytes()).await;
        assert_jsonrpc_error(&stdio.next_message().await, -32600, id);
    }
    stdio
        .send(
            &json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {},
            "clientInfo": {"name": "t", "version": "0"}}}),
        )
        .await;
    let init = stdio.next_message().await;
    assert_eq!(init["result"]["serverInfo"]["name"], "sentry-mcp", "{init}");
    stdio
        .send(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))
        .await;
    for (message, names) in invalid_params() {
        stdio.send(&message).await;
        let text = assert_jsonrpc_error(&stdio.next_message().await, -32602, &message["id"]);
        assert!(text.contains(names), "{message}: {text}");
    }
    stdio
        .send(&json!({"jsonrpc": "2.0", "id": 20, "method": "tools/call",
                      "params": {"name": "status", "arguments": {}}}))
        .await;
    let answer = stdio.next_message().await;
    assert_eq!(answer["id"], 20, "{answer}");
    assert_eq!(answer["result"]["isError"], false, "{answer}");
    let (status, rest) = stdio.finish().await;
    assert!(status.success(), "{status:?}");
    assert!(rest.is_empty(), "{rest:?}");
    drop(server);
}
