//! The command line. Every flag also reads an environment variable; defaults are named
//! constants so the README and `--help` agree.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

pub const DEFAULT_LISTEN: &str = "0.0.0.0:8000";
pub const DEFAULT_WEBHOOK_LISTEN: &str = "0.0.0.0:8080";
/// With `--demo` and no address given, listen on loopback only: a demo has no token.
pub const DEMO_LISTEN: &str = "127.0.0.1:8000";
pub const DEMO_WEBHOOK_LISTEN: &str = "127.0.0.1:8080";
pub const DEFAULT_DATA_DIR: &str = "./sentry-mcp-data";
pub const DEFAULT_RETENTION_DAYS: u32 = 30;
pub const DEFAULT_TIMESTAMP_WINDOW_SECS: u64 = 300;
pub const DEFAULT_MAX_BODY_BYTES: usize = 4 * 1024 * 1024;
pub const DEFAULT_HOST: &str = "sentry.io";
pub const DEFAULT_RECONCILE_INTERVAL: &str = "5m";
/// Twice the reconcile interval: with reconcile passing, `get_issue` never waits on Sentry.
pub const DEFAULT_REFRESH_AFTER: &str = "10m";
/// Loopback names, the bare Service name and any in-cluster Service DNS name. IP-address
/// `Host` headers are always accepted (DNS rebinding always carries a host *name*).
pub const DEFAULT_ALLOWED_HOSTS: &str = "localhost,sentry-mcp,*.svc,*.svc.cluster.local";
/// Browser origins accepted on MCP routes besides the server's own; requests without an
/// `Origin` header (every non-browser client) are not affected.
pub const DEFAULT_ALLOWED_ORIGINS: &str = "localhost,127.0.0.1,::1";
pub const DEFAULT_MCP_MAX_SESSIONS: usize = 1024;
pub const DEFAULT_MCP_MAX_CONCURRENCY: usize = 64;
pub const DEFAULT_MCP_MAX_REQUEST_BYTES: usize = 1024 * 1024;

