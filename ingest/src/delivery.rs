//! What we keep about one webhook delivery besides its body.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The headers that matter, as received, plus when we received them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    /// `Sentry-Hook-Resource`, e.g. `issue`, `error`, `metric_alert`.
    pub resource: String,
    /// `Request-ID`; Sentry sends a fresh one on every attempt.
    pub request_id: Option<String>,
    /// `Sentry-Hook-Timestamp` in milliseconds since the epoch.
    pub sent_at_ms: Option<i64>,
    pub received_at: DateTime<Utc>,
}

impl Delivery {
    /// When Sentry sent it, falling back to when we got it.
    pub fn sent_at_ms(&self) -> i64 {
        self.sent_at_ms
            .unwrap_or_else(|| self.received_at.timestamp_millis())
    }
}

/// Why a `Sentry-Hook-Timestamp` was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimestampError {
    #[error("missing Sentry-Hook-Timestamp header")]
    Missing,
    #[error("malformed Sentry-Hook-Timestamp (expected Unix seconds)")]
    Malformed,
    #[error("stale Sentry-Hook-Timestamp: {skew_secs}s from now, allowed window is {window_secs}s")]
    Stale { skew_secs: i64, window_secs: i64 },
}

/// Check that the timestamp header (Unix seconds, as Sentry sends it) is within `window`
/// of `now`, in either direction. Returns it in milliseconds.
pub fn check_timestamp(
    header: Option<&str>,
    now: DateTime<Utc>,
    window: std::time::Duration,
) -> Result<i64, TimestampError> {
    let raw = header.ok_or(TimestampError::Missing)?.trim();
    let secs: f64 = raw.parse().map_err(|_| TimestampError::Malformed)?;
    if !secs.is_finite() {
        return Err(TimestampError::Malformed);
    }
    let sent_ms = (secs * 1000.0) as i64;
    let skew_ms = now.timestamp_millis() - sent_ms;
    let window_ms = window.as_millis() as i64;
    if skew_ms.abs() > window_ms {
        return Err(TimestampError::Stale {
            skew_secs: skew_ms / 1000,
            window_secs: window_ms / 1000,
        });
    }
    Ok(sent_ms)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn timestamp_window() {
        let now = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let w = Duration::from_secs(300);
        assert_eq!(
            check_timestamp(Some("1700000000"), now, w),
            Ok(1_700_000_000_000)
        );
        assert!(check_timestamp(Some("1699999000"), now, w).is_err());
        assert!(check_timestamp(Some("1700001000"), now, w).is_err());
        assert_eq!(
            check_timestamp(Some("soon"), now, w),
            Err(TimestampError::Malformed)
        );
        assert_eq!(
            check_timestamp(Some("NaN"), now, w),
            Err(TimestampError::Malformed)
        );
        assert_eq!(check_timestamp(None, now, w), Err(TimestampError::Missing));
    }
}
