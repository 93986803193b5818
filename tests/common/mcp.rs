//! MCP client helpers: the official Python SDK (tests/python/mcp_call.py), Holmes's own
//! client code (shared/clients/holmes_mcp_probe.py), and a small raw legacy-SSE client
//! for what the SDKs hide (concurrency, disconnects, exact status codes).

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::OnceLock;
use std::time::Duration;

use serde_json::{Value, json};

/// The repository root (server/ is the test crate's manifest dir).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .canonicalize()
        .unwrap()
}

/// The shared client probes (`shared/clients/` beside the repository).
pub fn shared_client(name: &str) -> PathBuf {
    let path = repo_root().join("../shared/clients").join(name);
    assert!(
        path.is_file(),
        "the tests need the shared client {} (the `shared/` folder next to this repository)",
        path.display()
    );
    path
}

/// The Python that has the `mcp` SDK and `holmesgpt`: `SENTRY_MCP_TEST_PYTHON`, else the
/// repository's `.venv`, which is created from `tests/python/requirements.txt` the first
/// time it is needed (so `cargo test --workspace` works on a fresh machine). Panics with
/// the setup command when that fails: these tests never skip silently.
pub fn python() -> PathBuf {
    static CHECKED: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    CHECKED
        .get_or_init(|| {
            let setup = "create it once from the repository root with:\n    \
                 python3 -m venv .venv && .venv/bin/pip install -r tests/python/requirements.txt\n\
                 (`bash .ci/run` does this), or set SENTRY_MCP_TEST_PYTHON to a python that has them";
            if let Some(path) = std::env::var_os("SENTRY_MCP_TEST_PYTHON").map(PathBuf::from) {
                return has_clients(&path)
                    .map(|()| path.clone())
                    .map_err(|e| format!("SENTRY_MCP_TEST_PYTHON={}: {e}: {setup}", path.display()));
            }
            let path = repo_root().join(".venv/bin/python");
            if has_clients(&path).is_ok() {
                return Ok(path);
            }
            create_venv().map_err(|e| format!("could not create the test venv ({e}): {setup}"))?;
            has_clients(&path).map(|()| path).map_err(|e| format!("{e}: {setup}"))
        })
        .clone()
        .unwrap_or_else(|message| panic!("{message}"))
}

