//! From a user's query string to a tantivy query. [`compile`] is the one entry point;
//! everything that answers from the index goes through it.
//!
//! - [`ast`]: the parse tree of Sentry's search syntax.
//! - [`parse`]: the query string to a list of [`parse::Term`]s.
//! - [`plan`]: terms to a tantivy query over the [`crate::schema`] fields.

pub mod ast;
pub mod parse;
pub mod plan;

use chrono::{DateTime, Utc};
use tantivy::Index;
use tantivy::query::Query;

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

/// Parse and plan `query`. `now` anchors relative dates.
pub fn compile(
    query: &str,
    fields: &Fields,
    index: &Index,
    now: DateTime<Utc>,
) -> Result<Box<dyn Query>, QueryError> {
    let terms = parse::parse(query)?;
    plan::plan(&terms, fields, index, now)
}
