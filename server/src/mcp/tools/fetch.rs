//! Read fall-backs: what the index lacks is fetched from the Sentry API, written through
//! (journal resource `sentry_api`, action `fetched`), and then answered from the index like
//! anything else. Only `get_issue`, `get_issue_events` and `get_event` do this, after the
//! index said it has nothing; `get_issue` also refreshes a copy nothing has confirmed for
//! `--refresh-after`. The other index-answered tools never wait on Sentry.

use std::future::Future;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use rmcp::model::CallToolResult;
use sentry_mcp_api::types::object_id;
use sentry_mcp_index::IndexDoc;
use serde_json::{Value, json};

use super::common::ToolResult;
use super::error::ToolError;
use crate::mcp::ids::{IssueRef, parse_issue_ref};
use crate::mcp::{SentryMcp, ToolContext};
use crate::sentry::Fetch;

/// Events fetched for an issue the index has none of.
const EVENTS_FETCHED: u32 = 50;
/// A refresh may take this long: the index's copy is an answer already.
const REFRESH_BUDGET: std::time::Duration = std::time::Duration::from_secs(3);

/// An issue as Sentry knows it: its organization and numeric id, and what we already have.
pub(super) struct Located {
    pub org: String,
    pub id: String,
    /// The short id or id the caller gave, for messages.
    pub label: String,
    pub indexed: Option<IndexDoc>,
    /// The issue, when finding it already fetched it (a short id lookup).
    pub fetched: Option<Value>,
}

impl SentryMcp {
    /// Answer from the index; if it has nothing and a token is set, fetch and answer again.
    pub(super) async fn answer_or_fetch<A, F, Fut>(
        &self,
        args: Arc<A>,
        answer: fn(&ToolContext, &A, DateTime<Utc>) -> ToolResult<CallToolResult>,
        fetch: F,
    ) -> CallToolResult
    where
        A: Send + Sync + 'static,
        F: FnOnce() -> Fut,
        Fut: Future<Output = ToolResult<()>>,
    {
        let first = args.clone();
        let missing = match self.try_run(move |ctx, now| answer(ctx, &first, now)).await {
            Err(ToolError::NotFound(missing)) if self.ctx.sentry.has_token() => missing,
            Ok(result) => return result,
            Err(e) => return crate::mcp::answer::error(e.to_string()),
        };
        if self.ctx.sentry.store().is_none() {
            return crate::mcp::answer::error(format!(
                "{missing} (this stdio server only reads the index; the serving process \
                 fetches what the index lacks from Sentry)"
            ));
        }
        match crate::sentry::one_budget(fetch()).await {
            Ok(()) => match self.try_run(move |ctx, now| answer(ctx, &args, now)).await {
                Ok(result) => result,
                Err(ToolError::NotFound(still)) => {
                    crate::mcp::answer::error(format!("{still}; Sentry has none either"))
                }
                Err(e) => crate::mcp::answer::error(e.to_string()),
            },
            Err(e) => crate::mcp::answer::error(format!("{missing}; asked Sentry too: {e}")),
        }
    }

