//! A deterministic generator of realistic index documents, for benchmarks and load tests:
//! `events` events spread over `issues` issues in a handful of projects, environments,
//! releases and levels, over the `span` before `now`, with a long-tailed issue frequency
//! (a few noisy issues, many rare ones) as real Sentry data has.

// Benchmark data: offsets are bounded by the spec's span, far from chrono's limits.
#![allow(clippy::disallowed_methods)]

use chrono::{DateTime, Duration, Utc};

use crate::document::{Change, DocKind, IndexDoc, StateVersion};

const PROJECTS: [&str; 8] = [
    "checkout-api",
    "web-frontend",
    "payments-worker",
    "mobile-ios",
    "search",
    "auth",
    "notifications",
    "inventory",
];
const ENVIRONMENTS: [&str; 3] = ["production", "staging", "development"];
const LEVELS: [&str; 4] = ["error", "error", "warning", "fatal"];
const BROWSERS: [&str; 4] = ["Chrome", "Firefox", "Safari", "Edge"];
const CUSTOMERS: [&str; 6] = ["acme", "acme-eu", "globex", "initech", "umbrella", "hooli"];
const ERRORS: [(&str, &str); 12] = [
    ("ConnectionResetError", "Connection reset by peer"),
    ("TimeoutError", "upstream request timed out after {n}ms"),
    ("KeyError", "'field_{n}'"),
    (
        "TypeError",
        "Cannot read properties of undefined (reading 'item{n}')",
    ),
    (
        "ValueError",
        "invalid literal for int() with base 10: 'x{n}'",
    ),
    ("OperationalError", "could not connect to server db-{n}"),
    (
        "NullPointerException",
        "attempt to invoke method on null object ref {n}",
    ),
    ("RedisError", "MISCONF snapshot failed on shard {n}"),
    (
        "IntegrityError",
        "duplicate key value violates unique constraint idx_{n}",
    ),
    ("PermissionError", "access denied for role r{n}"),
    (
        "RangeError",
        "Maximum call stack size exceeded in module m{n}",
    ),
    (
        "SSLError",
        "certificate verify failed for host h{n}.internal",
    ),
];

/// What to generate.
#[derive(Debug, Clone)]
pub struct SynthSpec {
    pub events: usize,
    pub issues: usize,
    pub span: Duration,
    pub now: DateTime<Utc>,
    pub seed: u64,
}

/// The issue documents, then the events (each with its issue observation), in time order.
/// Feed them to [`crate::IndexWriter::apply_all`] one `Vec` at a time.
pub fn generate(spec: &SynthSpec) -> impl Iterator<Item = Vec<Change>> + '_ {
    let mut rng = Lcg(spec.seed | 1);
    let start = spec.now - spec.span;
    let issues = spec.issues.max(1);
    let issue_docs: Vec<IndexDoc> = (0..issues)
        .map(|i| issue(i, start, spec, &mut rng))
        .collect();
    let span_ms = spec.span.num_milliseconds().max(1) as u64;
    let step = span_ms / spec.events.max(1) as u64;
    let issue_changes = issue_docs.clone().into_iter().map(|d| vec![Change::Put(d)]);
    let events = (0..spec.events).map(move |n| {
        // Long tail: issue index ~ events^3 distribution.
        let r = rng.unit();
        let i = ((r * r * r) * issues as f64) as usize % issues;
        let at = start + Duration::milliseconds((n as u64 * step + rng.below(step.max(1))) as i64);
        let issue = &issue_docs[i];
        let mut e = IndexDoc::new(
            DocKind::Event,
            format!("{:032x}", (spec.seed as u128) << 64 | n as u128),
            at,
        );
        e.issue_id = Some(issue.id.clone());
        e.project = issue.project.clone();
        e.organization = issue.organization.clone();
        e.title = issue.title.clone();
        e.culprit = issue.culprit.clone();
        e.level = issue.level.clone();
        e.platform = issue.platform.clone();
        e.environment = Some(ENVIRONMENTS[rng.below(10).min(2) as usize].to_owned());
        e.release = Some(release(
            issue.project.as_deref().unwrap_or(""),
            rng.below(5) as usize,
        ));
        e.exception_types = issue.exception_types.clone();
        e.exception_values = issue.exception_values.clone();
        e.stack_files = issue.stack_files.clone();
        e.stack_functions = issue.stack_functions.clone();
        e.first_seen = Some(at);
        e.last_seen = Some(at);
        e.tags = vec![
            (
                "browser.name".into(),
                BROWSERS[rng.below(4) as usize].into(),
            ),
            ("customer".into(), CUSTOMERS[rng.below(6) as usize].into()),
            (
                "user.email".into(),
                format!("user{}@example.com", rng.below(5000)),
            ),
            (
                "handled".into(),
                if rng.below(4) == 0 { "no" } else { "yes" }.into(),
            ),
        ];
        e.source = "error.created".into();
        e.version = StateVersion {
            state_at_ms: at.timestamp_millis(),
            action_rank: 0,
            sent_at_ms: at.timestamp_millis(),
        };
        let mut seen = IndexDoc::new(DocKind::Issue, issue.id.clone(), at);
        seen.last_seen = Some(at);
        seen.release = e.release.clone();
        vec![Change::Put(e), Change::Observe(seen)]
    });
    issue_changes.chain(events)
}

