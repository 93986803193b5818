use std::time::{Duration as StdDuration, Instant};

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use proptest::prelude::*;

use super::*;

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2017, 10, 17, 2, 41, 20)
        .single()
        .expect("valid date")
}

fn p(input: &str) -> Vec<Token> {
    parse(input, &ParseOptions::for_index(now())).unwrap_or_else(|e| panic!("{input:?}: {e}"))
}

fn err(input: &str) -> QueryError {
    match parse(input, &ParseOptions::for_index(now())) {
        Ok(tokens) => panic!("{input:?} parsed: {tokens:?}"),
        Err(e) => e,
    }
}

fn filter(input: &str) -> Filter {
    match p(input).as_slice() {
        [Token::Filter(f)] => f.clone(),
        other => panic!("{input:?}: expected one filter, got {other:?}"),
    }
}

fn simple(name: &str) -> Key {
    Key::Simple {
        name: name.into(),
        quoted: false,
    }
}

fn text_value(value: &str, quoted: bool) -> Value {
    Value::Text(text(value, quoted))
}

#[test]
fn free_text_filters_and_quotes() {
    let tokens = p(r#"level:error "Connection reset" !environment:staging boom  tags:"a \"b\"""#);
    assert_eq!(tokens.len(), 5, "{tokens:?}");
    let Token::Filter(level) = &tokens[0] else {
        panic!("{tokens:?}")
    };
    assert_eq!(
        (level.kind, &level.key, &level.value),
        (
            FilterKind::Text,
            &simple("level"),
            &text_value("error", false)
        )
    );
    assert_eq!(level.span, Span { start: 0, end: 11 });
    assert!(
        matches!(&tokens[1], Token::FreeText { value, quoted: true, .. } if value == "Connection reset")
    );
    let Token::Filter(env) = &tokens[2] else {
        panic!("{tokens:?}")
    };
    assert!(env.negated);
    assert_eq!(env.operator, Operator::Default);
    assert_eq!(env.span.start, 31);
    // Unquoted free text keeps its trailing spacing, as Sentry's tokens do.
    assert!(
        matches!(&tokens[3], Token::FreeText { value, quoted: false, .. } if value == "boom  ")
    );
    assert_eq!(tokens[3].free_text(), Some("boom"));
    let Token::Filter(tags) = &tokens[4] else {
        panic!("{tokens:?}")
    };
    assert_eq!(tags.value, text_value(r#"a \"b\""#, true));
}

#[test]
fn spans_count_characters_not_bytes() {
    let tokens = p("ünïcödé level:error");
    assert_eq!(tokens[0].span(), Span { start: 0, end: 8 });
    assert_eq!(tokens[1].span(), Span { start: 8, end: 19 });
    assert_eq!(err("ünï (a").position, 4);
}

#[test]
fn dates_relative_specific_and_compared() {
    let f = filter("lastSeen:-24h");
    assert_eq!(f.kind, FilterKind::RelativeDate);
    assert!(
        matches!(f.value, Value::RelativeDate { sign: '-', amount: 24, unit: 'h', value, .. }
        if value == now() - TimeDelta::hours(24))
    );
    // `+7d` is "older than 7 days": its cutoff is 7 days ago, as for `-7d`.
    let f = filter("age:+7d");
    assert!(
        matches!(f.value, Value::RelativeDate { sign: '+', value, .. } if value == now() - TimeDelta::days(7))
    );

    let f = filter("firstSeen:2018-01-01");
    assert_eq!(f.kind, FilterKind::SpecificDate);
    let day = Utc
        .with_ymd_and_hms(2018, 1, 1, 0, 0, 0)
        .single()
        .expect("date");
    assert!(matches!(f.value, Value::IsoDate { value, has_time: false, .. } if value == day));

    let f = filter("timestamp:>=2018-01-01T05:06:07.5+02:00");
    assert_eq!((f.kind, f.operator), (FilterKind::Date, Operator::Gte));
    let at = Utc
        .with_ymd_and_hms(2018, 1, 1, 3, 6, 7)
        .single()
        .expect("date")
        + TimeDelta::milliseconds(500);
    assert!(matches!(f.value, Value::IsoDate { value, has_time: true, .. } if value == at));

    // Not a date key: plain text, operator and all.
    let f = filter("random:>2018-01-01");
    assert_eq!((f.kind, f.operator), (FilterKind::Text, Operator::Default));
    assert_eq!(f.value, text_value(">2018-01-01", false));
    // Dates take no negation: a negated date is text, and invalid on a date key.
    let f = filter("!lastSeen:-24h");
    assert_eq!(f.kind, FilterKind::Text);
    assert_eq!(
        f.invalid.and_then(|i| i.kind).as_deref(),
        Some("invalid-date-format")
    );
}

#[test]
fn numbers_durations_booleans_and_lists() {
    let f = filter("timesSeen:>1.5k");
    assert_eq!((f.kind, f.operator), (FilterKind::Numeric, Operator::Gt));
    assert_eq!(
        f.value,
        Value::Number(NumberValue {
            raw: "1.5".into(),
            unit: Some("k".into()),
            value: 1500.0
        })
    );
    let f = filter("userCount:<=-3");
    assert!(matches!(f.value, Value::Number(NumberValue { value, .. }) if value == -3.0));

    let f = filter("transaction.duration:>2m");
    assert_eq!(f.kind, FilterKind::Duration);
    assert!(
        matches!(f.value, Value::Duration { ref unit, millis, .. } if unit == "m" && millis == 120_000.0)
    );

    let f = filter("!error.handled:FALSE");
    assert_eq!((f.kind, f.negated), (FilterKind::Boolean, true));
    assert!(matches!(f.value, Value::Boolean { value: false, .. }));

    let f = filter("timesSeen:[1, 2,3]");
    assert_eq!(f.kind, FilterKind::NumericIn);
    assert!(
        matches!(&f.value, Value::NumberList(items) if items.len() == 3 && items[2].value == 3.0)
    );

    let f = filter(r#"release:[1.0, "two words",x*]"#);
    assert_eq!(f.kind, FilterKind::TextIn);
    assert_eq!(
        f.value,
        Value::TextList(vec![
            text("1.0", false),
            text("two words", true),
            text("x*", false)
        ])
    );
    assert_eq!(f.invalid, None);
}

#[test]
fn keys_has_is_tags_and_aggregates() {
    let f = filter("!has:release");
    assert_eq!(
        (f.kind, f.negated, &f.key),
        (FilterKind::Has, true, &simple("has"))
    );
    assert_eq!(f.value, text_value("release", false));
    let f = filter("is:unresolved");
    assert_eq!(f.kind, FilterKind::Is);

    let f = filter("tags[customer]:acme");
    assert_eq!(
        f.key,
        Key::ExplicitTag {
            prefix: "tags".into(),
            key: "customer".into(),
            tag_type: None
        }
    );
    assert_eq!(f.key.name(), "customer");
    let f = filter(r#""hi:there":value"#);
    assert_eq!(
        f.key,
        Key::Simple {
            name: "hi:there".into(),
            quoted: true
        }
    );

    let f = filter("p95(transaction.duration):>1.5s");
    assert_eq!(f.kind, FilterKind::AggregateDuration);
    assert_eq!(
        f.key,
        Key::Aggregate {
            name: "p95".into(),
            args: vec!["transaction.duration".into()]
        }
    );
    let f = filter("count():>=10");
    assert_eq!(
        (f.kind, f.operator),
        (FilterKind::AggregateNumeric, Operator::Gte)
    );
    let f = filter("count():>soon");
    assert_eq!(f.kind, FilterKind::AggregateGeneric);
    assert!(f.invalid.is_some());
}

#[test]
fn wildcards_text_operators_and_regex() {
    // Wildcards and their escapes are kept as written, for the planner.
    let f = filter(r"message:*time\*out*");
    assert_eq!(f.value, text_value(r"*time\*out*", false));
    let f = filter("release.version:>=1.2.3");
    assert_eq!((f.kind, f.operator), (FilterKind::Text, Operator::Gte));
    assert_eq!(f.value, text_value("1.2.3", false));
    let f = filter("browser.name:\u{F00D}Contains\u{F00D}fire");
    assert_eq!(
        (f.operator, &f.value),
        (Operator::Contains, &text_value("fire", false))
    );

    // `//...//` is literal text unless regexes are allowed.
    let f = filter("message://GET (api)//");
    assert_eq!(
        (f.operator, &f.value),
        (Operator::Default, &text_value("//GET (api)//", false))
    );
    let mut options = ParseOptions::for_index(now());
    options.allow_regex = true;
    let tokens = parse("message://GET (api)// level:error", &options).expect("parses");
    let [Token::Filter(f), Token::Filter(_)] = tokens.as_slice() else {
        panic!("{tokens:?}")
    };
    assert_eq!(
        (f.operator, &f.value),
        (Operator::Regex, &text_value("GET (api)", false))
    );
}

#[test]
fn boolean_operators_and_groups() {
    let tokens = p("a or (level:error AND b) OR c");
    assert!(matches!(&tokens[0], Token::FreeText { value, .. } if value == "a "));
    assert!(matches!(
        tokens[1],
        Token::Boolean {
            op: BoolOp::Or,
            span: Span { start: 2, end: 4 }
        }
    ));
    let Token::Group { inner, span } = &tokens[2] else {
        panic!("{tokens:?}")
    };
    assert_eq!(*span, Span { start: 5, end: 24 });
    assert!(matches!(
        inner.as_slice(),
        [
            Token::Filter(_),
            Token::Boolean {
                op: BoolOp::And,
                ..
            },
            Token::FreeText { .. }
        ]
    ));
    assert!(matches!(tokens[3], Token::Boolean { op: BoolOp::Or, .. }));
    // `ORacle` is a word; balanced parentheses inside free text stay free text.
    assert!(matches!(p("ORacle").as_slice(), [Token::FreeText { .. }]));
    assert!(
        matches!(p("foo(bar(baz))").as_slice(), [Token::FreeText { value, .. }] if value == "foo(bar(baz))")
    );
}

#[test]
fn values_that_do_not_fit_their_key_are_invalid_filters() {
    let kind = |q: &str| filter(q).invalid.and_then(|i| i.kind);
    assert_eq!(kind("stack.in_app:lol").as_deref(), Some("invalid-boolean"));
    assert_eq!(kind("timesSeen:many").as_deref(), Some("invalid-number"));
    assert_eq!(
        kind("lastSeen:yesterday").as_deref(),
        Some("invalid-date-format")
    );
    assert_eq!(kind("level:").as_deref(), Some("filter-must-have-value"));
    assert_eq!(kind(r#"url:te"st"#).as_deref(), Some("must-be-quoted"));
    assert_eq!(
        kind("release:[a,]").as_deref(),
        Some("empty-value-in-list-not-allowed")
    );
    assert_eq!(
        kind("percentile(x,):>1").as_deref(),
        Some("empty-parameter-not-allowed")
    );
    let f = filter("release:[a,]");
    assert_eq!(
        f.value,
        Value::TextList(vec![text("a", false), text("", false)])
    );
    assert_eq!(
        filter("stack.in_app:lol")
            .invalid
            .map(|i| i.reason)
            .as_deref(),
        Some("Invalid boolean. Expected true, 1, false, or 0.")
    );

    let mut options = ParseOptions::for_index(now());
    options.disallow_wildcard = true;
    let tokens = parse("rele*ase", &options).expect("parses");
    assert!(
        matches!(&tokens[0], Token::FreeText { invalid: Some(i), .. } if i.kind.as_deref() == Some("wildcard-not-allowed"))
    );
}

#[test]
fn syntax_errors_say_where_and_what_was_expected() {
    let e = err("level:error (a OR b");
    assert_eq!(e.position, 12);
    assert_eq!(
        e.message,
        "unbalanced parentheses: expected a closing ) for this ("
    );
    let e = err("a) b");
    assert_eq!(e.position, 1);
    assert!(e.message.contains("unexpected )"), "{e}");
    let e = err("level:error\nboom");
    assert_eq!(e.position, 11);
    assert!(e.message.starts_with("line break outside quotes"), "{e}");
    let e = err("( )");
    assert!(e.message.starts_with("empty parentheses"), "{e}");
    let e = err("firstSeen:2024-13-01");
    assert_eq!(e.position, 10);
    assert!(e.message.starts_with(r#"bad date "2024-13-01""#), "{e}");
    let e = err("lastSeen:>2024-02-30T25:00:00");
    assert_eq!(e.position, 10);
    let e = err("age:-99999999999999999999w");
    assert!(e.message.starts_with("bad relative date"), "{e}");
    // Not a date key: the same text is just text.
    assert_eq!(filter("random:2024-13-01").kind, FilterKind::Text);
    // A line break inside quotes is fine.
    assert_eq!(filter("release:\"a\nb\"").value, text_value("a\nb", true));
}

#[test]
fn deep_nesting_is_an_error_not_a_crash() {
    let deep = "(".repeat(100_000) + "a" + &")".repeat(100_000);
    let e = err(&deep);
    assert!(e.message.contains("too complex"), "{e}");
    assert!(matches!(
        p(&("(".repeat(50) + "a" + &")".repeat(50))).as_slice(),
        [Token::Group { .. }]
    ));
}

#[test]
fn sentry_defaults_differ_from_index_keys() {
    let sentry = ParseOptions::sentry_defaults(now());
    let tokens = parse("timesSeen:>10", &sentry).expect("parses");
    assert!(matches!(&tokens[0], Token::Filter(f) if f.kind == FilterKind::Text));
    assert_eq!(filter("timesSeen:>10").kind, FilterKind::Numeric);
}

fn piece() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(" ".to_string()),
        Just("  ".to_string()),
        Just(":".to_string()),
        Just("\"".to_string()),
        Just("\\".to_string()),
        Just("\\\"".to_string()),
        Just("(".to_string()),
        Just(")".to_string()),
        Just("[".to_string()),
        Just("]".to_string()),
        Just(",".to_string()),
        Just("!".to_string()),
        Just("*".to_string()),
        Just("//".to_string()),
        Just("\t".to_string()),
        Just("\n".to_string()),
        Just("\u{F00D}".to_string()),
        Just("OR".to_string()),
        Just("and".to_string()),
        Just("has:".to_string()),
        Just("tags[".to_string()),
        Just("count(".to_string()),
        Just("lastSeen:".to_string()),
        Just("timesSeen:".to_string()),
        Just("stack.in_app:".to_string()),
        Just("transaction.duration:".to_string()),
        prop::sample::select(vec![">", ">=", "<", "<=", "=", "!="]).prop_map(str::to_string),
        "[0-9]{1,4}(\\.[0-9]{0,2})?[kmbsdhw%]?".prop_map(|s| s),
        "[+-][0-9]{1,3}[wdhm]".prop_map(|s| s),
        "20[0-9]{2}-[01][0-9]-[0-3][0-9](T[0-2][0-9]:[0-5][0-9]:[0-6][0-9])?Z?".prop_map(|s| s),
        "[a-z_.]{1,6}".prop_map(|s| s),
        "[éü日本\u{1F600}\u{0}]".prop_map(|s| s),
    ]
}

fn query() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::collection::vec(piece(), 0..120).prop_map(|v| v.concat()),
        any::<String>(),
        "[a-z:\"\\\\()\\[\\], !*<>=.0-9+\\-éü\u{F00D}\t\n]{0,500}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1500, ..ProptestConfig::default() })]

    #[test]
    fn any_input_parses_or_fails_cleanly_and_quickly(input in query()) {
        let mut options = ParseOptions::for_index(now());
        options.allow_regex = input.len().is_multiple_of(2);
        let started = Instant::now();
        let result = parse(&input, &options);
        let elapsed = started.elapsed();
        // Generous: the machine is shared and tests run unoptimised.
        prop_assert!(elapsed < StdDuration::from_millis(250), "{elapsed:?} for {} chars", input.chars().count());
        let chars = input.chars().count();
        match result {
            Ok(tokens) => {
                let mut last = 0;
                for t in &tokens {
                    let span = t.span();
                    prop_assert!(span.start >= last && span.start <= span.end && span.end <= chars, "{span:?} in {chars}");
                    last = span.end;
                }
            }
            Err(e) => {
                prop_assert!(e.position <= chars);
                prop_assert!(!e.message.is_empty());
            }
        }
    }
}
