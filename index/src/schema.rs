//! The tantivy schema: one field per thing people search on, plus the stored document.
//!
//! Exact-match fields (`project`, `level`, `status`, ...) use the raw tokenizer and are
//! fast (columnar) so aggregations never load documents. Prose (`title`, `message`,
//! exception values) is tokenized; `text` gathers all prose for free-text search, and
//! `issue_text` the same for issues. The whole [`IndexDoc`] is stored as JSON in `doc`.

use tantivy::schema::{
    DateOptions, DateTimePrecision, Field, IndexRecordOption, NumericOptions, STORED, STRING,
    Schema, TEXT, TextFieldIndexing, TextOptions,
};
use tantivy::{DateTime, TantivyDocument};

use crate::document::{DocKind, IndexDoc};

/// The `fetched` field's one term.
const FETCHED: &str = "true";

/// Handles to every field of the schema.
#[derive(Debug, Clone)]
pub struct Fields {
    pub schema: Schema,
    pub key: Field,
    pub kind: Field,
    pub id: Field,
    pub organization: Field,
    pub project: Field,
    pub issue_id: Field,
    pub short_id: Field,
    pub title: Field,
    pub culprit: Field,
    pub message: Field,
    pub level: Field,
    pub status: Field,
    pub substatus: Field,
    pub platform: Field,
    pub environment: Field,
    pub release: Field,
    /// `key=value` per tag.
    pub tag: Field,
    pub assignee: Field,
    pub exception_type: Field,
    pub exception_value: Field,
    pub stack_filename: Field,
    pub stack_function: Field,
    pub stack_module: Field,
    pub fingerprint: Field,
    pub alert_rule: Field,
    pub alert_trigger: Field,
    pub priority: Field,
    /// `true` / `false` per distinct `in_app` value of the stack frames.
    pub stack_in_app: Field,
    /// Who the event happened to (the `user` tag, else user id, email, username or IP),
    /// fast for `count_unique(user)`.
    pub user: Field,
    /// All prose of the document, for free text; issues' in `issue_text`. Kept apart, a
    /// phrase among issues reads positions in issues' postings only: in one field it
    /// walked every event's positions between two issues (a quoted `list_issues` query
    /// at 1M events checked positions at each of 4k issues, 30M instructions).
    pub text: Field,
    pub issue_text: Field,
    /// `true` on events copied from the Sentry API ([`IndexDoc::fetched`]), which counts
    /// leave out; delivered documents have no term.
    pub fetched: Field,
    pub timestamp: Field,
    pub first_seen: Field,
    pub last_seen: Field,
    pub times_seen: Field,
    pub user_count: Field,
    /// The stored JSON of the whole [`IndexDoc`].
    pub doc: Field,
}

impl Fields {
    pub fn new() -> Self {
        let mut b = Schema::builder();
        // Exact, columnar string: indexed as one token, fast for grouping.
        let exact = || STRING | tantivy::schema::FAST;
        let prose = || {
            TextOptions::default().set_indexing_options(
                TextFieldIndexing::default()
                    .set_tokenizer("default")
                    .set_index_option(IndexRecordOption::WithFreqsAndPositions),
            )
        };
        let date = || {
            DateOptions::default()
                .set_indexed()
                .set_fast()
                .set_precision(DateTimePrecision::Milliseconds)
        };
        let count = || NumericOptions::default().set_indexed().set_fast();
        Fields {
            // Fast so that pages can be ordered by (sort value, key) for stable cursors.
            key: b.add_text_field("key", exact()),
            kind: b.add_text_field("kind", exact()),
            id: b.add_text_field("id", STRING),
            organization: b.add_text_field("organization", exact()),
            project: b.add_text_field("project", exact()),
            issue_id: b.add_text_field("issue_id", exact()),
            short_id: b.add_text_field("short_id", STRING),
            title: b.add_text_field("title", prose()),
            culprit: b.add_text_field("culprit", prose()),
            message: b.add_text_field("message", prose()),
            level: b.add_text_field("level", exact()),
            status: b.add_text_field("status", exact()),
            substatus: b.add_text_field("substatus", exact()),
            platform: b.add_text_field("platform", exact()),
            environment: b.add_text_field("environment", exact()),
            release: b.add_text_field("release", exact()),
            tag: b.add_text_field("tag", STRING),
            assignee: b.add_text_field("assignee", exact()),
            exception_type: b.add_text_field("exception_type", exact()),
            exception_value: b.add_text_field("exception_value", prose()),
            stack_filename: b.add_text_field("stack_filename", STRING),
            stack_function: b.add_text_field("stack_function", STRING),
            stack_module: b.add_text_field("stack_module", STRING),
            fingerprint: b.add_text_field("fingerprint", STRING),
            alert_rule: b.add_text_field("alert_rule", exact()),
            alert_trigger: b.add_text_field("alert_trigger", exact()),
            priority: b.add_text_field("priority", exact()),
            stack_in_app: b.add_text_field("stack_in_app", STRING),
            user: b.add_text_field("user", exact()),
            text: b.add_text_field("text", TEXT),
            issue_text: b.add_text_field("issue_text", TEXT),
            fetched: b.add_text_field("fetched", STRING),
            timestamp: b.add_date_field("timestamp", date()),
            first_seen: b.add_date_field("first_seen", date()),
            last_seen: b.add_date_field("last_seen", date()),
            times_seen: b.add_u64_field("times_seen", count()),
            user_count: b.add_u64_field("user_count", count()),
            doc: b.add_text_field("doc", STORED),
            schema: b.build(),
        }
    }

