//! Issue tools answered from the index: `list_issues`, `get_issue`, `get_issue_events`,
//! `get_event`. The last three fetch from the Sentry API what the index lacks
//! ([`super::fetch`]) and then answer from the index as always.

use rmcp::model::{CallToolResult, ContentBlock};
use rmcp::{tool, tool_router};
use schemars::JsonSchema;
use sentry_mcp_index::{DocKind, Filter, GroupBy, QueryMode, Scope, SearchRequest};
use serde::Deserialize;
use serde_json::{Value, json};

use super::args::{Parameters, lenient};
use super::common::ToolResult;
use super::common::{ONE_DAY, Sort, Window, index_error, limit, scope};
use super::error::ToolError;
use crate::mcp::SentryMcp;
use crate::mcp::ToolContext;
use crate::mcp::answer::{Answer, Listing, ago, compact};
use chrono::{DateTime, Utc};

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListIssuesArgs {
    /// Sentry issue search syntax; free text allowed. Default `is:unresolved`.
    /// Example: `is:unresolved level:error !environment:staging timesSeen:>100 lastSeen:-24h "connection reset"`.
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub query: Option<String>,
    /// Organization slug (defaults to the server's SENTRY_ORG, if any).
    #[serde(alias = "organization_slug", alias = "org")]
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub organization: Option<String>,
    /// Project slug(s), comma-separated, e.g. `checkout-api`.
    #[serde(alias = "project_slug")]
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub project: Option<String>,
    /// Environment(s), comma-separated, e.g. `production`.
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub environment: Option<String>,
    /// Order: `date` (last seen, default), `new` (first seen), `freq` (events), `user` (users).
    pub sort: Option<Sort>,
    /// Only issues seen in this window before now: `1h`, `24h`, `7d`.
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub period: Option<String>,
    /// Most issues to return (1-100, default 20).
    #[schemars(range(min = 1, max = 100))]
    #[serde(default, deserialize_with = "lenient::opt_u32")]
    pub limit: Option<u32>,
    /// `cursor` from a previous answer, to get the next page.
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub cursor: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IssueArgs {
    /// The issue: numeric id (`4100002`), short id (`CHECKOUT-API-102`) or issue URL.
    #[serde(alias = "issueId", alias = "issue_url", alias = "issue")]
    #[serde(deserialize_with = "lenient::string")]
    pub issue_id: String,
    /// Organization slug (optional; issue ids are unique).
    #[serde(alias = "organization_slug", alias = "org")]
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub organization: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IssueEventsArgs {
    /// The issue: numeric id, short id (`PROJ-123`) or issue URL.
    #[serde(alias = "issueId", alias = "issue_url", alias = "issue")]
    #[serde(deserialize_with = "lenient::string")]
    pub issue_id: String,
    /// Extra event filter in Sentry search syntax, e.g. `environment:production release:1.2.0`.
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub query: Option<String>,
    /// Environment(s), comma-separated.
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub environment: Option<String>,
    /// Only events in this window before now: `1h`, `24h`, `7d`.
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub period: Option<String>,
    /// Most events to return (1-100, default 20).
    #[schemars(range(min = 1, max = 100))]
    #[serde(default, deserialize_with = "lenient::opt_u32")]
    pub limit: Option<u32>,
    /// `cursor` from a previous answer.
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub cursor: Option<String>,
    /// Organization slug (optional).
    #[serde(alias = "organization_slug", alias = "org")]
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub organization: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EventArgs {
    /// The event id (32 hex characters), e.g. `bb78c1407cea4519aa397afc059c793d`.
    #[serde(deserialize_with = "lenient::string")]
    pub event_id: String,
    /// Organization slug (optional; event ids are unique).
    #[serde(alias = "organization_slug", alias = "org")]
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub organization: Option<String>,
    /// Project slug (optional; event ids are unique).
    #[serde(alias = "project_slug")]
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub project: Option<String>,
}

#[tool_router(router = issues_router, vis = "pub(super)")]
impl SentryMcp {
    /// List Sentry issues (grouped errors) from the local index, newest activity first.
    /// Uses Sentry's issue-search syntax. Example: {"query": "is:unresolved level:error lastSeen:-24h", "project": "checkout-api", "sort": "freq"}.
    #[tool(
        name = "list_issues",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    pub async fn list_issues(
        &self,
        Parameters(args): Parameters<ListIssuesArgs>,
    ) -> CallToolResult {
        self.run(move |ctx, now| {
            let args = args?;
            let window = match args.period.as_deref() {
                Some(p) => Some(Window::resolve(Some(p), None, None, ONE_DAY, now)?),
                None => None,
            };
            let query = args.query.clone().unwrap_or_else(|| "is:unresolved".into());
            let org = args.organization.as_deref();
            let sort = args.sort.unwrap_or_default();
            let request = SearchRequest {
                query: query.clone(),
                mode: QueryMode::Issues,
                scope: scope(
                    &[DocKind::Issue],
                    org,
                    args.project.as_deref(),
                    args.environment.as_deref(),
                    window,
                ),
                sort: sort.into(),
                limit: limit(args.limit),
                cursor: args.cursor.clone(),
            };
            let page = ctx.reader.search_page(&request, now).map_err(index_error)?;
            let list = Listing::of(&page, now);
            let mut summary = format!(
                "{} of {} issues matching `{query}`{} (sort: {}):\n{}",
                list.items.len(),
                page.total,
                window
                    .map(|w| format!(" seen in the {}", w.describe(now)))
                    .unwrap_or_default(),
                request.sort.as_str(),
                list.text_or("")
            );
            summary.push_str(&super::common::notes_text(&page.notes));
            if page.total == 0 {
                summary.push_str(&super::common::no_match_hint(&query, now));
            }
            summary.push_str(&list.cursor_note());
            Ok(Answer::new(
                summary,
                json!({
                    "total": page.total,
                    "issues": list.items,
                    "cursor": list.cursor,
                    "notes": page.notes,
                }),
            )
            .into_result())
        })
        .await
    }

    /// Details of one issue from the local index: status, counts, first/last seen, assignee,
    /// releases and environments it was seen in, its latest event with the stack trace, comments, and
    /// Seer's root cause, solution and fix PR when Sentry sent them. A copy nothing has
    /// confirmed lately is asked of Sentry first (the answer says when that fails).
    /// Example: {"issue_id": "CHECKOUT-API-102"}.
    #[tool(
        name = "get_issue",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    pub async fn get_issue(&self, Parameters(args): Parameters<IssueArgs>) -> CallToolResult {
        let args = match args {
            Ok(a) => std::sync::Arc::new(a),
            Err(e) => return crate::mcp::answer::error(e.to_string()),
        };
        let stale = self
            .refresh_if_due(&args.issue_id, args.organization.as_deref())
            .await;
        let fetch_args = args.clone();
        let mut answer = self
            .answer_or_fetch(args, issue_answer, || async move {
                self.fetch_issue(&fetch_args.issue_id, fetch_args.organization.as_deref())
                    .await
            })
            .await;
        if let (Some(note), Some(ContentBlock::Text(summary))) = (stale, answer.content.first_mut())
        {
            summary.text.push('\n');
            summary.text.push_str(&note);
        }
        answer
    }

    /// Events of one issue from the local index, newest first.
    /// Example: {"issue_id": "4100002", "query": "environment:production", "limit": 5}.
    #[tool(
        name = "get_issue_events",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    pub async fn get_issue_events(
        &self,
        Parameters(args): Parameters<IssueEventsArgs>,
    ) -> CallToolResult {
        let args = match args {
            Ok(a) => std::sync::Arc::new(a),
            Err(e) => return crate::mcp::answer::error(e.to_string()),
        };
        let fetch_args = args.clone();
        self.answer_or_fetch(args, issue_events_answer, || async move {
            self.fetch_issue_events(&fetch_args.issue_id, fetch_args.organization.as_deref())
                .await
        })
        .await
    }

    /// One event from the local index, with its stack trace, tags and context.
    /// Example: {"event_id": "bb78c1407cea4519aa397afc059c793d"}.
    #[tool(
        name = "get_event",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    pub async fn get_event(&self, Parameters(args): Parameters<EventArgs>) -> CallToolResult {
        let args = match args {
            Ok(a) => std::sync::Arc::new(a),
            Err(e) => return crate::mcp::answer::error(e.to_string()),
        };
        let fetch_args = args.clone();
        self.answer_or_fetch(args, event_answer, || async move {
            self.fetch_event(
                &fetch_args.event_id,
                fetch_args.organization.as_deref(),
                fetch_args.project.as_deref(),
            )
            .await
        })
        .await
    }
}

fn issue_answer(
    ctx: &ToolContext,
    args: &IssueArgs,
    now: DateTime<Utc>,
) -> ToolResult<CallToolResult> {
    let issue = ctx.find_issue(&args.issue_id, args.organization.as_deref())?;
    let events_scope = Scope {
        issue: Some(issue.id.clone()),
        ..scope(&[DocKind::Event], None, None, None, None)
    };
    let events_of = Filter {
        query: String::new(),
        mode: QueryMode::Events,
        scope: events_scope.clone(),
    };
    let (by, indexed_events) = ctx
        .reader
        .count_by_each(
            &events_of,
            &[GroupBy::Release, GroupBy::Environment],
            5,
            now,
        )
        .map_err(index_error)?;
    let [releases, environments]: [Vec<sentry_mcp_index::Bucket>; 2] =
        by.try_into().unwrap_or_default();
    let latest = ctx
        .reader
        .newest(
            &SearchRequest {
                mode: QueryMode::Events,
                limit: 1,
                scope: events_scope,
                ..Default::default()
            },
            now,
        )
        .map_err(index_error)?
        .into_iter()
        .next();
    let mut summary = crate::mcp::answer::line(&issue, now);
    if let Some(culprit) = &issue.culprit {
        summary.push_str(&format!("\nculprit: {culprit}"));
    }
    let buckets = |b: &[sentry_mcp_index::Bucket]| {
        b.iter()
            .map(|b| format!("{} ({})", b.key, b.count))
            .collect::<Vec<_>>()
            .join(", ")
    };
    if !releases.is_empty() {
        summary.push_str(&format!("\nreleases: {}", buckets(&releases)));
    }
    if !environments.is_empty() {
        summary.push_str(&format!("\nenvironments: {}", buckets(&environments)));
    }
    summary.push_str(&format!("\nevents in the local index: {indexed_events}"));
    // The latest event's payload, parsed once for its stack text and its frames.
    let latest_raw = latest.as_ref().map(|e| e.raw.parse());
    if let (Some(event), Some(raw)) = (&latest, &latest_raw) {
        summary.push_str(&format!(
            "\nlatest event {} ({}):\n{}",
            event.id,
            ago(event.timestamp, now),
            stack_text(raw)
        ));
    }
    for c in &issue.comments {
        summary.push_str(&format!("\ncomment: {}", c.text));
    }
    // Seer's analyses of this issue (root cause, solution, fix PR), newest first.
    let seer_request = SearchRequest {
        mode: QueryMode::Events,
        limit: 10,
        scope: Scope {
            issue: Some(issue.id.clone()),
            tags: vec![("resource".into(), "seer".into())],
            ..scope(&[DocKind::Record], None, None, None, None)
        },
        ..Default::default()
    };
    let seer = ctx
        .reader
        .search_page(&seer_request, now)
        .map_err(index_error)?
        .docs;
    for r in seer.iter().filter(|r| r.message.is_some()) {
        let text = r.message.as_deref().unwrap_or_default();
        summary.push_str(&format!(
            "\nSeer {} ({}): {text}",
            r.title.trim_start_matches("seer."),
            ago(r.timestamp, now)
        ));
    }
    if let Some(url) = &issue.url {
        summary.push_str(&format!("\n{url}"));
    }
    if let Some(action) = issue.source.strip_prefix("sentry_api.") {
        let at = chrono::DateTime::from_timestamp_millis(issue.version.sent_at_ms);
        summary.push_str(&format!(
            "\n(state {action} from the Sentry API{})",
            at.map(|t| format!(" {}", ago(t, now))).unwrap_or_default()
        ));
    }
    let mut data = compact(&issue);
    data["seer"] = json!(
        seer.iter()
            .map(|r| json!({
                "step": r.title,
                "at": r.timestamp,
                "text": r.message,
            }))
            .collect::<Vec<_>>()
    );
    data["comments"] = json!(issue.comments);
    data["tags"] = json!(issue.tags);
    data["releases"] = json!(
        releases
            .iter()
            .map(|b| json!({
                "release": b.key,
                "events": b.count,
            }))
            .collect::<Vec<_>>()
    );
    data["environments"] = json!(
        environments
            .iter()
            .map(|b| json!({
                "environment": b.key,
                "events": b.count,
            }))
            .collect::<Vec<_>>()
    );
    data["latest_event"] = match (&latest, &latest_raw) {
        (Some(e), Some(raw)) => json!({
            "event_id": e.id,
            "timestamp": e.timestamp,
            "frames": frames(raw),
        }),
        _ => Value::Null,
    };
    Ok(Answer::new(summary, data).into_result())
}

fn issue_events_answer(
    ctx: &ToolContext,
    args: &IssueEventsArgs,
    now: DateTime<Utc>,
) -> ToolResult<CallToolResult> {
    let issue = ctx.find_issue(&args.issue_id, args.organization.as_deref())?;
    let window = match args.period.as_deref() {
        Some(p) => Some(Window::resolve(Some(p), None, None, ONE_DAY, now)?),
        None => None,
    };
    let extra = args.query.clone().unwrap_or_default();
    let request = SearchRequest {
        query: extra.clone(),
        mode: QueryMode::Events,
        scope: Scope {
            issue: Some(issue.id.clone()),
            ..scope(
                &[DocKind::Event],
                None,
                None,
                args.environment.as_deref(),
                window,
            )
        },
        limit: limit(args.limit),
        cursor: args.cursor.clone(),
        ..Default::default()
    };
    let page = ctx.reader.search_page(&request, now).map_err(index_error)?;
    // No events at all is something to explain; none matching a filter is an answer.
    let filtered = !extra.trim().is_empty() || args.environment.is_some() || window.is_some();
    let any_events = if !filtered {
        page.total > 0
    } else {
        let all = Filter {
            query: String::new(),
            mode: QueryMode::Events,
            scope: Scope {
                issue: Some(issue.id.clone()),
                ..scope(&[DocKind::Event], None, None, None, None)
            },
        };
        ctx.reader
            .count_by(&all, GroupBy::Issue, 1, now)
            .map_err(index_error)?
            .1
            > 0
    };
    if page.total == 0 && !any_events {
        // With a token, the caller asks Sentry next and says what it answered.
        let api = if ctx.sentry.has_token() {
            ""
        } else {
            "; set SENTRY_AUTH_TOKEN to let the server fetch them from the Sentry API"
        };
        return Err(ToolError::NotFound(format!(
            "no events of issue {} are in the local index (events arrive with Sentry's \
             `error` webhook){api}",
            issue.short_id.as_deref().unwrap_or(&issue.id),
        )));
    }
    let list = Listing::of(&page, now);
    let mut summary = format!(
        "{} of {} events of {} ({}):\n{}",
        list.items.len(),
        page.total,
        issue.short_id.as_deref().unwrap_or(&issue.id),
        issue.title,
        list.text_or("")
    );
    if page.total == 0 {
        summary.push_str(&super::common::no_match_hint(&extra, now));
    }
    summary.push_str(&super::common::notes_text(&page.notes));
    summary.push_str(&list.cursor_note());
    Ok(Answer::new(
        summary,
        json!({"total": page.total, "events": list.items, "cursor": list.cursor}),
    )
    .into_result())
}

fn event_answer(
    ctx: &ToolContext,
    args: &EventArgs,
    now: DateTime<Utc>,
) -> ToolResult<CallToolResult> {
    let id = args.event_id.trim().replace('-', "").to_ascii_lowercase();
    if id.is_empty() || !id.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(ToolError::argument(
            "event_id",
            format!(
                "{:?} is not an event id: pass the 32 hex characters \
Sentry shows",
                args.event_id
            ),
        ));
    }
    let event = ctx
        .reader
        .get(DocKind::Event, &id)
        .map_err(index_error)?
        .ok_or_else(|| {
            ToolError::NotFound(format!(
                "event {id} is not in the local index{}",
                if ctx.sentry.has_token() {
                    ""
                } else {
                    " (set SENTRY_AUTH_TOKEN to fetch events from the Sentry API)"
                }
            ))
        })?;
    let mut summary = crate::mcp::answer::line(&event, now);
    if let Some(m) = event.message.as_deref().filter(|m| !m.is_empty()) {
        summary.push_str(&format!("\nmessage: {m}"));
    }
    let raw = event.raw.parse();
    summary.push_str(&format!(
        "\nstack trace (most recent call last):\n{}",
        stack_text(&raw)
    ));
    if !event.tags.is_empty() {
        let tags: Vec<String> = event.tags.iter().map(|(k, v)| format!("{k}={v}")).collect();
        summary.push_str(&format!("\ntags: {}", tags.join(", ")));
    }
    let mut data = compact(&event);
    data["tags"] = json!(event.tags);
    data["exception"] = json!({"types": event.exception_types, "values": event.exception_values});
    data["frames"] = frames(&raw);
    data["contexts"] = raw.get("contexts").cloned().unwrap_or(Value::Null);
    data["user"] = raw.get("user").cloned().unwrap_or(Value::Null);
    data["request"] = raw
        .get("request")
        .map(|r| json!({"url": r.get("url"), "method": r.get("method")}))
        .unwrap_or(Value::Null);
    Ok(Answer::new(summary, data).into_result())
}

/// Stack frames of an event payload, innermost last: from its exceptions, its top-level
/// stack trace or its threads (the walk indexing uses too).
pub(super) fn frames(raw: &Value) -> Value {
    let frames = sentry_mcp_ingest::stack::frames(raw).map(|f| {
        json!({
            "file": f.get("filename").or_else(|| f.get("abs_path")),
            "function": f.get("function"),
            "module": f.get("module"),
            "line": f.get("lineno"),
            "in_app": f.get("in_app"),
            "context": f.get("context_line"),
        })
    });
    Value::Array(frames.collect())
}

/// Each stack's frames and what raised it, like a traceback.
pub(super) fn stack_text(raw: &Value) -> String {
    let mut lines = Vec::new();
    for stack in sentry_mcp_ingest::stack::stacks(raw) {
        for f in stack.frames {
            let s = |k: &str| f.get(k).and_then(Value::as_str).unwrap_or("?").to_owned();
            let file = f.get("filename").or_else(|| f.get("abs_path"));
            let file = file.and_then(Value::as_str).unwrap_or("?");
            let line = f
                .get("lineno")
                .and_then(Value::as_u64)
                .map(|l| format!(":{l}"))
                .unwrap_or_default();
            let app = if f.get("in_app").and_then(Value::as_bool) == Some(true) {
                " (in app)"
            } else {
                ""
            };
            lines.push(format!("  {file}{line} in {}{app}", s("function")));
            if let Some(ctx) = f.get("context_line").and_then(Value::as_str) {
                lines.push(format!("      {}", ctx.trim()));
            }
        }
        match (stack.exception, stack.thread_name()) {
            (Some(_), _) => lines.push(format!(
                "{}: {}",
                stack.exception_type().unwrap_or("Error"),
                stack.exception_value().unwrap_or("")
            )),
            (None, Some(thread)) => lines.push(format!("(thread {thread})")),
            (None, None) => lines.push("(stack trace of the event)".into()),
        }
    }
    if lines.is_empty() {
        "(no stack trace in this event)".into()
    } else {
        lines.join("\n")
    }
}
