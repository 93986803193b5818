//! The query planner on a real on-disk index seeded with known documents: every supported
//! key, negation, ranges, relative dates against a fixed clock, wildcards, lists, has/is,
//! tags, sorting and paging.

#![allow(clippy::disallowed_methods)] // fixed times built from constants

use chrono::{DateTime, Duration, TimeZone, Utc};
use sentry_mcp_index::{
    Change, DocKind, IndexDoc, IndexReader, IndexWriter, QueryMode, Scope, SearchRequest, SortBy,
    WriterOptions,
};

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 10, 12, 0, 0).unwrap()
}

struct Seed {
    _dir: tempfile::TempDir,
    reader: IndexReader,
}

/// An issue first seen `first_h` and last seen `last_h` hours before [`now`].
#[allow(clippy::too_many_arguments)]
fn issue(
    id: &str,
    status: &str,
    level: &str,
    env: &str,
    release: &str,
    first_h: i64,
    last_h: i64,
    times: u64,
    users: u64,
) -> IndexDoc {
    let mut d = IndexDoc::new(DocKind::Issue, id, now() - Duration::hours(last_h));
    d.issue_id = Some(id.into());
    d.short_id = Some(format!("WEB-{id}"));
    d.project = Some(if id.starts_with('1') { "web" } else { "api" }.into());
    d.status = Some(status.into());
    d.level = Some(level.into());
    d.environment = Some(env.into());
    d.release = Some(release.into());
    d.platform = Some("python".into());
    d.first_seen = Some(now() - Duration::hours(first_h));
    d.last_seen = Some(now() - Duration::hours(last_h));
    d.times_seen = Some(times);
    d.user_count = Some(users);
    d
}

fn seed() -> Seed {
    let dir = tempfile::tempdir().unwrap();
    let mut w = IndexWriter::open(dir.path(), &WriterOptions::default()).unwrap();
    let mut docs = Vec::new();
    let mut a = issue(
        "101",
        "unresolved",
        "error",
        "production",
        "1.2.0",
        48,
        1,
        150,
        40,
    );
    a.title = "ConnectionResetError: Connection reset by peer".into();
    a.culprit = Some("app.payments in charge".into());
    a.exception_types = vec!["ConnectionResetError".into()];
    a.exception_values = vec!["Connection reset by peer".into()];
    a.stack_files = vec!["app/payments.py".into()];
    a.stack_functions = vec!["charge".into()];
    a.stack_modules = vec!["app.payments".into()];
    a.tags = vec![
        ("customer".into(), "acme-eu".into()),
        ("browser.name".into(), "Firefox".into()),
    ];
    a.assignee = Some("ana@example.com".into());
    a.releases = vec!["1.1.0".into(), "1.2.0".into()];
    a.environments = vec!["canary".into(), "production".into()];
    a.substatus = Some("escalating".into());
    docs.push(a);
    let mut b = issue(
        "102", "resolved", "warning", "staging", "1.2.1", 200, 30, 5, 1,
    );
    b.title = "TimeoutError: inventory timed out".into();
    b.tags = vec![
        ("customer".into(), "globex".into()),
        ("user.email".into(), "bo@example.com".into()),
    ];
    b.message = Some("the inventory service did not answer".into());
    docs.push(b);
    let mut c = issue(
        "203",
        "ignored",
        "fatal",
        "production",
        "2.0.0",
        3,
        2,
        1000,
        300,
    );
    c.title = "KeyError: 'shipping*address'".into();
    c.substatus = Some("archived_forever".into());
    docs.push(c);
    let mut d = issue(
        "204",
        "unresolved",
        "error",
        "production",
        "2.0.0",
        20,
        20,
        101,
        7,
    );
    d.title = "TypeError: price is undefined".into();
    d.substatus = Some("new".into());
    docs.push(d);
    for doc in docs {
        w.apply_all(vec![Change::Put(doc)]).unwrap();
    }
    // Events for release:latest and event search.
    for (i, (release, at_h)) in [("1.2.0", 30), ("2.0.0", 2), ("1.2.1", 10)]
        .iter()
        .enumerate()
    {
        let mut e = IndexDoc::new(
            DocKind::Event,
            format!("e{i}"),
            now() - Duration::hours(*at_h),
        );
        e.issue_id = Some("101".into());
        e.project = Some("web".into());
        e.release = Some((*release).into());
        e.title = "ConnectionResetError: Connection reset by peer".into();
        w.apply_all(vec![Change::Put(e)]).unwrap();
    }
    w.commit(None).unwrap();
    Seed {
        reader: w.reader(),
        _dir: dir,
    }
}