    /// The prose field documents of `kind` write their free text to.
    fn text_field(&self, kind: DocKind) -> Field {
        match kind {
            DocKind::Issue => self.issue_text,
            _ => self.text,
        }
    }

    /// The prose fields free text searches among documents of `kinds` (empty: all).
    pub(crate) fn text_fields(&self, kinds: &[DocKind]) -> Vec<Field> {
        if kinds.is_empty() {
            return vec![self.text, self.issue_text];
        }
        let mut fields: Vec<Field> = kinds.iter().map(|&k| self.text_field(k)).collect();
        fields.sort();
        fields.dedup();
        fields
    }

    /// The term of the events fetched from the Sentry API.
    pub(crate) fn fetched_term(&self) -> tantivy::Term {
        tantivy::Term::from_field_text(self.fetched, FETCHED)
    }

    /// The tantivy document for an [`IndexDoc`].
    pub fn to_tantivy(&self, d: &IndexDoc) -> TantivyDocument {
        let mut t = TantivyDocument::default();
        t.add_text(self.key, d.key());
        t.add_text(self.kind, d.kind.as_str());
        t.add_text(self.id, &d.id);
        let opt = |t: &mut TantivyDocument, f: Field, v: &Option<String>| {
            if let Some(v) = v {
                t.add_text(f, v);
            }
        };
        opt(&mut t, self.organization, &d.organization);
        opt(&mut t, self.project, &d.project);
        opt(&mut t, self.issue_id, &d.issue_id);
        opt(&mut t, self.short_id, &d.short_id);
        t.add_text(self.title, &d.title);
        opt(&mut t, self.culprit, &d.culprit);
        opt(&mut t, self.message, &d.message);
        opt(&mut t, self.level, &d.level);
        opt(&mut t, self.status, &d.status);
        opt(&mut t, self.substatus, &d.substatus);
        opt(&mut t, self.platform, &d.platform);
        opt(&mut t, self.environment, &d.environment);
        opt(&mut t, self.release, &d.release);
        for r in d.releases.iter().filter(|r| Some(*r) != d.release.as_ref()) {
            t.add_text(self.release, r);
        }
        for e in d
            .environments
            .iter()
            .filter(|e| Some(*e) != d.environment.as_ref())
        {
            t.add_text(self.environment, e);
        }
        for term in assignee_terms(d) {
            t.add_text(self.assignee, term);
        }
        opt(&mut t, self.alert_rule, &d.alert_rule);
        opt(&mut t, self.alert_trigger, &d.alert_trigger);
        opt(&mut t, self.priority, &d.priority);
        for in_app in &d.stack_in_app {
            t.add_text(self.stack_in_app, if *in_app { "true" } else { "false" });
        }
        opt(&mut t, self.user, &user_of(d));
        if d.fetched {
            t.add_text(self.fetched, FETCHED);
        }
        for (k, v) in &d.tags {
            t.add_text(self.tag, tag_term(k, v));
        }
        let many = |t: &mut TantivyDocument, f: Field, vs: &[String]| {
            for v in vs {
                t.add_text(f, v);
            }
        };
        many(&mut t, self.exception_type, &d.exception_types);
        many(&mut t, self.exception_value, &d.exception_values);
        many(&mut t, self.stack_filename, &d.stack_files);
        many(&mut t, self.stack_function, &d.stack_functions);
        many(&mut t, self.stack_module, &d.stack_modules);
        many(&mut t, self.fingerprint, &d.fingerprint);
        let text = self.text_field(d.kind);
        for prose in free_text(d) {
            t.add_text(text, prose);
            // `TimeoutError` should be found by `timeout`, as Sentry's substring search would.
            if let Some(split) = split_camel_case(prose) {
                t.add_text(text, split);
            }
        }
        t.add_date(self.timestamp, to_tantivy_date(d.timestamp));
        // Every document gets a value in the sortable fields, so keyset paging never skips
        // one; the stored document keeps what Sentry actually sent.
        t.add_date(
            self.first_seen,
            to_tantivy_date(d.first_seen.unwrap_or(d.timestamp)),
        );
        t.add_date(
            self.last_seen,
            to_tantivy_date(d.last_seen.unwrap_or(d.timestamp)),
        );
        t.add_u64(self.times_seen, d.times_seen.unwrap_or(0));
        t.add_u64(self.user_count, d.user_count.unwrap_or(0));
        t.add_text(self.doc, serde_json::to_string(d).unwrap_or_default());
        t
    }
}

