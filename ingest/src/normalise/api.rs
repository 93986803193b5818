//! `sentry_api`: what the Sentry REST API answered (a mutation's result, a read fall-back, a
//! reconcile page), journaled by the server like a webhook so it obeys the same rules.
//!
//! `data` is `{"organization": slug, "project"?: slug, "issue"?: {...}, "issues"?: [...],
//! "event"?: {...}}`. Issues have the webhook's issue shape already; REST events differ from
//! webhook events (`eventID`, `groupID`, `dateCreated`, `entries`, `release` as an object),
//! so they are adapted to the webhook shape first and then read by the same code.

use sentry_mcp_index::{Change, IndexDoc};
use serde_json::{Map, Value, json};

use super::value::{at, string};
use super::{Context, event, issue};

pub fn normalise(ctx: &Context, data: &Value) -> Option<Vec<Change>> {
    let org = at(data, &["organization"]);
    let mut changes = Vec::new();
    let mut recognised = false;
    if let Some(state) = data.get("issue").filter(|v| v.is_object()) {
        changes.extend(issue_state(ctx, state, org.as_deref())?);
        recognised = true;
    }
    if let Some(list) = data.get("issues").and_then(Value::as_array) {
        // A page may hold an issue without an id (a broken proxy): skip it, keep the rest.
        for state in list {
            changes.extend(
                issue_state(ctx, state, org.as_deref())
                    .into_iter()
                    .flatten(),
            );
        }
        recognised = true;
    }
    if let Some(rest) = data.get("event").filter(|v| v.is_object()) {
        let project = at(data, &["project"]);
        let adapted = webhook_event(rest, project.as_deref())?;
        let event_changes = event::normalise(ctx, &json!({ "event": adapted }), "event")?;
        // Only the event: its issue observation would count it once more, while the issue
        // state Sentry answers with already includes it in `count`.
        for change in event_changes {
            if let Change::Put(mut doc) = change {
                fill_org(&mut doc, org.as_deref());
                doc.fetched = true;
                changes.push(Change::Put(doc));
            }
        }
        recognised = true;
    }
    recognised.then_some(changes)
}

/// One issue as the API returned it: a full issue state, as from an `issue.*` webhook.
/// Its version is (last seen, rank 1, fetch time), so it wins over every webhook sent
/// before the fetch and loses to every later one.
fn issue_state(ctx: &Context, state: &Value, org: Option<&str>) -> Option<Vec<Change>> {
    let mut changes = issue::normalise(ctx, &json!({ "issue": lifetime(state) }))?;
    for change in &mut changes {
        if let Change::Put(doc) = change {
            fill_org(doc, org);
        }
    }
    Some(changes)
}

/// The issue with its all-time figures. An issue list asked for a time range (reconcile)
/// counts `count`, `userCount` and `firstSeen` within that range only; `lifetime` holds
/// what a webhook and the issue page say.
fn lifetime(state: &Value) -> Value {
    let mut state = state.clone();
    let Some(all_time) = state.get("lifetime").filter(|l| l.is_object()).cloned() else {
        return state;
    };
    for key in ["count", "userCount", "firstSeen", "lastSeen"] {
        if let Some(v) = all_time.get(key).filter(|v| !v.is_null()) {
            state[key] = v.clone();
        }
    }
    state
}

/// API issues and events often carry no URL naming their organization (self-hosted,
/// issue lists): the organization the server asked is the answer.
fn fill_org(doc: &mut IndexDoc, org: Option<&str>) {
    if doc.organization.is_none() {
        doc.organization = org.map(str::to_owned);
    }
}

