//! `error.created` (`data.error`) and `event_alert.triggered` (`data.event`): an event
//! document, an observation of its issue, and for alerts the alert firing itself.

use sentry_mcp_index::{Change, DocKind, IndexDoc, RawJson, StateVersion};
use serde_json::Value;

use super::Context;
use super::value::{at, issue_id_from_url, org_from_urls, project_from_url, string, time};
use crate::stack::stacks;

pub fn normalise(ctx: &Context, data: &Value, key: &str) -> Option<Vec<Change>> {
    let event = data.get(key)?;
    let event_id = string(event.get("event_id"))?;
    let timestamp = time(event.get("datetime"))
        .or_else(|| time(event.get("timestamp")))
        .unwrap_or(ctx.delivery.received_at);
    let mut doc = IndexDoc::new(DocKind::Event, event_id.clone(), timestamp);
    // Deliveries from before 2022 name their issue only in its URLs.
    doc.issue_id = string(event.get("issue_id"))
        .or_else(|| string(event.get("group_id")))
        .or_else(|| at(event, &["issue_url"]).and_then(|u| issue_id_from_url(&u)))
        .or_else(|| at(event, &["web_url"]).and_then(|u| issue_id_from_url(&u)));
    doc.title = at(event, &["title"]).unwrap_or_default();
    doc.culprit = at(event, &["culprit"]);
    doc.message = at(event, &["message"])
        .or_else(|| at(event, &["logentry", "formatted"]))
        .or_else(|| at(event, &["logentry", "message"]));
    doc.platform = at(event, &["platform"]);
    doc.tags = tags(event);
    let tag = |k: &str| {
        doc.tags
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.clone())
    };
    doc.level = at(event, &["level"]).or_else(|| tag("level"));
    doc.environment = at(event, &["environment"]).or_else(|| tag("environment"));
    doc.release = at(event, &["release"])
        .or_else(|| tag("sentry:release"))
        .or_else(|| tag("release"));
    let url = at(event, &["url"]).unwrap_or_default();
    doc.project = project_from_url(&url)
        .or_else(|| at(event, &["project_slug"]))
        .or_else(|| string(event.get("project")));
    doc.organization = org_from_urls(event);
    doc.first_seen = Some(timestamp);
    doc.last_seen = Some(timestamp);
    exceptions(event, &mut doc);
    if let Some(fp) = event.get("fingerprint").and_then(Value::as_array) {
        doc.fingerprint = fp.iter().filter_map(|v| string(Some(v))).collect();
    }
    add_derived_tags(event, &mut doc.tags);
    doc.url = at(event, &["web_url"]);
    doc.source = ctx.source();
    doc.version = StateVersion {
        state_at_ms: timestamp.timestamp_millis(),
        action_rank: 0,
        sent_at_ms: ctx.delivery.sent_at_ms(),
    };
    doc.raw = RawJson::of(event);

    let mut changes = Vec::new();
    if let Some(issue) = issue_observation(&doc) {
        changes.push(Change::Observe(issue));
    }
    if ctx.delivery.resource == "event_alert" {
        changes.push(Change::Put(alert_firing(ctx, data, &doc)));
    }
    changes.insert(0, Change::Put(doc));
    Some(changes)
}

/// What an event tells us about its issue.
fn issue_observation(event: &IndexDoc) -> Option<IndexDoc> {
    let issue_id = event.issue_id.clone()?;
    let mut issue = IndexDoc::new(DocKind::Issue, issue_id.clone(), event.timestamp);
    issue.issue_id = Some(issue_id);
    issue.title = event.title.clone();
    issue.culprit = event.culprit.clone();
    issue.level = event.level.clone();
    issue.platform = event.platform.clone();
    issue.project = event.project.clone();
    issue.organization = event.organization.clone();
    issue.environment = event.environment.clone();
    issue.release = event.release.clone();
    issue.first_seen = Some(event.timestamp);
    issue.last_seen = Some(event.timestamp);
    issue.exception_types = event.exception_types.clone();
    issue.exception_values = event.exception_values.clone();
    issue.url = event
        .url
        .as_deref()
        .and_then(|u| u.split("/events/").next())
        .map(|u| format!("{u}/"));
    issue.source = event.source.clone();
    Some(issue)
}

