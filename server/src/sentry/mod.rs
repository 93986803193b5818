//! The live Sentry API as the tools and the reconcile use it: the client (when a token is
//! set), the default organization, what we know about the token, short-lived caches of
//! organizations, projects and teams, and the write-through into the index.
//!
//! - [`store`]: API answers written through the journal like webhooks.
//! - [`reconcile`]: paging through Sentry's issues to catch what webhooks missed.
//!
//! Tools answered from the index never call in here; the ones that need Sentry do, each
//! within one [`CALL_BUDGET`].

pub mod reconcile;
pub mod store;

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use sentry_mcp_api::{
    ApiError, Budget, Client, ClientOptions, Endpoint, Organization, Project, Team,
};
use sentry_mcp_index::IndexDoc;
use serde_json::{Value, json};

use crate::config::SentryArgs;
use crate::mcp::tools::ToolError;
pub use reconcile::ReconcileReport;
pub use store::{Fetch, WriteThrough};

/// What one tool call may spend on Sentry, retries and rate-limit waits included, over
/// all the requests it makes (a short-id lookup, the teams, the PUT, the GET after it).
pub const CALL_BUDGET: Duration = Duration::from_secs(10);

tokio::task_local! {
    /// When the tool call running on this task must be done with Sentry.
    static TOOL_DEADLINE: Instant;
}

/// Run one tool call's Sentry work: every [`Sentry::call`] inside shares one
/// [`CALL_BUDGET`].
pub async fn one_budget<F: Future>(work: F) -> F::Output {
    budget_of(CALL_BUDGET, work).await
}

/// Run Sentry work that every [`Sentry::call`] inside must finish within `limit`.
pub async fn budget_of<F: Future>(limit: Duration, work: F) -> F::Output {
    TOOL_DEADLINE.scope(Instant::now() + limit, work).await
}

/// After Sentry failed to answer a refresh, the next ones are not tried for this long: each
/// call answers from the index at once instead of waiting out its own budget.
const REFRESH_BACKOFF: Duration = Duration::from_secs(30);

/// A copy written at `written` and perhaps confirmed since by a reconcile pass that began
/// at `from_reconcile`: due when neither is within `after` of `now`. `Some` of the later.
fn refresh_due(
    written: DateTime<Utc>,
    from_reconcile: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
    after: Duration,
) -> Option<DateTime<Utc>> {
    let confirmed = from_reconcile.map_or(written, |r| r.max(written));
    let age = (now - confirmed).to_std().unwrap_or_default();
    (!after.is_zero() && age > after).then_some(confirmed)
}

/// How long the organization, project and team lists are reused.
const LIST_TTL: Duration = Duration::from_secs(60);

/// What the last call told us about the token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenState {
    Absent,
    /// Set, not yet used.
    Unchecked,
    Valid {
        checked_at: DateTime<Utc>,
    },
    /// Sentry said 401 (or 403 on the organization).
    Invalid {
        checked_at: DateTime<Utc>,
        reason: String,
    },
    /// Sentry could not be asked (down, unreachable, rate limited).
    Unknown {
        checked_at: DateTime<Utc>,
        reason: String,
    },
}

#[derive(Debug, Clone, Default)]
pub struct ReconcileStatus {
    pub running: bool,
    pub last_success: Option<DateTime<Utc>>,
    /// What the last complete pass over the whole window confirmed.
    pub covered: Option<Covered>,
    pub last_run: Option<(DateTime<Utc>, Result<ReconcileReport, String>)>,
    pub interval: Option<Duration>,
}

/// Every issue last seen since `seen_since` matched Sentry as of `from` (a reconcile pass
/// re-reads the issues seen in its window; older ones it does not see).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Covered {
    pub from: DateTime<Utc>,
    pub seen_since: DateTime<Utc>,
}

type Cached<T> = Mutex<HashMap<String, (Instant, Vec<T>)>>;

pub struct Sentry {
    client: Option<Client>,
    default_org: Option<String>,
    read_only: bool,
    store: OnceLock<WriteThrough>,
    token: Mutex<TokenState>,
    reconcile: Mutex<ReconcileStatus>,
    /// See [`SentryArgs::refresh_after`]; zero never refreshes.
    refresh_after: Duration,
    /// The last refresh Sentry failed: when, and what it said.
    refresh_failure: Mutex<Option<(Instant, String)>>,
    orgs: Cached<Organization>,
    projects: Cached<Project>,
    teams: Cached<Team>,
}

