//! Every tool through the official Python MCP SDK, on data posted as signed webhooks: the
//! answers' content, paging, and errors that say how to fix a bad call.

#![allow(clippy::disallowed_methods)] // fixed times built from constants

mod common;

use chrono::{DateTime, Duration, Utc};
use common::mcp::*;
use common::*;
use serde_json::{Value, json};

const ORG: &str = "acme";

fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339()
}

#[allow(clippy::too_many_arguments)] // one argument per field a test varies
fn issue(
    action: &str,
    id: &str,
    short: &str,
    title: &str,
    status: &str,
    first: DateTime<Utc>,
    last: DateTime<Utc>,
    count: u64,
) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "action": action,
        "data": {"issue": {
            "id": id, "shortId": short, "title": title, "culprit": "shop.payments in charge",
            "status": status, "level": "error", "platform": "python", "count": count.to_string(), "userCount": 2,
            "project": {"id": "7", "slug": "shop", "name": "shop"},
            "metadata": {"type": title.split(':').next().unwrap(), "value": title.split(": ").nth(1).unwrap_or("")},
            "firstSeen": ts(first), "lastSeen": ts(last),
            "web_url": format!("https://{ORG}.sentry.io/issues/{id}/"),
        }},
        "installation": {"uuid": "i-1"}
    }))
    .unwrap()
}

fn event(event_id: &str, issue_id: &str, title: &str, at: DateTime<Utc>, release: &str) -> Vec<u8> {
    let (kind, value) = title.split_once(": ").unwrap();
    serde_json::to_vec(&json!({
        "action": "created",
        "data": {"error": {
            "event_id": event_id, "issue_id": issue_id, "title": title, "culprit": "shop.payments in charge",
            "level": "error", "platform": "python", "environment": "production", "release": release,
            "datetime": ts(at), "project": 7,
            "tags": [["customer", "globex"], ["environment", "production"]],
            "exception": {"values": [{"type": kind, "value": value, "stacktrace": {"frames": [
                {"filename": "shop/app.py", "function": "main", "lineno": 10, "in_app": true},
                {"filename": "shop/payments.py", "function": "charge", "lineno": 42, "in_app": true,
                 "context_line": "    gateway.charge(order)"}
            ]}}]},
            "url": format!("https://sentry.io/api/0/projects/{ORG}/shop/events/{event_id}/"),
            "web_url": format!("https://sentry.io/organizations/{ORG}/issues/{issue_id}/events/{event_id}/"),
        }},
        "installation": {"uuid": "i-1"}
    }))
    .unwrap()
}

async fn seeded_server(dir: &std::path::Path) -> Server {
    let server = Server::start(dir).await;
    let now = Utc::now();
    let timeout = "TimeoutError: payment gateway timed out";
    let bodies: Vec<(&str, Vec<u8>)> = vec![
        ("issue", issue("created", "9100", "SHOP-1", timeout, "unresolved", now - Duration::minutes(25), now - Duration::minutes(25), 1)),
        ("error", event("aaaa0000000000000000000000000001", "9100", timeout, now - Duration::minutes(25), "shop@2.0")),
        ("error", event("aaaa0000000000000000000000000002", "9100", timeout, now - Duration::minutes(15), "shop@2.0")),
        ("error", event("aaaa0000000000000000000000000003", "9100", timeout, now - Duration::minutes(5), "shop@2.0")),
        ("issue", issue("created", "9200", "SHOP-2", "KeyError: 'cart'", "unresolved", now - Duration::days(3), now - Duration::hours(3), 40)),
        ("error", event("bbbb0000000000000000000000000001", "9200", "KeyError: 'cart'", now - Duration::hours(3), "shop@1.9")),
        ("issue", issue("resolved", "9200", "SHOP-2", "KeyError: 'cart'", "resolved", now - Duration::days(3), now - Duration::hours(3), 41)),
        (
            "metric_alert",
            serde_json::to_vec(&json!({"action": "critical", "data": {
                "description_title": "Critical: Shop error rate", "description_text": "error rate above 5%",
                "web_url": format!("https://sentry.io/organizations/{ORG}/alerts/rules/details/55/"),
                "metric_alert": {"id": "55", "title": "Shop error rate", "date_started": ts(now - Duration::minutes(10)),
                                 "date_detected": ts(now - Duration::minutes(10)), "projects": ["shop"],
                                 "alert_rule": {"id": "5", "name": "Shop error rate", "query": "level:error"}}}}))
            .unwrap(),
        ),
    ];
    // The docs' issue and Seer's root cause for it.
    let mut bodies = bodies;
    bodies.insert(0, ("issue", fixture("issue.created.json")));
    bodies.insert(1, ("seer", fixture("seer.root_cause_completed.json")));
    for (resource, body) in &bodies {
        let (status, text) = server.post(resource, body, SECRET).await;
        let expected = if *resource == "seer" { 202 } else { 200 };
        assert_eq!(status, expected, "{resource}: {text}");
    }
    wait_for(dir, "kind:alert id:55", 1).await;
    // The CLI can see a commit a moment before the server's own reader reloads; the
    // index_docs gauge is set after that reload.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let (_, metrics) = server.get(server.mcp, "/metrics").await;
        let docs = metrics
            .lines()
            .find_map(|l| l.strip_prefix("sentry_mcp_index_docs "))
            .and_then(|v| v.trim().parse::<u64>().ok())
            .unwrap_or(0);
        if docs >= 9 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "server never saw its 9 documents: {docs}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    server
}

