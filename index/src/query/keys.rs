//! The one table of search keys the local index knows: each key's name, aliases, value
//! type, where it is answered from, and help text. The parser types keys from it
//! ([`super::parse::ParseOptions::for_index`]), the planner maps keys to fields with it,
//! and "did you mean" hints suggest its names.

use tantivy::schema::Field;

use crate::schema::Fields;

/// What a key's values are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueType {
    /// Exact text (wildcards allowed).
    Text,
    /// Tokenized prose: words in order.
    Prose,
    /// `-24h`, `2024-01-31`, `>=2024-01-31T10:00:00`.
    Date,
    /// `>10`, `5k`, `[1, 2]`.
    Number,
    /// `true` / `false` / `1` / `0`.
    Boolean,
    /// Release versions compared in semver order (`release.version:>1.2`).
    Version,
}

/// Which values a text key takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Values {
    Any,
    /// Sentry refuses anything else (`issue.category:hellboy`).
    Closed(&'static [&'static str]),
    /// The usual values: anything else is searched, but a query that finds nothing says
    /// which values there are (`level:errr`).
    Usual(&'static [&'static str]),
    /// An id of this shape; anything else is refused (`id:deadbeef`).
    Id(IdShape),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdShape {
    /// An event id (32 hex characters, dashes allowed) or a numeric issue or alert id.
    EventOrNumber,
    /// 32 hex characters (trace ids), dashes allowed.
    Hex32,
}

/// A part of a release (`package@version+build`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReleasePart {
    Package,
    Version,
    Build,
}

/// Where a key is answered from.
#[derive(Debug, Clone, Copy)]
pub enum Source {
    /// One index field.
    Field(fn(&Fields) -> Field),
    /// Any of several prose fields.
    AnyOf(&'static [fn(&Fields) -> Field]),
    /// Sentry's `handled` tag (`yes`/`no`); `inverted` for `error.unhandled`.
    Handled { inverted: bool },
    /// A part of the release field.
    Release(ReleasePart),
    /// The tag of the same name: a known key, but stored as a tag.
    Tag,
    /// Nothing the index holds answers it; the text says why and what to use instead.
    Never(&'static str),
}

/// One known key.
#[derive(Debug, Clone, Copy)]
pub struct KeyDef {
    pub name: &'static str,
    pub aliases: &'static [&'static str],
    pub ty: ValueType,
    pub values: Values,
    pub source: Source,
    pub help: &'static str,
}

impl KeyDef {
    /// The name and every alias.
    pub fn spellings(&self) -> impl Iterator<Item = &'static str> + use<> {
        std::iter::once(self.name).chain(self.aliases.iter().copied())
    }
}

pub const LEVELS: &[&str] = &["fatal", "error", "warning", "info", "debug", "sample"];
pub const STATUSES: &[&str] = &["unresolved", "resolved", "ignored"];
pub const SUBSTATUSES: &[&str] = &[
    "ongoing",
    "escalating",
    "regressed",
    "new",
    "archived_until_escalating",
    "archived_until_condition_met",
    "archived_forever",
];
pub const PRIORITIES: &[&str] = &["high", "medium", "low"];
/// Sentry's issue categories, older and newer taxonomies.
pub const CATEGORIES: &[&str] = &[
    "error",
    "performance",
    "profile",
    "cron",
    "replay",
    "feedback",
    "uptime",
    "metric",
    "metric_alert",
    "outage",
    "db_query",
    "http_client",
    "frontend",
    "mobile",
    "ai_detected",
];

const fn key(
    name: &'static str,
    aliases: &'static [&'static str],
    ty: ValueType,
    source: Source,
    help: &'static str,
) -> KeyDef {
    KeyDef {
        name,
        aliases,
        ty,
        values: Values::Any,
        source,
        help,
    }
}

const fn with(mut def: KeyDef, values: Values) -> KeyDef {
    def.values = values;
    def
}

use Source::{Field as F, Never};
use ValueType::{Boolean, Date, Number, Prose, Text, Version};

