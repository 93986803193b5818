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
mod issues;
mod mutations;
mod orgs;
mod patterns;
mod search;
mod status;

use rmcp::handler::server::router::tool::ToolRouter;

use super::SentryMcp;

pub use common::ToolResult;

/// Every tool, in one router.
pub fn router() -> ToolRouter<SentryMcp> {
    SentryMcp::status_router()
        + SentryMcp::issues_router()
        + SentryMcp::search_router()
        + SentryMcp::patterns_router()
        + SentryMcp::alerts_router()
        + SentryMcp::orgs_router()
        + SentryMcp::mutations_router()
}