    /// Ask Sentry for the state of an issue whose index copy is due ([`Sentry::refresh_due`]);
    /// the index then answers as always. `Some` of a line for the answer when the copy could
    /// not be refreshed: the agent should know how old what it reads is.
    ///
    /// [`Sentry::refresh_due`]: crate::sentry::Sentry::refresh_due
    pub(super) async fn refresh_if_due(&self, issue: &str, org: Option<&str>) -> Option<String> {
        let sentry = &self.ctx.sentry;
        if !sentry.has_token() || sentry.store().is_none() {
            return None;
        }
        let ctx = self.ctx.clone();
        let (wanted, asked) = (issue.to_owned(), org.map(str::to_owned));
        let copy = tokio::task::spawn_blocking(move || ctx.find_issue(&wanted, asked.as_deref()))
            .await
            .ok()?
            .ok()?;
        let now = Utc::now();
        let confirmed = sentry.refresh_due(&copy, now)?;
        // An issue learnt from its events (or a comment) alone has no state from Sentry.
        let age = if confirmed.timestamp_millis() <= 0 {
            "this copy was built from its events alone, never checked against Sentry".to_owned()
        } else {
            format!(
                "this copy matched Sentry {}",
                crate::mcp::answer::ago(confirmed, now)
            )
        };
        if let Some((since, why)) = sentry.refresh_backoff() {
            return Some(format!(
                "({age}; Sentry failed {}s ago, not asked again yet: {why})",
                since.as_secs()
            ));
        }
        let refreshed = crate::sentry::budget_of(REFRESH_BUDGET, async {
            let asked_at = Utc::now();
            let at = self.locate_issue(issue, org).await?;
            self.store_issue_state(&at, asked_at).await
        })
        .await;
        match refreshed {
            Ok(_) => {
                sentry.refresh_done(None);
                None
            }
            Err(e) => {
                // An issue Sentry no longer has says nothing about Sentry's health.
                if !matches!(e, ToolError::NotFound(_)) {
                    sentry.refresh_done(Some(e.to_string()));
                }
                Some(format!(
                    "({age}; asking Sentry for a fresher one failed: {e})"
                ))
            }
        }
    }

    /// Where an issue argument points: the index first, then `shortids/` for a short id.
    pub(super) async fn locate_issue(&self, issue: &str, org: Option<&str>) -> ToolResult<Located> {
        let named = parse_issue_ref(issue).map_err(|e| ToolError::argument("issue_id", e))?;
        let ctx = self.ctx.clone();
        let (wanted, asked) = (issue.to_owned(), org.map(str::to_owned));
        let indexed =
            tokio::task::spawn_blocking(move || ctx.find_issue(&wanted, asked.as_deref()))
                .await
                .map_err(|e| ToolError::Index(format!("issue lookup failed: {e}")))?;
        // Not indexed (or unreadable): ask Sentry. A short id that names issues in several
        // organizations is the caller's to settle: acting on either could be the wrong one.
        let indexed = match indexed {
            Ok(doc) => Some(doc),
            Err(e @ ToolError::Argument { .. }) => return Err(e),
            Err(_) => None,
        };
        let sentry = &self.ctx.sentry;
        let org = sentry
            .org_for(
                org,
                indexed.as_ref().and_then(|d| d.organization.as_deref()),
            )
            .await?;
        let label = issue.trim().to_owned();
        if let Some(doc) = &indexed {
            return Ok(Located {
                org,
                id: doc.id.clone(),
                label,
                indexed,
                fetched: None,
            });
        }
        match named {
            IssueRef::Id(id) => Ok(Located {
                org,
                id,
                label,
                indexed: None,
                fetched: None,
            }),
            IssueRef::ShortId(short) => {
                let found = sentry
                    .call(format!("look up issue {short}"), |c, b| {
                        let (org, short) = (org.clone(), short.clone());
                        async move { c.short_id(&org, &short, &b).await }
                    })
                    .await?;
                let fetched = found.group.is_object().then_some(found.group);
                Ok(Located {
                    org: found.organization_slug.unwrap_or(org),
                    id: found.group_id,
                    label,
                    indexed: None,
                    fetched,
                })
            }
        }
    }

    /// The issue's state from Sentry: the short-id lookup's copy, else a fetch.
    async fn issue_state(&self, at: &Located) -> ToolResult<Value> {
        if let Some(state) = &at.fetched {
            return Ok(state.clone());
        }
        self.ctx
            .sentry
            .call(format!("fetch issue {}", at.label), |c, b| {
                let (org, id) = (at.org.clone(), at.id.clone());
                async move { c.issue(&org, &id, &b).await }
            })
            .await
    }

    /// Store the issue's state from Sentry; its project slug, for storing its events.
    async fn store_issue_state(
        &self,
        at: &Located,
        asked_at: DateTime<Utc>,
    ) -> ToolResult<Option<Value>> {
        let state = self.issue_state(at).await?;
        let project = state.pointer("/project/slug").cloned();
        self.ctx
            .sentry
            .store_fetched(
                Fetch::Fetched,
                json!({"organization": at.org, "issue": state}),
                asked_at,
            )
            .await?;
        Ok(project)
    }

