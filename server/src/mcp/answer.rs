//! Tool answers: a readable text summary first, then compact JSON, never larger than
//! [`MAX_ANSWER_CHARS`]. Lists that do not fit are cut with a note and an exact cursor.

use chrono::{DateTime, Utc};
use rmcp::model::{CallToolResult, ContentBlock};
use sentry_mcp_index::{DocKind, IndexDoc, SearchPage};
use serde_json::{Value, json};

/// Hard cap on one answer (about 6k tokens), so no call floods the agent's context.
pub const MAX_ANSWER_CHARS: usize = 24_000;

/// A successful answer: summary text plus structured data.
pub struct Answer {
    pub summary: String,
    pub data: Value,
}

impl Answer {
    pub fn new(summary: impl Into<String>, data: Value) -> Self {
        Answer {
            summary: summary.into(),
            data,
        }
    }

    pub fn into_result(self) -> CallToolResult {
        let json = serde_json::to_string(&self.data).unwrap_or_default();
        let mut summary = self.summary;
        if summary.len() + json.len() > MAX_ANSWER_CHARS {
            // Lists are cut before this point; this guards single huge documents.
            let keep = MAX_ANSWER_CHARS.saturating_sub(json.len().min(MAX_ANSWER_CHARS / 2));
            truncate_chars(&mut summary, keep);
        }
        let json = if json.len() > MAX_ANSWER_CHARS / 2 {
            let mut j = json;
            truncate_chars(&mut j, MAX_ANSWER_CHARS / 2);
            format!("{j}... (JSON cut at {} characters)", MAX_ANSWER_CHARS / 2)
        } else {
            json
        };
        CallToolResult::success(vec![ContentBlock::text(summary), ContentBlock::text(json)])
    }
}

/// A tool error the caller can act on.
pub fn error(message: impl Into<String>) -> CallToolResult {
    CallToolResult::error(vec![ContentBlock::text(message.into())])
}

fn truncate_chars(s: &mut String, max: usize) {
    if s.len() > max {
        let mut cut = max;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
    }
}

/// Render a list of documents: one summary line and one compact JSON object each, stopping
/// before the answer would exceed the cap. Returns the lines, the JSON items and how many
/// documents fit.
fn fit_list(docs: &[IndexDoc], now: DateTime<Utc>) -> (Vec<String>, Vec<Value>, usize) {
    let budget = MAX_ANSWER_CHARS - 2_000;
    let mut used = 0;
    let mut lines = Vec::new();
    let mut items = Vec::new();
    for doc in docs {
        let line = line(doc, now);
        let item = compact(doc);
        let size = line.len() + item.to_string().len() + 2;
        if used + size > budget && !items.is_empty() {
            break;
        }
        used += size;
        lines.push(line);
        items.push(item);
    }
    let fitted = items.len();
    (lines, items, fitted)
}

/// A page of documents ready for an answer: lines, JSON items, and the cursor to hand
/// out, which points right after the last document shown when the size cap cut the page.
pub struct Listing {
    pub lines: Vec<String>,
    pub items: Vec<Value>,
    pub cursor: Option<String>,
    cut: bool,
}

impl Listing {
    pub fn of(page: &SearchPage, now: DateTime<Utc>) -> Self {
        let (lines, items, fitted) = fit_list(&page.docs, now);
        let cut = fitted < page.docs.len();
        let cursor = if cut {
            fitted
                .checked_sub(1)
                .and_then(|i| page.cursors.get(i))
                .cloned()
        } else {
            page.next_cursor.clone()
        };
        Listing {
            lines,
            items,
            cursor,
            cut,
        }
    }

    /// The lines, or `empty` when there are none.
    pub fn text_or(&self, empty: &str) -> String {
        if self.lines.is_empty() {
            empty.to_owned()
        } else {
            self.lines.join("\n")
        }
    }

    /// How to get the next page, if there is one.
    pub fn cursor_note(&self) -> String {
        match &self.cursor {
            Some(c) => {
                let why = if self.cut {
                    "answer size limit reached"
                } else {
                    "more results"
                };
                format!("\n({why}: pass cursor \"{c}\" for the next page)")
            }
            None => String::new(),
        }
    }
}