/// `event_alert.triggered`: the issue alert rule that fired on this event.
fn alert_firing(ctx: &Context, data: &Value, event: &IndexDoc) -> IndexDoc {
    let rule = at(data, &["triggered_rule"]).or_else(|| at(data, &["issue_alert", "title"]));
    let mut alert = IndexDoc::new(
        DocKind::Alert,
        format!("event-alert:{}", event.id),
        event.timestamp,
    );
    alert.title = match &rule {
        Some(rule) => format!("{rule}: {}", event.title),
        None => event.title.clone(),
    };
    alert.alert_rule = rule;
    alert.alert_trigger = Some(ctx.action.to_owned());
    alert.issue_id = event.issue_id.clone();
    alert.project = event.project.clone();
    alert.organization = event.organization.clone();
    alert.environment = event.environment.clone();
    alert.level = event.level.clone();
    alert.url = event.url.clone();
    alert.source = ctx.source();
    alert.version = event.version;
    alert.raw = RawJson::of(data.get("issue_alert").unwrap_or(&Value::Null));
    alert
}

/// Tags as `[[k, v], ...]` (webhooks) or `[{key, value}, ...]` (API).
fn tags(event: &Value) -> Vec<(String, String)> {
    let Some(list) = event.get("tags").and_then(Value::as_array) else {
        return Vec::new();
    };
    list.iter()
        .filter_map(|t| match t {
            Value::Array(pair) if pair.len() == 2 => {
                Some((string(pair.first())?, string(pair.get(1))?))
            }
            Value::Object(_) => Some((at(t, &["key"])?, at(t, &["value"])?)),
            _ => None,
        })
        .collect()
}

/// Tags Sentry derives from contexts and the user, when the event did not carry them.
fn add_derived_tags(event: &Value, tags: &mut Vec<(String, String)>) {
    let derived = [
        ("browser.name", at(event, &["contexts", "browser", "name"])),
        ("os.name", at(event, &["contexts", "os", "name"])),
        ("user.email", at(event, &["user", "email"])),
        ("user.id", at(event, &["user", "id"])),
        ("user.ip", at(event, &["user", "ip_address"])),
    ];
    for (key, value) in derived {
        if let Some(value) = value
            && !tags.iter().any(|(k, _)| k == key)
        {
            tags.push((key.to_owned(), value));
        }
    }
}

/// Exception types and values, and stack frame files/functions/modules (from exceptions,
/// the top-level stack trace or threads: see [`stacks`]).
fn exceptions(event: &Value, doc: &mut IndexDoc) {
    for stack in stacks(event) {
        if let Some(exc) = stack.exception {
            doc.exception_types.extend(at(exc, &["type"]));
            doc.exception_values.extend(at(exc, &["value"]));
        }
        for frame in stack.frames {
            push_unique(
                &mut doc.stack_files,
                at(frame, &["filename"]).or_else(|| at(frame, &["abs_path"])),
            );
            push_unique(&mut doc.stack_functions, at(frame, &["function"]));
            push_unique(&mut doc.stack_modules, at(frame, &["module"]));
            if let Some(in_app) = frame.get("in_app").and_then(Value::as_bool)
                && !doc.stack_in_app.contains(&in_app)
            {
                doc.stack_in_app.push(in_app);
            }
        }
    }
    if doc.exception_types.is_empty() {
        doc.exception_types.extend(at(event, &["metadata", "type"]));
        doc.exception_values
            .extend(at(event, &["metadata", "value"]));
        push_unique(&mut doc.stack_files, at(event, &["metadata", "filename"]));
        push_unique(
            &mut doc.stack_functions,
            at(event, &["metadata", "function"]),
        );
    }
}

fn push_unique(list: &mut Vec<String>, value: Option<String>) {
    if let Some(v) = value
        && !list.contains(&v)
    {
        list.push(v);
    }
}
