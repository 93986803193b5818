//! Events grouped by issue, with aggregate filters on the groups (`count():>10`,
//! `count_unique(user):>5`, `epm()`, `last_seen():-1h`): what `search_errors` answers.

use std::ops::Range;
use std::sync::Arc;

use foldhash::HashSet;

use crate::all_of::AllOf;
use crate::by_ordinal::{Accumulate, ByOrdinal};
use chrono::{DateTime, Utc};
use tantivy::collector::{Collector, SegmentCollector};
use tantivy::columnar::{Column, StrColumn};
use tantivy::{COLLECT_BLOCK_BUFFER_LEN, DocId, Score, Searcher, SegmentOrdinal, SegmentReader};

use crate::columns::{Terms, first_values, for_each_term};
use crate::document::{DocKind, IndexDoc};
use crate::query::QueryMode;
use crate::query::group_filters::{self, GroupStats};
use crate::search::Scope;
use crate::top::{TopByValueThenKey, ValueColumn};
use crate::{IndexReader, Result};

/// Most issue groups looked at per search.
const MAX_GROUPS: usize = 10_000;

/// One issue's matching events.
#[derive(Debug, Clone, PartialEq)]
pub struct IssueGroup {
    pub issue_id: String,
    pub stats: GroupStats,
}

/// The answer of [`IndexReader::issue_groups`].
#[derive(Debug, Clone)]
pub struct IssueGroups {
    /// Groups of matching events that pass the group filters, most events first.
    pub groups: Vec<IssueGroup>,
    /// Matching events in all (before group filters).
    pub total_events: u64,
    /// Matching issues without matching events (their events never came as webhooks),
    /// newest first, judged by their own totals (times seen, users, last seen).
    pub issues_without_events: Vec<IndexDoc>,
    /// Whether the query had group filters.
    pub filtered: bool,
    pub notes: Vec<String>,
}

impl IndexReader {
    /// Events matching `query` (event search) in `scope`, grouped by issue; and, when fewer
    /// than `fill_to` groups pass the group filters, matching issues that have no matching
    /// events, enough to make up `fill_to`. `scope.kinds` is ignored (events, then issues).
    pub fn issue_groups(
        &self,
        query: &str,
        scope: &Scope,
        fill_to: usize,
        now: DateTime<Utc>,
    ) -> Result<IssueGroups> {
        let tokens = crate::query::parse_for_index(query, now)?;
        let notes = crate::query::plan::notes(&tokens);
        let (event_tokens, filters) = group_filters::split(tokens)?;
        let searcher = self.searcher();
        let minutes = match (scope.since, scope.until) {
            (Some(since), until) => (until.unwrap_or(now) - since).num_seconds() as f64 / 60.0,
            _ => 24.0 * 60.0,
        };
        let scoped = |kind: DocKind| Scope {
            kinds: vec![kind],
            ..scope.clone()
        };
        let events = self.planned_within(
            &searcher,
            &event_tokens,
            QueryMode::Events,
            &scoped(DocKind::Event),
            now,
        )?;
        let (all_groups, total_events) = self.group_stats(&searcher, &events)?;
        // Without group filters every group passes: no second list to grow a group at a time.
        let (mut groups, filtered_out): (Vec<IssueGroup>, Vec<IssueGroup>) = if filters.is_empty() {
            (all_groups, Vec::new())
        } else {
            all_groups
                .into_iter()
                .partition(|g| filters.iter().all(|f| f.keeps(&g.stats, minutes)))
        };
        // Issue ids are distinct: an unstable sort gives the one order.
        groups.sort_unstable_by(|a, b| {
            b.stats
                .count
                .cmp(&a.stats.count)
                .then_with(|| a.issue_id.cmp(&b.issue_id))
        });

        let mut issues_without_events = Vec::new();
        let wanted = fill_to.saturating_sub(groups.len());
        if wanted > 0 {
            // An issue with matching events is judged by them, never again by its totals.
            let with_events: HashSet<&str> = groups
                .iter()
                .chain(&filtered_out)
                .map(|g| g.issue_id.as_str())
                .collect();
            let issues = self.planned_within(
                &searcher,
                &event_tokens,
                QueryMode::Events,
                &scoped(DocKind::Issue),
                now,
            )?;
            // Newest first; issues that have matching events are skipped by their id,
            // read from the fast fields, before any stored document is loaded.
            let top = TopByValueThenKey {
                field: "timestamp",
                column: ValueColumn::Date,
                limit: MAX_GROUPS.min(wanted + with_events.len() + 1_000),
                after: None,
                key_field: "issue_id",
                all_keys: true,
            };
            let (_, candidates) = searcher.search(&issues, &top)?;
            for (_, issue_id, addr) in candidates {
                if issue_id.is_some_and(|id| with_events.contains(id.as_str())) {
                    continue;
                }
                let issue = crate::reader::load_doc(&searcher, self.fields(), addr)?;
                let stats = GroupStats {
                    count: issue.times_seen.unwrap_or(0),
                    users: issue.user_count.unwrap_or(0),
                    first_seen: issue.first_seen,
                    last_seen: issue.last_seen.or(Some(issue.timestamp)),
                };
                if !with_events.contains(issue.id.as_str())
                    && filters.iter().all(|f| f.keeps(&stats, minutes))
                {
                    issues_without_events.push(issue);
                    if issues_without_events.len() >= wanted {
                        break;
                    }
                }
            }
        }
        Ok(IssueGroups {
            groups,
            total_events,
            issues_without_events,
            filtered: !filters.is_empty(),
            notes,
        })
    }

