//! Streamable HTTP (`/mcp`), the transport of current MCP clients and Holmes's
//! `mode: streamable-http`. rmcp's service does the protocol (sessions for clients up to
//! 2025-11-25, stateless requests for 2026-07-28); `Host`, `Origin`, the bearer token and
//! limits are checked in front of it by [`super::guard`], the same way as for `/sse`.

use std::sync::Arc;

use axum::Router;
use axum::extract::Request;
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use tokio_util::sync::CancellationToken;

use crate::mcp::SentryMcp;

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
    let service = StreamableHttpService::new(
        move || Ok(handler.clone()),
        Arc::new(LocalSessionManager::default()),
        config,
    );
    Router::new()
        .nest_service("/mcp", service)
        .layer(axum::middleware::from_fn(session_deleted_ok))
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
