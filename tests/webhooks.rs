//! Webhooks over real HTTP with real HMAC signatures, checked through the real `search`
//! command on the server's data dir.

#![allow(clippy::disallowed_methods)] // fixed times built from constants

mod common;

use common::*;
use serde_json::Value;

/// What a fixture should become: kind, Sentry id and (when the payload names it) project.
fn expected(resource: &str, json: &Value) -> (&'static str, String, Option<String>) {
    let data = &json["data"];
    let s = |v: &Value| match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    };
    match resource {
        "issue" => (
            "issue",
            s(&data["issue"]["id"]).unwrap(),
            s(&data["issue"]["project"]["slug"]),
        ),
        "error" => (
            "event",
            s(&data["error"]["event_id"]).unwrap(),
            Some("front-end".into()),
        ),
        "event_alert" => ("event", s(&data["event"]["event_id"]).unwrap(), None),
        "metric_alert" => ("alert", s(&data["metric_alert"]["id"]).unwrap(), None),
        "comment" => (
            "issue",
            s(&data["issue_id"]).unwrap(),
            s(&data["project_slug"]),
        ),
        "installation" => (
            "record",
            format!("installation:{}", s(&data["installation"]["uuid"]).unwrap()),
            None,
        ),
        _ => ("record", String::new(), None),
    }
}

#[tokio::test]
async fn every_fixture_is_accepted_and_found_by_search() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path()).await;
    let mut files = Vec::new();
    for sub in ["", "example-app-mocks/"] {
        for entry in std::fs::read_dir(fixtures().join(sub)).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "json") {
                files.push(path);
            }
        }
    }
    files.sort();
    assert!(files.len() >= 31, "fixtures missing: {}", files.len());
    let mut expectations = Vec::new();
    for path in &files {
        let name = path.file_name().unwrap().to_str().unwrap();
        let resource = name.split('.').next().unwrap();
        let body = std::fs::read(path).unwrap();
        let (status, reason) = server.post(resource, &body, SECRET).await;
        let known = !matches!(resource, "seer" | "preprod_artifact");
        assert_eq!(status, if known { 200 } else { 202 }, "{name}: {reason}");
        expectations.push((
            name.to_owned(),
            resource.to_owned(),
            serde_json::from_slice::<Value>(&body).unwrap(),
        ));
    }
    for (name, resource, json) in expectations {
        let (kind, id, project) = expected(&resource, &json);
        let query = if id.is_empty() {
            format!("kind:record resource:{resource}")
        } else {
            format!("kind:{kind} id:\"{id}\"")
        };
        let hits = wait_for(dir.path(), &query, 1).await;
        let doc = &hits[0];
        assert_eq!(doc["kind"], kind, "{name}");
        if !id.is_empty() {
            assert_eq!(doc["id"], id.as_str(), "{name}");
        }
        if let Some(project) = project {
            assert_eq!(doc["project"], project.as_str(), "{name}");
        }
        if kind == "event" {
            assert!(
                doc["issue_id"].is_string(),
                "{name}: events carry their issue id"
            );
        }
        if kind == "issue" {
            assert!(doc["status"].is_string(), "{name}: issues carry a status");
        }
    }
    // The metric alert mocks share one id: the last state posted (resolved, then warning
    // variants sort after it) wins, and the alert is listed once.
    assert_eq!(search(dir.path(), "kind:alert id:789").len(), 1);
    // Comments land on their issue: the mock issue 123 had a comment created then deleted.
    let issue = &search(dir.path(), "kind:issue id:100")[0];
    assert_eq!(issue["comments"][0]["text"], "adding a comment");
}

/// Post a valid sentinel after the bad requests; once it is searchable, anything the bad
/// requests had indexed would be too (the index applies deliveries in order).
async fn assert_nothing_indexed(server: &Server, bad_id: &str) {
    let sentinel = issue_body("created", "999999", "unresolved", "2026-01-02T00:00:00Z");
    assert_eq!(server.post("issue", &sentinel, SECRET).await.0, 200);
    wait_for(&server.data_dir, "kind:issue id:999999", 1).await;
    assert!(
        search(&server.data_dir, &format!("id:{bad_id}")).is_empty(),
        "{bad_id} was indexed"
    );
}

