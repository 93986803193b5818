//! The tools. Each file holds one `#[tool_router]` block; [`router`] joins them.
//!
//! - [`issues`]: `list_issues`, `get_issue`, `get_issue_events`, `get_event`.
//! - [`search`]: `search_errors`, grouped by issue.
//! - [`patterns`]: `top_errors`, `new_errors`, `error_spikes`, `error_histogram`.
//! - [`alerts`]: `list_alerts` (metric and issue alerts received).
//! - [`orgs`]: `list_organizations`, `list_projects`.
//! - [`mutations`]: `resolve_issue`, `unresolve_issue`, `assign_issue` (Sentry API).
//! - [`status`]: a cheap health check.
//! - [`common`]: windows, limits, scopes and error messages shared by all.

mod alerts;
mod args;
mod common;
mod error;
mod fetch;
mod issues;
mod mutations;
mod orgs;
mod patterns;
mod search;
mod status;

use rmcp::handler::server::router::tool::ToolRouter;

use super::SentryMcp;

pub use common::ToolResult;
pub use common::parse_instant;
pub use error::ToolError;

/// Every tool, in one router; with `read_only` the tools that change Sentry are left out.
pub fn router(read_only: bool) -> ToolRouter<SentryMcp> {
    let tools = SentryMcp::status_router()
        + SentryMcp::issues_router()
        + SentryMcp::search_router()
        + SentryMcp::patterns_router()
        + SentryMcp::alerts_router()
        + SentryMcp::orgs_router();
    if read_only {
        tools
    } else {
        tools + SentryMcp::mutations_router()
    }
}
