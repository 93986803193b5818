//! A webhook body to the index [`Change`]s it implies.
//!
//! - [`issue`]: `issue.*` webhooks, full issue state.
//! - [`event`]: `error.created` and `event_alert.triggered`, an event plus an observation of
//!   its issue (and, for alerts, the alert firing).
//! - [`alert`]: `metric_alert` webhooks (critical, warning, resolved).
//! - [`comment`]: `comment.*`, attached to their issue.
//! - [`api`]: `sentry_api`, what the server fetched from the Sentry REST API (issue states,
//!   reconcile pages, events), journaled like a webhook.
//! - [`record`]: everything else (`installation`, `seer`, unknown resources), kept as a
//!   generic record so nothing is lost.
//! - [`value`]: lenient accessors for Sentry JSON (ids as numbers or strings, several
//!   timestamp formats).

mod alert;
mod api;
mod comment;
mod event;
mod issue;
mod record;
pub(crate) mod value;

use sentry_mcp_index::Change;
use serde_json::Value;

use crate::delivery::Delivery;

/// Why a body cannot be indexed. Reported as 400 to the sender.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NormaliseError {
    #[error("body is not valid JSON: {0}")]
    NotJson(String),
    #[error("{resource} webhook is missing {field}")]
    Missing {
        resource: String,
        field: &'static str,
    },
}

/// What a webhook turned into.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub changes: Vec<Change>,
    /// False for resources we only record (answered 202).
    pub known: bool,
}

/// Normalise one delivery's body.
pub fn normalise(delivery: &Delivery, body: &[u8]) -> Result<Outcome, NormaliseError> {
    let json: Value =
        serde_json::from_slice(body).map_err(|e| NormaliseError::NotJson(e.to_string()))?;
    let missing = |field| NormaliseError::Missing {
        resource: delivery.resource.clone(),
        field,
    };
    let root = json
        .as_object()
        .ok_or_else(|| missing("a JSON object body"))?;
    let action = root.get("action").and_then(Value::as_str);
    let data = root.get("data").filter(|d| d.is_object());
    let known = matches!(
        delivery.resource.as_str(),
        "issue"
            | "error"
            | "event_alert"
            | "metric_alert"
            | "comment"
            | "installation"
            | "sentry_api"
    );
    if !known {
        let mut changes = vec![record::normalise(delivery, &json, action)];
        // A resource we do not model may still carry a full issue state (`activity_alert`
        // from some self-hosted versions): the issue learns it like any issue webhook.
        if let Some(data) = data.filter(|d| d.get("issue").is_some_and(Value::is_object)) {
            let ctx = Context {
                delivery,
                action: action.unwrap_or("unknown"),
            };
            changes.extend(issue::normalise(&ctx, data).into_iter().flatten());
        }
        return Ok(Outcome {
            changes,
            known: false,
        });
    }
    let action = action.ok_or_else(|| missing("`action`"))?;
    let data = data.ok_or_else(|| missing("`data` object"))?;
    let ctx = Context { delivery, action };
    let changes =
        match delivery.resource.as_str() {
            "issue" => issue::normalise(&ctx, data).ok_or_else(|| missing("`data.issue.id`"))?,
            "error" => event::normalise(&ctx, data, "error")
                .ok_or_else(|| missing("`data.error.event_id`"))?,
            "event_alert" => event::normalise(&ctx, data, "event")
                .ok_or_else(|| missing("`data.event.event_id`"))?,
            "metric_alert" => {
                alert::normalise(&ctx, data).ok_or_else(|| missing("`data.metric_alert.id`"))?
            }
            "comment" => comment::normalise(&ctx, data)
                .ok_or_else(|| missing("`data.issue_id` and `data.comment_id`"))?,
            "sentry_api" => api::normalise(&ctx, data)
                .ok_or_else(|| missing("`data.issue`, `data.issues` or `data.event` with an id"))?,
            _ => vec![record::normalise(delivery, &json, Some(action))],
        };
    Ok(Outcome {
        changes,
        known: true,
    })
}

/// What every resource normaliser needs besides its `data`.
pub(crate) struct Context<'a> {
    pub delivery: &'a Delivery,
    pub action: &'a str,
}

impl Context<'_> {
    /// `resource.action`, recorded as the document's source.
    pub fn source(&self) -> String {
        format!("{}.{}", self.delivery.resource, self.action)
    }
}

#[cfg(test)]
mod tests;
