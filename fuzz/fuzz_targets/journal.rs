//! Journal replay of corrupted files (`ingest/src/journal.rs`).
//!
//! The input describes a journal directory: segment files (canonical and odd names) holding
//! raw bytes or well-framed records (valid checksums, arbitrary sequence numbers and
//! metadata) with damage (truncation, a flipped byte, garbage after them), and an index
//! checkpoint. `Journal::open` must never panic: it returns the records or a clear error.
//! When it opens, the journal must stay durable: records appended now are read back, and are
//! replayed by the next open (also after `checkpoint`), unless the checkpoint covers them.

#![no_main]

use std::sync::OnceLock;

use chrono::DateTime;
use libfuzzer_sys::arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use sentry_mcp_ingest::journal::{encode, encode_meta};
use sentry_mcp_ingest::{Delivery, Journal, JournalError, JournalOptions, Record};

fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
    })
}

/// A sequence number, mostly small (so records, names and checkpoints meet), sometimes at
/// the ends of the range.
fn seq(u: &mut Unstructured) -> Result<u64> {
    Ok(match u.int_in_range(0..=7)? {
        0..=3 => u.int_in_range(0..=12)?,
        4 => u64::MAX - u.int_in_range(0..=3)?,
        5 => u.arbitrary()?,
        _ => u.int_in_range(0..=1000)?,
    })
}

fn text(u: &mut Unstructured, max: usize) -> Result<String> {
    let len = u.int_in_range(0..=max)?;
    let bytes = u.bytes(len.min(u.len()))?;
    Ok(String::from_utf8_lossy(bytes).into_owned())
}

fn delivery(u: &mut Unstructured) -> Result<Delivery> {
    let received_ms: i64 = match u.int_in_range(0..=3)? {
        0 => u.arbitrary()?,
        _ => 1_700_000_000_000 + i64::from(u.arbitrary::<i32>()?),
    };
    let received_at = DateTime::from_timestamp_millis(received_ms).unwrap_or_default();
    Ok(Delivery {
        resource: text(u, 16)?,
        request_id: if u.arbitrary()? {
            Some(text(u, 40)?)
        } else {
            None
        },
        sent_at_ms: u.arbitrary()?,
        received_at,
    })
}

fn segment_name(u: &mut Unstructured) -> Result<String> {
    let n = seq(u)?;
    Ok(match u.int_in_range(0..=15)? {
        0 => format!("{n}.wal"),
        1 => format!("+{n}.wal"),
        2 => format!("{n:020}.wal.tmp"),
        3 => format!("{}.wal", text(u, 8)?.replace(['/', '\0'], "_")),
        _ => format!("{n:020}.wal"),
    })
}

fn segment_bytes(u: &mut Unstructured) -> Result<Vec<u8>> {
    if u.ratio(1, 4)? {
        let len = u.int_in_range(0..=512)?;
        return Ok(u.bytes(len.min(u.len()))?.to_vec());
    }
    let mut out = Vec::new();
    for _ in 0..u.int_in_range(0..=4)? {
        let meta = if u.ratio(7, 8)? {
            match encode_meta(&delivery(u)?) {
                Ok(meta) => meta,
                Err(_) => continue,
            }
        } else {
            text(u, 64)?.into_bytes()
        };
        let body = text(u, 64)?;
        encode(seq(u)?, &meta, body.as_bytes(), &mut out);
    }
    match u.int_in_range(0..=5)? {
        0 if !out.is_empty() => {
            let at = u.int_in_range(0..=out.len() - 1)?;
            out.truncate(at);
        }
        1 if !out.is_empty() => {
            let at = u.int_in_range(0..=out.len() - 1)?;
            out[at] ^= u.int_in_range(1..=255)?;
        }
        2 => {
            let len = u.int_in_range(1..=32)?;
            out.extend_from_slice(u.bytes(len.min(u.len()))?);
        }
        _ => {}
    }
    Ok(out)
}

/// The directory as `name (bytes)`, for failure messages.
fn listing(dir: &std::path::Path) -> String {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .map(|e| {
                    let len = e.metadata().map(|m| m.len()).unwrap_or(0);
                    format!("{} ({len})", e.file_name().to_string_lossy())
                })
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names.join(", ")
}

