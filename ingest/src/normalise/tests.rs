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
