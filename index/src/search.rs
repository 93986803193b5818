//! Searches with a scope, a sort and stable cursors.
//!
//! Pages are ordered by (sort value descending, document key ascending), and a cursor is
//! the last (value, key) returned, so the next page starts strictly after it: no
//! duplicates or gaps when documents arrive between two pages, unlike offsets.

use std::ops::Bound;

use chrono::{DateTime, Utc};
use tantivy::query::{AllQuery, BooleanQuery, Occur, Query};
use tantivy::schema::Field;
use tantivy::{Searcher, Term};

use crate::all_of::AllOf;
use crate::document::{DocKind, IndexDoc};
use crate::query::{PlanContext, QueryMode};
use crate::range::fast_range;
use crate::schema::{Fields, date_for_search, tag_term};
use crate::term_filter::term_filter;
use crate::top::{After, TopByValueThenKey, ValueColumn};
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

    /// The fast field pages are ordered by.
    fn column(self) -> &'static str {
        match self {
            SortBy::Date => "timestamp",
            SortBy::New => "first_seen",
            SortBy::Freq => "times_seen",
            SortBy::User => "user_count",
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
    /// Only documents Sentry delivered: events fetched from the API
    /// ([`IndexDoc::fetched`]) are left out. For counts compared across windows or issues
    /// (top errors, spikes, histograms), where a fetched page of one issue's latest events
    /// would read as a spike of that issue.
    pub delivered_only: bool,
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
        let cursor = req
            .cursor
            .as_deref()
            .map(|c| Cursor::decode(c, req.sort))
            .transpose()?;
        let limit = req.limit.max(1);
        let collector = TopByValueThenKey {
            field: req.sort.column(),
            column: if req.sort.is_date() {
                ValueColumn::Date
            } else {
                ValueColumn::Count
            },
            limit: limit + 1,
            after: cursor.map(|c| After {
                value: c.value,
                key: c.key,
            }),
            key_field: "key",
            all_keys: false,
        };
        let (total, mut hits) = searcher.search(&base, &collector)?;
        let more = hits.len() > limit;
        hits.truncate(limit);
        let mut docs = Vec::with_capacity(hits.len());
        let mut cursors = Vec::with_capacity(hits.len());
        for (value, key, addr) in hits {
            let doc = crate::reader::load_doc(&searcher, fields, addr)?;
            let key = key.unwrap_or_else(|| doc.key());
            cursors.push(
                Cursor {
                    sort: req.sort,
                    value,
                    key,
                }
                .encode(),
            );
            docs.push(doc);
        }
        let next_cursor = if more { cursors.last().cloned() } else { None };
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
    /// The `req.limit` newest documents matching `req` (its sort and cursor aside). The
    /// last hour is searched first, then the last day and week, then everything: the latest
    /// event of a busy issue costs what its last hour of events costs, not its whole life.
    pub fn newest(&self, req: &SearchRequest, now: DateTime<Utc>) -> Result<Vec<IndexDoc>> {
        let mut req = SearchRequest {
            sort: SortBy::Date,
            cursor: None,
            ..req.clone()
        };
        let widest = req.scope.since;
        for hours in [1, 24, 24 * 7] {
            let Some(since) =
                chrono::Duration::try_hours(hours).and_then(|h| now.checked_sub_signed(h))
            else {
                break;
            };
            if widest.is_some_and(|w| w >= since) {
                break;
            }
            // Documents outside [since, until) are all older than those inside it.
            req.scope.since = Some(since);
            let page = self.search_page(&req, now)?;
            if page.docs.len() >= req.limit.max(1) {
                return Ok(page.docs);
            }
        }
        req.scope.since = widest;
        Ok(self.search_page(&req, now)?.docs)
    }

    /// `query` (in `mode`) within `scope`, as one tantivy query.
    pub(crate) fn scoped_query(
        &self,
        searcher: &Searcher,
        query: &str,
        mode: QueryMode,
        scope: &Scope,
        now: DateTime<Utc>,
    ) -> Result<AllOf> {
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
    ) -> Result<AllOf> {
        let fields = self.fields();
        let ctx = PlanContext {
            fields,
            index: self.index(),
            searcher,
            now,
            mode,
            text_fields: fields.text_fields(&scope.kinds),
        };
        let planned = crate::query::plan::plan(tokens, &ctx)?;
        Ok(within(planned, scope, fields))
    }
}