/// Every key the index knows.
pub static KEYS: &[KeyDef] = &[
    key(
        "kind",
        &[],
        Text,
        F(|f| f.kind),
        "document kind: issue, event, alert or record",
    ),
    with(
        key(
            "id",
            &[],
            Text,
            F(|f| f.id),
            "event id (32 hex) or numeric issue/alert id",
        ),
        Values::Id(IdShape::EventOrNumber),
    ),
    key(
        "organization",
        &["organization.slug"],
        Text,
        F(|f| f.organization),
        "organization slug",
    ),
    key(
        "project",
        &["project.name", "project.slug"],
        Text,
        F(|f| f.project),
        "project slug",
    ),
    key(
        "issue",
        &["issue.id", "issue_id", "group_id"],
        Text,
        F(|f| f.issue_id),
        "numeric issue id",
    ),
    key(
        "shortId",
        &["short_id", "issue.short_id"],
        Text,
        F(|f| f.short_id),
        "short id like PROJ-123",
    ),
    with(
        key("level", &[], Text, F(|f| f.level), "event level"),
        Values::Usual(LEVELS),
    ),
    with(
        key(
            "status",
            &[],
            Text,
            F(|f| f.status),
            "issue status (also is:)",
        ),
        Values::Usual(STATUSES),
    ),
    with(
        key(
            "substatus",
            &[],
            Text,
            F(|f| f.substatus),
            "issue substatus (also is:)",
        ),
        Values::Usual(SUBSTATUSES),
    ),
    with(
        key(
            "issue.priority",
            &["priority"],
            Text,
            F(|f| f.priority),
            "issue priority",
        ),
        Values::Closed(PRIORITIES),
    ),
    with(
        key(
            "issue.category",
            &[],
            Text,
            Never(
                "issue categories are not sent in webhooks; the local index holds error issues and their events, so leave issue.category out, or use kind:issue",
            ),
            "issue category",
        ),
        Values::Closed(CATEGORIES),
    ),
    key(
        "platform",
        &["platform.name"],
        Text,
        F(|f| f.platform),
        "platform, like python",
    ),
    key(
        "environment",
        &[],
        Text,
        F(|f| f.environment),
        "environment, any an issue was seen in",
    ),
    key(
        "release",
        &["sentry:release"],
        Text,
        F(|f| f.release),
        "release, any an issue was seen in; release:latest",
    ),
    key(
        "release.version",
        &[],
        Version,
        Source::Release(ReleasePart::Version),
        "version of package@version+build, compared in semver order",
    ),
    key(
        "release.build",
        &[],
        Version,
        Source::Release(ReleasePart::Build),
        "build of package@version+build",
    ),
    key(
        "release.package",
        &[],
        Text,
        Source::Release(ReleasePart::Package),
        "package of package@version+build",
    ),
    key(
        "release.stage",
        &[],
        Text,
        Never(
            "release stages (adopted, low adoption, replaced) come from Sentry's release health, which webhooks do not send; use release:<version> or release:latest instead",
        ),
        "release adoption stage",
    ),
    key(
        "assigned",
        &["assignee", "assigned_to", "assigned_or_suggested"],
        Text,
        F(|f| f.assignee),
        "assignee email or name; assigned:none",
    ),
    key(
        "bookmarks",
        &["bookmarked_by"],
        Text,
        Never(
            "bookmarks belong to Sentry users, and webhooks do not say who bookmarked what; use list_issues with assigned:<email> or is:unresolved instead",
        ),
        "who bookmarked the issue",
    ),
    key(
        "error.type",
        &["exception.type"],
        Text,
        F(|f| f.exception_type),
        "exception type",
    ),
    key(
        "error.value",
        &["exception.value"],
        Prose,
        F(|f| f.exception_value),
        "exception message",
    ),
    key(
        "stack.filename",
        &["stack.abs_path"],
        Text,
        F(|f| f.stack_filename),
        "a stack frame's file",
    ),
    key(
        "stack.function",
        &[],
        Text,
        F(|f| f.stack_function),
        "a stack frame's function",
    ),
    key(
        "stack.module",
        &["stack.package"],
        Text,
        F(|f| f.stack_module),
        "a stack frame's module",
    ),
    key(
        "stack.in_app",
        &[],
        Boolean,
        F(|f| f.stack_in_app),
        "whether the event has an in-app frame (true) or a frame not in app (false)",
    ),
    key(
        "error.handled",
        &[],
        Boolean,
        Source::Handled { inverted: false },
        "whether the error was handled",
    ),
    key(
        "error.unhandled",
        &[],
        Boolean,
        Source::Handled { inverted: true },
        "whether the error was unhandled",
    ),
    key(
        "fingerprint",
        &[],
        Text,
        F(|f| f.fingerprint),
        "grouping fingerprint",
    ),
    key(
        "alert.rule",
        &["alert_rule"],
        Text,
        F(|f| f.alert_rule),
        "alert rule name",
    ),
    key(
        "alert.trigger",
        &["alert_trigger"],
        Text,
        F(|f| f.alert_trigger),
        "alert state",
    ),
    with(
        key(
            "trace",
            &["trace.id"],
            Text,
            Source::Tag,
            "trace id (32 hex)",
        ),
        Values::Id(IdShape::Hex32),
    ),
    key("title", &[], Prose, F(|f| f.title), "issue or event title"),
    key(
        "culprit",
        &["transaction"],
        Prose,
        F(|f| f.culprit),
        "culprit (function or transaction)",
    ),
    key(
        "message",
        &[],
        Prose,
        Source::AnyOf(&[|f| f.message, |f| f.title]),
        "message or title",
    ),
    key(
        "firstSeen",
        &["first_seen", "age"],
        Date,
        F(|f| f.first_seen),
        "when the issue was first seen",
    ),
    key(
        "lastSeen",
        &["last_seen"],
        Date,
        F(|f| f.last_seen),
        "when the issue was last seen",
    ),
    key(
        "timestamp",
        &["event.timestamp", "time"],
        Date,
        F(|f| f.timestamp),
        "event time (issues: last seen)",
    ),
    key(
        "timesSeen",
        &["times_seen"],
        Number,
        F(|f| f.times_seen),
        "events in the issue",
    ),
    key(
        "userCount",
        &["user_count", "users"],
        Number,
        F(|f| f.user_count),
        "users affected by the issue",
    ),
];

