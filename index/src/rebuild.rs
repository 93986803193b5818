//! Upgrading an index whose schema is older than this version's: every stored document
//! (each keeps its whole [`IndexDoc`] as JSON) is written again under the new schema, with
//! the same journal checkpoint. The journal has been trimmed up to that checkpoint, so
//! starting empty would lose what it held.
//!
//! The new index is built beside the old one and swapped in by two renames; a crash
//! between them is repaired on the next open (the old index is put back and rebuilt again).

use std::path::{Path, PathBuf};

use tantivy::schema::Value;
use tantivy::{DocAddress, Index, TantivyDocument};

use crate::document::{DocKind, IndexDoc};
use crate::schema::Fields;
use crate::{IndexError, Result};

fn beside(dir: &Path, suffix: &str) -> PathBuf {
    let mut name = dir.file_name().unwrap_or_default().to_os_string();
    name.push(suffix);
    dir.with_file_name(name)
}

fn io(path: &Path, e: std::io::Error) -> IndexError {
    IndexError::Open {
        path: path.to_owned(),
        source: e.into(),
    }
}

/// Make `dir` hold an index with `fields`' schema, rebuilding an older one if needed.
pub(crate) fn upgrade_if_needed(dir: &Path, fields: &Fields) -> Result<()> {
    let old = beside(dir, ".old");
    if !dir.join("meta.json").exists() && old.join("meta.json").exists() {
        // A swap was cut short: the old index is the last complete one.
        let _ = std::fs::remove_dir_all(dir);
        std::fs::rename(&old, dir).map_err(|e| io(dir, e))?;
    }
    if !dir.join("meta.json").exists() {
        return Ok(());
    }
    let existing = Index::open_in_dir(dir).map_err(|source| IndexError::Open {
        path: dir.to_owned(),
        source,
    })?;
    if existing.schema() == fields.schema {
        return Ok(());
    }
    let Ok(stored_doc) = existing.schema().get_field("doc") else {
        return Err(IndexError::Incompatible(dir.to_owned()));
    };
    let checkpoint = existing.load_metas()?.payload;
    let fresh = beside(dir, ".rebuild");
    let _ = std::fs::remove_dir_all(&fresh);
    std::fs::create_dir_all(&fresh).map_err(|e| io(&fresh, e))?;
    let rebuilt = Index::create_in_dir(&fresh, fields.schema.clone())?;
    let mut writer = rebuilt.writer_with_num_threads(1, 64 * 1024 * 1024)?;
    let searcher = existing.reader()?.searcher();
    let mut count = 0u64;
    for (ord, segment) in searcher.segment_readers().iter().enumerate() {
        for id in segment.doc_ids_alive() {
            let stored: TantivyDocument = searcher.doc(DocAddress::new(ord as u32, id))?;
            let Some(json) = stored.get_first(stored_doc).and_then(|v| v.as_str()) else {
                continue;
            };
            let mut doc: IndexDoc = serde_json::from_str(json)?;
            // Stored before events were marked: the server journals what it fetched as
            // the `sentry_api` resource.
            doc.fetched |= doc.kind == DocKind::Event && doc.source.starts_with("sentry_api.");
            writer.add_document(fields.to_tantivy(&doc))?;
            count += 1;
        }
    }
    let mut prepared = writer.prepare_commit()?;
    if let Some(payload) = &checkpoint {
        prepared.set_payload(payload);
    }
    prepared.commit()?;
    writer.wait_merging_threads()?;
    drop(existing);
    std::fs::rename(dir, &old).map_err(|e| io(dir, e))?;
    std::fs::rename(&fresh, dir).map_err(|e| io(dir, e))?;
    let _ = std::fs::remove_dir_all(&old);
    tracing::info!(documents = count, dir = %dir.display(), "index rebuilt for this version's schema");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{DocKind, IndexWriter, WriterOptions};
    use tantivy::schema::{STORED, STRING, Schema};

    #[test]
    fn an_index_of_an_older_schema_is_rebuilt_with_its_documents_and_checkpoint() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("index");
        std::fs::create_dir_all(&path).unwrap();
        // An older version's index: fewer fields, the same stored document JSON.
        let mut b = Schema::builder();
        let key = b.add_text_field("key", STRING | STORED);
        let doc_field = b.add_text_field("doc", STORED);
        let old = Index::create_in_dir(&path, b.build()).unwrap();
        let mut w = old.writer_with_num_threads(1, 15_000_000).unwrap();
        let mut issue = IndexDoc::new(DocKind::Issue, "42", chrono::Utc::now());
        issue.title = "KeyError: cart".into();
        // An event the server fetched from the API, stored before events were marked so.
        let mut fetched = IndexDoc::new(DocKind::Event, "ab12", chrono::Utc::now());
        fetched.source = "sentry_api.fetched".into();
        for doc in [&issue, &fetched] {
            let mut d = TantivyDocument::default();
            d.add_text(key, doc.key());
            d.add_text(doc_field, serde_json::to_string(doc).unwrap());
            w.add_document(d).unwrap();
        }
        let mut prepared = w.prepare_commit().unwrap();
        prepared.set_payload("7");
        prepared.commit().unwrap();
        drop(w);
        drop(old);

        // Another process's reader refuses it rather than read garbage; the writer rebuilds.
        assert!(matches!(
            crate::IndexReader::open(&path),
            Err(IndexError::OtherVersion(_))
        ));
        let writer = IndexWriter::open(&path, &WriterOptions::default()).unwrap();
        assert_eq!(
            writer.checkpoint(),
            Some(7),
            "the journal checkpoint survives"
        );
        let found = writer.reader().get(DocKind::Issue, "42").unwrap().unwrap();
        assert_eq!(found.title, "KeyError: cart");
        assert!(!found.fetched);
        let event = writer
            .reader()
            .get(DocKind::Event, "ab12")
            .unwrap()
            .unwrap();
        assert!(event.fetched, "marked as fetched by its source");
        assert!(!beside(&path, ".old").exists() && !beside(&path, ".rebuild").exists());
    }
}