fn text(answer: &Value, i: usize) -> String {
    let call = &answer["calls"][i];
    call["text"].as_str().unwrap_or_default().to_owned()
}

fn ok(answer: &Value, i: usize) -> String {
    let call = &answer["calls"][i];
    assert_eq!(
        call["is_error"], false,
        "call {i} ({}) failed: {call}",
        call["tool"]
    );
    text(answer, i)
}

fn err(answer: &Value, i: usize) -> String {
    let call = &answer["calls"][i];
    assert_eq!(
        call["is_error"], true,
        "call {i} ({}) should fail: {call}",
        call["tool"]
    );
    text(answer, i)
}

#[tokio::test]
async fn every_index_tool_answers_from_webhook_data() {
    let dir = tempfile::tempdir().unwrap();
    let server = seeded_server(dir.path()).await;
    let url = format!("http://{}/mcp", server.mcp);
    let calls = vec![
        ("list_issues", json!({})),
        (
            "list_issues",
            json!({"query": "is:resolved", "project": "shop"}),
        ),
        ("get_issue", json!({"issue_id": "SHOP-1"})),
        (
            "get_issue",
            json!({"issue_id": format!("https://{ORG}.sentry.io/issues/9100/")}),
        ),
        ("get_issue_events", json!({"issue_id": "9100", "limit": 2})),
        (
            "get_event",
            json!({"event_id": "aaaa0000000000000000000000000002"}),
        ),
        ("search_errors", json!({"query": "timeout", "period": "1h"})),
        ("top_errors", json!({"period": "1h"})),
        ("new_errors", json!({"release": "shop@2.0"})),
        ("error_spikes", json!({"period": "1h", "min_count": 2})),
        (
            "error_histogram",
            json!({"period": "1h", "interval": "10m", "issue_id": "SHOP-1"}),
        ),
        ("list_alerts", json!({"state": "active"})),
        ("list_organizations", json!({})),
        ("list_projects", json!({})),
        ("status", json!({})),
        ("top_errors", json!({"period": "1d", "group_by": "release"})),
        ("get_issue", json!({"issue_id": "FRONT-END-9"})),
        (
            "list_issues",
            json!({"query": "release:shop@1.9 is:resolved"}),
        ),
        // Looking back at an incident: the hour before 2.5 h ago holds SHOP-2's one event,
        // the hour before that nothing; SHOP-1's events are all later.
        (
            "error_spikes",
            json!({
                "period": "1h",
                "min_count": 1,
                "until": (Utc::now() - Duration::minutes(150)).format("%Y-%m-%dT%H:%M:%SZ").to_string(),
            }),
        ),
        // "What failed today?": no query is every event of the window, as is a null one.
        ("search_errors", json!({"period": "1d"})),
        ("search_errors", json!({"period": "1d", "query": null})),
    ];
    let a = mcp_call(Target::Http(&url), &calls, &[]).await;
    let names = tool_names(&a);
    for tool in [
        "list_organizations",
        "list_projects",
        "list_issues",
        "get_issue",
        "get_issue_events",
        "get_event",
        "resolve_issue",
        "unresolve_issue",
        "assign_issue",
        "search_errors",
        "top_errors",
        "new_errors",
        "error_spikes",
        "error_histogram",
        "list_alerts",
        "status",
    ] {
        assert!(
            names.contains(&tool.to_owned()),
            "{tool} missing from {names:?}"
        );
    }

    let t = ok(&a, 0);
    assert!(
        t.contains("SHOP-1") && !t.contains("SHOP-2"),
        "default is:unresolved: {t}"
    );
    assert!(ok(&a, 1).contains("SHOP-2"));
    let t = ok(&a, 2);
    assert!(
        t.contains("TimeoutError") && t.contains("shop@2.0 (3)"),
        "{t}"
    );
    assert!(
        t.contains("shop/payments.py:42 in charge"),
        "latest event's stack: {t}"
    );
    assert!(ok(&a, 3).contains("SHOP-1"), "issue URLs are accepted");
    let t = ok(&a, 4);
    assert!(t.contains("2 of 3 events") && t.contains("cursor"), "{t}");
    let t = ok(&a, 5);
    assert!(
        t.contains("gateway.charge(order)") && t.contains("customer=globex"),
        "{t}"
    );
    let t = ok(&a, 6);
    assert!(
        t.contains("3 matching events") && t.contains("SHOP-1"),
        "{t}"
    );
    assert!(ok(&a, 7).contains("    3 (100%) SHOP-1"), "{}", text(&a, 7));
    let t = ok(&a, 8);
    assert!(t.contains("1 new issues") && t.contains("SHOP-1"), "{t}");
    assert!(ok(&a, 9).contains("new  SHOP-1"), "{}", text(&a, 9));
    assert!(
        ok(&a, 10).contains("3 events of SHOP-1"),
        "{}",
        text(&a, 10)
    );
    assert!(ok(&a, 11).contains("Shop error rate"), "{}", text(&a, 11));
    assert!(ok(&a, 12).contains(ORG), "{}", text(&a, 12));
    assert!(
        ok(&a, 13).contains("shop: 2 issues, 4 events"),
        "{}",
        text(&a, 13)
    );
    assert!(
        ok(&a, 14).contains("3 issues, 4 events, 1 alerts"),
        "{}",
        text(&a, 14)
    );
    let t = ok(&a, 17);
    assert!(
        t.contains("SHOP-2") && !t.contains("SHOP-1"),
        "issues by a release their events were seen in: {t}"
    );
    let t = ok(&a, 16);
    assert!(
        t.contains("Seer root_cause_completed") && t.contains("Woah wow there's a bug here."),
        "{t}"
    );
    let t = ok(&a, 15);
    assert!(t.contains("shop@2.0") && t.contains("shop@1.9"), "{t}");
    let t = ok(&a, 18);
    assert!(
        t.contains("new  SHOP-2") && !t.contains("SHOP-1"),
        "error_spikes compares the windows before `until`: {t}"
    );
    for i in [19, 20] {
        let t = ok(&a, i);
        assert!(
            t.contains("4 matching events in the last 1d with no query")
                && t.contains("SHOP-1")
                && t.contains("SHOP-2"),
            "{t}"
        );
    }
}

