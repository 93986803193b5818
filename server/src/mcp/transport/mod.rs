//! The MCP transports. Every transport serves the same [`SentryMcp`] handler.
//!
//! - [`sse`]: the legacy HTTP+SSE transport, `GET /sse` + `POST /messages` (Holmes
//!   `mode: sse`).
//! - [`http`]: streamable HTTP at `/mcp` (rmcp's service).
//! - [`stdio`]: MCP over stdin/stdout for desktop clients (`sentry-mcp stdio`).
//! - [`guard`]: `Host`/`Origin` validation, bearer token and concurrency limit in front of
//!   the HTTP transports.
//! - [`incoming`]: the checks every transport makes on an incoming body, so protocol
//!   errors get the JSON-RPC codes MCP names (-32700, -32600, -32602).

pub mod guard;
pub mod http;
pub mod incoming;
pub mod sse;
pub mod stdio;

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use tokio_util::sync::CancellationToken;
use tower_http::limit::RequestBodyLimitLayer;

use crate::mcp::{SentryMcp, ToolContext};
use crate::metrics::Metrics;

/// How the HTTP transports are exposed.
#[derive(Clone)]
pub struct HttpOptions {
    pub allowed_hosts: Vec<String>,
    pub allowed_origins: Vec<String>,
    /// `--mcp-token`: required as `Authorization: Bearer` on every MCP route when set.
    pub token: Option<String>,
    pub max_sessions: usize,
    pub max_concurrency: usize,
    pub max_request_bytes: usize,
    /// Cancelled on shutdown: open event streams end so the listener can drain.
    pub shutdown: CancellationToken,
    pub metrics: Arc<Metrics>,
}

/// Every MCP route over HTTP (`/sse`, `/messages`, `/mcp`) behind the guard.
pub fn router<S: Clone + Send + Sync + 'static>(
    ctx: Arc<ToolContext>,
    options: HttpOptions,
) -> Router<S> {
    let handler = SentryMcp::new(ctx);
    let sessions = sse::SseSessions::new(
        handler.clone(),
        options.max_sessions,
        sse::KEEP_ALIVE,
        options.shutdown.clone(),
        options.metrics.clone(),
    );
    let guard = Arc::new(guard::Guard::new(
        &options.allowed_hosts,
        &options.allowed_origins,
        options.token.as_deref(),
        options.max_concurrency,
        options.metrics.clone(),
    ));
    if guard.requires_token() {
        tracing::info!("MCP routes require a bearer token");
    }
    Router::new()
        .merge(sse::router(sessions))
        .merge(http::router(
            handler,
            options.max_request_bytes,
            options.shutdown,
        ))
        .layer(RequestBodyLimitLayer::new(options.max_request_bytes))
        // What bodies read by axum's extractors may hold (not its 2 MB default).
        .layer(DefaultBodyLimit::max(options.max_request_bytes))
        .layer(axum::middleware::from_fn_with_state(guard, guard::check))
}
