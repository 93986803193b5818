//! Liveness, readiness and metrics.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;

use super::AppState;

pub fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/health", get(health))
        .route("/ready", get(ready))
        .route("/metrics", get(metrics))
}

/// Fails when the journal writer or the indexer has died, not only when the process is gone.
pub async fn health(State(app): State<Arc<AppState>>) -> impl IntoResponse {
    if !app.journal.is_alive() {
        return (StatusCode::SERVICE_UNAVAILABLE, "journal writer stopped\n");
    }
    if !app.indexer.is_alive() {
        return (StatusCode::SERVICE_UNAVAILABLE, "indexer stopped\n");
    }
    (StatusCode::OK, "ok\n")
}

/// Ready once the journal has been replayed and the index is open.
pub async fn ready(State(app): State<Arc<AppState>>) -> impl IntoResponse {
    if !app.indexer.is_ready() {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "replaying journal\n".to_owned(),
        );
    }
    // Still ready: reads work, and taking the pod out of its Services would stop them too.
    match app.journal.write_error() {
        None => (StatusCode::OK, "ready\n".to_owned()),
        Some(e) => (
            StatusCode::OK,
            format!("ready, degraded: {}\n", journal_trouble(&e)),
        ),
    }
}

/// What a failing journal means, for `/ready` and the `status` tool.
pub fn journal_trouble(e: &sentry_mcp_ingest::WriteError) -> String {
    format!(
        "the journal cannot write since {} ({}); {} webhook(s) refused with 503 so far (Sentry \
         retries), reads still work; free space on the data volume and writes resume by \
         themselves",
        e.since.format("%Y-%m-%d %H:%M:%S UTC"),
        e.message,
        e.refused
    )
}

pub async fn metrics(State(app): State<Arc<AppState>>) -> impl IntoResponse {
    if let Some(client) = app.tools.sentry.client() {
        app.metrics.api(client.stats());
    }
    app.metrics
        .journal_write_failing(app.journal.write_error().is_some());
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        app.metrics.render(),
    )
}