impl Sentry {
    /// From the command line; a `--url` or `--host` that cannot be used is an error.
    pub fn new(args: &SentryArgs) -> Result<Self, ApiError> {
        let token = args
            .access_token
            .as_ref()
            .map(|t| t.expose().trim().to_owned())
            .filter(|t| !t.is_empty());
        let client = match token {
            Some(token) => {
                let endpoint = match args.url.as_deref().filter(|u| !u.trim().is_empty()) {
                    Some(url) => Endpoint::from_url(url)?,
                    None => Endpoint::from_host(&args.host)?,
                };
                Some(Client::new(endpoint, token, ClientOptions::default())?)
            }
            None => None,
        };
        let token = if client.is_some() {
            TokenState::Unchecked
        } else {
            TokenState::Absent
        };
        Ok(Sentry {
            client,
            default_org: args.organization.clone().filter(|o| !o.trim().is_empty()),
            read_only: args.read_only,
            store: OnceLock::new(),
            token: Mutex::new(token),
            reconcile: Mutex::default(),
            refresh_after: args.refresh_after,
            refresh_failure: Mutex::default(),
            orgs: Mutex::default(),
            projects: Mutex::default(),
            teams: Mutex::default(),
        })
    }

    /// No token, no API (unit tests).
    #[cfg(test)]
    pub fn offline(organization: Option<String>) -> Self {
        let args = SentryArgs {
            access_token: None,
            host: crate::config::DEFAULT_HOST.into(),
            url: None,
            organization,
            read_only: false,
            refresh_after: Duration::ZERO,
        };
        Sentry::new(&args).unwrap_or_else(|_| unreachable!("no token, nothing to parse"))
    }

    /// Let API answers be written into the index (the serving process only).
    pub fn attach_store(&self, store: WriteThrough) {
        let _ = self.store.set(store);
    }

    pub fn store(&self) -> Option<&WriteThrough> {
        self.store.get()
    }

    pub fn has_token(&self) -> bool {
        self.client.is_some()
    }

    pub fn read_only(&self) -> bool {
        self.read_only
    }

    pub fn default_org(&self) -> Option<&str> {
        self.default_org.as_deref()
    }

    pub fn client(&self) -> Option<&Client> {
        self.client.as_ref()
    }

    /// The client, or the error a tool answers when there is none.
    pub fn require(&self, what: &str) -> Result<&Client, ToolError> {
        self.client.as_ref().ok_or_else(|| {
            ToolError::Api(format!(
                "cannot {what}: this needs the Sentry API and no token is configured; set \
                 SENTRY_AUTH_TOKEN on the server"
            ))
        })
    }

