//! A tool's own scope (an issue, a project, a window) narrows whatever the query says: an
//! `OR` or a parenthesised query never reaches documents outside it. Run on `--demo` data
//! through a real MCP session.

#![allow(clippy::disallowed_methods)] // fixed times built from constants

mod common;

use common::tools::Tools;
use common::*;
use serde_json::{Value, json};

const ISSUE: &str = "CHECKOUT-API-101";
const WIDE: [&str; 2] = [
    "level:error OR level:fatal",
    "(level:error OR level:fatal) OR environment:staging",
];

async fn demo() -> (tempfile::TempDir, Server) {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_with(dir.path(), &["--demo"]).await;
    (dir, server)
}

fn list<'a>(data: &'a Value, key: &str) -> &'a Vec<Value> {
    data[key]
        .as_array()
        .unwrap_or_else(|| panic!("no {key} in {data}"))
}

#[tokio::test]
async fn issue_scope_holds_against_or_and_parentheses() {
    let (_dir, server) = demo().await;
    let mut tools = Tools::open(&server).await;
    let issue = tools.ok("get_issue", json!({"issue_id": ISSUE})).await;
    let id = issue.data["id"].as_str().unwrap().to_owned();
    let all = tools
        .ok("get_issue_events", json!({"issue_id": ISSUE, "limit": 100}))
        .await;
    let issue_total = all.data["total"].as_u64().unwrap();
    assert!(issue_total > 0);
    let week = json!({"issue_id": ISSUE, "period": "7d", "interval": "1d"});
    let bars = tools.ok("error_histogram", week.clone()).await;
    assert_eq!(
        bars.data["total"].as_u64(),
        Some(issue_total),
        "{}",
        bars.text
    );
    for query in WIDE {
        let events = tools
            .ok(
                "get_issue_events",
                json!({"issue_id": ISSUE, "query": query, "limit": 100}),
            )
            .await;
        let total = events.data["total"].as_u64().unwrap();
        assert!(total <= issue_total, "`{query}` widened: {}", events.text);
        for event in list(&events.data, "events") {
            assert_eq!(event["issue_id"], json!(id), "`{query}` leaked {event}");
        }
        let mut args = week.clone();
        args["query"] = json!(query);
        let bars = tools.ok("error_histogram", args).await;
        assert_eq!(
            bars.data["total"].as_u64(),
            Some(total),
            "histogram of {ISSUE} with `{query}`: {}",
            bars.text
        );
    }
}

#[tokio::test]
async fn project_and_environment_scopes_hold_against_or_and_parentheses() {
    let (_dir, server) = demo().await;
    let mut tools = Tools::open(&server).await;
    let project = "checkout-api";
    let issues = tools
        .ok(
            "list_issues",
            json!({"query": "", "project": project, "limit": 100}),
        )
        .await;
    let own: Vec<Value> = list(&issues.data, "issues")
        .iter()
        .map(|i| i["id"].clone())
        .collect();
    assert!(!own.is_empty());
    let scoped =
        |query: &str| json!({"query": query, "project": project, "period": "7d", "limit": 100});
    for query in WIDE {
        let found = tools.ok("search_errors", scoped(query)).await;
        for group in list(&found.data, "groups") {
            assert!(
                own.contains(&group["issue_id"]),
                "search_errors `{query}` leaked {group}"
            );
        }
        let top = tools.ok("top_errors", scoped(query)).await;
        let mut sum = 0;
        for group in list(&top.data, "groups") {
            assert!(
                own.contains(&group["key"]),
                "top_errors `{query}` leaked {group}"
            );
            sum += group["count"].as_u64().unwrap();
        }
        assert_eq!(top.data["total_events"].as_u64(), Some(sum), "{}", top.text);
        let spikes = tools
            .ok(
                "error_spikes",
                json!({"query": query, "project": project, "period": "24h", "min_count": 1}),
            )
            .await;
        for spike in list(&spikes.data, "spikes") {
            assert!(
                own.contains(&spike["issue_id"]),
                "error_spikes `{query}` leaked {spike}"
            );
        }
        // The environment scope too: staging is asked for in the query, production in scope.
        let production = tools
            .ok(
                "get_issue_events",
                json!({"issue_id": ISSUE, "query": query, "environment": "production", "limit": 100}),
            )
            .await;
        for event in list(&production.data, "events") {
            assert_eq!(
                event["environment"],
                json!("production"),
                "`{query}` leaked {event}"
            );
        }
    }
    // Issue search has no OR: refused, so it cannot widen either.
    for tool in ["list_issues", "new_errors"] {
        let refused = tools
            .call(tool, json!({"query": WIDE[0], "project": project}))
            .await;
        assert!(
            refused.is_error && refused.text.contains("OR"),
            "{tool}: {}",
            refused.text
        );
    }
}

#[tokio::test]
async fn new_errors_of_a_release_stay_in_its_projects() {
    let (_dir, server) = demo().await;
    let mut tools = Tools::open(&server).await;
    let releases = tools
        .ok(
            "top_errors",
            json!({"group_by": "release", "period": "7d", "limit": 100}),
        )
        .await;
    let release = list(&releases.data, "groups")
        .iter()
        .filter_map(|g| g["key"].as_str())
        .find(|r| r.starts_with("checkout"))
        .expect("a checkout release in the demo")
        .to_owned();
    let new = tools
        .ok("new_errors", json!({"release": release, "limit": 100}))
        .await;
    assert!(
        new.text.contains("checkout-api"),
        "says which project: {}",
        new.text
    );
    let issues = list(&new.data, "issues");
    assert!(!issues.is_empty(), "{}", new.text);
    for issue in issues {
        assert_eq!(issue["project"], json!("checkout-api"), "{issue}");
    }
}

#[tokio::test]
async fn an_issue_without_events_says_so_and_a_filter_that_matches_none_answers_zero() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path()).await;
    let (status, text) = server
        .post("issue", &fixture("issue.created.json"), SECRET)
        .await;
    assert_eq!(status, 200, "{text}");
    wait_for(dir.path(), "kind:issue", 1).await;
    let mut tools = Tools::open(&server).await;
    // The server's own reader reloads a moment after the CLI sees the commit.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while tools
        .call("get_issue", json!({"issue_id": "1170820242"}))
        .await
        .is_error
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the issue never showed"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    for args in [
        json!({"issue_id": "1170820242"}),
        json!({"issue_id": "1170820242", "query": "level:fatal"}),
    ] {
        let none = tools.call("get_issue_events", args.clone()).await;
        assert!(
            none.is_error && none.text.contains("are in the local index"),
            "{args}: {}",
            none.text
        );
    }
    drop(tools);
    let (_dir, demo) = demo().await;
    let mut tools = Tools::open(&demo).await;
    let zero = tools
        .ok(
            "get_issue_events",
            json!({"issue_id": ISSUE, "query": "environment:nowhere"}),
        )
        .await;
    assert_eq!(zero.data["total"], json!(0), "{}", zero.text);
}
