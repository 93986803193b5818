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
    /// Health check: documents in the local index by kind, dead letters, and the Sentry API:
    /// whether the token works (checked at start), organization, region, last reconcile,
    /// API errors in the last hour. Fails when the configured token does not work.
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
        let sentry = &self.ctx.sentry;
        // The first status call may come before the start-up check has answered.
        if sentry.token_state() == crate::sentry::TokenState::Unchecked {
            crate::sentry::one_budget(sentry.check_token()).await;
        }
        let now = chrono::Utc::now();
        let (api_line, api) = sentry.status(now);
        let mut summary = format!(
            "sentry-mcp index: {issues} issues, {events} events, {alerts} alerts.\n{api_line}"
        );
        let journal = sentry.store().and_then(|s| s.journal.write_error());
        if let Some(e) = &journal {
            summary.push_str(&format!(
                "\nWARNING: {}.",
                crate::http::probes::journal_trouble(e)
            ));
        }
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
        let data = json!({
                "issues": issues,
                "events": events,
                "alerts": alerts,
                "token_configured": sentry.has_token(),
                "sentry_api": api,
                "default_organization": self.ctx.organization,
                "started_at": self.ctx.started_at,
                "dead_letters": kept,
                "journal_write_error": journal.map(|e| json!({
                    "since": e.since,
                    "error": e.message,
                    "refused": e.refused,
                })),
        });
        if let crate::sentry::TokenState::Invalid { reason, .. } = sentry.token_state() {
            // A health check that fails: Holmes then reports the bad token when it loads the
            // toolset, instead of every mutation failing later.
            return error(format!(
                "the Sentry API token does not work: {reason}\n{summary}"
            ));
        }
        Answer::new(summary, data).into_result()
    }
}