#[tokio::test]
async fn bad_requests_get_the_spec_status_and_nothing_is_indexed() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_with(
        dir.path(),
        &["--webhook-secret", SECRET, "--max-body-bytes", "65536"],
    )
    .await;
    let body = issue_body("created", "4242", "unresolved", "2026-01-02T00:00:00Z");
    let valid = || Webhook::new("issue", &body).signed(SECRET);

    let cases: Vec<(&str, Webhook, u16, &str)> = vec![
        (
            "forged signature",
            valid().header("sentry-hook-signature", &sign("attacker", &body)),
            401,
            "signature does not match",
        ),
        (
            "garbage signature",
            valid().header("sentry-hook-signature", "xyz"),
            401,
            "malformed signature",
        ),
        (
            "missing signature",
            valid().without("sentry-hook-signature"),
            401,
            "missing Sentry-Hook-Signature",
        ),
        (
            "stale timestamp",
            valid().header("sentry-hook-timestamp", &(now_secs() - 3600).to_string()),
            401,
            "stale",
        ),
        (
            "future timestamp",
            valid().header("sentry-hook-timestamp", &(now_secs() + 3600).to_string()),
            401,
            "stale",
        ),
        (
            "missing timestamp",
            valid().without("sentry-hook-timestamp"),
            401,
            "missing Sentry-Hook-Timestamp",
        ),
        (
            "missing resource",
            valid().without("sentry-hook-resource"),
            400,
            "missing Sentry-Hook-Resource",
        ),
        (
            "body changed after signing",
            Webhook {
                body: [&body[..], b" "].concat(),
                ..valid()
            },
            401,
            "signature does not match",
        ),
    ];
    for (what, hook, status, reason) in cases {
        let (got, text) = server.send(hook).await;
        assert_eq!(got, status, "{what}: {text}");
        assert!(
            text.contains(reason),
            "{what}: reason {text:?} should mention {reason:?}"
        );
        assert_eq!(text.trim().lines().count(), 1, "{what}: one-line reason");
    }

    let not_json = b"{\"action\": \"created\", \"data\": {\"issue\": {\"id\": \"4242\"";
    let (got, text) = server
        .send(Webhook::new("issue", not_json).signed(SECRET))
        .await;
    assert_eq!(
        (got, text.contains("not valid JSON")),
        (400, true),
        "{text}"
    );

    let wrong_shape = br#"{"action":"created","data":{"issue":{"title":"no id"}}}"#;
    let (got, text) = server
        .send(Webhook::new("issue", wrong_shape).signed(SECRET))
        .await;
    assert_eq!(got, 400, "{text}");
    assert!(text.contains("missing `data.issue.id`"), "{text}");

    let no_data = br#"{"action":"created"}"#;
    assert_eq!(
        server
            .send(Webhook::new("error", no_data).signed(SECRET))
            .await
            .0,
        400
    );

    let mut huge = issue_body("created", "4242", "unresolved", "2026-01-02T00:00:00Z");
    huge.truncate(huge.len() - 1);
    huge.extend_from_slice(format!(",\"pad\":\"{}\"}}", "x".repeat(100_000)).as_bytes());
    let (got, text) = server
        .send(Webhook::new("issue", &huge).signed(SECRET))
        .await;
    assert_eq!(got, 413, "{text}");
    assert!(text.contains("65536 byte limit"), "{text}");

    assert_nothing_indexed(&server, "4242").await;
    let (_, metrics) = server.get(server.mcp, "/metrics").await;
    for reason in [
        "bad_signature",
        "missing_signature",
        "stale_timestamp",
        "not_json",
        "wrong_shape",
        "body_too_large",
    ] {
        assert!(
            metrics.contains(&format!("reason=\"{reason}\"")),
            "metrics lack {reason}:\n{metrics}"
        );
    }
    assert!(
        !server.logs().contains(SECRET),
        "the secret leaked into the logs"
    );
}

#[tokio::test]
async fn without_a_secret_every_webhook_gets_401() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_with(dir.path(), &[]).await;
    let body = issue_body("created", "7", "unresolved", "2026-01-02T00:00:00Z");
    let (status, text) = server.post("issue", &body, "anything").await;
    assert_eq!((status, text.trim()), (401, "no webhook secret configured"));
    assert!(server.logs().contains("no webhook secret configured"));
}