/// sentry-mcp: Sentry webhooks into a local index, served to MCP clients.
#[derive(Debug, Parser)]
#[command(name = "sentry-mcp", version, args_conflicts_with_subcommands = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub serve: ServeArgs,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the service (the default when no subcommand is given).
    Serve(Box<ServeArgs>),
    /// Query a data dir's index and print one JSON object per matching document.
    Search(SearchArgs),
    /// Serve MCP over stdin/stdout (desktop clients), answering from a data dir's index
    /// read-only; the index must exist (run the service, or `--demo`, once first).
    Stdio(StdioArgs),
    /// Fetch issue states from the Sentry API into the data dir (the service must not be
    /// running on it), then exit. The service does the same at start and every
    /// --reconcile-interval.
    Backfill(BackfillArgs),
}

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub sentry: SentryArgs,
    /// The integration's client secret; a comma-separated list during rotation.
    #[arg(long, env = "SENTRY_WEBHOOK_SECRET", hide_env_values = true)]
    pub webhook_secret: Option<Secret>,
    #[command(flatten)]
    pub data: DataDirArg,
    /// Address of the MCP listener (inside the cluster) [default: 0.0.0.0:8000, or
    /// 127.0.0.1:8000 with --demo].
    #[arg(long, env = "SENTRY_MCP_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// Address of the webhook listener (behind the ingress) [default: 0.0.0.0:8080, or
    /// 127.0.0.1:8080 with --demo].
    #[arg(long, env = "SENTRY_MCP_WEBHOOK_LISTEN")]
    pub webhook_listen: Option<SocketAddr>,
    /// `Host` names accepted on MCP routes (DNS-rebinding protection): exact names,
    /// `*.suffix` patterns, or `*` for any. IP addresses are always accepted.
    #[arg(long, env = "SENTRY_MCP_ALLOWED_HOSTS", value_delimiter = ',', default_value = DEFAULT_ALLOWED_HOSTS)]
    pub allowed_hosts: Vec<String>,
    /// Browser `Origin`s accepted on MCP routes: host names (any scheme and port),
    /// `scheme://host[:port|:*]`, or `*`. Requests without an Origin always pass.
    #[arg(long, env = "SENTRY_MCP_ALLOWED_ORIGINS", value_delimiter = ',', default_value = DEFAULT_ALLOWED_ORIGINS)]
    pub allowed_origins: Vec<String>,
    /// Bearer token required on MCP routes (optional; /health, /ready, /metrics stay open).
    #[arg(long, env = "SENTRY_MCP_TOKEN", hide_env_values = true)]
    pub mcp_token: Option<Secret>,
    /// Most legacy SSE sessions (`GET /sse` streams) open at once.
    #[arg(long, env = "SENTRY_MCP_MAX_SESSIONS", default_value_t = DEFAULT_MCP_MAX_SESSIONS)]
    pub mcp_max_sessions: usize,
    /// Most MCP requests (other than open event streams) served at once; more wait up to 2 s
    /// for a slot, then get 503.
    #[arg(long, env = "SENTRY_MCP_MAX_CONCURRENCY", default_value_t = DEFAULT_MCP_MAX_CONCURRENCY)]
    pub mcp_max_concurrency: usize,
    /// Largest MCP request body accepted, in bytes.
    #[arg(long, env = "SENTRY_MCP_MAX_REQUEST_BYTES", default_value_t = DEFAULT_MCP_MAX_REQUEST_BYTES)]
    pub mcp_max_request_bytes: usize,
    /// Events, alerts and closed issues older than this many days are deleted.
    #[arg(long, env = "SENTRY_MCP_RETENTION_DAYS", default_value_t = DEFAULT_RETENTION_DAYS)]
    pub retention_days: u32,
    /// Webhooks whose Sentry-Hook-Timestamp is further than this from now are refused.
    #[arg(long, env = "SENTRY_MCP_TIMESTAMP_WINDOW_SECS", default_value_t = DEFAULT_TIMESTAMP_WINDOW_SECS)]
    pub timestamp_window_secs: u64,
    /// Largest webhook body accepted, in bytes.
    #[arg(long, env = "SENTRY_MCP_MAX_BODY_BYTES", default_value_t = DEFAULT_MAX_BODY_BYTES)]
    pub max_body_bytes: usize,
    /// Seed the index with a bundled sample of realistic issues, events and alerts.
    #[arg(long, env = "SENTRY_MCP_DEMO")]
    pub demo: bool,
    /// With a token: how often issue states are fetched from Sentry to catch what webhooks
    /// missed (`30s`, `5m`, `1h`; `0` turns it off). One pass also runs at start.
    #[arg(long, env = "SENTRY_MCP_RECONCILE_INTERVAL", default_value = DEFAULT_RECONCILE_INTERVAL, value_parser = parse_interval)]
    pub reconcile_interval: Duration,
    /// After SIGTERM: how long requests in flight may take to finish before the index is
    /// committed and the process exits (keep it below the pod's termination grace period).
    /// Acknowledged webhooks are on disk already either way.
    #[arg(long, env = "SENTRY_MCP_SHUTDOWN_GRACE", default_value = "20s", value_parser = parse_interval)]
    pub shutdown_grace: Duration,
}

impl ServeArgs {
    pub fn timestamp_window(&self) -> Duration {
        Duration::from_secs(self.timestamp_window_secs)
    }

    /// The MCP and webhook addresses: as given, else loopback for a demo, else every interface.
    pub fn listen_addrs(&self) -> (SocketAddr, SocketAddr) {
        let (mcp, webhook) = if self.demo {
            (DEMO_LISTEN, DEMO_WEBHOOK_LISTEN)
        } else {
            (DEFAULT_LISTEN, DEFAULT_WEBHOOK_LISTEN)
        };
        let parse = |s: &str| s.parse().unwrap_or(SocketAddr::from(([127, 0, 0, 1], 0)));
        (
            self.listen.unwrap_or_else(|| parse(mcp)),
            self.webhook_listen.unwrap_or_else(|| parse(webhook)),
        )
    }
}

