//! `issue.created|resolved|assigned|ignored|archived|unresolved`: the issue's full state.

use sentry_mcp_index::{Change, DocKind, IndexDoc, StateVersion};
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
    // `issue.assigned` carries the new assignee beside the issue; the issue copy may lag.
    doc.assignee = assignee(data.get("assignee")).or_else(|| assignee(issue.get("assignedTo")));
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
        state_at_ms: timestamp.timestamp_millis(),
        // `created` is the first state of any issue: it never overrides a later action.
        action_rank: if ctx.action == "created" { 0 } else { 1 },
        sent_at_ms,
    };
    doc.raw = issue.clone();
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

/// An assignee object (`{type, name, email}`), or a bare string.
fn assignee(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        obj @ Value::Object(_) => at(obj, &["email"])
            .or_else(|| at(obj, &["name"]))
            .or_else(|| at(obj, &["id"])),
        _ => None,
    }
}
