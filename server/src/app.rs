//! `serve`: open the index and the journal, start the indexer, bind both listeners, run
//! until the shutdown signal.

use std::sync::Arc;
use std::time::Instant;

use anyhow::Context as _;
use axum::serve::ListenerExt as _;
use sentry_mcp_index::{IndexWriter, WriterOptions};
use sentry_mcp_ingest::{Journal, JournalOptions, Opened, RecentIds, Secrets};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::config::{BackfillArgs, Secret, ServeArgs};
use crate::http::{self, AppState};
use crate::mcp::ToolContext;
use crate::mcp::transport::HttpOptions;
use crate::metrics::Metrics;
use crate::pipeline::{self, Backlog, Indexer, Msg};
use crate::sentry::reconcile::Reconciler;
use crate::sentry::{Sentry, WriteThrough};

/// Request-IDs remembered for duplicate detection (Sentry retries use new ids anyway).
const RECENT_IDS: usize = 100_000;

pub async fn serve(args: ServeArgs, shutdown: CancellationToken) -> anyhow::Result<()> {
    let metrics = Metrics::new();
    let secrets = Secrets::parse(
        args.webhook_secret
            .as_ref()
            .map(Secret::expose)
            .unwrap_or(""),
    );
    if secrets.is_empty() {
        tracing::warn!(
            "no webhook secret configured (SENTRY_WEBHOOK_SECRET): every webhook will get 401"
        );
    } else {
        tracing::info!(secrets = secrets.len(), "webhook secrets configured");
    }
    let sentry = Arc::new(Sentry::new(&args.sentry).context("the Sentry API settings")?);
    let demo = if args.demo {
        crate::demo::changes(chrono::Utc::now())
    } else {
        Vec::new()
    };
    if args.demo {
        tracing::info!(changes = demo.len(), "seeding demo data");
    }
    let core = Core::open(&args.data, args.retention_days, demo, &metrics)?;
    let Core {
        reader,
        journal,
        indexer,
        recent_ids,
        dead_letters,
    } = core;
    sentry.attach_store(WriteThrough {
        journal: journal.clone(),
        indexer: indexer.clone(),
    });
    let tools = Arc::new(tool_context(reader.clone(), sentry.clone(), dead_letters));
    if sentry.has_token() {
        // In the background: neither /ready nor tools/list waits on Sentry.
        let reconciler = Reconciler {
            sentry: sentry.clone(),
            reader: reader.clone(),
            metrics: metrics.clone(),
            window: retention(args.retention_days),
        };
        let interval = args.reconcile_interval;
        let shutdown = shutdown.clone();
        let indexer = indexer.clone();
        tokio::spawn(async move {
            reconciler.sentry.check_token().await;
            // Reconcile compares with the index, so let the journal replay finish first.
            while !indexer.is_ready() && !shutdown.is_cancelled() {
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
            if interval.is_zero() {
                tracing::info!("periodic reconcile is off (--reconcile-interval 0)");
                let _ = reconciler.run_once(None, &shutdown).await;
            } else {
                reconciler.run_forever(interval, shutdown).await;
            }
        });
    }

    let state = Arc::new(AppState {
        secrets,
        timestamp_window: args.timestamp_window(),
        max_body_bytes: args.max_body_bytes,
        journal,
        recent_ids,
        indexer: indexer.clone(),
        metrics: metrics.clone(),
        tools,
        mcp: HttpOptions {
            allowed_hosts: args.allowed_hosts.clone(),
            allowed_origins: args.allowed_origins.clone(),
            token: args.mcp_token.as_ref().map(|t| t.expose().to_owned()),
            max_sessions: args.mcp_max_sessions,
            max_concurrency: args.mcp_max_concurrency,
            max_request_bytes: args.mcp_max_request_bytes,
            shutdown: shutdown.clone(),
            metrics: metrics.clone(),
        },
    });
    let (mcp_addr, webhook_addr) = args.listen_addrs();
    let webhook_listener = bind(webhook_addr, "webhook").await?;
    let mcp_listener = bind(mcp_addr, "mcp").await?;
    let webhooks = axum::serve(webhook_listener, http::webhook_router(state.clone()))
        .with_graceful_shutdown(shutdown.clone().cancelled_owned());
    // MCP answers are small writes (SSE events, JSON bodies): without TCP_NODELAY a
    // response split over two writes waits out the client's delayed ACK (~40 ms).
    let mcp_listener = mcp_listener.tap_io(|tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "TCP_NODELAY");
        }
    });
    let mcp = axum::serve(mcp_listener, http::mcp_router(state.clone()))
        .with_graceful_shutdown(shutdown.clone().cancelled_owned());
    let served = async { tokio::join!(webhooks, mcp) };
    let grace = args.shutdown_grace;
    let deadline = async {
        shutdown.cancelled().await;
        tokio::time::sleep(grace).await;
    };
    tokio::select! {
        (a, b) = served => {
            a.context("webhook listener")?;
            b.context("mcp listener")?;
        }
        () = deadline => tracing::warn!(
            grace_secs = grace.as_secs(),
            "requests still in flight after the shutdown grace period: closing them"
        ),
    }
    // Everything acknowledged is already durable in the journal; committing now only
    // saves the next start a replay.
    indexer.flush().await;
    tracing::info!("shut down cleanly");
    Ok(())
}