    /// Per issue: events, distinct users, first and last event; and the events in all.
    /// One pass over the matching documents' fast fields (no aggregation request to build
    /// and serialize, no per-issue sketch): a search over 141k events grouped into 5k issues
    /// costs what reading their columns costs.
    fn group_stats(&self, searcher: &Searcher, query: &AllOf) -> Result<(Vec<IssueGroup>, u64)> {
        // Bounded to MAX_GROUPS by the collector.
        Ok(searcher.search(query, &GroupCollector)?)
    }
}

/// Groups matching events by `issue_id`, from the fast fields.
struct GroupCollector;

/// Per segment: matching events as (`issue_id` term ordinal, time), folded into counters
/// indexed by ordinal once they are many; and (issue, user) ordinal pairs, packed in one
/// `u64` each (see [`pair`]) so that sorting them compares integers. Ordinals are
/// resolved to names once, at harvest.
struct GroupSegment {
    issue: Option<StrColumn>,
    issue_terms: Option<Arc<Terms>>,
    user: Option<StrColumn>,
    user_terms: Option<Arc<Terms>>,
    /// Each user's hash by ordinal, when the dictionary is small enough to keep decoded.
    user_hashes: Option<Arc<Vec<u64>>>,
    timestamp: Option<Column<tantivy::DateTime>>,
    counts: Counts,
    pairs: Vec<u64>,
    total: u64,
}

/// One segment's groups: issue id, tally, and where its distinct users' hashes sit in
/// `users`. Flat lists, not a map and a set per issue: a search that matches a few
/// thousand events spent more on those allocations than on reading the columns.
struct SegmentGroups {
    /// Issue id, tally, and a range of `users`.
    groups: Vec<(Name, Tally, Range<usize>)>,
    /// The bytes of the issue ids that did not pack into an integer.
    names: Vec<u8>,
    users: Vec<u64>,
    total: u64,
}

/// An issue id: packed into an integer ([`crate::packed`]), as a dictionary of numeric
/// Sentry ids always is, or a range of [`SegmentGroups::names`].
#[derive(Clone)]
enum Name {
    Packed(u128),
    Bytes(Range<usize>),
}

impl SegmentGroups {
    fn all_packed(&self) -> bool {
        self.groups.iter().all(|g| matches!(g.0, Name::Packed(_)))
    }

