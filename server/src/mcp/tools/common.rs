//! Argument handling shared by the tools: time windows, limits, scopes, issue lookup and
//! turning index errors into messages that say how to fix the call.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use schemars::JsonSchema;
use sentry_mcp_index::{DocKind, IndexDoc, IndexError, IndexReader, Scope, SortBy};
use serde::Deserialize;

use super::error::ToolError;
use crate::mcp::ids::{IssueRef, parse_issue_ref};

/// Default and largest `limit` for lists.
pub const DEFAULT_LIMIT: u32 = 20;
pub const MAX_LIMIT: u32 = 100;

/// A tool's outcome: its answer, or a [`ToolError`] sent back as a tool error.
pub type ToolResult<T> = Result<T, ToolError>;

pub fn limit(requested: Option<u32>) -> usize {
    requested.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT) as usize
}

/// The `sort` argument of issue lists.
#[derive(Debug, Clone, Copy, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Sort {
    /// Most recently seen first (default).
    #[default]
    Date,
    /// Newest issues (first seen) first.
    New,
    /// Most events first.
    Freq,
    /// Most users affected first.
    User,
}

impl From<Sort> for SortBy {
    fn from(s: Sort) -> Self {
        match s {
            Sort::Date => SortBy::Date,
            Sort::New => SortBy::New,
            Sort::Freq => SortBy::Freq,
            Sort::User => SortBy::User,
        }
    }
}

/// A time window from `period` (e.g. `24h`) or `since`/`until`, ending now by default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub since: DateTime<Utc>,
    pub until: DateTime<Utc>,
}

impl Window {
    pub fn resolve(
        period: Option<&str>,
        since: Option<&str>,
        until: Option<&str>,
        default_period: Duration,
        now: DateTime<Utc>,
    ) -> ToolResult<Window> {
        let until = match until {
            Some(u) => parse_instant(u, "until", now)?,
            None => now,
        };
        let since_arg = since;
        let since = match (since, period) {
            (Some(_), Some(_)) => {
                return Err(ToolError::argument(
                    "since",
                    "pass either `period` or `since`, not both",
                ));
            }
            (Some(s), None) => parse_instant(s, "since", now)?,
            (None, Some(p)) => before(until, parse_period(p, "period")?, "period")?,
            (None, None) => before(until, default_period, "period")?,
        };
        if since >= until {
            let name = if since_arg.is_some() {
                "since"
            } else {
                "until"
            };
            return Err(ToolError::argument(
                name,
                format!("the window is empty: since ({since}) is not before until ({until})"),
            ));
        }
        Ok(Window { since, until })
    }

    pub fn length(&self) -> Duration {
        self.until - self.since
    }

    pub fn describe(&self, now: DateTime<Utc>) -> String {
        if (now - self.until).num_seconds().abs() < 5 {
            format!("last {}", human(self.length()))
        } else {
            format!(
                "{} to {}",
                self.since.format("%Y-%m-%d %H:%M"),
                self.until.format("%Y-%m-%d %H:%M UTC")
            )
        }
    }
}

/// A length of time fixed when compiling (chrono's `days()` & co. may panic at run time).
const fn fixed(secs: i64) -> Duration {
    match Duration::new(secs, 0) {
        Some(d) => d,
        None => panic!("fixed duration out of range"),
    }
}
pub const ONE_HOUR: Duration = fixed(3_600);
pub const ONE_DAY: Duration = fixed(86_400);
pub const ONE_WEEK: Duration = fixed(7 * 86_400);

/// The longest window or period accepted.
pub const MAX_PERIOD_DAYS: i64 = 3650;

/// `30m`, `24h`, `7d`, `2w` (also `90s`), for the argument `name`.
pub fn parse_period(p: &str, name: &'static str) -> ToolResult<Duration> {
    let p = p.trim().trim_start_matches('-');
    let bad = || {
        ToolError::argument(
            name,
            format!("{p:?} is not understood: use a number and a unit, like 30m, 24h, 7d or 2w"),
        )
    };
    let split = p.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
    let (n, unit) = p.split_at(split);
    let too_long = || {
        ToolError::argument(
            name,
            format!("{p:?} must be between 1s and 10 years ({MAX_PERIOD_DAYS}d)"),
        )
    };
    // Digits only, so a parse failure is an overflow.
    let n: i64 = n.parse().map_err(|_| too_long())?;
    let d = match unit {
        "s" => Duration::try_seconds(n),
        "m" | "min" => Duration::try_minutes(n),
        "h" => Duration::try_hours(n),
        "d" => Duration::try_days(n),
        "w" => Duration::try_weeks(n),
        _ => return Err(bad()),
    }
    .ok_or_else(too_long)?;
    let max = Duration::try_days(MAX_PERIOD_DAYS).unwrap_or(Duration::MAX);
    if d <= Duration::zero() || d > max {
        return Err(too_long());
    }
    Ok(d)
}

