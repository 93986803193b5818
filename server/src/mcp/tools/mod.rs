//! The tools. Each file holds one `#[tool_router]` block; [`router`] joins them.
//!
//! - [`status`]: a cheap health check (index size, last webhook, token presence).

mod status;

use rmcp::handler::server::router::tool::ToolRouter;

use super::SentryMcp;

/// Every tool, in one router.
pub fn router() -> ToolRouter<SentryMcp> {
    SentryMcp::status_router()
}
