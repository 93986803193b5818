//! The document model shared by ingestion and queries, and how two versions of a
//! document merge ("newer state wins").

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// What a document describes. Each kind has its own id space in Sentry, so the index
/// key is `kind:id`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DocKind {
    Issue,
    Event,
    Alert,
    /// A webhook we keep but do not model further (installation, seer, ...).
    Record,
}

impl DocKind {
    pub fn as_str(self) -> &'static str {
        match self {
            DocKind::Issue => "issue",
            DocKind::Event => "event",
            DocKind::Alert => "alert",
            DocKind::Record => "record",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "issue" => DocKind::Issue,
            "event" => DocKind::Event,
            "alert" => DocKind::Alert,
            "record" => DocKind::Record,
            _ => return None,
        })
    }
}

/// Orders two states of the same document. Compared field by field: the time the state
/// describes (an issue's last seen, an alert's last change), then how final the action is
/// (`created` says less than any later action at the same instant), then when Sentry sent it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct StateVersion {
    pub state_at_ms: i64,
    pub action_rank: u8,
    pub sent_at_ms: i64,
}

/// A comment on an issue, attached to the issue document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Comment {
    pub id: String,
    pub text: String,
    pub timestamp: Option<DateTime<Utc>>,
}

/// Who an issue is assigned to, as Sentry sends it (`assignedTo`, `data.assignee`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Assignee {
    /// `user` or `team`.
    #[serde(rename = "type")]
    pub kind: AssigneeKind,
    pub id: Option<String>,
    /// Display name (a team's name, a user's full name).
    pub name: Option<String>,
    /// A user's email.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// A user's username, when Sentry sent it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// A team's slug, what `assigned:#slug` names.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slug: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AssigneeKind {
    User,
    Team,
}

impl Assignee {
    /// How the assignee is shown: `#slug` for a team, the email (else name) for a user.
    pub fn display(&self) -> Option<String> {
        match self.kind {
            AssigneeKind::Team => self
                .slug
                .as_ref()
                .or(self.name.as_ref())
                .map(|s| format!("#{s}"))
                .or_else(|| self.id.as_ref().map(|id| format!("team:{id}"))),
            AssigneeKind::User => self
                .email
                .clone()
                .or_else(|| self.username.clone())
                .or_else(|| self.name.clone())
                .or_else(|| self.id.as_ref().map(|id| format!("user:{id}"))),
        }
    }

    /// Every way `assigned:` can name this assignee, as in Sentry: a user's email or
    /// username, `#team-slug`, and `user:ID` / `team:ID`.
    pub fn search_terms(&self) -> Vec<String> {
        let mut terms = Vec::new();
        match self.kind {
            AssigneeKind::Team => {
                terms.extend(
                    self.slug
                        .as_ref()
                        .or(self.name.as_ref())
                        .map(|s| format!("#{s}")),
                );
                terms.extend(self.id.as_ref().map(|id| format!("team:{id}")));
            }
            AssigneeKind::User => {
                terms.extend(
                    self.email
                        .iter()
                        .flat_map(|e| [e.clone(), e.to_lowercase()]),
                );
                terms.extend(self.username.clone());
                terms.extend(self.id.as_ref().map(|id| format!("user:{id}")));
            }
        }
        terms.dedup();
        terms
    }
}