/// `t - d`, or an error naming `name` when that is before the dates we can represent.
pub fn before(t: DateTime<Utc>, d: Duration, name: &'static str) -> ToolResult<DateTime<Utc>> {
    t.checked_sub_signed(d).ok_or_else(|| {
        ToolError::argument(name, format!("{} before {t} is out of range", human(d)))
    })
}

/// RFC 3339 (`2024-05-01T12:00:00Z`), a day (`2024-05-01`), or relative (`-24h`, `24h` ago).
pub fn parse_instant(s: &str, name: &'static str, now: DateTime<Utc>) -> ToolResult<DateTime<Utc>> {
    let t = s.trim();
    if let Ok(d) = DateTime::parse_from_rfc3339(t) {
        return Ok(d.with_timezone(&Utc));
    }
    if let Ok(d) = NaiveDate::parse_from_str(t, "%Y-%m-%d") {
        return Ok(d.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc());
    }
    if let Ok(d) = chrono::NaiveDateTime::parse_from_str(t, "%Y-%m-%dT%H:%M:%S") {
        return Ok(d.and_utc());
    }
    if t.starts_with(|c: char| c == '-' || c.is_ascii_digit())
        && t.ends_with(|c: char| c.is_ascii_alphabetic())
    {
        return before(now, parse_period(t, name)?, name);
    }
    Err(ToolError::argument(
        name,
        format!(
            "{t:?} is not a time: use RFC 3339 (2024-05-01T12:00:00Z), a day (2024-05-01) or a relative time like -24h"
        ),
    ))
}

