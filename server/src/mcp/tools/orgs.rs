//! `list_organizations` and `list_projects`: what the index has seen (the Sentry API
//! variant needs a token and comes with the API client).

use rmcp::model::CallToolResult;
use rmcp::{tool, tool_router};
use schemars::JsonSchema;
use sentry_mcp_index::{DocKind, Filter, GroupBy, QueryMode};
use serde::Deserialize;
use serde_json::json;

use super::args::{Parameters, lenient};
use super::common::{index_error, scope};
use crate::mcp::SentryMcp;
use crate::mcp::answer::Answer;

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListProjectsArgs {
    /// Organization slug (optional).
    #[serde(alias = "organization_slug", alias = "org")]
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub organization: Option<String>,
}

#[tool_router(router = orgs_router, vis = "pub(super)")]
impl SentryMcp {
    /// Organizations known to this server: the configured default and those seen in webhooks.
    #[tool(
        name = "list_organizations",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    pub async fn list_organizations(&self) -> CallToolResult {
        self.run(move |ctx, now| {
            let filter = Filter {
                query: String::new(),
                mode: QueryMode::Events,
                scope: scope(&[], None, None, None, None),
            };
            let (seen, _) = ctx
                .reader
                .count_by(&filter, GroupBy::Organization, 100, now)
                .map_err(index_error)?;
            let mut orgs: Vec<String> = ctx.organization.iter().cloned().collect();
            for b in seen {
                if !orgs.contains(&b.key) {
                    orgs.push(b.key);
                }
            }
            let source = if ctx.has_token {
                "configured and seen in webhooks"
            } else {
                "from the local index (no SENTRY_AUTH_TOKEN, so the \
Sentry API was not asked)"
            };
            let summary = if orgs.is_empty() {
                "No organization known yet: set SENTRY_ORG, or wait for \
the first webhook."
                    .to_owned()
            } else {
                format!(
                    "{} organizations, {source}:\n{}",
                    orgs.len(),
                    orgs.join("\n")
                )
            };
            Ok(Answer::new(
                summary,
                json!({"organizations": orgs, "default": ctx.organization}),
            )
            .into_result())
        })
        .await
    }

    /// Projects seen in the local index with their issue and event counts.
    /// Example: {"organization": "acme"}.
    #[tool(
        name = "list_projects",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    pub async fn list_projects(
        &self,
        Parameters(args): Parameters<ListProjectsArgs>,
    ) -> CallToolResult {
        self.run(move |ctx, now| {
            let args = args?;
            let count = |kind| {
                let filter = Filter {
                    query: String::new(),
                    mode: QueryMode::Events,
                    scope: scope(&[kind], args.organization.as_deref(), None, None, None),
                };
                ctx.reader
                    .count_by(&filter, GroupBy::Project, 1000, now)
                    .map_err(index_error)
            };
            let (issues, _) = count(DocKind::Issue)?;
            let (events, _) = count(DocKind::Event)?;
            let mut names: Vec<&str> = issues
                .iter()
                .chain(&events)
                .map(|b| b.key.as_str())
                .collect();
            names.sort_unstable();
            names.dedup();
            let of = |list: &[sentry_mcp_index::Bucket], name: &str| {
                list.iter()
                    .find(|b| b.key == name)
                    .map(|b| b.count)
                    .unwrap_or(0)
            };
            let rows: Vec<_> = names
                .iter()
                .map(|p| json!({"project": p, "issues": of(&issues, p), "events": of(&events, p)}))
                .collect();
            let lines: Vec<String> = names
                .iter()
                .map(|p| format!("{p}: {} issues, {} events", of(&issues, p), of(&events, p)))
                .collect();
            let summary = if lines.is_empty() {
                "No projects in the local index yet.".to_owned()
            } else {
                format!(
                    "{} projects in the local index:\n{}",
                    lines.len(),
                    lines.join("\n")
                )
            };
            Ok(Answer::new(summary, json!({"projects": rows})).into_result())
        })
        .await
    }
}