impl Seed {
    fn search(&self, query: &str, mode: QueryMode, kind: DocKind) -> Result<Vec<String>, String> {
        let req = SearchRequest {
            query: query.into(),
            mode,
            scope: Scope {
                kinds: vec![kind],
                ..Default::default()
            },
            limit: 100,
            ..Default::default()
        };
        let page = self
            .reader
            .search_page(&req, now())
            .map_err(|e| e.to_string())?;
        let mut ids: Vec<String> = page.docs.into_iter().map(|d| d.id).collect();
        ids.sort();
        Ok(ids)
    }

    fn issues(&self, query: &str) -> Vec<String> {
        self.search(query, QueryMode::Issues, DocKind::Issue)
            .unwrap_or_else(|e| panic!("{query}: {e}"))
    }

    fn error(&self, query: &str) -> String {
        self.search(query, QueryMode::Issues, DocKind::Issue)
            .expect_err(query)
    }
}

#[test]
fn exact_keys_and_negation() {
    let s = seed();
    assert_eq!(s.issues("level:error"), ["101", "204"]);
    assert_eq!(s.issues("!level:error"), ["102", "203"]);
    assert_eq!(s.issues("environment:production !release:2.0.0"), ["101"]);
    assert_eq!(s.issues("project:api"), ["203", "204"]);
    assert_eq!(s.issues("platform:python"), ["101", "102", "203", "204"]);
    assert_eq!(s.issues("assigned:ana@example.com"), ["101"]);
    assert_eq!(s.issues("error.type:ConnectionResetError"), ["101"]);
    assert_eq!(
        s.issues("stack.filename:app/payments.py stack.function:charge stack.module:app.payments"),
        ["101"]
    );
    assert_eq!(s.issues("shortId:WEB-204"), ["204"]);
}

#[test]
fn prose_keys_and_free_text() {
    let s = seed();
    assert_eq!(s.issues("error.value:\"reset by peer\""), ["101"]);
    assert_eq!(s.issues("message:inventory"), ["102"]);
    assert_eq!(s.issues("culprit:payments"), ["101"]);
    assert_eq!(s.issues("title:\"timed out\""), ["102"]);
    assert_eq!(s.issues("\"connection reset\""), ["101"]);
    assert_eq!(
        s.issues("timeout"),
        ["102"],
        "camelCase words are found by their parts"
    );
    assert_eq!(s.issues("time*"), ["102"]);
    assert!(
        s.issues("\"reset connection\"").is_empty(),
        "a quoted phrase keeps its order"
    );
}

#[test]
fn tags_wildcards_and_lists() {
    let s = seed();
    assert_eq!(s.issues("customer:globex"), ["102"]);
    assert_eq!(s.issues("tags[customer]:acme*"), ["101"]);
    assert_eq!(s.issues("browser.name:Firefox"), ["101"]);
    assert_eq!(s.issues("user.email:bo@example.com"), ["102"]);
    assert_eq!(s.issues("release:[1.2.0, 1.2.1]"), ["101", "102"]);
    assert_eq!(
        s.issues("release:1.1.0"),
        ["101"],
        "any release an issue was seen in"
    );
    assert_eq!(
        s.issues("environment:canary"),
        ["101"],
        "any environment an issue was seen in"
    );
    assert_eq!(s.issues("!release:[1.2.0, \"1.2.1\"]"), ["203", "204"]);
    assert_eq!(s.issues("release:1.2.*"), ["101", "102"]);
}

#[test]
fn numeric_and_date_ranges_against_a_fixed_clock() {
    let s = seed();
    assert_eq!(s.issues("timesSeen:>100"), ["101", "203", "204"]);
    assert_eq!(s.issues("timesSeen:>=150 timesSeen:<1000"), ["101"]);
    assert!(s.issues("timesSeen:>1k").is_empty());
    assert_eq!(s.issues("times_seen:101"), ["204"]);
    assert_eq!(s.issues("userCount:>=40"), ["101", "203"]);
    assert_eq!(s.issues("lastSeen:-6h"), ["101", "203"]);
    assert_eq!(s.issues("lastSeen:+1d"), ["102"]);
    assert_eq!(s.issues("firstSeen:-24h"), ["203", "204"]);
    assert_eq!(s.issues("age:-24h"), ["203", "204"]);
    assert_eq!(s.issues("firstSeen:>2026-03-09T12:00:00"), ["203", "204"]);
    assert_eq!(s.issues("lastSeen:<2026-03-09T12:00:00"), ["102"]);
    assert_eq!(
        s.issues("lastSeen:2026-03-10"),
        ["101", "203"],
        "a bare day is that whole day"
    );
}

