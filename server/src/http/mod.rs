//! The two HTTP listeners. Routers are plain functions of the shared state so tests can
//! call them without a socket.
//!
//! - [`webhook`]: `POST /webhooks/sentry`: verify, journal, acknowledge.
//! - [`probes`]: `/health`, `/ready`, `/metrics`, served on both listeners.

pub mod probes;
pub mod webhook;

use std::sync::Arc;

use axum::Router;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use axum::routing::post;
use sentry_mcp_index::Change;
use sentry_mcp_ingest::{Journal, RecentIds, Secrets};
use tower_http::trace::TraceLayer;

use crate::metrics::Metrics;
use crate::pipeline::Indexer;

/// Everything the handlers share.
pub struct AppState {
    pub secrets: Secrets,
    pub timestamp_window: std::time::Duration,
    pub max_body_bytes: usize,
    pub journal: Journal<Vec<Change>>,
    pub recent_ids: RecentIds,
    pub indexer: Indexer,
    pub metrics: Arc<Metrics>,
    /// Shared by every MCP session.
    pub tools: Arc<crate::mcp::ToolContext>,
    /// Host/Origin policy, bearer token and limits of the MCP routes.
    pub mcp: crate::mcp::transport::HttpOptions,
}

/// The internet-facing listener: webhooks and probes.
pub fn webhook_router(state: Arc<AppState>) -> Router {
    let limit = state.max_body_bytes;
    Router::new()
        .route(
            "/webhooks/sentry",
            post(webhook::receive).layer(axum::extract::DefaultBodyLimit::max(limit)),
        )
        .merge(probes::router())
        .layer(axum::middleware::map_response(close_after_too_large))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

/// The in-cluster listener: MCP transports (`/sse`, `/messages`, `/mcp`, behind the
/// Host/Origin/token guard) and the probes (open).
pub fn mcp_router(state: Arc<AppState>) -> Router {
    Router::new()
        .merge(crate::mcp::transport::router(
            state.tools.clone(),
            state.mcp.clone(),
        ))
        .merge(probes::router())
        .layer(axum::middleware::map_response(close_after_too_large))
        .with_state(state)
}

/// A 413 is sent before the rest of the body is read, so the server closes the connection
/// afterwards; `Connection: close` tells the client so, or it sends its next request down
/// that closed connection and loses it.
async fn close_after_too_large(mut response: Response) -> Response {
    if response.status() == StatusCode::PAYLOAD_TOO_LARGE {
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    response
}
