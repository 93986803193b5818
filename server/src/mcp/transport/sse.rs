//! The legacy HTTP+SSE transport (MCP 2024-11-05), what Holmes speaks with `mode: sse`
//! and what the seed's stdio-to-SSE gateway served:
//!
//! - `GET /sse` opens an event stream. Its first event is `event: endpoint` with
//!   `data: /messages?sessionId=<id>`; every server message follows as `event: message`.
//! - `POST /messages?sessionId=<id>` takes one JSON-RPC message (or a batch) and answers
//!   `202 Accepted`; the answer arrives on the session's stream.
//!
//! rmcp has no server side for this transport, so each session is an rmcp [`Transport`]
//! made of two channels, served by its own [`SentryMcp`] instance on its own task:
//! sessions never see each other's messages. A session ends when its client goes away
//! (the stream is dropped: the map entry goes and the service is cancelled), when the
//! service ends (the stream closes), or on shutdown. Idle streams get a keep-alive
//! comment every 15 s so proxies do not cut them.

use std::collections::HashMap;
use std::convert::Infallible;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderValue, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use futures::Stream;
use rmcp::ServiceExt;
use rmcp::model::{ClientJsonRpcMessage, ServerJsonRpcMessage};
use rmcp::service::RoleServer;
use rmcp::transport::Transport;
use serde::Deserialize;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::guard::refuse;
use crate::mcp::SentryMcp;
use crate::metrics::Metrics;

/// Messages buffered per direction and session before the sender waits.
const CHANNEL: usize = 32;
/// Idle streams get a comment this often.
pub const KEEP_ALIVE: Duration = Duration::from_secs(15);

type SessionId = Arc<str>;

/// The sessions of one listener.
pub struct SseSessions {
    /// Cloned for every session (cheaper than building the tool router each time).
    handler: SentryMcp,
    sessions: Mutex<HashMap<SessionId, mpsc::Sender<ClientJsonRpcMessage>>>,
    max_sessions: usize,
    keep_alive: Duration,
    /// Cancelled on shutdown: every stream ends so the listener can drain.
    shutdown: CancellationToken,
    metrics: Arc<Metrics>,
}

impl SseSessions {
    pub fn new(
        handler: SentryMcp,
        max_sessions: usize,
        keep_alive: Duration,
        shutdown: CancellationToken,
        metrics: Arc<Metrics>,
    ) -> Arc<Self> {
        Arc::new(SseSessions {
            handler,
            sessions: Mutex::new(HashMap::new()),
            max_sessions: max_sessions.max(1),
            keep_alive,
            shutdown,
            metrics,
        })
    }

    fn sender(&self, id: &str) -> Option<mpsc::Sender<ClientJsonRpcMessage>> {
        self.sessions.lock().unwrap().get(id).cloned()
    }
}

/// `GET /sse` and `POST /messages`.
pub fn router<S: Clone + Send + Sync + 'static>(sessions: Arc<SseSessions>) -> Router<S> {
    Router::new()
        .route("/sse", get(open))
        .route("/messages", post(message))
        .with_state(sessions)
}

async fn open(State(state): State<Arc<SseSessions>>) -> Response {
    let id: SessionId = uuid::Uuid::new_v4().simple().to_string().into();
    let (to_server, from_client) = mpsc::channel(CHANNEL);
    let (to_client, from_server) = mpsc::channel(CHANNEL);
    {
        let mut sessions = state.sessions.lock().unwrap();
        if sessions.len() >= state.max_sessions {
            drop(sessions);
            tracing::warn!(
                limit = state.max_sessions,
                "SSE session refused: too many open"
            );
            state.metrics.mcp_refused("sessions");
            return refuse(
                StatusCode::SERVICE_UNAVAILABLE,
                format!(
                    "too many open SSE sessions (limit {}, --mcp-max-sessions): retry shortly",
                    state.max_sessions
                ),
            );
        }
        sessions.insert(id.clone(), to_server);
    }
    state.metrics.mcp_sse_sessions.inc();
    state.metrics.mcp_sse_sessions_opened.inc();
    let ct = state.shutdown.child_token();
    tokio::spawn(run_session(
        state.handler.clone(),
        SessionTransport {
            to_client,
            from_client,
        },
        ct.clone(),
        id.clone(),
    ));
    tracing::debug!(session = %id, "SSE session opened");

    let endpoint = Event::default()
        .event("endpoint")
        .data(format!("/messages?sessionId={id}"));
    let keep_alive = KeepAlive::new().interval(state.keep_alive);
    let stream = SessionStream {
        endpoint: Some(endpoint),
        from_server,
        shutdown: Box::pin(ct.clone().cancelled_owned()),
        _guard: SessionGuard { state, id, ct },
    };
    let mut response = Sse::new(stream).keep_alive(keep_alive).into_response();
    // Ask nginx-style proxies not to buffer the stream.
    response
        .headers_mut()
        .insert("x-accel-buffering", HeaderValue::from_static("no"));
    response
}

