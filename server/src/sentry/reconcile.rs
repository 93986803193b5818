//! Reconcile: page through `GET /organizations/{org}/issues/` (all statuses, newest activity
//! first, issues last seen in the window) and write each issue whose state differs from the
//! index through the journal. Issues resolved in Sentry's UI, issues whose webhooks were
//! never sent and webhooks missed while the pod was down all converge this way.
//!
//! Sentry has no "changed since" filter (a status change does not move last seen), so each
//! pass re-reads the window; unchanged issues are not rewritten. Each page is journaled as
//! one record, so a pass interrupted anywhere keeps every page before it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use sentry_mcp_api::{Budget, IssuesQuery, calls::PAGE_SIZE, types::object_id};
use sentry_mcp_index::{Change, DocKind, IndexDoc, IndexReader};
use sentry_mcp_ingest::{Delivery, normalise};
use serde::Serialize;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use super::{Fetch, Sentry};
use crate::metrics::Metrics;

/// Pages read per organization and pass: 100,000 issues.
pub const MAX_PAGES: usize = 1000;
/// One page may take this long, retries and rate-limit waits included.
const PAGE_BUDGET: Duration = Duration::from_secs(60);

/// What one pass did.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ReconcileReport {
    pub organizations: usize,
    pub pages: usize,
    pub issues_seen: usize,
    pub issues_written: usize,
    pub requests: u64,
    pub seconds: f64,
    /// Stopped at [`MAX_PAGES`] or by shutdown before the end of the window.
    pub incomplete: bool,
}

impl ReconcileReport {
    pub fn describe(&self) -> String {
        format!(
            "{} issues checked in {} pages, {} updated, {:.1}s{}",
            self.issues_seen,
            self.pages,
            self.issues_written,
            self.seconds,
            if self.incomplete { " (incomplete)" } else { "" }
        )
    }
}

pub struct Reconciler {
    pub sentry: Arc<Sentry>,
    pub reader: IndexReader,
    pub metrics: Arc<Metrics>,
    /// How far back a pass looks when no `since` is given.
    pub window: chrono::Duration,
}

impl Reconciler {
    /// One pass over every organization (the default one, else all the token sees).
    pub async fn run_once(
        &self,
        since: Option<DateTime<Utc>>,
        shutdown: &CancellationToken,
    ) -> Result<ReconcileReport, String> {
        let Some(client) = self.sentry.client() else {
            return Err("no Sentry API token".into());
        };
        let store = self
            .sentry
            .store()
            .ok_or("the index is not writable here")?
            .clone();
        self.sentry.update_reconcile(|s| s.running = true);
        let started = Instant::now();
        let started_at = Utc::now();
        let requests_before = client.stats().requests;
        let mut report = match self.pass(since, shutdown, &store).await {
            Ok(r) => r,
            Err((r, e)) => {
                self.finish(Err(e.clone()));
                tracing::warn!(error = %e, progress = %r.describe(), "reconcile failed");
                return Err(e);
            }
        };
        report.requests = client.stats().requests - requests_before;
        report.seconds = started.elapsed().as_secs_f64();
        store.searchable().await;
        tracing::info!(
            organizations = report.organizations,
            pages = report.pages,
            checked = report.issues_seen,
            updated = report.issues_written,
            requests = report.requests,
            seconds = report.seconds,
            "reconcile done"
        );
        self.finish(Ok(report.clone()));
        // A whole-window pass read every issue seen in the window as of its start (now less
        // the window is later than the pass's own start of the window: on the safe side).
        if since.is_none() && !report.incomplete {
            let covered = super::Covered {
                from: started_at,
                seen_since: Utc::now() - self.window,
            };
            self.sentry.update_reconcile(|s| s.covered = Some(covered));
        }
        Ok(report)
    }

    /// Where a backfill without `--since` starts: an hour before the newest issue the index
    /// has seen (webhooks arrive late, clocks differ), or `None` for an empty index.
    pub fn backfill_start(&self) -> Option<DateTime<Utc>> {
        let request = sentry_mcp_index::SearchRequest {
            query: String::new(),
            limit: 1,
            ..Default::default()
        };
        let page = self.reader.search_page(&request, Utc::now()).ok()?;
        let newest = page.docs.first()?.last_seen?;
        Some(newest - chrono::TimeDelta::new(3600, 0).unwrap_or_default())
    }

