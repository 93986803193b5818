//! From a user's query string to a tantivy query. [`compile`] is the one entry point;
//! everything that answers from the index goes through it.
//!
//! - [`ast`]: the parse tree of Sentry's search syntax.
//! - [`parse`]: the query string to that tree (a pest grammar), keys typed by [`parse::ParseOptions`].
//! - [`plan`]: the tree to a tantivy query over the [`crate::schema`] fields.

pub mod ast;
pub mod parse;
pub mod plan;

use chrono::{DateTime, Utc};
use tantivy::query::Query;
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
}

/// Keys of `query` that are not index fields (searched as tags, as in Sentry), each with
/// the known key it most likely meant. Empty when the query does not parse.
pub fn unknown_keys(query: &str, now: DateTime<Utc>) -> Vec<(String, Option<&'static str>)> {
    match parse::parse(query, &parse::ParseOptions::for_index(now)) {
        Ok(tokens) => plan::unknown_keys(&tokens, &Fields::new()),
        Err(_) => Vec::new(),
    }
}

/// Parse and plan `query`.
pub fn compile(query: &str, ctx: &PlanContext) -> Result<Box<dyn Query>, QueryError> {
    let tokens = parse::parse(query, &parse::ParseOptions::for_index(ctx.now))?;
    plan::plan(&tokens, ctx)
}