/// Whether `python` can import the SDK and Holmes.
fn has_clients(python: &std::path::Path) -> Result<(), String> {
    let out = std::process::Command::new(python)
        .args([
            "-c",
            "import importlib.util as u, sys; sys.exit(not (u.find_spec('mcp') and u.find_spec('holmes')))",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map_err(|e| format!("{} cannot run: {e}", python.display()))?;
    if out.success() {
        Ok(())
    } else {
        Err(format!(
            "{} lacks the `mcp` or `holmesgpt` package",
            python.display()
        ))
    }
}

/// `python3 -m venv .venv && .venv/bin/pip install -r tests/python/requirements.txt`, once,
/// even when several test processes start at the same time.
fn create_venv() -> Result<(), String> {
    let root = repo_root();
    let lock = root.join(".venv.lock");
    let started = std::time::Instant::now();
    let deadline = started + Duration::from_secs(1800);
    let mut waiting_said = false;
    while std::fs::create_dir(&lock).is_err() {
        if !waiting_said {
            progress("waiting for another test process that is creating the Python test venv");
            waiting_said = true;
        }
        if std::time::Instant::now() > deadline {
            return Err(format!(
                "{} is held by another test process",
                lock.display()
            ));
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    progress(&format!(
        "creating the Python test venv in {} (one time, a few minutes)",
        root.join(".venv").display()
    ));
    let run = |cmd: &mut std::process::Command| -> Result<(), String> {
        let status = cmd
            .current_dir(&root)
            .status()
            .map_err(|e| format!("{cmd:?}: {e}"))?;
        if status.success() {
            Ok(())
        } else {
            Err(format!("{cmd:?} failed: {status}"))
        }
    };
    let result = if has_clients(&root.join(".venv/bin/python")).is_ok() {
        Ok(()) // another process made it while this one waited
    } else {
        run(std::process::Command::new("python3").args(["-m", "venv", ".venv"])).and_then(|()| {
            progress("installing tests/python/requirements.txt (mcp, holmesgpt) from PyPI");
            run(std::process::Command::new(".venv/bin/pip").args([
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "-r",
                "tests/python/requirements.txt",
            ]))
        })
    };
    let _ = std::fs::remove_dir(&lock);
    if result.is_ok() {
        progress(&format!(
            "Python test venv ready after {:.0?}",
            started.elapsed()
        ));
    }
    result
}

/// A line on the terminal even while the test harness captures output (it captures the
/// print macros, not writes to the stderr handle), so the first run does not look hung.
fn progress(line: &str) {
    use std::io::Write as _;
    let _ = writeln!(std::io::stderr(), "sentry-mcp tests: {line}");
}

/// What a Python client printed.
pub struct PyRun {
    pub success: bool,
    pub stdout: String,
    pub stderr: String,
}

impl PyRun {
    /// The JSON it printed; panics with its stderr when it failed.
    pub fn json(&self) -> Value {
        assert!(
            self.success,
            "python client failed:\n{}\n{}",
            self.stdout, self.stderr
        );
        serde_json::from_str(self.stdout.trim()).unwrap_or_else(|e| {
            panic!(
                "python client printed no JSON ({e}):\n{}\n{}",
                self.stdout, self.stderr
            )
        })
    }
}

/// Run a Python script with the test venv, killed after `timeout`.
pub async fn run_python(script: &std::path::Path, args: &[String], timeout: Duration) -> PyRun {
    let mut cmd = tokio::process::Command::new(python());
    cmd.arg(script)
        .args(args)
        .env("LITELLM_LOCAL_MODEL_COST_MAP", "True")
        .env("HOLMES_DISABLE_TELEMETRY", "1")
        .stdin(Stdio::null())
        .kill_on_drop(true);
    let out = tokio::time::timeout(timeout, cmd.output())
        .await
        .unwrap_or_else(|_| panic!("{} {args:?} took over {timeout:?}", script.display()))
        .expect("run python");
    PyRun {
        success: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Where an MCP client connects.
pub enum Target<'a> {
    /// `http://host:port/sse`
    Sse(&'a str),
    /// `http://host:port/mcp`
    Http(&'a str),
    /// A server command line for stdio.
    Stdio(&'a [&'a str]),
}

/// `tests/python/mcp_call.py`: initialize, list tools, then each call in one SDK session.
/// Headers are `("Authorization", "Bearer x")` pairs.
pub async fn mcp_call_raw(
    target: Target<'_>,
    calls: &[(&str, Value)],
    headers: &[(&str, &str)],
) -> PyRun {
    let mut args: Vec<String> = match target {
        Target::Sse(url) => vec![
            "--transport".into(),
            "sse".into(),
            "--url".into(),
            url.into(),
        ],
        Target::Http(url) => vec![
            "--transport".into(),
            "http".into(),
            "--url".into(),
            url.into(),
        ],
        Target::Stdio(cmd) => vec![
            "--transport".into(),
            "stdio".into(),
            "--cmd".into(),
            serde_json::to_string(cmd).unwrap(),
        ],
    };
    for (name, value) in headers {
        args.extend(["--header".into(), format!("{name}: {value}")]);
    }
    for (tool, arguments) in calls {
        args.extend([
            "--tool".into(),
            (*tool).into(),
            "--args".into(),
            arguments.to_string(),
        ]);
    }
    args.extend(["--timeout".into(), "20".into()]);
    let script = repo_root().join("tests/python/mcp_call.py");
    run_python(&script, &args, Duration::from_secs(90)).await
}

/// [`mcp_call_raw`], which must succeed: its JSON (`server`, `tools`, `calls`).
pub async fn mcp_call(
    target: Target<'_>,
    calls: &[(&str, Value)],
    headers: &[(&str, &str)],
) -> Value {
    mcp_call_raw(target, calls, headers).await.json()
}

/// Tool names in an `mcp_call` answer.
pub fn tool_names(answer: &Value) -> Vec<String> {
    answer["tools"]
        .as_array()
        .expect("tools")
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_owned())
        .collect()
}

/// `shared/clients/holmes_mcp_probe.py --impl holmes` (Holmes's own MCP toolset code).
pub async fn holmes_probe(url: &str, mode: &str, extra: &[&str]) -> Value {
    let mut args: Vec<String> = ["--impl", "holmes", "--url", url, "--mode", mode]
        .iter()
        .map(|s| s.to_string())
        .collect();
    args.extend(extra.iter().map(|s| s.to_string()));
    run_python(
        &shared_client("holmes_mcp_probe.py"),
        &args,
        Duration::from_secs(180),
    )
    .await
    .json()
}

/// A raw legacy-SSE session: `GET /sse`, read the endpoint, `POST` messages to it.
pub struct SseSession {
    response: reqwest::Response,
    buffer: Vec<u8>,
    client: reqwest::Client,
    base: String,
    headers: Vec<(String, String)>,
    /// `/messages?sessionId=...` as sent in the endpoint event.
    pub endpoint: String,
}

impl SseSession {
    /// Open a session on `base` (`http://host:port`). Err is the refusal (status, body).
    pub async fn open(base: &str, headers: &[(&str, &str)]) -> Result<SseSession, (u16, String)> {
        Self::open_with(crate::common::http_client(), base, headers).await
    }

    /// [`Self::open`] through `client`, which may be shared by many sessions (a load
    /// generator's one connection pool, instead of an HTTP client built per session).
    pub async fn open_with(
        client: reqwest::Client,
        base: &str,
        headers: &[(&str, &str)],
    ) -> Result<SseSession, (u16, String)> {
        let mut request = client
            .get(format!("{base}/sse"))
            .header("accept", "text/event-stream");
        for (k, v) in headers {
            request = request.header(*k, *v);
        }
        let response = request.send().await.expect("GET /sse");
        let status = response.status().as_u16();
        if status != 200 {
            return Err((status, response.text().await.unwrap_or_default()));
        }
        assert_eq!(
            response.headers()["content-type"].to_str().unwrap(),
            "text/event-stream"
        );
        let mut session = SseSession {
            response,
            buffer: Vec::new(),
            client,
            base: base.to_owned(),
            headers: headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            endpoint: String::new(),
        };
        let (event, data) = session.next_event().await.expect("endpoint event");
        assert_eq!(event, "endpoint", "first event must be the endpoint");
        session.endpoint = data;
        Ok(session)
    }

    pub fn session_id(&self) -> &str {
        self.endpoint.rsplit('=').next().unwrap()
    }

    /// The next event (name, data), skipping keep-alive comments; None when the stream ends.
    pub async fn next_event(&mut self) -> Option<(String, String)> {
        loop {
            if let Some(end) = self.buffer.windows(2).position(|w| w == b"\n\n") {
                let raw: Vec<u8> = self.buffer.drain(..end + 2).collect();
                let text = String::from_utf8(raw).unwrap();
                let mut event = String::from("message");
                let mut data = Vec::new();
                for line in text.lines() {
                    if let Some(v) = line.strip_prefix("event:") {
                        event = v.trim().to_owned();
                    } else if let Some(v) = line.strip_prefix("data:") {
                        data.push(v.strip_prefix(' ').unwrap_or(v).to_owned());
                    }
                }
                if data.is_empty() {
                    continue; // a comment (keep-alive)
                }
                return Some((event, data.join("\n")));
            }
            let chunk = tokio::time::timeout(Duration::from_secs(20), self.response.chunk())
                .await
                .expect("no SSE event within 20 s");
            match chunk {
                Ok(Some(bytes)) => self.buffer.extend_from_slice(&bytes),
                _ => return None,
            }
        }
    }

    /// POST one raw body to this session's endpoint.
    pub async fn post_raw(&self, body: impl Into<reqwest::Body>) -> (u16, String) {
        post_raw(
            &self.client,
            &self.base,
            &self.endpoint,
            &self.headers,
            body,
        )
        .await
    }

    pub async fn post(&self, message: &Value) -> (u16, String) {
        self.post_raw(message.to_string()).await
    }

    /// Send a request and wait for its answer, which must be the next message on this
    /// session's stream (sessions never see each other's answers).
    pub async fn request(&mut self, id: u64, method: &str, params: Value) -> Value {
        let (status, body) = self
            .post(&json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}))
            .await;
        assert_eq!(status, 202, "{body}");
        let (event, data) = self
            .next_event()
            .await
            .expect("stream ended before the answer");
        assert_eq!(event, "message");
        let message: Value = serde_json::from_str(&data).unwrap();
        assert_eq!(
            message["id"],
            json!(id),
            "a message for another request or session arrived: {message}"
        );
        message
    }

    /// initialize + notifications/initialized, with request id `id`.
    pub async fn initialize(&mut self, id: u64) -> Value {
        let answer = self
            .request(
                id,
                "initialize",
                json!({"protocolVersion": "2024-11-05", "capabilities": {},
                       "clientInfo": {"name": "sentry-mcp-tests", "version": "0"}}),
            )
            .await;
        let (status, _) = self
            .post(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))
            .await;
        assert_eq!(status, 202);
        answer
    }
}

/// POST to `base` + `path` with headers.
pub async fn post_raw(
    client: &reqwest::Client,
    base: &str,
    path: &str,
    headers: &[(String, String)],
    body: impl Into<reqwest::Body>,
) -> (u16, String) {
    let mut request = client
        .post(format!("{base}{path}"))
        .header("content-type", "application/json")
        .body(body);
    for (k, v) in headers {
        request = request.header(k.as_str(), v.as_str());
    }
    let response = request.send().await.expect("POST");
    (
        response.status().as_u16(),
        response.text().await.unwrap_or_default(),
    )
}

/// What a raw HTTP exchange answered: status, `Content-Type` and body.
#[derive(Debug)]
pub struct RawAnswer {
    pub status: u16,
    pub content_type: String,
    pub session: Option<String>,
    /// The `Connection` header (`close` when the server will not take another request).
    pub connection: Option<String>,
    pub body: String,
}

impl RawAnswer {
    /// The JSON-RPC messages in the body: one JSON object, or the `data:` of each SSE event.
    pub fn messages(&self) -> Vec<Value> {
        if self.content_type.starts_with("text/event-stream") {
            sse_data(&self.body)
                .iter()
                .filter(|d| !d.is_empty())
                .map(|d| serde_json::from_str(d).unwrap_or_else(|e| panic!("{e}: {d:?}")))
                .collect()
        } else {
            vec![serde_json::from_str(&self.body).unwrap_or_else(|e| {
                panic!("not a JSON body ({e}): {} {:?}", self.status, self.body)
            })]
        }
    }

    /// The one JSON-RPC message of the body.
    pub fn message(&self) -> Value {
        let mut messages = self.messages();
        assert_eq!(messages.len(), 1, "{self:?}");
        messages.remove(0)
    }
}

/// The `data:` of every event of an SSE body.
fn sse_data(body: &str) -> Vec<String> {
    body.split("\n\n")
        .filter_map(|event| {
            let data: Vec<&str> = event
                .lines()
                .filter_map(|l| l.strip_prefix("data:"))
                .map(|v| v.strip_prefix(' ').unwrap_or(v))
                .collect();
            (!data.is_empty()).then(|| data.join("\n"))
        })
        .collect()
}

/// A raw streamable-HTTP client for `/mcp`, for exact status codes and error bodies.
pub struct HttpMcp {
    client: reqwest::Client,
    url: String,
    /// `Mcp-Session-Id` once initialized.
    pub session: Option<String>,
}

impl HttpMcp {
    /// A client for `base` (`http://host:port`) + `/mcp`, without a session yet.
    pub fn new(base: &str) -> HttpMcp {
        HttpMcp {
            client: crate::common::http_client(),
            url: format!("{base}/mcp"),
            session: None,
        }
    }

    /// POST a raw body with this `Content-Type` (and the session, if any). The body is
    /// read until it ends: rmcp ends a request's event stream after its answer.
    pub async fn post_raw(&self, content_type: &str, body: impl Into<reqwest::Body>) -> RawAnswer {
        let mut request = self
            .client
            .post(&self.url)
            .header("accept", "application/json, text/event-stream")
            .header("content-type", content_type)
            .body(body);
        if let Some(session) = &self.session {
            request = request.header("mcp-session-id", session);
        }
        answer(request).await
    }

    pub async fn post(&self, message: &Value) -> RawAnswer {
        self.post_raw("application/json", message.to_string()).await
    }

    /// initialize + notifications/initialized; keeps the session id.
    pub async fn initialize(&mut self) -> Value {
        let answer = self
            .post(
                &json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
                "protocolVersion": "2025-06-18", "capabilities": {},
                "clientInfo": {"name": "sentry-mcp-tests", "version": "0"}}}),
            )
            .await;
        assert_eq!(answer.status, 200, "{answer:?}");
        self.session = Some(answer.session.clone().expect("an Mcp-Session-Id"));
        let initialized = self
            .post(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))
            .await;
        assert_eq!(initialized.status, 202, "{initialized:?}");
        answer.message()
    }

    /// DELETE the session `id`.
    pub async fn delete(&self, id: &str) -> RawAnswer {
        answer(
            self.client
                .delete(&self.url)
                .header("mcp-session-id", id)
                .header("accept", "application/json, text/event-stream"),
        )
        .await
    }
}

