//! Tool argument decoding (`server/src/mcp/tools/args.rs`) for every tool's argument struct,
//! plus the argument helpers the tools run on decoded strings (periods, instants, windows,
//! issue ids): arbitrary JSON never panics, and a refusal names the argument or says why.
//!
//! Input: the bytes of a tool call's `arguments` (JSON). An object is decoded by every
//! tool's decoder; any other JSON value is tried as the value of a few common arguments.

#![no_main]
#![allow(dead_code, unused_imports, clippy::all)]

// The server's modules, compiled into this crate (see build.rs).
include!(concat!(env!("OUT_DIR"), "/server_modules.rs"));

use std::sync::OnceLock;

use chrono::{DateTime, Utc};
use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Value};

use mcp::tools::fuzzing::{DECODERS, interpret};

/// Every tool with arguments has a decoder here (checked against the real router once).
fn check_every_tool_is_covered() {
    static CHECKED: OnceLock<()> = OnceLock::new();
    CHECKED.get_or_init(|| {
        for tool in mcp::tools::router(false).list_all() {
            let has_arguments = tool
                .input_schema
                .get("properties")
                .and_then(Value::as_object)
                .is_some_and(|p| !p.is_empty());
            let covered = DECODERS.iter().any(|(name, _)| *name == tool.name);
            assert!(
                covered || !has_arguments,
                "tool {} takes arguments but has no decoder in mcp::tools::fuzzing::DECODERS",
                tool.name
            );
        }
    });
}

fn now() -> DateTime<Utc> {
    DateTime::from_timestamp(1_760_000_000, 0).unwrap()
}

fn decode_all(arguments: &Map<String, Value>) {
    for (tool, decoder) in DECODERS {
        match decoder(arguments.clone()) {
            Ok(decoded) => assert!(!decoded.is_empty()),
            Err(e) => {
                let message = e.to_string();
                assert!(!message.is_empty(), "{tool}: empty error");
                if let mcp::tools::ToolError::Argument { name, .. } = &e {
                    assert!(!name.is_empty(), "{tool}: error names an empty argument");
                    assert!(name.chars().count() <= 64 || arguments.contains_key(name));
                }
            }
        }
    }
}

fn strings<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
    match v {
        Value::String(s) => out.push(s),
        Value::Array(items) => items.iter().for_each(|i| strings(i, out)),
        Value::Object(map) => map.iter().for_each(|(k, v)| {
            out.push(k);
            strings(v, out);
        }),
        _ => {}
    }
}

fuzz_target!(|data: &[u8]| {
    check_every_tool_is_covered();
    let Ok(value) = serde_json::from_slice::<Value>(data) else {
        // rmcp refuses what is not JSON before any tool sees it; the text still goes
        // through the helpers, as a string argument would.
        if let Ok(text) = std::str::from_utf8(data) {
            interpret(text, "", now());
        }
        return;
    };
    match &value {
        Value::Object(arguments) => decode_all(arguments),
        other => {
            for key in [
                "query", "issue_id", "limit", "period", "since", "sort", "state",
            ] {
                let mut arguments = Map::new();
                arguments.insert(key.to_owned(), other.clone());
                decode_all(&arguments);
            }
        }
    }
    let mut found = Vec::new();
    strings(&value, &mut found);
    for (i, s) in found.iter().enumerate().take(8) {
        interpret(s, found.get(i + 1).copied().unwrap_or("-1h"), now());
    }
});
