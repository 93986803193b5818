//! The `sentry-mcp` binary: parses the command line, sets up logging and runs a command.

#![cfg_attr(test, allow(clippy::disallowed_methods))] // tests build fixed times

mod app;
mod config;
mod dead_letter;
mod demo;
mod http;
mod mcp;
mod memory;
mod metrics;
mod pipeline;
mod search;
mod sentry;

use clap::Parser;
use tokio_util::sync::CancellationToken;
use tracing_subscriber::EnvFilter;

use config::{Cli, Command};

/// rmcp logs every session start at info: one line per Holmes tool call is noise.
const DEFAULT_LOG: &str = "info,rmcp=warn";

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_LOG)),
        )
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .init();
    log_panics_without_backtraces();
    let result = match cli.command {
        Some(Command::Search(args)) => search::run(&args),
        Some(Command::Stdio(args)) => mcp::transport::stdio::run(&args),
        Some(Command::Backfill(args)) => backfill(args),
        Some(Command::Serve(args)) => serve(*args),
        None => serve(cli.serve),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::from(2)
        }
    }
}

/// A panic (a bug: tools turn bad input into errors) is logged as one line with its place.
/// No backtrace unless RUST_BACKTRACE asks for one: symbolising it loads the binary's debug
/// info, which then stays resident (a demo server went from 37 MB to 174 MB after one).
fn log_panics_without_backtraces() {
    if std::env::var_os("RUST_BACKTRACE").is_some() {
        return;
    }
    std::panic::set_hook(Box::new(|info| {
        let message = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_default();
        let place = info
            .location()
            .map(|l| format!("{}:{}", l.file(), l.line()))
            .unwrap_or_default();
        let thread = std::thread::current().name().unwrap_or("?").to_owned();
        tracing::error!(%place, thread, "panicked: {message}");
    }));
}

fn serve(args: config::ServeArgs) -> anyhow::Result<()> {
    until_signal(|shutdown| app::serve(args, shutdown))
}

fn backfill(args: config::BackfillArgs) -> anyhow::Result<()> {
    until_signal(|shutdown| app::backfill(args, shutdown))
}

/// Run `main` on a multi-threaded runtime; SIGTERM or Ctrl-C cancels its token.
fn until_signal<F: std::future::Future<Output = anyhow::Result<()>>>(
    main: impl FnOnce(CancellationToken) -> F,
) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let shutdown = CancellationToken::new();
        tokio::spawn(wait_for_signal(shutdown.clone()));
        main(shutdown).await
    })
}

/// SIGTERM (Kubernetes) and Ctrl-C both start a graceful shutdown.
async fn wait_for_signal(shutdown: CancellationToken) {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("installing SIGTERM handler");
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
    tracing::info!("shutdown signal received");
    shutdown.cancel();
}