    /// A pass at start, then one every `interval`, until shutdown.
    pub async fn run_forever(self, interval: Duration, shutdown: CancellationToken) {
        self.sentry
            .update_reconcile(|s| s.interval = Some(interval));
        loop {
            let _ = self.run_once(None, &shutdown).await;
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(interval) => {}
            }
        }
    }

    fn finish(&self, result: Result<ReconcileReport, String>) {
        let now = Utc::now();
        self.metrics.reconciled(result.as_ref().ok(), now);
        self.sentry.update_reconcile(|s| {
            s.running = false;
            // A pass cut short (page cap, shutdown) has not seen everything.
            if result.as_ref().is_ok_and(|r| !r.incomplete) {
                s.last_success = Some(now);
            }
            s.last_run = Some((now, result));
        });
    }

    async fn pass(
        &self,
        since: Option<DateTime<Utc>>,
        shutdown: &CancellationToken,
        store: &super::WriteThrough,
    ) -> Result<ReconcileReport, (ReconcileReport, String)> {
        let mut report = ReconcileReport::default();
        let orgs = match self.sentry.default_org() {
            Some(org) => vec![org.to_owned()],
            None => match self.sentry.organizations().await {
                Ok(orgs) => orgs.into_iter().map(|o| o.slug).collect(),
                Err(e) => return Err((report, e.to_string())),
            },
        };
        let client = self
            .sentry
            .client()
            .ok_or((report.clone(), "no token".to_owned()))?;
        let now = Utc::now();
        let query = IssuesQuery {
            query: String::new(),
            sort: "date",
            start: since.unwrap_or(now - self.window),
            // Sentry takes whole seconds and wants both ends: a minute ahead keeps issues
            // seen during the pass (and a server clock slightly ahead of ours) in.
            end: now + chrono::TimeDelta::new(60, 0).unwrap_or_default(),
            limit: PAGE_SIZE,
        };
        for org in orgs {
            report.organizations += 1;
            let mut cursor: Option<String> = None;
            for page_no in 0.. {
                if page_no == MAX_PAGES || shutdown.is_cancelled() {
                    report.incomplete = true;
                    break;
                }
                let budget = Budget::new(PAGE_BUDGET);
                // The page's states are as of its request: a change after it must win.
                let asked_at = Utc::now();
                let page = tokio::select! {
                    page = client.issues_page(&org, &query, cursor.as_deref(), &budget) => page,
                    _ = shutdown.cancelled() => { report.incomplete = true; break; }
                };
                self.sentry.observe(&page);
                let page =
                    page.map_err(|e| (report.clone(), format!("organization {org:?}: {e}")))?;
                report.pages += 1;
                report.issues_seen += page.items.len();
                let news = self.news(&org, page.items).await;
                let written = news.len();
                if written > 0 {
                    report.issues_written += written;
                    store
                        .store(
                            Fetch::Reconciled,
                            json!({"organization": org, "issues": news}),
                            asked_at,
                        )
                        .await
                        .map_err(|e| (report.clone(), e.to_string()))?;
                }
                self.metrics.reconcile_page(written);
                if report.pages % 10 == 0 {
                    tracing::info!(org = %org, pages = report.pages, checked = report.issues_seen, updated = report.issues_written, "reconcile progress");
                }
                match page.next {
                    Some(next) => cursor = Some(next),
                    None => break,
                }
            }
        }
        Ok(report)
    }

    /// The issues of a page whose state the index does not have yet.
    async fn news(&self, org: &str, issues: Vec<Value>) -> Vec<Value> {
        let reader = self.reader.clone();
        let org = org.to_owned();
        tokio::task::spawn_blocking(move || {
            let now = Utc::now();
            issues
                .into_iter()
                .filter(|issue| {
                    let Some(fetched) = as_doc(&org, issue, now) else {
                        return false;
                    };
                    let stored = object_id(issue)
                        .and_then(|id| reader.get(DocKind::Issue, &id).ok().flatten());
                    differs(&fetched, stored.as_ref())
                })
                .collect()
        })
        .await
        .unwrap_or_default()
    }
}

/// The issue document a fetched issue normalises to.
fn as_doc(org: &str, issue: &Value, now: DateTime<Utc>) -> Option<IndexDoc> {
    let delivery = Delivery {
        resource: super::store::RESOURCE.into(),
        request_id: None,
        sent_at_ms: Some(now.timestamp_millis()),
        received_at: now,
    };
    let body = json!({"action": "reconciled", "data": {"organization": org, "issue": issue}});
    let outcome = normalise(&delivery, body.to_string().as_bytes()).ok()?;
    outcome.changes.into_iter().find_map(|c| match c {
        Change::Put(doc) if doc.kind == DocKind::Issue => Some(doc),
        _ => None,
    })
}

/// Whether writing `fetched` would change what the index answers.
fn differs(fetched: &IndexDoc, stored: Option<&IndexDoc>) -> bool {
    let Some(stored) = stored else {
        return true;
    };
    if stored.version > fetched.version {
        return false;
    }
    stored.status != fetched.status
        || stored.substatus != fetched.substatus
        || stored.assigned_to != fetched.assigned_to
        || stored.last_seen != fetched.last_seen
        || stored.times_seen != fetched.times_seen
        || stored.user_count != fetched.user_count
        || stored.title != fetched.title
        || stored.priority != fetched.priority
        || stored.level != fetched.level
        || stored.organization.is_none()
}
