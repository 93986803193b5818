//! The key table, versions, priorities, in-app frames, `has:`, refusals, notes, hints and
//! group filters, on a real on-disk index seeded with known documents.

#![allow(clippy::disallowed_methods)] // fixed times built from constants

use chrono::{DateTime, Duration, TimeZone, Utc};
use sentry_mcp_index::query::ast::{FilterKind, Token};
use sentry_mcp_index::query::keys::{KEYS, ValueType};
use sentry_mcp_index::query::parse::{ParseOptions, parse};
use sentry_mcp_index::{
    Change, DocKind, IndexDoc, IndexReader, IndexWriter, QueryMode, Scope, SearchRequest,
    WriterOptions,
};

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 10, 12, 0, 0).unwrap()
}

struct Seed {
    _dir: tempfile::TempDir,
    reader: IndexReader,
}

fn issue(
    id: &str,
    status: &str,
    priority: Option<&str>,
    first_h: i64,
    times: u64,
    users: u64,
) -> IndexDoc {
    let mut d = IndexDoc::new(DocKind::Issue, id, now() - Duration::minutes(30));
    d.issue_id = Some(id.into());
    d.status = Some(status.into());
    d.level = Some("error".into());
    d.priority = priority.map(str::to_owned);
    d.first_seen = Some(now() - Duration::hours(first_h));
    d.last_seen = Some(now() - Duration::minutes(30));
    d.times_seen = Some(times);
    d.user_count = Some(users);
    d.title = format!("Error {id}");
    d
}

fn event(
    id: &str,
    issue: &str,
    release: &str,
    minutes_ago: i64,
    user: Option<&str>,
    in_app: &[bool],
) -> IndexDoc {
    let mut e = IndexDoc::new(DocKind::Event, id, now() - Duration::minutes(minutes_ago));
    e.issue_id = Some(issue.into());
    e.release = Some(release.into());
    e.level = Some("error".into());
    e.title = format!("Error {issue}");
    if let Some(u) = user {
        e.tags.push(("user.email".into(), u.into()));
    }
    e.stack_in_app = in_app.to_vec();
    e
}

fn seed() -> Seed {
    let dir = tempfile::tempdir().unwrap();
    let mut w = IndexWriter::open(dir.path(), &WriterOptions::default()).unwrap();
    let changes = vec![
        issue("1", "unresolved", Some("high"), 2, 12, 3),
        issue("2", "unresolved", Some("medium"), 48, 3, 1),
        issue("3", "unresolved", Some("low"), 100, 1, 0),
        issue("4", "resolved", Some("high"), 5, 40, 9),
        // An issue whose events never came as webhooks.
        issue("5", "unresolved", None, 3, 500, 50),
    ];
    for c in changes {
        w.apply_all(vec![Change::Put(c)]).unwrap();
    }
    let users = ["a@x.io", "b@x.io", "c@x.io"];
    let mut n = 0;
    for i in 0..12 {
        n += 1;
        let release = ["shop@7.8.0", "shop@7.10.1+55", "web@7.9+12"][i % 3];
        w.apply_all(vec![Change::Put(event(
            &format!("a{n}"),
            "1",
            release,
            5 + i as i64,
            Some(users[i % 3]),
            &[true, false],
        ))])
        .unwrap();
    }
    for i in 0..3 {
        n += 1;
        w.apply_all(vec![Change::Put(event(
            &format!("b{n}"),
            "2",
            "1.2.0",
            120 + i,
            Some("a@x.io"),
            &[false],
        ))])
        .unwrap();
    }
    n += 1;
    w.apply_all(vec![Change::Put(event(
        &format!("c{n}"),
        "3",
        "7.7",
        600,
        None,
        &[],
    ))])
    .unwrap();
    w.commit(None).unwrap();
    Seed {
        reader: w.reader(),
        _dir: dir,
    }
}

impl Seed {
    fn search(
        &self,
        query: &str,
        mode: QueryMode,
        kind: DocKind,
    ) -> Result<(Vec<String>, Vec<String>), String> {
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
        Ok((ids, page.notes))
    }

    fn issues(&self, query: &str) -> Vec<String> {
        self.search(query, QueryMode::Issues, DocKind::Issue)
            .unwrap_or_else(|e| panic!("{query}: {e}"))
            .0
    }

    fn events(&self, query: &str) -> Vec<String> {
        self.search(query, QueryMode::Events, DocKind::Event)
            .unwrap_or_else(|e| panic!("{query}: {e}"))
            .0
    }

    fn error(&self, query: &str, mode: QueryMode) -> String {
        self.search(query, mode, DocKind::Issue).expect_err(query)
    }
}

