//! `--demo`: a generated, realistic sample so a new user can query at once. Four projects,
//! about 30 issues with a few hundred events over four days, mixed levels, environments,
//! releases and statuses, a spike in the last hours, a release that introduced new errors,
//! and metric/issue alerts. The data is built as Sentry webhook bodies and goes through the
//! same normalisation as real webhooks.

// Every time offset here is a constant from now: chrono's plain constructors cannot panic.
#![allow(clippy::disallowed_methods)]

use chrono::{DateTime, Duration, Utc};
use sentry_mcp_index::Change;
use sentry_mcp_ingest::{Delivery, normalise};
use serde_json::{Value, json};

mod catalogue;

use catalogue::{BROWSERS, CUSTOMERS, ISSUES, PROJECTS, USERS};

const ORG: &str = "demo-org";
const EVENTS: usize = 420;

/// The demo's changes, timed relative to `now` so "last 24h" always has data.
pub fn changes(now: DateTime<Utc>) -> Vec<Change> {
    deliveries(now)
        .into_iter()
        .flat_map(|(delivery, body)| {
            let bytes = serde_json::to_vec(&body).unwrap_or_default();
            match normalise(&delivery, &bytes) {
                Ok(outcome) => outcome.changes,
                Err(e) => {
                    tracing::error!(error = %e, "demo payload does not normalise");
                    Vec::new()
                }
            }
        })
        .collect()
}

fn delivery(resource: &str, at: DateTime<Utc>, n: usize) -> Delivery {
    Delivery {
        resource: resource.into(),
        request_id: Some(format!("demo-{resource}-{n}")),
        sent_at_ms: Some(at.timestamp_millis()),
        received_at: at,
    }
}

/// Webhook bodies in the order Sentry would send them.
fn deliveries(now: DateTime<Utc>) -> Vec<(Delivery, Value)> {
    let mut rng = fastrand::Rng::with_seed(0x005e_4712);
    let start = now - Duration::days(4);
    // Release i of every project went out at these times.
    let release_at = [start, now - Duration::days(2), now - Duration::hours(20)];
    let mut out = Vec::new();
    let mut first_seen: Vec<Option<DateTime<Utc>>> = vec![None; ISSUES.len()];
    let mut last_seen: Vec<Option<DateTime<Utc>>> = vec![None; ISSUES.len()];
    let mut counts = vec![0u64; ISSUES.len()];
    let mut users: Vec<Vec<&str>> = vec![Vec::new(); ISSUES.len()];

    let mut events = Vec::new();
    for n in 0..EVENTS {
        // Skewed: low-numbered issues are the noisy ones.
        let i = ((rng.f64().powf(1.8)) * ISSUES.len() as f64) as usize % ISSUES.len();
        let t = &ISSUES[i];
        let earliest = release_at[t.first_release];
        let span = (now - earliest).num_seconds().max(60);
        let mut at = earliest + Duration::seconds(rng.i64(0..span));
        // The spike: the checkout timeout storms in the last two hours.
        if i == 1 && n % 2 == 0 {
            at = now - Duration::seconds(rng.i64(0..7200));
        }
        events.push((at, i, n));
    }
    events.sort();
    for (at, i, n) in events {
        let t = &ISSUES[i];
        let project = &PROJECTS[t.project];
        let release = project.releases[release_for(&release_at, at)];
        let env = if rng.u8(0..10) < 8 {
            "production"
        } else {
            "staging"
        };
        let user = USERS[rng.usize(0..USERS.len())];
        counts[i] += 1;
        if !users[i].contains(&user) {
            users[i].push(user);
        }
        let first = *first_seen[i].get_or_insert(at);
        last_seen[i] = Some(at);
        if counts[i] == 1 {
            out.push((
                delivery("issue", at, n),
                issue_body("created", i, first, at, 1, 1, None),
            ));
        }
        let event_id = format!("{:032x}", 0xdead_0000_u128 + n as u128);
        let event = event_body(&event_id, i, at, env, release, user, &mut rng);
        out.push((
            delivery("error", at, n),
            json!({"action": "created", "data": {"error": event}}),
        ));
        if i == 4 && counts[i] == 2 {
            out.push((
                delivery("event_alert", at, n),
                json!({"action": "triggered", "data": {"event": event_body(&event_id, i, at, env, release, user, &mut rng),
                    "triggered_rule": "Database unreachable", "issue_alert": {"title": "Database unreachable", "settings": []}}}),
            ));
        }
    }
    // Final issue states: a few resolved, ignored or assigned, as a team would leave them.
    for (i, (first, last)) in first_seen.iter().zip(&last_seen).enumerate() {
        let (Some(first), Some(last)) = (first, last) else {
            continue;
        };
        let (action, assignee) = match i % 7 {
            3 => ("resolved", None),
            5 => ("ignored", None),
            1 | 2 => ("assigned", Some(USERS[i % USERS.len()])),
            // Sentry refreshes counts with each state change; these carry the final ones.
            _ => ("unresolved", None),
        };
        let at = (*last + Duration::minutes(5)).min(now);
        out.push((
            delivery("issue", at, 10_000 + i),
            issue_body(
                action,
                i,
                *first,
                *last,
                counts[i],
                users[i].len() as u64,
                assignee,
            ),
        ));
    }
    out.extend(metric_alerts(now));
    out
}