#[tokio::test]
async fn rotation_accepts_old_and_new_secret_then_only_the_new_one() {
    let dir = tempfile::tempdir().unwrap();
    let both = Server::start_with(dir.path(), &["--webhook-secret", "old-secret,new-secret"]).await;
    let a = issue_body("created", "501", "unresolved", "2026-01-02T00:00:00Z");
    let b = issue_body("created", "502", "unresolved", "2026-01-02T00:00:00Z");
    assert_eq!(both.post("issue", &a, "old-secret").await.0, 200);
    assert_eq!(both.post("issue", &b, "new-secret").await.0, 200);
    wait_for(dir.path(), "kind:issue project:test-project", 2).await;
    assert!(
        !both.logs().contains("old-secret"),
        "secrets never reach logs"
    );
    both.stop();

    let rotated = Server::start_with(dir.path(), &["--webhook-secret", "new-secret"]).await;
    let c = issue_body("created", "503", "unresolved", "2026-01-02T00:00:00Z");
    let (status, text) = rotated.post("issue", &c, "old-secret").await;
    assert_eq!(status, 401, "a removed secret is refused: {text}");
    assert_eq!(rotated.post("issue", &c, "new-secret").await.0, 200);
    // Sentry-App-Signature carries the same HMAC on some requests.
    let d = issue_body("created", "504", "unresolved", "2026-01-02T00:00:00Z");
    let hook = Webhook::new("issue", &d).header("sentry-app-signature", &sign("new-secret", &d));
    assert_eq!(rotated.send(hook).await.0, 200);
    wait_for(dir.path(), "kind:issue project:test-project", 4).await;
}

#[tokio::test]
async fn duplicate_deliveries_make_one_document() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path()).await;
    let body = fixture("error.created.json");
    let hook = Webhook::new("error", &body).signed(SECRET);
    assert_eq!(server.send(hook.clone()).await, (200, "accepted\n".into()));
    let (status, text) = server.send(hook.clone()).await;
    assert_eq!(status, 200);
    assert!(text.contains("duplicate Request-ID"), "{text}");
    // Sentry's retry: same body, new Request-ID and timestamp.
    let retry = hook.header("request-id", &request_id());
    assert_eq!(server.send(retry).await.0, 200);
    let events = wait_for(
        dir.path(),
        "kind:event id:bb78c1407cea4519aa397afc059c793d",
        1,
    )
    .await;
    assert_eq!(events.len(), 1);
    let issues = search(dir.path(), "kind:issue id:1170820242");
    assert_eq!(issues.len(), 1, "the event's issue exists once");
    let (_, metrics) = server.get(server.webhook, "/metrics").await;
    assert!(
        metrics.contains("sentry_mcp_webhooks_duplicate_total 1"),
        "{metrics}"
    );
}

#[tokio::test]
async fn an_older_issue_webhook_never_overwrites_newer_state() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path()).await;
    let resolved = issue_body("resolved", "8001", "resolved", "2026-03-01T10:00:00Z");
    let created = issue_body("created", "8001", "unresolved", "2026-03-01T10:00:00Z");
    let older = issue_body("unresolved", "8001", "unresolved", "2026-02-01T10:00:00Z");
    assert_eq!(server.post("issue", &resolved, SECRET).await.0, 200);
    assert_eq!(server.post("issue", &created, SECRET).await.0, 200);
    assert_eq!(server.post("issue", &older, SECRET).await.0, 200);
    // Same sentinel trick: once a later delivery is visible, the earlier ones were applied.
    let sentinel = issue_body("created", "8002", "unresolved", "2026-03-01T10:00:00Z");
    assert_eq!(server.post("issue", &sentinel, SECRET).await.0, 200);
    wait_for(dir.path(), "kind:issue id:8002", 1).await;
    let issue = &search(dir.path(), "kind:issue id:8001")[0];
    assert_eq!(issue["status"], "resolved");
    assert_eq!(search(dir.path(), "is:resolved id:8001").len(), 1);
    // A genuinely newer state does win.
    let reopened = issue_body("unresolved", "8001", "unresolved", "2026-03-02T10:00:00Z");
    assert_eq!(server.post("issue", &reopened, SECRET).await.0, 200);
    wait_for(dir.path(), "is:unresolved id:8001", 1).await;
}

#[tokio::test]
async fn probes_answer_on_both_listeners() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path()).await;
    for addr in [server.webhook, server.mcp] {
        assert_eq!(server.get(addr, "/health").await, (200, "ok\n".into()));
        assert_eq!(server.get(addr, "/ready").await.0, 200);
        let (status, metrics) = server.get(addr, "/metrics").await;
        assert_eq!(status, 200);
        assert!(
            metrics.contains("sentry_mcp_index_commit_seconds"),
            "{metrics}"
        );
    }
    let body = issue_body("created", "1", "unresolved", "2026-01-02T00:00:00Z");
    server.post("issue", &body, SECRET).await;
    wait_for(dir.path(), "id:1", 1).await;
    let (_, metrics) = server.get(server.mcp, "/metrics").await;
    assert!(
        metrics.contains("sentry_mcp_webhooks_accepted_total{resource=\"issue\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("sentry_mcp_journal_fsync_seconds_count"),
        "{metrics}"
    );
    assert!(
        metrics.contains("sentry_mcp_ack_to_searchable_seconds_count"),
        "{metrics}"
    );
}
