//! `search_errors`: free text plus Sentry search syntax over events, grouped by issue.

use rmcp::model::CallToolResult;
use rmcp::{tool, tool_router};
use schemars::JsonSchema;
use sentry_mcp_index::{DocKind, IndexDoc};
use serde::Deserialize;
use serde_json::json;

use super::args::{Parameters, lenient};
use super::common::{ONE_DAY, Window, index_error, limit, scope};
use super::error::ToolError;
use crate::mcp::SentryMcp;
use crate::mcp::answer::{MAX_ANSWER_CHARS, ago};

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SearchErrorsArgs {
    /// Free text and/or Sentry search syntax (AND, OR and parentheses allowed), plus filters on
    /// each issue's group of matching events: `count():>10`, `count_unique(user):>5`, `epm():>1`,
    /// `last_seen():-1h`.
    /// Example: `"connection reset" environment:production` or `error.type:TimeoutError OR error.type:ConnectionResetError`.
    /// Left out or empty: every event in the window.
    #[serde(default, deserialize_with = "lenient::string_or_empty")]
    pub query: String,
    /// Window before now to search: `1h`, `24h` (default), `7d`.
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub period: Option<String>,
    /// Window start instead of `period`: RFC 3339 (`2024-05-01T12:00:00Z`), a day, or `-6h`.
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub since: Option<String>,
    /// Window end (default now).
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub until: Option<String>,
    /// Project slug(s), comma-separated.
    #[serde(alias = "project_slug")]
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub project: Option<String>,
    /// Environment(s), comma-separated.
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub environment: Option<String>,
    /// Organization slug.
    #[serde(alias = "organization_slug", alias = "org")]
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub organization: Option<String>,
    /// Most issue groups to return (1-100, default 20).
    #[schemars(range(min = 1, max = 100))]
    #[serde(default, deserialize_with = "lenient::opt_u32")]
    pub limit: Option<u32>,
    /// `cursor` from a previous answer.
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub cursor: Option<String>,
}

#[tool_router(router = search_router, vis = "pub(super)")]
impl SentryMcp {
    /// Search errors (events) in the local index and group them by issue, with the number of
    /// matching events per issue in the window. Also finds matching issues whose events were not
    /// sent as webhooks. Example: {"query": "timeout environment:production", "period": "6h"}.
    #[tool(
        name = "search_errors",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    pub async fn search_errors(
        &self,
        Parameters(args): Parameters<SearchErrorsArgs>,
    ) -> CallToolResult {
        self.run(move |ctx, now| {
            let args = args?;
            let window = Window::resolve(
                args.period.as_deref(),
                args.since.as_deref(),
                args.until.as_deref(),
                ONE_DAY,
                now,
            )?;
            let offset: usize = match args.cursor.as_deref() {
                None => 0,
                Some(c) => c
                    .strip_prefix("groups:")
                    .and_then(|n| n.parse().ok())
                    .ok_or_else(|| {
                        ToolError::argument(
                            "cursor",
                            "pass back the cursor of a previous search_errors \
answer unchanged",
                        )
                    })?,
            };
            let limit = limit(args.limit);
            let org = args.organization.as_deref();
            let scope = scope(
                &[DocKind::Event],
                org,
                args.project.as_deref(),
                args.environment.as_deref(),
                Some(window),
            );
            // Issues that match but whose events never came as webhooks (no `error`
            // subscription) fill the first page after the event groups.
            let found = ctx
                .reader
                .issue_groups(
                    &args.query,
                    &scope,
                    if offset == 0 { limit } else { 0 },
                    now,
                )
                .map_err(index_error)?;
            let total_events = found.total_events;
            let more_groups = found.groups.len() > offset + limit;
            let mut groups = Vec::new();
            for g in found.groups.iter().skip(offset).take(limit) {
                let issue = ctx
                    .reader
                    .get(DocKind::Issue, &g.issue_id)
                    .map_err(index_error)?;
                let mut row = group(
                    &g.issue_id,
                    issue.as_ref(),
                    g.stats.count,
                    "events in window",
                );
                // What the group filters (count_unique(user), last_seen()) compared.
                row.0["users_in_window"] = json!(g.stats.users);
                row.0["last_event"] = json!(g.stats.last_seen);
                groups.push(row);
            }
            let mut from_issues = 0;
            for issue in found
                .issues_without_events
                .iter()
                .take(limit.saturating_sub(groups.len()))
            {
                from_issues += 1;
                groups.push(group(
                    &issue.id,
                    Some(issue),
                    issue.times_seen.unwrap_or(0),
                    "times seen (issue total)",
                ));
            }
            let cursor = more_groups.then(|| format!("groups:{}", offset + limit));
            let mut lines = Vec::new();
            let mut used = 0;
            for g in &groups {
                let line = g.1.clone();
                used += line.len() + g.0.to_string().len();
                if used > MAX_ANSWER_CHARS - 4_000 {
                    lines.push(
                        "(cut at the answer size limit; narrow the query or \
lower `limit`)"
                            .into(),
                    );
                    break;
                }
                lines.push(line);
            }
            let what = if args.query.trim().is_empty() {
                "with no query".to_owned()
            } else {
                format!("for `{}`", args.query)
            };
            let mut summary = format!(
                "{total_events} matching events in the {} {what}; \
issues by matching events{}:\n{}\n",
                window.describe(now),
                if from_issues > 0 {
                    format!(
                        " ({from_issues} more matched as issues whose events \
were not sent as webhooks)"
                    )
                } else {
                    String::new()
                },
                lines.join("\n")
            );
            if found.filtered {
                summary.push_str(&format!(
                    "({} issue groups passed the aggregate filters; issues \
without webhook events are judged by their totals)\n",
                    found.groups.len()
                ));
            }
            summary.push_str(&super::common::notes_text(&found.notes));
            if groups.is_empty() {
                summary.push_str(&super::common::no_match_hint(&args.query, now));
            }
            if let Some(c) = &cursor {
                summary.push_str(&format!("\n(more issue groups: pass cursor \"{c}\")"));
            }
            let data = json!({
                "total_events": total_events,
                "window": {"since": window.since, "until": window.until},
                "groups": groups.iter().map(|g| g.0.clone()).collect::<Vec<_>>(),
                "cursor": cursor,
                "notes": found.notes,
            });
            Ok(crate::mcp::answer::Answer::new(summary, data).into_result())
        })
        .await
    }
}

/// A group as JSON and as one text line.
fn group(
    issue_id: &str,
    issue: Option<&IndexDoc>,
    count: u64,
    what: &str,
) -> (serde_json::Value, String) {
    let now = chrono::Utc::now();
    match issue {
        Some(i) => (
            json!({
                "issue_id": issue_id,
                "short_id": i.short_id,
                "title": i.title,
                "count": count,
                "count_is": what,
                "level": i.level,
                "status": i.status,
                "project": i.project,
                "last_seen": i.last_seen,
                "culprit": i.culprit,
            }),
            format!(
                "{count:>5} {what}: {} [{}, {}] {} | {}, last seen {} \
(issue_id {issue_id})",
                i.short_id.as_deref().unwrap_or(issue_id),
                i.level.as_deref().unwrap_or("?"),
                i.status.as_deref().unwrap_or("?"),
                i.title,
                i.project.as_deref().unwrap_or("?"),
                ago(i.last_seen.unwrap_or(i.timestamp), now)
            ),
        ),
        None => (
            json!({"issue_id": issue_id, "count": count, "count_is": what}),
            format!(
                "{count:>5} {what}: issue {issue_id} (issue details not \
indexed)"
            ),
        ),
    }
}
