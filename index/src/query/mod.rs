//! From a user's query string to a tantivy query: [`parse_for_index`], then
//! [`plan::plan`]; everything that answers from the index goes through both
//! (`IndexReader::planned_within` ANDs the tool's scope around the result).
//!
//! - [`ast`]: the parse tree of Sentry's search syntax.
//! - [`parse`]: the query string to that tree (a pest grammar), keys typed by [`parse::ParseOptions`].
//! - [`group_filters`]: aggregate filters on groups of events (`count():>10`), split from the rest.
//! - [`keys`]: the one table of known keys (names, aliases, types, fields, help).
//! - [`plan`]: the tree to a tantivy query over the [`crate::schema`] fields.
//! - [`release`]: release names and semver comparisons (`release.version:>7.8`).

pub mod ast;
pub mod group_filters;
pub mod keys;
pub mod parse;
pub mod plan;
pub mod release;

use chrono::{DateTime, Utc};
use tantivy::{Index, Searcher};

use crate::schema::Fields;

/// A query that cannot be run, with the position (in characters) and what was expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid query at position {position}: {message}")]
pub struct QueryError {
    pub position: usize,
    pub message: String,
}

impl QueryError {
    pub fn new(position: usize, message: impl Into<String>) -> Self {
        QueryError {
            position,
            message: message.into(),
        }
    }
}

/// Which dialect a query is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum QueryMode {
    /// The issue stream: terms are ANDed, `OR` and parentheses are refused.
    #[default]
    Issues,
    /// Event search (Discover): `AND`, `OR` and parentheses are allowed.
    Events,
}

/// What planning needs besides the query string.
pub struct PlanContext<'a> {
    pub fields: &'a Fields,
    pub index: &'a Index,
    /// Used to resolve `release:latest`.
    pub searcher: &'a Searcher,
    /// Anchors relative dates.
    pub now: DateTime<Utc>,
    pub mode: QueryMode,
    /// The prose fields free text searches: those of the kinds in scope.
    pub text_fields: Vec<tantivy::schema::Field>,
}

/// Keys of `query` that are not index fields (searched as tags, as in Sentry), each with
/// the known key it most likely meant. Empty when the query does not parse.
pub fn unknown_keys(query: &str, now: DateTime<Utc>) -> Vec<(String, Option<&'static str>)> {
    match parse_for_index(query, now) {
        Ok(tokens) => plan::unknown_keys(&tokens, &Fields::new()),
        Err(_) => Vec::new(),
    }
}

/// Why a query may have matched nothing, one sentence each: keys that are probably typos
/// (`levle`), and values a key does not usually take (`level:errr`). Empty when the query
/// does not parse or nothing looks wrong.
pub fn hints(query: &str, now: DateTime<Utc>) -> Vec<String> {
    let Ok(tokens) = parse_for_index(query, now) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (key, suggestion) in plan::unknown_keys(&tokens, &Fields::new()) {
        out.push(match suggestion {
            Some(s) => format!(
                "`{key}` is not a known key, so it was searched as a tag (did you mean `{s}`?)."
            ),
            None => format!("`{key}` is not a known key, so it was searched as a tag."),
        });
    }
    for (key, value, usual, suggestion) in plan::unusual_values(&tokens) {
        let mut hint = format!(
            "`{value}` is not a usual `{key}` value ({})",
            usual.join(", ")
        );
        if let Some(s) = suggestion {
            hint.push_str(&format!("; did you mean `{key}:{s}`?"));
        } else {
            hint.push('.');
        }
        out.push(hint);
    }
    out
}

/// Notes to show beside any answer to `query`: filters the index cannot answer (which
/// match nothing) and filters it answers approximately. Empty when the query does not parse.
pub fn notes(query: &str, now: DateTime<Utc>) -> Vec<String> {
    match parse_for_index(query, now) {
        Ok(tokens) => plan::notes(&tokens),
        Err(_) => Vec::new(),
    }
}

/// Parse `query` with the keys the index knows, relative dates anchored at `now`.
pub fn parse_for_index(query: &str, now: DateTime<Utc>) -> Result<Vec<ast::Token>, QueryError> {
    // The key tables are the same for every query: built once, not per call (a tool call
    // parses several queries, and building them cost more than parsing).
    static KEYS: std::sync::LazyLock<parse::ParseOptions> =
        std::sync::LazyLock::new(|| parse::ParseOptions::for_index(DateTime::UNIX_EPOCH));
    parse::parse_at(query, &KEYS, now)
}