    /// Fetch an issue (and its latest event) into the index.
    pub(super) async fn fetch_issue(&self, issue: &str, org: Option<&str>) -> ToolResult<()> {
        let asked_at = Utc::now();
        let at = self.locate_issue(issue, org).await?;
        let sentry = &self.ctx.sentry;
        let project = self.store_issue_state(&at, asked_at).await?;
        // The latest event gives get_issue its stack trace; the issue stands without it.
        let latest = sentry
            .call("fetch the latest event", |c, b| {
                let (org, id) = (at.org.clone(), at.id.clone());
                async move { c.issue_event(&org, &id, "latest", &b).await }
            })
            .await;
        if let Ok(event) = latest {
            sentry
                .store_fetched(
                    Fetch::Fetched,
                    json!({"organization": at.org, "project": project, "event": event}),
                    asked_at,
                )
                .await?;
        }
        Ok(())
    }

    /// Fetch an issue's newest events (and the issue, if the index lacks it).
    pub(super) async fn fetch_issue_events(
        &self,
        issue: &str,
        org: Option<&str>,
    ) -> ToolResult<()> {
        let asked_at = Utc::now();
        let at = self.locate_issue(issue, org).await?;
        let sentry = &self.ctx.sentry;
        let project = match &at.indexed {
            Some(doc) => doc.project.clone().map(Value::from),
            None => self.store_issue_state(&at, asked_at).await?,
        };
        let events = sentry
            .call(format!("fetch the events of issue {}", at.label), |c, b| {
                let (org, id) = (at.org.clone(), at.id.clone());
                async move { c.issue_events(&org, &id, EVENTS_FETCHED, &b).await }
            })
            .await?;
        let Some(store) = sentry.store() else {
            return Ok(());
        };
        // Journaled together, so they share fsyncs.
        let stored =
            futures::future::join_all(events.into_iter().filter(|e| e.is_object()).map(|event| {
                store.store(
                    Fetch::Fetched,
                    json!({"organization": at.org, "project": project, "event": event}),
                    asked_at,
                )
            }))
            .await;
        if let Some(Err(e)) = stored.into_iter().find(Result::is_err) {
            return Err(ToolError::Index(format!("Sentry answered, but {e}")));
        }
        store.searchable().await;
        Ok(())
    }

    /// Fetch one event: from its project when given, else found through `eventids/`.
    pub(super) async fn fetch_event(
        &self,
        event_id: &str,
        org: Option<&str>,
        project: Option<&str>,
    ) -> ToolResult<()> {
        let asked_at = Utc::now();
        let sentry = &self.ctx.sentry;
        let org = sentry.org_for(org, None).await?;
        let id = event_id.trim().replace('-', "").to_ascii_lowercase();
        let (project, event) = match project.filter(|p| !p.trim().is_empty()) {
            Some(project) => {
                let event = sentry
                    .call(format!("fetch event {id}"), |c, b| {
                        let (org, project, id) = (org.clone(), project.to_owned(), id.clone());
                        async move { c.project_event(&org, &project, &id, &b).await }
                    })
                    .await?;
                (Some(project.to_owned()), event)
            }
            None => {
                let found = sentry
                    .call(format!("look up event {id}"), |c, b| {
                        let (org, id) = (org.clone(), id.clone());
                        async move { c.event_lookup(&org, &id, &b).await }
                    })
                    .await?;
                (found.project_slug, found.event)
            }
        };
        if object_id(&event).is_none() && event.get("eventID").is_none() {
            return Err(ToolError::Api(format!(
                "Sentry's answer for event {id} holds no event"
            )));
        }
        sentry
            .store_fetched(
                Fetch::Fetched,
                json!({"organization": org, "project": project, "event": event}),
                asked_at,
            )
            .await?;
        Ok(())
    }
}
