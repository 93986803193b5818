//! Searches with a scope, a sort and stable cursors.
//!
//! Pages are ordered by (sort value descending, document key ascending), and a cursor is
//! the last (value, key) returned, so the next page starts strictly after it: no
//! duplicates or gaps when documents arrive between two pages, unlike offsets.

use std::ops::Bound;

use chrono::{DateTime, Utc};
use tantivy::collector::sort_key::{SortByStaticFastValue, SortByString};
use tantivy::collector::{Count, TopDocs};
use tantivy::query::{BooleanQuery, Occur, Query, RangeQuery, TermQuery};
use tantivy::schema::{Field, IndexRecordOption};
use tantivy::{DocAddress, Order, Searcher, Term};

use crate::document::{DocKind, IndexDoc};
use crate::query::{PlanContext, QueryMode};
use crate::schema::{Fields, tag_term, tantivy_date_from_millis, to_tantivy_date};
use crate::{IndexError, IndexReader, Result};

/// The order of a result list (Sentry's issue-stream sorts).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SortBy {
    /// Most recently seen first.
    #[default]
    Date,
    /// Most recently first seen first.
    New,
    /// Most events first.
    Freq,
    /// Most users affected first.
    User,
}

impl SortBy {
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "date" | "last_seen" | "lastSeen" => SortBy::Date,
            "new" | "first_seen" | "firstSeen" => SortBy::New,
            "freq" | "times_seen" | "timesSeen" => SortBy::Freq,
            "user" | "users" | "user_count" => SortBy::User,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            SortBy::Date => "date",
            SortBy::New => "new",
            SortBy::Freq => "freq",
            SortBy::User => "user",
        }
    }

    fn field(self, f: &Fields) -> Field {
        match self {
            SortBy::Date => f.timestamp,
            SortBy::New => f.first_seen,
            SortBy::Freq => f.times_seen,
            SortBy::User => f.user_count,
        }
    }

    fn is_date(self) -> bool {
        matches!(self, SortBy::Date | SortBy::New)
    }
}

/// Restrictions ANDed around the whole parsed query: a tool's own arguments (an issue, a
/// project, a window) reach the index as this structure, never as query text, so an `OR`
/// in the user's query can never widen them.
#[derive(Debug, Clone, Default)]
pub struct Scope {
    /// Empty means every kind.
    pub kinds: Vec<DocKind>,
    /// Only documents of this issue (events, alerts and records that name it, the issue itself).
    pub issue: Option<String>,
    /// Organization slug; documents that do not name their organization match too.
    pub organization: Option<String>,
    /// Any of these projects (empty: all).
    pub projects: Vec<String>,
    /// Any of these environments (empty: all).
    pub environments: Vec<String>,
    /// Any of these releases (empty: all). Issues match every release they were seen in.
    pub releases: Vec<String>,
    /// Exact tags (`key`, `value`), all required.
    pub tags: Vec<(String, String)>,
    /// Only documents first seen at or after this instant (new issues).
    pub first_seen_since: Option<DateTime<Utc>>,
    /// Documents whose `timestamp` (event time, issue last seen) is in `[since, until)`.
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
}

/// One page request.
#[derive(Debug, Clone, Default)]
pub struct SearchRequest {
    pub query: String,
    pub mode: QueryMode,
    pub scope: Scope,
    pub sort: SortBy,
    pub limit: usize,
    pub cursor: Option<String>,
}

/// One page of results.
#[derive(Debug, Clone)]
pub struct SearchPage {
    pub docs: Vec<IndexDoc>,
    /// The cursor that continues right after each document (same order as `docs`), so a
    /// caller that shows fewer documents can still hand out an exact cursor.
    pub cursors: Vec<String>,
    /// Pass back as `cursor` for the next page; `None` on the last page.
    pub next_cursor: Option<String>,
    /// How many documents match in all.
    pub total: usize,
    /// What the caller should know about the query's answer (filters the index cannot
    /// answer, approximations); see [`crate::query::notes`].
    pub notes: Vec<String>,
}

/// Where the previous page ended.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Cursor {
    sort: SortBy,
    value: i64,
    key: String,
}

impl Cursor {
    fn encode(&self) -> String {
        hex(&format!(
            "{}|{}|{}",
            self.sort.as_str(),
            self.value,
            self.key
        ))
    }

    fn decode(s: &str, sort: SortBy) -> Result<Cursor> {
        let bad = || {
            IndexError::Cursor(
                "invalid cursor: pass back the next_cursor of a previous page unchanged".into(),
            )
        };
        let text = unhex(s).ok_or_else(bad)?;
        let mut parts = text.splitn(3, '|');
        let (Some(s), Some(v), Some(key)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(bad());
        };
        let cursor_sort = SortBy::parse(s).ok_or_else(bad)?;
        if cursor_sort != sort {
            return Err(IndexError::Cursor(format!(
                "this cursor belongs to sort={}, not sort={}",
                s,
                sort.as_str()
            )));
        }
        Ok(Cursor {
            sort,
            value: v.parse().map_err(|_| bad())?,
            key: key.to_owned(),
        })
    }
}