/// One document in the index. Optional fields are absent when Sentry did not send them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IndexDoc {
    pub kind: DocKind,
    /// Sentry's id: numeric issue id, event id hex, alert id, or a record id.
    pub id: String,
    pub organization: Option<String>,
    /// Project slug (or numeric project id when Sentry sent only that).
    pub project: Option<String>,
    /// The issue an event or issue belongs to.
    pub issue_id: Option<String>,
    pub short_id: Option<String>,
    pub title: String,
    pub culprit: Option<String>,
    pub message: Option<String>,
    pub level: Option<String>,
    pub status: Option<String>,
    pub substatus: Option<String>,
    pub platform: Option<String>,
    pub environment: Option<String>,
    pub release: Option<String>,
    /// Issues: every release and environment their events were seen in (bounded), so
    /// `release:X` finds an issue seen in X, as in Sentry.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub releases: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub environments: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<(String, String)>,
    /// The instant the document is about: event time, alert change, issue last seen.
    pub timestamp: DateTime<Utc>,
    pub first_seen: Option<DateTime<Utc>>,
    pub last_seen: Option<DateTime<Utc>>,
    pub times_seen: Option<u64>,
    pub user_count: Option<u64>,
    /// How the assignee is shown (see [`Assignee::display`]); documents stored before
    /// `assigned_to` existed have only this.
    pub assignee: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assigned_to: Option<Assignee>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exception_types: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exception_values: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stack_files: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stack_functions: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stack_modules: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fingerprint: Vec<String>,
    pub alert_rule: Option<String>,
    /// Alert state (`critical`, `warning`, `resolved`, `triggered`).
    pub alert_trigger: Option<String>,
    /// Issue priority (`high`, `medium`, `low`), as current issue payloads carry it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<String>,
    /// The distinct `in_app` values of the event's stack frames (`stack.in_app:true`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stack_in_app: Vec<bool>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub comments: Vec<Comment>,
    pub url: Option<String>,
    /// The webhook that last set this document (`issue.resolved`, `error.created`, ...).
    pub source: String,
    /// An event copied from the Sentry API (a tool's read fall-back), not delivered by a
    /// webhook. Kept and searched, but left out of trends ([`crate::Scope::delivered_only`]):
    /// a fetched page of an issue's latest events is a sample, and counted beside
    /// delivered events it would read as a spike of that issue.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub fetched: bool,
    pub version: StateVersion,
    /// The Sentry object this document was built from, as received.
    pub raw: RawJson,
    /// Fields this state sends as empty (`"assignedTo": null`): a merge keeps them empty
    /// instead of refilling them from the stored copy. Only meaningful while merging.
    #[serde(skip)]
    pub cleared: Vec<&'static str>,
}

/// A Sentry object as JSON text, kept verbatim: stored, copied and compared as text, and
/// parsed only where a tool reads inside it (a stack trace, contexts). As a parsed tree it
/// cost every delivery a deep copy, a walk to store it and a walk to free it (3 kB error
/// deliveries: 11k/s with the tree, 13-14k/s without).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RawJson(Box<serde_json::value::RawValue>);

impl RawJson {
    /// The JSON text of `value`.
    pub fn of(value: &serde_json::Value) -> Self {
        serde_json::value::to_raw_value(value).map_or_else(|_| RawJson::default(), RawJson)
    }

    fn null() -> Box<serde_json::value::RawValue> {
        serde_json::value::RawValue::from_string("null".to_owned())
            .unwrap_or_else(|_| unreachable!("`null` is JSON"))
    }

    /// The parsed object (`null` if the text is somehow not JSON).
    pub fn parse(&self) -> serde_json::Value {
        serde_json::from_str(self.0.get()).unwrap_or(serde_json::Value::Null)
    }

    pub fn text(&self) -> &str {
        self.0.get()
    }
}

impl Default for RawJson {
    fn default() -> Self {
        RawJson(RawJson::null())
    }
}

/// Same text, same object: the text is what Sentry sent, copied unchanged.
impl PartialEq for RawJson {
    fn eq(&self, other: &Self) -> bool {
        self.text() == other.text()
    }
}

impl IndexDoc {
    /// A minimal document; normalisation fills in the rest.
    pub fn new(kind: DocKind, id: impl Into<String>, timestamp: DateTime<Utc>) -> Self {
        IndexDoc {
            kind,
            id: id.into(),
            organization: None,
            project: None,
            issue_id: None,
            short_id: None,
            title: String::new(),
            culprit: None,
            message: None,
            level: None,
            status: None,
            substatus: None,
            platform: None,
            environment: None,
            release: None,
            releases: Vec::new(),
            environments: Vec::new(),
            tags: Vec::new(),
            timestamp,
            first_seen: None,
            last_seen: None,
            times_seen: None,
            user_count: None,
            assignee: None,
            assigned_to: None,
            exception_types: Vec::new(),
            exception_values: Vec::new(),
            stack_files: Vec::new(),
            stack_functions: Vec::new(),
            stack_modules: Vec::new(),
            fingerprint: Vec::new(),
            alert_rule: None,
            alert_trigger: None,
            priority: None,
            stack_in_app: Vec::new(),
            comments: Vec::new(),
            url: None,
            source: String::new(),
            fetched: false,
            version: StateVersion::default(),
            raw: RawJson::default(),
            cleared: Vec::new(),
        }
    }

    /// The unique key in the index.
    pub fn key(&self) -> String {
        doc_key(self.kind, &self.id)
    }

