//! Read-only access to an index: searches and lookups. Opening a reader takes no lock, so
//! the `search` command can query a data dir while the server writes to it.

use std::path::Path;

use chrono::{DateTime, Utc};
use tantivy::collector::Count;
use tantivy::query::{EnableScoring, Query, TermQuery};
use tantivy::schema::{IndexRecordOption, Value};
use tantivy::{
    DocAddress, DocSet, Index, ReloadPolicy, Searcher, TERMINATED, TantivyDocument, Term,
};

use crate::document::{DocKind, IndexDoc, doc_key};
use crate::schema::Fields;
use crate::{IndexError, Result};

/// One search result.
#[derive(Debug, Clone)]
pub struct SearchHit {
    pub doc: IndexDoc,
}

/// A cheap, cloneable handle for searching.
#[derive(Clone)]
pub struct IndexReader {
    index: Index,
    fields: Fields,
    reader: tantivy::IndexReader,
}

impl IndexReader {
    /// Open the index in `dir` for reading only.
    pub fn open(dir: &Path) -> Result<Self> {
        if !dir.join("meta.json").exists() {
            return Err(IndexError::Missing(dir.to_owned()));
        }
        let index = Index::open_in_dir(dir).map_err(|source| IndexError::Open {
            path: dir.to_owned(),
            source,
        })?;
        let fields = Fields::new();
        // Read with this version's fields, another schema's documents would come out as
        // garbage; only the writer rebuilds an index (`rebuild.rs`).
        if index.schema() != fields.schema {
            return Err(IndexError::OtherVersion(dir.to_owned()));
        }
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .doc_store_cache_num_blocks(crate::DOC_STORE_CACHE_BLOCKS)
            .try_into()?;
        Ok(Self::from_parts(index, fields, reader))
    }

    pub(crate) fn from_parts(index: Index, fields: Fields, reader: tantivy::IndexReader) -> Self {
        IndexReader {
            index,
            fields,
            reader,
        }
    }

    /// Pick up commits made since the last reload (by this process or another one).
    pub fn reload(&self) -> Result<()> {
        self.reader.reload()?;
        crate::columns::forget_gone_segments(&self.reader.searcher());
        Ok(())
    }

    /// Documents matching `query` (event-search dialect, see [`crate::query`]), newest first.
    pub fn search(&self, query: &str, limit: usize, now: DateTime<Utc>) -> Result<Vec<SearchHit>> {
        let request = crate::SearchRequest {
            query: query.to_owned(),
            mode: crate::QueryMode::Events,
            limit,
            ..Default::default()
        };
        let page = self.search_page(&request, now)?;
        Ok(page.docs.into_iter().map(|doc| SearchHit { doc }).collect())
    }

    pub(crate) fn searcher(&self) -> Searcher {
        self.reader.searcher()
    }

    pub(crate) fn fields(&self) -> &Fields {
        &self.fields
    }

    pub(crate) fn index(&self) -> &Index {
        &self.index
    }

    /// The document of `kind` with Sentry id `id`, if indexed.
    pub fn get(&self, kind: DocKind, id: &str) -> Result<Option<IndexDoc>> {
        let searcher = self.reader.searcher();
        let term = Term::from_field_text(self.fields.key, &doc_key(kind, id));
        let query = TermQuery::new(term, IndexRecordOption::Basic);
        first_match(&searcher, &query)?
            .map(|addr| load_doc(&searcher, &self.fields, addr))
            .transpose()
    }

    /// The issues with this short id (`PROJ-123`, matched as Sentry shows it), at most
    /// `limit`. Short ids are unique within an organization only, so an index that holds
    /// several organizations can have more than one.
    pub fn issues_by_short_id(&self, short_id: &str, limit: usize) -> Result<Vec<IndexDoc>> {
        let searcher = self.reader.searcher();
        let query = tantivy::query::BooleanQuery::new(vec![
            (
                tantivy::query::Occur::Must,
                Box::new(TermQuery::new(
                    Term::from_field_text(self.fields.kind, DocKind::Issue.as_str()),
                    IndexRecordOption::Basic,
                )) as Box<dyn tantivy::query::Query>,
            ),
            (
                tantivy::query::Occur::Must,
                Box::new(TermQuery::new(
                    Term::from_field_text(self.fields.short_id, short_id),
                    IndexRecordOption::Basic,
                )),
            ),
        ]);
        all_matches(&searcher, &query, limit)?
            .into_iter()
            .map(|addr| load_doc(&searcher, &self.fields, addr))
            .collect()
    }

    /// How many documents of `kind` the index holds.
    pub fn count(&self, kind: DocKind) -> Result<usize> {
        let searcher = self.reader.searcher();
        let query = TermQuery::new(
            Term::from_field_text(self.fields.kind, kind.as_str()),
            IndexRecordOption::Basic,
        );
        Ok(searcher.search(&query, &Count)?)
    }

    /// Total live documents.
    pub fn num_docs(&self) -> u64 {
        self.reader.searcher().num_docs()
    }
}

/// The first live document matching `query`. Unscored: a lookup by key needs neither
/// BM25 statistics (a dictionary lookup in every segment for the term's frequency) nor a
/// collector, which were most of what fetching an issue by id cost.
pub(crate) fn first_match(searcher: &Searcher, query: &dyn Query) -> Result<Option<DocAddress>> {
    Ok(all_matches(searcher, query, 1)?.pop())
}

/// The live documents matching `query`, at most `limit`, unscored as in [`first_match`].
fn all_matches(searcher: &Searcher, query: &dyn Query, limit: usize) -> Result<Vec<DocAddress>> {
    let weight = query.weight(EnableScoring::disabled_from_searcher(searcher))?;
    let mut found = Vec::new();
    for (ord, segment) in searcher.segment_readers().iter().enumerate() {
        if found.len() >= limit {
            break;
        }
        let mut docs = weight.scorer(segment, 1.0)?;
        let alive = segment.alive_bitset();
        let mut doc = docs.doc();
        while doc != TERMINATED && found.len() < limit {
            if alive.is_none_or(|a| a.is_alive(doc)) {
                found.push(DocAddress::new(ord as u32, doc));
            }
            doc = docs.advance();
        }
    }
    Ok(found)
}

pub(crate) fn load_doc(searcher: &Searcher, fields: &Fields, addr: DocAddress) -> Result<IndexDoc> {
    let segment = searcher.segment_reader(addr.segment_ord).segment_id();
    if let Some(doc) = crate::loaded::get(segment, addr.doc_id) {
        return Ok(doc);
    }
    let stored: TantivyDocument = searcher.doc(addr)?;
    let json = stored
        .get_first(fields.doc)
        .and_then(|v| v.as_str())
        .unwrap_or("{}");
    let doc: IndexDoc = serde_json::from_str(json)?;
    crate::loaded::put(segment, addr.doc_id, &doc, json.len());
    Ok(doc)
}
