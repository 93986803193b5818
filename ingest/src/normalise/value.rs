//! Lenient accessors for Sentry JSON: ids come as numbers or strings, timestamps as
//! RFC 3339 strings or epoch seconds, and optional objects are often `null`.

use chrono::{DateTime, Utc};
use serde_json::Value;

/// A non-empty string, or a number rendered as one.
pub fn string(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The string at `path` (keys separated by `.` are not allowed in Sentry keys we read).
pub fn at(v: &Value, path: &[&str]) -> Option<String> {
    string(get(v, path))
}

pub fn get<'a>(v: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter().try_fold(v, |v, key| v.get(key))
}

/// A count sent as a number or a numeric string (`"count": "12"`).
pub fn count(v: Option<&Value>) -> Option<u64> {
    match v? {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

/// A timestamp: RFC 3339 string (with or without zone) or epoch seconds.
pub fn time(v: Option<&Value>) -> Option<DateTime<Utc>> {
    match v? {
        Value::String(s) => DateTime::parse_from_rfc3339(s)
            .map(|t| t.with_timezone(&Utc))
            .ok()
            .or_else(|| {
                chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f")
                    .ok()
                    .map(|t| t.and_utc())
            }),
        Value::Number(n) => {
            let secs = n.as_f64()?;
            DateTime::from_timestamp_millis((secs * 1000.0) as i64)
        }
        _ => None,
    }
}

/// The organization slug in a Sentry URL: `.../organizations/<org>/...`,
/// `.../projects/<org>/<project>/...` (API) or `https://<org>.sentry.io/...`.
pub fn org_from_url(url: &str) -> Option<String> {
    let segment_after = |marker: &str| {
        url.split_once(marker)
            .and_then(|(_, rest)| rest.split('/').next())
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    segment_after("/organizations/")
        .or_else(|| segment_after("/api/0/projects/"))
        .or_else(|| {
            let host = url.split("://").nth(1)?.split('/').next()?;
            let sub = host.strip_suffix(".sentry.io")?;
            (!sub.is_empty() && sub != "www" && !sub.contains('.')).then(|| sub.to_owned())
        })
}

/// The project slug in an API URL `.../api/0/projects/<org>/<project>/...`.
pub fn project_from_url(url: &str) -> Option<String> {
    let rest = url.split_once("/api/0/projects/")?.1;
    rest.split('/')
        .nth(1)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

/// The numeric issue id in a Sentry URL: `.../api/0/issues/<id>/`,
/// `.../api/0/organizations/<org>/issues/<id>/` or `.../issues/<id>/events/<event>/`.
pub fn issue_id_from_url(url: &str) -> Option<String> {
    let id = url
        .split_once("/issues/")?
        .1
        .split(['/', '?', '#'])
        .next()?;
    (!id.is_empty() && id.bytes().all(|b| b.is_ascii_digit())).then(|| id.to_owned())
}

/// The first organization slug found in any of the URL fields of `v`.
pub fn org_from_urls(v: &Value) -> Option<String> {
    ["web_url", "url", "permalink", "issue_url"]
        .iter()
        .filter_map(|k| v.get(*k).and_then(Value::as_str))
        .find_map(org_from_url)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_urls_times_and_counts() {
        assert_eq!(
            org_from_url("https://sentry.io/organizations/acme/issues/1/").as_deref(),
            Some("acme")
        );
        assert_eq!(
            org_from_url("https://acme.sentry.io/issues/1/").as_deref(),
            Some("acme")
        );
        assert_eq!(
            project_from_url("https://sentry.io/api/0/projects/acme/web/events/ab/").as_deref(),
            Some("web")
        );
        for (url, id) in [
            (
                "https://sentry.io/api/0/issues/1637164584/",
                Some("1637164584"),
            ),
            (
                "https://sentry.io/api/0/organizations/acme/issues/42/",
                Some("42"),
            ),
            (
                "https://sentry.io/organizations/acme/issues/1638844654/events/01ec/",
                Some("1638844654"),
            ),
            ("https://acme.sentry.io/issues/7?project=1", Some("7")),
            ("https://sentry.io/organizations/acme/issues/", None),
            ("https://sentry.io/organizations/acme/issues/PROJ-1/", None),
        ] {
            assert_eq!(issue_id_from_url(url).as_deref(), id, "{url}");
        }
        assert_eq!(count(Some(&json!("12"))), Some(12));
        assert_eq!(
            time(Some(&json!("2019-08-19T20:58:37.391000Z")))
                .unwrap()
                .timestamp_millis(),
            1_566_248_317_391
        );
        assert_eq!(
            time(Some(&json!(1566248317.391))).unwrap().timestamp(),
            1_566_248_317
        );
        assert_eq!(string(Some(&json!(17))).as_deref(), Some("17"));
        assert_eq!(string(Some(&json!(null))), None);
    }
}
