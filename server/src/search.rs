//! `sentry-mcp search`: query a data dir and print one JSON object per matching document.

use std::io::Write;

use anyhow::Context as _;
use sentry_mcp_index::IndexReader;

use crate::config::SearchArgs;

pub fn run(args: &SearchArgs) -> anyhow::Result<()> {
    let reader = IndexReader::open(&args.data.index_dir())?;
    let hits = reader
        .search(&args.query, args.limit, chrono::Utc::now())
        .with_context(|| format!("searching for {:?}", args.query))?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for hit in hits {
        serde_json::to_writer(&mut out, &hit.doc.summary())?;
        out.write_all(b"\n")?;
    }
    out.flush()?;
    Ok(())
}