async fn answer(request: reqwest::RequestBuilder) -> RawAnswer {
    let response = tokio::time::timeout(Duration::from_secs(20), request.send())
        .await
        .expect("an answer within 20 s")
        .expect("HTTP request");
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
    };
    let content_type = header("content-type").unwrap_or_default();
    let session = header("mcp-session-id");
    let connection = header("connection");
    let status = response.status().as_u16();
    let body = tokio::time::timeout(Duration::from_secs(20), response.text())
        .await
        .expect("the body ends within 20 s")
        .unwrap_or_default();
    RawAnswer {
        status,
        content_type,
        session,
        connection,
        body,
    }
}

/// Assert `message` is a JSON-RPC error with `code` for request `id` (`Value::Null` for
/// "no id could be read"); returns its message text.
pub fn assert_jsonrpc_error(message: &Value, code: i64, id: &Value) -> String {
    assert_eq!(message["jsonrpc"], "2.0", "{message}");
    assert_eq!(message["error"]["code"], code, "{message}");
    assert_eq!(
        message.get("id"),
        Some(id),
        "the error must carry `\"id\": {id}`: {message}"
    );
    assert!(message.get("result").is_none(), "{message}");
    message["error"]["message"]
        .as_str()
        .unwrap_or_else(|| panic!("an error message: {message}"))
        .to_owned()
}