impl IndexReader {
    /// One page of documents matching `req`, at instant `now` (for relative dates).
    pub fn search_page(&self, req: &SearchRequest, now: DateTime<Utc>) -> Result<SearchPage> {
        let searcher = self.searcher();
        let fields = self.fields();
        let base = self.scoped_query(&searcher, &req.query, req.mode, &req.scope, now)?;
        let total = searcher.search(&base, &Count)?;
        let cursor = req
            .cursor
            .as_deref()
            .map(|c| Cursor::decode(c, req.sort))
            .transpose()?;
        let limit = req.limit.max(1);
        // After a cursor: everything at or below its sort value, then drop the ties the
        // previous page already showed (same value, key not after the cursor's). A range
        // over keys would enumerate the whole key dictionary; counting the ties is cheap.
        let (query, ties): (Box<dyn Query>, usize) = match &cursor {
            Some(c) => {
                let and = |q: Box<dyn Query>| -> Box<dyn Query> {
                    Box::new(BooleanQuery::new(vec![
                        (Occur::Must, Box::new(base.clone())),
                        (Occur::Must, q),
                    ]))
                };
                let ties = searcher.search(&*and(sort_range(c, fields, true)), &Count)?;
                (and(sort_range(c, fields, false)), ties)
            }
            None => (Box::new(base), 0),
        };
        let mut hits = top(
            &searcher,
            query.as_ref(),
            req.sort,
            fields,
            limit + 1 + ties,
        )?;
        if let Some(c) = &cursor {
            hits.retain(|(value, key, _)| *value != c.value || key.as_str() > c.key.as_str());
        }
        let more = hits.len() > limit;
        hits.truncate(limit);
        let cursors: Vec<String> = hits
            .iter()
            .map(|(value, key, _)| {
                let sort = req.sort;
                Cursor {
                    sort,
                    value: *value,
                    key: key.clone(),
                }
                .encode()
            })
            .collect();
        let next_cursor = if more { cursors.last().cloned() } else { None };
        let docs = hits
            .into_iter()
            .map(|(_, _, addr)| crate::reader::load_doc(&searcher, fields, addr))
            .collect::<Result<Vec<_>>>()?;
        Ok(SearchPage {
            docs,
            cursors,
            next_cursor,
            total,
            notes: crate::query::notes(&req.query, now),
        })
    }
}

impl IndexReader {
    /// `query` (in `mode`) within `scope`, as one tantivy query.
    pub(crate) fn scoped_query(
        &self,
        searcher: &Searcher,
        query: &str,
        mode: QueryMode,
        scope: &Scope,
        now: DateTime<Utc>,
    ) -> Result<BooleanQuery> {
        let tokens = crate::query::parse_for_index(query, now)?;
        self.planned_within(searcher, &tokens, mode, scope, now)
    }

    /// An already parsed query within `scope`, as one tantivy query.
    pub(crate) fn planned_within(
        &self,
        searcher: &Searcher,
        tokens: &[crate::query::ast::Token],
        mode: QueryMode,
        scope: &Scope,
        now: DateTime<Utc>,
    ) -> Result<BooleanQuery> {
        let fields = self.fields();
        let ctx = PlanContext {
            fields,
            index: self.index(),
            searcher,
            now,
            mode,
        };
        let planned = crate::query::plan::plan(tokens, &ctx)?;
        Ok(within(planned, scope, fields))
    }
}

/// `query` AND every clause of `scope`: the scope narrows whatever the query says.
pub(crate) fn within(query: Box<dyn Query>, scope: &Scope, fields: &Fields) -> BooleanQuery {
    let mut clauses: Vec<(Occur, Box<dyn Query>)> = vec![(Occur::Must, query)];
    clauses.extend(
        scope_clauses(scope, fields)
            .into_iter()
            .map(|q| (Occur::Must, q)),
    );
    BooleanQuery::new(clauses)
}

/// Top hits by (sort value desc, key asc), with the sort value as i64 (dates in ms).
fn top(
    searcher: &Searcher,
    query: &dyn Query,
    sort: SortBy,
    fields: &Fields,
    limit: usize,
) -> Result<Vec<(i64, String, DocAddress)>> {
    let name = fields.schema.get_field_name(sort.field(fields)).to_owned();
    let by_key = (SortByString::for_field("key"), Order::Asc);
    let out = if sort.is_date() {
        let collector = TopDocs::with_limit(limit).order_by((
            (
                SortByStaticFastValue::<tantivy::DateTime>::for_field(name),
                Order::Desc,
            ),
            by_key,
        ));
        searcher
            .search(query, &collector)?
            .into_iter()
            .map(|((v, k), addr)| {
                (
                    v.map(|d| d.into_timestamp_millis()).unwrap_or(i64::MIN),
                    k.unwrap_or_default(),
                    addr,
                )
            })
            .collect()
    } else {
        let collector = TopDocs::with_limit(limit).order_by((
            (SortByStaticFastValue::<u64>::for_field(name), Order::Desc),
            by_key,
        ));
        searcher
            .search(query, &collector)?
            .into_iter()
            .map(|((v, k), addr)| {
                (
                    v.map(|n| n.min(i64::MAX as u64) as i64).unwrap_or(0),
                    k.unwrap_or_default(),
                    addr,
                )
            })
            .collect()
    };
    Ok(out)
}