    /// Run one API call within a fresh budget; its failure becomes a tool error that says
    /// what we tried, and its outcome updates what we know about the token.
    pub async fn call<'a, T, F, Fut>(
        &'a self,
        what: impl Into<String>,
        f: F,
    ) -> Result<T, ToolError>
    where
        F: FnOnce(&'a Client, Budget) -> Fut,
        Fut: Future<Output = Result<T, ApiError>> + 'a,
    {
        let what = what.into();
        let client = self.require(&what)?;
        let budget = TOOL_DEADLINE
            .try_with(|deadline| Budget::until(*deadline, CALL_BUDGET))
            .unwrap_or_else(|_| Budget::new(CALL_BUDGET));
        let result = f(client, budget).await;
        self.observe(&result);
        result.map_err(|e| match e {
            ApiError::NotFound { .. } => ToolError::NotFound(format!("cannot {what}: {e}")),
            e => ToolError::Api(format!("cannot {what}: {e}")),
        })
    }

    /// Learn about the token from any API outcome.
    pub fn observe<T>(&self, result: &Result<T, ApiError>) {
        let now = Utc::now();
        let state = match result {
            Ok(_) => TokenState::Valid { checked_at: now },
            Err(ApiError::Unauthorized) => TokenState::Invalid {
                checked_at: now,
                reason: ApiError::Unauthorized.to_string(),
            },
            // Anything else says nothing new about the token.
            Err(_) => return,
        };
        *self.token.lock().unwrap_or_else(|e| e.into_inner()) = state;
    }

    pub fn token_state(&self) -> TokenState {
        self.token.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Ask Sentry whether the token works: the default organization (which also learns its
    /// region), else the organization list.
    pub async fn check_token(&self) -> TokenState {
        let Some(client) = &self.client else {
            return TokenState::Absent;
        };
        let budget = Budget::new(CALL_BUDGET);
        let result = match &self.default_org {
            Some(org) => client.organization(org, &budget).await.map(|_| ()),
            None => client.organizations(&budget).await.map(|_| ()),
        };
        let now = Utc::now();
        let state = match result {
            Ok(()) => TokenState::Valid { checked_at: now },
            Err(
                e @ (ApiError::Unauthorized
                | ApiError::Forbidden { .. }
                | ApiError::NotFound { .. }),
            ) => TokenState::Invalid {
                checked_at: now,
                reason: e.to_string(),
            },
            Err(e) => TokenState::Unknown {
                checked_at: now,
                reason: e.to_string(),
            },
        };
        match &state {
            TokenState::Valid { .. } => {
                tracing::info!(endpoint = %client.endpoint(), "Sentry API token works")
            }
            TokenState::Invalid { reason, .. } => {
                tracing::error!(%reason, "Sentry API token does not work")
            }
            TokenState::Unknown { reason, .. } => {
                tracing::warn!(%reason, "Sentry API could not be asked about the token")
            }
            _ => {}
        }
        *self.token.lock().unwrap_or_else(|e| e.into_inner()) = state.clone();
        state
    }

    /// The organization a call is for: as given, else where the index saw the object, else
    /// `--organization`, else the only organization the token sees.
    pub async fn org_for(
        &self,
        given: Option<&str>,
        indexed: Option<&str>,
    ) -> Result<String, ToolError> {
        if let Some(org) = given.or(indexed).or(self.default_org.as_deref()) {
            return Ok(org.to_owned());
        }
        let orgs = self.organizations().await?;
        match orgs.as_slice() {
            [only] => Ok(only.slug.clone()),
            _ => Err(ToolError::argument(
                "organization",
                format!(
                    "which organization? The token sees {}: pass one as `organization` (or set \
                     SENTRY_ORG on the server)",
                    if orgs.is_empty() {
                        "none".to_owned()
                    } else {
                        orgs.iter()
                            .map(|o| o.slug.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    }
                ),
            )),
        }
    }

    /// Organizations the token sees (cached for a minute).
    pub async fn organizations(&self) -> Result<Vec<Organization>, ToolError> {
        cached(&self.orgs, "", || {
            self.call("list organizations", |c, b| async move {
                c.organizations(&b).await
            })
        })
        .await
    }

    pub async fn projects(&self, org: &str) -> Result<Vec<Project>, ToolError> {
        cached(&self.projects, org, || {
            self.call(format!("list projects of {org:?}"), |c, b| async move {
                c.projects(org, &b).await
            })
        })
        .await
    }

    pub async fn teams(&self, org: &str) -> Result<Vec<Team>, ToolError> {
        cached(&self.teams, org, || {
            self.call(format!("list teams of {org:?}"), |c, b| async move {
                c.teams(org, &b).await
            })
        })
        .await
    }

    /// Store fetched objects when this process owns the index; say whether they are
    /// searchable now. `asked_at` is when the request that answered them was sent: the
    /// state is at least that new, and a webhook sent after it may be newer.
    pub async fn store_fetched(
        &self,
        fetch: Fetch,
        data: Value,
        asked_at: DateTime<Utc>,
    ) -> Result<bool, ToolError> {
        let Some(store) = self.store() else {
            return Ok(false);
        };
        store
            .store(fetch, data, asked_at)
            .await
            .map_err(|e| ToolError::Index(format!("Sentry answered, but {e}")))?;
        Ok(store.searchable().await)
    }

    pub fn reconcile_status(&self) -> ReconcileStatus {
        self.reconcile
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Whether the index's copy of `issue` is due to be asked of Sentry again; `Some` of
    /// when it was last confirmed if so. Only the serving process with a token asks
    /// (the caller checks, before it looks the copy up).
    pub fn refresh_due(&self, issue: &IndexDoc, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        // Written by a webhook or a fetch: the state was Sentry's when it was sent.
        let written = DateTime::from_timestamp_millis(issue.version.sent_at_ms)?;
        // A copy learnt from events alone (no state ever sent) is no issue a pass read and
        // found unchanged: Sentry would have had to differ from it.
        let covered = self.reconcile_status().covered;
        let confirmed = covered
            .filter(|c| {
                issue.version.sent_at_ms > 0
                    && issue.last_seen.is_some_and(|seen| seen >= c.seen_since)
            })
            .map(|c| c.from);
        refresh_due(written, confirmed, now, self.refresh_after)
    }

    /// Why refreshes are not tried right now: the failure less than [`REFRESH_BACKOFF`] ago.
    pub fn refresh_backoff(&self) -> Option<(Duration, String)> {
        let failure = self
            .refresh_failure
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        failure
            .as_ref()
            .map(|(at, why)| (at.elapsed(), why.clone()))
            .filter(|(ago, _)| *ago < REFRESH_BACKOFF)
    }

    /// Remember how a refresh went (a failure holds the next ones off for a while).
    pub fn refresh_done(&self, failure: Option<String>) {
        *self
            .refresh_failure
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = failure.map(|why| (Instant::now(), why));
    }

    pub(crate) fn update_reconcile(&self, f: impl FnOnce(&mut ReconcileStatus)) {
        f(&mut self.reconcile.lock().unwrap_or_else(|e| e.into_inner()));
    }

    /// The API's part of `status`: one line and the structured form.
    pub fn status(&self, now: DateTime<Utc>) -> (String, Value) {
        let Some(client) = &self.client else {
            return (
                "Sentry API: no token (search tools work; resolve/assign and fetching what the \
                 index lacks need SENTRY_AUTH_TOKEN)."
                    .into(),
                json!({"token": "absent", "read_only": self.read_only}),
            );
        };
        let ago = |t: &DateTime<Utc>| crate::mcp::answer::ago(*t, now);
        let (token, detail, line) = match self.token_state() {
            TokenState::Absent => ("absent", None, "no token".to_owned()),
            TokenState::Unchecked => ("unchecked", None, "token set, not checked yet".into()),
            TokenState::Valid { checked_at } => (
                "valid",
                None,
                format!("token valid (checked {})", ago(&checked_at)),
            ),
            TokenState::Invalid { checked_at, reason } => (
                "invalid",
                Some(reason.clone()),
                format!("TOKEN NOT WORKING ({}): {reason}", ago(&checked_at)),
            ),
            TokenState::Unknown { checked_at, reason } => (
                "unknown",
                Some(reason.clone()),
                format!(
                    "token not verified, Sentry unreachable ({}): {reason}",
                    ago(&checked_at)
                ),
            ),
        };
        let region = self
            .default_org
            .as_deref()
            .and_then(|o| client.known_region(o))
            .map(|e| e.to_string());
        let stats = client.stats();
        let rec = self.reconcile_status();
        let last_run = rec.last_run.as_ref().map(|(at, result)| match result {
            Ok(r) => json!({"at": at, "ok": true, "report": r}),
            Err(e) => json!({"at": at, "ok": false, "error": e}),
        });
        let reconcile_line = match &rec.last_run {
            None if rec.running => "reconcile running".to_owned(),
            None => "no reconcile yet".to_owned(),
            Some((at, Ok(r))) => format!("last reconcile {}: {}", ago(at), r.describe()),
            Some((at, Err(e))) => format!("last reconcile {} FAILED: {e}", ago(at)),
        };
        let mut summary = format!(
            "Sentry API ({}): {line}; organization {}{}; {reconcile_line}; {} API errors in the \
             last hour.",
            client.endpoint(),
            self.default_org.as_deref().unwrap_or("(none set)"),
            region
                .as_deref()
                .map(|r| format!(", region {r}"))
                .unwrap_or_default(),
            stats.errors_last_hour,
        );
        if self.read_only {
            summary.push_str(" Read-only: resolve/unresolve/assign are not offered.");
        }
        let data = json!({
            "token": token,
            "detail": detail,
            "endpoint": client.endpoint().to_string(),
            "organization": self.default_org,
            "region": region,
            "read_only": self.read_only,
            "requests": stats.requests,
            "retries": stats.retries,
            "errors_last_hour": stats.errors_last_hour,
            "reconcile": {
                "running": rec.running,
                "interval_secs": rec.interval.map(|d| d.as_secs()),
                "last_success": rec.last_success,
                "last_run": last_run,
            },
        });
        (summary, data)
    }
}

async fn cached<T: Clone, F, Fut>(
    cache: &Cached<T>,
    key: &str,
    fetch: F,
) -> Result<Vec<T>, ToolError>
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<Vec<T>, ToolError>>,
{
    if let Some((at, items)) = cache.lock().unwrap_or_else(|e| e.into_inner()).get(key)
        && at.elapsed() < LIST_TTL
    {
        return Ok(items.clone());
    }
    let items = fetch().await?;
    cache
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(key.to_owned(), (Instant::now(), items.clone()));
    Ok(items)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_copy_is_due_when_neither_its_write_nor_a_reconcile_pass_is_recent() {
        let now = Utc::now();
        let ago = |m: i64| now - chrono::Duration::minutes(m);
        let after = Duration::from_secs(600);
        // Written an hour ago, no reconcile: due, confirmed when written.
        assert_eq!(refresh_due(ago(60), None, now, after), Some(ago(60)));
        // A pass that began 3 minutes ago confirmed it.
        assert_eq!(refresh_due(ago(60), Some(ago(3)), now, after), None);
        // A pass 20 minutes ago, the copy written 5: fresh by its own write.
        assert_eq!(refresh_due(ago(5), Some(ago(20)), now, after), None);
        // Both old: due, confirmed by the later.
        assert_eq!(
            refresh_due(ago(30), Some(ago(20)), now, after),
            Some(ago(20))
        );
        // Zero turns refreshing off.
        assert_eq!(refresh_due(ago(60), None, now, Duration::ZERO), None);
        // A copy stamped ahead of this clock is fresh.
        assert_eq!(
            refresh_due(now + chrono::Duration::minutes(1), None, now, after),
            None
        );
    }
}