fn release_for(release_at: &[DateTime<Utc>; 3], at: DateTime<Utc>) -> usize {
    release_at.iter().rposition(|r| *r <= at).unwrap_or(0)
}

fn issue_id(i: usize) -> u64 {
    4_100_000 + i as u64
}

fn issue_body(
    action: &str,
    i: usize,
    first: DateTime<Utc>,
    last: DateTime<Utc>,
    count: u64,
    user_count: u64,
    assignee: Option<&str>,
) -> Value {
    let t = &ISSUES[i];
    let project = &PROJECTS[t.project];
    let status = match action {
        "resolved" => "resolved",
        "ignored" => "ignored",
        _ => "unresolved",
    };
    let id = issue_id(i);
    let mut data = json!({
        "issue": {
            "id": id.to_string(),
            "shortId": format!("{}-{}", project.slug.to_uppercase(), 100 + i),
            "title": format!("{}: {}", t.error_type, t.value),
            "culprit": t.culprit,
            "level": t.level,
            "status": status,
            "substatus": if status == "unresolved" { if count > 20 { "escalating" } else { "ongoing" } } else { status },
            "priority": match t.level { "fatal" => "high", "error" if count > 20 => "high", "error" => "medium", _ => "low" },
            "platform": project.platform,
            "project": {"id": project.id.to_string(), "name": project.slug, "slug": project.slug, "platform": project.platform},
            "type": "error",
            "metadata": {"type": t.error_type, "value": t.value, "filename": t.file, "function": t.function},
            "count": count.to_string(),
            "userCount": user_count,
            "firstSeen": first.to_rfc3339(),
            "lastSeen": last.to_rfc3339(),
            "assignedTo": assignee.map(|a| json!({"type": "user", "email": a, "name": a})),
            "web_url": format!("https://{ORG}.sentry.io/issues/{id}/"),
        }
    });
    if let Some(a) = assignee {
        data["assignee"] = json!({"type": "user", "email": a, "name": a});
    }
    json!({"action": action, "data": data})
}

