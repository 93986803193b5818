//! Prometheus metrics, served on `GET /metrics` of both listeners.

use std::sync::Arc;
use std::time::Duration;

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

type Labels = Vec<(&'static str, String)>;

/// Label values shown at 0 from the start, so a dashboard or alert rule sees the series
/// before the first event (the reasons are those of `http::webhook` and the MCP guard).
const RESOURCES: &[&str] = &[
    "issue",
    "error",
    "event_alert",
    "metric_alert",
    "comment",
    "installation",
];
const REJECTION_REASONS: &[&str] = &[
    "body_too_large",
    "unreadable_body",
    "no_secret_configured",
    "missing_signature",
    "bad_signature",
    "stale_timestamp",
    "bad_timestamp",
    "missing_resource",
    "not_json",
    "wrong_shape",
    "journal_unavailable",
];
const MCP_REFUSALS: &[&str] = &["host", "origin", "token", "busy", "sessions"];

/// Every metric the service exports.
pub struct Metrics {
    registry: Registry,
    webhooks_accepted: Family<Labels, Counter>,
    webhooks_rejected: Family<Labels, Counter>,
    webhooks_duplicate: Counter,
    journal_fsync: Histogram,
    journal_records: Counter,
    index_commit: Histogram,
    ack_to_searchable: Histogram,
    pub index_docs: Gauge,
    pub journal_segments: Gauge,
    /// Acknowledged records that could not be indexed and are kept in `dead-letters/`.
    pub dead_letters: Gauge,
    /// Failed attempts to apply a record's changes to the index (each is retried).
    pub index_apply_failures: Counter,
    /// Legacy SSE sessions open now / opened since start.
    pub mcp_sse_sessions: Gauge,
    pub mcp_sse_sessions_opened: Counter,
    /// MCP requests refused by the guard, by reason (host, origin, token, busy).
    mcp_refused: Family<Labels, Counter>,
    /// Sentry API figures, copied from the client when `/metrics` is read.
    api_requests: Gauge,
    api_retries: Gauge,
    api_errors: Gauge,
    api_errors_last_hour: Gauge,
    journal_write_failing: Gauge,
    reconcile_runs: Family<Labels, Counter>,
    reconcile_pages: Counter,
    reconcile_issues_written: Counter,
    reconcile_last_success: Gauge,
}

impl Metrics {
    pub fn new() -> Arc<Self> {
        let mut registry = Registry::with_prefix("sentry_mcp");
        let webhooks_accepted = Family::<Labels, Counter>::default();
        let webhooks_rejected = Family::<Labels, Counter>::default();
        let webhooks_duplicate = Counter::default();
        let latency = || Histogram::new(exponential_buckets(0.0001, 2.0, 18));
        let journal_fsync = latency();
        let journal_records = Counter::default();
        let index_commit = latency();
        let ack_to_searchable = latency();
        let index_docs = Gauge::default();
        let journal_segments = Gauge::default();
        let dead_letters = Gauge::default();
        let index_apply_failures = Counter::default();
        let mcp_sse_sessions = Gauge::default();
        let mcp_sse_sessions_opened = Counter::default();
        let mcp_refused = Family::<Labels, Counter>::default();
        let api_requests = Gauge::default();
        let api_retries = Gauge::default();
        let api_errors = Gauge::default();
        let api_errors_last_hour = Gauge::default();
        let reconcile_runs = Family::<Labels, Counter>::default();
        let reconcile_pages = Counter::default();
        let reconcile_issues_written = Counter::default();
        let reconcile_last_success = Gauge::default();
        let journal_write_failing = Gauge::default();
        for (name, help, gauge) in [
            (
                "journal_write_failing",
                "1 while the journal cannot write (disk full or read-only): webhooks get 503",
                &journal_write_failing,
            ),
            (
                "sentry_api_requests",
                "Requests sent to the Sentry API (retries included)",
                &api_requests,
            ),
            (
                "sentry_api_retries",
                "Sentry API requests sent again after a 5xx, 429 or network error",
                &api_retries,
            ),
            (
                "sentry_api_errors",
                "Sentry API calls that failed (after retries; 404s not counted)",
                &api_errors,
            ),
            (
                "sentry_api_errors_last_hour",
                "Sentry API calls that failed in the last hour",
                &api_errors_last_hour,
            ),
            (
                "reconcile_last_success_timestamp_seconds",
                "When the last reconcile pass succeeded (Unix time; 0 = never)",
                &reconcile_last_success,
            ),
        ] {
            registry.register(name, help, gauge.clone());
        }
        registry.register(
            "reconcile_runs",
            "Reconcile passes, by result",
            reconcile_runs.clone(),
        );
        registry.register(
            "reconcile_pages",
            "Issue pages read from the Sentry API by reconcile",
            reconcile_pages.clone(),
        );
        registry.register(
            "reconcile_issues_written",
            "Issue states reconcile found changed and wrote to the index",
            reconcile_issues_written.clone(),
        );
        registry.register(
            "webhooks_accepted",
            "Webhooks journaled and acknowledged, by resource",
            webhooks_accepted.clone(),
        );
        registry.register(
            "webhooks_rejected",
            "Webhooks refused, by reason",
            webhooks_rejected.clone(),
        );
        registry.register(
            "webhooks_duplicate",
            "Webhooks whose Request-ID was already journaled",
            webhooks_duplicate.clone(),
        );
        registry.register(
            "journal_fsync_seconds",
            "Time of each journal fsync (one per group commit)",
            journal_fsync.clone(),
        );
        registry.register(
            "journal_records",
            "Records made durable in the journal",
            journal_records.clone(),
        );
        registry.register(
            "index_commit_seconds",
            "Time of each index commit",
            index_commit.clone(),
        );
        registry.register(
            "ack_to_searchable_seconds",
            "From a webhook's acknowledgement to its documents being searchable",
            ack_to_searchable.clone(),
        );
        registry.register("index_docs", "Documents in the index", index_docs.clone());
        registry.register(
            "journal_segments",
            "Journal segment files on disk",
            journal_segments.clone(),
        );
        registry.register(
            "dead_letters",
            "Acknowledged records that could not be indexed, kept in the data dir's dead-letters/",
            dead_letters.clone(),
        );
        registry.register(
            "index_apply_failures",
            "Failed attempts to apply a record to the index (retried, then kept as a dead letter)",
            index_apply_failures.clone(),
        );
        registry.register(
            "mcp_sse_sessions",
            "Legacy SSE sessions (GET /sse streams) open now",
            mcp_sse_sessions.clone(),
        );
        registry.register(
            "mcp_sse_sessions_opened",
            "Legacy SSE sessions opened",
            mcp_sse_sessions_opened.clone(),
        );
        registry.register(
            "mcp_refused",
            "MCP requests refused before reaching a transport, by reason",
            mcp_refused.clone(),
        );
        for (family, label, values) in [
            (&webhooks_accepted, "resource", RESOURCES),
            (&webhooks_rejected, "reason", REJECTION_REASONS),
            (&mcp_refused, "reason", MCP_REFUSALS),
            (&reconcile_runs, "result", &["ok", "failed"]),
        ] {
            for value in values {
                drop(family.get_or_create(&vec![(label, value.to_string())]));
            }
        }
        Arc::new(Metrics {
            registry,
            webhooks_accepted,
            webhooks_rejected,
            webhooks_duplicate,
            journal_fsync,
            journal_records,
            index_commit,
            ack_to_searchable,
            index_docs,
            journal_segments,
            dead_letters,
            index_apply_failures,
            mcp_sse_sessions,
            mcp_sse_sessions_opened,
            mcp_refused,
            api_requests,
            api_retries,
            api_errors,
            api_errors_last_hour,
            journal_write_failing,
            reconcile_runs,
            reconcile_pages,
            reconcile_issues_written,
            reconcile_last_success,
        })
    }

    /// Copy the Sentry API client's counters (called when `/metrics` is read).
    pub fn api(&self, stats: sentry_mcp_api::client::Stats) {
        let set = |g: &Gauge, v: u64| g.set(i64::try_from(v).unwrap_or(i64::MAX));
        set(&self.api_requests, stats.requests);
        set(&self.api_retries, stats.retries);
        set(&self.api_errors, stats.errors);
        set(&self.api_errors_last_hour, stats.errors_last_hour);
    }

    pub fn journal_write_failing(&self, failing: bool) {
        self.journal_write_failing.set(i64::from(failing));
    }

    /// One reconcile page read, `written` issues of it changed.
    pub fn reconcile_page(&self, written: usize) {
        self.reconcile_pages.inc();
        self.reconcile_issues_written.inc_by(written as u64);
    }

    /// A reconcile pass ended (`None`: it failed).
    pub fn reconciled(
        &self,
        ok: Option<&crate::sentry::ReconcileReport>,
        at: chrono::DateTime<chrono::Utc>,
    ) {
        let result = if ok.is_some() { "ok" } else { "failed" };
        self.reconcile_runs
            .get_or_create(&vec![("result", result.to_owned())])
            .inc();
        // A pass cut short (page cap, shutdown) ran fine but has not seen everything.
        if ok.is_some_and(|r| !r.incomplete) {
            self.reconcile_last_success.set(at.timestamp());
        }
    }

    pub fn accepted(&self, resource: &str) {
        self.webhooks_accepted
            .get_or_create(&vec![("resource", resource.to_owned())])
            .inc();
    }

    pub fn rejected(&self, reason: &'static str) {
        self.webhooks_rejected
            .get_or_create(&vec![("reason", reason.to_owned())])
            .inc();
    }

    pub fn mcp_refused(&self, reason: &'static str) {
        self.mcp_refused
            .get_or_create(&vec![("reason", reason.to_owned())])
            .inc();
    }

    pub fn duplicate(&self) {
        self.webhooks_duplicate.inc();
    }

    pub fn fsync(&self, took: Duration, records: usize) {
        self.journal_fsync.observe(took.as_secs_f64());
        self.journal_records.inc_by(records as u64);
    }

    pub fn commit(&self, took: Duration) {
        self.index_commit.observe(took.as_secs_f64());
    }

    pub fn searchable(&self, since_ack: Duration) {
        self.ack_to_searchable.observe(since_ack.as_secs_f64());
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = encode(&mut out, &self.registry);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_are_there_at_zero_from_the_start() {
        let text = Metrics::new().render();
        for line in [
            "sentry_mcp_webhooks_rejected_total{reason=\"bad_signature\"} 0",
            "sentry_mcp_webhooks_accepted_total{resource=\"error\"} 0",
            "sentry_mcp_mcp_refused_total{reason=\"token\"} 0",
            "sentry_mcp_webhooks_duplicate_total 0",
            "sentry_mcp_dead_letters 0",
        ] {
            assert!(text.contains(line), "{line} missing from\n{text}");
        }
    }
}