    /// A compact JSON view without the raw payload, for listings.
    pub fn summary(&self) -> serde_json::Value {
        let mut v = serde_json::to_value(self).unwrap_or_default();
        if let Some(map) = v.as_object_mut() {
            map.remove("raw");
            map.remove("version");
            map.retain(|_, value| !value.is_null());
        }
        v
    }

    /// Fill the fields this document lacks from another copy of the same document, except
    /// those this state says are empty.
    fn fill_blanks(&mut self, other: &IndexDoc) {
        macro_rules! fill {
            ($($f:ident),*) => {$(
                if self.$f.is_none() && !self.cleared.contains(&stringify!($f)) {
                    self.$f = other.$f.clone();
                }
            )*};
        }
        fill!(
            organization,
            project,
            issue_id,
            short_id,
            culprit,
            message,
            level,
            status,
            substatus,
            platform,
            environment,
            release,
            first_seen,
            last_seen,
            times_seen,
            user_count,
            assignee,
            assigned_to,
            alert_rule,
            alert_trigger,
            priority,
            url
        );
        macro_rules! fill_vec {
            ($($f:ident),*) => {$(
                if self.$f.is_empty() { self.$f = other.$f.clone(); }
            )*};
        }
        fill_vec!(
            releases,
            environments,
            tags,
            exception_types,
            exception_values,
            stack_files,
            stack_functions,
            stack_modules,
            stack_in_app,
            fingerprint
        );
        if self.title.is_empty() {
            self.title = other.title.clone();
        }
    }
}

/// How many releases and environments an issue remembers.
const MAX_SEEN_VALUES: usize = 50;

impl IndexDoc {
    /// Add `seen`'s release and environment to the values this issue was seen in.
    fn remember_release_and_environment(&mut self, seen: &IndexDoc) {
        for (list, value) in [
            (&mut self.releases, &seen.release),
            (&mut self.environments, &seen.environment),
        ] {
            if let Some(v) = value
                && !list.contains(v)
            {
                if list.len() >= MAX_SEEN_VALUES {
                    list.remove(0);
                }
                list.push(v.clone());
            }
        }
    }
}

pub fn doc_key(kind: DocKind, id: &str) -> String {
    format!("{}:{}", kind.as_str(), id)
}

