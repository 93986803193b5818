//! `sentry-mcp stdio`: MCP over stdin/stdout for desktop clients (Claude Desktop, the MCP
//! Inspector's stdio mode, ...). It answers from a data dir's index read-only, so it can
//! run beside the server that writes it; new commits are picked up every half second.
//! stdout carries only MCP messages: logs go to stderr.
//!
//! Each line of stdin is checked by [`super::incoming`] before rmcp reads it: a line that
//! is not JSON, or not JSON-RPC, or a request with invalid params is answered with its
//! JSON-RPC error on stdout (rmcp's own stdio transport drops unparsable lines without a
//! word). One writer task owns stdout, so these answers and rmcp's never interleave.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use rmcp::ServiceExt;
use rmcp::model::{ClientJsonRpcMessage, ServerJsonRpcMessage};
use rmcp::service::RoleServer;
use rmcp::transport::Transport;
use sentry_mcp_index::{IndexError, IndexReader};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::incoming::{self, Batches, Checked, Failure};
use crate::config::StdioArgs;
use crate::mcp::SentryMcp;

/// How often the index is reopened to see the writer's new commits.
const RELOAD: Duration = Duration::from_millis(500);
/// The longest line read; longer ones are refused (as big as rmcp's own limit).
const MAX_LINE: usize = 16 * 1024 * 1024;
/// Messages buffered per direction before the sender waits.
const CHANNEL: usize = 32;

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
    let sentry = crate::sentry::Sentry::new(&args.sentry)?;
    let ctx = Arc::new(crate::app::tool_context(
        reader.clone(),
        Arc::new(sentry),
        crate::dead_letter::DeadLetters::new(&args.data.data_dir),
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
        let lines = LineTransport::start(tokio::io::stdin(), tokio::io::stdout());
        let reader = lines.reader;
        let writer = lines.writer;
        let running = SentryMcp::new(ctx)
            .serve(lines.transport)
            .await
            .context("MCP initialization over stdio")?;
        let reason = running.waiting().await?;
        tracing::info!(?reason, "stdin closed, exiting");
        // The service is gone; what it and the reader queued is still written out.
        reader.abort();
        if let Ok(Err(e)) = writer.await {
            tracing::debug!(error = %e, "writing stdout failed");
        }
        Ok(())
    })
}

/// MCP over newline-delimited JSON: rmcp's [`Transport`] plus the reader and writer
/// tasks behind it.
struct LineTransport {
    transport: Lines,
    reader: JoinHandle<()>,
    writer: JoinHandle<std::io::Result<()>>,
}

impl LineTransport {
    fn start<R, W>(read: R, write: W) -> LineTransport
    where
        R: AsyncRead + Unpin + Send + 'static,
        W: AsyncWrite + Unpin + Send + 'static,
    {
        let (to_server, from_client) = mpsc::channel(CHANNEL);
        let (out, lines) = mpsc::channel(CHANNEL);
        LineTransport {
            reader: tokio::spawn(read_lines(read, to_server, out.clone(), MAX_LINE)),
            writer: tokio::spawn(write_lines(write, lines)),
            transport: Lines { out, from_client },
        }
    }
}

/// rmcp's side: checked messages in, serialised messages out (to the writer task).
struct Lines {
    out: mpsc::Sender<String>,
    from_client: mpsc::Receiver<ClientJsonRpcMessage>,
}

#[derive(Debug, thiserror::Error)]
pub enum StdoutError {
    #[error("stdout is closed")]
    Closed,
    #[error("cannot serialise an MCP message: {0}")]
    Serialise(#[from] serde_json::Error),
}

impl Transport<RoleServer> for Lines {
    type Error = StdoutError;

    fn send(
        &mut self,
        item: ServerJsonRpcMessage,
    ) -> impl Future<Output = Result<(), StdoutError>> + Send + 'static {
        let out = self.out.clone();
        let line = serde_json::to_string(&item);
        async move { out.send(line?).await.map_err(|_| StdoutError::Closed) }
    }

    fn receive(&mut self) -> impl Future<Output = Option<ClientJsonRpcMessage>> + Send {
        self.from_client.recv()
    }

    async fn close(&mut self) -> Result<(), StdoutError> {
        self.from_client.close();
        Ok(())
    }
}