#[test]
fn has_and_is() {
    let s = seed();
    assert_eq!(s.issues("is:unresolved"), ["101", "204"]);
    assert_eq!(s.issues("is:resolved"), ["102"]);
    assert_eq!(s.issues("is:ignored"), ["203"]);
    assert_eq!(s.issues("is:archived"), ["203"]);
    assert_eq!(s.issues("is:assigned"), ["101"]);
    assert_eq!(s.issues("is:unassigned"), ["102", "203", "204"]);
    assert_eq!(s.issues("is:escalating"), ["101"]);
    assert_eq!(s.issues("is:for_review"), ["204"]);
    assert_eq!(s.issues("has:assigned"), ["101"]);
    assert_eq!(s.issues("!has:assigned"), ["102", "203", "204"]);
    assert_eq!(s.issues("has:customer"), ["101", "102"]);
    assert_eq!(
        s.issues("has:message"),
        ["101", "102", "203", "204"],
        "message covers titles"
    );
}

#[test]
fn release_latest_is_the_newest_release_seen() {
    let s = seed();
    assert_eq!(s.issues("release:latest"), ["203", "204"]);
    let events = s
        .search(
            "release:latest project:web",
            QueryMode::Events,
            DocKind::Event,
        )
        .unwrap();
    assert_eq!(events, ["e1"]);
}

#[test]
fn boolean_logic_in_event_search_only() {
    let s = seed();
    let q = "(level:fatal OR level:warning) AND environment:production";
    assert_eq!(
        s.search(q, QueryMode::Events, DocKind::Issue).unwrap(),
        ["203"]
    );
    let q = "level:fatal OR is:resolved";
    assert_eq!(
        s.search(q, QueryMode::Events, DocKind::Issue).unwrap(),
        ["102", "203"]
    );
    let err = s.error("level:fatal OR level:warning");
    assert!(err.contains("OR is not allowed in issue search"), "{err}");
    assert!(err.contains("position 12"), "{err}");
}

#[test]
fn invalid_queries_say_where_and_what() {
    let s = seed();
    let err = s.error("is:unresolvedd");
    assert!(err.contains("unknown is: value \"unresolvedd\""), "{err}");
    let err = s.error("lastSeen:>2024-13-01");
    assert!(err.contains("2024-13-01"), "{err}");
    let err = s.error("count():>10");
    assert!(err.contains("timesSeen"), "{err}");
    let err = s
        .search("(level:error", QueryMode::Events, DocKind::Issue)
        .unwrap_err();
    assert!(err.contains("position"), "{err}");
}

#[test]
fn sorts_and_pages_without_duplicates_or_gaps() {
    let s = seed();
    let request = |sort: SortBy, limit: usize| SearchRequest {
        mode: QueryMode::Issues,
        scope: Scope {
            kinds: vec![DocKind::Issue],
            ..Default::default()
        },
        sort,
        limit,
        ..Default::default()
    };
    let ids = |sort: SortBy| {
        let page = s.reader.search_page(&request(sort, 10), now()).unwrap();
        page.docs.into_iter().map(|d| d.id).collect::<Vec<_>>()
    };
    assert_eq!(ids(SortBy::Date), ["101", "203", "204", "102"]);
    assert_eq!(ids(SortBy::New), ["203", "204", "101", "102"]);
    assert_eq!(ids(SortBy::Freq), ["203", "101", "204", "102"]);
    assert_eq!(ids(SortBy::User), ["203", "101", "204", "102"]);

    for sort in [SortBy::Date, SortBy::New, SortBy::Freq, SortBy::User] {
        let mut req = request(sort, 1);
        let mut paged = Vec::new();
        loop {
            let page = s.reader.search_page(&req, now()).unwrap();
            assert_eq!(page.total, 4);
            paged.extend(page.docs.into_iter().map(|d| d.id));
            match page.next_cursor {
                Some(c) => req.cursor = Some(c),
                None => break,
            }
        }
        assert_eq!(paged, ids(sort), "paging by {sort:?}");
    }
    let bad = SearchRequest {
        cursor: Some("zz".into()),
        ..Default::default()
    };
    let err = s.reader.search_page(&bad, now()).unwrap_err().to_string();
    assert!(err.contains("invalid cursor"), "{err}");
}

#[test]
fn ties_on_the_sort_value_page_by_key() {
    let dir = tempfile::tempdir().unwrap();
    let mut w = IndexWriter::open(dir.path(), &WriterOptions::default()).unwrap();
    for i in 0..25 {
        let mut d = IndexDoc::new(DocKind::Issue, format!("{i:03}"), now());
        d.times_seen = Some(7);
        w.apply_all(vec![Change::Put(d)]).unwrap();
    }
    w.commit(None).unwrap();
    let reader = w.reader();
    let mut req = SearchRequest {
        sort: SortBy::Freq,
        limit: 4,
        ..Default::default()
    };
    let mut seen = Vec::new();
    loop {
        let page = reader.search_page(&req, now()).unwrap();
        seen.extend(page.docs.into_iter().map(|d| d.id));
        match page.next_cursor {
            Some(c) => req.cursor = Some(c),
            None => break,
        }
    }
    let expected: Vec<String> = (0..25).map(|i| format!("{i:03}")).collect();
    assert_eq!(seen, expected);
}