/// `query` AND every clause of `scope`: the scope narrows whatever the query says. The
/// query's own required and excluded clauses join the scope's in one flat conjunction,
/// so its dense terms are ANDed as bitsets with the scope's (see [`AllOf`]).
pub(crate) fn within(query: Box<dyn Query>, scope: &Scope, fields: &Fields) -> AllOf {
    let mut must = scope_clauses(scope, fields);
    let mut must_not = Vec::new();
    if scope.delivered_only {
        must_not.push(term_filter(fields.fetched_term()));
    }
    flatten(query, &mut must, &mut must_not);
    if must.is_empty() {
        must.push(Box::new(AllQuery));
    }
    AllOf::new(must, must_not)
}

/// Adds `query` to a conjunction: a nested conjunction's clauses one by one, an empty
/// query (everything) not at all.
fn flatten(
    query: Box<dyn Query>,
    must: &mut Vec<Box<dyn Query>>,
    must_not: &mut Vec<Box<dyn Query>>,
) {
    if query.downcast_ref::<AllQuery>().is_some() {
        return;
    }
    if let Some(b) = query.downcast_ref::<BooleanQuery>()
        && !b.clauses().is_empty()
        && b.clauses().iter().all(|(o, _)| *o != Occur::Should)
    {
        for (occur, clause) in b.clauses() {
            if *occur == Occur::Must {
                flatten(clause.box_clone(), must, must_not);
            } else {
                must_not.push(clause.box_clone());
            }
        }
        return;
    }
    must.push(query);
}