/// Serve one session until its client goes, its service ends or shutdown.
async fn run_session(
    handler: SentryMcp,
    transport: SessionTransport,
    ct: CancellationToken,
    id: SessionId,
) {
    match handler.serve_with_ct(transport, ct).await {
        Ok(running) => {
            let reason = running.waiting().await;
            tracing::debug!(session = %id, ?reason, "SSE session ended");
        }
        Err(e) => tracing::debug!(session = %id, error = %e, "SSE session ended before initialize"),
    }
}

#[derive(Debug, Deserialize)]
struct SessionQuery {
    #[serde(rename = "sessionId", alias = "session_id")]
    session_id: Option<String>,
}

async fn message(
    State(state): State<Arc<SseSessions>>,
    Query(query): Query<SessionQuery>,
    body: Bytes,
) -> Response {
    let Some(id) = query.session_id else {
        return refuse(
            StatusCode::BAD_REQUEST,
            "missing sessionId: POST to the endpoint sent as the first event of GET /sse",
        );
    };
    let Some(to_server) = state.sender(&id) else {
        return unknown_session();
    };
    let messages = match parse(&body) {
        Ok(messages) => messages,
        Err(reason) => return refuse(StatusCode::BAD_REQUEST, reason),
    };
    for message in messages {
        if to_server.send(message).await.is_err() {
            return unknown_session();
        }
    }
    (StatusCode::ACCEPTED, "Accepted").into_response()
}

fn unknown_session() -> Response {
    refuse(
        StatusCode::NOT_FOUND,
        "unknown or closed session: open a new one with GET /sse",
    )
}

/// One JSON-RPC message or a batch of them.
fn parse(body: &[u8]) -> Result<Vec<ClientJsonRpcMessage>, String> {
    let explain = |e: serde_json::Error| match e.classify() {
        serde_json::error::Category::Syntax | serde_json::error::Category::Eof => {
            format!("malformed JSON: {e}")
        }
        _ => format!("not an MCP JSON-RPC message: {e}"),
    };
    let first = body.iter().find(|b| !b.is_ascii_whitespace());
    if first == Some(&b'[') {
        let batch: Vec<ClientJsonRpcMessage> = serde_json::from_slice(body).map_err(explain)?;
        if batch.is_empty() {
            return Err("empty JSON-RPC batch".into());
        }
        Ok(batch)
    } else {
        Ok(vec![serde_json::from_slice(body).map_err(explain)?])
    }
}

/// One session's side of the channels, as rmcp sees it.
struct SessionTransport {
    to_client: mpsc::Sender<ServerJsonRpcMessage>,
    from_client: mpsc::Receiver<ClientJsonRpcMessage>,
}

#[derive(Debug, thiserror::Error)]
#[error("the SSE stream of this session is closed")]
pub struct StreamClosed;

impl Transport<RoleServer> for SessionTransport {
    type Error = StreamClosed;

    fn send(
        &mut self,
        item: ServerJsonRpcMessage,
    ) -> impl Future<Output = Result<(), StreamClosed>> + Send + 'static {
        let to_client = self.to_client.clone();
        async move { to_client.send(item).await.map_err(|_| StreamClosed) }
    }

    fn receive(&mut self) -> impl Future<Output = Option<ClientJsonRpcMessage>> + Send {
        self.from_client.recv()
    }

    async fn close(&mut self) -> Result<(), StreamClosed> {
        self.from_client.close();
        Ok(())
    }
}

