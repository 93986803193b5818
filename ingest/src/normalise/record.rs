//! Webhooks we keep without modelling them: installations, Seer runs, build artifacts and
//! resources Sentry adds later. They are searchable by resource, action and text.

use sentry_mcp_index::{Change, DocKind, IndexDoc, StateVersion};
use serde_json::Value;

use super::value::{at, string};
use crate::delivery::Delivery;

pub fn normalise(delivery: &Delivery, json: &Value, action: Option<&str>) -> Change {
    let data = json.get("data").unwrap_or(&Value::Null);
    let action = action.unwrap_or("unknown");
    // A stable id where the payload has one, so a retried delivery updates the same record.
    let id = at(data, &["installation", "uuid"])
        .map(|uuid| format!("installation:{uuid}"))
        .or_else(|| {
            string(data.get("run_id")).map(|run| format!("{}:{run}:{action}", delivery.resource))
        })
        .or_else(|| {
            string(data.get("buildId")).map(|b| format!("{}:{b}:{action}", delivery.resource))
        })
        .or_else(|| delivery.request_id.clone())
        .unwrap_or_else(|| {
            format!(
                "{}:{}",
                delivery.resource,
                delivery.received_at.timestamp_millis()
            )
        });
    let mut doc = IndexDoc::new(DocKind::Record, id, delivery.received_at);
    doc.title = format!("{}.{}", delivery.resource, action);
    doc.status = Some(action.to_owned());
    doc.issue_id = string(data.get("group_id")).or_else(|| string(data.get("issue_id")));
    doc.project = at(data, &["projectSlug"]).or_else(|| at(data, &["project_slug"]));
    doc.organization = at(data, &["installation", "organization", "slug"])
        .or_else(|| at(data, &["organizationSlug"]));
    doc.message = summary_text(data);
    doc.tags
        .push(("resource".into(), delivery.resource.clone()));
    doc.source = doc.title.clone();
    doc.version = StateVersion {
        state_at_ms: delivery.sent_at_ms(),
        action_rank: 0,
        sent_at_ms: delivery.sent_at_ms(),
    };
    doc.raw = json.clone();
    Change::Put(doc)
}

/// The prose of a record worth free-text search (Seer root causes, solutions, titles).
fn summary_text(data: &Value) -> Option<String> {
    let mut parts = Vec::new();
    for path in [
        &["root_cause", "description"][..],
        &["solution", "description"],
        &["appInfo", "name"],
    ] {
        parts.extend(at(data, path));
    }
    if let Some(changes) = data.get("changes").and_then(Value::as_array) {
        parts.extend(changes.iter().filter_map(|c| at(c, &["title"])));
    }
    if let Some(prs) = data.get("pull_requests").and_then(Value::as_array) {
        parts.extend(
            prs.iter()
                .filter_map(|p| at(p, &["pull_request", "pr_url"])),
        );
    }
    (!parts.is_empty()).then(|| parts.join("\n"))
}
