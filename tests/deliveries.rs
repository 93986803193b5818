//! Real Sentry deliveries of several generations (tests/fixtures/sentry-webhooks, 2020 to
//! 2025), signed and posted to the real binary, then read back with the `search` command
//! and the MCP tools: issues linked from URLs only, stacks in threads, team assignees,
//! "nobody" as a newer state, current Seer payloads, resources we only record.

mod common;

use std::path::PathBuf;

use common::mcp::*;
use common::*;
use serde_json::{Value, json};

fn fixture(name: &str) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/sentry-webhooks")
        .join(name);
    let body = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_slice(&body).unwrap()
}

fn shared(name: &str) -> Value {
    serde_json::from_slice(&std::fs::read(fixtures().join(name)).unwrap()).unwrap()
}

async fn post(server: &Server, resource: &str, body: &Value, expected: u16) {
    let (status, text) = server
        .post(resource, &serde_json::to_vec(body).unwrap(), SECRET)
        .await;
    assert_eq!(status, expected, "{resource}: {text}");
}

fn ids(hits: &[Value]) -> Vec<String> {
    let mut ids: Vec<String> = hits
        .iter()
        .map(|h| h["id"].as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    ids
}

fn ok_text(answer: &Value, i: usize) -> String {
    let call = &answer["calls"][i];
    assert_eq!(call["is_error"], false, "call {i} failed: {call}");
    call["text"].as_str().unwrap_or_default().to_owned()
}

/// The JSON content a tool answered beside its text.
fn data(answer: &Value, i: usize) -> Value {
    let texts = answer["calls"][i]["texts"].as_array().expect("texts");
    let json = texts.last().and_then(Value::as_str).unwrap_or_default();
    serde_json::from_str(json).unwrap_or_else(|e| panic!("no JSON content ({e}): {json}"))
}

async fn tools(server: &Server, calls: &[(&str, Value)]) -> Value {
    let url = format!("http://{}/mcp", server.mcp);
    mcp_call(Target::Http(&url), calls, &[]).await
}

#[tokio::test]
async fn events_of_2020_without_issue_id_are_linked_to_their_issue() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path()).await;
    let exception = fixture("event_alert.triggered.2020-go-exception.json");
    post(&server, "event_alert", &exception, 200).await;
    // The same delivery as an `error` webhook, naming its issue only in the newer
    // organization-scoped API URL.
    let mut error = exception.clone();
    let event = error["data"]["event"].take();
    error["data"] = json!({"error": event});
    error["action"] = "created".into();
    error["data"]["error"]["event_id"] = "80777a9cc30e4d0eb8904333d5c29800".into();
    error["data"]["error"]["issue_url"] =
        "https://sentry.io/api/0/organizations/hypro999-personal-organization/issues/1637164584/"
            .into();
    error["data"]["error"]
        .as_object_mut()
        .unwrap()
        .remove("web_url");
    post(&server, "error", &error, 200).await;

    let events = wait_for(dir.path(), "kind:event issue:1637164584", 2).await;
    assert_eq!(events.len(), 2, "{events:?}");
    let issues = wait_for(dir.path(), "kind:issue issue:1637164584", 1).await;
    assert_eq!(issues[0]["times_seen"], 2, "{issues:?}");
    let alerts = search(dir.path(), "kind:alert issue:1637164584");
    assert_eq!(alerts.len(), 1, "the alert firing names the issue too");

    let a = tools(
        &server,
        &[("get_issue_events", json!({"issue_id": "1637164584"}))],
    )
    .await;
    let text = ok_text(&a, 0);
    assert!(text.starts_with("2 of 2 events"), "{text}");
    assert!(text.contains("80777a9cc30e4d0eb8904333d5c298b0"), "{text}");
}

