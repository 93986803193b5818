//! Events grouped by issue, with aggregate filters on the groups (`count():>10`,
//! `count_unique(user):>5`, `epm()`, `last_seen():-1h`): what `search_errors` answers.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use crate::all_of::AllOf;
use chrono::{DateTime, Utc};
use tantivy::collector::{Collector, SegmentCollector};
use tantivy::columnar::{Column, StrColumn};
use tantivy::{DocId, Score, Searcher, SegmentOrdinal, SegmentReader};

use crate::columns::{Terms, for_each_term};
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
    /// Events matching `query` (event search) in `scope`, grouped by issue; plus up to
    /// `extra_issues` matching issues that have no matching events. `scope.kinds` is
    /// ignored (events, then issues).
    pub fn issue_groups(
        &self,
        query: &str,
        scope: &Scope,
        extra_issues: usize,
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
        let (mut groups, total_events) = self.group_stats(&searcher, &events)?;
        // An issue with matching events is judged by them, never again by its totals.
        let with_events: std::collections::HashSet<String> =
            groups.iter().map(|g| g.issue_id.clone()).collect();
        groups.retain(|g| filters.iter().all(|f| f.keeps(&g.stats, minutes)));
        groups.sort_by(|a, b| {
            b.stats
                .count
                .cmp(&a.stats.count)
                .then(a.issue_id.cmp(&b.issue_id))
        });

        let mut issues_without_events = Vec::new();
        if extra_issues > 0 {
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
                limit: MAX_GROUPS.min(extra_issues + groups.len() + 1_000),
                after: None,
                key_field: "issue_id",
                all_keys: true,
            };
            let (_, candidates) = searcher.search(&issues, &top)?;
            for (_, issue_id, addr) in candidates {
                if issue_id.is_some_and(|id| with_events.contains(&id)) {
                    continue;
                }
                let issue = crate::reader::load_doc(&searcher, self.fields(), addr)?;
                let stats = GroupStats {
                    count: issue.times_seen.unwrap_or(0),
                    users: issue.user_count.unwrap_or(0),
                    first_seen: issue.first_seen,
                    last_seen: issue.last_seen.or(Some(issue.timestamp)),
                };
                if !with_events.contains(&issue.id)
                    && filters.iter().all(|f| f.keeps(&stats, minutes))
                {
                    issues_without_events.push(issue);
                    if issues_without_events.len() >= extra_issues {
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
        let (by_issue, total) = searcher.search(query, &GroupCollector)?;
        let mut groups: Vec<IssueGroup> = by_issue
            .into_iter()
            .map(|(issue_id, acc)| IssueGroup {
                issue_id,
                stats: GroupStats {
                    count: acc.count,
                    users: acc.users.len() as u64,
                    first_seen: DateTime::from_timestamp_millis(acc.first_ms),
                    last_seen: DateTime::from_timestamp_millis(acc.last_ms),
                },
            })
            .collect();
        // The caller sorts; keep the answer bounded as the aggregation did.
        if groups.len() > MAX_GROUPS {
            groups.sort_by_key(|g| std::cmp::Reverse(g.stats.count));
            groups.truncate(MAX_GROUPS);
        }
        Ok((groups, total))
    }
}

/// One issue's matching events, while collecting.
#[derive(Debug, Clone)]
struct GroupAcc {
    count: u64,
    first_ms: i64,
    last_ms: i64,
    /// Distinct users, as hashes of their names (exact up to hash collisions).
    users: HashSet<u64>,
}

impl GroupAcc {
    fn merge(&mut self, other: GroupAcc) {
        self.count += other.count;
        self.first_ms = self.first_ms.min(other.first_ms);
        self.last_ms = self.last_ms.max(other.last_ms);
        self.users.extend(other.users);
    }
}

/// Groups matching events by `issue_id`, from the fast fields.
struct GroupCollector;

/// Per segment: counts and times indexed by the segment's `issue_id` term ordinal (dense,
/// no hashing per event), and (issue, user) ordinal pairs, deduplicated and resolved to
/// names once, at harvest.
struct GroupSegment {
    issue: Option<StrColumn>,
    issue_terms: Option<Arc<Terms>>,
    user: Option<StrColumn>,
    user_terms: Option<Arc<Terms>>,
    timestamp: Option<Column<tantivy::DateTime>>,
    by_ord: Vec<(u64, i64, i64)>,
    pairs: Vec<(u64, u64)>,
    total: u64,
}

impl Collector for GroupCollector {
    type Fruit = (HashMap<String, GroupAcc>, u64);
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
            timestamp: crate::columns::date(reader, "timestamp")?,
            by_ord: vec![(0, i64::MAX, i64::MIN); issues],
            pairs: Vec::new(),
            total: 0,
        })
    }

    fn requires_scoring(&self) -> bool {
        false
    }

    fn merge_fruits(
        &self,
        fruits: Vec<(HashMap<String, GroupAcc>, u64)>,
    ) -> tantivy::Result<Self::Fruit> {
        let mut merged: HashMap<String, GroupAcc> = HashMap::new();
        let mut total = 0;
        for (groups, n) in fruits {
            total += n;
            for (issue, acc) in groups {
                match merged.get_mut(&issue) {
                    Some(have) => have.merge(acc),
                    None => {
                        merged.insert(issue, acc);
                    }
                }
            }
        }
        Ok((merged, total))
    }
}

