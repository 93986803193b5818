//! Counts by value on a real on-disk index of several segments, against a tally of the
//! documents written: issue ids whose byte order is not their numeric order, releases too
//! long to merge as integers in some segments only, fields that issues hold several values
//! of (so the columns are multi-valued), and values with several per event.

#![allow(clippy::disallowed_methods)] // fixed times built from constants

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, TimeZone, Utc};
use sentry_mcp_index::{
    Change, DocKind, Filter, GroupBy, IndexDoc, IndexWriter, QueryMode, Scope, WriterOptions,
};

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 10, 12, 0, 0).unwrap()
}

/// A document's values of a field.
type Values = fn(&IndexDoc) -> Vec<String>;

#[test]
fn counts_by_value_are_the_full_tally_across_segments() {
    let dir = tempfile::tempdir().unwrap();
    let mut w = IndexWriter::open(dir.path(), &WriterOptions::default()).unwrap();
    let mut events = Vec::new();
    for i in 0..1500u64 {
        let segment = i / 300;
        let mut e = IndexDoc::new(
            DocKind::Event,
            format!("{i:032x}"),
            now() - Duration::minutes(i as i64 % 600),
        );
        e.issue_id = Some(((i * 7919) % 113 + 1).to_string());
        e.release = Some(match segment {
            // Only this segment's releases are longer than 16 bytes.
            2 => format!("backend@2026.12.{}+0123456789abcdef", i % 4),
            _ => format!("backend@1.{}", i % 6),
        });
        e.environment = Some(["production", "staging", "dev"][(i % 7).min(2) as usize].into());
        e.exception_types = match i % 5 {
            0 => vec![],
            1 => vec!["ValueError".into(), "ConnectionResetError".into()],
            _ => vec![format!("Error{}", i % 3)],
        };
        events.push(e.clone());
        let mut changes = vec![Change::Put(e)];
        if i % 50 == 0 {
            // Issues hold several releases and environments: those columns are multi-valued.
            let mut issue = IndexDoc::new(DocKind::Issue, format!("{}", 10_000 + i), now());
            issue.issue_id = Some(format!("{}", 10_000 + i));
            issue.releases = vec!["backend@9.9".into(), "backend@9.8".into()];
            issue.environments = vec!["production".into(), "canary".into()];
            changes.push(Change::Put(issue));
        }
        w.apply_all(changes).unwrap();
        if i % 300 == 299 {
            w.commit(None).unwrap();
        }
    }
    w.commit(None).unwrap();
    let reader = w.reader();
    let filter = Filter {
        mode: QueryMode::Events,
        scope: Scope {
            kinds: vec![DocKind::Event],
            ..Default::default()
        },
        ..Default::default()
    };
    let tallies: [(GroupBy, Values); 4] = [
        (GroupBy::Issue, |e| e.issue_id.iter().cloned().collect()),
        (GroupBy::Release, |e| e.release.iter().cloned().collect()),
        (GroupBy::Environment, |e| {
            e.environment.iter().cloned().collect()
        }),
        (GroupBy::ErrorType, |e| e.exception_types.clone()),
    ];
    for (group, values) in tallies {
        let mut tally: BTreeMap<String, u64> = BTreeMap::new();
        for e in &events {
            for v in values(e) {
                *tally.entry(v).or_default() += 1;
            }
        }
        let mut expected: Vec<(String, u64)> = tally.into_iter().collect();
        expected.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        for top in [1, 3, 10, 50, 1000] {
            let (buckets, total) = reader.count_by(&filter, group, top, now()).unwrap();
            assert_eq!(total, 1500);
            let got: Vec<(String, u64)> = buckets.into_iter().map(|b| (b.key, b.count)).collect();
            let want: Vec<(String, u64)> = expected.iter().take(top).cloned().collect();
            assert_eq!(got, want, "{group:?} top {top}");
        }
    }
}
