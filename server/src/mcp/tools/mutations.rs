//! `resolve_issue`, `unresolve_issue`, `assign_issue`: these change Sentry itself, so they
//! go to the Sentry API (`PUT /organizations/{org}/issues/{id}/`), and the issue state
//! Sentry answers is written through the journal at once, so the next `list_issues` shows
//! it. Arguments are checked first so a bad call is told how to fix it; on any failure the
//! index is left as it was.

use rmcp::model::CallToolResult;
use rmcp::{tool, tool_router};
use schemars::JsonSchema;
use serde::Deserialize;

use chrono::Utc;
use sentry_mcp_api::IssueUpdate;
use sentry_mcp_index::DocKind;
use serde_json::{Value, json};

use super::args::{Parameters, lenient};
use super::common::ToolResult;
use super::error::ToolError;
use super::issues::IssueArgs;
use crate::mcp::SentryMcp;
use crate::mcp::answer::Answer;
use crate::mcp::ids::parse_issue_ref;
use crate::sentry::Fetch;

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AssignArgs {
    /// The issue: numeric id, short id (`PROJ-123`) or issue URL.
    #[serde(alias = "issueId", alias = "issue_url", alias = "issue")]
    #[serde(deserialize_with = "lenient::string")]
    pub issue_id: String,
    /// Who: a user's email, username or `user:ID`, a team's `#team-slug` or `team:ID`;
    /// an empty string unassigns.
    #[serde(deserialize_with = "lenient::string")]
    pub assignee: String,
    /// Organization slug (optional: the issue's indexed organization, else SENTRY_ORG).
    #[serde(alias = "organization_slug", alias = "org")]
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub organization: Option<String>,
}

#[tool_router(router = mutations_router, vis = "pub(super)")]
impl SentryMcp {
    /// Mark an issue resolved in Sentry (needs SENTRY_AUTH_TOKEN with event:write); the
    /// index shows it at once. Example: {"issue_id": "CHECKOUT-API-102"}.
    #[tool(
        name = "resolve_issue",
        annotations(destructive_hint = false, idempotent_hint = true)
    )]
    pub async fn resolve_issue(&self, Parameters(args): Parameters<IssueArgs>) -> CallToolResult {
        let args = match args {
            Ok(a) => a,
            Err(e) => return crate::mcp::answer::error(e.to_string()),
        };
        let update = IssueUpdate {
            status: Some("resolved".into()),
            ..IssueUpdate::default()
        };
        self.mutation(
            Verb::Resolve,
            &args.issue_id,
            args.organization.as_deref(),
            update,
        )
        .await
    }

    /// Mark an issue unresolved in Sentry (needs SENTRY_AUTH_TOKEN with event:write).
    /// Example: {"issue_id": "4100002"}.
    #[tool(
        name = "unresolve_issue",
        annotations(destructive_hint = false, idempotent_hint = true)
    )]
    pub async fn unresolve_issue(&self, Parameters(args): Parameters<IssueArgs>) -> CallToolResult {
        let args = match args {
            Ok(a) => a,
            Err(e) => return crate::mcp::answer::error(e.to_string()),
        };
        let update = IssueUpdate {
            status: Some("unresolved".into()),
            ..IssueUpdate::default()
        };
        self.mutation(
            Verb::Unresolve,
            &args.issue_id,
            args.organization.as_deref(),
            update,
        )
        .await
    }

    /// Assign an issue in Sentry to a user (email, username or `user:ID`) or a team
    /// (`#team-slug` or `team:ID`); an empty assignee unassigns (needs SENTRY_AUTH_TOKEN
    /// with event:write). Example: {"issue_id": "PROJ-123", "assignee": "jane@example.com"}.
    #[tool(
        name = "assign_issue",
        annotations(destructive_hint = false, idempotent_hint = true)
    )]
    pub async fn assign_issue(&self, Parameters(args): Parameters<AssignArgs>) -> CallToolResult {
        let args = match args {
            Ok(a) => a,
            Err(e) => return crate::mcp::answer::error(e.to_string()),
        };
        let assignee = args.assignee.trim();
        if assignee.contains(char::is_whitespace) {
            return crate::mcp::answer::error(
                ToolError::argument(
                    "assignee",
                    format!("{assignee:?} has spaces: pass an email, a username, user:ID, #team-slug or team:ID"),
                )
                .to_string(),
            );
        }
        let update = IssueUpdate {
            assigned_to: Some(assignee.to_owned()),
            ..IssueUpdate::default()
        };
        self.mutation(
            Verb::Assign,
            &args.issue_id,
            args.organization.as_deref(),
            update,
        )
        .await
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verb {
    Resolve,
    Unresolve,
    Assign,
}

impl Verb {
    fn word(self) -> &'static str {
        match self {
            Verb::Resolve => "resolve",
            Verb::Unresolve => "unresolve",
            Verb::Assign => "assign",
        }
    }
}