    /// Every issue id as bytes, for a merge with a segment whose ids did not pack.
    fn unpack_names(&mut self) {
        for (name, _, _) in &mut self.groups {
            if let Name::Packed(key) = *name {
                let start = self.names.len();
                let len = crate::packed::len(key);
                self.names.extend_from_slice(&key.to_be_bytes()[..len]);
                *name = Name::Bytes(start..self.names.len());
            }
        }
    }

    /// An issue id's bytes, after [`Self::unpack_names`].
    fn name(&self, name: &Name) -> &[u8] {
        match name {
            Name::Bytes(range) => &self.names[range.clone()],
            Name::Packed(_) => unreachable!("names are unpacked before a byte merge"),
        }
    }
}

/// Events, first and last event time (ms) of one issue in one segment.
type Tally = (u64, i64, i64);
const NO_EVENTS: Tally = (0, i64::MAX, i64::MIN);
/// An event without a time: counted, no first or last.
const NO_TIME: i64 = i64::MIN;

/// A segment's matching events by issue ordinal, a list while they are few.
type Counts = ByOrdinal<Tally>;

impl Accumulate for Tally {
    /// The event's time in ms, or [`NO_TIME`].
    type Hit = i64;
    const EMPTY: Self = NO_EVENTS;

    fn add(&mut self, at: i64) {
        self.0 += 1;
        if at != NO_TIME {
            self.1 = self.1.min(at);
            self.2 = self.2.max(at);
        }
    }

    fn is_empty(&self) -> bool {
        self.0 == 0
    }
}

fn merge_tally(into: &mut Tally, other: Tally) {
    into.0 += other.0;
    into.1 = into.1.min(other.1);
    into.2 = into.2.max(other.2);
}

impl Collector for GroupCollector {
    type Fruit = (Vec<IssueGroup>, u64);
    type Child = GroupSegment;

    fn for_segment(
        &self,
        _segment: SegmentOrdinal,
        reader: &SegmentReader,
    ) -> tantivy::Result<GroupSegment> {
        let issue = crate::columns::text(reader, "issue_id")?;
        let issues = issue.as_ref().map_or(0, |c| c.dictionary().num_terms());
        Ok(GroupSegment {
            issue,
            issue_terms: crate::columns::terms(reader, "issue_id")?,
            user: crate::columns::text(reader, "user")?,
            user_terms: crate::columns::terms(reader, "user")?,
            user_hashes: crate::columns::term_hashes(reader, "user")?,
            timestamp: crate::columns::date(reader, "timestamp")?,
            counts: Counts::new(issues),
            pairs: Vec::new(),
            total: 0,
        })
    }

    fn requires_scoring(&self) -> bool {
        false
    }

    crate::blocks::collect_in_blocks!();

    fn merge_fruits(&self, mut fruits: Vec<SegmentGroups>) -> tantivy::Result<Self::Fruit> {
        let total = fruits.iter().map(|f| f.total).sum();
        // Issue ids merge as integers when every segment's packed (numeric Sentry ids).
        let groups = if fruits.iter().all(SegmentGroups::all_packed) {
            let merged = merge_groups(&fruits, |_, name| match name {
                Name::Packed(key) => *key,
                Name::Bytes(_) => unreachable!("every segment's ids packed"),
            });
            most_events_first(merged)
                .map(|(key, tally, users)| issue_group(crate::packed::unpack(key), tally, users))
                .collect()
        } else {
            fruits.iter_mut().for_each(SegmentGroups::unpack_names);
            most_events_first(merge_groups(&fruits, SegmentGroups::name))
                .map(|(name, tally, users)| {
                    issue_group(String::from_utf8_lossy(name).into_owned(), tally, users)
                })
                .collect()
        };
        Ok((groups, total))
    }
}