/// The event stream of one session: the endpoint, then every server message, until the
/// service ends or shutdown. Dropping it (the client went away) ends the session.
struct SessionStream {
    endpoint: Option<Event>,
    from_server: mpsc::Receiver<ServerJsonRpcMessage>,
    shutdown: Pin<Box<tokio_util::sync::WaitForCancellationFutureOwned>>,
    _guard: SessionGuard,
}

impl Stream for SessionStream {
    type Item = Result<Event, Infallible>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if let Some(endpoint) = self.endpoint.take() {
            return Poll::Ready(Some(Ok(endpoint)));
        }
        if self.shutdown.as_mut().poll(cx).is_ready() {
            return Poll::Ready(None);
        }
        loop {
            let Some(message) = std::task::ready!(self.from_server.poll_recv(cx)) else {
                return Poll::Ready(None);
            };
            match Event::default().event("message").json_data(&message) {
                Ok(event) => return Poll::Ready(Some(Ok(event))),
                Err(e) => tracing::error!(error = %e, "cannot serialise an MCP message"),
            }
        }
    }
}

/// Removes the session and stops its service when the stream goes.
struct SessionGuard {
    state: Arc<SseSessions>,
    id: SessionId,
    ct: CancellationToken,
}

impl Drop for SessionGuard {
    fn drop(&mut self) {
        self.state.sessions.lock().unwrap().remove(&self.id);
        self.state.metrics.mcp_sse_sessions.dec();
        self.ct.cancel();
        tracing::debug!(session = %self.id, "SSE stream closed");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An idle stream gets keep-alive comments, and dropping it removes the session.
    #[tokio::test]
    async fn idle_streams_get_keep_alives_and_closed_ones_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        let writer = sentry_mcp_index::IndexWriter::open(
            &dir.path().join("index"),
            &sentry_mcp_index::WriterOptions::default(),
        )
        .unwrap();
        let ctx = Arc::new(crate::app::tool_context(writer.reader(), None, None));
        let sessions = SseSessions::new(
            SentryMcp::new(ctx),
            4,
            Duration::from_millis(50),
            CancellationToken::new(),
            Metrics::new(),
        );
        let app: Router = router(sessions.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        let mut stream = reqwest::get(format!("http://{addr}/sse")).await.unwrap();
        let mut text = String::new();
        while !text.contains("\n\n:") {
            let chunk = tokio::time::timeout(Duration::from_secs(5), stream.chunk())
                .await
                .expect("a keep-alive within 5 s")
                .unwrap()
                .expect("stream open");
            text.push_str(std::str::from_utf8(&chunk).unwrap());
        }
        assert!(
            text.starts_with("event: endpoint\ndata: /messages?sessionId="),
            "{text:?}"
        );
        assert_eq!(sessions.sessions.lock().unwrap().len(), 1);
        drop(stream);
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while !sessions.sessions.lock().unwrap().is_empty() {
            assert!(std::time::Instant::now() < deadline, "session not removed");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    #[test]
    fn parse_tells_malformed_json_from_wrong_shape() {
        let ok = parse(br#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#).unwrap();
        assert_eq!(ok.len(), 1);
        let batch = parse(
            br#" [{"jsonrpc":"2.0","id":1,"method":"ping"},{"jsonrpc":"2.0","method":"notifications/initialized"}]"#,
        )
        .unwrap();
        assert_eq!(batch.len(), 2);
        assert!(
            parse(b"{not json")
                .unwrap_err()
                .starts_with("malformed JSON")
        );
        assert!(parse(b"").unwrap_err().starts_with("malformed JSON"));
        assert!(
            parse(br#"{"hello":1}"#)
                .unwrap_err()
                .starts_with("not an MCP JSON-RPC message")
        );
        assert_eq!(parse(b"[]").unwrap_err(), "empty JSON-RPC batch");
    }
}