#[tokio::test]
async fn stacks_in_threads_or_at_the_top_level_keep_their_frames() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path()).await;
    let threads = fixture("event_alert.triggered.2020-go-message.json");
    post(&server, "event_alert", &threads, 200).await;
    // The same frames as the event's own `stacktrace`, and without a `level` field (the
    // level is then only in the event's `level` tag).
    let mut top = threads.clone();
    let e = top["data"]["event"].as_object_mut().unwrap();
    let stack = e.remove("threads").unwrap()["values"][0]["stacktrace"].take();
    e.insert("stacktrace".into(), stack);
    e.remove("level");
    e.insert("event_id".into(), "01ecb45633bc4f5ca940ada671124c00".into());
    post(&server, "event_alert", &top, 200).await;

    let by_file = wait_for(
        dir.path(),
        "kind:event stack.filename:trigger-message.go",
        2,
    )
    .await;
    assert_eq!(by_file.len(), 2, "{by_file:?}");
    let by_module = search(
        dir.path(),
        "kind:event stack.module:github.com/getsentry/sentry-go",
    );
    assert_eq!(by_module.len(), 2, "{by_module:?}");
    let info = search(dir.path(), "kind:event level:info");
    assert_eq!(
        ids(&info),
        [
            "01ecb45633bc4f5ca940ada671124c00",
            "01ecb45633bc4f5ca940ada671124c8f"
        ],
        "the event without `level` takes its tag"
    );

    let a = tools(
        &server,
        &[
            (
                "get_event",
                json!({"event_id": "01ecb45633bc4f5ca940ada671124c8f"}),
            ),
            (
                "get_event",
                json!({"event_id": "01ecb45633bc4f5ca940ada671124c00"}),
            ),
            ("get_issue", json!({"issue_id": "1638844654"})),
        ],
    )
    .await;
    for i in 0..2 {
        let text = ok_text(&a, i);
        assert!(
            text.contains("trigger-message.go:22 in main (in app)"),
            "{text}"
        );
        assert!(
            text.contains("hub.go:219 in (*Hub).CaptureMessage"),
            "{text}"
        );
        assert!(!text.contains("no stack trace"), "{text}");
        let data = data(&a, i);
        let frames = data["frames"].as_array().map(Vec::len).unwrap_or_default();
        assert_eq!(frames, 2, "{data}");
    }
    assert!(ok_text(&a, 0).contains("(thread 0)"));
    let issue = ok_text(&a, 2);
    assert!(issue.contains("trigger-message.go:22 in main"), "{issue}");
}

#[tokio::test]
async fn team_assignees_are_found_by_slug_and_nobody_clears_them() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path()).await;
    post(
        &server,
        "issue",
        &fixture("issue.assigned.2020-team.json"),
        200,
    )
    .await;
    post(
        &server,
        "issue",
        &fixture("issue.assigned.2020-user.json"),
        200,
    )
    .await;
    wait_for(dir.path(), "kind:issue", 2).await;

    for (query, issue) in [
        ("assigned:#lone-wolf", "1638821441"),
        ("assigned:team:473371", "1638821441"),
        ("assigned:hdrive1999@gmail.com", "1638844654"),
        ("assigned:user:662437", "1638844654"),
        ("assignee:#lone-wolf", "1638821441"),
    ] {
        let hits = search(dir.path(), &format!("kind:issue {query}"));
        assert_eq!(ids(&hits), [issue], "{query}");
    }
    assert!(search(dir.path(), "assigned:Hypro999").is_empty());
    let team = search(dir.path(), "kind:issue id:1638821441");
    assert_eq!(team[0]["assignee"], "#lone-wolf");
    assert_eq!(team[0]["assigned_to"]["type"], "team");
    assert_eq!(team[0]["assigned_to"]["name"], "Hypro999");
    assert_eq!(team[0]["assigned_to"]["id"], "473371");

    // A later full state of the team's issue (its resolution a minute later) with
    // `assignedTo: null`: nobody is assigned any more.
    let mut resolved = fixture("issue.resolved.2020.json");
    resolved["data"]["issue"]["lastSeen"] = "2020-04-30T05:55:15.092476Z".into();
    post(&server, "issue", &resolved, 200).await;
    wait_for(dir.path(), "kind:issue is:resolved", 1).await;
    assert!(search(dir.path(), "assigned:#lone-wolf").is_empty());
    assert_eq!(
        ids(&search(dir.path(), "kind:issue is:unassigned")),
        ["1638821441"]
    );
    let a = tools(&server, &[("get_issue", json!({"issue_id": "1638821441"}))]).await;
    let text = ok_text(&a, 0);
    assert!(!text.contains("assigned to"), "{text}");
}