/// `backfill`: open the data dir as `serve` does, run one reconcile pass, commit, exit.
pub async fn backfill(args: BackfillArgs, shutdown: CancellationToken) -> anyhow::Result<()> {
    let metrics = Metrics::new();
    let sentry = Arc::new(Sentry::new(&args.sentry).context("the Sentry API settings")?);
    anyhow::ensure!(
        sentry.has_token(),
        "backfill reads from the Sentry API: set SENTRY_AUTH_TOKEN (or --access-token)"
    );
    let since = match args.since.as_deref() {
        Some(s) => Some(
            crate::mcp::tools::parse_instant(s, "--since", chrono::Utc::now())
                .map_err(|e| anyhow::anyhow!("--since: {e}"))?,
        ),
        None => None,
    };
    let core = Core::open(&args.data, args.retention_days, Vec::new(), &metrics)?;
    sentry.attach_store(WriteThrough {
        journal: core.journal.clone(),
        indexer: core.indexer.clone(),
    });
    while !core.indexer.is_ready() {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let reconciler = Reconciler {
        sentry,
        reader: core.reader.clone(),
        metrics,
        window: retention(args.retention_days),
    };
    let since = since.or_else(|| reconciler.backfill_start());
    tracing::info!(since = ?since, "backfill");
    let result = reconciler.run_once(since, &shutdown).await;
    core.indexer.flush().await;
    let report = result.map_err(|e| anyhow::anyhow!("backfill failed: {e}"))?;
    println!("{}", serde_json::to_string(&report)?);
    Ok(())
}

fn retention(days: u32) -> chrono::Duration {
    chrono::Duration::try_days(i64::from(days.max(1))).unwrap_or(chrono::Duration::MAX)
}

/// The data dir opened for writing: the index, the journal (replayed into the indexer) and
/// the indexing thread.
struct Core {
    reader: sentry_mcp_index::IndexReader,
    journal: Journal<Vec<sentry_mcp_index::Change>>,
    indexer: Indexer,
    recent_ids: RecentIds,
    dead_letters: crate::dead_letter::DeadLetters,
}

impl Core {
    fn open(
        data: &crate::config::DataDirArg,
        retention_days: u32,
        demo: Vec<sentry_mcp_index::Change>,
        metrics: &Arc<Metrics>,
    ) -> anyhow::Result<Core> {
        let index_dir = data.index_dir();
        let writer = IndexWriter::open(&index_dir, &WriterOptions::default())
            .with_context(|| format!("opening index in {}", index_dir.display()))?;
        let reader = writer.reader();
        let dead_letters = crate::dead_letter::DeadLetters::new(&data.data_dir);
        let (tx, rx) = std::sync::mpsc::sync_channel(pipeline::QUEUE);
        let sink = tx.clone();
        let fsync_metrics = metrics.clone();
        let options = JournalOptions {
            on_fsync: Some(Arc::new(move |took, records| {
                fsync_metrics.fsync(took, records)
            })),
            reserve_bytes: data.disk_reserve_mib.saturating_mul(1024 * 1024),
            ..JournalOptions::default()
        };
        let journal_dir = data.journal_dir();
        let Opened { journal, replay } = Journal::open(
            &journal_dir,
            writer.checkpoint(),
            options,
            move |seq, changes| {
                let _ = sink.send(Msg::Apply {
                    seq: Some(seq),
                    changes,
                    acked_at: Some(Instant::now()),
                });
            },
        )
        .with_context(|| format!("opening journal in {}", journal_dir.display()))?;
        let recent_ids = RecentIds::new(RECENT_IDS);
        for id in replay
            .iter()
            .filter_map(|r| r.delivery.request_id.as_deref())
        {
            recent_ids.insert(id);
        }
        tracing::info!(records = replay.len(), checkpoint = ?writer.checkpoint(), "journal opened");
        let indexer = Indexer::start(
            writer,
            Backlog { replay, demo },
            rx,
            tx,
            journal.clone(),
            dead_letters.clone(),
            metrics.clone(),
            retention_days,
        )?;
        Ok(Core {
            reader,
            journal,
            indexer,
            recent_ids,
            dead_letters,
        })
    }
}

/// What every MCP tool call can use, for `serve` and `stdio` alike.
pub fn tool_context(
    reader: sentry_mcp_index::IndexReader,
    sentry: Arc<Sentry>,
    dead_letters: crate::dead_letter::DeadLetters,
) -> ToolContext {
    ToolContext {
        reader,
        organization: sentry.default_org().map(str::to_owned),
        sentry,
        started_at: chrono::Utc::now(),
        dead_letters,
    }
}

async fn bind(addr: std::net::SocketAddr, name: &str) -> anyhow::Result<TcpListener> {
    let listener = TcpListener::bind(addr)
        .await
        .with_context(|| format!("binding {name} listener on {addr}"))?;
    let local = listener.local_addr()?;
    tracing::info!(listener = name, addr = %local, "listening");
    Ok(listener)
}