#[test]
fn every_alias_of_every_date_and_number_key_parses_and_plans_as_its_type() {
    let s = seed();
    let options = ParseOptions::for_index(now());
    for def in KEYS {
        let (value, kind) = match def.ty {
            ValueType::Date => ("-24h", FilterKind::RelativeDate),
            ValueType::Number => (">2", FilterKind::Numeric),
            _ => continue,
        };
        let expected = s.issues(&format!("{}:{value}", def.name));
        for name in def.spellings() {
            let query = format!("{name}:{value}");
            let tokens = parse(&query, &options).unwrap();
            assert!(
                matches!(&tokens[..], [Token::Filter(f)] if f.kind == kind),
                "{query}: {tokens:?}"
            );
            assert_eq!(
                s.issues(&query),
                expected,
                "{query} answers as {}",
                def.name
            );
        }
    }
    assert_eq!(s.issues("first_seen:-24h"), ["1", "4", "5"]);
    assert_eq!(s.issues("times_seen:>10"), ["1", "4", "5"]);
}

#[test]
fn release_parts_compare_in_semver_order() {
    let s = seed();
    let count = |q: &str| s.events(q).len();
    assert_eq!(
        count("release.version:>7.8"),
        8,
        "7.10.1 and 7.9, not 7.8.0, 1.2.0 or 7.7"
    );
    assert_eq!(count("release.version:>=7.8"), 12);
    assert_eq!(count("release.version:<7.8"), 4, "1.2.0 and 7.7");
    assert_eq!(count("release.version:7.10.*"), 4);
    assert_eq!(count("release.package:shop"), 8);
    assert_eq!(count("release.build:>20"), 4, "build 55");
    assert_eq!(count("!release.package:shop"), 8);
    assert_eq!(
        s.issues("release.version:>7.8"),
        Vec::<String>::new(),
        "issues carry no release here"
    );
}

#[test]
fn priorities_and_sentrys_default_view() {
    let s = seed();
    assert_eq!(
        s.issues("is:unresolved issue.priority:[high, medium]"),
        ["1", "2"]
    );
    assert_eq!(s.issues("priority:low"), ["3"]);
    let err = s.error("issue.priority:urgent", QueryMode::Issues);
    assert!(
        err.contains("unknown `issue.priority` value \"urgent\"")
            && err.contains("high, medium, low"),
        "{err}"
    );
}

#[test]
fn in_app_frames_and_has_user() {
    let s = seed();
    assert_eq!(s.events("stack.in_app:true").len(), 12);
    assert_eq!(s.events("stack.in_app:false").len(), 15);
    assert_eq!(s.events("!stack.in_app:true").len(), 4);
    assert_eq!(s.events("has:user").len(), 15, "events with a user");
    assert_eq!(
        s.issues("has:user"),
        ["1", "2", "4", "5"],
        "issues that affected users"
    );
    assert_eq!(s.issues("!has:user"), ["3"]);
    assert_eq!(s.issues("has:timesSeen"), ["1", "2", "3", "4", "5"]);
    assert_eq!(s.issues("has:priority"), ["1", "2", "3", "4"]);
}

#[test]
fn every_known_key_answers_has() {
    let s = seed();
    for def in KEYS {
        for name in def.spellings() {
            let query = format!("has:{name}");
            for mode in [QueryMode::Issues, QueryMode::Events] {
                s.search(&query, mode, DocKind::Event)
                    .unwrap_or_else(|e| panic!("{query}: {e}"));
            }
        }
    }
    assert_eq!(s.events("has:release").len(), 16);
    assert!(s.events("has:alert.rule").is_empty());
    assert_eq!(s.issues("has:firstSeen"), ["1", "2", "3", "4", "5"]);
}

#[test]
fn queries_sentry_refuses_are_refused_with_a_reason() {
    let s = seed();
    for (query, mode, says) in [
        (
            "level:error AND",
            QueryMode::Events,
            "AND needs a search term on both sides",
        ),
        (
            "OR level:error",
            QueryMode::Events,
            "OR needs a search term on both sides",
        ),
        (
            "level:error AND OR level:fatal",
            QueryMode::Events,
            "on both sides",
        ),
        (
            "level:error AND",
            QueryMode::Issues,
            "AND needs a search term on both sides",
        ),
        (
            "issue.category:hellboy",
            QueryMode::Issues,
            "unknown `issue.category` value \"hellboy\"",
        ),
        (
            "id:deadbeef",
            QueryMode::Events,
            "`id:deadbeef` is not a valid id",
        ),
        (
            "trace:abc",
            QueryMode::Events,
            "`trace:abc` is not a valid id: expected 32 hexadecimal",
        ),
        (
            "is:[unresolved, resolved]",
            QueryMode::Issues,
            "`is:` takes one value",
        ),
        (
            "is:unresolvd",
            QueryMode::Issues,
            "did you mean `is:unresolved`?",
        ),
    ] {
        let err = s.error(query, mode);
        assert!(err.contains(says), "{query}: {err}");
        assert!(err.contains("position"), "{query}: {err}");
    }
    assert!(
        s.search(
            "id:aaaa0000000000000000000000000001 trace:0123456789abcdef0123456789abcdef",
            QueryMode::Events,
            DocKind::Event
        )
        .is_ok()
    );
    assert!(
        s.search("issue.category:error", QueryMode::Issues, DocKind::Issue)
            .is_ok()
    );
}