impl Default for Fields {
    fn default() -> Self {
        Self::new()
    }
}

/// How a tag is stored in the `tag` field.
pub fn tag_term(key: &str, value: &str) -> String {
    format!("{key}={value}")
}

/// A date as searches compare it: at whole seconds, as tantivy's indexed date terms are,
/// so the fast-field ranges of [`crate::range`] keep the answers date terms gave.
pub(crate) fn date_for_search(t: chrono::DateTime<chrono::Utc>) -> DateTime {
    to_tantivy_date(t).truncate(tantivy::schema::DateTimePrecision::Seconds)
}

pub fn to_tantivy_date(t: chrono::DateTime<chrono::Utc>) -> DateTime {
    tantivy_date_from_millis(t.timestamp_millis())
}

/// tantivy keeps dates as i64 nanoseconds (years 1677 to 2262) and panics past them: clamp,
/// so a webhook or a query naming the year 9999 sorts last instead of crashing.
pub fn tantivy_date_from_millis(ms: i64) -> DateTime {
    const LIMIT: i64 = i64::MAX / 1_000_000;
    DateTime::from_timestamp_millis(ms.clamp(-LIMIT, LIMIT))
}

/// The terms `assigned:` matches (see [`crate::Assignee::search_terms`]); documents stored
/// before assignees were structured have only their display string.
fn assignee_terms(d: &IndexDoc) -> Vec<String> {
    let mut terms = d
        .assigned_to
        .as_ref()
        .map(|a| a.search_terms())
        .unwrap_or_default();
    if let Some(shown) = &d.assignee
        && !terms.contains(shown)
    {
        terms.push(shown.clone());
    }
    terms
}

/// The user an event happened to, as Sentry's `user` tag names it.
fn user_of(d: &IndexDoc) -> Option<String> {
    let tag = |k: &str| d.tags.iter().find(|(key, _)| key == k).map(|(_, v)| v);
    if let Some(user) = tag("user") {
        return Some(user.clone());
    }
    [
        ("user.id", "id"),
        ("user.email", "email"),
        ("user.username", "username"),
        ("user.ip", "ip"),
    ]
    .into_iter()
    .find_map(|(k, prefix)| tag(k).map(|v| format!("{prefix}:{v}")))
}

/// Everything a free-text search should look at.
fn free_text(d: &IndexDoc) -> impl Iterator<Item = &str> {
    std::iter::once(d.title.as_str())
        .chain(d.short_id.as_deref())
        .chain(d.culprit.as_deref())
        .chain(d.message.as_deref())
        .chain(d.exception_types.iter().map(String::as_str))
        .chain(d.exception_values.iter().map(String::as_str))
        .chain(d.stack_files.iter().map(String::as_str))
        .chain(d.stack_functions.iter().map(String::as_str))
        .chain(d.stack_modules.iter().map(String::as_str))
        .chain(d.alert_rule.as_deref())
        .chain(d.comments.iter().map(|c| c.text.as_str()))
}

/// `TimeoutError in reserveItems` -> `Timeout Error in reserve Items`; `None` when nothing
/// would change.
fn split_camel_case(text: &str) -> Option<String> {
    let mut out = String::with_capacity(text.len() + 8);
    let mut changed = false;
    let mut prev: Option<char> = None;
    for c in text.chars() {
        if let Some(p) = prev
            && c.is_uppercase()
            && (p.is_lowercase() || p.is_ascii_digit())
        {
            out.push(' ');
            changed = true;
        }
        out.push(c);
        prev = Some(c);
    }
    changed.then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn camel_case_is_split_for_free_text() {
        assert_eq!(
            split_camel_case("TimeoutError: x").as_deref(),
            Some("Timeout Error: x")
        );
        assert_eq!(
            split_camel_case("reserveItems2Go").as_deref(),
            Some("reserve Items2 Go")
        );
        assert_eq!(split_camel_case("plain words"), None);
        assert_eq!(split_camel_case("HTTPError"), None);
    }
}
