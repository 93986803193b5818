//! The local Sentry index: what gets stored, how it is upserted, and how it is queried.
//!
//! - [`document`]: [`IndexDoc`], the one document shape for issues, events, alerts and other
//!   webhook records, the [`Change`]s that ingestion produces, and the "newer state wins" merge.
//! - [`schema`]: the tantivy schema and the mapping from an [`IndexDoc`] to indexed fields.
//! - [`writer`]: [`IndexWriter`], the single writer: upserts by Sentry id, commits with the
//!   journal checkpoint as payload, applies retention.
//! - [`reader`]: [`IndexReader`], read-only searches, usable from another process.
//! - [`query`]: the one function that turns a user query string into a tantivy query.
//! - [`search`]: pages of results with a scope, a sort and stable cursors; `top` collects a
//!   page and the match count in one pass.
//! - [`aggregate`]: counts by field, time histograms, first-seen times, on fast fields.
//! - [`groups`]: events grouped by issue, with aggregate filters on the groups (`count():>10`).
//! - [`synth`]: a deterministic generator of realistic documents for benchmarks.

#![cfg_attr(test, allow(clippy::disallowed_methods))] // tests build fixed times

/// Decompressed blocks of stored documents kept per segment (tantivy keeps 100): a page
/// loads at most a few dozen documents, and each block held is heap that idles.
const DOC_STORE_CACHE_BLOCKS: usize = 8;

pub mod aggregate;
mod all_of;
mod blocks;
mod by_ordinal;
mod columns;
pub mod document;
pub mod groups;
mod loaded;
mod merge;
mod packed;
pub mod query;
mod range;
pub mod reader;
mod rebuild;
pub mod schema;
pub mod search;
pub mod synth;
mod term_filter;
#[cfg(test)]
mod testing;
mod top;
pub mod writer;

pub use aggregate::{Bucket, Filter, GroupBy, TimeBucket};
pub use document::{
    Assignee, AssigneeKind, Change, Comment, CommentChange, DocKind, IndexDoc, RawJson,
    StateVersion,
};
pub use groups::{IssueGroup, IssueGroups};
pub use query::{QueryError, QueryMode};
pub use reader::{IndexReader, SearchHit};
pub use search::{Scope, SearchPage, SearchRequest, SortBy};
pub use writer::{IndexWriter, WriterOptions};

use std::path::PathBuf;

/// Everything that can go wrong in the index.
#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    #[error("index at {path} is not readable: {source}")]
    Open {
        path: PathBuf,
        #[source]
        source: tantivy::TantivyError,
    },
    #[error("no index at {0} yet (start the server with this data dir first)")]
    Missing(PathBuf),
    #[error(
        "index at {0} has a schema this version cannot read (no stored documents); move it away and let the service start fresh"
    )]
    Incompatible(PathBuf),
    #[error(
        "index at {0} was written by another version of sentry-mcp; start this version's server on it once to rebuild it"
    )]
    OtherVersion(PathBuf),
    #[error("index is locked by another writer at {0}")]
    Locked(PathBuf),
    /// The lock file could not be made: a read-only, full or foreign-owned volume.
    #[error("index at {path} cannot be written; the data dir must be writable")]
    NotWritable {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Query(#[from] QueryError),
    /// A page cursor that this index did not hand out (or for another sort).
    #[error("{0}")]
    Cursor(String),
    #[error("index operation failed: {0}")]
    Tantivy(#[from] tantivy::TantivyError),
    #[error("aggregation request rejected: {0}")]
    Aggregation(String),
    #[error("stored document is corrupt: {0}")]
    CorruptDoc(#[from] serde_json::Error),
}

pub type Result<T, E = IndexError> = std::result::Result<T, E>;