/// The scope as required clauses.
pub(crate) fn scope_clauses(scope: &Scope, f: &Fields) -> Vec<Box<dyn Query>> {
    let any = |field: Field, values: Vec<&str>| -> Box<dyn Query> {
        let mut terms: Vec<Box<dyn Query>> = values
            .into_iter()
            .map(|v| term_filter(Term::from_field_text(field, v)))
            .collect();
        if terms.len() == 1 {
            return terms.remove(0);
        }
        Box::new(BooleanQuery::new(
            terms.into_iter().map(|q| (Occur::Should, q)).collect(),
        ))
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
        out.push(fast_range(
            "first_seen",
            Bound::Included(date_for_search(since)),
            Bound::Unbounded,
        ));
    }
    if scope.since.is_some() || scope.until.is_some() {
        // Dates are compared at whole seconds: an `until` of 12:00:00.4 would exclude a
        // document of 12:00:00.2, so the open end is rounded up to the next second.
        let bound = |t: Option<DateTime<Utc>>, inclusive: bool| match t {
            None => Bound::Unbounded,
            Some(t) if inclusive => Bound::Included(date_for_search(t)),
            Some(t) => Bound::Excluded(date_for_search(t)),
        };
        out.push(fast_range(
            "timestamp",
            bound(scope.since, true),
            bound(scope.until.map(ceil_to_second), false),
        ));
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
    // A cursor per listed document: a `format!` per byte was 6% of a `list_issues` call.
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(s.len() * 2);
    for b in s.bytes() {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0xf)]));
    }
    out
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Change;

    #[test]
    fn cursors_are_lowercase_hex_of_their_text_and_decode_back() {
        assert_eq!(hex("date|-5|é"), "646174657c2d357cc3a9");
        let cursor = Cursor {
            sort: SortBy::Date,
            value: -1_700_000_000_000,
            key: "issue|4100002".into(),
        };
        let back = Cursor::decode(&cursor.encode(), SortBy::Date).unwrap();
        assert_eq!(
            (back.value, back.key.as_str()),
            (cursor.value, "issue|4100002")
        );
    }

    /// Issues keep their prose in a field of their own: free text and phrases find each
    /// kind in its own field, and both when the scope names no kind.
    #[test]
    fn free_text_finds_issues_and_events_each_in_its_own_prose() {
        let (_dir, mut w) = crate::testing::fresh_writer();
        let now = crate::testing::at("2026-06-01T12:00:00Z");
        for (kind, id) in [
            (DocKind::Issue, "1"),
            (DocKind::Event, "e1"),
            (DocKind::Alert, "a1"),
        ] {
            let mut d = IndexDoc::new(kind, id, now);
            d.title = "ConnectionError: connection reset by peer".into();
            w.apply_all(vec![Change::Put(d)]).unwrap();
        }
        let mut other = IndexDoc::new(DocKind::Issue, "2", now);
        other.title = "reset the connection pool".into();
        w.apply_all(vec![Change::Put(other)]).unwrap();
        w.commit(None).unwrap();
        let r = w.reader();
        let found = |query: &str, kinds: &[DocKind]| {
            let req = SearchRequest {
                query: query.into(),
                mode: QueryMode::Events,
                scope: Scope {
                    kinds: kinds.to_vec(),
                    ..Scope::default()
                },
                limit: 10,
                ..SearchRequest::default()
            };
            let mut ids: Vec<String> = r
                .search_page(&req, now)
                .unwrap()
                .docs
                .into_iter()
                .map(|d| d.id)
                .collect();
            ids.sort();
            ids
        };
        assert_eq!(found("\"connection reset\"", &[DocKind::Issue]), ["1"]);
        assert_eq!(found("connection reset", &[DocKind::Issue]), ["1", "2"]);
        assert_eq!(found("\"connection reset\"", &[DocKind::Event]), ["e1"]);
        assert_eq!(found("\"connection reset\"", &[]), ["1", "a1", "e1"]);
        assert_eq!(found("conn* pool", &[]), ["2"]);
        assert_eq!(found("timeout", &[]), Vec::<String>::new());
        assert_eq!(
            found("\"connection reset\"", &[DocKind::Issue, DocKind::Alert]),
            ["1", "a1"]
        );
    }

    /// `newest` finds what a full search finds, whether the newest documents are minutes,
    /// days or a year old, and whether there are fewer than asked for.
    #[test]
    fn newest_widens_until_it_has_enough() {
        let (_dir, mut w) = crate::testing::fresh_writer();
        let now = crate::testing::at("2026-06-01T12:00:00Z");
        // Issue a: an event every 10 minutes for the last 2 days. Issue b: three events a
        // year ago. Issue c: one event 3 days ago.
        let mut put = |id: String, issue: &str, at: DateTime<Utc>| {
            let mut d = IndexDoc::new(DocKind::Event, id, at);
            d.issue_id = Some(issue.into());
            w.apply_all(vec![Change::Put(d)]).unwrap();
        };
        for i in 0..288 {
            put(
                format!("a{i}"),
                "a",
                now - chrono::Duration::minutes(10 * i),
            );
        }
        for i in 0..3 {
            put(
                format!("b{i}"),
                "b",
                now - chrono::Duration::days(365) - chrono::Duration::hours(i),
            );
        }
        put("c0".into(), "c", now - chrono::Duration::days(3));
        w.commit(None).unwrap();
        let r = w.reader();
        for (issue, limit) in [
            ("a", 1),
            ("a", 20),
            ("b", 2),
            ("b", 5),
            ("c", 1),
            ("none", 3),
        ] {
            let req = SearchRequest {
                mode: QueryMode::Events,
                limit,
                scope: Scope {
                    kinds: vec![DocKind::Event],
                    issue: Some(issue.into()),
                    ..Default::default()
                },
                ..Default::default()
            };
            let ids = |docs: Vec<IndexDoc>| docs.into_iter().map(|d| d.id).collect::<Vec<_>>();
            assert_eq!(
                ids(r.newest(&req, now).unwrap()),
                ids(r.search_page(&req, now).unwrap().docs),
                "issue {issue}, limit {limit}"
            );
        }
    }
}
