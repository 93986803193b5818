//! Events grouped by issue, with aggregate filters on the groups (`count():>10`,
//! `count_unique(user):>5`, `epm()`, `last_seen():-1h`): what `search_errors` answers.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use tantivy::aggregation::agg_req::Aggregations;
use tantivy::aggregation::{AggContextParams, AggregationCollector};
use tantivy::collector::TopDocs;
use tantivy::query::BooleanQuery;
use tantivy::{Order, Searcher};

use crate::document::{DocKind, IndexDoc};
use crate::query::QueryMode;
use crate::query::group_filters::{self, GroupStats};
use crate::search::Scope;
use crate::{IndexError, IndexReader, Result};

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
            let top = TopDocs::with_limit(MAX_GROUPS.min(extra_issues + groups.len() + 1_000))
                .order_by_fast_field::<tantivy::DateTime>("timestamp", Order::Desc);
            for (_, addr) in searcher.search(&issues, &top)? {
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
    fn group_stats(
        &self,
        searcher: &Searcher,
        query: &BooleanQuery,
    ) -> Result<(Vec<IssueGroup>, u64)> {
        let request = json!({
            "g": {"terms": {"field": "issue_id", "size": MAX_GROUPS, "order": {"_count": "desc"}},
                  "aggs": {"users": {"cardinality": {"field": "user"}},
                           "first": {"min": {"field": "timestamp"}},
                           "last": {"max": {"field": "timestamp"}}}},
            "n": {"value_count": {"field": "timestamp"}}
        });
        let aggs: Aggregations =
            serde_json::from_value(request).map_err(|e| IndexError::Aggregation(e.to_string()))?;
        let collector = AggregationCollector::from_aggs(aggs, AggContextParams::default());
        let result = serde_json::to_value(searcher.search(query, &collector)?)?;
        // Date metrics come back as nanoseconds since the epoch, in an f64.
        let time = |v: &Value| {
            v["value"]
                .as_f64()
                .and_then(|ns| DateTime::from_timestamp_millis((ns / 1e6).round() as i64))
        };
        let groups = result["g"]["buckets"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|b| {
                let issue_id = match &b["key"] {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                Some(IssueGroup {
                    issue_id,
                    stats: GroupStats {
                        count: b["doc_count"].as_u64()?,
                        users: b["users"]["value"].as_f64().unwrap_or(0.0).round() as u64,
                        first_seen: time(&b["first"]),
                        last_seen: time(&b["last"]),
                    },
                })
            })
            .collect();
        let total = result["n"]["value"].as_f64().unwrap_or(0.0) as u64;
        Ok((groups, total))
    }
}
