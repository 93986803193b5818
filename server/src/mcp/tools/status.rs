//! `status`: what the index holds and whether the service is healthy. Cheap enough for
//! Holmes's `health_check_tool`.

use rmcp::model::CallToolResult;
use rmcp::{tool, tool_router};
use sentry_mcp_index::DocKind;
use serde_json::json;

use crate::mcp::SentryMcp;
use crate::mcp::answer::{Answer, error};

#[tool_router(router = status_router, vis = "pub(super)")]
impl SentryMcp {
    /// Health check: documents in the local index by kind, newest data, whether a Sentry
    /// API token is configured. Takes no arguments and answers in well under a millisecond.
    #[tool(
        name = "status",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    pub async fn status(&self) -> CallToolResult {
        let r = &self.ctx.reader;
        let count = |k| r.count(k);
        let (issues, events, alerts) = match (
            count(DocKind::Issue),
            count(DocKind::Event),
            count(DocKind::Alert),
        ) {
            (Ok(i), Ok(e), Ok(a)) => (i, e, a),
            _ => {
                return error(
                    "the local index cannot be read right now; check the \
server's /health",
                );
            }
        };
        let mut summary = format!(
            "sentry-mcp index: {issues} issues, {events} events, \
{alerts} alerts. Sentry API token: {}.",
            if self.ctx.has_token {
                "configured"
            } else {
                "not configured (search tools work; resolve/assign need \
SENTRY_AUTH_TOKEN)"
            }
        );
        let letters = &self.ctx.dead_letters;
        let dir = letters.dir().display().to_string();
        let mut kept = json!(null);
        if let (count, Some(newest)) = letters.summary() {
            summary.push_str(&format!(
                "\nWARNING: {count} received webhook(s) could not be indexed and are kept in \
                 {dir} (newest: journal record {}, {}: {}); answers may miss them until a \
                 fixed version indexes them on start.",
                newest.record.seq, newest.record.delivery.resource, newest.error
            ));
            let newest = json!({
                "seq": newest.record.seq,
                "resource": newest.record.delivery.resource,
                "error": newest.error,
            });
            kept = json!({"count": count, "dir": dir, "newest": newest});
        }
        Answer::new(
            summary,
            json!({
                "issues": issues,
                "events": events,
                "alerts": alerts,
                "token_configured": self.ctx.has_token,
                "default_organization": self.ctx.organization,
                "started_at": self.ctx.started_at,
                "dead_letters": kept,
            }),
        )
        .into_result()
    }
}