/// A REST event (`GET .../events/{id}/`, `.../events/latest/`, an item of
/// `.../issues/{id}/events/`) in the shape of a webhook's `data.event`.
fn webhook_event(rest: &Value, project: Option<&str>) -> Option<Value> {
    let event_id = string(rest.get("eventID")).or_else(|| string(rest.get("id")))?;
    let mut out = Map::new();
    out.insert("event_id".into(), event_id.into());
    let copy = |out: &mut Map<String, Value>, to: &str, value: Option<&Value>| {
        if let Some(v) = value.filter(|v| !v.is_null()) {
            out.insert(to.into(), v.clone());
        }
    };
    copy(&mut out, "issue_id", rest.get("groupID"));
    copy(
        &mut out,
        "datetime",
        rest.get("dateCreated").or_else(|| rest.get("dateReceived")),
    );
    for key in [
        "title",
        "culprit",
        "platform",
        "tags",
        "contexts",
        "user",
        "sdk",
        "metadata",
        "location",
        "level",
        "environment",
    ] {
        copy(&mut out, key, rest.get(key));
    }
    copy(&mut out, "fingerprint", rest.get("fingerprints"));
    let release = at(rest, &["release", "version"]).or_else(|| at(rest, &["release"]));
    copy(&mut out, "release", release.map(Value::from).as_ref());
    let project = project
        .map(str::to_owned)
        .or_else(|| at(rest, &["projectSlug"]))
        .or_else(|| at(rest, &["project", "slug"]));
    copy(&mut out, "project_slug", project.map(Value::from).as_ref());
    copy(&mut out, "project", rest.get("projectID"));
    let message = at(rest, &["message"]).filter(|m| !m.is_empty());
    copy(&mut out, "message", message.map(Value::from).as_ref());
    for entry in rest
        .get("entries")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let data = entry.get("data");
        match at(entry, &["type"]).as_deref() {
            Some("exception") => copy(&mut out, "exception", data),
            Some("threads") => copy(&mut out, "threads", data),
            Some("stacktrace") => copy(&mut out, "stacktrace", data),
            Some("request") => copy(&mut out, "request", data),
            Some("message") if !out.contains_key("message") => {
                let text = data.and_then(|d| at(d, &["formatted"]).or_else(|| at(d, &["message"])));
                copy(&mut out, "message", text.map(Value::from).as_ref());
            }
            _ => {}
        }
    }
    Some(Value::Object(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::delivery::Delivery;
    use sentry_mcp_index::DocKind;

    fn run(action: &str, data: Value) -> Vec<Change> {
        let delivery = Delivery {
            resource: "sentry_api".into(),
            request_id: None,
            sent_at_ms: Some(1_700_000_000_000),
            received_at: chrono::Utc::now(),
        };
        let body = json!({"action": action, "data": data}).to_string();
        crate::normalise::normalise(&delivery, body.as_bytes())
            .unwrap()
            .changes
    }

    fn puts(changes: &[Change], kind: DocKind) -> Vec<&IndexDoc> {
        changes
            .iter()
            .filter_map(|c| match c {
                Change::Put(d) if d.kind == kind => Some(d),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn an_updated_issue_is_a_full_state_newer_than_webhooks_sent_before() {
        let changes = run(
            "updated",
            json!({"organization": "acme", "issue": {
                "id": "42", "shortId": "WEB-1", "title": "boom", "status": "resolved",
                "lastSeen": "2023-11-14T20:00:00Z", "assignedTo": null,
                "project": {"slug": "web"}, "count": "7", "userCount": 2
            }}),
        );
        let issue = puts(&changes, DocKind::Issue)[0];
        assert_eq!(issue.id, "42");
        assert_eq!(issue.status.as_deref(), Some("resolved"));
        assert_eq!(issue.organization.as_deref(), Some("acme"));
        assert_eq!(issue.project.as_deref(), Some("web"));
        assert_eq!(issue.times_seen, Some(7));
        assert_eq!(issue.source, "sentry_api.updated");
        assert_eq!(issue.version.action_rank, 1);
        assert_eq!(issue.version.sent_at_ms, 1_700_000_000_000);
        assert!(
            issue.cleared.contains(&"assigned_to"),
            "{:?}",
            issue.cleared
        );
    }

    #[test]
    fn a_windowed_issue_list_counts_with_its_lifetime_figures() {
        let changes = run(
            "reconciled",
            json!({"organization": "acme", "issues": [{
                "id": "5", "title": "t", "status": "unresolved",
                "count": "3", "userCount": 1, "firstSeen": "2026-11-30T10:00:00Z",
                "lastSeen": "2026-11-30T11:00:00Z",
                "lifetime": {"count": "4000", "userCount": 250,
                             "firstSeen": "2026-01-01T00:00:00Z", "lastSeen": null}
            }]}),
        );
        let issue = puts(&changes, DocKind::Issue)[0];
        assert_eq!(
            (issue.times_seen, issue.user_count),
            (Some(4000), Some(250))
        );
        assert_eq!(
            issue.first_seen.map(|t| t.to_rfc3339()).as_deref(),
            Some("2026-01-01T00:00:00+00:00")
        );
        assert_eq!(
            issue.last_seen.map(|t| t.to_rfc3339()).as_deref(),
            Some("2026-11-30T11:00:00+00:00")
        );
    }

    #[test]
    fn a_reconcile_page_is_one_state_per_issue_and_skips_broken_items() {
        let changes = run(
            "reconciled",
            json!({"organization": "acme", "issues": [
                {"id": "1", "title": "a", "status": "unresolved"},
                {"title": "no id"},
                {"id": 2, "title": "b", "status": "ignored",
                 "permalink": "https://other.sentry.io/issues/2/"}
            ]}),
        );
        let issues = puts(&changes, DocKind::Issue);
        assert_eq!(issues.len(), 2);
        assert_eq!(issues[1].id, "2");
        // The issue's own URL beats the organization the page was asked for.
        assert_eq!(issues[1].organization.as_deref(), Some("other"));
        assert_eq!(issues[0].organization.as_deref(), Some("acme"));
        assert!(run("reconciled", json!({"organization": "acme", "issues": []})).is_empty());
    }

    #[test]
    fn a_rest_event_reads_like_a_webhook_event() {
        let changes = run(
            "fetched",
            json!({"organization": "acme", "project": "web", "event": {
                "id": "9fac2ceed9344f2bbfdd1fdacb0ed9b1",
                "eventID": "9fac2ceed9344f2bbfdd1fdacb0ed9b1",
                "groupID": "1341191803",
                "dateCreated": "2023-11-14T20:00:00Z",
                "title": "ZeroDivisionError: division by zero",
                "message": "",
                "platform": "python",
                "release": {"version": "web@1.2.3"},
                "tags": [{"key": "environment", "value": "prod"}, {"key": "level", "value": "error"}],
                "entries": [
                    {"type": "exception", "data": {"values": [{
                        "type": "ZeroDivisionError", "value": "division by zero",
                        "stacktrace": {"frames": [{"filename": "app.py", "function": "divide", "inApp": true}]}
                    }]}},
                    {"type": "message", "data": {"formatted": "dividing"}}
                ]
            }}),
        );
        let event = puts(&changes, DocKind::Event)[0];
        assert_eq!(event.id, "9fac2ceed9344f2bbfdd1fdacb0ed9b1");
        assert_eq!(event.issue_id.as_deref(), Some("1341191803"));
        assert_eq!(event.project.as_deref(), Some("web"));
        assert_eq!(event.organization.as_deref(), Some("acme"));
        assert_eq!(event.release.as_deref(), Some("web@1.2.3"));
        assert_eq!(event.environment.as_deref(), Some("prod"));
        assert_eq!(event.level.as_deref(), Some("error"));
        assert_eq!(event.message.as_deref(), Some("dividing"));
        assert_eq!(event.exception_types, ["ZeroDivisionError"]);
        assert_eq!(event.stack_functions, ["divide"]);
        assert_eq!(event.timestamp.to_rfc3339(), "2023-11-14T20:00:00+00:00");
        // No issue observation: it would count the event a second time.
        assert_eq!(changes.len(), 1, "{changes:?}");
    }

    #[test]
    fn nothing_recognisable_is_an_error_not_an_empty_success() {
        let delivery = Delivery {
            resource: "sentry_api".into(),
            request_id: None,
            sent_at_ms: None,
            received_at: chrono::Utc::now(),
        };
        let body = json!({"action": "fetched", "data": {"organization": "acme"}}).to_string();
        assert!(crate::normalise::normalise(&delivery, body.as_bytes()).is_err());
        let body = json!({"action": "fetched", "data": {"event": {"title": "no id"}}}).to_string();
        assert!(crate::normalise::normalise(&delivery, body.as_bytes()).is_err());
    }
}