/// One line an LLM (or a human) can scan.
pub fn line(d: &IndexDoc, now: DateTime<Utc>) -> String {
    match d.kind {
        DocKind::Issue => {
            let name = d.short_id.clone().unwrap_or_else(|| d.id.clone());
            let mut s = format!(
                "{name} [{}, {}] {} | {}",
                d.level.as_deref().unwrap_or("?"),
                d.status.as_deref().unwrap_or("?"),
                d.title,
                d.project.as_deref().unwrap_or("?")
            );
            if let Some(n) = d.times_seen {
                s.push_str(&format!(", {n} events"));
            }
            if let Some(n) = d.user_count {
                s.push_str(&format!(", {n} users"));
            }
            if let Some(t) = d.first_seen {
                s.push_str(&format!(", first seen {}", ago(t, now)));
            }
            s.push_str(&format!(
                ", last seen {}",
                ago(d.last_seen.unwrap_or(d.timestamp), now)
            ));
            if let Some(a) = &d.assignee {
                s.push_str(&format!(", assigned to {a}"));
            }
            s.push_str(&format!(" (issue_id {})", d.id));
            s
        }
        DocKind::Event => format!(
            "event {} {} [{}] {} | {}{}{} (issue_id {})",
            d.id,
            ago(d.timestamp, now),
            d.level.as_deref().unwrap_or("?"),
            d.title,
            d.project.as_deref().unwrap_or("?"),
            d.environment
                .as_deref()
                .map(|e| format!(", env {e}"))
                .unwrap_or_default(),
            d.release
                .as_deref()
                .map(|r| format!(", release {r}"))
                .unwrap_or_default(),
            d.issue_id.as_deref().unwrap_or("?"),
        ),
        DocKind::Alert => format!(
            "alert {} [{}] {} | {} {}",
            d.id,
            d.alert_trigger.as_deref().unwrap_or("?"),
            d.title,
            d.project.as_deref().unwrap_or("?"),
            ago(d.timestamp, now)
        ),
        DocKind::Record => format!("{} {} {}", d.source, d.id, ago(d.timestamp, now)),
    }
}

/// The fields worth showing in a list (no raw payload, no stack details).
pub fn compact(d: &IndexDoc) -> Value {
    let mut v = json!({
        "kind": d.kind.as_str(),
        "id": d.id,
        "title": d.title,
        "project": d.project,
        "level": d.level,
        "timestamp": d.timestamp,
    });
    let obj = v.as_object_mut().expect("json object");
    let mut put = |k: &str, val: Value| {
        if !val.is_null() {
            obj.insert(k.to_owned(), val);
        }
    };
    match d.kind {
        DocKind::Issue => {
            put("short_id", json!(d.short_id));
            put("status", json!(d.status));
            put("substatus", json!(d.substatus));
            put("culprit", json!(d.culprit));
            put("times_seen", json!(d.times_seen));
            put("user_count", json!(d.user_count));
            put("first_seen", json!(d.first_seen));
            put("last_seen", json!(d.last_seen));
            put("assignee", json!(d.assignee));
            put("release", json!(d.release));
        }
        DocKind::Event => {
            put("issue_id", json!(d.issue_id));
            put("environment", json!(d.environment));
            put("release", json!(d.release));
            put("culprit", json!(d.culprit));
        }
        DocKind::Alert => {
            put("alert_rule", json!(d.alert_rule));
            put("trigger", json!(d.alert_trigger));
            put("status", json!(d.status));
            put("issue_id", json!(d.issue_id));
            put("message", json!(d.message));
        }
        DocKind::Record => {
            put("source", json!(d.source));
        }
    }
    put("url", json!(d.url));
    v
}

/// `5m ago`, `3h ago`, `2d ago`, or `in 5m` for clock skew.
pub fn ago(t: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let secs = (now - t).num_seconds();
    let (n, unit) = match secs.abs() {
        s if s < 60 => (s, "s"),
        s if s < 3600 => (s / 60, "m"),
        s if s < 86_400 => (s / 3600, "h"),
        s => (s / 86_400, "d"),
    };
    if secs >= 0 {
        format!("{n}{unit} ago")
    } else {
        format!("in {n}{unit}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ago_reads_naturally() {
        let now = Utc::now();
        assert_eq!(ago(now - chrono::Duration::minutes(5), now), "5m ago");
        assert_eq!(ago(now - chrono::Duration::hours(30), now), "1d ago");
        assert_eq!(ago(now + chrono::Duration::seconds(90), now), "in 1m");
    }

    #[test]
    fn lists_stop_before_the_cap() {
        let now = Utc::now();
        let mut doc = IndexDoc::new(DocKind::Issue, "1", now);
        doc.title = "x".repeat(2_000);
        let docs = vec![doc; 50];
        let (lines, items, fitted) = fit_list(&docs, now);
        assert!(fitted < 50 && fitted > 0);
        assert_eq!(lines.len(), items.len());
        let size: usize = lines.iter().map(String::len).sum::<usize>()
            + items.iter().map(|i| i.to_string().len()).sum::<usize>();
        assert!(size <= MAX_ANSWER_CHARS);
    }
}