pub fn human(d: Duration) -> String {
    let s = d.num_seconds();
    match s {
        s if s % 604_800 == 0 => format!("{}w", s / 604_800),
        s if s % 86_400 == 0 => format!("{}d", s / 86_400),
        s if s % 3600 == 0 => format!("{}h", s / 3600),
        s if s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

/// The events a trend counts (top errors, spikes, histograms): delivered ones only. An
/// issue's events fetched from the API for a reader are a sample of its latest, and
/// counted beside delivered events they would read as a spike of that issue.
pub fn trend_scope(
    project: Option<&str>,
    environment: Option<&str>,
    window: Option<Window>,
) -> Scope {
    Scope {
        delivered_only: true,
        ..scope(&[DocKind::Event], None, project, environment, window)
    }
}

/// The scope of a call from its common arguments.
pub fn scope(
    kinds: &[DocKind],
    organization: Option<&str>,
    project: Option<&str>,
    environment: Option<&str>,
    window: Option<Window>,
) -> Scope {
    let list = |v: Option<&str>| -> Vec<String> {
        v.map(|s| {
            s.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
    };
    Scope {
        kinds: kinds.to_vec(),
        organization: organization.filter(|o| !o.is_empty()).map(str::to_owned),
        projects: list(project),
        environments: list(environment),
        since: window.map(|w| w.since),
        until: window.map(|w| w.until),
        ..Scope::default()
    }
}

/// An index error as a message that helps the caller fix the call.
pub fn index_error(e: IndexError) -> ToolError {
    match e {
        IndexError::Query(q) => ToolError::argument(
            "query",
            format!(
                "{q}. Queries use Sentry's search syntax, e.g. `is:unresolved level:error \
                 environment:production \"timeout\"`; dates like firstSeen:-24h or \
                 lastSeen:>2024-05-01; numbers like timesSeen:>100"
            ),
        ),
        IndexError::Cursor(why) => ToolError::argument("cursor", why),
        IndexError::Missing(p) => ToolError::Index(format!(
            "no index at {} yet: the server has not received any data",
            p.display()
        )),
        other => ToolError::Index(format!("the local index could not answer: {other}")),
    }
}

/// What to try when a query matched nothing: first what probably went wrong (unknown keys
/// are searched as tags, as in Sentry, so a typo silently matches nothing; a value a key
/// does not usually take), then what to loosen.
pub fn no_match_hint(query: &str, now: DateTime<Utc>) -> String {
    let mut hint = String::from("\nNo matches.");
    for sentence in sentry_mcp_index::query::hints(query, now) {
        hint.push(' ');
        hint.push_str(&sentence);
    }
    if query.contains("is:unresolved") {
        hint.push_str(
            " Try without is:unresolved, a longer period, or `search_errors` for free text.",
        );
    } else {
        hint.push_str(" Try a longer period, fewer filters, or a single distinctive word.");
    }
    hint
}

/// The index's notes on a query (filters it cannot answer, approximations), one line
/// each, each starting on a new line; empty without notes.
pub fn notes_text(notes: &[String]) -> String {
    notes.iter().map(|n| format!("\nNote: {n}")).collect()
}

/// Issues sharing one short id that a lookup considers (an index holds a few orgs at most).
const SHORT_ID_CANDIDATES: usize = 16;

/// Find an issue by id, short id or URL. Numeric ids are global; a short id is unique only
/// within its organization, so `organization` (the caller's) narrows it (to issues of that
/// organization, else to issues whose organization is unknown) and `default_org`
/// (`--organization`) settles a short id that several indexed orgs share. Still several:
/// an error listing them, never one picked at random.
pub fn find_issue(
    reader: &IndexReader,
    issue_id: &str,
    organization: Option<&str>,
    default_org: Option<&str>,
) -> ToolResult<IndexDoc> {
    let found = match parse_issue_ref(issue_id).map_err(|e| ToolError::argument("issue_id", e))? {
        IssueRef::Id(id) => reader.get(DocKind::Issue, &id).map_err(index_error)?,
        IssueRef::ShortId(short) => {
            let mut all = reader
                .issues_by_short_id(&short, SHORT_ID_CANDIDATES)
                .map_err(index_error)?;
            // Many issue webhooks do not name their organization: without an issue of the
            // organization asked, an unnamed one may be it.
            if let Some(asked) = organization.filter(|o| !o.is_empty()) {
                let named = all.iter().any(|d| d.organization.as_deref() == Some(asked));
                all.retain(|d| match d.organization.as_deref() {
                    Some(org) => org == asked,
                    None => !named,
                });
            }
            let orgs = |docs: &[IndexDoc]| {
                let mut orgs: Vec<Option<&str>> =
                    docs.iter().map(|d| d.organization.as_deref()).collect();
                orgs.sort_unstable();
                orgs.dedup();
                orgs.len()
            };
            if orgs(&all) > 1
                && let Some(default) = default_org
                && all
                    .iter()
                    .any(|d| d.organization.as_deref() == Some(default))
            {
                all.retain(|d| d.organization.as_deref() == Some(default));
            }
            if orgs(&all) > 1 {
                let each: Vec<String> = all
                    .iter()
                    .map(|d| {
                        format!(
                            "{} in organization {}",
                            d.id,
                            d.organization.as_deref().unwrap_or("(unknown)")
                        )
                    })
                    .collect();
                return Err(ToolError::argument(
                    "issue_id",
                    format!(
                        "short id {short} names {} issues: {}; pass the numeric id, or the \
                         organization",
                        all.len(),
                        each.join(", ")
                    ),
                ));
            }
            all.into_iter().next()
        }
    };
    found.ok_or_else(|| {
        let elsewhere = organization
            .filter(|o| !o.is_empty())
            .map_or(String::new(), |o| format!(" in organization {o}"));
        ToolError::NotFound(format!(
            "issue {issue_id:?}{elsewhere} is not in the local index (it has not been sent by a \
             webhook yet); list_issues or search_errors show the issues that are"
        ))
    })
}

impl crate::mcp::ToolContext {
    /// [`find_issue`] with the server's default organization.
    pub fn find_issue(&self, issue_id: &str, organization: Option<&str>) -> ToolResult<IndexDoc> {
        find_issue(
            &self.reader,
            issue_id,
            organization,
            self.organization.as_deref(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_from_period_since_and_until() {
        let now = DateTime::parse_from_rfc3339("2026-01-10T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let w = Window::resolve(Some("24h"), None, None, Duration::days(1), now).unwrap();
        assert_eq!(w.length(), Duration::hours(24));
        assert_eq!(w.describe(now), "last 1d");
        let w = Window::resolve(
            None,
            Some("2026-01-09"),
            Some("-1h"),
            Duration::days(1),
            now,
        )
        .unwrap();
        assert_eq!(w.until, now - Duration::hours(1));
        assert!(
            Window::resolve(Some("1 day"), None, None, Duration::days(1), now)
                .unwrap_err()
                .to_string()
                .contains("24h")
        );
        assert!(Window::resolve(Some("1h"), Some("-2h"), None, Duration::days(1), now).is_err());
        assert!(
            Window::resolve(None, Some("tomorrow"), None, Duration::days(1), now)
                .unwrap_err()
                .to_string()
                .contains("RFC 3339")
        );
    }

    #[test]
    fn huge_and_odd_periods_are_argument_errors_not_panics() {
        let now = Utc::now();
        for p in [
            "9999999999999999w",
            "99999999999999999999999d",
            "3651d",
            "0h",
            "-0s",
            "5y",
            "h",
            "",
        ] {
            let e = parse_period(p, "period").unwrap_err();
            assert_eq!(e.argument_name(), Some("period"), "{p}: {e}");
        }
        for since in ["-9999999999999999w", "-106751991167301d", "+5d"] {
            let e = Window::resolve(None, Some(since), None, ONE_DAY, now).unwrap_err();
            assert_eq!(e.argument_name(), Some("since"), "{since}: {e}");
        }
        // The earliest representable instant minus a period is out of range, not a panic.
        let e = before(DateTime::<Utc>::MIN_UTC, ONE_DAY, "period").unwrap_err();
        assert_eq!(e.argument_name(), Some("period"));
        assert_eq!(parse_period("3650d", "period").unwrap(), ONE_DAY * 3650);
    }
}