impl SegmentCollector for GroupSegment {
    type Fruit = (HashMap<String, GroupAcc>, u64);

    fn collect(&mut self, doc: DocId, _score: Score) {
        self.total += 1;
        let Some(issue) = self.issue.as_ref().and_then(|c| c.ords().first(doc)) else {
            return;
        };
        let at = self
            .timestamp
            .as_ref()
            .and_then(|c| c.first(doc))
            .map(|t| t.into_timestamp_millis());
        let Some(entry) = self.by_ord.get_mut(issue as usize) else {
            return;
        };
        entry.0 += 1;
        if let Some(at) = at {
            entry.1 = entry.1.min(at);
            entry.2 = entry.2.max(at);
        }
        if let Some(user) = self.user.as_ref().and_then(|c| c.ords().first(doc)) {
            self.pairs.push((issue, user));
        }
    }

    fn harvest(mut self) -> Self::Fruit {
        let Some(issues) = &self.issue else {
            return (HashMap::new(), self.total);
        };
        // Ordinals to terms in one sorted walk of each dictionary, not a lookup apiece.
        let issue_ords: Vec<u64> = (0..self.by_ord.len() as u64)
            .filter(|&o| self.by_ord[o as usize].0 > 0)
            .collect();
        let names = terms(issues, self.issue_terms.as_deref(), &issue_ords, |b| {
            String::from_utf8_lossy(b).into_owned()
        });
        self.pairs.sort_unstable();
        self.pairs.dedup();
        let user_ords = sorted(self.pairs.iter().map(|&(_, u)| u));
        let user_hashes: HashMap<u64, u64> = match &self.user {
            Some(users) => terms(users, self.user_terms.as_deref(), &user_ords, hash_of)
                .into_iter()
                .collect(),
            None => HashMap::new(),
        };
        let mut out: HashMap<String, GroupAcc> = HashMap::with_capacity(names.len());
        let mut by_name: HashMap<u64, String> = HashMap::with_capacity(names.len());
        for (ord, name) in names {
            let (count, first_ms, last_ms) = self.by_ord[ord as usize];
            let acc = GroupAcc {
                count,
                first_ms,
                last_ms,
                users: HashSet::new(),
            };
            out.insert(name.clone(), acc);
            by_name.insert(ord, name);
        }
        for (issue, user) in &self.pairs {
            if let (Some(name), Some(hash)) = (by_name.get(issue), user_hashes.get(user))
                && let Some(acc) = out.get_mut(name)
            {
                acc.users.insert(*hash);
            }
        }
        (out, self.total)
    }
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

fn hash_of(bytes: &[u8]) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    bytes.hash(&mut h);
    h.finish()
}
