//! The MCP transports. Every transport serves the same [`SentryMcp`] handler.
//!
//! - [`http`]: streamable HTTP at `/mcp` (rmcp's service).

pub mod http;