#[derive(Debug, Clone, Args)]
pub struct DataDirArg {
    /// Directory holding the journal and the index (the StatefulSet volume).
    #[arg(long, env = "SENTRY_MCP_DATA_DIR", default_value = DEFAULT_DATA_DIR)]
    pub data_dir: PathBuf,
    /// Webhooks are refused (503) once the data volume has less than this many MiB free,
    /// so the index always has room to commit what was acknowledged (service, backfill).
    #[arg(long, env = "SENTRY_MCP_DISK_RESERVE_MIB", default_value_t = 64)]
    pub disk_reserve_mib: u64,
}

impl DataDirArg {
    pub fn index_dir(&self) -> PathBuf {
        self.data_dir.join("index")
    }

    pub fn journal_dir(&self) -> PathBuf {
        self.data_dir.join("journal")
    }
}

/// A secret from the command line or environment: never shown by `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl std::str::FromStr for Secret {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Secret(s.to_owned()))
    }
}

#[derive(Debug, Clone, Args)]
pub struct StdioArgs {
    #[command(flatten)]
    pub data: DataDirArg,
    #[command(flatten)]
    pub sentry: SentryArgs,
}

/// How to reach the Sentry API; shared by `serve` and `stdio`.
#[derive(Debug, Clone, Args)]
pub struct SentryArgs {
    /// Sentry API token (optional: without it the index still ingests and answers).
    #[arg(long, env = "SENTRY_AUTH_TOKEN", hide_env_values = true)]
    pub access_token: Option<Secret>,
    /// Sentry hostname, as in the official server (https is implied).
    #[arg(long, env = "SENTRY_HOST", default_value = DEFAULT_HOST)]
    pub host: String,
    /// Full Sentry base URL with scheme (self-hosted over http, tests); overrides --host.
    #[arg(long, env = "SENTRY_URL")]
    pub url: Option<String>,
    /// Default organization slug for tools that need one.
    #[arg(long, env = "SENTRY_ORG")]
    pub organization: Option<String>,
    /// Do not offer the tools that change Sentry (resolve, unresolve, assign).
    #[arg(long, env = "SENTRY_MCP_READ_ONLY")]
    pub read_only: bool,
    /// With a token: `get_issue` asks Sentry for an issue's state when nothing has confirmed
    /// the index's copy for this long: not a webhook, a fetch or a complete reconcile pass
    /// (`30s`, `5m`, `1h`; `0` never).
    #[arg(long, env = "SENTRY_MCP_REFRESH_AFTER", default_value = DEFAULT_REFRESH_AFTER, value_parser = parse_interval)]
    pub refresh_after: Duration,
}

#[derive(Debug, Clone, Args)]
pub struct BackfillArgs {
    #[command(flatten)]
    pub sentry: SentryArgs,
    #[command(flatten)]
    pub data: DataDirArg,
    /// Only issues last seen after this (`2026-11-30`, an RFC 3339 time, or `-7d`)
    /// [default: the retention window].
    #[arg(long, allow_hyphen_values = true)]
    pub since: Option<String>,
    /// The retention window, as for the service.
    #[arg(long, env = "SENTRY_MCP_RETENTION_DAYS", default_value_t = DEFAULT_RETENTION_DAYS)]
    pub retention_days: u32,
}

