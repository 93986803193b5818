//! Set-up shared by the unit tests: a writer on a fresh index on disk, and fixed instants.

use chrono::{DateTime, Utc};

use crate::{IndexWriter, WriterOptions};

/// A writer on an empty index in a temporary directory (kept while the guard lives).
pub(crate) fn fresh_writer() -> (tempfile::TempDir, IndexWriter) {
    let dir = tempfile::tempdir().unwrap();
    let writer = IndexWriter::open(dir.path(), &WriterOptions::default()).unwrap();
    (dir, writer)
}

/// The instant `rfc3339` names.
pub(crate) fn at(rfc3339: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(rfc3339)
        .unwrap()
        .with_timezone(&Utc)
}
