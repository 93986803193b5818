//! The endpoints sentry-mcp calls, one method each (see `shared/sentry-api/README.md`).
//! Organization-scoped calls go to the organization's region, learned from
//! `GET /organizations/{org}/` once; the organization list goes to the configured host.

use chrono::{DateTime, SecondsFormat, Utc};
use reqwest::Method;
use serde::Serialize;
use serde_json::Value;

use crate::client::{Call, Client, Page};
use crate::endpoint::{Endpoint, segment};
use crate::error::ApiError;
use crate::retry::Budget;
use crate::types::{EventLookup, Organization, Project, ShortIdLookup, Team};

/// Most items Sentry returns per page.
pub const PAGE_SIZE: u32 = 100;
/// Pages read for a small list (organizations, projects, teams): 10,000 items.
const LIST_PAGES: usize = 100;

/// The scopes each call needs, named as Sentry's token settings name them.
pub mod scope {
    pub const ORG_READ: &str = "org:read";
    pub const PROJECT_READ: &str = "project:read";
    pub const EVENT_READ: &str = "event:read";
    pub const EVENT_WRITE: &str =
        "event:write (\"Issue & Event: Read & Write\"; issue:write on some versions)";
}

/// `PUT /organizations/{org}/issues/{id}/`: fields left `None` are not sent.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct IssueUpdate {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// `user:ID`, `team:ID`, an email or username; `""` unassigns.
    #[serde(rename = "assignedTo", skip_serializing_if = "Option::is_none")]
    pub assigned_to: Option<String>,
}

/// `GET /organizations/{org}/issues/`, as reconcile pages through it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuesQuery {
    /// Issue search syntax; empty means every status.
    pub query: String,
    /// `date` (last seen, newest first), `new`, `freq`, ...
    pub sort: &'static str,
    /// Issues last seen in this window.
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub limit: u32,
}

impl Client {
    /// `GET /organizations/`: every organization the token can see.
    pub async fn organizations(&self, budget: &Budget) -> Result<Vec<Organization>, ApiError> {
        let call = self.call_at(
            self.endpoint().clone(),
            "organizations/".into(),
            scope::ORG_READ,
            "organization list".into(),
        );
        let items = self
            .all_pages(with_per_page(call), LIST_PAGES, budget)
            .await?;
        let orgs = decode_all::<Organization>(items, "an organization")?;
        for org in &orgs {
            self.learn_region(org);
        }
        Ok(orgs)
    }

    /// `GET /organizations/{org}/`; also learns the organization's region.
    pub async fn organization(&self, org: &str, budget: &Budget) -> Result<Organization, ApiError> {
        let call = self.call_at(
            self.endpoint().clone(),
            format!("organizations/{}/", segment(org)),
            scope::ORG_READ,
            format!("organization {org:?} (or the token cannot see it)"),
        );
        let found: Organization = decode(self.json(&call, budget).await?, "an organization")?;
        let found = Organization {
            slug: if found.slug.is_empty() {
                org.to_owned()
            } else {
                found.slug
            },
            ..found
        };
        self.learn_region(&found);
        if self.known_region(org).is_none() {
            self.remember_region(org, self.endpoint().clone());
        }
        Ok(found)
    }

    /// `GET /organizations/{org}/projects/`.
    pub async fn projects(&self, org: &str, budget: &Budget) -> Result<Vec<Project>, ApiError> {
        let call = self
            .org_call(
                org,
                "projects/",
                scope::ORG_READ,
                || format!("organization {org:?}"),
                budget,
            )
            .await?;
        let items = self
            .all_pages(with_per_page(call), LIST_PAGES, budget)
            .await?;
        decode_all(items, "a project")
    }

    /// `GET /organizations/{org}/teams/`.
    pub async fn teams(&self, org: &str, budget: &Budget) -> Result<Vec<Team>, ApiError> {
        let call = self
            .org_call(
                org,
                "teams/",
                scope::ORG_READ,
                || format!("organization {org:?}"),
                budget,
            )
            .await?;
        let items = self
            .all_pages(with_per_page(call), LIST_PAGES, budget)
            .await?;
        decode_all(items, "a team")
    }

    /// `GET /organizations/{org}/issues/{id}/`.
    pub async fn issue(&self, org: &str, id: &str, budget: &Budget) -> Result<Value, ApiError> {
        let call = self
            .org_call(
                org,
                &format!("issues/{}/", segment(id)),
                scope::EVENT_READ,
                || format!("issue {id} in organization {org:?}"),
                budget,
            )
            .await?;
        object(self.json(&call, budget).await?, "an issue")
    }

    /// `GET /organizations/{org}/shortids/{short_id}/`.
    pub async fn short_id(
        &self,
        org: &str,
        short_id: &str,
        budget: &Budget,
    ) -> Result<ShortIdLookup, ApiError> {
        let call = self
            .org_call(
                org,
                &format!("shortids/{}/", segment(short_id)),
                scope::EVENT_READ,
                || format!("issue {short_id} in organization {org:?}"),
                budget,
            )
            .await?;
        decode(self.json(&call, budget).await?, "a short id lookup")
    }

    /// `PUT /organizations/{org}/issues/{id}/`; answers the issue as it now is.
    pub async fn update_issue(
        &self,
        org: &str,
        id: &str,
        update: &IssueUpdate,
        budget: &Budget,
    ) -> Result<Value, ApiError> {
        let mut call = self
            .org_call(
                org,
                &format!("issues/{}/", segment(id)),
                scope::EVENT_WRITE,
                || format!("issue {id} in organization {org:?}"),
                budget,
            )
            .await?;
        call.method = Method::PUT;
        call.body = Some(serde_json::to_value(update).unwrap_or_default());
        object(self.json(&call, budget).await?, "an issue")
    }

