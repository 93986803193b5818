//! `comment.created|updated|deleted`: a note on an issue, kept on the issue document.

use sentry_mcp_index::{Change, Comment, CommentChange};
use serde_json::Value;

use super::Context;
use super::value::{at, string, time};

pub fn normalise(ctx: &Context, data: &Value) -> Option<Vec<Change>> {
    let issue_id = string(data.get("issue_id"))?;
    let id = string(data.get("comment_id"))?;
    let timestamp = time(data.get("timestamp"));
    let change = if ctx.action == "deleted" {
        CommentChange::Delete { id }
    } else {
        CommentChange::Upsert(Comment {
            id,
            text: at(data, &["comment"]).unwrap_or_default(),
            timestamp,
        })
    };
    Some(vec![Change::Comment {
        issue_id,
        project: at(data, &["project_slug"]),
        change,
        at: timestamp.unwrap_or(ctx.delivery.received_at),
    }])
}
