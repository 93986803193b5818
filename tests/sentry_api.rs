//! The live Sentry API end to end: the built binary against an in-process fake Sentry
//! (`common::fake_sentry`), driven over MCP as Holmes would. Mutations write through the
//! journal, read fall-backs store what they fetch, reconcile and backfill recover what
//! webhooks missed, and every API failure becomes an answer an agent can act on.

#![allow(clippy::disallowed_methods)]

mod common;

use std::time::{Duration, Instant};

use chrono::Utc;
use common::fake_sentry::{Failure, FakeSentry, ORG, TOKEN};
use common::mcp::{Target, mcp_call, tool_names};
use common::tools::{ToolAnswer, Tools};
use common::*;
use serde_json::{Value, json};

async fn serve(dir: &std::path::Path, fake: &FakeSentry, extra: &[&str]) -> Server {
    let mut args: Vec<String> = vec!["--webhook-secret".into(), SECRET.into()];
    args.extend(fake.args());
    args.extend(extra.iter().map(|s| s.to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    Server::start_with(dir, &args).await
}

/// Issue ids in a `list_issues` answer.
fn listed(answer: &ToolAnswer) -> Vec<String> {
    answer.data["issues"]
        .as_array()
        .unwrap_or_else(|| panic!("no issues in {:?}", answer.data))
        .iter()
        .filter_map(|i| {
            i.get("issue_id")
                .or_else(|| i.get("id"))
                .and_then(Value::as_str)
                .map(str::to_owned)
        })
        .collect()
}

async fn list(tools: &mut Tools, query: &str) -> Vec<String> {
    listed(
        &tools
            .ok("list_issues", json!({"query": query, "limit": 100}))
            .await,
    )
}

/// Wait until `list_issues query` holds `id` (reconcile runs in the background).
async fn wait_listed(tools: &mut Tools, query: &str, id: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if list(tools, query).await.iter().any(|i| i == id) {
            return;
        }
        assert!(Instant::now() < deadline, "{id} never listed by {query:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Wait until the start-up reconcile has finished (status reports it).
async fn wait_reconciled(tools: &mut Tools) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let status = tools.ok("status", json!({})).await;
        let api = &status.data["sentry_api"];
        if api["reconcile"]["last_run"]["ok"] == json!(true) {
            return api.clone();
        }
        assert!(
            Instant::now() < deadline,
            "no reconcile reported: {}",
            status.text
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The fixture's `error.created` delivery ("blooopy", issue 1170820242) as of now, indexed.
async fn deliver_blooopy_now(server: &Server, dir: &std::path::Path) {
    let mut delivered: Value = serde_json::from_slice(&fixture("error.created.json")).unwrap();
    delivered["data"]["error"]["datetime"] = json!(Utc::now().to_rfc3339());
    let body = serde_json::to_vec(&delivered).unwrap();
    assert_eq!(server.post("error", &body, SECRET).await.0, 200);
    wait_for(dir, "blooopy", 2).await;
}

fn assert_no_token(server: &Server, texts: &[&str]) {
    assert!(!server.logs().contains(TOKEN), "token in the logs");
    for text in texts {
        assert!(!text.contains(TOKEN), "token in {text}");
    }
}

#[tokio::test]
async fn resolve_writes_through_survives_kill9_and_beats_an_older_webhook() {
    let fake = FakeSentry::start().await;
    let issue = fake.add_issue(101, "unresolved", Utc::now() - chrono::Duration::minutes(5));
    let last_seen = issue["lastSeen"].as_str().unwrap().to_owned();
    let dir = tempfile::tempdir().unwrap();
    let server = serve(dir.path(), &fake, &[]).await;
    let mut tools = Tools::open(&server).await;
    wait_reconciled(&mut tools).await;
    assert!(
        list(&mut tools, "is:unresolved")
            .await
            .contains(&"101".into())
    );

    let answer = tools.ok("resolve_issue", json!({"issue_id": "101"})).await;
    assert!(answer.text.contains("resolved"), "{}", answer.text);
    let puts: Vec<_> = fake
        .requests()
        .into_iter()
        .filter(|r| r.method == "PUT")
        .collect();
    assert_eq!(puts.len(), 1, "{puts:?}");
    assert!(
        puts[0]
            .path
            .ends_with(&format!("/organizations/{ORG}/issues/101/"))
    );
    assert_eq!(
        serde_json::from_str::<Value>(&puts[0].body).unwrap(),
        json!({"status": "resolved"})
    );
    // The very next list answers with the new state: no webhook, no wait.
    assert!(
        list(&mut tools, "is:resolved")
            .await
            .contains(&"101".into())
    );
    assert!(
        !list(&mut tools, "is:unresolved")
            .await
            .contains(&"101".into())
    );
    drop(tools);
    server.kill9();

    // Durable before the answer: a kill -9 right after it keeps the new state.
    let server = Server::start(dir.path()).await;
    let mut tools = Tools::open(&server).await;
    assert!(
        list(&mut tools, "is:resolved")
            .await
            .contains(&"101".into())
    );

    // An `issue.unresolved` webhook Sentry sent a minute before the mutation arrives late:
    // the state it carries is older, so it does not undo the resolve.
    let stale = Webhook::new(
        "issue",
        &issue_body("unresolved", "101", "unresolved", &last_seen),
    )
    .header("sentry-hook-timestamp", &(now_secs() - 60).to_string())
    .signed(SECRET);
    assert_eq!(server.send(stale).await.0, 200);
    // A later delivery as a barrier: once it is listed, the stale one was applied too.
    let barrier = Webhook::new(
        "issue",
        &issue_body("created", "909", "unresolved", &last_seen),
    )
    .signed(SECRET);
    assert_eq!(server.send(barrier).await.0, 200);
    wait_listed(&mut tools, "is:unresolved", "909").await;
    assert!(
        list(&mut tools, "is:resolved")
            .await
            .contains(&"101".into())
    );
    // A newer one does win: the rule is "newer state wins", not "the API always wins".
    let newer = Webhook::new(
        "issue",
        &issue_body("unresolved", "101", "unresolved", &last_seen),
    )
    .header("sentry-hook-timestamp", &(now_secs() + 5).to_string())
    .signed(SECRET);
    assert_eq!(server.send(newer).await.0, 200);
    wait_listed(&mut tools, "is:unresolved", "101").await;
}

#[tokio::test]
async fn assign_to_a_team_by_slug_then_unassign() {
    let fake = FakeSentry::start().await;
    fake.add_issue(102, "unresolved", Utc::now());
    let dir = tempfile::tempdir().unwrap();
    let server = serve(dir.path(), &fake, &[]).await;
    let mut tools = Tools::open(&server).await;
    wait_reconciled(&mut tools).await;

    let answer = tools
        .ok(
            "assign_issue",
            json!({"issue_id": "WEB-102", "assignee": "#backend"}),
        )
        .await;
    assert!(answer.text.contains("backend"), "{}", answer.text);
    let put = fake
        .requests()
        .into_iter()
        .rfind(|r| r.method == "PUT")
        .unwrap();
    assert_eq!(
        serde_json::from_str::<Value>(&put.body).unwrap(),
        json!({"assignedTo": "team:7"})
    );
    assert!(
        list(&mut tools, "assigned:#backend")
            .await
            .contains(&"102".into())
    );

    tools
        .ok("assign_issue", json!({"issue_id": "102", "assignee": ""}))
        .await;
    assert!(
        !list(&mut tools, "assigned:#backend")
            .await
            .contains(&"102".into())
    );
    assert!(
        list(&mut tools, "is:unassigned")
            .await
            .contains(&"102".into())
    );
}

#[tokio::test]
async fn api_failures_are_explained_and_leave_the_index_untouched() {
    let fake = FakeSentry::start().await;
    fake.add_issue(103, "unresolved", Utc::now());
    let dir = tempfile::tempdir().unwrap();
    let server = serve(dir.path(), &fake, &[]).await;
    let mut tools = Tools::open(&server).await;
    wait_reconciled(&mut tools).await;
    let mut texts = Vec::new();

    // 5xx twice: retried, then it works.
    fake.fail("/issues/103/", Failure::Status(503), 2);
    tools.ok("resolve_issue", json!({"issue_id": "103"})).await;
    assert_eq!(fake.count("PUT", "/issues/103/"), 3);
    tools
        .ok("unresolve_issue", json!({"issue_id": "103"}))
        .await;

    // 404: no such issue in that organization.
    let missing = tools
        .call("resolve_issue", json!({"issue_id": "999999"}))
        .await;
    assert!(missing.is_error);
    assert!(missing.text.contains("999999"), "{}", missing.text);
    assert!(
        missing.text.to_lowercase().contains("not found")
            || missing.text.to_lowercase().contains("no issue"),
        "{}",
        missing.text
    );
    texts.push(missing.text.clone());

    // 403: the token lacks the write scope, and the answer says which.
    fake.forbid_writes();
    let denied = tools
        .call("resolve_issue", json!({"issue_id": "103"}))
        .await;
    assert!(denied.is_error);
    assert!(denied.text.contains("event:write"), "{}", denied.text);
    texts.push(denied.text.clone());

    // 429 with a wait longer than the call's budget: answered at once, with the wait.
    let started = Instant::now();
    fake.fail(
        "/issues/103/",
        Failure::RateLimited {
            retry_after: Some(40),
            reset_in: None,
        },
        1,
    );
    let limited = tools
        .call("unresolve_issue", json!({"issue_id": "103"}))
        .await;
    assert!(limited.is_error);
    assert!(limited.text.contains("40"), "{}", limited.text);
    assert!(started.elapsed() < Duration::from_secs(5));
    texts.push(limited.text.clone());

    // The index still holds the last state Sentry confirmed.
    assert!(
        list(&mut tools, "is:unresolved")
            .await
            .contains(&"103".into())
    );

    let status = tools.ok("status", json!({})).await;
    assert!(
        // The 403 and the 429; a 404 is an answer, and the 503s were retried away.
        status.data["sentry_api"]["errors_last_hour"] == 2,
        "{}",
        status.data
    );
    texts.push(status.text.clone());
    let metrics = server.get(server.mcp, "/metrics").await.1;
    assert!(metrics.contains("sentry_api_errors_last_hour"), "{metrics}");
    texts.push(metrics.clone());
    let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
    assert_no_token(&server, &texts);
}

#[tokio::test]
async fn a_bad_token_shows_in_status_at_load_time() {
    let fake = FakeSentry::start().await;
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_with(
        dir.path(),
        &[
            "--webhook-secret",
            SECRET,
            "--url",
            &fake.url,
            "--organization",
            ORG,
            "--access-token",
            "sntrys_wrong_token_value",
        ],
    )
    .await;
    let mut tools = Tools::open(&server).await;
    let status = tools.call("status", json!({})).await;
    assert!(status.is_error, "{}", status.text);
    assert!(
        status.text.to_lowercase().contains("token"),
        "{}",
        status.text
    );
    assert!(!status.text.contains("sntrys_wrong_token_value"));
    assert!(!server.logs().contains("sntrys_wrong_token_value"));
    // The index-answered tools still work.
    tools.ok("list_issues", json!({})).await;
}

#[tokio::test]
async fn reads_fall_back_to_the_api_and_store_what_they_fetch() {
    let fake = FakeSentry::start().await;
    let dir = tempfile::tempdir().unwrap();
    let server = serve(dir.path(), &fake, &["--reconcile-interval", "1h"]).await;
    let mut tools = Tools::open(&server).await;
    wait_reconciled(&mut tools).await;
    // Created after the reconcile, never sent by webhook.
    fake.add_issue(104, "unresolved", Utc::now());
    fake.add_event(104, "aa11bb22cc33dd44ee55ff6600778899", Utc::now());

    let issue = tools.ok("get_issue", json!({"issue_id": "104"})).await;
    assert!(
        issue.text.contains("upstream 104 timed out"),
        "{}",
        issue.text
    );
    assert!(issue.text.contains("from the Sentry API"), "{}", issue.text);
    fake.clear_log();
    // Stored: the second read is answered by the index alone.
    let again = tools.ok("get_issue", json!({"issue_id": "104"})).await;
    assert!(again.text.contains("upstream 104 timed out"));
    assert_eq!(
        fake.count("GET", "/issues/104/"),
        0,
        "{:?}",
        fake.requests()
    );

    let event = tools
        .ok(
            "get_event",
            json!({"event_id": "aa11bb22cc33dd44ee55ff6600778899"}),
        )
        .await;
    assert!(event.text.contains("handle_104"), "{}", event.text);
    let found = tools
        .ok("search_errors", json!({"query": "handle_104"}))
        .await;
    assert!(found.text.contains("1 matching events"), "{}", found.text);
    // The issue's count is Sentry's: storing its event does not count it again.
    let hits = search(dir.path(), "104");
    let issue = hits.iter().find(|h| h["kind"] == "issue").unwrap();
    assert_eq!(issue["times_seen"], 12, "{issue}");

    // An issue the index has never seen, asked for its events: both are fetched and kept.
    fake.add_issue(110, "unresolved", Utc::now());
    fake.add_event(110, "10000000000000000000000000000001", Utc::now());
    fake.add_event(110, "10000000000000000000000000000002", Utc::now());
    let events = tools
        .ok("get_issue_events", json!({"issue_id": "110"}))
        .await;
    for id in [
        "10000000000000000000000000000001",
        "10000000000000000000000000000002",
    ] {
        assert!(
            events.text.contains(&id[..8]) || events.data.to_string().contains(id),
            "{}",
            events.text
        );
    }
    fake.clear_log();
    tools
        .ok("get_issue_events", json!({"issue_id": "110"}))
        .await;
    assert_eq!(fake.requests().len(), 0, "{:?}", fake.requests());

    // Trends count delivered events only: the fetched pages of 104's and 110's latest
    // events are no spike and no top error, while a delivered event is.
    deliver_blooopy_now(&server, dir.path()).await;
    for (tool, args) in [
        ("top_errors", json!({"period": "1h"})),
        ("error_spikes", json!({"period": "1h", "min_count": 1})),
    ] {
        let answer = tools.ok(tool, args).await;
        assert!(answer.text.contains("blooopy"), "{tool}: {}", answer.text);
        for fetched in ["upstream 104", "upstream 110"] {
            assert!(!answer.text.contains(fetched), "{tool}: {}", answer.text);
        }
    }
    let bars = tools
        .ok(
            "error_histogram",
            json!({"issue_id": "110", "period": "1h"}),
        )
        .await;
    assert_eq!(bars.data["total"], 0, "{}", bars.text);

    // Organizations and projects come from the API, merged with the index.
    let projects = tools.ok("list_projects", json!({})).await;
    assert!(projects.text.contains("api"), "{}", projects.text);
    let orgs = tools.ok("list_organizations", json!({})).await;
    assert!(orgs.text.contains(ORG), "{}", orgs.text);
}

#[tokio::test]
async fn reconcile_recovers_missed_issues_and_changes_made_in_sentry() {
    let fake = FakeSentry::start().await;
    let now = Utc::now();
    // Three pages' worth, none ever sent by webhook.
    for id in 1..=250u64 {
        fake.add_issue(
            1000 + id,
            "unresolved",
            now - chrono::Duration::minutes(id as i64),
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let server = serve(dir.path(), &fake, &["--reconcile-interval", "1s"]).await;
    let mut tools = Tools::open(&server).await;
    let api = wait_reconciled(&mut tools).await;
    assert_eq!(api["reconcile"]["last_run"]["report"]["pages"], 3, "{api}");
    assert_eq!(
        api["reconcile"]["last_run"]["report"]["requests"], 3,
        "{api}"
    );
    let page = tools
        .ok("list_issues", json!({"query": "is:unresolved", "limit": 5}))
        .await;
    assert_eq!(page.data["total"], 250, "{}", page.text);

    // Resolved in Sentry's UI: no webhook. The next periodic pass brings it in.
    fake.set_status(1007, "resolved");
    wait_listed(&mut tools, "is:resolved", "1007").await;
    let metrics = server.get(server.mcp, "/metrics").await.1;
    assert!(
        metrics.contains("reconcile_runs_total{result=\"ok\"}"),
        "{metrics}"
    );
    // Unchanged issues are not written again.
    let status = tools.ok("status", json!({})).await;
    let written = &status.data["sentry_api"]["reconcile"]["last_run"]["report"]["issues_written"];
    assert!(written.as_u64() <= Some(1), "{}", status.data);
    assert_no_token(&server, &[&metrics, &status.text]);
}

#[tokio::test]
async fn backfill_fills_an_index_that_missed_everything() {
    let fake = FakeSentry::start().await;
    let now = Utc::now();
    // Issue N was last seen N - 0.5 hours ago: none sits on the 3-day edge, which the
    // backfill computes a moment later than `now` (issue 72 at exactly 72 h fell out).
    for id in 1..=120u64 {
        let seen = now - chrono::Duration::hours(id as i64) + chrono::Duration::minutes(30);
        fake.add_issue(id, "unresolved", seen);
    }
    fake.set_status(3, "resolved");
    let dir = tempfile::tempdir().unwrap();
    let out = tokio::process::Command::new(BIN)
        .arg("backfill")
        .args(["--data-dir", dir.path().to_str().unwrap()])
        .args(fake.args())
        .args(["--since", "-3d", "--retention-days", "36500"])
        .env_remove("SENTRY_AUTH_TOKEN")
        .output()
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(!stderr.contains(TOKEN));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    // 72 of the 120 were seen in the last 3 days.
    assert_eq!(report["issues_written"], 72, "{report}");
    let start = fake
        .requests()
        .into_iter()
        .find(|r| r.path.ends_with("/issues/"))
        .unwrap();
    assert!(start.query.contains("sort=date"), "{}", start.query);

    // Served without a token: the index has them.
    let server = Server::start(dir.path()).await;
    let mut tools = Tools::open(&server).await;
    assert!(list(&mut tools, "is:resolved").await.contains(&"3".into()));
    let page = tools
        .ok("list_issues", json!({"query": "is:unresolved", "limit": 1}))
        .await;
    assert_eq!(page.data["total"], 71, "{}", page.text);
}

#[tokio::test]
async fn an_organization_in_another_region_is_called_there() {
    let fake = FakeSentry::start().await;
    fake.move_org_to_region();
    fake.add_issue(105, "unresolved", Utc::now());
    let dir = tempfile::tempdir().unwrap();
    let server = serve(dir.path(), &fake, &[]).await;
    let mut tools = Tools::open(&server).await;
    let api = wait_reconciled(&mut tools).await;
    tools.ok("resolve_issue", json!({"issue_id": "105"})).await;
    let requests = fake.requests();
    let put = requests.iter().find(|r| r.method == "PUT").unwrap();
    assert_eq!(put.host, "region");
    let org_scoped_on_main = requests
        .iter()
        .filter(|r| r.host == "main" && r.path.contains("/issues/"))
        .count();
    assert_eq!(org_scoped_on_main, 0, "{requests:?}");
    assert!(
        api.to_string().contains(&fake.region_url),
        "status names the region: {api}"
    );
}

#[tokio::test]
async fn a_self_hosted_sentry_with_minimal_answers_works() {
    let fake = FakeSentry::start().await;
    fake.minimal();
    fake.add_issue(106, "unresolved", Utc::now());
    let dir = tempfile::tempdir().unwrap();
    let server = serve(dir.path(), &fake, &[]).await;
    let mut tools = Tools::open(&server).await;
    wait_reconciled(&mut tools).await;
    // The PUT answers only the changed fields; the tool still shows the whole issue.
    let answer = tools.ok("resolve_issue", json!({"issue_id": "106"})).await;
    assert!(answer.text.contains("upstream 106"), "{}", answer.text);
    assert!(
        list(&mut tools, "is:resolved")
            .await
            .contains(&"106".into())
    );
    let orgs = tools.ok("list_organizations", json!({})).await;
    assert!(orgs.text.contains(ORG), "{}", orgs.text);
}

#[tokio::test]
async fn a_hanging_sentry_costs_one_budget_not_the_index() {
    let fake = FakeSentry::start().await;
    let dir = tempfile::tempdir().unwrap();
    let server = serve(dir.path(), &fake, &["--reconcile-interval", "1h"]).await;
    let mut tools = Tools::open(&server).await;
    wait_reconciled(&mut tools).await;
    fake.fail("/issues/107/", Failure::Hang, 10);
    let started = Instant::now();
    let answer = tools.call("get_issue", json!({"issue_id": "107"})).await;
    let took = started.elapsed();
    assert!(answer.is_error, "{}", answer.text);
    assert!(
        took < Duration::from_secs(14),
        "the 10 s budget holds: {took:?}"
    );
    assert!(
        answer.text.to_lowercase().contains("retry") || answer.text.contains("timed out"),
        "{}",
        answer.text
    );
}

#[tokio::test]
async fn get_issue_refreshes_a_copy_nothing_has_confirmed_lately() {
    let fake = FakeSentry::start().await;
    fake.add_issue(
        120,
        "unresolved",
        Utc::now() - chrono::Duration::minutes(10),
    );
    let dir = tempfile::tempdir().unwrap();
    // One reconcile pass at start and none after: nothing confirms the copy 2 s later.
    let refresh = ["--reconcile-interval", "0", "--refresh-after", "2s"];
    let server = serve(dir.path(), &fake, &refresh).await;
    let mut tools = Tools::open(&server).await;
    // An issue learnt from a delivered event alone, which this Sentry does not have.
    deliver_blooopy_now(&server, dir.path()).await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let observed = tools
        .ok("get_issue", json!({"issue_id": "1170820242"}))
        .await;
    assert!(observed.text.contains("blooopy"), "{}", observed.text);
    assert!(
        observed
            .text
            .contains("built from its events alone, never checked against Sentry; asking Sentry"),
        "{}",
        observed.text
    );
    // Asked for in the organization the event named, which this Sentry does not have.
    assert_eq!(
        fake.count("GET", "/organizations/test-org/"),
        1,
        "{:?}",
        fake.requests()
    );

    let get = json!({"issue_id": "120"});
    let first = tools.ok("get_issue", get.clone()).await;
    assert_eq!(first.data["status"], "unresolved", "{}", first.text);

    // Resolved in Sentry's UI. A fresh copy is answered as it is, without asking Sentry.
    fake.set_status(120, "resolved");
    fake.clear_log();
    let fresh = tools.ok("get_issue", get.clone()).await;
    assert_eq!(fresh.data["status"], "unresolved", "{}", fresh.text);
    assert_eq!(
        fake.count("GET", "/issues/120/"),
        0,
        "{:?}",
        fake.requests()
    );

    // Once it is older than --refresh-after, Sentry is asked and its state answered.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let refreshed = tools.ok("get_issue", get.clone()).await;
    assert_eq!(refreshed.data["status"], "resolved", "{}", refreshed.text);
    assert_eq!(
        fake.count("GET", "/issues/120/"),
        1,
        "{:?}",
        fake.requests()
    );
    assert!(
        !refreshed.text.contains("matched Sentry"),
        "{}",
        refreshed.text
    );

    // Sentry failing: the index's copy is answered, saying how old it is and why.
    fake.set_status(120, "unresolved");
    fake.fail("/issues/120/", Failure::Hang, 10);
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let started = Instant::now();
    let failed = tools.ok("get_issue", get.clone()).await;
    let took = started.elapsed();
    assert_eq!(failed.data["status"], "resolved", "{}", failed.text);
    assert!(
        failed.text.contains("this copy matched Sentry 2s ago")
            || failed.text.contains("this copy matched Sentry 3s ago"),
        "{}",
        failed.text
    );
    assert!(
        failed.text.contains("fresher one failed"),
        "{}",
        failed.text
    );
    assert!(
        took < Duration::from_secs(6),
        "a refresh waits 3 s at most: {took:?}"
    );
    // The next call does not wait on a Sentry that just failed.
    fake.clear_log();
    let started = Instant::now();
    let held = tools.ok("get_issue", get).await;
    assert!(started.elapsed() < Duration::from_secs(1));
    assert!(held.text.contains("not asked again yet"), "{}", held.text);
    assert_eq!(
        fake.count("GET", "/issues/120/"),
        0,
        "{:?}",
        fake.requests()
    );
    assert_no_token(&server, &[&failed.text, &held.text]);
}

#[tokio::test]
async fn python_sdk_resolves_assigns_and_read_only_hides_the_mutations() {
    let fake = FakeSentry::start().await;
    fake.add_issue(108, "unresolved", Utc::now());
    let dir = tempfile::tempdir().unwrap();
    let server = serve(dir.path(), &fake, &[]).await;
    let mut tools = Tools::open(&server).await;
    wait_reconciled(&mut tools).await;
    let url = format!("http://{}/sse", server.mcp);
    let out = mcp_call(
        Target::Sse(&url),
        &[
            ("resolve_issue", json!({"issue_id": "108"})),
            ("list_issues", json!({"query": "is:resolved"})),
            (
                "assign_issue",
                json!({"issue_id": "108", "assignee": "team:7"}),
            ),
            ("get_issue", json!({"issue_id": "108"})),
        ],
        &[],
    )
    .await;
    let calls = out["calls"].as_array().unwrap();
    for call in calls {
        assert_eq!(call["is_error"], false, "{call}");
    }
    assert!(
        calls[1]["text"].as_str().unwrap().contains("108"),
        "{}",
        calls[1]
    );
    assert!(
        calls[3]["text"].as_str().unwrap().contains("backend"),
        "{}",
        calls[3]
    );
    drop(tools);
    drop(server);

    let server = serve(dir.path(), &fake, &["--read-only"]).await;
    let url = format!("http://{}/mcp", server.mcp);
    let out = mcp_call(Target::Http(&url), &[("status", json!({}))], &[]).await;
    let names = tool_names(&out);
    for hidden in ["resolve_issue", "unresolve_issue", "assign_issue"] {
        assert!(!names.contains(&hidden.to_owned()), "{names:?}");
    }
    assert!(names.contains(&"get_issue".to_owned()), "{names:?}");
}

#[tokio::test]
async fn a_short_id_indexed_under_another_org_is_looked_up_in_the_org_asked() {
    let fake = FakeSentry::start().await;
    let dir = tempfile::tempdir().unwrap();
    let server = serve(dir.path(), &fake, &["--reconcile-interval", "1h"]).await;
    let mut tools = Tools::open(&server).await;
    wait_reconciled(&mut tools).await;
    // WEB-5 of organization "other" came by webhook; WEB-5 of "acme" exists only in Sentry.
    fake.add_issue(5, "unresolved", Utc::now());
    let other = serde_json::to_vec(&json!({
        "action": "created",
        "data": {"issue": {
            "id": "777", "shortId": "WEB-5", "title": "another org's issue",
            "status": "unresolved", "permalink": "https://other.sentry.io/issues/777/",
            "project": {"slug": "web"}, "lastSeen": Utc::now().to_rfc3339(),
        }},
    }))
    .unwrap();
    assert_eq!(server.post("issue", &other, SECRET).await.0, 200);
    wait_listed(&mut tools, "is:unresolved", "777").await;

    tools
        .ok(
            "resolve_issue",
            json!({"issue_id": "WEB-5", "organization": ORG}),
        )
        .await;
    let put = fake
        .requests()
        .into_iter()
        .find(|r| r.method == "PUT")
        .unwrap();
    assert!(put.path.ends_with("/issues/5/"), "{put:?}");
    assert!(fake.count("GET", "/shortids/WEB-5/") == 1);
    assert!(
        list(&mut tools, "is:unresolved")
            .await
            .contains(&"777".into())
    );
    assert!(list(&mut tools, "is:resolved").await.contains(&"5".into()));
}

/// An issue webhook of organization `org` (its permalink says which).
fn issue_of_org(org: &str, id: &str, short: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "action": "created",
        "data": {"issue": {
            "id": id, "shortId": short, "title": format!("{org}'s issue"),
            "status": "unresolved", "permalink": format!("https://{org}.sentry.io/issues/{id}/"),
            "project": {"slug": "web"}, "lastSeen": Utc::now().to_rfc3339(),
        }},
    }))
    .unwrap()
}

#[tokio::test]
async fn a_short_id_two_indexed_orgs_share_is_never_answered_with_either() {
    let fake = FakeSentry::start().await;
    let dir = tempfile::tempdir().unwrap();
    let server = serve(dir.path(), &fake, &["--reconcile-interval", "1h"]).await;
    let mut tools = Tools::open(&server).await;
    wait_reconciled(&mut tools).await;
    // WEB-7 in two organizations, neither the server's default (`acme`).
    for (org, id) in [("other", "777"), ("third", "888")] {
        let body = issue_of_org(org, id, "WEB-7");
        assert_eq!(server.post("issue", &body, SECRET).await.0, 200);
        wait_listed(&mut tools, "is:unresolved", id).await;
    }

    for tool in ["get_issue", "get_issue_events", "resolve_issue"] {
        let answer = tools.call(tool, json!({"issue_id": "web-7"})).await;
        assert!(answer.is_error, "{tool}: {}", answer.text);
        for says in [
            "issue_id",
            "777 in organization other",
            "888 in organization third",
        ] {
            assert!(answer.text.contains(says), "{tool}: {}", answer.text);
        }
    }
    assert!(
        fake.requests().iter().all(|r| r.method != "PUT"),
        "an ambiguous short id reached Sentry: {:?}",
        fake.requests()
    );
    let third = tools
        .ok(
            "get_issue",
            json!({"issue_id": "WEB-7", "organization": "third"}),
        )
        .await;
    assert!(third.text.contains("third's issue"), "{}", third.text);
    assert!(!third.text.contains("other's issue"), "{}", third.text);

    // An issue webhook that does not name its organization is found with one given.
    let unnamed = serde_json::to_vec(&json!({
        "action": "created",
        "data": {"issue": {"id": "555", "shortId": "WEB-9", "title": "unnamed org's issue",
                           "status": "unresolved", "project": {"slug": "web"},
                           "lastSeen": Utc::now().to_rfc3339()}},
    }))
    .unwrap();
    assert_eq!(server.post("issue", &unnamed, SECRET).await.0, 200);
    wait_listed(&mut tools, "is:unresolved", "555").await;
    let found = tools
        .ok(
            "get_issue",
            json!({"issue_id": "WEB-9", "organization": "third"}),
        )
        .await;
    assert!(found.text.contains("unnamed org's issue"), "{}", found.text);

    // Once the default organization has a WEB-7 too, that is the one meant.
    let body = issue_of_org(ORG, "999", "WEB-7");
    assert_eq!(server.post("issue", &body, SECRET).await.0, 200);
    wait_listed(&mut tools, "is:unresolved", "999").await;
    let default = tools.ok("get_issue", json!({"issue_id": "WEB-7"})).await;
    assert!(default.text.contains("acme's issue"), "{}", default.text);
}