/// The key spelled `name` (its name or an alias), if the index knows it.
pub fn lookup(name: &str) -> Option<&'static KeyDef> {
    KEYS.iter().find(|k| k.spellings().any(|s| s == name))
}

/// Every spelling of every key of type `ty`.
pub fn spellings_of(ty: ValueType) -> impl Iterator<Item = &'static str> {
    KEYS.iter()
        .filter(move |k| k.ty == ty)
        .flat_map(KeyDef::spellings)
}

/// The spelling within two edits of `name` (case-insensitive) among `candidates`, if any.
pub fn closest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let lower = name.to_ascii_lowercase();
    candidates
        .into_iter()
        .map(|k| (edit_distance(&lower, &k.to_ascii_lowercase()), k))
        .filter(|(d, _)| *d <= 2)
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

/// The known key `name` most likely meant.
pub fn closest_key(name: &str) -> Option<&'static str> {
    closest(name, KEYS.iter().flat_map(KeyDef::spellings))
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

/// Whether `value` (unescaped, without wildcards) has the id shape.
pub fn id_fits(shape: IdShape, value: &str) -> bool {
    let hex32 = {
        let hex: String = value.chars().filter(|c| *c != '-').collect();
        hex.len() == 32 && hex.chars().all(|c| c.is_ascii_hexdigit())
    };
    match shape {
        IdShape::Hex32 => hex32,
        // Our own record and alert ids (`event-alert:...`) are not hex: let them through.
        IdShape::EventOrNumber => {
            hex32
                || value.chars().all(|c| c.is_ascii_digit())
                || !value.chars().all(|c| c.is_ascii_hexdigit() || c == '-')
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spellings_are_unique() {
        let mut seen = std::collections::HashSet::new();
        for k in KEYS {
            for s in k.spellings() {
                assert!(seen.insert(s), "{s} is in the table twice");
            }
        }
    }

    #[test]
    fn ids_are_checked_by_shape() {
        assert!(id_fits(IdShape::EventOrNumber, "4100002"));
        assert!(id_fits(
            IdShape::EventOrNumber,
            "aaaa0000000000000000000000000001"
        ));
        assert!(id_fits(IdShape::EventOrNumber, "event-alert:x"));
        assert!(!id_fits(IdShape::EventOrNumber, "deadbeef"));
        assert!(!id_fits(IdShape::Hex32, "abc"));
        assert!(id_fits(
            IdShape::Hex32,
            "a0b1c2d3-e4f5-a6b7-c8d9-e0f1a2b3c4d5"
        ));
    }
}