fn min_opt(a: Option<DateTime<Utc>>, b: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

fn max_opt(a: Option<DateTime<Utc>>, b: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

/// What happened to a comment.
#[derive(Debug, Clone, PartialEq)]
pub enum CommentChange {
    Upsert(Comment),
    Delete { id: String },
}

/// One change to the index, produced by normalising a webhook.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// A full state of a document: replaces the stored one unless the stored one is newer.
    Put(IndexDoc),
    /// An issue seen through one of its events: creates the issue if unknown, otherwise
    /// only moves last seen forward and fills blanks. Never changes status or assignee.
    /// Counts the event in `times_seen` when the writer saw the event for the first time.
    Observe(IndexDoc),
    /// A comment added, edited or removed on an issue.
    Comment {
        issue_id: String,
        project: Option<String>,
        change: CommentChange,
        at: DateTime<Utc>,
    },
}

impl Change {
    /// The index key this change touches.
    pub fn key(&self) -> String {
        match self {
            Change::Put(doc) | Change::Observe(doc) => doc.key(),
            Change::Comment { issue_id, .. } => doc_key(DocKind::Issue, issue_id),
        }
    }

    /// Apply this change on top of the stored document (if any). `None` means "leave the
    /// stored document as it is". `new_event` says whether the event behind an
    /// [`Change::Observe`] was new to the index (a redelivery must not count twice).
    pub fn apply(self, stored: Option<&IndexDoc>, new_event: bool) -> Option<IndexDoc> {
        let counted = |times: Option<u64>| {
            if new_event {
                Some(times.unwrap_or(0) + 1)
            } else {
                times
            }
        };
        match (self, stored) {
            (Change::Put(mut doc), None) => {
                doc.cleared.clear();
                Some(doc)
            }
            // An event does not change: the copy held, delivered or fetched, stays.
            (Change::Put(doc), Some(_)) if doc.kind == DocKind::Event && doc.fetched => None,
            (Change::Put(mut doc), Some(old)) => {
                // A delivered event replaces a fetched copy of itself whatever the versions
                // say (the fetch is stamped with the time of the request).
                let delivering = doc.kind == DocKind::Event && old.fetched;
                if old.version > doc.version && !delivering {
                    return None;
                }
                doc.fill_blanks(old);
                doc.cleared.clear();
                // Comments only ever arrive as their own changes, so the stored copy holds them.
                doc.comments = old.comments.clone();
                doc.first_seen = min_opt(doc.first_seen, old.first_seen);
                Some(doc)
            }
            (Change::Observe(mut doc), None) => {
                let seen = doc.clone();
                doc.remember_release_and_environment(&seen);
                if doc.kind == DocKind::Issue && doc.status.is_none() {
                    doc.status = Some("unresolved".into());
                }
                doc.times_seen = counted(None);
                Some(doc)
            }
            (Change::Observe(seen), Some(old)) => {
                // Stored state wins everywhere but last seen (and with it the latest release
                // and environment); the observation fills blanks.
                let mut doc = old.clone();
                if seen.last_seen >= old.last_seen {
                    doc.release = seen.release.clone().or(doc.release);
                    doc.environment = seen.environment.clone().or(doc.environment);
                }
                doc.last_seen = max_opt(old.last_seen, seen.last_seen);
                doc.timestamp = old.timestamp.max(seen.timestamp);
                doc.times_seen = counted(old.times_seen);
                doc.fill_blanks(&seen);
                doc.remember_release_and_environment(&seen);
                Some(doc)
            }
            (
                Change::Comment {
                    issue_id,
                    project,
                    change,
                    at,
                },
                stored,
            ) => {
                let mut doc = match stored {
                    Some(old) => old.clone(),
                    None => {
                        let mut stub = IndexDoc::new(DocKind::Issue, issue_id.clone(), at);
                        stub.issue_id = Some(issue_id);
                        stub.project = project;
                        stub.status = Some("unresolved".into());
                        stub.source = "comment".into();
                        stub
                    }
                };
                match change {
                    CommentChange::Upsert(c) => {
                        match doc.comments.iter_mut().find(|x| x.id == c.id) {
                            Some(existing) => *existing = c,
                            None => doc.comments.push(c),
                        }
                    }
                    CommentChange::Delete { id } => doc.comments.retain(|c| c.id != id),
                }
                Some(doc)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(secs: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(secs, 0).unwrap()
    }

    fn issue(status: &str, version: StateVersion) -> IndexDoc {
        let mut d = IndexDoc::new(DocKind::Issue, "1", t(100));
        d.status = Some(status.into());
        d.title = "boom".into();
        d.version = version;
        d
    }

    #[test]
    fn older_put_does_not_overwrite_newer_state() {
        let resolved = issue(
            "resolved",
            StateVersion {
                state_at_ms: 100,
                action_rank: 1,
                sent_at_ms: 200,
            },
        );
        let created = issue(
            "unresolved",
            StateVersion {
                state_at_ms: 100,
                action_rank: 0,
                sent_at_ms: 300,
            },
        );
        assert_eq!(Change::Put(created).apply(Some(&resolved), false), None);
    }

    #[test]
    fn newer_put_replaces_and_keeps_comments() {
        let mut old = issue(
            "unresolved",
            StateVersion {
                state_at_ms: 100,
                action_rank: 0,
                sent_at_ms: 1,
            },
        );
        old.comments.push(Comment {
            id: "c".into(),
            text: "hi".into(),
            timestamp: None,
        });
        old.environment = Some("prod".into());
        let new = issue(
            "resolved",
            StateVersion {
                state_at_ms: 100,
                action_rank: 1,
                sent_at_ms: 2,
            },
        );
        let merged = Change::Put(new).apply(Some(&old), false).unwrap();
        assert_eq!(merged.status.as_deref(), Some("resolved"));
        assert_eq!(merged.comments.len(), 1);
        assert_eq!(merged.environment.as_deref(), Some("prod"));
    }

    #[test]
    fn a_newer_state_that_sends_nobody_clears_the_assignee() {
        let mut assigned = issue(
            "unresolved",
            StateVersion {
                state_at_ms: 100,
                action_rank: 1,
                sent_at_ms: 1,
            },
        );
        assigned.assignee = Some("#lone-wolf".into());
        assigned.culprit = Some("app in main".into());
        let mut unassigned = issue(
            "unresolved",
            StateVersion {
                state_at_ms: 200,
                action_rank: 1,
                sent_at_ms: 2,
            },
        );
        unassigned.cleared = vec!["assignee", "assigned_to"];
        let merged = Change::Put(unassigned.clone())
            .apply(Some(&assigned), false)
            .unwrap();
        assert_eq!(merged.assignee, None, "sent as nobody");
        assert_eq!(merged.culprit.as_deref(), Some("app in main"), "not sent");
        assert!(merged.cleared.is_empty());
        unassigned.cleared.clear();
        let merged = Change::Put(unassigned)
            .apply(Some(&assigned), false)
            .unwrap();
        assert_eq!(merged.assignee.as_deref(), Some("#lone-wolf"), "not sent");
    }

    #[test]
    fn assignees_are_found_by_every_name_sentry_takes() {
        let team = Assignee {
            kind: AssigneeKind::Team,
            id: Some("473371".into()),
            name: Some("Hypro999".into()),
            email: None,
            username: None,
            slug: Some("lone-wolf".into()),
        };
        assert_eq!(team.display().as_deref(), Some("#lone-wolf"));
        assert_eq!(team.search_terms(), ["#lone-wolf", "team:473371"]);
        let user = Assignee {
            kind: AssigneeKind::User,
            id: Some("1".into()),
            name: Some("Jane Doe".into()),
            email: Some("Jane@Example.com".into()),
            username: Some("jane".into()),
            slug: None,
        };
        assert_eq!(
            user.search_terms(),
            ["Jane@Example.com", "jane@example.com", "jane", "user:1"]
        );
        // Documents stored before `assigned_to` existed still read.
        let old = r#"{"kind":"issue","id":"1","organization":null,"project":null,"issue_id":null,
            "short_id":null,"title":"t","culprit":null,"message":null,"level":null,"status":null,
            "substatus":null,"platform":null,"environment":null,"release":null,
            "timestamp":"2020-01-01T00:00:00Z","first_seen":null,"last_seen":null,
            "times_seen":null,"user_count":null,"assignee":"a@b.c","alert_rule":null,
            "alert_trigger":null,"url":null,"source":"issue.assigned",
            "version":{"state_at_ms":0,"action_rank":0,"sent_at_ms":0},"raw":null}"#;
        let doc: IndexDoc = serde_json::from_str(old).unwrap();
        assert_eq!(doc.assignee.as_deref(), Some("a@b.c"));
        assert_eq!(doc.assigned_to, None);
    }

    #[test]
    fn observation_moves_last_seen_but_not_status() {
        let mut old = issue("resolved", StateVersion::default());
        old.last_seen = Some(t(100));
        let mut seen = IndexDoc::new(DocKind::Issue, "1", t(500));
        seen.last_seen = Some(t(500));
        seen.release = Some("1.0".into());
        old.times_seen = Some(7);
        let merged = Change::Observe(seen.clone())
            .apply(Some(&old), true)
            .unwrap();
        assert_eq!(merged.times_seen, Some(8), "a new event counts");
        assert_eq!(
            Change::Observe(seen)
                .apply(Some(&merged), false)
                .unwrap()
                .times_seen,
            Some(8),
            "a redelivery does not"
        );
        assert_eq!(merged.status.as_deref(), Some("resolved"));
        assert_eq!(merged.last_seen, Some(t(500)));
        assert_eq!(merged.release.as_deref(), Some("1.0"));
        let mut later = IndexDoc::new(DocKind::Issue, "1", t(600));
        later.last_seen = Some(t(600));
        later.release = Some("2.0".into());
        let merged = Change::Observe(later).apply(Some(&merged), true).unwrap();
        assert_eq!(
            merged.release.as_deref(),
            Some("2.0"),
            "the latest release seen"
        );
        assert_eq!(merged.releases, ["1.0", "2.0"], "every release seen");
        assert_eq!(merged.title, "boom");
    }

    #[test]
    fn comments_are_added_edited_and_deleted() {
        let add = |text: &str| Change::Comment {
            issue_id: "1".into(),
            project: None,
            change: CommentChange::Upsert(Comment {
                id: "c1".into(),
                text: text.into(),
                timestamp: None,
            }),
            at: t(1),
        };
        let doc = add("first").apply(None, false).unwrap();
        let doc = add("edited").apply(Some(&doc), false).unwrap();
        assert_eq!(doc.comments.len(), 1);
        assert_eq!(doc.comments[0].text, "edited");
        let del = Change::Comment {
            issue_id: "1".into(),
            project: None,
            change: CommentChange::Delete { id: "c1".into() },
            at: t(2),
        };
        assert!(del.apply(Some(&doc), false).unwrap().comments.is_empty());
    }
}
