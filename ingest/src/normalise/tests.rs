//! Every webhook fixture normalises into the documents a user would search for.

use std::path::PathBuf;

use chrono::Utc;
use sentry_mcp_index::{Change, CommentChange, DocKind, IndexDoc};

use super::*;

fn fixtures_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures/sentry-webhooks")
}

fn delivery(resource: &str) -> Delivery {
    Delivery {
        resource: resource.into(),
        request_id: Some("r1".into()),
        sent_at_ms: Some(1_700_000_000_000),
        received_at: Utc::now(),
    }
}

fn load(name: &str) -> Outcome {
    let body = std::fs::read(fixtures_dir().join(name)).unwrap();
    let resource = name.rsplit('/').next().unwrap().split('.').next().unwrap();
    normalise(&delivery(resource), &body).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn put(change: &Change) -> &IndexDoc {
    match change {
        Change::Put(d) | Change::Observe(d) => d,
        other => panic!("expected a document, got {other:?}"),
    }
}

#[test]
fn issue_created_fixture() {
    let out = load("issue.created.json");
    assert!(out.known);
    let doc = put(&out.changes[0]);
    assert_eq!((doc.kind, doc.id.as_str()), (DocKind::Issue, "1170820242"));
    assert_eq!(doc.short_id.as_deref(), Some("FRONT-END-9"));
    assert_eq!(doc.project.as_deref(), Some("front-end"));
    assert_eq!(doc.status.as_deref(), Some("unresolved"));
    assert_eq!(doc.substatus.as_deref(), Some("escalating"));
    assert_eq!(doc.exception_types, vec!["ReferenceError"]);
    assert_eq!(doc.times_seen, Some(1));
    assert_eq!(doc.version.action_rank, 0);
}

#[test]
fn error_created_fixture_is_an_event_and_an_issue_observation() {
    let out = load("error.created.json");
    let event = put(&out.changes[0]);
    assert_eq!(
        (event.kind, event.id.as_str()),
        (DocKind::Event, "bb78c1407cea4519aa397afc059c793d")
    );
    assert_eq!(event.issue_id.as_deref(), Some("1170820242"));
    assert_eq!(event.project.as_deref(), Some("front-end"));
    assert_eq!(event.organization.as_deref(), Some("test-org"));
    assert_eq!(event.stack_files, vec!["/runner"]);
    assert!(
        event
            .tags
            .contains(&("browser.name".into(), "Chrome".into()))
    );
    let Change::Observe(issue) = &out.changes[1] else {
        panic!("issue observation expected")
    };
    assert_eq!(
        (issue.kind, issue.id.as_str()),
        (DocKind::Issue, "1170820242")
    );
}

#[test]
fn event_alert_fixture_fires_an_alert() {
    let out = load("event_alert.triggered.json");
    assert_eq!(out.changes.len(), 3);
    let alert = put(&out.changes[2]);
    assert_eq!(alert.kind, DocKind::Alert);
    assert_eq!(
        alert.alert_rule.as_deref(),
        Some("Very Important Alert Rule!")
    );
    assert_eq!(alert.alert_trigger.as_deref(), Some("triggered"));
}

#[test]
fn metric_alert_fixture() {
    let doc = put(&load("metric_alert.resolved.json").changes[0]).clone();
    assert_eq!((doc.kind, doc.id.as_str()), (DocKind::Alert, "4"));
    assert_eq!(doc.alert_rule.as_deref(), Some("Too many errors"));
    assert_eq!(doc.status.as_deref(), Some("resolved"));
    assert_eq!(doc.project.as_deref(), Some("bar"));
    assert_eq!(doc.organization.as_deref(), Some("baz"));
}

#[test]
fn comments_attach_to_their_issue() {
    let out = load("example-app-mocks/comment.deleted.json");
    let Change::Comment {
        issue_id, change, ..
    } = &out.changes[0]
    else {
        panic!()
    };
    assert_eq!(issue_id, "123");
    assert_eq!(change, &CommentChange::Delete { id: "456".into() });
}

#[test]
fn assigned_mock_carries_assignee_and_ignored_maps_status() {
    let doc = put(&load("example-app-mocks/issue.assigned.json").changes[0]).clone();
    assert_eq!(doc.assignee.as_deref(), Some("person@example.com"));
    let doc = put(&load("example-app-mocks/issue.ignored.json").changes[0]).clone();
    assert_eq!(doc.status.as_deref(), Some("ignored"));
}

#[test]
fn every_fixture_normalises() {
    let mut seen = 0;
    for sub in ["", "example-app-mocks/"] {
        for entry in std::fs::read_dir(fixtures_dir().join(sub)).unwrap() {
            let name = entry.unwrap().file_name().into_string().unwrap();
            if !name.ends_with(".json") {
                continue;
            }
            let out = load(&format!("{sub}{name}"));
            assert!(!out.changes.is_empty(), "{name} produced nothing");
            let resource = name.split('.').next().unwrap();
            let expect_known = !matches!(resource, "seer" | "preprod_artifact");
            assert_eq!(out.known, expect_known, "{name}");
            seen += 1;
        }
    }
    assert!(seen >= 30, "only {seen} fixtures found");
}

#[test]
fn wrong_shapes_are_refused_with_a_reason() {
    let d = delivery("issue");
    assert!(matches!(
        normalise(&d, b"not json"),
        Err(NormaliseError::NotJson(_))
    ));
    assert!(matches!(
        normalise(&d, b"[1,2]"),
        Err(NormaliseError::Missing { .. })
    ));
    assert!(matches!(
        normalise(&d, br#"{"data":{}}"#),
        Err(NormaliseError::Missing {
            field: "`action`",
            ..
        })
    ));
    let err = normalise(
        &d,
        br#"{"action":"created","data":{"issue":{"title":"x"}}}"#,
    )
    .unwrap_err();
    assert_eq!(err.to_string(), "issue webhook is missing `data.issue.id`");
    let unknown = normalise(&delivery("brand_new"), br#"{"action":"x","data":{}}"#).unwrap();
    assert!(!unknown.known);
}

// Real deliveries of other Sentry generations (tests/fixtures/sentry-webhooks).

fn repo_fixture(name: &str) -> serde_json::Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/sentry-webhooks")
        .join(name);
    let body = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_slice(&body).unwrap()
}

fn normalise_json(resource: &str, json: &serde_json::Value) -> Outcome {
    normalise(&delivery(resource), &serde_json::to_vec(json).unwrap()).unwrap()
}

#[test]
fn events_without_issue_id_take_it_from_their_urls() {
    let json = repo_fixture("event_alert.triggered.2020-go-exception.json");
    let out = normalise_json("event_alert", &json);
    let event = put(&out.changes[0]);
    assert_eq!(event.issue_id.as_deref(), Some("1637164584"));
    let Change::Observe(issue) = &out.changes[1] else {
        panic!("the event observes its issue: {:?}", out.changes)
    };
    assert_eq!(issue.id, "1637164584");
    assert_eq!(put(&out.changes[2]).issue_id.as_deref(), Some("1637164584"));

    // Newer API URLs name the organization; a web URL alone is enough too.
    let mut newer = json.clone();
    newer["data"]["event"]["issue_url"] =
        "https://sentry.io/api/0/organizations/acme/issues/77/".into();
    let out = normalise_json("event_alert", &newer);
    assert_eq!(put(&out.changes[0]).issue_id.as_deref(), Some("77"));
    let mut web_only = json;
    web_only["data"]["event"]
        .as_object_mut()
        .unwrap()
        .remove("issue_url");
    let out = normalise_json("event_alert", &web_only);
    assert_eq!(put(&out.changes[0]).issue_id.as_deref(), Some("1637164584"));
}

#[test]
fn thread_and_top_level_stacks_are_indexed() {
    let json = repo_fixture("event_alert.triggered.2020-go-message.json");
    let event = put(&normalise_json("event_alert", &json).changes[0]).clone();
    assert_eq!(event.stack_files, ["trigger-message.go", "hub.go"]);
    assert_eq!(event.stack_functions, ["main", "(*Hub).CaptureMessage"]);
    assert_eq!(
        event.stack_modules,
        ["main", "github.com/getsentry/sentry-go"]
    );

    // The same frames as the event's own `stacktrace` (older SDKs' message events).
    let mut top = json;
    let e = top["data"]["event"].as_object_mut().unwrap();
    let threads = e.remove("threads").unwrap();
    e.insert(
        "stacktrace".into(),
        threads["values"][0]["stacktrace"].clone(),
    );
    let out = normalise_json("event_alert", &top);
    assert_eq!(put(&out.changes[0]).stack_files, event.stack_files);
}

#[test]
fn an_event_without_level_takes_its_level_tag() {
    let mut json = repo_fixture("event_alert.triggered.2020-go-message.json");
    json["data"]["event"]
        .as_object_mut()
        .unwrap()
        .remove("level");
    let out = normalise_json("event_alert", &json);
    assert_eq!(put(&out.changes[0]).level.as_deref(), Some("info"));
    assert_eq!(put(&out.changes[1]).level.as_deref(), Some("info"));
}

#[test]
fn team_and_user_assignees_keep_who_they_are() {
    use sentry_mcp_index::AssigneeKind;
    let out = normalise_json("issue", &repo_fixture("issue.assigned.2020-team.json"));
    let doc = put(&out.changes[0]);
    let team = doc.assigned_to.as_ref().expect("structured assignee");
    assert_eq!(team.kind, AssigneeKind::Team);
    assert_eq!(team.id.as_deref(), Some("473371"));
    assert_eq!(team.name.as_deref(), Some("Hypro999"), "display name");
    assert_eq!(team.slug.as_deref(), Some("lone-wolf"));
    assert_eq!(doc.assignee.as_deref(), Some("#lone-wolf"));

    let out = normalise_json("issue", &repo_fixture("issue.assigned.2020-user.json"));
    let doc = put(&out.changes[0]);
    let user = doc.assigned_to.as_ref().unwrap();
    assert_eq!(user.kind, AssigneeKind::User);
    assert_eq!(user.id.as_deref(), Some("662437"));
    assert_eq!(user.email.as_deref(), Some("hdrive1999@gmail.com"));
    assert_eq!(user.name.as_deref(), Some("Hemanth V. Alluri"));
    assert_eq!(doc.assignee.as_deref(), Some("hdrive1999@gmail.com"));
}

#[test]
fn a_null_assignee_is_said_to_be_cleared_and_a_missing_one_is_not() {
    let out = normalise_json("issue", &repo_fixture("issue.resolved.2020.json"));
    let doc = put(&out.changes[0]);
    assert_eq!(doc.assignee, None);
    assert!(doc.cleared.contains(&"assignee") && doc.cleared.contains(&"assigned_to"));
    let mut absent = repo_fixture("issue.resolved.2020.json");
    absent["data"]["issue"]
        .as_object_mut()
        .unwrap()
        .remove("assignedTo");
    let doc = put(&normalise_json("issue", &absent).changes[0]).clone();
    assert!(!doc.cleared.contains(&"assignee"), "{:?}", doc.cleared);
}

#[test]
fn seer_texts_of_both_generations_are_the_record_message() {
    for (name, expected) in [
        (
            "seer.root_cause_completed.2025-docs.json",
            &[
                "because `getUser` can return `null`",
                "omits a null check",
                "owner/repo",
            ][..],
        ),
        (
            "seer.solution_completed.2025-docs.json",
            &[
                "Guard against a missing user",
                "Add a null check",
                "Emit a warning",
            ],
        ),
        (
            "seer.coding_completed.2025-docs.json",
            &["owner/repo: notifications.js"],
        ),
    ] {
        let out = normalise_json("seer", &repo_fixture(name));
        let record = put(&out.changes[0]);
        let message = record.message.as_deref().unwrap_or_default();
        for text in expected {
            assert!(message.contains(text), "{name}: {message:?} lacks {text:?}");
        }
        assert_eq!(record.issue_id.as_deref(), Some("1170820242"));
    }
    let old = put(&load("seer.coding_completed.json").changes[0]).clone();
    let message = old.message.unwrap_or_default();
    assert!(
        message.contains("fix: Initialize undefined variable"),
        "{message}"
    );
    assert!(
        message.contains("initializes the 'blooopy' variable"),
        "{message}"
    );
}

#[test]
fn an_unknown_resource_with_an_issue_also_updates_the_issue() {
    let mut json = repo_fixture("issue.resolved.2020.json");
    json["action"] = "resolved".into();
    let out = normalise_json("activity_alert", &json);
    assert!(!out.known, "still only recorded");
    assert_eq!(out.changes.len(), 2, "{:?}", out.changes);
    assert_eq!(put(&out.changes[0]).kind, DocKind::Record);
    let issue = put(&out.changes[1]);
    assert_eq!(
        (issue.kind, issue.id.as_str()),
        (DocKind::Issue, "1638821441")
    );
    assert_eq!(issue.status.as_deref(), Some("resolved"));
    assert_eq!(issue.source, "activity_alert.resolved");
}

#[test]
fn unknown_records_are_keyed_by_content_not_request_id() {
    let json = repo_fixture("issue.resolved.2020.json");
    let body = serde_json::to_vec(&json).unwrap();
    let first = normalise(&delivery("activity_alert"), &body).unwrap();
    let mut retry = delivery("activity_alert");
    retry.request_id = Some("r2".into());
    retry.received_at += chrono::Duration::seconds(30);
    let second = normalise(&retry, &body).unwrap();
    assert_eq!(first.changes[0].key(), second.changes[0].key());
    let mut other = json;
    other["data"]["issue"]["status"] = "unresolved".into();
    let third = normalise_json("activity_alert", &other);
    assert_ne!(first.changes[0].key(), third.changes[0].key());
}
