//! Streamable HTTP (`/mcp`), the transport of current MCP clients and Holmes's
//! `mode: streamable-http`.

use std::sync::Arc;

use axum::Router;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};

use crate::mcp::{SentryMcp, ToolContext};

/// The `/mcp` route.
pub fn router<S: Clone + Send + Sync + 'static>(
    ctx: Arc<ToolContext>,
    config: StreamableHttpServerConfig,
) -> Router<S> {
    let service = StreamableHttpService::new(
        move || Ok(SentryMcp::new(ctx.clone())),
        Arc::new(LocalSessionManager::default()),
        config,
    );
    Router::new().nest_service("/mcp", service)
}
