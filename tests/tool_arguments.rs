//! Every tool, fed arbitrary values in every argument (huge and negative numbers, empty and
//! 10 kB strings, odd units, garbage cursors, deep parentheses, wrong types, unknown
//! arguments), answers with a result or a tool error that names the argument to fix; never
//! an internal failure, never a protocol error, never a crash. Driven through a real MCP
//! session on `--demo` data; the tool list and argument names come from `tools/list`.

mod common;

use std::cell::RefCell;
use std::time::{Duration, Instant};

use common::tools::Tools;
use common::*;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::{Map, Value, json};

fn hostile_value() -> impl Strategy<Value = Value> {
    let deep = format!("{}level:error{}", "(".repeat(400), ")".repeat(400));
    let texts: Vec<String> = vec![
        String::new(),
        "   ".into(),
        "a".repeat(10_240),
        "(".repeat(10_240),
        deep,
        "9999999999999999w".into(),
        "-9999999999999999w".into(),
        "99999999999999999999999999h".into(),
        "1y".into(),
        "5 minutes".into(),
        "24h".into(),
        "-24h".into(),
        "0s".into(),
        "+5d".into(),
        "2024-13-01".into(),
        "2024-05-01".into(),
        "9999-12-31T23:59:59Z".into(),
        "-262143-01-01T00:00:00Z".into(),
        "zz".into(),
        "616263".into(),
        "groups:99999999999999999999".into(),
        "groups:-1".into(),
        "😀💥 ünïcode".into(),
        "\u{0}\u{7}".into(),
        "is:unresolved level:error".into(),
        "level:error OR level:fatal".into(),
        "a:b AND".into(),
        "OR".into(),
        "CHECKOUT-API-101".into(),
        "4100002".into(),
        "https://sentry.io/organizations/acme/issues/4100002/".into(),
        "timesSeen:>99999999999999999999".into(),
        "firstSeen:-9999999999w".into(),
        "lastSeen:>9999-12-31".into(),
        "release:latest".into(),
        "*".into(),
        "\\".into(),
        "\"".into(),
        "has:".into(),
        "!".into(),
        "[a,b".into(),
        "count():>10".into(),
        "user".into(),
        "error.type".into(),
        "date".into(),
    ];
    prop_oneof![
        proptest::sample::select(texts).prop_map(Value::String),
        proptest::sample::select(vec![
            json!(0),
            json!(1),
            json!(-1),
            json!(i64::MAX),
            json!(i64::MIN),
            json!(u64::MAX),
            json!(1e308),
            json!(-0.5),
            json!(3.7),
            json!(4100002),
        ]),
        proptest::sample::select(vec![
            Value::Null,
            json!(true),
            json!([]),
            json!({}),
            json!([1, "2"]),
            json!({"a": 1}),
        ]),
        any::<String>().prop_map(Value::String),
        any::<i64>().prop_map(|n| json!(n)),
    ]
}

/// (tool index, which arguments to pass with which values, an unknown argument or not)
fn call_strategy(tools: usize) -> impl Strategy<Value = (usize, Vec<(usize, Value)>, bool)> {
    (
        0..tools,
        proptest::collection::vec((0..16usize, hostile_value()), 0..5),
        proptest::bool::weighted(0.1),
    )
}

#[test]
fn every_tool_survives_arbitrary_arguments() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let server = rt.block_on(Server::start_with(dir.path(), &["--demo"]));
    let session = RefCell::new(rt.block_on(Tools::open(&server)));
    let listed = rt.block_on(session.borrow_mut().list());
    let tools: Vec<(String, Vec<String>)> = listed
        .iter()
        .map(|t| {
            let props = t["inputSchema"]["properties"]
                .as_object()
                .map(|p| p.keys().cloned().collect())
                .unwrap_or_default();
            (t["name"].as_str().unwrap().to_owned(), props)
        })
        .collect();
    assert!(tools.len() >= 14, "{tools:?}");
    // Optional means "not required", never nullable: some providers reject `["string", "null"]`.
    for tool in &listed {
        let schema = tool["inputSchema"].to_string();
        assert!(!schema.contains("null"), "{}: {schema}", tool["name"]);
    }
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(1000);
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    });
    let result = runner.run(&call_strategy(tools.len()), |(tool, picks, unknown)| {
        let (name, props) = &tools[tool];
        let mut args = Map::new();
        for (i, value) in picks {
            if !props.is_empty() {
                args.insert(props[i % props.len()].clone(), value);
            }
        }
        if unknown {
            args.insert("bogus_argument".into(), json!("x"));
        }
        let started = Instant::now();
        let answer = rt.block_on(session.borrow_mut().call(name, Value::Object(args.clone())));
        let took = started.elapsed();
        let shown = serde_json::to_string(&args).unwrap();
        let shown: String = shown.chars().take(300).collect();
        prop_assert!(
            answer.rpc_error.is_none(),
            "{name} {shown}: protocol error {:?}",
            answer.rpc_error
        );
        prop_assert!(
            !answer.text.contains("failed unexpectedly"),
            "{name} {shown}: internal failure: {}",
            answer.text
        );
        prop_assert!(
            took < Duration::from_secs(10),
            "{name} {shown} took {took:?}"
        );
        if answer.is_error {
            let names_an_argument = props
                .iter()
                .chain(args.keys())
                .any(|k| answer.text.contains(&format!("argument `{k}`")));
            let about_missing_data = answer.text.contains("not in the local index")
                || answer.text.contains("are in the local index")
                || answer.text.contains("has not been seen")
                || answer.text.contains("needs a Sentry API token")
                || answer.text.contains("pass only one of");
            prop_assert!(
                names_an_argument || about_missing_data,
                "{name} {shown}: the error does not name the argument to fix: {}",
                answer.text
            );
        }
        Ok::<(), TestCaseError>(())
    });
    if let Err(e) = result {
        panic!("{e}\nserver log tail:\n{}", tail(&server.logs()));
    }
    // Still healthy, and nothing panicked along the way.
    let status = rt.block_on(session.borrow_mut().call("status", json!({})));
    assert!(!status.is_error, "{}", status.text);
    assert!(
        !server.logs().contains("panicked"),
        "{}",
        tail(&server.logs())
    );
}

fn tail(logs: &str) -> String {
    let lines: Vec<&str> = logs.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}