/// Documents whose sort value equals the cursor's (`only_equal`), or is at most it.
fn sort_range(c: &Cursor, fields: &Fields, only_equal: bool) -> Box<dyn Query> {
    let field = c.sort.field(fields);
    let term = if c.sort.is_date() {
        Term::from_field_date_for_search(field, tantivy_date_from_millis(c.value))
    } else {
        Term::from_field_u64(field, c.value.max(0) as u64)
    };
    let lower = if only_equal {
        Bound::Included(term.clone())
    } else {
        Bound::Unbounded
    };
    Box::new(RangeQuery::new(lower, Bound::Included(term)))
}

/// The scope as required clauses.
pub(crate) fn scope_clauses(scope: &Scope, f: &Fields) -> Vec<Box<dyn Query>> {
    let any = |field: Field, values: Vec<&str>| -> Box<dyn Query> {
        let terms = values
            .into_iter()
            .map(|v| {
                (
                    Occur::Should,
                    Box::new(TermQuery::new(
                        Term::from_field_text(field, v),
                        IndexRecordOption::Basic,
                    )) as Box<dyn Query>,
                )
            })
            .collect();
        Box::new(BooleanQuery::new(terms))
    };
    let mut out = Vec::new();
    if !scope.kinds.is_empty() {
        out.push(any(
            f.kind,
            scope.kinds.iter().map(|k| k.as_str()).collect(),
        ));
    }
    if let Some(org) = &scope.organization {
        // Many Sentry payloads (issue webhooks) do not name their organization: keep those.
        let unnamed = tantivy::query::ExistsQuery::new("organization".to_owned(), false);
        out.push(Box::new(BooleanQuery::new(vec![
            (Occur::Should, any(f.organization, vec![org.as_str()])),
            (
                Occur::Should,
                Box::new(BooleanQuery::new(vec![
                    (
                        Occur::Must,
                        Box::new(tantivy::query::AllQuery) as Box<dyn Query>,
                    ),
                    (Occur::MustNot, Box::new(unnamed)),
                ])),
            ),
        ])));
    }
    if let Some(issue) = &scope.issue {
        out.push(any(f.issue_id, vec![issue.as_str()]));
    }
    if !scope.projects.is_empty() {
        out.push(any(
            f.project,
            scope.projects.iter().map(String::as_str).collect(),
        ));
    }
    if !scope.environments.is_empty() {
        out.push(any(
            f.environment,
            scope.environments.iter().map(String::as_str).collect(),
        ));
    }
    if !scope.releases.is_empty() {
        out.push(any(
            f.release,
            scope.releases.iter().map(String::as_str).collect(),
        ));
    }
    for (key, value) in &scope.tags {
        out.push(any(f.tag, vec![tag_term(key, value).as_str()]));
    }
    if let Some(since) = scope.first_seen_since {
        let term = Term::from_field_date_for_search(f.first_seen, to_tantivy_date(since));
        out.push(Box::new(RangeQuery::new(
            Bound::Included(term),
            Bound::Unbounded,
        )));
    }
    if scope.since.is_some() || scope.until.is_some() {
        let bound = |t: Option<DateTime<Utc>>, inclusive: bool| match t {
            None => Bound::Unbounded,
            Some(t) => {
                let term = Term::from_field_date_for_search(f.timestamp, to_tantivy_date(t));
                if inclusive {
                    Bound::Included(term)
                } else {
                    Bound::Excluded(term)
                }
            }
        };
        // Date terms are compared at whole seconds: an `until` of 12:00:00.4 would exclude
        // a document of 12:00:00.2, so the open end is rounded up to the next second.
        out.push(Box::new(RangeQuery::new(
            bound(scope.since, true),
            bound(scope.until.map(ceil_to_second), false),
        )));
    }
    out
}

/// `t` rounded up to a whole second.
fn ceil_to_second(t: DateTime<Utc>) -> DateTime<Utc> {
    let whole = t.timestamp_subsec_nanos() == 0;
    let secs = t.timestamp() + i64::from(!whole);
    DateTime::from_timestamp(secs, 0).unwrap_or(t)
}

fn hex(s: &str) -> String {
    s.bytes().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Option<String> {
    if !s.len().is_multiple_of(2) || s.len() > 4096 {
        return None;
    }
    let bytes = (0..s.len())
        .step_by(2)
        .map(|i| s.get(i..i + 2).and_then(|h| u8::from_str_radix(h, 16).ok()))
        .collect::<Option<Vec<u8>>>()?;
    String::from_utf8(bytes).ok()
}
