//! `list_organizations` and `list_projects`: from the Sentry API when a token is set (a
//! minute's cache), merged with what the index has seen.

use rmcp::model::CallToolResult;
use rmcp::{tool, tool_router};
use schemars::JsonSchema;
use sentry_mcp_index::{DocKind, Filter, GroupBy, QueryMode};
use serde::Deserialize;
use serde_json::{Value, json};

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
    /// Organizations: from the Sentry API when a token is set (merged with those seen in
    /// webhooks), else those the local index has seen and the configured default.
    #[tool(
        name = "list_organizations",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    pub async fn list_organizations(&self) -> CallToolResult {
        let api = match self.ctx.sentry.has_token() {
            true => Some(crate::sentry::one_budget(self.ctx.sentry.organizations()).await),
            false => None,
        };
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
            let mut rows: Vec<Value> = Vec::new();
            let mut add = |slug: &str, name: Option<&str>, source: &str| {
                if let Some(row) = rows.iter_mut().find(|r| r["slug"] == slug) {
                    if let Some(list) = row["sources"].as_array_mut() {
                        list.push(json!(source));
                    }
                    return;
                }
                rows.push(json!({"slug": slug, "name": name, "sources": [source]}));
            };
            let mut note = String::new();
            match &api {
                Some(Ok(orgs)) => {
                    for o in orgs {
                        add(&o.slug, Some(&o.name).filter(|n| !n.is_empty()).map(|n| n.as_str()), "sentry_api");
                    }
                }
                Some(Err(e)) => note = format!("\n(Sentry API not used: {e})"),
                None => {
                    note = "\n(from the local index: no SENTRY_AUTH_TOKEN, so the Sentry API was \
                            not asked)"
                        .into()
                }
            }
            if let Some(org) = &ctx.organization {
                add(org, None, "configured");
            }
            for b in &seen {
                add(&b.key, None, "webhooks");
            }
            let lines: Vec<String> = rows
                .iter()
                .map(|r| match r["name"].as_str() {
                    Some(name) => format!("{} ({name})", r["slug"].as_str().unwrap_or_default()),
                    None => r["slug"].as_str().unwrap_or_default().to_owned(),
                })
                .collect();
            let summary = if rows.is_empty() {
                format!("No organization known yet: set SENTRY_ORG, or wait for the first webhook.{note}")
            } else {
                format!("{} organizations:\n{}{note}", rows.len(), lines.join("\n"))
            };
            let slugs: Vec<&Value> = rows.iter().map(|r| &r["slug"]).collect();
            Ok(Answer::new(
                summary,
                json!({"organizations": slugs, "details": rows, "default": ctx.organization}),
            )
            .into_result())
        })
        .await
    }

    /// Projects with their issue and event counts in the local index; with a token, every
    /// project of the organization in Sentry too (also those with no data here yet).
    /// Example: {"organization": "acme"}.
    #[tool(
        name = "list_projects",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    pub async fn list_projects(
        &self,
        Parameters(args): Parameters<ListProjectsArgs>,
    ) -> CallToolResult {
        let args = match args {
            Ok(a) => a,
            Err(e) => return crate::mcp::answer::error(e.to_string()),
        };
        let sentry = &self.ctx.sentry;
        let api = if sentry.has_token() {
            Some(
                crate::sentry::one_budget(async {
                    let org = sentry.org_for(args.organization.as_deref(), None).await?;
                    sentry.projects(&org).await
                })
                .await,
            )
        } else {
            None
        };
        self.run(move |ctx, now| {
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
            let mut names: Vec<String> = issues
                .iter()
                .chain(&events)
                .map(|b| b.key.clone())
                .collect();
            let mut note = String::new();
            match &api {
                Some(Ok(projects)) => names.extend(projects.iter().map(|p| p.slug.clone())),
                Some(Err(e)) => note = format!("\n(Sentry API not used: {e})"),
                None => {}
            }
            names.sort_unstable();
            names.dedup();
            names.retain(|n| !n.is_empty());
            let of = |list: &[sentry_mcp_index::Bucket], name: &str| {
                list.iter()
                    .find(|b| b.key == name)
                    .map(|b| b.count)
                    .unwrap_or(0)
            };
            let in_sentry = |name: &str| match &api {
                Some(Ok(projects)) => projects.iter().find(|p| p.slug == name),
                _ => None,
            };
            let rows: Vec<_> = names
                .iter()
                .map(|p| {
                    let api = in_sentry(p);
                    json!({
                        "project": p,
                        "issues": of(&issues, p),
                        "events": of(&events, p),
                        "id": api.map(|a| a.id.clone()),
                        "platform": api.and_then(|a| a.platform.clone()),
                    })
                })
                .collect();
            let lines: Vec<String> = names
                .iter()
                .map(|p| {
                    format!(
                        "{p}: {} issues, {} events in the local index",
                        of(&issues, p),
                        of(&events, p)
                    )
                })
                .collect();
            let source = if matches!(api, Some(Ok(_))) {
                "in Sentry and the local index"
            } else {
                "in the local index"
            };
            let summary = if lines.is_empty() {
                format!("No projects {source} yet.{note}")
            } else {
                format!(
                    "{} projects {source}:\n{}{note}",
                    lines.len(),
                    lines.join("\n")
                )
            };
            Ok(Answer::new(summary, json!({"projects": rows})).into_result())
        })
        .await
    }
}
