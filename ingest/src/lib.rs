//! Getting Sentry webhooks safely from the wire into index changes.
//!
//! - [`signature`]: the configured client secrets and constant-time HMAC verification.
//! - [`dedup`]: recently seen `Request-ID`s, so a repeated delivery is not journaled twice.
//! - [`delivery`]: what we keep about one webhook delivery besides its body, and the
//!   timestamp freshness check.
//! - [`journal`]: the durable, checksummed, group-committed log of verified deliveries,
//!   replayed on start and trimmed after each index checkpoint.
//! - [`normalise`]: a webhook body to the [`sentry_mcp_index::Change`]s it implies.
//! - [`stack`]: one walk over an event's exceptions, threads and frames, for indexing and
//!   for the tools that print stack traces.
//!
//! Nothing here knows about HTTP or MCP; the server crate wires these pieces together.

#![cfg_attr(test, allow(clippy::disallowed_methods))] // tests build fixed times

pub mod dedup;
pub mod delivery;
pub mod journal;
pub mod normalise;
pub mod signature;
pub mod stack;

pub use dedup::RecentIds;
pub use delivery::{Delivery, TimestampError, check_timestamp};
pub use journal::{
    FsyncObserver, Journal, JournalError, JournalOptions, Opened, Record, WriteError,
};
pub use normalise::{NormaliseError, Outcome, normalise};
pub use signature::{Secrets, SignatureError};
