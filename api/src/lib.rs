//! The Sentry REST API client: one place that knows how to talk to Sentry carefully.
//!
//! - [`endpoint`]: where the API is (`--host`, `--url`, an organization's region).
//! - [`client`]: authenticated requests with timeouts, retries and a per-call time budget.
//! - [`retry`]: the backoff policy and how long Sentry asks us to wait after a 429.
//! - [`link`]: `Link` header pagination.
//! - [`calls`]: the endpoints sentry-mcp uses, one method each.
//! - [`types`]: the few response shapes we read field by field, parsed leniently (self-hosted
//!   versions leave fields out); issues and events stay JSON, the index normalises them.
//! - [`error`]: what went wrong, in words an operator (or an LLM) can act on.
//!
//! Nothing here knows about the index or MCP; the token never leaves [`client`].

pub mod calls;
pub mod client;
pub mod endpoint;
pub mod error;
pub mod link;
pub mod retry;
pub mod types;

pub use calls::{IssueUpdate, IssuesQuery};
pub use client::{Client, ClientOptions, Page};
pub use endpoint::Endpoint;
pub use error::ApiError;
pub use retry::Budget;
pub use types::{EventLookup, Organization, Project, ShortIdLookup, Team};

#[cfg(test)]
mod tests;

/// Make ring the process-wide rustls provider, for other reqwest clients in the same process
/// (tests, benches): reqwest is built without a provider of its own, and [`Client`] passes its
/// own TLS config, so only clients built with `reqwest::Client::new()` need this. Idempotent.
pub fn install_default_tls_provider() {
    // An error only means a provider is installed already.
    let _ = rustls::crypto::ring::default_provider().install_default();
}