#[tokio::test]
async fn seer_analyses_of_both_generations_are_shown_and_searchable() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path()).await;
    post(&server, "issue", &shared("issue.created.json"), 200).await;
    for name in [
        "seer.root_cause_completed.2025-docs.json",
        "seer.solution_completed.2025-docs.json",
        "seer.coding_completed.2025-docs.json",
    ] {
        post(&server, "seer", &fixture(name), 202).await;
    }
    // The docs of both generations use the same run id: the older ones go to a run of
    // their own so that both stay.
    for name in [
        "seer.root_cause_completed.json",
        "seer.coding_completed.json",
    ] {
        let mut old = shared(name);
        old["data"]["run_id"] = 99.into();
        post(&server, "seer", &old, 202).await;
    }
    wait_for(dir.path(), "kind:record resource:seer", 5).await;

    for (query, n) in [
        ("kind:record sendWelcomeEmail", 2),
        ("kind:record omits", 1),
        ("kind:record notifications.js", 2),
        ("kind:record blooopy", 1),
    ] {
        assert_eq!(search(dir.path(), query).len(), n, "{query}");
    }
    let a = tools(&server, &[("get_issue", json!({"issue_id": "1170820242"}))]).await;
    let text = ok_text(&a, 0);
    for shown in [
        "Seer root_cause_completed",
        "`getUser` can return `null`",
        "Seer solution_completed",
        "Guard against a missing user",
        "Seer coding_completed",
        "owner/repo: notifications.js",
        "fix: Initialize undefined variable",
        "Woah wow there's a bug here.",
    ] {
        assert!(text.contains(shown), "{shown:?} not in:\n{text}");
    }
}

#[tokio::test]
async fn an_unknown_resource_with_an_issue_updates_it_and_is_recorded_once() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path()).await;
    post(
        &server,
        "issue",
        &fixture("issue.assigned.2020-team.json"),
        200,
    )
    .await;
    wait_for(dir.path(), "kind:issue is:unresolved", 1).await;
    // Some self-hosted Sentry versions send `activity_alert` with the full issue state.
    let mut activity = fixture("issue.resolved.2020.json");
    activity["data"]["issue"]["lastSeen"] = "2020-04-30T05:55:15.092476Z".into();
    post(&server, "activity_alert", &activity, 202).await;
    // Sentry's retry: the same body under a new Request-ID.
    post(&server, "activity_alert", &activity, 202).await;

    let resolved = wait_for(dir.path(), "kind:issue is:resolved", 1).await;
    assert_eq!(ids(&resolved), ["1638821441"]);
    assert_eq!(resolved[0]["source"], "activity_alert.resolved");
    let records = search(dir.path(), "kind:record resource:activity_alert");
    assert_eq!(records.len(), 1, "{records:?}");
    assert_eq!(records[0]["issue_id"], "1638821441");

    let a = tools(
        &server,
        &[
            ("list_issues", json!({"query": "is:resolved"})),
            (
                "get_issue",
                json!({"issue_id": "ZULIP-INTEGRATION-TESTING-E"}),
            ),
        ],
    )
    .await;
    assert!(
        ok_text(&a, 0).contains("ZULIP-INTEGRATION-TESTING-E"),
        "{}",
        ok_text(&a, 0)
    );
    assert!(ok_text(&a, 1).contains("resolved"), "{}", ok_text(&a, 1));
}
