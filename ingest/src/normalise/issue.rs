//! `issue.created|resolved|assigned|ignored|archived|unresolved`: the issue's full state.

use sentry_mcp_index::{Assignee, AssigneeKind, Change, DocKind, IndexDoc, RawJson, StateVersion};
use serde_json::Value;

use super::Context;
use super::value::{at, count, get, org_from_urls, string, time};

pub fn normalise(ctx: &Context, data: &Value) -> Option<Vec<Change>> {
    let issue = data.get("issue")?;
    let id = string(issue.get("id"))?;
    let first_seen = time(issue.get("firstSeen"));
    let last_seen = time(issue.get("lastSeen"));
    let sent_at_ms = ctx.delivery.sent_at_ms();
    let timestamp = last_seen.or(first_seen).unwrap_or(ctx.delivery.received_at);
    let mut doc = IndexDoc::new(DocKind::Issue, id.clone(), timestamp);
    doc.issue_id = Some(id);
    doc.short_id = at(issue, &["shortId"]);
    doc.title = at(issue, &["title"]).unwrap_or_default();
    doc.culprit = at(issue, &["culprit"]);
    doc.level = at(issue, &["level"]);
    doc.status = at(issue, &["status"]).or_else(|| status_for_action(ctx.action));
    doc.substatus = at(issue, &["substatus"]);
    doc.priority = at(issue, &["priority"]);
    doc.platform = at(issue, &["platform"]);
    doc.project = at(issue, &["project", "slug"]).or_else(|| at(issue, &["project", "id"]));
    doc.organization = org_from_urls(issue).or_else(|| org_from_urls(data));
    doc.first_seen = first_seen;
    doc.last_seen = last_seen;
    doc.times_seen = count(issue.get("count"));
    doc.user_count = count(issue.get("userCount"));
    doc.assigned_to = assignee(data.get("assignee"), issue.get("assignedTo"));
    doc.assignee = doc
        .assigned_to
        .as_ref()
        .and_then(Assignee::display)
        .or_else(|| string(data.get("assignee")))
        .or_else(|| string(issue.get("assignedTo")));
    doc.cleared = cleared_fields(data, issue);
    if let Some(kind) = at(issue, &["metadata", "type"]) {
        doc.exception_types.push(kind);
    }
    if let Some(value) = at(issue, &["metadata", "value"]) {
        doc.exception_values.push(value);
    }
    doc.stack_files.extend(at(issue, &["metadata", "filename"]));
    doc.stack_functions
        .extend(at(issue, &["metadata", "function"]));
    doc.url = at(issue, &["permalink"])
        .or_else(|| at(issue, &["web_url"]))
        .or_else(|| at(data, &["web_url"]));
    doc.source = ctx.source();
    doc.version = StateVersion {
        // Whole seconds: Sentry's API answers `lastSeen` in seconds where webhooks carry
        // microseconds, and the same state must compare equal from both.
        state_at_ms: timestamp.timestamp() * 1000,
        // `created` is the first state of any issue: it never overrides a later action.
        action_rank: if ctx.action == "created" { 0 } else { 1 },
        sent_at_ms,
    };
    doc.raw = RawJson::of(issue);
    if let Some(resolution) = get(data, &["resolution_type"]).and_then(Value::as_str) {
        doc.tags.push(("resolution_type".into(), resolution.into()));
    }
    Some(vec![Change::Put(doc)])
}

fn status_for_action(action: &str) -> Option<String> {
    Some(
        match action {
            "resolved" => "resolved",
            "ignored" | "archived" => "ignored",
            "created" | "unresolved" | "assigned" => "unresolved",
            _ => return None,
        }
        .into(),
    )
}

/// The assignee of `issue.assigned` (`data.assignee`, the newest word) merged with the
/// issue's `assignedTo`: for a team, `data.assignee.name` is its display name while
/// `assignedTo.name` is its slug.
fn assignee(announced: Option<&Value>, assigned_to: Option<&Value>) -> Option<Assignee> {
    let announced = announced.and_then(parse_assignee);
    let assigned_to = assigned_to.and_then(parse_assignee);
    match (announced, assigned_to) {
        (Some(mut new), Some(issue)) if new.kind == issue.kind && new.id == issue.id => {
            if new.kind == AssigneeKind::Team {
                new.slug = issue.name.clone().or(new.slug);
            }
            new.email = new.email.or(issue.email);
            new.username = new.username.or(issue.username);
            new.name = new.name.or(issue.name);
            Some(new)
        }
        (Some(new), _) => Some(new),
        (None, Some(mut issue)) => {
            if issue.kind == AssigneeKind::Team {
                issue.slug = issue.name.clone();
            }
            Some(issue)
        }
        (None, None) => None,
    }
}

/// `{type, id, name, email, username}`; a bare string is taken as a user's email or name.
fn parse_assignee(v: &Value) -> Option<Assignee> {
    let mut assignee = Assignee {
        kind: AssigneeKind::User,
        id: None,
        name: None,
        email: None,
        username: None,
        slug: None,
    };
    match v {
        Value::String(s) if s.contains('@') => assignee.email = Some(s.clone()),
        Value::String(s) if !s.is_empty() => assignee.name = Some(s.clone()),
        Value::Object(_) => {
            if at(v, &["type"]).as_deref() == Some("team") {
                assignee.kind = AssigneeKind::Team;
            }
            assignee.id = at(v, &["id"]);
            assignee.name = at(v, &["name"]);
            assignee.email = at(v, &["email"]);
            assignee.username = at(v, &["username"]);
            assignee.slug = at(v, &["slug"]);
        }
        _ => return None,
    }
    let named = assignee.id.is_some()
        || assignee.name.is_some()
        || assignee.email.is_some()
        || assignee.username.is_some();
    named.then_some(assignee)
}

/// Fields this full issue state sends as empty (`null` or `""`), which must clear what an
/// older state stored. A field the payload leaves out says nothing.
fn cleared_fields(data: &Value, issue: &Value) -> Vec<&'static str> {
    let empty = |v: Option<&Value>| matches!(v, Some(Value::Null)) || v == Some(&Value::from(""));
    let mut cleared = Vec::new();
    if empty(issue.get("assignedTo")) && data.get("assignee").is_none_or(Value::is_null) {
        cleared.extend(["assignee", "assigned_to"]);
    }
    for (key, field) in [("culprit", "culprit"), ("substatus", "substatus")] {
        if empty(issue.get(key)) {
            cleared.push(field);
        }
    }
    cleared
}
