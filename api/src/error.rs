//! How a call to Sentry failed. Each message says what happened and what to do, and never
//! holds the token (requests carry it only in a header, and URLs with credentials are refused).

use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    /// `--host` / `--url` cannot be used.
    #[error("{0}")]
    Config(String),
    #[error(
        "Sentry rejected the API token (401): it is invalid, expired or revoked; set a valid \
         SENTRY_AUTH_TOKEN on the server"
    )]
    Unauthorized,
    #[error(
        "the Sentry API token may not do this (403){}: give the integration the {scope} scope{detail}",
        if scope.is_empty() { "" } else { ", it lacks a scope" },
        detail = detail.as_deref().map(|d| format!(" (Sentry says: {d})")).unwrap_or_default()
    )]
    Forbidden {
        scope: &'static str,
        detail: Option<String>,
    },
    #[error("Sentry has no {what} (404)")]
    NotFound { what: String },
    #[error(
        "Sentry is rate limiting this token (429); retry in {}s",
        retry_after.as_secs().max(1)
    )]
    RateLimited { retry_after: Duration },
    #[error(
        "Sentry did not answer within {}s; it may be slow or down, retry in a minute",
        waited.as_secs().max(1)
    )]
    Timeout { waited: Duration },
    #[error("Sentry answered {status} (server error) {attempts} time(s); retry in a minute")]
    Unavailable { status: u16, attempts: u32 },
    #[error("could not reach Sentry at {host}: {reason}; retry in a minute")]
    Unreachable { host: String, reason: String },
    #[error("Sentry refused the request ({status}): {detail}")]
    Rejected { status: u16, detail: String },
    #[error("Sentry's answer could not be read as {what}: {reason}")]
    Decode { what: &'static str, reason: String },
}

impl ApiError {
    /// A short label for metrics and logs.
    pub fn kind(&self) -> &'static str {
        match self {
            ApiError::Config(_) => "config",
            ApiError::Unauthorized => "unauthorized",
            ApiError::Forbidden { .. } => "forbidden",
            ApiError::NotFound { .. } => "not_found",
            ApiError::RateLimited { .. } => "rate_limited",
            ApiError::Timeout { .. } => "timeout",
            ApiError::Unavailable { .. } => "unavailable",
            ApiError::Unreachable { .. } => "unreachable",
            ApiError::Rejected { .. } => "rejected",
            ApiError::Decode { .. } => "decode",
        }
    }

    /// Worth trying again later without changing anything.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            ApiError::RateLimited { .. }
                | ApiError::Timeout { .. }
                | ApiError::Unavailable { .. }
                | ApiError::Unreachable { .. }
        )
    }
}

/// The `detail` of a Sentry error body (or the body itself), short and on one line.
pub(crate) fn detail(body: &[u8]) -> Option<String> {
    let text = match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(serde_json::Value::Object(map)) => match map.get("detail") {
            Some(serde_json::Value::String(s)) => s.clone(),
            _ => serde_json::Value::Object(map).to_string(),
        },
        Ok(other) => other.to_string(),
        Err(_) => String::from_utf8_lossy(body).into_owned(),
    };
    let line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if line.is_empty() {
        return None;
    }
    const MAX: usize = 300;
    Some(match line.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}…", &line[..cut]),
        None => line,
    })
}