/// `sentry-mcp stdio` as a raw line client: write lines, read the messages it answers.
pub struct StdioMcp {
    child: tokio::process::Child,
    stdin: tokio::process::ChildStdin,
    stdout: tokio::io::Lines<tokio::io::BufReader<tokio::process::ChildStdout>>,
}

impl StdioMcp {
    /// Start `sentry-mcp stdio --data-dir <data_dir>` (its index must exist).
    pub fn spawn(bin: &str, data_dir: &std::path::Path) -> StdioMcp {
        use tokio::io::AsyncBufReadExt as _;
        let mut child = tokio::process::Command::new(bin)
            .args(["stdio", "--data-dir", data_dir.to_str().unwrap()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("start sentry-mcp stdio");
        let stdin = child.stdin.take().unwrap();
        let stdout = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
        StdioMcp {
            child,
            stdin,
            stdout,
        }
    }

    /// Write `line` and a newline to the server's stdin.
    pub async fn send_line(&mut self, line: &[u8]) {
        use tokio::io::AsyncWriteExt as _;
        self.stdin.write_all(line).await.unwrap();
        self.stdin.write_all(b"\n").await.unwrap();
        self.stdin.flush().await.unwrap();
    }

    pub async fn send(&mut self, message: &Value) {
        self.send_line(message.to_string().as_bytes()).await;
    }

    /// The next line on stdout, which must be one JSON value.
    pub async fn next_message(&mut self) -> Value {
        let line = tokio::time::timeout(Duration::from_secs(20), self.stdout.next_line())
            .await
            .expect("an answer on stdout within 20 s")
            .unwrap()
            .expect("stdout open");
        serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("stdout must carry only JSON-RPC ({e}): {line:?}"))
    }

    /// Close stdin and wait for a clean exit; the rest of stdout.
    pub async fn finish(mut self) -> (std::process::ExitStatus, Vec<Value>) {
        drop(self.stdin);
        let mut rest = Vec::new();
        while let Ok(Some(line)) = self.stdout.next_line().await {
            rest.push(serde_json::from_str(&line).unwrap());
        }
        let status = tokio::time::timeout(Duration::from_secs(10), self.child.wait())
            .await
            .expect("stdio server exits when stdin closes")
            .unwrap();
        (status, rest)
    }
}
