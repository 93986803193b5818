//! Aggregations for the pattern tools: counts by a field, time histograms, the first time
//! something was seen. All run on fast (columnar) fields; no document is loaded.

use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};
use tantivy::aggregation::agg_req::Aggregations;
use tantivy::aggregation::{AggContextParams, AggregationCollector};

use crate::query::QueryMode;
use crate::search::Scope;
use crate::{IndexError, IndexReader, Result};

/// What to count documents by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupBy {
    Issue,
    Project,
    Release,
    Environment,
    Level,
    ErrorType,
    Organization,
}

impl GroupBy {
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "issue" | "issue_id" => GroupBy::Issue,
            "project" => GroupBy::Project,
            "release" => GroupBy::Release,
            "environment" => GroupBy::Environment,
            "level" => GroupBy::Level,
            "error.type" | "error_type" | "exception_type" => GroupBy::ErrorType,
            _ => return None,
        })
    }

    fn field(self) -> &'static str {
        match self {
            GroupBy::Issue => "issue_id",
            GroupBy::Project => "project",
            GroupBy::Release => "release",
            GroupBy::Environment => "environment",
            GroupBy::Level => "level",
            GroupBy::ErrorType => "exception_type",
            GroupBy::Organization => "organization",
        }
    }
}

/// A filter for aggregations: a query string in a dialect, within a scope.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub query: String,
    pub mode: QueryMode,
    pub scope: Scope,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bucket {
    pub key: String,
    pub count: u64,
}

/// One bar of a time histogram: documents in `[start, start + interval)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimeBucket {
    pub start: DateTime<Utc>,
    pub count: u64,
}

impl IndexReader {
    /// The `top` most frequent values of `group` among matching documents, with counts,
    /// and how many matching documents there are in all.
    pub fn count_by(
        &self,
        filter: &Filter,
        group: GroupBy,
        top: usize,
        now: DateTime<Utc>,
    ) -> Result<(Vec<Bucket>, u64)> {
        let request = json!({
            "g": {"terms": {"field": group.field(), "size": top.clamp(1, 10_000), "order": {"_count": "desc"}}},
            "n": {"value_count": {"field": "timestamp"}}
        });
        let result = self.aggregate(filter, request, now)?;
        let buckets = result["g"]["buckets"]
            .as_array()
            .map(|list| {
                list.iter()
                    .filter_map(|b| {
                        let key = match &b["key"] {
                            Value::String(s) => s.clone(),
                            other => other.to_string(),
                        };
                        Some(Bucket {
                            key,
                            count: b["doc_count"].as_u64()?,
                        })
                    })
                    .collect()
            })
            .unwrap_or_default();
        let total = result["n"]["value"].as_f64().unwrap_or(0.0) as u64;
        Ok((buckets, total))
    }

    /// Matching documents per `interval` from `since` to `until` (empty bars included).
    pub fn histogram(
        &self,
        filter: &Filter,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
        interval: Duration,
        now: DateTime<Utc>,
    ) -> Result<Vec<TimeBucket>> {
        let interval_ms = interval.num_milliseconds().max(1000);
        let bars = ((until - since).num_milliseconds() / interval_ms).clamp(1, 10_000);
        let mut filter = filter.clone();
        filter.scope.since = Some(since);
        filter.scope.until = Some(until);
        let request = json!({
            "h": {"date_histogram": {"field": "timestamp", "fixed_interval": format!("{interval_ms}ms"), "offset": format!("{}ms", since.timestamp_millis().rem_euclid(interval_ms))}}
        });
        let result = self.aggregate(&filter, request, now)?;
        let mut counts = std::collections::HashMap::new();
        for b in result["h"]["buckets"].as_array().into_iter().flatten() {
            if let (Some(key), Some(n)) = (b["key"].as_f64(), b["doc_count"].as_u64()) {
                // Keys are f64 milliseconds computed from nanoseconds: round, don't truncate.
                counts.insert(key.round() as i64, n);
            }
        }
        // Bars past the end of representable time (a hostile window) are left out.
        Ok((0..bars)
            .map_while(|i| {
                let start = Duration::try_milliseconds(i.checked_mul(interval_ms)?)
                    .and_then(|offset| since.checked_add_signed(offset))?;
                Some(TimeBucket {
                    start,
                    count: counts.get(&start.timestamp_millis()).copied().unwrap_or(0),
                })
            })
            .collect())
    }

