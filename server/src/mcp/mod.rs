//! The MCP face of the service: one tool router served over every transport.
//!
//! - [`tools`]: the tools, grouped by what they answer (issues, search, patterns, alerts,
//!   organizations, status), each a `#[tool_router]` block over typed parameters.
//! - [`answer`]: turning index results into compact text + JSON an LLM can read, with a
//!   hard cap on size.
//! - [`ids`]: issue ids, short ids and issue URLs.
//! - [`transport`]: streamable HTTP, legacy SSE and stdio.

pub mod answer;
pub mod ids;
pub mod tools;
pub mod transport;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::model::{CallToolResult, Implementation, ServerCapabilities, ServerConfig};
use rmcp::{ServerHandler, tool_handler};
use sentry_mcp_index::IndexReader;

/// What every tool call can use. Shared by all sessions.
pub struct ToolContext {
    pub reader: IndexReader,
    /// `--organization`: the default organization slug.
    pub organization: Option<String>,
    /// The live Sentry API (a client only when a token is set).
    pub sentry: Arc<crate::sentry::Sentry>,
    pub started_at: chrono::DateTime<chrono::Utc>,
    /// Records that could not be indexed (shown by `status`).
    pub dead_letters: crate::dead_letter::DeadLetters,
}

/// The MCP server handler. Cheap to clone: one per session.
#[derive(Clone)]
pub struct SentryMcp {
    pub(crate) ctx: Arc<ToolContext>,
    tool_router: ToolRouter<SentryMcp>,
}

impl SentryMcp {
    pub fn new(ctx: Arc<ToolContext>) -> Self {
        SentryMcp {
            tool_router: tools::router(ctx.sentry.read_only()),
            ctx,
        }
    }

    /// Run a tool's index work on the blocking pool (searches are CPU work), turning its
    /// error into a tool error the caller can act on.
    pub(crate) async fn run<F>(&self, work: F) -> CallToolResult
    where
        F: FnOnce(&ToolContext, DateTime<Utc>) -> tools::ToolResult<CallToolResult>
            + Send
            + 'static,
    {
        match self.try_run(work).await {
            Ok(result) => result,
            Err(error) => answer::error(error.to_string()),
        }
    }

    /// [`Self::run`], keeping the error for a caller that may try the Sentry API next.
    pub(crate) async fn try_run<F>(&self, work: F) -> tools::ToolResult<CallToolResult>
    where
        F: FnOnce(&ToolContext, DateTime<Utc>) -> tools::ToolResult<CallToolResult>
            + Send
            + 'static,
    {
        let ctx = self.ctx.clone();
        match tokio::task::spawn_blocking(move || work(&ctx, Utc::now())).await {
            Ok(result) => result,
            Err(e) => {
                tracing::error!(error = %e, "tool panicked");
                Err(tools::ToolError::Other(
                    "the tool failed unexpectedly; the server log has details".into(),
                ))
            }
        }
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for SentryMcp {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("sentry-mcp", env!("CARGO_PKG_VERSION")))
            .with_instructions(INSTRUCTIONS)
    }
}

const INSTRUCTIONS: &str = "Sentry errors, issues and alerts from a local index fed by Sentry webhooks. \
Searches answer in milliseconds and need no Sentry token. Queries use Sentry's search syntax \
(e.g. `is:unresolved level:error release:1.2.0 \"connection reset\" lastSeen:-24h`). Start with \
`status` to see what the index holds, `top_errors` or `error_spikes` during an incident, then \
`get_issue` for details. Every list takes `limit` and returns a `cursor` for the next page.";
