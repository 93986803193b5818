//! Pattern and trend tools over the index: `top_errors`, `new_errors`, `error_spikes`,
//! `error_histogram`. None needs a Sentry token; all run on columnar fields.

use std::collections::HashMap;

use chrono::Duration;
use rmcp::model::CallToolResult;
use rmcp::{tool, tool_router};
use schemars::JsonSchema;
use sentry_mcp_index::{
    DocKind, Filter, GroupBy, IndexDoc, QueryMode, Scope, SearchRequest, SortBy,
};
use serde::Deserialize;
use serde_json::json;

use super::args::{Parameters, lenient};
use super::common::{
    ONE_DAY, ONE_HOUR, ONE_WEEK, Window, human, index_error, limit, notes_text, parse_period,
    scope, trend_scope,
};
use super::error::ToolError;
use crate::mcp::SentryMcp;
use crate::mcp::answer::{Answer, Listing};

/// What `top_errors` groups by.
#[derive(Debug, Clone, Copy, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum GroupArg {
    #[default]
    Issue,
    Project,
    Release,
    Environment,
    Level,
    #[serde(rename = "error.type")]
    ErrorType,
}

impl From<GroupArg> for GroupBy {
    fn from(g: GroupArg) -> Self {
        match g {
            GroupArg::Issue => GroupBy::Issue,
            GroupArg::Project => GroupBy::Project,
            GroupArg::Release => GroupBy::Release,
            GroupArg::Environment => GroupBy::Environment,
            GroupArg::Level => GroupBy::Level,
            GroupArg::ErrorType => GroupBy::ErrorType,
        }
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TopErrorsArgs {
    /// Window before now: `1h`, `24h` (default), `7d`.
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub period: Option<String>,
    /// Window start instead of `period` (RFC 3339, a day, or `-6h`).
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub since: Option<String>,
    /// Window end (default now).
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub until: Option<String>,
    /// Group events by `issue` (default), `project`, `release`, `environment`, `level` or `error.type`.
    pub group_by: Option<GroupArg>,
    /// Optional event filter in Sentry search syntax, e.g. `level:error`.
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub query: Option<String>,
    /// Project slug(s), comma-separated.
    #[serde(alias = "project_slug")]
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub project: Option<String>,
    /// Environment(s), comma-separated.
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub environment: Option<String>,
    /// How many groups (1-100, default 10).
    #[schemars(range(min = 1, max = 100))]
    #[serde(default, deserialize_with = "lenient::opt_u32")]
    pub limit: Option<u32>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewErrorsArgs {
    /// Issues first seen after this time: RFC 3339, a day (`2024-05-01`) or relative (`-6h`).
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub since: Option<String>,
    /// Issues first seen after this release was first seen (e.g. the deploy), e.g. `checkout@2.4.1`.
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub release: Option<String>,
    /// Issues first seen in this window before now: `1h`, `24h` (default when nothing else is given).
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub period: Option<String>,
    /// Optional issue filter in Sentry issue-search syntax, e.g. `level:error`.
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub query: Option<String>,
    /// Project slug(s), comma-separated.
    #[serde(alias = "project_slug")]
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub project: Option<String>,
    /// Environment(s), comma-separated.
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub environment: Option<String>,
    /// Most issues to return (1-100, default 20).
    #[schemars(range(min = 1, max = 100))]
    #[serde(default, deserialize_with = "lenient::opt_u32")]
    pub limit: Option<u32>,
    /// `cursor` from a previous answer.
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub cursor: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SpikesArgs {
    /// Compare the last `period` (default `1h`) with the `period` before it.
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub period: Option<String>,
    /// End of the current window instead of now (ISO 8601 or relative like `-2h`), to look
    /// back at an incident: `{"period": "1h", "until": "2026-03-01T04:00:00Z"}`.
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub until: Option<String>,
    /// Optional event filter in Sentry search syntax.
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub query: Option<String>,
    /// Project slug(s), comma-separated.
    #[serde(alias = "project_slug")]
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub project: Option<String>,
    /// Environment(s), comma-separated.
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub environment: Option<String>,
    /// Ignore issues with fewer events than this in the current window (default 3).
    #[schemars(range(min = 1))]
    #[serde(default, deserialize_with = "lenient::opt_u64")]
    pub min_count: Option<u64>,
    /// How many issues (1-100, default 10).
    #[schemars(range(min = 1, max = 100))]
    #[serde(default, deserialize_with = "lenient::opt_u32")]
    pub limit: Option<u32>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HistogramArgs {
    /// Window before now: `24h` (default), `7d`.
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub period: Option<String>,
    /// Window start instead of `period`.
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub since: Option<String>,
    /// Window end (default now).
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub until: Option<String>,
    /// Bar width, e.g. `5m`, `1h` (default: the window in about 24 bars).
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub interval: Option<String>,
    /// Only events of this issue (id, short id or URL).
    #[serde(alias = "issueId", alias = "issue_url", alias = "issue")]
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub issue_id: Option<String>,
    /// Optional event filter in Sentry search syntax.
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub query: Option<String>,
    /// Project slug(s), comma-separated.
    #[serde(alias = "project_slug")]
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub project: Option<String>,
    /// Environment(s), comma-separated.
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub environment: Option<String>,
}

#[tool_router(router = patterns_router, vis = "pub(super)")]
impl SentryMcp {
    /// The most frequent errors in a time window, grouped by issue (default), project, release,
    /// environment, level or error type, with event counts. Good first call in an incident.
    /// Example: {"period": "1h", "group_by": "issue", "environment": "production"}.
    #[tool(
        name = "top_errors",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    pub async fn top_errors(&self, Parameters(args): Parameters<TopErrorsArgs>) -> CallToolResult {
        self.run(move |ctx, now| {
            let args = args?;
            let window = Window::resolve(
                args.period.as_deref(),
                args.since.as_deref(),
                args.until.as_deref(),
                ONE_DAY,
                now,
            )?;
            let group: GroupBy = args.group_by.unwrap_or_default().into();
            let n = args.limit.map(|l| l.clamp(1, 100) as usize).unwrap_or(10);
            let filter = Filter {
                query: args.query.clone().unwrap_or_default(),
                mode: QueryMode::Events,
                scope: trend_scope(
                    args.project.as_deref(),
                    args.environment.as_deref(),
                    Some(window),
                ),
            };
            let (buckets, total) = ctx
                .reader
                .count_by(&filter, group, n, now)
                .map_err(index_error)?;
            let mut lines = Vec::new();
            let mut rows = Vec::new();
            for b in &buckets {
                let share = if total > 0 {
                    b.count as f64 * 100.0 / total as f64
                } else {
                    0.0
                };
                let issue = if group == GroupBy::Issue {
                    ctx.reader
                        .get(DocKind::Issue, &b.key)
                        .map_err(index_error)?
                } else {
                    None
                };
                lines.push(match &issue {
                    Some(i) => format!(
                        "{:>5} ({share:.0}%) {} {} | {} (issue_id {})",
                        b.count,
                        i.short_id.as_deref().unwrap_or(&i.id),
                        i.title,
                        i.project.as_deref().unwrap_or("?"),
                        i.id
                    ),
                    None => format!("{:>5} ({share:.0}%) {}", b.count, b.key),
                });
                rows.push(json!({
                    "key": b.key,
                    "count": b.count,
                    "share": (share * 10.0).round() / 10.0,
                    "title": issue.as_ref().map(|i| i.title.clone()),
                    "short_id": issue.as_ref().and_then(|i| i.short_id.clone()),
                }));
            }
            let summary = format!(
                "{total} events in the {}; top {} by {}:\n{}{}",
                window.describe(now),
                buckets.len(),
                group_name(group),
                if lines.is_empty() {
                    "(no events in this window; try a longer period)".to_owned()
                } else {
                    lines.join("\n")
                },
                notes_text(&sentry_mcp_index::query::notes(&filter.query, now))
            );
            Ok(Answer::new(
                summary,
                json!({
                    "total_events": total,
                    "group_by": group_name(group),
                    "window": {"since": window.since, "until": window.until},
                    "groups": rows,
                }),
            )
            .into_result())
        })
        .await
    }

    /// Issues that are new: first seen after a time, after a release was first seen (e.g. "what
    /// broke with this deploy"), or within a recent window. Newest first.
    /// Example: {"release": "checkout@2.4.1"} or {"since": "-6h", "project": "web-frontend"}.
    #[tool(
        name = "new_errors",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    pub async fn new_errors(&self, Parameters(args): Parameters<NewErrorsArgs>) -> CallToolResult {
        self.run(move |ctx, now| {
            let args = args?;
            let mut projects = scope(&[], None, args.project.as_deref(), None, None).projects;
            let (since, why) = match (&args.release, &args.since, &args.period) {
                (Some(release), None, None) => {
                    let of_release = Filter {
                        query: String::new(),
                        mode: QueryMode::Events,
                        scope: Scope {
                            releases: vec![release.clone()],
                            projects: projects.clone(),
                            ..Scope::default()
                        },
                    };
                    let first = ctx
                        .reader
                        .first_seen(&of_release, now)
                        .map_err(index_error)?
                        .ok_or_else(|| {
                            format!(
                                "release {release:?} has not been seen in the local \
index; list releases with top_errors group_by=release \
period=7d"
                            )
                        })?;
                    // A release belongs to its project(s): issues of other projects are not "new with it".
                    if projects.is_empty() {
                        let (buckets, _) = ctx
                            .reader
                            .count_by(&of_release, GroupBy::Project, 100, now)
                            .map_err(index_error)?;
                        projects = buckets.into_iter().map(|b| b.key).collect();
                    }
                    let of_projects = if projects.is_empty() {
                        String::new()
                    } else {
                        format!(", in its project(s) {}", projects.join(", "))
                    };
                    (
                        first,
                        format!("release {release} was first seen{of_projects}"),
                    )
                }
                (None, Some(s), None) => (
                    super::common::parse_instant(s, "since", now)?,
                    format!("since {s}"),
                ),
                (None, None, p) => {
                    let d = parse_period(p.as_deref().unwrap_or("24h"), "period")?;
                    (
                        super::common::before(now, d, "period")?,
                        format!("in the last {}", human(d)),
                    )
                }
                _ => return Err("pass only one of `release`, `since` or `period`".into()),
            };
            let user_query = args.query.clone().unwrap_or_default();
            let request = SearchRequest {
                query: user_query.clone(),
                mode: QueryMode::Issues,
                scope: Scope {
                    projects,
                    first_seen_since: Some(since),
                    ..scope(
                        &[DocKind::Issue],
                        None,
                        None,
                        args.environment.as_deref(),
                        None,
                    )
                },
                sort: SortBy::New,
                limit: limit(args.limit),
                cursor: args.cursor.clone(),
            };
            let page = ctx.reader.search_page(&request, now).map_err(index_error)?;
            let list = Listing::of(&page, now);
            let mut summary = format!(
                "{} new issues first seen after {} ({why}){}:\n{}",
                page.total,
                since.format("%Y-%m-%d %H:%M UTC"),
                if user_query.is_empty() {
                    String::new()
                } else {
                    format!(" matching `{user_query}`")
                },
                list.text_or("(none)")
            );
            summary.push_str(&notes_text(&page.notes));
            summary.push_str(&list.cursor_note());
            Ok(Answer::new(
                summary,
                json!({
                    "since": since,
                    "total": page.total,
                    "issues": list.items,
                    "cursor": list.cursor,
                }),
            )
            .into_result())
        })
        .await
    }

    /// Issues whose event rate jumped: events in the last `period` compared with the `period`
    /// before it, biggest increase first (new issues included).
    /// Example: {"period": "1h", "environment": "production"}.
    #[tool(
        name = "error_spikes",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    pub async fn error_spikes(&self, Parameters(args): Parameters<SpikesArgs>) -> CallToolResult {
        self.run(move |ctx, now| {
            let args = args?;
            let current = Window::resolve(
                Some(args.period.as_deref().unwrap_or("1h")),
                None,
                args.until.as_deref(),
                ONE_HOUR,
                now,
            )?;
            let period = current.length();
            let previous = Window {
                since: current.since - period,
                until: current.since,
            };
            let min_count = args.min_count.unwrap_or(3).max(1);
            let n = args.limit.map(|l| l.clamp(1, 100) as usize).unwrap_or(10);
            let filter = |w: Window| Filter {
                query: args.query.clone().unwrap_or_default(),
                mode: QueryMode::Events,
                scope: trend_scope(
                    args.project.as_deref(),
                    args.environment.as_deref(),
                    Some(w),
                ),
            };
            let (now_counts, now_total) = ctx
                .reader
                .count_by(&filter(current), GroupBy::Issue, 1000, now)
                .map_err(index_error)?;
            let (before_counts, before_total) = ctx
                .reader
                .count_by(&filter(previous), GroupBy::Issue, 10_000, now)
                .map_err(index_error)?;
            let before: HashMap<&str, u64> = before_counts
                .iter()
                .map(|b| (b.key.as_str(), b.count))
                .collect();
            let mut spikes: Vec<(String, u64, u64)> = now_counts
                .iter()
                .filter(|b| b.count >= min_count)
                .map(|b| {
                    (
                        b.key.clone(),
                        b.count,
                        before.get(b.key.as_str()).copied().unwrap_or(0),
                    )
                })
                .filter(|(_, cur, prev)| cur > prev)
                .collect();
            // Biggest ratio first (new issues count as prev = 0.5), ties by absolute increase.
            spikes.sort_by(|a, b| {
                let ratio = |(_, c, p): &(String, u64, u64)| *c as f64 / (*p as f64).max(0.5);
                ratio(b)
                    .total_cmp(&ratio(a))
                    .then((b.1 - b.2).cmp(&(a.1 - a.2)))
            });
            spikes.truncate(n);
            let mut lines = Vec::new();
            let mut rows = Vec::new();
            for (id, cur, prev) in &spikes {
                let issue: Option<IndexDoc> =
                    ctx.reader.get(DocKind::Issue, id).map_err(index_error)?;
                let change = if *prev == 0 {
                    "new".to_owned()
                } else {
                    format!("x{:.1}", *cur as f64 / *prev as f64)
                };
                let name = issue
                    .as_ref()
                    .map(|i| format!("{} {}", i.short_id.as_deref().unwrap_or(&i.id), i.title))
                    .unwrap_or_else(|| format!("issue {id}"));
                lines.push(format!(
                    "{prev:>5} -> {cur:<5} {change:>6}  {name} (issue_id \
{id})"
                ));
                rows.push(json!({
                    "issue_id": id,
                    "current": cur,
                    "previous": prev,
                    "change": change,
                    "title": issue.as_ref().map(|i| i.title.clone()),
                    "project": issue.as_ref().and_then(|i| i.project.clone()),
                }));
            }
            let summary = format!(
                "events: {before_total} in the previous {p}, \
{now_total} in the {}. Rising issues (at least \
{min_count} events now):\n{}{}",
                current.describe(now),
                if lines.is_empty() {
                    "(no issue rose)".to_owned()
                } else {
                    lines.join("\n")
                },
                notes_text(&sentry_mcp_index::query::notes(
                    args.query.as_deref().unwrap_or(""),
                    now
                )),
                p = human(period)
            );
            Ok(Answer::new(
                summary,
                json!({
                    "period": human(period),
                    "current_total": now_total,
                    "previous_total": before_total,
                    "spikes": rows,
                }),
            )
            .into_result())
        })
        .await
    }

    /// Event counts over time as fixed bars, to see when errors started or stopped.
    /// Example: {"period": "24h", "interval": "1h", "issue_id": "CHECKOUT-API-101"}.
    #[tool(
        name = "error_histogram",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    pub async fn error_histogram(
        &self,
        Parameters(args): Parameters<HistogramArgs>,
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
            let interval = match args.interval.as_deref() {
                Some(i) => parse_period(i, "interval")?,
                None => nice_interval(window.length()),
            };
            if window.length().num_seconds() / interval.num_seconds().max(1) > 2_000 {
                let bars = format!(
                    "{} makes more than 2000 bars over {}",
                    human(interval),
                    human(window.length())
                );
                return Err(ToolError::argument(
                    "interval",
                    format!("{bars}; use a larger interval"),
                ));
            }
            let mut scope = trend_scope(args.project.as_deref(), args.environment.as_deref(), None);
            let mut title = String::new();
            if let Some(issue_id) = &args.issue_id {
                let issue = ctx.find_issue(issue_id, None)?;
                title = format!(
                    " of {} {}",
                    issue.short_id.as_deref().unwrap_or(&issue.id),
                    issue.title
                );
                scope.issue = Some(issue.id);
            }
            let filter = Filter {
                query: args.query.clone().unwrap_or_default(),
                mode: QueryMode::Events,
                scope,
            };
            let bars = ctx
                .reader
                .histogram(&filter, window.since, window.until, interval, now)
                .map_err(index_error)?;
            let max = bars.iter().map(|b| b.count).max().unwrap_or(0);
            let total: u64 = bars.iter().map(|b| b.count).sum();
            let blocks = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
            let spark: String = bars
                .iter()
                .map(|b| {
                    if b.count == 0 {
                        ' '
                    } else {
                        blocks[((b.count * 7) / max.max(1)) as usize]
                    }
                })
                .collect();
            let lines: Vec<String> = bars
                .iter()
                .filter(|b| b.count > 0)
                .map(|b| format!("{} {:>5}", b.start.format("%m-%d %H:%M"), b.count))
                .collect();
            let summary = format!(
                "{total} events{title} in the {}, {} bars of {} (peak \
{max}):\n|{spark}|\nnon-empty bars:\n{}{}",
                window.describe(now),
                bars.len(),
                human(interval),
                if lines.is_empty() {
                    "(none)".into()
                } else {
                    lines.join("\n")
                },
                notes_text(&sentry_mcp_index::query::notes(
                    args.query.as_deref().unwrap_or(""),
                    now
                ))
            );
            let buckets: Vec<_> = bars
                .iter()
                .map(|b| json!({"start": b.start, "count": b.count}))
                .collect();
            let data = json!({
                "interval": human(interval),
                "total": total,
                "buckets": buckets,
            });
            Ok(Answer::new(summary, data).into_result())
        })
        .await
    }
}

fn group_name(g: GroupBy) -> &'static str {
    match g {
        GroupBy::Issue => "issue",
        GroupBy::Project => "project",
        GroupBy::Release => "release",
        GroupBy::Environment => "environment",
        GroupBy::Level => "level",
        GroupBy::ErrorType => "error.type",
        GroupBy::Organization => "organization",
    }
}

/// About 24 bars of a round width.
fn nice_interval(window: Duration) -> Duration {
    let target = window.num_seconds() / 24;
    [
        60, 300, 600, 900, 1800, 3600, 7200, 10_800, 21_600, 43_200, 86_400, 604_800,
    ]
    .into_iter()
    .find(|s| *s >= target)
    .and_then(Duration::try_seconds)
    .unwrap_or(ONE_WEEK)
}
