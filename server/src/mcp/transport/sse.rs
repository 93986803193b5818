//! The legacy HTTP+SSE transport (MCP 2024-11-05), what Holmes speaks with `mode: sse`
//! and what the seed's stdio-to-SSE gateway served:
//!
//! - `GET /sse` opens an event stream. Its first event is `event: endpoint` with
//!   `data: /messages?sessionId=<id>`; every server message follows as `event: message`.
//! - `POST /messages?sessionId=<id>` takes one JSON-RPC message (or a batch) and answers
//!   `202 Accepted`; the answer arrives on the session's stream. A body that is not JSON
//!   or not JSON-RPC is `400` with the JSON-RPC error as body; a request with invalid
//!   params is answered `-32602` on the stream (see [`super::incoming`]).
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
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
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
use super::incoming::{self, Batches, Checked};
use crate::mcp::SentryMcp;
use crate::metrics::Metrics;

/// Messages buffered per direction and session before the sender waits.
const CHANNEL: usize = 32;
/// Idle streams get a comment this often.
pub const KEEP_ALIVE: Duration = Duration::from_secs(15);

type SessionId = Arc<str>;

/// How `POST /messages` reaches one session.
#[derive(Clone)]
struct SessionChannels {
    to_server: mpsc::Sender<ClientJsonRpcMessage>,
    /// The session's stream, for answers that do not go through rmcp (refused
    /// requests). Weak, so the stream still ends when the service does.
    to_client: mpsc::WeakSender<ServerJsonRpcMessage>,
}

/// The sessions of one listener.
pub struct SseSessions {
    /// Cloned for every session (cheaper than building the tool router each time).
    handler: SentryMcp,
    sessions: Mutex<HashMap<SessionId, SessionChannels>>,
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

    /// The map, even if a thread panicked while holding it: every change to it is one
    /// insert or remove, so it is never left half-done, and a panic elsewhere must not
    /// take every session down (nor abort the process from [`SessionGuard`]'s `Drop`).
    fn sessions(&self) -> MutexGuard<'_, HashMap<SessionId, SessionChannels>> {
        self.sessions.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn channels(&self, id: &str) -> Option<SessionChannels> {
        self.sessions().get(id).cloned()
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
        let mut sessions = state.sessions();
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
        sessions.insert(
            id.clone(),
            SessionChannels {
                to_server,
                to_client: to_client.downgrade(),
            },
        );
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
    let Some(channels) = state.channels(&id) else {
        return unknown_session();
    };
    let checked = match incoming::check(&body, Batches::Allowed) {
        Ok(checked) => checked,
        Err(failure) => return failure.into_response(),
    };
    for item in checked {
        let sent = match item {
            Checked::Message(message) => channels.to_server.send(message).await.is_ok(),
            Checked::Refused(error) => match channels.to_client.upgrade() {
                Some(to_client) => to_client.send(error).await.is_ok(),
                None => false,
            },
        };
        if !sent {
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
        self.state.sessions().remove(&self.id);
        self.state.metrics.mcp_sse_sessions.dec();
        self.ct.cancel();
        tracing::debug!(session = %self.id, "SSE stream closed");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An idle stream gets keep-alive comments, and dropping it removes the session.
    /// Sessions over an empty index in `dir`.
    fn test_sessions(dir: &std::path::Path, keep_alive: Duration) -> Arc<SseSessions> {
        let writer = sentry_mcp_index::IndexWriter::open(
            &dir.join("index"),
            &sentry_mcp_index::WriterOptions::default(),
        )
        .unwrap();
        let ctx = Arc::new(crate::app::tool_context(
            writer.reader(),
            Arc::new(crate::sentry::Sentry::offline(None)),
            crate::dead_letter::DeadLetters::new(dir),
        ));
        SseSessions::new(
            SentryMcp::new(ctx),
            4,
            keep_alive,
            CancellationToken::new(),
            Metrics::new(),
        )
    }

    #[tokio::test]
    async fn idle_streams_get_keep_alives_and_closed_ones_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        let sessions = test_sessions(dir.path(), Duration::from_millis(50));
        let app: Router = router(sessions.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        sentry_mcp_api::install_default_tls_provider();
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

    /// A thread that panicked while holding the session map must not make a closing
    /// stream panic in `Drop` too (a panic in `Drop` while unwinding aborts the server).
    #[test]
    fn a_poisoned_session_map_neither_panics_in_drop_nor_loses_sessions() {
        let dir = tempfile::tempdir().unwrap();
        let sessions = test_sessions(dir.path(), KEEP_ALIVE);
        let (to_server, _from_client) = mpsc::channel(1);
        let (to_client, _from_server) = mpsc::channel::<ServerJsonRpcMessage>(1);
        for id in ["closing", "open"] {
            sessions.sessions().insert(
                id.into(),
                SessionChannels {
                    to_server: to_server.clone(),
                    to_client: to_client.downgrade(),
                },
            );
        }
        let guard = SessionGuard {
            state: sessions.clone(),
            id: "closing".into(),
            ct: CancellationToken::new(),
        };
        let poisoner = sessions.clone();
        std::thread::spawn(move || {
            let _held = poisoner.sessions.lock();
            panic!("a panic while holding the session map (expected by this test)");
        })
        .join()
        .unwrap_err();
        assert!(sessions.sessions.is_poisoned());
        drop(guard);
        assert!(sessions.channels("closing").is_none());
        assert!(sessions.channels("open").is_some());
    }
}
