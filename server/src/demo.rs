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

const ORG: &str = "demo-org";
const EVENTS: usize = 420;

struct Project {
    slug: &'static str,
    id: u64,
    platform: &'static str,
    releases: [&'static str; 3],
}

const PROJECTS: [Project; 4] = [
    Project {
        slug: "checkout-api",
        id: 11,
        platform: "python",
        releases: ["checkout@2.3.0", "checkout@2.4.0", "checkout@2.4.1"],
    },
    Project {
        slug: "web-frontend",
        id: 12,
        platform: "javascript",
        releases: ["web@5.10.0", "web@5.11.0", "web@5.12.0"],
    },
    Project {
        slug: "payments-worker",
        id: 13,
        platform: "go",
        releases: ["payments@1.8.2", "payments@1.9.0", "payments@1.9.1"],
    },
    Project {
        slug: "mobile-ios",
        id: 14,
        platform: "cocoa",
        releases: ["ios@7.1.0", "ios@7.2.0", "ios@7.2.1"],
    },
];

/// An issue template: project index, exception type, value, culprit, file, function,
/// module, level, and the first release (index) it appears in.
type Template = (
    usize,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    usize,
);

const ISSUES: [Template; 30] = [
    (
        0,
        "ConnectionResetError",
        "[Errno 104] Connection reset by peer",
        "checkout.payments.client in charge",
        "checkout/payments/client.py",
        "charge",
        "checkout.payments.client",
        "error",
        0,
    ),
    (
        0,
        "TimeoutError",
        "upstream inventory service timed out after 5000ms",
        "checkout.inventory in reserve_items",
        "checkout/inventory.py",
        "reserve_items",
        "checkout.inventory",
        "error",
        0,
    ),
    (
        0,
        "KeyError",
        "'shipping_address'",
        "checkout.views.orders in create_order",
        "checkout/views/orders.py",
        "create_order",
        "checkout.views.orders",
        "error",
        2,
    ),
    (
        0,
        "IntegrityError",
        "duplicate key value violates unique constraint \"orders_idempotency_key\"",
        "checkout.models in save",
        "checkout/models.py",
        "save",
        "checkout.models",
        "error",
        1,
    ),
    (
        0,
        "OperationalError",
        "could not connect to server: Connection refused (postgres-primary:5432)",
        "django.db.backends in connect",
        "django/db/backends/base/base.py",
        "connect",
        "django.db.backends.base.base",
        "fatal",
        0,
    ),
    (
        0,
        "ValidationError",
        "coupon code expired",
        "checkout.coupons in apply",
        "checkout/coupons.py",
        "apply",
        "checkout.coupons",
        "warning",
        0,
    ),
    (
        0,
        "RedisError",
        "MISCONF Redis is configured to save RDB snapshots",
        "checkout.cache in set_cart",
        "checkout/cache.py",
        "set_cart",
        "checkout.cache",
        "error",
        1,
    ),
    (
        0,
        "SlowQuery",
        "query on orders took 2.4s",
        "checkout.reports in daily_totals",
        "checkout/reports.py",
        "daily_totals",
        "checkout.reports",
        "info",
        0,
    ),
    (
        1,
        "TypeError",
        "Cannot read properties of undefined (reading 'price')",
        "CartSummary(src/components/CartSummary.tsx)",
        "src/components/CartSummary.tsx",
        "CartSummary",
        "components/CartSummary",
        "error",
        2,
    ),
    (
        1,
        "ChunkLoadError",
        "Loading chunk 712 failed",
        "webpack/runtime/load script",
        "webpack/runtime/load_script",
        "loadScript",
        "webpack/runtime",
        "error",
        0,
    ),
    (
        1,
        "Error",
        "Request failed with status code 502",
        "api.client(src/api/client.ts)",
        "src/api/client.ts",
        "request",
        "api/client",
        "error",
        0,
    ),
    (
        1,
        "ReferenceError",
        "gtag is not defined",
        "analytics(src/analytics.ts)",
        "src/analytics.ts",
        "track",
        "analytics",
        "warning",
        1,
    ),
    (
        1,
        "SecurityError",
        "Blocked a frame with origin from accessing a cross-origin frame",
        "PaymentFrame(src/checkout/PaymentFrame.tsx)",
        "src/checkout/PaymentFrame.tsx",
        "PaymentFrame",
        "checkout/PaymentFrame",
        "error",
        1,
    ),
    (
        1,
        "UnhandledRejection",
        "Non-Error promise rejection captured with value: Timeout",
        "useInventory(src/hooks/useInventory.ts)",
        "src/hooks/useInventory.ts",
        "useInventory",
        "hooks/useInventory",
        "error",
        2,
    ),
    (
        1,
        "RangeError",
        "Maximum call stack size exceeded",
        "deepMerge(src/utils/merge.ts)",
        "src/utils/merge.ts",
        "deepMerge",
        "utils/merge",
        "error",
        0,
    ),
    (
        1,
        "Warning",
        "Each child in a list should have a unique key prop",
        "ProductList(src/components/ProductList.tsx)",
        "src/components/ProductList.tsx",
        "ProductList",
        "components/ProductList",
        "warning",
        0,
    ),
    (
        2,
        "context.DeadlineExceeded",
        "context deadline exceeded calling ledger.Post",
        "payments/ledger.(*Client).Post",
        "payments/ledger/client.go",
        "(*Client).Post",
        "payments/ledger",
        "error",
        0,
    ),
    (
        2,
        "*errors.errorString",
        "card declined: insufficient_funds",
        "payments/processor.Charge",
        "payments/processor/charge.go",
        "Charge",
        "payments/processor",
        "warning",
        0,
    ),
    (
        2,
        "runtime.Error",
        "invalid memory address or nil pointer dereference",
        "payments/refunds.(*Worker).Handle",
        "payments/refunds/worker.go",
        "(*Worker).Handle",
        "payments/refunds",
        "fatal",
        2,
    ),
    (
        2,
        "kafka.Error",
        "Local: Message timed out",
        "payments/events.Publish",
        "payments/events/publish.go",
        "Publish",
        "payments/events",
        "error",
        1,
    ),
    (
        2,
        "pq.Error",
        "deadlock detected",
        "payments/store.(*Store).UpdateBalance",
        "payments/store/balance.go",
        "(*Store).UpdateBalance",
        "payments/store",
        "error",
        1,
    ),
    (
        2,
        "stripe.Error",
        "rate limit exceeded (429)",
        "payments/stripe.(*Client).CreateCharge",
        "payments/stripe/client.go",
        "(*Client).CreateCharge",
        "payments/stripe",
        "error",
        0,
    ),
    (
        2,
        "x509.CertificateInvalidError",
        "x509: certificate has expired or is not yet valid",
        "payments/bank.(*Client).Dial",
        "payments/bank/client.go",
        "(*Client).Dial",
        "payments/bank",
        "error",
        2,
    ),
    (
        3,
        "NSInternalInconsistencyException",
        "Invalid update: invalid number of rows in section 0",
        "-[OrdersViewController tableView:numberOfRowsInSection:]",
        "OrdersViewController.swift",
        "tableView(_:numberOfRowsInSection:)",
        "Shop",
        "fatal",
        0,
    ),
    (
        3,
        "EXC_BAD_ACCESS",
        "KERN_INVALID_ADDRESS at 0x0000000000000010",
        "ImageCache.store(_:)",
        "ImageCache.swift",
        "store(_:)",
        "Shop",
        "fatal",
        2,
    ),
    (
        3,
        "URLError",
        "The request timed out. (-1001)",
        "APIClient.send(_:)",
        "APIClient.swift",
        "send(_:)",
        "Networking",
        "error",
        0,
    ),
    (
        3,
        "DecodingError",
        "keyNotFound(CodingKeys(stringValue: \"discount\"))",
        "CartDecoder.decode(_:)",
        "CartDecoder.swift",
        "decode(_:)",
        "Shop",
        "error",
        2,
    ),
    (
        3,
        "SwiftUI.Warning",
        "Publishing changes from background threads is not allowed",
        "CartViewModel.refresh()",
        "CartViewModel.swift",
        "refresh()",
        "Shop",
        "warning",
        1,
    ),
    (
        3,
        "WatchdogTermination",
        "App was terminated by the watchdog while in foreground",
        "AppDelegate",
        "AppDelegate.swift",
        "application(_:didFinishLaunchingWithOptions:)",
        "Shop",
        "fatal",
        1,
    ),
    (
        3,
        "NSURLErrorDomain",
        "The Internet connection appears to be offline. (-1009)",
        "Reachability.check()",
        "Reachability.swift",
        "check()",
        "Networking",
        "info",
        0,
    ),
];

const USERS: [&str; 8] = [
    "ana@example.com",
    "bo@example.com",
    "chen@example.com",
    "dara@example.com",
    "eli@example.com",
    "femi@example.com",
    "gus@example.com",
    "hana@example.com",
];
const BROWSERS: [&str; 3] = ["Chrome", "Firefox", "Safari"];
const CUSTOMERS: [&str; 4] = ["acme", "globex", "initech", "umbrella"];

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
        let earliest = release_at[t.8];
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
        let project = &PROJECTS[t.0];
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
    let project = &PROJECTS[t.0];
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
            "title": format!("{}: {}", t.1, t.2),
            "culprit": t.3,
            "level": t.7,
            "status": status,
            "substatus": if status == "unresolved" { if count > 20 { "escalating" } else { "ongoing" } } else { status },
            "priority": match t.7 { "fatal" => "high", "error" if count > 20 => "high", "error" => "medium", _ => "low" },
            "platform": project.platform,
            "project": {"id": project.id.to_string(), "name": project.slug, "slug": project.slug, "platform": project.platform},
            "type": "error",
            "metadata": {"type": t.1, "value": t.2, "filename": t.4, "function": t.5},
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
    let project = &PROJECTS[t.0];
    let id = issue_id(i);
    let browser = BROWSERS[rng.usize(0..BROWSERS.len())];
    let customer = CUSTOMERS[rng.usize(0..CUSTOMERS.len())];
    json!({
        "event_id": event_id,
        "issue_id": id.to_string(),
        "project": project.id,
        "title": format!("{}: {}", t.1, t.2),
        "culprit": t.3,
        "level": t.7,
        "platform": project.platform,
        "environment": env,
        "release": release,
        "datetime": at.to_rfc3339(),
        "timestamp": at.timestamp_millis() as f64 / 1000.0,
        "message": "",
        "tags": [["environment", env], ["release", release], ["level", t.7], ["customer", customer],
                 ["browser.name", browser], ["server_name", format!("{}-{}", project.slug, rng.u8(1..4))]],
        "user": {"email": user, "id": user.split('@').next().unwrap_or(user)},
        "exception": {"values": [{
            "type": t.1, "value": t.2,
            "stacktrace": {"frames": [
                {"filename": "main", "function": "main", "module": "main", "in_app": false},
                {"filename": t.4, "function": t.5, "module": t.6, "in_app": true, "lineno": 40 + i}
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