/// The segments' groups merged by issue id (`key` of each: every segment's groups come in
/// its order), tallies added up, with each segment's users' hashes; in issue id order.
fn merge_groups<'a, K: Ord + Copy>(
    fruits: &'a [SegmentGroups],
    key: impl Fn(&'a SegmentGroups, &'a Name) -> K,
) -> Vec<(K, Tally, Users<'a>)> {
    let most = fruits.iter().map(|f| f.groups.len()).sum();
    let mut merged: Vec<(K, Tally, Users)> = Vec::with_capacity(most);
    let lists: Vec<&[(Name, Tally, Range<usize>)]> =
        fruits.iter().map(|f| f.groups.as_slice()).collect();
    crate::merge::in_key_order(
        &lists,
        |f, (name, _, _)| key(&fruits[f], name),
        |k, f, (_, t, range)| {
            let users = &fruits[f].users[range.clone()];
            match merged.last_mut() {
                Some((last, tally, seen)) if *last == k => {
                    merge_tally(tally, *t);
                    seen.add(users);
                }
                _ => merged.push((k, *t, Users::One(users))),
            }
        },
    );
    merged
}

/// The groups (in issue id order) by events, most first, ties by issue id (the order the
/// answer is shown in), at most [`MAX_GROUPS`] of them. Sorted as one integer per group,
/// its count and its place: sorting the finished groups moved their strings and dates
/// around, and compared their ids as strings.
fn most_events_first<K: Copy>(
    mut by_id: Vec<(K, Tally, Users)>,
) -> impl Iterator<Item = (K, Tally, Users)> {
    let mut order: Vec<u128> = by_id
        .iter()
        .enumerate()
        .map(|(i, (_, (count, _, _), _))| (u128::from(u64::MAX - count) << 64) | i as u128)
        .collect();
    order.sort_unstable();
    order.truncate(MAX_GROUPS);
    order.into_iter().map(move |o| {
        let (key, tally, users) = &mut by_id[(o as u64) as usize];
        (*key, *tally, std::mem::replace(users, Users::One(&[])))
    })
}

fn issue_group(issue_id: String, (count, first_ms, last_ms): Tally, users: Users) -> IssueGroup {
    IssueGroup {
        issue_id,
        stats: GroupStats {
            count,
            users: users.distinct(),
            first_seen: DateTime::from_timestamp_millis(first_ms),
            last_seen: DateTime::from_timestamp_millis(last_ms),
        },
    }
}

/// One issue's users, as hashes. A segment's list for an issue is distinct already (one
/// per user ordinal), so an issue seen in one segment needs no more work; only the lists
/// of an issue seen in several are gathered and made distinct (one sort of every pair was
/// a fifth of grouping a day of events).
enum Users<'a> {
    One(&'a [u64]),
    Many(Vec<u64>),
}

impl<'a> Users<'a> {
    fn add(&mut self, more: &'a [u64]) {
        match self {
            Users::One(first) => {
                let mut all = Vec::with_capacity(first.len() + more.len());
                all.extend_from_slice(first);
                all.extend_from_slice(more);
                *self = Users::Many(all);
            }
            Users::Many(all) => all.extend_from_slice(more),
        }
    }

    fn distinct(self) -> u64 {
        match self {
            Users::One(users) => users.len() as u64,
            Users::Many(mut all) => {
                all.sort_unstable();
                all.dedup();
                all.len() as u64
            }
        }
    }
}

impl GroupSegment {
    /// Count an event of `issue` (ordinal) at `at` by `user` (ordinal).
    fn add(&mut self, issue: Option<u64>, at: Option<tantivy::DateTime>, user: Option<u64>) {
        let Some(issue) = issue else {
            return;
        };
        self.counts
            .add(issue, at.map_or(NO_TIME, |t| t.into_timestamp_millis()));
        if let Some(user) = user {
            self.pairs.push(pair(issue, user));
        }
    }
}

impl SegmentCollector for GroupSegment {
    type Fruit = SegmentGroups;

