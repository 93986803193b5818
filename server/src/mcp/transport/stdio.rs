//! `sentry-mcp stdio`: MCP over stdin/stdout for desktop clients (Claude Desktop, the MCP
//! Inspector's stdio mode, ...). It answers from a data dir's index read-only, so it can
//! run beside the server that writes it; new commits are picked up every half second.
//! stdout carries only MCP messages: logs go to stderr.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use rmcp::ServiceExt;
use sentry_mcp_index::{IndexError, IndexReader};

use crate::config::{Secret, StdioArgs};
use crate::mcp::SentryMcp;

/// How often the index is reopened to see the writer's new commits.
const RELOAD: Duration = Duration::from_millis(500);

pub fn run(args: &StdioArgs) -> anyhow::Result<()> {
    let index_dir = args.data.index_dir();
    let reader = IndexReader::open(&index_dir).map_err(|e| match e {
        IndexError::Missing(_) => anyhow::anyhow!(
            "no index in {} yet: run `sentry-mcp --data-dir {}` (add --demo for sample data) once to create it",
            index_dir.display(),
            args.data.data_dir.display()
        ),
        e => anyhow::Error::new(e).context(format!("opening index in {}", index_dir.display())),
    })?;
    let ctx = Arc::new(crate::app::tool_context(
        reader.clone(),
        args.sentry.organization.clone(),
        args.sentry.access_token.as_ref().map(Secret::expose),
    ));
    std::thread::Builder::new()
        .name("index-reload".into())
        .spawn(move || {
            loop {
                std::thread::sleep(RELOAD);
                if let Err(e) = reader.reload() {
                    tracing::warn!(error = %e, "reloading the index failed");
                }
            }
        })?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        tracing::info!(index = %index_dir.display(), "serving MCP on stdin/stdout");
        let running = SentryMcp::new(ctx)
            .serve(rmcp::transport::stdio())
            .await
            .context("MCP initialization over stdio")?;
        let reason = running.waiting().await?;
        tracing::info!(?reason, "stdin closed, exiting");
        Ok(())
    })
}