#[tokio::test]
async fn bad_calls_say_how_to_fix_them() {
    let dir = tempfile::tempdir().unwrap();
    let server = seeded_server(dir.path()).await;
    let url = format!("http://{}/sse", server.mcp);
    let calls = vec![
        ("list_issues", json!({"query": "is:unresolvedd"})),
        (
            "list_issues",
            json!({"query": "level:error OR level:fatal"}),
        ),
        (
            "search_errors",
            json!({"query": "timeout", "period": "1 day"}),
        ),
        ("get_issue", json!({"issue_id": "not an id"})),
        ("get_issue", json!({"issue_id": "SHOP-999"})),
        ("list_issues", json!({"sort": "weird"})),
        ("resolve_issue", json!({"issue_id": "SHOP-1"})),
        ("list_issues", json!({"query": "lastSeen:>2024-13-01"})),
        ("list_issues", json!({"cursor": "not-a-cursor"})),
        ("get_event", json!({"event_id": "zz"})),
        ("list_issues", json!({"query": "levle:error"})),
    ];
    let a = mcp_call(Target::Sse(&url), &calls, &[]).await;
    assert!(
        err(&a, 0).contains("unknown is: value \"unresolvedd\""),
        "{}",
        text(&a, 0)
    );
    assert!(
        err(&a, 1).contains("OR is not allowed in issue search"),
        "{}",
        text(&a, 1)
    );
    assert!(err(&a, 2).contains("24h"), "{}", text(&a, 2));
    assert!(
        err(&a, 3).contains("short id (PROJ-123)"),
        "{}",
        text(&a, 3)
    );
    assert!(
        err(&a, 4).contains("not in the local index"),
        "{}",
        text(&a, 4)
    );
    assert!(
        err(&a, 5).contains("freq"),
        "the error lists the valid sorts: {}",
        text(&a, 5)
    );
    assert!(err(&a, 6).contains("SENTRY_AUTH_TOKEN"), "{}", text(&a, 6));
    assert!(err(&a, 7).contains("2024-13-01"), "{}", text(&a, 7));
    assert!(err(&a, 8).contains("invalid cursor"), "{}", text(&a, 8));
    assert!(err(&a, 9).contains("32 hex"), "{}", text(&a, 9));
    let t = ok(&a, 10);
    assert!(
        t.contains("`levle` is not a known key") && t.contains("did you mean `level`?"),
        "a typo'd key gets a hint: {t}"
    );
}