fn release(project: &str, i: usize) -> String {
    format!(
        "{}@1.{}.0",
        project.split('-').next().unwrap_or(project),
        20 + i
    )
}

fn issue(i: usize, start: DateTime<Utc>, spec: &SynthSpec, rng: &mut Lcg) -> IndexDoc {
    let project = PROJECTS[i % PROJECTS.len()];
    let (kind, value) = ERRORS[i % ERRORS.len()];
    let value = value.replace("{n}", &(i / ERRORS.len()).to_string());
    let first = start
        + Duration::milliseconds(rng.below(spec.span.num_milliseconds().max(1) as u64 / 2) as i64);
    let mut d = IndexDoc::new(DocKind::Issue, (5_000_000 + i).to_string(), first);
    d.issue_id = Some(d.id.clone());
    d.short_id = Some(format!("{}-{}", project.to_uppercase(), i + 1));
    d.organization = Some("synth-org".into());
    d.project = Some(project.into());
    d.title = format!("{kind}: {value}");
    d.culprit = Some(format!("{project}.handlers.h{} in process", i % 97));
    d.level = Some(LEVELS[i % LEVELS.len()].into());
    d.status = Some(
        match i % 10 {
            0..=6 => "unresolved",
            7 | 8 => "resolved",
            _ => "ignored",
        }
        .into(),
    );
    d.substatus = Some(
        if i.is_multiple_of(5) {
            "escalating"
        } else {
            "ongoing"
        }
        .into(),
    );
    d.platform = Some(
        if i.is_multiple_of(2) {
            "python"
        } else {
            "javascript"
        }
        .into(),
    );
    if i.is_multiple_of(4) {
        d.assignee = Some(format!("dev{}@example.com", i % 13));
    }
    d.first_seen = Some(first);
    d.last_seen = Some(first);
    d.exception_types = vec![kind.into()];
    d.exception_values = vec![value];
    d.stack_files = vec![format!("{project}/handlers/h{}.py", i % 97)];
    d.stack_functions = vec!["process".into(), format!("step_{}", i % 31)];
    d.source = "issue.created".into();
    d.version = StateVersion {
        state_at_ms: first.timestamp_millis(),
        action_rank: 0,
        sent_at_ms: first.timestamp_millis(),
    };
    d
}

/// A tiny deterministic generator: the data only needs to be varied and repeatable.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 11
    }

    fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next() % n }
    }

    fn unit(&mut self) -> f64 {
        (self.next() % 1_000_000) as f64 / 1_000_000.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generates_issues_then_events_deterministically() {
        let spec = SynthSpec {
            events: 100,
            issues: 10,
            span: Duration::days(2),
            now: Utc::now(),
            seed: 7,
        };
        let a: Vec<_> = generate(&spec).collect();
        let b: Vec<_> = generate(&spec).collect();
        assert_eq!(a.len(), 110);
        assert_eq!(a, b);
        assert!(matches!(&a[10][0], Change::Put(d) if d.kind == DocKind::Event));
    }
}