fn event_body(
    event_id: &str,
    i: usize,
    at: DateTime<Utc>,
    env: &str,
    release: &str,
    user: &str,
    rng: &mut fastrand::Rng,
) -> Value {
    let t = &ISSUES[i];
    let project = &PROJECTS[t.project];
    let id = issue_id(i);
    let browser = BROWSERS[rng.usize(0..BROWSERS.len())];
    let customer = CUSTOMERS[rng.usize(0..CUSTOMERS.len())];
    json!({
        "event_id": event_id,
        "issue_id": id.to_string(),
        "project": project.id,
        "title": format!("{}: {}", t.error_type, t.value),
        "culprit": t.culprit,
        "level": t.level,
        "platform": project.platform,
        "environment": env,
        "release": release,
        "datetime": at.to_rfc3339(),
        "timestamp": at.timestamp_millis() as f64 / 1000.0,
        "message": "",
        "tags": [["environment", env], ["release", release], ["level", t.level], ["customer", customer],
                 ["browser.name", browser], ["server_name", format!("{}-{}", project.slug, rng.u8(1..4))]],
        "user": {"email": user, "id": user.split('@').next().unwrap_or(user)},
        "exception": {"values": [{
            "type": t.error_type, "value": t.value,
            "stacktrace": {"frames": [
                {"filename": "main", "function": "main", "module": "main", "in_app": false},
                {"filename": t.file, "function": t.function, "module": t.module, "in_app": true, "lineno": 40 + i}
            ]}
        }]},
        "fingerprint": ["{{ default }}"],
        "url": format!("https://sentry.io/api/0/projects/{ORG}/{}/events/{event_id}/", project.slug),
        "web_url": format!("https://sentry.io/organizations/{ORG}/issues/{id}/events/{event_id}/"),
        "issue_url": format!("https://sentry.io/api/0/issues/{id}/"),
    })
}

fn metric_alerts(now: DateTime<Utc>) -> Vec<(Delivery, Value)> {
    let alert = |id: &str,
                 rule: &str,
                 project: &str,
                 query: &str,
                 action: &str,
                 started: DateTime<Utc>,
                 closed: Option<DateTime<Utc>>| {
        json!({
            "action": action,
            "data": {
                "description_title": format!("{}: {rule}", match action { "resolved" => "Resolved", "warning" => "Warning", _ => "Critical" }),
                "description_text": format!("{query} above threshold in the last 10 minutes"),
                "web_url": format!("https://sentry.io/organizations/{ORG}/alerts/rules/details/{id}/"),
                "metric_alert": {
                    "id": id, "identifier": id, "title": rule,
                    "date_started": started.to_rfc3339(), "date_detected": started.to_rfc3339(),
                    "date_closed": closed.map(|c| c.to_rfc3339()),
                    "projects": [project],
                    "alert_rule": {"id": id, "name": rule, "query": query, "aggregate": "count()", "time_window": 10, "environment": "production"},
                }
            }
        })
    };
    let spike = now - Duration::minutes(95);
    let earlier = now - Duration::days(2) + Duration::hours(3);
    vec![
        (
            delivery("metric_alert", spike, 1),
            alert(
                "9001",
                "Checkout error rate",
                "checkout-api",
                "level:error",
                "critical",
                spike,
                None,
            ),
        ),
        (
            delivery("metric_alert", earlier, 2),
            alert(
                "9002",
                "Payments latency p95",
                "payments-worker",
                "transaction:/charge",
                "warning",
                earlier,
                None,
            ),
        ),
        (
            delivery("metric_alert", earlier + Duration::hours(1), 3),
            alert(
                "9002",
                "Payments latency p95",
                "payments-worker",
                "transaction:/charge",
                "resolved",
                earlier,
                Some(earlier + Duration::hours(1)),
            ),
        ),
        (
            delivery("metric_alert", now - Duration::hours(6), 4),
            alert(
                "9003",
                "iOS crash free sessions",
                "mobile-ios",
                "crash_free_rate",
                "warning",
                now - Duration::hours(6),
                None,
            ),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use sentry_mcp_index::DocKind;

    #[test]
    fn demo_has_every_kind_and_normalises_fully() {
        let now = Utc::now();
        let deliveries = deliveries(now);
        let changes = changes(now);
        assert!(
            changes.len() >= deliveries.len(),
            "every demo body normalised"
        );
        let kinds = |kind| {
            changes
                .iter()
                .filter(|c| matches!(c, Change::Put(d) if d.kind == kind))
                .count()
        };
        assert!(kinds(DocKind::Event) >= 400);
        assert!(kinds(DocKind::Issue) >= 25);
        assert!(kinds(DocKind::Alert) >= 4);
    }
}