    /// The earliest `timestamp` among matching documents (e.g. when a release was first seen).
    pub fn first_seen(&self, filter: &Filter, now: DateTime<Utc>) -> Result<Option<DateTime<Utc>>> {
        let result = self.aggregate(filter, json!({"m": {"min": {"field": "timestamp"}}}), now)?;
        // Date metrics come back as nanoseconds since the epoch, in an f64.
        Ok(result["m"]["value"]
            .as_f64()
            .and_then(|ns| DateTime::from_timestamp_millis((ns / 1e6).round() as i64)))
    }

    fn aggregate(&self, filter: &Filter, request: Value, now: DateTime<Utc>) -> Result<Value> {
        let searcher = self.searcher();
        let query = self.scoped_query(&searcher, &filter.query, filter.mode, &filter.scope, now)?;
        let aggs: Aggregations =
            serde_json::from_value(request).map_err(|e| IndexError::Aggregation(e.to_string()))?;
        let collector = AggregationCollector::from_aggs(aggs, AggContextParams::default());
        let result = searcher.search(&query, &collector)?;
        Ok(serde_json::to_value(result)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Change, DocKind, IndexDoc, IndexWriter, WriterOptions};

    fn event(id: &str, issue: &str, release: &str, at: DateTime<Utc>) -> Change {
        let mut d = IndexDoc::new(DocKind::Event, id, at);
        d.issue_id = Some(issue.into());
        d.release = Some(release.into());
        d.project = Some("web".into());
        Change::Put(d)
    }

    #[test]
    fn counts_histograms_and_first_seen_on_fast_fields() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = IndexWriter::open(dir.path(), &WriterOptions::default()).unwrap();
        let t0 = DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        for i in 0..6 {
            let issue = if i < 4 { "a" } else { "b" };
            let release = if i < 3 { "1.0" } else { "2.0" };
            w.apply_all(vec![event(
                &format!("e{i}"),
                issue,
                release,
                t0 + Duration::minutes(30 * i),
            )])
            .unwrap();
        }
        w.commit(None).unwrap();
        let r = w.reader();
        let all = Filter {
            mode: QueryMode::Events,
            ..Default::default()
        };
        let (buckets, total) = r.count_by(&all, GroupBy::Issue, 10, t0).unwrap();
        assert_eq!(total, 6);
        assert_eq!(
            buckets,
            vec![
                Bucket {
                    key: "a".into(),
                    count: 4
                },
                Bucket {
                    key: "b".into(),
                    count: 2
                }
            ]
        );
        let bars = r
            .histogram(&all, t0, t0 + Duration::hours(3), Duration::hours(1), t0)
            .unwrap();
        assert_eq!(
            bars.iter().map(|b| b.count).collect::<Vec<_>>(),
            vec![2, 2, 2]
        );
        assert_eq!(bars[1].start, t0 + Duration::hours(1));
        // Bars start where the window starts, not on round hours.
        let since =
            t0 + Duration::minutes(7) + Duration::milliseconds(3) + Duration::nanoseconds(466_001);
        let bars = r
            .histogram(
                &all,
                since,
                since + Duration::hours(2),
                Duration::hours(1),
                t0,
            )
            .unwrap();
        assert_eq!(
            bars.iter().map(|b| b.count).collect::<Vec<_>>(),
            vec![2, 2],
            "e1,e2 then e3,e4"
        );
        assert_eq!(bars[0].start, since);
        // Bucket keys come back as f64 milliseconds; every offset must land in its bar.
        for ms in 0..300 {
            let since =
                t0 + Duration::minutes(7) + Duration::milliseconds(ms) + Duration::nanoseconds(1);
            let bars = r
                .histogram(
                    &all,
                    since,
                    since + Duration::hours(2),
                    Duration::minutes(10),
                    t0,
                )
                .unwrap();
            assert_eq!(
                bars.iter().map(|b| b.count).sum::<u64>(),
                4,
                "window starting {since}"
            );
        }
        let release2 = Filter {
            query: "release:2.0".into(),
            mode: QueryMode::Events,
            ..Default::default()
        };
        assert_eq!(
            r.first_seen(&release2, t0).unwrap(),
            Some(t0 + Duration::minutes(90))
        );
        let none = Filter {
            query: "release:9.9".into(),
            mode: QueryMode::Events,
            ..Default::default()
        };
        assert_eq!(r.first_seen(&none, t0).unwrap(), None);
    }
}