#[test]
fn keys_the_index_cannot_answer_say_why_in_the_answer() {
    let s = seed();
    for (query, says) in [
        ("bookmarks:me", "bookmarks belong to Sentry users"),
        ("is:unresolved is:linked", "issue trackers"),
        ("assigned:me", "does not know who is asking"),
        ("!is:bookmarked", "bookmarks and subscriptions"),
        ("release.stage:adopted", "release health"),
    ] {
        let (ids, notes) = s.search(query, QueryMode::Issues, DocKind::Issue).unwrap();
        assert!(ids.is_empty(), "{query} matched {ids:?}");
        assert!(
            notes
                .iter()
                .any(|n| n.contains(says) && n.contains("matched nothing")),
            "{query}: {notes:?}"
        );
    }
    let (ids, notes) = s
        .search("is:for_review", QueryMode::Issues, DocKind::Issue)
        .unwrap();
    assert!(ids.is_empty());
    assert!(
        notes.iter().any(|n| n.contains("approximated")),
        "{notes:?}"
    );
    let (_, notes) = s
        .search("is:unresolved", QueryMode::Issues, DocKind::Issue)
        .unwrap();
    assert!(notes.is_empty(), "{notes:?}");
}

#[test]
fn hints_are_right_or_absent() {
    let hints = |q: &str| sentry_mcp_index::query::hints(q, now());
    assert!(
        hints("is:unresolved").is_empty(),
        "is: is a known key: {:?}",
        hints("is:unresolved")
    );
    assert!(hints("has:release first_seen:-1h stack.in_app:true").is_empty());
    let h = hints("is:unresolved level:errr").join(" ");
    assert!(
        h.contains("`errr` is not a usual `level` value")
            && h.contains("did you mean `level:error`?"),
        "{h}"
    );
    assert!(!h.contains("`is`"), "{h}");
    let h = hints("status:unresolvd").join(" ");
    assert!(h.contains("did you mean `status:unresolved`?"), "{h}");
    let h = hints("has:levle").join(" ");
    assert!(h.contains("did you mean `level`?"), "{h}");
    assert!(hints("level:error customer:acme").is_empty());
}

#[test]
fn group_filters_apply_to_each_issues_events() {
    let s = seed();
    let scope = Scope {
        since: Some(now() - Duration::hours(24)),
        until: Some(now()),
        ..Default::default()
    };
    let groups = |q: &str| {
        let found = s
            .reader
            .issue_groups(q, &scope, 10, now())
            .unwrap_or_else(|e| panic!("{q}: {e}"));
        let mut ids: Vec<String> = found.groups.iter().map(|g| g.issue_id.clone()).collect();
        ids.extend(
            found
                .issues_without_events
                .iter()
                .map(|i| format!("issue:{}", i.id)),
        );
        ids.sort();
        ids
    };
    assert_eq!(groups("count():>10"), ["1", "issue:4", "issue:5"]);
    assert_eq!(
        groups("level:error count():>10"),
        ["1", "issue:4", "issue:5"]
    );
    assert_eq!(groups("count_unique(user):>2"), ["1", "issue:4", "issue:5"]);
    assert_eq!(groups("count_unique(user):1"), ["2"]);
    assert_eq!(groups("last_seen():-1h"), ["1", "issue:4", "issue:5"]);
    assert_eq!(groups("last_seen():+1h"), ["2", "3"]);
    // 12 events in 24 h is 0.008 per minute.
    assert_eq!(groups("epm():>0.005 count():<100"), ["1", "issue:4"]);
    assert_eq!(groups("!count():>10 release:1.2.0"), ["2"]);
    let found = s
        .reader
        .issue_groups("count():>10", &scope, 10, now())
        .unwrap();
    assert_eq!(
        found.total_events, 16,
        "all matching events, before group filters"
    );
    assert!(found.filtered);
    assert_eq!(found.groups[0].stats.count, 12);
    assert_eq!(found.groups[0].stats.users, 3);
    // Issues without events only make up a page the groups do not fill.
    let fill = |n: usize| {
        let found = s
            .reader
            .issue_groups("count():>10", &scope, n, now())
            .unwrap();
        (found.groups.len(), found.issues_without_events.len())
    };
    assert_eq!(fill(1), (1, 0));
    assert_eq!(fill(2), (1, 1));
    assert_eq!(fill(3), (1, 2));
    assert_eq!(fill(0), (1, 0));
    let err = s
        .reader
        .issue_groups("count():>1 OR level:error", &scope, 10, now())
        .unwrap_err()
        .to_string();
    assert!(err.contains("cannot be combined with OR"), "{err}");
}