    /// A block of one: matches come in blocks ([`crate::blocks::collect_segment`]).
    fn collect(&mut self, doc: DocId, _score: Score) {
        self.collect_block(&[doc]);
    }

    /// A block at a time: each column is read for the whole block at once.
    fn collect_block(&mut self, docs: &[DocId]) {
        let mut issues = [None; COLLECT_BLOCK_BUFFER_LEN];
        let mut times = [None; COLLECT_BLOCK_BUFFER_LEN];
        let mut users = [None; COLLECT_BLOCK_BUFFER_LEN];
        for docs in docs.chunks(COLLECT_BLOCK_BUFFER_LEN) {
            self.total += docs.len() as u64;
            first_values(self.issue.as_ref().map(|c| c.ords()), docs, &mut issues);
            first_values(self.timestamp.as_ref(), docs, &mut times);
            first_values(self.user.as_ref().map(|c| c.ords()), docs, &mut users);
            for i in 0..docs.len() {
                self.add(issues[i], times[i], users[i]);
            }
        }
    }

    fn harvest(mut self) -> SegmentGroups {
        let mut out = SegmentGroups {
            groups: Vec::new(),
            names: Vec::new(),
            users: Vec::new(),
            total: self.total,
        };
        let Some(issues) = &self.issue else {
            return out;
        };
        let tallies = std::mem::replace(&mut self.counts, Counts::new(0)).into_sorted();
        let names = self.names(issues, &tallies, &mut out.names);
        self.pairs.sort_unstable();
        self.pairs.dedup();
        let hash_of_user = self.user_hashes(&self.pairs);
        // Tallies, names and pairs are all by issue ordinal: one walk of each.
        let mut pairs = self.pairs.iter().peekable();
        let mut names = names.into_iter().peekable();
        out.groups.reserve(tallies.len());
        out.users.reserve(self.pairs.len());
        for (ord, t) in tallies {
            while names.next_if(|(o, _)| *o < ord).is_some() {}
            let start = out.users.len();
            while let Some(user) = pairs
                .next_if(|&&p| unpair(p).0 <= ord)
                .map(|&p| unpair(p).1)
            {
                if let Some(hash) = hash_of_user(user) {
                    out.users.push(hash);
                }
            }
            // Pairs of an issue whose name did not resolve are dropped with it.
            if let Some((_, name)) = names.next_if(|(o, _)| *o == ord) {
                out.groups.push((name, t, start..out.users.len()));
            } else {
                out.users.truncate(start);
            }
        }
        out
    }
}

impl GroupSegment {
    /// The issue id of each tallied ordinal: packed when the dictionary is, else bytes
    /// appended to `bytes`, in one sorted walk of the dictionary (not a lookup apiece).
    fn names(
        &self,
        issues: &StrColumn,
        tallies: &[(u64, Tally)],
        bytes: &mut Vec<u8>,
    ) -> Vec<(u64, Name)> {
        let mut names = Vec::with_capacity(tallies.len());
        if let Some(keys) = self.issue_terms.as_deref().and_then(Terms::packed) {
            names.extend(
                tallies
                    .iter()
                    .filter_map(|&(ord, _)| Some((ord, Name::Packed(*keys.get(ord as usize)?)))),
            );
            return names;
        }
        let ords: Vec<u64> = tallies.iter().map(|&(ord, _)| ord).collect();
        for_each_term(issues, self.issue_terms.as_deref(), &ords, |ord, b| {
            let start = bytes.len();
            bytes.extend_from_slice(b);
            names.push((ord, Name::Bytes(start..bytes.len())));
        });
        names
    }

