//! Streamable HTTP (`/mcp`), the transport of current MCP clients and Holmes's
//! `mode: streamable-http`. rmcp's service does the protocol (sessions for clients up to
//! 2025-11-25, stateless requests for 2026-07-28); `Host`, `Origin`, the bearer token and
//! limits are checked in front of it by [`super::guard`], the same way as for `/sse`.
//!
//! In front of rmcp, [`protocol_errors`] answers what rmcp answers differently from the
//! spec: a JSON body that is not JSON or not one JSON-RPC message (rmcp: 415 with text),
//! a known method with invalid params (rmcp: -32601) and `DELETE` of a session that does
//! not exist (rmcp: 202).

use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use rmcp::transport::streamable_http_server::session::SessionManager;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use tokio_util::sync::CancellationToken;

use super::guard::refuse;
use super::incoming::{self, Batches, Checked};
use crate::mcp::SentryMcp;

const SESSION_HEADER: &str = "mcp-session-id";

/// The `/mcp` route.
pub fn router<S: Clone + Send + Sync + 'static>(
    handler: SentryMcp,
    max_request_bytes: usize,
    shutdown: CancellationToken,
) -> Router<S> {
    let config = StreamableHttpServerConfig::default()
        // Checked by the guard for every MCP route, with patterns rmcp's list lacks.
        .disable_allowed_hosts()
        .disable_allowed_origins()
        .with_sse_keep_alive(Some(super::sse::KEEP_ALIVE))
        .with_max_request_body_bytes(max_request_bytes)
        .with_cancellation_token(shutdown);
    let sessions = Arc::new(LocalSessionManager::default());
    let service = StreamableHttpService::new(move || Ok(handler.clone()), sessions.clone(), config);
    Router::new()
        .nest_service("/mcp", service)
        .layer(axum::middleware::from_fn(session_deleted_ok))
        .layer(axum::middleware::from_fn_with_state(
            sessions,
            protocol_errors,
        ))
}

/// rmcp answers a session `DELETE` with 202; the Python SDK (Holmes) expects 200 or 204
/// and logs "Session termination failed: 202" after every call otherwise.
async fn session_deleted_ok(request: Request, next: Next) -> Response {
    let delete = request.method() == Method::DELETE;
    let mut response = next.run(request).await;
    if delete && response.status() == StatusCode::ACCEPTED {
        *response.status_mut() = StatusCode::OK;
    }
    response
}

/// The checks of [`super::incoming`] on a `POST` that says it carries JSON (others are
/// left to rmcp, which answers 415), and 404 for a request naming a session that does not
/// exist where rmcp does not check it.
async fn protocol_errors(
    State(sessions): State<Arc<LocalSessionManager>>,
    request: Request,
    next: Next,
) -> Response {
    if request.method() == Method::DELETE {
        if let Some(id) = session_id(request.headers())
            && !has_session(&sessions, &id).await
        {
            return unknown_session();
        }
        return next.run(request).await;
    }
    if request.method() != Method::POST || !says_json(request.headers()) {
        return next.run(request).await;
    }
    let (parts, body) = request.into_parts();
    // The same limit as everywhere (DefaultBodyLimit): 413 when it is exceeded.
    let body = match Bytes::from_request(Request::from_parts(parts.clone(), body), &()).await {
        Ok(body) => body,
        Err(rejection) => return rejection.into_response(),
    };
    let refused = match incoming::check(&body, Batches::Refused) {
        Err(failure) => return failure.into_response(),
        Ok(mut checked) => match checked.pop() {
            Some(Checked::Refused(error)) => error,
            _ => return next.run(Request::from_parts(parts, Body::from(body))).await,
        },
    };
    // A refused request is answered here, as rmcp would answer it: in its session (or
    // 404 when that is gone), with one JSON answer.
    if let Some(id) = session_id(&parts.headers)
        && !has_session(&sessions, &id).await
    {
        return unknown_session();
    }
    match serde_json::to_string(&refused) {
        Ok(json) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            json,
        )
            .into_response(),
        Err(e) => {
            tracing::error!(error = %e, "cannot serialise an MCP error");
            refuse(
                StatusCode::INTERNAL_SERVER_ERROR,
                "cannot serialise the error",
            )
        }
    }
}

/// Whether `Content-Type` is `application/json` (parameters aside), as rmcp requires.
fn says_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|essence| essence.trim().eq_ignore_ascii_case("application/json"))
}

fn session_id(headers: &HeaderMap) -> Option<Arc<str>> {
    headers
        .get(SESSION_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(Arc::from)
}

async fn has_session(sessions: &LocalSessionManager, id: &Arc<str>) -> bool {
    // The local manager's lookup cannot fail; if it ever did, rmcp decides.
    sessions.has_session(id).await.unwrap_or(true)
}

/// What the spec says for any request on a terminated session.
fn unknown_session() -> Response {
    refuse(
        StatusCode::NOT_FOUND,
        "unknown or ended session: start a new one with an initialize request without Mcp-Session-Id",
    )
}