impl SentryMcp {
    async fn mutation(
        &self,
        verb: Verb,
        issue: &str,
        org: Option<&str>,
        update: IssueUpdate,
    ) -> CallToolResult {
        match crate::sentry::one_budget(self.mutate(verb, issue, org, update)).await {
            Ok(result) => result,
            Err(e) => crate::mcp::answer::error(e.to_string()),
        }
    }

    async fn mutate(
        &self,
        verb: Verb,
        issue: &str,
        org: Option<&str>,
        mut update: IssueUpdate,
    ) -> ToolResult<CallToolResult> {
        parse_issue_ref(issue).map_err(|e| ToolError::argument("issue_id", e))?;
        let sentry = &self.ctx.sentry;
        if !sentry.has_token() {
            return Err(ToolError::Api(format!(
                "cannot {} issue {issue}: this changes Sentry itself and needs a Sentry API token; \
                 set SENTRY_AUTH_TOKEN (with event:write) on the server",
                verb.word()
            )));
        }
        let at = self.locate_issue(issue, org).await?;
        if let Some(assignee) = update.assigned_to.take() {
            update.assigned_to = Some(self.actor(&at.org, &assignee).await?);
        }
        let what = format!(
            "{} issue {} in organization {:?}",
            verb.word(),
            at.label,
            at.org
        );
        let asked_at = Utc::now();
        let state = sentry
            .call(what.clone(), |c, b| {
                let (org, id, update) = (at.org.clone(), at.id.clone(), update.clone());
                async move {
                    let answered = c.update_issue(&org, &id, &update, &b).await?;
                    // Older Sentry versions answer only the changed fields: read the whole state.
                    if is_full_issue(&answered) {
                        Ok(answered)
                    } else {
                        c.issue(&org, &id, &b).await
                    }
                }
            })
            .await?;
        let now = Utc::now();
        let stored = sentry
            .store_fetched(
                Fetch::Updated,
                json!({"organization": at.org, "issue": state}),
                asked_at,
            )
            .await;
        let doc = match &stored {
            Ok(true) => self.ctx.reader.get(DocKind::Issue, &at.id).ok().flatten(),
            _ => None,
        };
        let done = match verb {
            Verb::Resolve => "Resolved".to_owned(),
            Verb::Unresolve => "Unresolved".to_owned(),
            Verb::Assign => match state.get("assignedTo").filter(|a| !a.is_null()) {
                Some(a) => format!(
                    "Assigned to {}:",
                    a.get("email")
                        .or_else(|| a.get("name"))
                        .and_then(Value::as_str)
                        .unwrap_or("?")
                ),
                None => "Unassigned".to_owned(),
            },
        };
        let mut summary = format!("{done} {} in Sentry (organization {}).", at.label, at.org);
        match (&stored, &doc) {
            (Ok(_), Some(doc)) => {
                summary.push_str(&format!("\n{}", crate::mcp::answer::line(doc, now)));
            }
            (Ok(_), None) => summary.push_str(&format!(
                "\nstatus now: {}",
                state.get("status").and_then(Value::as_str).unwrap_or("?")
            )),
            (Err(e), _) => summary.push_str(&format!(
                "\nWARNING: Sentry made the change, but the local index did not record it \
                 ({e}); the next reconcile will."
            )),
        }
        Ok(Answer::new(
            summary,
            json!({
                "organization": at.org,
                "issue_id": at.id,
                "status": state.get("status"),
                "assignedTo": state.get("assignedTo"),
                "issue": doc.as_ref().map(crate::mcp::answer::compact),
                "written_to_index": matches!(stored, Ok(true)),
            }),
        )
        .into_result())
    }

    /// What Sentry's `assignedTo` takes: `#team-slug` becomes `team:ID` (Sentry does not
    /// take slugs); emails, usernames, `user:ID`, `team:ID` and `""` pass as they are.
    async fn actor(&self, org: &str, assignee: &str) -> ToolResult<String> {
        let Some(slug) = assignee.strip_prefix('#') else {
            return Ok(assignee.to_owned());
        };
        let teams = self.ctx.sentry.teams(org).await?;
        match teams.iter().find(|t| t.slug.eq_ignore_ascii_case(slug)) {
            Some(team) => Ok(format!("team:{}", team.id)),
            None => Err(ToolError::argument(
                "assignee",
                format!(
                    "organization {org:?} has no team #{slug}; its teams: {}",
                    if teams.is_empty() {
                        "none".to_owned()
                    } else {
                        teams
                            .iter()
                            .map(|t| format!("#{}", t.slug))
                            .collect::<Vec<_>>()
                            .join(", ")
                    }
                ),
            )),
        }
    }
}

/// A whole issue, not just the fields a PUT changed.
fn is_full_issue(v: &Value) -> bool {
    ["id", "status", "lastSeen"]
        .iter()
        .all(|k| v.get(k).is_some())
}