    /// A user's hash by ordinal, for the users of `pairs`: from the segment's kept hashes,
    /// or, for a dictionary too large to keep decoded, hashed here in one walk of it.
    fn user_hashes(&self, pairs: &[u64]) -> impl Fn(u64) -> Option<u64> + use<> {
        let kept = self.user_hashes.clone();
        let walked: Vec<(u64, u64)> = match (&kept, &self.user) {
            (None, Some(users)) => {
                let ords = sorted(pairs.iter().map(|&p| unpair(p).1));
                terms(
                    users,
                    self.user_terms.as_deref(),
                    &ords,
                    crate::columns::hash,
                )
            }
            _ => Vec::new(),
        };
        move |user| match &kept {
            Some(hashes) => hashes.get(user as usize).copied(),
            None => walked
                .binary_search_by_key(&user, |(o, _)| *o)
                .ok()
                .map(|i| walked[i].1),
        }
    }
}

/// An (issue, user) pair of term ordinals as one integer, issue first, so pairs sort by
/// issue. A segment holds fewer than 2^31 documents, so fewer distinct terms than 2^32.
fn pair(issue: u64, user: u64) -> u64 {
    debug_assert!(issue <= u64::from(u32::MAX) && user <= u64::from(u32::MAX));
    (issue << 32) | (user & u64::from(u32::MAX))
}

fn unpair(pair: u64) -> (u64, u64) {
    (pair >> 32, pair & u64::from(u32::MAX))
}

fn sorted(ords: impl Iterator<Item = u64>) -> Vec<u64> {
    let mut v: Vec<u64> = ords.collect();
    v.sort_unstable();
    v.dedup();
    v
}