/// Read stdin line by line until it ends: messages go to rmcp, refusals to stdout.
async fn read_lines<R: AsyncRead + Unpin>(
    read: R,
    to_server: mpsc::Sender<ClientJsonRpcMessage>,
    out: mpsc::Sender<String>,
    max: usize,
) {
    let mut read = BufReader::new(read);
    let mut line = Vec::new();
    loop {
        line.clear();
        let answers = match read_line(&mut read, &mut line, max).await {
            Ok(Line::Eof) => return,
            Ok(Line::TooLong) => vec![too_long(max).to_line()],
            Ok(Line::Read) => match incoming::check(trim_line(&line), Batches::Allowed) {
                Err(failure) => vec![failure.to_line()],
                Ok(checked) => {
                    let mut answers = Vec::new();
                    for item in checked {
                        match item {
                            Checked::Message(message) => {
                                if to_server.send(message).await.is_err() {
                                    return;
                                }
                            }
                            Checked::Refused(error) => match serde_json::to_string(&error) {
                                Ok(answer) => answers.push(answer),
                                Err(e) => {
                                    tracing::error!(error = %e, "cannot serialise an MCP error")
                                }
                            },
                        }
                    }
                    answers
                }
            },
            Err(e) => {
                tracing::warn!(error = %e, "reading stdin failed");
                return;
            }
        };
        for answer in answers {
            if out.send(answer).await.is_err() {
                return;
            }
        }
    }
}

enum Line {
    Read,
    TooLong,
    Eof,
}

/// One line into `line` (blank lines are skipped), at most `max` bytes of it: the rest of
/// a longer line is read and thrown away.
async fn read_line<R: AsyncRead + Unpin>(
    read: &mut BufReader<R>,
    line: &mut Vec<u8>,
    max: usize,
) -> std::io::Result<Line> {
    loop {
        line.clear();
        let n = (&mut *read)
            .take(max as u64 + 1)
            .read_until(b'\n', line)
            .await?;
        if n == 0 {
            return Ok(Line::Eof);
        }
        if line.len() > max && line.last() != Some(&b'\n') {
            let mut rest = Vec::new();
            loop {
                rest.clear();
                let n = (&mut *read)
                    .take(max as u64)
                    .read_until(b'\n', &mut rest)
                    .await?;
                if n == 0 || rest.last() == Some(&b'\n') {
                    return Ok(Line::TooLong);
                }
            }
        }
        if !trim_line(line).iter().all(u8::is_ascii_whitespace) {
            return Ok(Line::Read);
        }
    }
}

fn trim_line(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

fn too_long(max: usize) -> Failure {
    Failure {
        code: rmcp::model::ErrorCode::INVALID_REQUEST,
        message: format!("Invalid Request: a message longer than {max} bytes"),
        id: None,
    }
}

/// Write every line to `write` as it comes, until every sender is gone.
async fn write_lines<W: AsyncWrite + Unpin>(
    mut write: W,
    mut lines: mpsc::Receiver<String>,
) -> std::io::Result<()> {
    while let Some(line) = lines.recv().await {
        write.write_all(line.as_bytes()).await?;
        write.write_all(b"\n").await?;
        write.flush().await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    /// Every line is answered or handed on, in order; blank lines, `\r\n` and a last
    /// line without newline are fine, and a line over the limit is refused whole.
    #[tokio::test]
    async fn bad_lines_are_answered_and_good_ones_handed_to_rmcp() {
        let ping = |id: u64| json!({"jsonrpc": "2.0", "id": id, "method": "ping"}).to_string();
        let input = [
            "{not json".to_owned(),
            String::new(),
            format!("{}\r", ping(1)),
            format!("{}{}", ping(2), " ".repeat(100)),
            r#"{"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {}}"#.to_owned(),
            ping(4),
        ]
        .join("\n");
        let (to_server, mut from_client) = mpsc::channel(8);
        let (out, mut lines) = mpsc::channel(8);
        read_lines(input.as_bytes(), to_server, out, 80).await;
        let mut answers = Vec::new();
        while let Ok(line) = lines.try_recv() {
            answers.push(serde_json::from_str::<Value>(&line).unwrap());
        }
        let codes: Vec<_> = answers
            .iter()
            .map(|a| (a["id"].clone(), a["error"]["code"].clone()))
            .collect();
        assert_eq!(
            codes,
            [
                (Value::Null, json!(-32700)),
                (Value::Null, json!(-32600)),
                (json!(3), json!(-32602)),
            ],
            "{answers:?}"
        );
        let mut handed = Vec::new();
        while let Ok(message) = from_client.try_recv() {
            handed.push(serde_json::to_value(message).unwrap()["id"].clone());
        }
        assert_eq!(handed, [json!(1), json!(4)]);
    }
}