#[tokio::test]
async fn cursors_walk_every_issue_once() {
    let dir = tempfile::tempdir().unwrap();
    let server = seeded_server(dir.path()).await;
    let url = format!("http://{}/mcp", server.mcp);
    let mut cursor: Option<String> = None;
    let mut seen = Vec::new();
    for _ in 0..6 {
        let mut args = json!({"query": "", "limit": 1, "sort": "freq"});
        if let Some(c) = &cursor {
            args["cursor"] = json!(c);
        }
        let a = mcp_call(Target::Http(&url), &[("list_issues", args)], &[]).await;
        let data: Value =
            serde_json::from_str(a["calls"][0]["texts"][1].as_str().unwrap()).unwrap();
        seen.extend(
            data["issues"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i["id"].as_str().unwrap().to_owned()),
        );
        cursor = data["cursor"].as_str().map(str::to_owned);
        if cursor.is_none() {
            break;
        }
    }
    assert_eq!(
        seen,
        ["9200", "9100", "1170820242"],
        "sorted by events, each once"
    );
}

/// The fixture's real issue payload as another issue, with Sentry's current `priority`.
fn issue_with_priority(id: &str, short: &str, priority: &str, at: DateTime<Utc>) -> Vec<u8> {
    let mut body: Value =
        serde_json::from_slice(&std::fs::read(fixtures().join("issue.created.json")).unwrap())
            .unwrap();
    let issue = &mut body["data"]["issue"];
    issue["id"] = json!(id);
    issue["shortId"] = json!(short);
    issue["priority"] = json!(priority);
    issue["firstSeen"] = json!(ts(at));
    issue["lastSeen"] = json!(ts(at));
    issue["count"] = json!("1");
    issue["project"] = json!({"id": "7", "slug": "shop", "name": "shop"});
    issue["permalink"] = json!(format!("https://{ORG}.sentry.io/issues/{id}/"));
    serde_json::to_vec(&body).unwrap()
}