/// `(ord, f(term))` for each of the sorted `ords` of `column`'s dictionary.
fn terms<T>(
    column: &StrColumn,
    decoded: Option<&Terms>,
    ords: &[u64],
    f: impl Fn(&[u8]) -> T,
) -> Vec<(u64, T)> {
    let mut out = Vec::with_capacity(ords.len());
    for_each_term(column, decoded, ords, |ord, bytes| {
        out.push((ord, f(bytes)))
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The list and the counters answer alike, whenever the switch happens.
    #[test]
    fn sparse_and_dense_counts_agree() {
        let issues = 400;
        let hits: Vec<(u64, i64)> = (0..300u64)
            .map(|i| {
                (
                    (i * 7919) % 37,
                    if i % 5 == 0 {
                        NO_TIME
                    } else {
                        i as i64 * 13 % 1000
                    },
                )
            })
            .collect();
        let mut sparse = Counts::new(issues);
        let mut dense = Counts::Dense(vec![NO_EVENTS; issues]);
        // Switches to counters halfway (past issues / 4 = 100 hits).
        let mut switching = Counts::new(issues);
        for &(issue, at) in &hits {
            dense.add(issue, at);
            switching.add(issue, at);
        }
        for &(issue, at) in &hits[..100] {
            sparse.add(issue, at);
        }
        assert!(matches!(sparse, Counts::Sparse { .. }));
        assert!(matches!(switching, Counts::Dense(_)));
        let switched = switching.into_sorted();
        assert_eq!(switched, dense.into_sorted());
        assert_eq!(switched.iter().map(|(_, t)| t.0).sum::<u64>(), 300);
        let first: Vec<(u64, Tally)> = sparse.into_sorted();
        let mut expect: Vec<(u64, Tally)> = Vec::new();
        let mut sorted_hits = hits[..100].to_vec();
        sorted_hits.sort_by_key(|&(issue, _)| issue);
        for (issue, at) in sorted_hits {
            if expect.last().map(|(o, _)| *o) != Some(issue) {
                expect.push((issue, NO_EVENTS));
            }
            expect.last_mut().unwrap().1.add(at);
        }
        assert_eq!(first, expect);
    }
}

#[cfg(test)]
mod segment_tests {
    use chrono::Duration;

    use super::*;
    use crate::Change;

    fn event(id: &str, issue: &str, user: &str, at: DateTime<Utc>) -> Change {
        let mut d = IndexDoc::new(DocKind::Event, id, at);
        d.issue_id = Some(issue.into());
        d.tags.push(("user".into(), user.into()));
        Change::Put(d)
    }

    /// Past [`MAX_GROUPS`] issues, the groups kept are those with the most events, ties
    /// by issue id as the answer orders them, whatever segment they came from; and they
    /// come in that order.
    #[test]
    fn groups_past_the_bound_are_the_most_events_then_lowest_ids() {
        let (_dir, mut w) = crate::testing::fresh_writer();
        let t0 = crate::testing::at("2026-01-01T00:00:00Z");
        let issues = MAX_GROUPS as u64 + 500;
        let mut counts = std::collections::BTreeMap::new();
        let mut n = 0u64;
        for segment in 0..3u64 {
            let mut changes = Vec::new();
            for i in (segment..issues).step_by(3) {
                // Numeric ids, whose string order is not their numeric order.
                let issue = ((i * 7919) % issues + 1).to_string();
                for _ in 0..1 + (i % 11 == 0) as u64 + (i % 97 == 0) as u64 {
                    n += 1;
                    changes.push(event(&format!("e{n}"), &issue, "u1", t0));
                    *counts.entry(issue.clone()).or_insert(0u64) += 1;
                }
            }
            w.apply_all(changes).unwrap();
            w.commit(None).unwrap();
        }
        let reader = w.reader();
        let found = reader
            .issue_groups("", &Scope::default(), 0, t0 + Duration::hours(1))
            .unwrap();
        let mut expected: Vec<(String, u64)> = counts.into_iter().collect();
        expected.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        expected.truncate(MAX_GROUPS);
        let got: Vec<(String, u64)> = found
            .groups
            .into_iter()
            .map(|g| (g.issue_id, g.stats.count))
            .collect();
        assert_eq!(got.len(), MAX_GROUPS);
        assert_eq!(got, expected);
        assert_eq!(found.total_events, n);
    }

    /// Groups spread over several segments add up: counts summed, users counted once
    /// however many segments saw them, first and last from all; whether every segment's
    /// issue ids pack into integers or one segment's do not.
    #[test]
    fn groups_merge_across_segments() {
        groups_merge_across_segments_with("c");
        groups_merge_across_segments_with("c-an-issue-id-longer-than-16-bytes");
    }

    fn groups_merge_across_segments_with(c: &str) {
        let (_dir, mut w) = crate::testing::fresh_writer();
        let t0 = crate::testing::at("2026-01-01T00:00:00Z");
        let batches = [
            vec![("a", "u1", 0), ("a", "u2", 1), ("b", "u1", 2)],
            vec![("a", "u1", 3), ("a", "u3", 4), (c, "u9", 5)],
            vec![("b", "u1", 6), ("a", "u2", 7)],
        ];
        let mut n = 0;
        for batch in batches {
            let changes = batch
                .into_iter()
                .map(|(issue, user, minute)| {
                    n += 1;
                    event(
                        &format!("e{n}"),
                        issue,
                        user,
                        t0 + Duration::minutes(minute),
                    )
                })
                .collect();
            w.apply_all(changes).unwrap();
            w.commit(None).unwrap();
        }
        let reader = w.reader();
        assert!(
            reader.searcher().segment_readers().len() > 1,
            "several segments"
        );
        let found = reader
            .issue_groups("", &Scope::default(), 0, t0 + Duration::hours(1))
            .unwrap();
        let got: Vec<(String, u64, u64, i64, i64)> = found
            .groups
            .iter()
            .map(|g| {
                let minute = |t: Option<DateTime<Utc>>| (t.unwrap() - t0).num_minutes();
                (
                    g.issue_id.clone(),
                    g.stats.count,
                    g.stats.users,
                    minute(g.stats.first_seen),
                    minute(g.stats.last_seen),
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                ("a".to_string(), 5, 3, 0, 7),
                ("b".to_string(), 2, 1, 2, 6),
                (c.to_string(), 1, 1, 5, 5),
            ]
        );
        assert_eq!(found.total_events, 8);
    }
}