fn run(data: &[u8]) -> Result<()> {
    let mut u = Unstructured::new(data);
    let tmp = tempfile::Builder::new()
        .prefix("journal-fuzz")
        .tempdir_in("/dev/shm")
        .or_else(|_| tempfile::tempdir())
        .unwrap();
    let dir = tmp.path().join("journal");
    std::fs::create_dir(&dir).unwrap();
    let checkpoint = if u.arbitrary()? {
        Some(seq(&mut u)?)
    } else {
        None
    };
    let mut made_dir = false;
    for _ in 0..u.int_in_range(0..=4)? {
        let name = segment_name(&mut u)?;
        let bytes = segment_bytes(&mut u)?;
        if u.ratio(1, 32)? {
            made_dir |= std::fs::create_dir(dir.join(&name)).is_ok();
        } else {
            let _ = std::fs::write(dir.join(&name), &bytes);
        }
    }
    let before = listing(&dir);
    let options = JournalOptions {
        segment_bytes: u.int_in_range(64..=4096)?,
        max_batch: u.int_in_range(1..=4)?,
        ..JournalOptions::default()
    };
    let opened = match Journal::<()>::open(&dir, checkpoint, options.clone(), |_, ()| {}) {
        Ok(opened) => opened,
        Err(e) => {
            // A clear error, naming the path at fault; only a directory where a segment
            // should be, or sequence numbers at their end, keep a journal from opening.
            assert!(matches!(e, JournalError::Io { .. }), "{e}");
            assert!(
                made_dir || e.to_string().contains("leaves none for the next record"),
                "a journal of files does not open: {e}"
            );
            return Ok(());
        }
    };
    let mut newest = checkpoint.unwrap_or(0);
    for r in &opened.replay {
        if let Some(c) = checkpoint {
            assert!(r.seq > c, "replayed {} at or before checkpoint {c}", r.seq);
        }
        newest = newest.max(r.seq);
    }
    let journal = opened.journal;
    let mut appended: Vec<Record> = Vec::new();
    for _ in 0..u.int_in_range(0..=3)? {
        let d = delivery(&mut u)?;
        let body = text(&mut u, 128)?.into_bytes();
        match runtime().block_on(journal.append(d.clone(), body.clone(), ())) {
            Ok(seq) => {
                assert!(seq > newest, "append got seq {seq}, not after {newest}");
                newest = seq;
                appended.push(Record {
                    seq,
                    delivery: d,
                    body,
                });
            }
            Err(JournalError::Encode(_)) => {}
            // Sequence numbers at their end: a record, the checkpoint or a segment's name
            // (the next number moves up to the newest segment's) is near u64::MAX.
            Err(e)
                if e.to_string().contains("exhausted")
                    && (newest > u64::MAX - 8 || before.contains("1844674407370955161")) => {}
            Err(e) => panic!("append to a journal that opened failed: {e}"),
        }
    }
    for r in &appended {
        let back = journal
            .read(r.seq)
            .expect("reading back an appended record");
        assert_eq!(
            back.as_ref(),
            Some(r),
            "record {} read back; checkpoint {checkpoint:?}; before open: {before}; now: {}",
            r.seq,
            listing(&dir)
        );
    }
    // What the index commits next: any appended record, or something else.
    let later = match u.int_in_range(0..=3)? {
        0 => None,
        1 if !appended.is_empty() => {
            let i = u.choose_index(appended.len())?;
            Some(appended[i].seq)
        }
        2 => checkpoint,
        _ => Some(seq(&mut u)?),
    };
    if let Some(c) = later {
        journal.checkpoint(c).expect("checkpoint");
    }
    drop(journal);
    let again = later.or(checkpoint);
    let reopened = match Journal::<()>::open(&dir, again, options, |_, ()| {}) {
        Ok(reopened) => reopened,
        Err(e) if again == Some(u64::MAX) && e.to_string().contains("leaves none") => {
            return Ok(());
        }
        Err(e) => panic!("a journal this process just wrote does not open: {e}"),
    };
    for r in appended.iter().filter(|r| again.is_none_or(|c| r.seq > c)) {
        assert!(
            reopened.replay.contains(r),
            "acknowledged record {} (after checkpoint {again:?}) is not replayed; replayed {:?}; \
             first checkpoint {checkpoint:?}; before the first open: {before}; now: {}",
            r.seq,
            reopened.replay.iter().map(|r| r.seq).collect::<Vec<_>>(),
            listing(&dir)
        );
    }
    Ok(())
}

fuzz_target!(|data: &[u8]| {
    let _ = run(data);
});