/// `30s`, `5m`, `2h`, a bare number of seconds, or `0` / `off` for never.
pub fn parse_interval(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    if s == "0" || s.eq_ignore_ascii_case("off") {
        return Ok(Duration::ZERO);
    }
    let (number, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: u64 = number
        .parse()
        .map_err(|_| format!("{s:?} is not an interval: use 30s, 5m, 1h or 0"))?;
    let secs = match unit {
        "" | "s" => n,
        "m" => n.saturating_mul(60),
        "h" => n.saturating_mul(3600),
        _ => return Err(format!("{s:?} is not an interval: use 30s, 5m, 1h or 0")),
    };
    Ok(Duration::from_secs(secs))
}

#[derive(Debug, Clone, Args)]
pub struct SearchArgs {
    /// Query: free text plus `key:value` filters, e.g. `level:error is:unresolved timeout`.
    pub query: String,
    #[command(flatten)]
    pub data: DataDirArg,
    /// Most documents to print.
    #[arg(long, default_value_t = 20)]
    pub limit: usize,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bare_flags_mean_serve_and_subcommands_parse() {
        let cli = Cli::try_parse_from(["sentry-mcp", "--demo", "--retention-days", "7"]).unwrap();
        assert!(cli.command.is_none());
        assert!(cli.serve.demo);
        assert_eq!(cli.serve.retention_days, 7);
        let loopback = SocketAddr::from(([127, 0, 0, 1], 8000));
        assert_eq!(
            cli.serve.listen_addrs().0,
            loopback,
            "a demo stays on loopback"
        );
        let cli = Cli::try_parse_from(["sentry-mcp"]).unwrap();
        assert_eq!(cli.serve.listen_addrs().0.to_string(), DEFAULT_LISTEN);
        let cli =
            Cli::try_parse_from(["sentry-mcp", "--demo", "--listen", "0.0.0.0:9000"]).unwrap();
        assert_eq!(
            cli.serve.listen_addrs().0.to_string(),
            "0.0.0.0:9000",
            "unless asked"
        );
        let cli =
            Cli::try_parse_from(["sentry-mcp", "search", "level:error", "--limit", "3"]).unwrap();
        let Some(Command::Search(args)) = cli.command else {
            panic!()
        };
        assert_eq!((args.query.as_str(), args.limit), ("level:error", 3));
        let cli = Cli::try_parse_from(["sentry-mcp", "stdio", "--data-dir", "/d"]).unwrap();
        let Some(Command::Stdio(args)) = cli.command else {
            panic!()
        };
        assert_eq!(args.data.data_dir, PathBuf::from("/d"));
        let cli = Cli::try_parse_from(["sentry-mcp", "backfill", "--since", "-7d"]).unwrap();
        let Some(Command::Backfill(args)) = cli.command else {
            panic!()
        };
        assert_eq!(args.since.as_deref(), Some("-7d"));
    }

    #[test]
    fn intervals_parse() {
        assert_eq!(parse_interval("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_interval("45"), Ok(Duration::from_secs(45)));
        assert_eq!(parse_interval("off"), Ok(Duration::ZERO));
        assert!(parse_interval("5 minutes").is_err());
        let cli = Cli::try_parse_from(["sentry-mcp"]).unwrap();
        assert_eq!(cli.serve.reconcile_interval, Duration::from_secs(300));
        assert_eq!(cli.serve.sentry.refresh_after, Duration::from_secs(600));
    }

    #[test]
    fn the_mcp_token_is_never_shown() {
        let cli = Cli::try_parse_from(["sentry-mcp", "--mcp-token", "s3cr3t-value"]).unwrap();
        assert_eq!(
            cli.serve.mcp_token.as_ref().unwrap().expose(),
            "s3cr3t-value"
        );
        assert!(!format!("{cli:?}").contains("s3cr3t-value"));
        let cli = Cli::try_parse_from([
            "sentry-mcp",
            "--webhook-secret",
            "wh-s3cr3t",
            "--access-token",
            "api-s3cr3t",
        ])
        .unwrap();
        let shown = format!("{cli:?}");
        assert!(
            !shown.contains("wh-s3cr3t") && !shown.contains("api-s3cr3t"),
            "{shown}"
        );
    }
}