/// Pages of every sort and several sizes, followed by cursor over several segments, are the
/// full sort by (value descending, key ascending), with many ties and missing values, and
/// documents written in ascending, descending and mixed order of their values.
#[test]
fn pages_are_the_full_sort_across_segments_ties_and_gaps() {
    let dir = tempfile::tempdir().unwrap();
    let mut w = IndexWriter::open(dir.path(), &WriterOptions::default()).unwrap();
    let mut docs = Vec::new();
    for i in 0..360i64 {
        let id = format!("{}", (i * 7919) % 1000);
        let step = match i / 120 {
            0 => i,       // ascending, as issues are rewritten when seen
            1 => 360 - i, // descending
            _ => (i * 37) % 11,
        };
        let mut d = IndexDoc::new(
            DocKind::Issue,
            id,
            now() - Duration::minutes(400 - step / 3),
        );
        d.first_seen = (i % 5 != 0).then(|| now() - Duration::hours(step % 7));
        d.times_seen = (i % 4 != 0).then_some((step % 13) as u64);
        d.user_count = Some((i % 3) as u64);
        docs.push(d.clone());
        w.apply_all(vec![Change::Put(d)]).unwrap();
        if i % 90 == 89 {
            w.commit(None).unwrap();
        }
    }
    w.commit(None).unwrap();
    let reader = w.reader();
    for sort in [SortBy::Date, SortBy::New, SortBy::Freq, SortBy::User] {
        let value = |d: &IndexDoc| -> i64 {
            // A document without a first seen sorts by its timestamp (schema.rs).
            match sort {
                SortBy::Date => d.timestamp.timestamp_millis(),
                SortBy::New => d.first_seen.unwrap_or(d.timestamp).timestamp_millis(),
                SortBy::Freq => d.times_seen.unwrap_or(0) as i64,
                SortBy::User => d.user_count.unwrap_or(0) as i64,
            }
        };
        let mut expected = docs.clone();
        expected.sort_by(|a, b| value(b).cmp(&value(a)).then(a.id.cmp(&b.id)));
        let expected: Vec<String> = expected.into_iter().map(|d| d.id).collect();
        for limit in [1, 7, 25, 100, 500] {
            let mut req = SearchRequest {
                sort,
                limit,
                ..Default::default()
            };
            let mut paged = Vec::new();
            loop {
                let page = reader.search_page(&req, now()).unwrap();
                assert_eq!(page.total, 360);
                paged.extend(page.docs.into_iter().map(|d| d.id));
                match page.next_cursor {
                    Some(c) => req.cursor = Some(c),
                    None => break,
                }
            }
            assert_eq!(paged, expected, "{sort:?}, pages of {limit}");
        }
    }
}

mod arbitrary_queries {
    use std::time::{Duration as StdDuration, Instant};

    use proptest::prelude::*;

    use super::*;

    /// Strings built from the syntax's own pieces, so that most of them get past the parser
    /// and into the planner (keys, operators, quotes, lists, parens, wildcards, dates).
    fn query() -> impl Strategy<Value = String> {
        let piece = prop_oneof![
            Just("level:".to_owned()),
            Just("!".to_owned()),
            Just("is:".to_owned()),
            Just("has:".to_owned()),
            Just("tags[".to_owned()),
            Just("]".to_owned()),
            Just("lastSeen:".to_owned()),
            Just("timesSeen:>".to_owned()),
            Just("release:latest".to_owned()),
            Just("-24h".to_owned()),
            Just("2024-13-01".to_owned()),
            Just("[a, \"b c\"]".to_owned()),
            Just(" OR ".to_owned()),
            Just(" AND ".to_owned()),
            Just("(".to_owned()),
            Just(")".to_owned()),
            Just("*".to_owned()),
            Just("\\".to_owned()),
            Just("\"".to_owned()),
            Just(" ".to_owned()),
            "[a-zA-Z0-9_.:<>=é]{1,8}",
        ];
        prop::collection::vec(piece, 0..24).prop_map(|p| p.concat())
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

        #[test]
        fn any_query_answers_or_errors_without_panicking(input in query(), events in any::<bool>()) {
            static SEED: std::sync::LazyLock<Seed> = std::sync::LazyLock::new(seed);
            let s = &*SEED;
            let mode = if events { QueryMode::Events } else { QueryMode::Issues };
            let started = Instant::now();
            let result = s.search(&input, mode, DocKind::Issue);
            // Generous: tests run unoptimised on a shared machine.
            prop_assert!(started.elapsed() < StdDuration::from_millis(500), "{:?} for {input:?}", started.elapsed());
            if let Err(e) = result {
                prop_assert!(e.contains("position"), "errors say where: {e}");
            }
        }
    }
}
