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
    if app.indexer.is_ready() {
        (StatusCode::OK, "ready\n")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "replaying journal\n")
    }
}

pub async fn metrics(State(app): State<Arc<AppState>>) -> impl IntoResponse {
    if let Some(client) = app.tools.sentry.client() {
        app.metrics.api(client.stats());
    }
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        app.metrics.render(),
    )
}