#[tokio::test]
async fn queries_people_type_get_priorities_group_filters_notes_and_hints() {
    let dir = tempfile::tempdir().unwrap();
    let server = seeded_server(dir.path()).await;
    let now = Utc::now();
    let mut with_user: Value = serde_json::from_slice(&event(
        "cccc0000000000000000000000000001",
        "9300",
        "ValueError: bad size",
        now - Duration::minutes(2),
        "shop@2.1",
    ))
    .unwrap();
    with_user["data"]["error"]["user"] = json!({"email": "ana@example.com", "id": "ana"});
    for (resource, body) in [
        (
            "issue",
            issue_with_priority("9300", "SHOP-3", "high", now - Duration::minutes(2)),
        ),
        (
            "issue",
            issue_with_priority("9400", "SHOP-4", "low", now - Duration::minutes(2)),
        ),
        ("error", serde_json::to_vec(&with_user).unwrap()),
    ] {
        let (status, text) = server.post(resource, &body, SECRET).await;
        assert_eq!(status, 200, "{resource}: {text}");
    }
    wait_for(dir.path(), "kind:event issue:9300", 1).await;
    let url = format!("http://{}/mcp", server.mcp);
    // The server's reader reloads a moment after the CLI sees the commit.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let a = mcp_call(
            Target::Http(&url),
            &[("list_issues", json!({"query": "issue:9400"}))],
            &[],
        )
        .await;
        if ok(&a, 0).contains("SHOP-4") {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the server never saw SHOP-4"
        );
    }
    let calls = vec![
        (
            "list_issues",
            json!({"query": "is:unresolved issue.priority:[high, medium]"}),
        ),
        ("list_issues", json!({"query": "bookmarks:me"})),
        (
            "search_errors",
            json!({"query": "count():>2", "period": "1h"}),
        ),
        (
            "search_errors",
            json!({"query": "count():>5", "period": "1h"}),
        ),
        (
            "search_errors",
            json!({"query": "count_unique(user):>=1", "period": "1h"}),
        ),
        (
            "search_errors",
            json!({"query": "stack.in_app:true has:user", "period": "1h"}),
        ),
        ("list_issues", json!({"query": "is:unresolved level:errr"})),
        ("search_errors", json!({"query": "level:error AND"})),
        ("list_issues", json!({"query": "is:[unresolved, resolved]"})),
        (
            "search_errors",
            json!({"query": "release.version:>2.0", "period": "1h"}),
        ),
        ("list_issues", json!({"query": "first_seen:-1h"})),
        (
            "search_errors",
            json!({"query": "is:linked timeout", "period": "1h"}),
        ),
    ];
    let a = mcp_call(Target::Http(&url), &calls, &[]).await;
    let t = ok(&a, 0);
    assert!(
        t.contains("SHOP-3") && !t.contains("SHOP-4") && !t.contains("SHOP-1 "),
        "Sentry's default view: {t}"
    );
    let t = ok(&a, 1);
    assert!(
        t.contains("0 of 0") && t.contains("Note: `bookmarks:me` cannot be answered here"),
        "{t}"
    );
    let t = ok(&a, 2);
    assert!(
        t.contains("SHOP-1") && !t.contains("SHOP-3") && t.contains("passed the aggregate filters"),
        "{t}"
    );
    let t = ok(&a, 3);
    assert!(
        !t.contains("SHOP-1"),
        "no issue has more than 5 events: {t}"
    );
    let t = ok(&a, 4);
    assert!(
        t.contains("SHOP-3") && !t.contains("SHOP-1"),
        "only SHOP-3's event has a user: {t}"
    );
    let data: Value = serde_json::from_str(a["calls"][4]["texts"][1].as_str().unwrap()).unwrap();
    assert_eq!(data["groups"][0]["users_in_window"], 1, "{data}");
    assert_eq!(data["groups"][0]["count"], 1, "{data}");
    let t = ok(&a, 5);
    assert!(t.contains("SHOP-3") && !t.contains("SHOP-1"), "{t}");
    let t = ok(&a, 6);
    assert!(
        t.contains("did you mean `level:error`?") && !t.contains("`is` is not a known key"),
        "{t}"
    );
    assert!(
        err(&a, 7).contains("AND needs a search term on both sides"),
        "{}",
        text(&a, 7)
    );
    assert!(
        err(&a, 8).contains("`is:` takes one value"),
        "{}",
        text(&a, 8)
    );
    let t = ok(&a, 9);
    assert!(
        t.contains("SHOP-3") && !t.contains("SHOP-1"),
        "2.1 > 2.0, 2.0 is not: {t}"
    );
    let t = ok(&a, 10);
    assert!(
        t.contains("SHOP-1") && !t.contains("SHOP-2"),
        "first_seen is a date key: {t}"
    );
    let t = ok(&a, 11);
    assert!(
        t.contains("Note: `is:linked` cannot be answered here"),
        "{t}"
    );
}

/// The count at the start of a list answer (`12 of 34 issues ...`, `56 matching events ...`).
fn total_in(text: &str, after: &str) -> u64 {
    let rest = text.split_once(after).map_or(text, |(_, r)| r);
    rest.split(|c: char| !c.is_ascii_digit())
        .find(|s| !s.is_empty())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

#[tokio::test]
async fn demo_data_answers_has_user_priorities_in_app_and_versions() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_with(dir.path(), &["--demo"]).await;
    let url = format!("http://{}/mcp", server.mcp);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let a = mcp_call(
            Target::Http(&url),
            &[("list_issues", json!({"query": ""}))],
            &[],
        )
        .await;
        if total_in(&ok(&a, 0), " of ") > 0 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the demo data never arrived"
        );
    }
    let calls = vec![
        ("list_issues", json!({"query": "has:user"})),
        (
            "list_issues",
            json!({"query": "is:unresolved issue.priority:[high, medium]"}),
        ),
        (
            "search_errors",
            json!({"query": "has:user", "period": "7d"}),
        ),
        (
            "search_errors",
            json!({"query": "stack.in_app:true", "period": "7d"}),
        ),
        (
            "search_errors",
            json!({"query": "release.version:>=2.4", "period": "7d"}),
        ),
        ("list_issues", json!({"query": ""})),
    ];
    let a = mcp_call(Target::Http(&url), &calls, &[]).await;
    let all = total_in(&ok(&a, 5), " of ");
    let users = total_in(&ok(&a, 0), " of ");
    assert!(
        users > 0 && users == all,
        "every demo issue has users: {users} of {all}"
    );
    let t = ok(&a, 1);
    assert!(total_in(&t, " of ") > 0, "the demo carries priorities: {t}");
    for i in [2, 3, 4] {
        let t = ok(&a, i);
        assert!(
            t.split_whitespace()
                .next()
                .and_then(|n| n.parse::<u64>().ok())
                .unwrap_or(0)
                > 0,
            "call {i}: {t}"
        );
    }
}
