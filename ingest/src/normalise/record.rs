//! Webhooks we keep without modelling them: installations, Seer runs, build artifacts and
//! resources Sentry adds later. They are searchable by resource, action and text.

use sentry_mcp_index::{Change, DocKind, IndexDoc, RawJson, StateVersion};
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
        // Otherwise the content itself: Sentry retries a delivery with the same body under a
        // new Request-ID, and that must not make a second record.
        .unwrap_or_else(|| format!("{}:{}", delivery.resource, content_key(json)));
    let mut doc = IndexDoc::new(DocKind::Record, id, delivery.received_at);
    doc.title = format!("{}.{}", delivery.resource, action);
    doc.status = Some(action.to_owned());
    doc.issue_id = string(data.get("group_id"))
        .or_else(|| string(data.get("issue_id")))
        .or_else(|| at(data, &["issue", "id"]));
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
    doc.raw = RawJson::of(json);
    Change::Put(doc)
}

/// A digest of the body. `serde_json` maps are ordered by key, so the same JSON always
/// serialises to the same bytes.
fn content_key(json: &Value) -> String {
    use sha2::{Digest, Sha256};
    let bytes = serde_json::to_vec(json).unwrap_or_default();
    hex::encode(&Sha256::digest(&bytes)[..16])
}

/// The prose of a record worth free-text search: Seer's root cause, solution and code
/// changes in both the current shape (`one_line_description`, `five_whys`,
/// `one_line_summary`, `code_changes`) and the first one (`description`, `changes`), fix
/// PRs, app names.
fn summary_text(data: &Value) -> Option<String> {
    let mut parts = Vec::new();
    let texts = |v: Option<&Value>| -> Vec<String> {
        v.and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|t| string(Some(t)))
            .collect()
    };
    let step_texts = |v: Option<&Value>| -> Vec<String> {
        v.and_then(Value::as_array)
            .into_iter()
            .flatten()
            .flat_map(|step| [at(step, &["title"]), at(step, &["description"])])
            .flatten()
            .collect()
    };
    if let Some(root) = data.get("root_cause") {
        parts.extend(at(root, &["one_line_description"]));
        parts.extend(at(root, &["description"]));
        parts.extend(texts(root.get("five_whys")));
        parts.extend(texts(root.get("reproduction_steps")));
        parts.extend(
            root.get("steps")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|step| at(step, &["title"])),
        );
        parts.extend(at(root, &["relevant_repo"]));
    }
    if let Some(solution) = data.get("solution") {
        parts.extend(at(solution, &["one_line_summary"]));
        parts.extend(at(solution, &["description"]));
        parts.extend(step_texts(solution.get("steps")));
    }
    parts.extend(step_texts(data.get("changes")));
    if let Some(repos) = data.get("code_changes").and_then(Value::as_object) {
        for (repo, files) in repos {
            let paths = files
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|f| at(f, &["path"]));
            parts.extend(paths.map(|path| format!("{repo}: {path}")));
        }
    }
    if let Some(prs) = data.get("pull_requests").and_then(Value::as_array) {
        parts.extend(
            prs.iter()
                .filter_map(|p| at(p, &["pull_request", "pr_url"])),
        );
    }
    parts.extend(at(data, &["appInfo", "name"]));
    (!parts.is_empty()).then(|| parts.join("\n"))
}
