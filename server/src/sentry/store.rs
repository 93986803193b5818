//! Writing what the Sentry API answered into the index the way a webhook is written: as a
//! journal record (resource `sentry_api`), normalised by the same code, so it survives a
//! kill -9 and obeys the same "newer state wins" rule.

use chrono::{DateTime, Utc};
use sentry_mcp_index::Change;
use sentry_mcp_ingest::{Delivery, Journal, normalise};
use serde_json::{Value, json};

use crate::pipeline::Indexer;

/// The journal resource of records fetched from the API.
pub const RESOURCE: &str = "sentry_api";

/// Why a fetched object was not stored.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("Sentry's answer could not be normalised: {0}")]
    Shape(#[from] sentry_mcp_ingest::NormaliseError),
    #[error("the journal could not record it: {0}")]
    Journal(#[from] sentry_mcp_ingest::JournalError),
}

/// The journal and the indexer of the serving process.
#[derive(Clone)]
pub struct WriteThrough {
    pub journal: Journal<Vec<Change>>,
    pub indexer: Indexer,
}

/// What kind of fetch a record holds (its `action`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fetch {
    /// The answer to a mutation.
    Updated,
    /// A read fall-back.
    Fetched,
    /// A reconcile page.
    Reconciled,
}

impl Fetch {
    fn action(self) -> &'static str {
        match self {
            Fetch::Updated => "updated",
            Fetch::Fetched => "fetched",
            Fetch::Reconciled => "reconciled",
        }
    }
}

impl WriteThrough {
    /// Journal `data` (`{"organization", "issue" | "issues" | "event", ...}`) fetched at
    /// `fetched_at`; durable when this returns. Returns how many index changes it implies.
    pub async fn store(
        &self,
        fetch: Fetch,
        data: Value,
        fetched_at: DateTime<Utc>,
    ) -> Result<usize, StoreError> {
        let delivery = Delivery {
            resource: RESOURCE.into(),
            request_id: None,
            sent_at_ms: Some(fetched_at.timestamp_millis()),
            received_at: fetched_at,
        };
        let body = serde_json::to_vec(&json!({"action": fetch.action(), "data": data}))
            .unwrap_or_default();
        let outcome = normalise(&delivery, &body)?;
        let changes = outcome.changes.len();
        self.journal.append(delivery, body, outcome.changes).await?;
        Ok(changes)
    }

    /// Wait until everything stored so far is searchable.
    pub async fn searchable(&self) -> bool {
        self.indexer.flush().await
    }
}
