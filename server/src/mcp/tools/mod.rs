//! The tools. Each file holds one `#[tool_router]` block; [`router`] joins them.
//!
//! - [`issues`]: `list_issues`, `get_issue`, `get_issue_events`, `get_event`.
//! - [`search`]: `search_errors`, grouped by issue.
//! - [`patterns`]: `top_errors`, `new_errors`, `error_spikes`, `error_histogram`.
//! - [`alerts`]: `list_alerts` (metric and issue alerts received).
//! - [`orgs`]: `list_organizations`, `list_projects`.
//! - [`mutations`]: `resolve_issue`, `unresolve_issue`, `assign_issue` (Sentry API).
//! - [`status`]: a cheap health check.
//! - [`common`]: windows, limits, scopes and error messages shared by all.

mod alerts;
mod args;
mod common;
mod error;
mod fetch;
mod issues;
mod mutations;
mod orgs;
mod patterns;
mod search;
mod status;

use rmcp::handler::server::router::tool::ToolRouter;

use super::SentryMcp;

pub use common::ToolResult;
pub use common::parse_instant;
pub use error::ToolError;

/// Every tool, in one router; with `read_only` the tools that change Sentry are left out.
pub fn router(read_only: bool) -> ToolRouter<SentryMcp> {
    let tools = SentryMcp::status_router()
        + SentryMcp::issues_router()
        + SentryMcp::search_router()
        + SentryMcp::patterns_router()
        + SentryMcp::alerts_router()
        + SentryMcp::orgs_router();
    if read_only {
        tools
    } else {
        tools + SentryMcp::mutations_router()
    }
}

/// For the fuzz target `fuzz/fuzz_targets/tool_args.rs` only (a crate of its own that
/// compiles this binary's modules): every tool's argument decoding, as a call runs it.
#[doc(hidden)]
#[allow(dead_code)]
pub mod fuzzing {
    use serde::de::DeserializeOwned;
    use serde_json::{Map, Value};

    use super::{ToolError, alerts, args, common, issues, mutations, orgs, patterns, search};

    /// Decodes one tool's arguments; the decoded value in `Debug` form.
    pub type Decoder = fn(Map<String, Value>) -> Result<String, ToolError>;

    fn decode<T: DeserializeOwned + std::fmt::Debug>(
        arguments: Map<String, Value>,
    ) -> Result<String, ToolError> {
        args::decode::<T>(arguments).map(|decoded| format!("{decoded:?}"))
    }

    /// Every tool that takes arguments, with the decoding its `Parameters<T>` runs.
    pub const DECODERS: &[(&str, Decoder)] = &[
        ("list_issues", decode::<issues::ListIssuesArgs>),
        ("get_issue", decode::<issues::IssueArgs>),
        ("get_issue_events", decode::<issues::IssueEventsArgs>),
        ("get_event", decode::<issues::EventArgs>),
        ("search_errors", decode::<search::SearchErrorsArgs>),
        ("top_errors", decode::<patterns::TopErrorsArgs>),
        ("new_errors", decode::<patterns::NewErrorsArgs>),
        ("error_spikes", decode::<patterns::SpikesArgs>),
        ("error_histogram", decode::<patterns::HistogramArgs>),
        ("list_alerts", decode::<alerts::ListAlertsArgs>),
        ("list_projects", decode::<orgs::ListProjectsArgs>),
        ("resolve_issue", decode::<issues::IssueArgs>),
        ("unresolve_issue", decode::<issues::IssueArgs>),
        ("assign_issue", decode::<mutations::AssignArgs>),
    ];

    /// The argument helpers every tool runs on a decoded string (periods, instants,
    /// windows, issue ids, scopes), each answering or naming the argument.
    pub fn interpret(s: &str, other: &str, now: chrono::DateTime<chrono::Utc>) {
        let _ = common::parse_period(s, "period");
        let _ = common::parse_instant(s, "since", now);
        let _ = crate::mcp::ids::parse_issue_ref(s);
        for (period, since, until) in [
            (Some(s), None, None),
            (None, Some(s), None),
            (None, None, Some(s)),
            (None, Some(s), Some(other)),
            (Some(other), None, Some(s)),
        ] {
            if let Ok(w) = common::Window::resolve(period, since, until, common::ONE_DAY, now) {
                let _ = (w.describe(now), common::human(w.length()));
            }
        }
        let _ = common::scope(&[], Some(s), Some(s), Some(other), None);
        let _ = common::no_match_hint(s, now);
    }
}
