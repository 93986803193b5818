//! When to try again: jittered exponential backoff for 5xx and network errors, and the wait
//! Sentry asks for on 429 (`Retry-After`, else `X-Sentry-Rate-Limit-Reset`), all inside one
//! time budget per tool call so a slow Sentry never holds an agent for long.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use reqwest::header::HeaderMap;

/// The time one tool call (or one reconcile page) may spend on Sentry, retries included.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    deadline: Instant,
    total: Duration,
}

impl Budget {
    pub fn new(total: Duration) -> Self {
        Budget {
            deadline: Instant::now() + total,
            total,
        }
    }

    /// The rest of a budget of `total` that ends at `deadline` (one shared by several calls).
    pub fn until(deadline: Instant, total: Duration) -> Self {
        Budget { deadline, total }
    }

    pub fn remaining(&self) -> Duration {
        self.deadline.saturating_duration_since(Instant::now())
    }

    pub fn total(&self) -> Duration {
        self.total
    }

    /// Whether a wait of `d` still leaves time for another attempt.
    pub fn allows(&self, d: Duration) -> bool {
        d + MIN_ATTEMPT <= self.remaining()
    }
}

/// Less than this left is not worth another request.
pub const MIN_ATTEMPT: Duration = Duration::from_millis(100);

/// The pause before retry number `retry` (1-based): half fixed, half random, doubling from
/// `base` up to `cap`, so many clients hitting a failing Sentry spread out.
pub fn backoff(retry: u32, base: Duration, cap: Duration) -> Duration {
    let exp = base.saturating_mul(1 << retry.saturating_sub(1).min(16));
    let ceiling = exp.min(cap);
    let half = ceiling / 2;
    half + Duration::from_micros(fastrand::u64(0..=half.as_micros() as u64))
}

/// How long a 429 asks us to wait: `Retry-After` (seconds or an HTTP date), else until
/// `X-Sentry-Rate-Limit-Reset` (epoch seconds). `None` when neither says.
pub fn rate_limit_wait(headers: &HeaderMap) -> Option<Duration> {
    let text = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs_f64();
    if let Some(v) = text("retry-after") {
        if let Ok(secs) = v.parse::<f64>()
            && secs.is_finite()
            && secs >= 0.0
        {
            return Some(Duration::from_secs_f64(secs.min(86_400.0)));
        }
        if let Ok(at) = chrono::DateTime::parse_from_rfc2822(v) {
            return Some(Duration::from_secs_f64(
                (at.timestamp() as f64 - now).clamp(0.0, 86_400.0),
            ));
        }
    }
    let reset: f64 = text("x-sentry-rate-limit-reset")?.parse().ok()?;
    reset
        .is_finite()
        .then(|| Duration::from_secs_f64((reset - now).clamp(0.0, 86_400.0)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_with_jitter_and_stops_at_the_cap() {
        let (base, cap) = (Duration::from_millis(200), Duration::from_secs(2));
        for _ in 0..100 {
            let first = backoff(1, base, cap);
            assert!(first >= Duration::from_millis(100) && first <= base);
            let third = backoff(3, base, cap);
            assert!(third >= Duration::from_millis(400) && third <= Duration::from_millis(800));
            assert!(backoff(30, base, cap) <= cap);
        }
    }

    #[test]
    fn rate_limit_waits_come_from_retry_after_then_reset() {
        let mut h = HeaderMap::new();
        assert_eq!(rate_limit_wait(&h), None);
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        h.insert(
            "x-sentry-rate-limit-reset",
            (now + 5).to_string().parse().unwrap(),
        );
        let w = rate_limit_wait(&h).unwrap();
        assert!(
            w > Duration::from_secs(3) && w <= Duration::from_secs(5),
            "{w:?}"
        );
        h.insert("retry-after", "2".parse().unwrap());
        assert_eq!(rate_limit_wait(&h), Some(Duration::from_secs(2)));
        h.insert("retry-after", "soon".parse().unwrap());
        assert!(
            rate_limit_wait(&h).unwrap() > Duration::from_secs(3),
            "falls back to reset"
        );
        h.insert("x-sentry-rate-limit-reset", "1".parse().unwrap());
        assert_eq!(
            rate_limit_wait(&h),
            Some(Duration::ZERO),
            "a reset in the past"
        );
    }

    #[test]
    fn a_budget_counts_down() {
        let b = Budget::new(Duration::from_secs(1));
        assert!(b.allows(Duration::from_millis(500)));
        assert!(!b.allows(Duration::from_secs(1)));
        assert!(!Budget::new(Duration::ZERO).allows(Duration::ZERO));
    }
}