    /// One page of `GET /organizations/{org}/issues/`.
    pub async fn issues_page(
        &self,
        org: &str,
        query: &IssuesQuery,
        cursor: Option<&str>,
        budget: &Budget,
    ) -> Result<Page, ApiError> {
        let mut call = self
            .org_call(
                org,
                "issues/",
                scope::EVENT_READ,
                || format!("organization {org:?}"),
                budget,
            )
            .await?;
        call.query = vec![
            ("query", query.query.clone()),
            ("sort", query.sort.to_owned()),
            ("start", iso(query.start)),
            ("end", iso(query.end)),
            ("limit", query.limit.min(PAGE_SIZE).to_string()),
        ];
        if let Some(cursor) = cursor {
            call.query.push(("cursor", cursor.to_owned()));
        }
        self.page(&call, budget).await
    }

    /// `GET /organizations/{org}/issues/{id}/events/`: the newest `limit` events (at most
    /// one page of 100).
    pub async fn issue_events(
        &self,
        org: &str,
        id: &str,
        limit: u32,
        budget: &Budget,
    ) -> Result<Vec<Value>, ApiError> {
        let mut call = self
            .org_call(
                org,
                &format!("issues/{}/events/", segment(id)),
                scope::EVENT_READ,
                || format!("issue {id} in organization {org:?}"),
                budget,
            )
            .await?;
        call.query = vec![("per_page", limit.clamp(1, PAGE_SIZE).to_string())];
        let mut items = self.page(&call, budget).await?.items;
        items.truncate(limit as usize);
        Ok(items)
    }

    /// `GET /organizations/{org}/issues/{id}/events/{which}/`: `latest`, `oldest`,
    /// `recommended` or an event id.
    pub async fn issue_event(
        &self,
        org: &str,
        id: &str,
        which: &str,
        budget: &Budget,
    ) -> Result<Value, ApiError> {
        let call = self
            .org_call(
                org,
                &format!("issues/{}/events/{}/", segment(id), segment(which)),
                scope::EVENT_READ,
                || format!("{which} event of issue {id} in organization {org:?}"),
                budget,
            )
            .await?;
        object(self.json(&call, budget).await?, "an event")
    }

    /// `GET /projects/{org}/{project}/events/{event_id}/`.
    pub async fn project_event(
        &self,
        org: &str,
        project: &str,
        event_id: &str,
        budget: &Budget,
    ) -> Result<Value, ApiError> {
        let base = self.org_base(org, budget).await?;
        let call = self.call_at(
            base,
            format!(
                "projects/{}/{}/events/{}/",
                segment(org),
                segment(project),
                segment(event_id)
            ),
            scope::PROJECT_READ,
            format!("event {event_id} in project {project:?}"),
        );
        object(self.json(&call, budget).await?, "an event")
    }

    /// `GET /organizations/{org}/eventids/{event_id}/`: which project and issue an event is in.
    pub async fn event_lookup(
        &self,
        org: &str,
        event_id: &str,
        budget: &Budget,
    ) -> Result<EventLookup, ApiError> {
        let call = self
            .org_call(
                org,
                &format!("eventids/{}/", segment(event_id)),
                scope::ORG_READ,
                || format!("event {event_id} in organization {org:?}"),
                budget,
            )
            .await?;
        decode(self.json(&call, budget).await?, "an event lookup")
    }

    /// The API base for `org`: its region once known, else looked up once.
    async fn org_base(&self, org: &str, budget: &Budget) -> Result<Endpoint, ApiError> {
        if let Some(base) = self.known_region(org) {
            return Ok(base);
        }
        self.organization(org, budget).await?;
        Ok(self
            .known_region(org)
            .unwrap_or_else(|| self.endpoint().clone()))
    }

    async fn org_call(
        &self,
        org: &str,
        rest: &str,
        scope: &'static str,
        what: impl FnOnce() -> String,
        budget: &Budget,
    ) -> Result<Call, ApiError> {
        let base = self.org_base(org, budget).await?;
        Ok(self.call_at(
            base,
            format!("organizations/{}/{rest}", segment(org)),
            scope,
            what(),
        ))
    }

    fn call_at(&self, base: Endpoint, path: String, scope: &'static str, what: String) -> Call {
        Call {
            method: Method::GET,
            base,
            path,
            query: Vec::new(),
            body: None,
            scope,
            what,
            idempotent: true,
        }
    }

    fn learn_region(&self, org: &Organization) {
        let region = org
            .links
            .region_url
            .as_deref()
            .and_then(|url| self.endpoint().region(url));
        if let Some(region) = region
            && !org.slug.is_empty()
        {
            self.remember_region(&org.slug, region);
        }
    }
}

fn with_per_page(mut call: Call) -> Call {
    call.query.push(("per_page", PAGE_SIZE.to_string()));
    call
}

fn iso(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn object(v: Value, what: &'static str) -> Result<Value, ApiError> {
    if v.is_object() {
        Ok(v)
    } else {
        Err(ApiError::Decode {
            what,
            reason: "not a JSON object".into(),
        })
    }
}

fn decode<T: serde::de::DeserializeOwned>(v: Value, what: &'static str) -> Result<T, ApiError> {
    serde_json::from_value(v).map_err(|e| ApiError::Decode {
        what,
        reason: e.to_string(),
    })
}

/// Items of a list; one that is not even an object is skipped rather than failing the list.
fn decode_all<T: serde::de::DeserializeOwned>(
    items: Vec<Value>,
    what: &'static str,
) -> Result<Vec<T>, ApiError> {
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        match serde_json::from_value(item) {
            Ok(v) => out.push(v),
            Err(e) => tracing::debug!(what, error = %e, "skipping an unreadable list item"),
        }
    }
    Ok(out)
}
