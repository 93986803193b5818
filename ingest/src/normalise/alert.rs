//! `metric_alert.critical|warning|resolved|open`: the state of one metric alert incident.

use sentry_mcp_index::{Change, DocKind, IndexDoc, RawJson, StateVersion};
use serde_json::Value;

use super::Context;
use super::value::{at, get, org_from_urls, string, time};

pub fn normalise(ctx: &Context, data: &Value) -> Option<Vec<Change>> {
    let alert = data.get("metric_alert")?;
    let id = string(alert.get("id"))?;
    let changed_at = time(alert.get("date_closed"))
        .or_else(|| time(alert.get("date_detected")))
        .or_else(|| time(alert.get("date_started")))
        .or_else(|| time(alert.get("date_created")));
    let timestamp = changed_at.unwrap_or(ctx.delivery.received_at);
    let mut doc = IndexDoc::new(DocKind::Alert, id, timestamp);
    let rule = at(alert, &["alert_rule", "name"]);
    doc.title = at(data, &["description_title"])
        .or_else(|| rule.clone())
        .or_else(|| at(alert, &["title"]))
        .unwrap_or_default();
    doc.message = at(data, &["description_text"]);
    doc.alert_rule = rule;
    doc.alert_trigger = Some(ctx.action.to_owned());
    doc.status = Some(
        if ctx.action == "resolved" {
            "resolved"
        } else {
            "active"
        }
        .into(),
    );
    doc.level = Some(
        match ctx.action {
            "critical" => "error",
            "warning" => "warning",
            _ => "info",
        }
        .into(),
    );
    doc.project = get(alert, &["projects"])
        .and_then(Value::as_array)
        .and_then(|p| string(p.first()))
        .or_else(|| {
            get(alert, &["alert_rule", "projects"])
                .and_then(Value::as_array)
                .and_then(|p| string(p.first()))
        });
    doc.environment = at(alert, &["alert_rule", "environment"]);
    doc.organization = org_from_urls(data).or_else(|| org_from_urls(alert));
    doc.first_seen = time(alert.get("date_started")).or(changed_at);
    doc.last_seen = Some(timestamp);
    doc.url = at(data, &["web_url"]);
    if let Some(query) = at(alert, &["alert_rule", "query"]) {
        doc.tags.push(("alert.query".into(), query));
    }
    doc.source = ctx.source();
    doc.version = StateVersion {
        state_at_ms: changed_at.map(|t| t.timestamp_millis()).unwrap_or(0),
        action_rank: match ctx.action {
            "open" => 0,
            "resolved" => 2,
            _ => 1,
        },
        sent_at_ms: ctx.delivery.sent_at_ms(),
    };
    doc.raw = RawJson::of(data);
    Some(vec![Change::Put(doc)])
}
