//! `POST /webhooks/sentry`. The handler only verifies, journals and answers: Sentry gives a
//! receiver one second, so indexing happens after the acknowledgement, from the journal.
//!
//! Order of checks: body size (413), signature over the raw bytes (401), timestamp (401),
//! resource header (400), duplicate Request-ID (200), body shape (400), journal (503),
//! then 200 (indexed resource) or 202 (recorded only).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use sentry_mcp_ingest::{
    Delivery, NormaliseError, SignatureError, TimestampError, check_timestamp, normalise,
};

use super::AppState;

/// Why a webhook was refused. One place maps each to a status, a metric label and a
/// one-line reason.
#[derive(Debug, thiserror::Error)]
pub enum Rejection {
    #[error("body over the {limit} byte limit")]
    BodyTooLarge { limit: usize },
    #[error("could not read body: {0}")]
    BadBody(String),
    #[error("{0}")]
    Signature(#[from] SignatureError),
    #[error("{0}")]
    Timestamp(#[from] TimestampError),
    #[error("missing Sentry-Hook-Resource header")]
    MissingResource,
    #[error("{0}")]
    Shape(#[from] NormaliseError),
    #[error("journal unavailable, retry later")]
    Journal,
}

impl Rejection {
    fn status(&self) -> StatusCode {
        match self {
            Rejection::BodyTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Rejection::BadBody(_) | Rejection::MissingResource | Rejection::Shape(_) => {
                StatusCode::BAD_REQUEST
            }
            Rejection::Signature(_) | Rejection::Timestamp(_) => StatusCode::UNAUTHORIZED,
            // 503 makes Sentry retry the delivery later.
            Rejection::Journal => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    fn reason(&self) -> &'static str {
        match self {
            Rejection::BodyTooLarge { .. } => "body_too_large",
            Rejection::BadBody(_) => "unreadable_body",
            Rejection::Signature(SignatureError::NoSecretConfigured) => "no_secret_configured",
            Rejection::Signature(SignatureError::Missing) => "missing_signature",
            Rejection::Signature(_) => "bad_signature",
            Rejection::Timestamp(TimestampError::Stale { .. }) => "stale_timestamp",
            Rejection::Timestamp(_) => "bad_timestamp",
            Rejection::MissingResource => "missing_resource",
            Rejection::Shape(NormaliseError::NotJson(_)) => "not_json",
            Rejection::Shape(_) => "wrong_shape",
            Rejection::Journal => "journal_unavailable",
        }
    }
}

/// The answer: status plus a one-line reason; Sentry shows `Sentry-Hook-Error` in its log.
fn answer(status: StatusCode, line: String) -> Response {
    let mut response = (status, format!("{line}\n")).into_response();
    if !status.is_success()
        && let Ok(value) = line.parse()
    {
        response.headers_mut().insert("sentry-hook-error", value);
    }
    response
}

pub async fn receive(
    State(app): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let resource = header(&headers, "sentry-hook-resource")
        .unwrap_or("-")
        .to_owned();
    let request_id = header(&headers, "request-id").map(str::to_owned);
    match accept(&app, &headers, body, &resource, request_id.as_deref()).await {
        Ok(Accepted::Indexed) => {
            app.metrics.accepted(&resource);
            answer(StatusCode::OK, "accepted".into())
        }
        Ok(Accepted::Recorded) => {
            app.metrics.accepted(&resource);
            answer(
                StatusCode::ACCEPTED,
                format!("recorded, resource {resource:?} is not indexed"),
            )
        }
        Ok(Accepted::Duplicate) => {
            app.metrics.duplicate();
            answer(
                StatusCode::OK,
                "duplicate Request-ID, already recorded".into(),
            )
        }
        Err(rejection) => {
            app.metrics.rejected(rejection.reason());
            tracing::warn!(
                resource = %resource,
                request_id = request_id.as_deref().unwrap_or("-"),
                reason = rejection.reason(),
                detail = %rejection,
                "webhook rejected"
            );
            answer(rejection.status(), rejection.to_string())
        }
    }
}

enum Accepted {
    Indexed,
    Recorded,
    Duplicate,
}

async fn accept(
    app: &AppState,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
    resource: &str,
    request_id: Option<&str>,
) -> Result<Accepted, Rejection> {
    let body = body.map_err(|e| match e.status() {
        StatusCode::PAYLOAD_TOO_LARGE => Rejection::BodyTooLarge {
            limit: app.max_body_bytes,
        },
        _ => Rejection::BadBody(e.body_text()),
    })?;
    let signature = header(headers, "sentry-hook-signature")
        .or_else(|| header(headers, "sentry-app-signature"));
    app.secrets.verify(&body, signature)?;
    let received_at = Utc::now();
    let sent_at_ms = check_timestamp(
        header(headers, "sentry-hook-timestamp"),
        received_at,
        app.timestamp_window,
    )?;
    if resource == "-" || resource.is_empty() {
        return Err(Rejection::MissingResource);
    }
    let delivery = Delivery {
        resource: resource.to_owned(),
        request_id: request_id.map(str::to_owned),
        sent_at_ms: Some(sent_at_ms),
        received_at,
    };
    let outcome = normalise(&delivery, &body)?;
    if let Some(id) = request_id
        && !app.recent_ids.insert(id)
    {
        return Ok(Accepted::Duplicate);
    }
    let known = outcome.known;
    if let Err(e) = app
        .journal
        .append(delivery, body.to_vec(), outcome.changes)
        .await
    {
        if let Some(id) = request_id {
            app.recent_ids.remove(id);
        }
        tracing::error!(error = %e, "journal append failed");
        return Err(Rejection::Journal);
    }
    Ok(if known {
        Accepted::Indexed
    } else {
        Accepted::Recorded
    })
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}
