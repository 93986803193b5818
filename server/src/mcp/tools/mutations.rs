//! `resolve_issue`, `unresolve_issue`, `assign_issue`: these change Sentry itself, so they
//! go to the Sentry API (and are written through to the index). Arguments are checked
//! first so a bad call is told how to fix it.

use rmcp::model::CallToolResult;
use rmcp::{tool, tool_router};
use schemars::JsonSchema;
use serde::Deserialize;

use super::args::{Parameters, lenient};
use super::error::ToolError;
use super::issues::IssueArgs;
use crate::mcp::SentryMcp;
use crate::mcp::ids::parse_issue_ref;

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AssignArgs {
    /// The issue: numeric id, short id (`PROJ-123`) or issue URL.
    #[serde(alias = "issueId", alias = "issue_url", alias = "issue")]
    #[serde(deserialize_with = "lenient::string")]
    pub issue_id: String,
    /// Who: a user email or username, or `#team-slug`; empty string to unassign.
    #[serde(deserialize_with = "lenient::string")]
    pub assignee: String,
    /// Organization slug (optional).
    #[allow(dead_code)] // accepted so calls written for the official server keep working
    #[serde(alias = "organization_slug", alias = "org")]
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub organization: Option<String>,
}

#[tool_router(router = mutations_router, vis = "pub(super)")]
impl SentryMcp {
    /// Mark an issue resolved in Sentry (needs SENTRY_AUTH_TOKEN with issue:write).
    /// Example: {"issue_id": "CHECKOUT-API-102"}.
    #[tool(
        name = "resolve_issue",
        annotations(destructive_hint = false, idempotent_hint = true)
    )]
    pub async fn resolve_issue(&self, Parameters(args): Parameters<IssueArgs>) -> CallToolResult {
        match args {
            Ok(args) => self.mutation("resolve", &args.issue_id, None),
            Err(e) => crate::mcp::answer::error(e.to_string()),
        }
    }

    /// Mark an issue unresolved in Sentry (needs SENTRY_AUTH_TOKEN with issue:write).
    /// Example: {"issue_id": "4100002"}.
    #[tool(
        name = "unresolve_issue",
        annotations(destructive_hint = false, idempotent_hint = true)
    )]
    pub async fn unresolve_issue(&self, Parameters(args): Parameters<IssueArgs>) -> CallToolResult {
        match args {
            Ok(args) => self.mutation("unresolve", &args.issue_id, None),
            Err(e) => crate::mcp::answer::error(e.to_string()),
        }
    }

    /// Assign an issue in Sentry to a user (email or username) or `#team` (needs
    /// SENTRY_AUTH_TOKEN with issue:write). Example: {"issue_id": "PROJ-123", "assignee": "jane@example.com"}.
    #[tool(
        name = "assign_issue",
        annotations(destructive_hint = false, idempotent_hint = true)
    )]
    pub async fn assign_issue(&self, Parameters(args): Parameters<AssignArgs>) -> CallToolResult {
        match args {
            Ok(args) => self.mutation("assign", &args.issue_id, Some(&args.assignee)),
            Err(e) => crate::mcp::answer::error(e.to_string()),
        }
    }
}

impl SentryMcp {
    fn mutation(&self, what: &str, issue_id: &str, assignee: Option<&str>) -> CallToolResult {
        crate::mcp::answer::error(self.refusal(what, issue_id, assignee).to_string())
    }

    /// Why the mutation cannot happen: a bad argument, or no Sentry API to send it to
    /// (until the API client lands, issue 9).
    fn refusal(&self, what: &str, issue_id: &str, assignee: Option<&str>) -> ToolError {
        if let Err(e) = parse_issue_ref(issue_id) {
            return ToolError::argument("issue_id", e);
        }
        if let Some(a) = assignee
            && a.contains(char::is_whitespace)
        {
            return ToolError::argument(
                "assignee",
                format!("{a:?} has spaces: pass an email, a username or #team-slug"),
            );
        }
        ToolError::Api(if self.ctx.has_token {
            format!(
                "cannot {what} issue {issue_id}: the Sentry API client is not available in this \
                 version of sentry-mcp yet; do it in Sentry's UI"
            )
        } else {
            format!(
                "cannot {what} issue {issue_id}: this changes Sentry itself and needs a Sentry \
                 API token; set SENTRY_AUTH_TOKEN (with issue:write) on the server"
            )
        })
    }
}
