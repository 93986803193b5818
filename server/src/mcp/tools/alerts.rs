//! `list_alerts`: metric and issue alerts received as webhooks.

use rmcp::model::CallToolResult;
use rmcp::{tool, tool_router};
use schemars::JsonSchema;
use sentry_mcp_index::{DocKind, QueryMode, SearchRequest};
use serde::Deserialize;
use serde_json::json;

use super::args::{Parameters, lenient};
use super::common::{ONE_WEEK, Window, index_error, limit, scope};
use crate::mcp::SentryMcp;
use crate::mcp::answer::{Answer, Listing};

/// Which alerts to list.
#[derive(Debug, Clone, Copy, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum AlertState {
    /// Every alert (default).
    #[default]
    Any,
    /// Metric alerts still critical or warning, and issue alerts that fired.
    Active,
    /// Metric alerts that resolved.
    Resolved,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListAlertsArgs {
    /// Alerts that changed in this window before now: `24h`, `7d` (default `7d`).
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub period: Option<String>,
    /// `any` (default), `active` or `resolved`.
    pub state: Option<AlertState>,
    /// Project slug(s), comma-separated.
    #[serde(alias = "project_slug")]
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub project: Option<String>,
    /// Most alerts (1-100, default 20).
    #[schemars(range(min = 1, max = 100))]
    #[serde(default, deserialize_with = "lenient::opt_u32")]
    pub limit: Option<u32>,
    /// `cursor` from a previous answer.
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub cursor: Option<String>,
}

#[tool_router(router = alerts_router, vis = "pub(super)")]
impl SentryMcp {
    /// Metric alerts (critical, warning, resolved) and issue alerts (rule fired on an event)
    /// that Sentry sent to this server, newest first. Example: {"period": "24h", "state": "active"}.
    #[tool(
        name = "list_alerts",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    pub async fn list_alerts(
        &self,
        Parameters(args): Parameters<ListAlertsArgs>,
    ) -> CallToolResult {
        self.run(move |ctx, now| {
            let args = args?;
            let window = Window::resolve(args.period.as_deref(), None, None, ONE_WEEK, now)?;
            let query = match args.state.unwrap_or_default() {
                AlertState::Any => "",
                AlertState::Active => "!status:resolved",
                AlertState::Resolved => "status:resolved",
            };
            let request = SearchRequest {
                query: query.into(),
                mode: QueryMode::Issues,
                scope: scope(
                    &[DocKind::Alert],
                    None,
                    args.project.as_deref(),
                    None,
                    Some(window),
                ),
                limit: limit(args.limit),
                cursor: args.cursor.clone(),
                ..Default::default()
            };
            let page = ctx.reader.search_page(&request, now).map_err(index_error)?;
            let list = Listing::of(&page, now);
            let mut summary = format!(
                "{} alerts in the {}:\n{}",
                page.total,
                window.describe(now),
                list.text_or("(none received)")
            );
            summary.push_str(&list.cursor_note());
            Ok(Answer::new(
                summary,
                json!({"total": page.total, "alerts": list.items, "cursor": list.cursor}),
            )
            .into_result())
        })
        .await
    }
}
