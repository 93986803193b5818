//! Decoding tool arguments the way LLM clients send them.
//!
//! - [`Parameters`]: our own extractor (rmcp's tool macro finds it by name). A call whose
//!   arguments do not fit becomes a *tool error* naming the argument and what to send,
//!   which the agent reads and fixes, instead of a JSON-RPC error it may never see.
//! - [`lenient`]: ids sent as numbers and numbers sent as strings are accepted where the
//!   meaning is unambiguous (the MCP Inspector sends one or the other by version).
//! - The input schemas say "optional" by leaving a field out of `required`, never by
//!   typing it `["string", "null"]`, which some model providers' tool schemas reject.

use rmcp::handler::server::common::FromContextPart;
use rmcp::handler::server::tool::ToolCallContext;
use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::error::ToolError;

/// A tool's decoded arguments, or why they could not be decoded.
pub struct Parameters<T>(pub Result<T, ToolError>);

impl<S, T: DeserializeOwned> FromContextPart<ToolCallContext<'_, S>> for Parameters<T> {
    fn from_context_part(context: &mut ToolCallContext<S>) -> Result<Self, rmcp::ErrorData> {
        let arguments = context.arguments.take().unwrap_or_default();
        Ok(Parameters(decode(arguments)))
    }
}

/// Decode `arguments`, naming the argument at fault.
pub fn decode<T: DeserializeOwned>(arguments: Map<String, Value>) -> Result<T, ToolError> {
    serde_path_to_error::deserialize(Value::Object(arguments)).map_err(|e| {
        // The argument is the path's first key, whole: `.` and `[` may be part of it.
        let key = match e.path().iter().next() {
            Some(serde_path_to_error::Segment::Map { key }) => Some(key.clone()),
            _ => None,
        };
        let inner = e.into_inner().to_string();
        // serde's messages end in " at line 1 column 2" only for text input; none here.
        let name = key
            .or_else(|| named_in(&inner))
            .map(|name| name.chars().take(64).collect::<String>())
            .filter(|name| !name.is_empty());
        match name {
            Some(name) => ToolError::argument(name, inner),
            None => ToolError::Other(format!("the arguments do not fit this tool: {inner}")),
        }
    })
}

/// The field an unknown-field or missing-field message names.
fn named_in(message: &str) -> Option<String> {
    if !(message.starts_with("missing field") || message.starts_with("unknown field")) {
        return None;
    }
    let start = message.find('`')? + 1;
    let len = message[start..].find('`')?;
    Some(message[start..start + len].to_owned())
}

impl<T: JsonSchema> JsonSchema for Parameters<T> {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        T::schema_name()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let mut schema = T::json_schema(generator);
        if let Some(properties) = schema.get_mut("properties").and_then(Value::as_object_mut) {
            properties.values_mut().for_each(not_nullable);
        }
        schema
    }
}

/// `{"type": ["string", "null"]}` -> `{"type": "string"}`; `{"anyOf": [X, {"type": "null"}]}`
/// -> X (keeping the description).
fn not_nullable(property: &mut Value) {
    let Some(object) = property.as_object_mut() else {
        return;
    };
    if object.get("default") == Some(&Value::Null) {
        object.remove("default");
    }
    if let Some(Value::Array(types)) = object.get_mut("type") {
        types.retain(|t| t != "null");
        if types.len() == 1 {
            let only = types.remove(0);
            object.insert("type".into(), only);
        }
    }
    if let Some(Value::Array(any)) = object.get("anyOf") {
        let rest: Vec<Value> = any
            .iter()
            .filter(|s| s.get("type").and_then(Value::as_str) != Some("null"))
            .cloned()
            .collect();
        object.remove("anyOf");
        match <[Value; 1]>::try_from(rest) {
            Ok([Value::Object(inner)]) => {
                for (k, v) in inner {
                    object.entry(k).or_insert(v);
                }
            }
            Ok([other]) => {
                object.insert("anyOf".into(), Value::Array(vec![other]));
            }
            Err(rest) => {
                object.insert("anyOf".into(), Value::Array(rest));
            }
        }
    }
    if let Some(Value::Array(values)) = object.get_mut("enum") {
        values.retain(|v| !v.is_null());
    }
}

/// Serde helpers that accept a value in either of the forms clients send.
pub mod lenient {
    use serde::{Deserialize, Deserializer, de::Error};
    use serde_json::Value;

    /// A string, or a number written as one (`4100002` for an issue id).
    pub fn string<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
        match Value::deserialize(d)? {
            Value::String(s) => Ok(s),
            Value::Number(n) => Ok(n.to_string()),
            other => Err(D::Error::custom(format!(
                "expected a string, got {}",
                kind(&other)
            ))),
        }
    }

    pub fn opt_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
        match Value::deserialize(d)? {
            Value::Null => Ok(None),
            Value::String(s) => Ok(Some(s)),
            Value::Number(n) => Ok(Some(n.to_string())),
            other => Err(D::Error::custom(format!(
                "expected a string, got {}",
                kind(&other)
            ))),
        }
    }

    /// An optional string whose absence is the empty string (`null` included).
    pub fn string_or_empty<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
        Ok(opt_string(d)?.unwrap_or_default())
    }

    /// A whole number, or a string holding one (`"5"`).
    pub fn opt_u32<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
        opt_u64(d)?
            .map(|n| u32::try_from(n).map_err(|_| D::Error::custom(format!("{n} is too large"))))
            .transpose()
    }

    pub fn opt_u64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
        let bad = |shown: &str| D::Error::custom(format!("expected a whole number, got {shown}"));
        match Value::deserialize(d)? {
            Value::Null => Ok(None),
            Value::Number(n) => match (n.as_u64(), n.as_f64()) {
                (Some(v), _) => Ok(Some(v)),
                (None, Some(f)) if f >= 0.0 && f.fract() == 0.0 && f < u64::MAX as f64 => {
                    Ok(Some(f as u64))
                }
                _ => Err(bad(&n.to_string())),
            },
            Value::String(s) => s.trim().parse().map(Some).map_err(|_| {
                let shown: String = s.chars().take(40).collect();
                bad(&format!("{shown:?}"))
            }),
            other => Err(bad(kind(&other))),
        }
    }

    fn kind(v: &Value) -> &'static str {
        match v {
            Value::Null => "null",
            Value::Bool(_) => "true/false",
            Value::Number(_) => "a number",
            Value::String(_) => "a string",
            Value::Array(_) => "a list",
            Value::Object(_) => "an object",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use serde_json::json;

    #[derive(Debug, Deserialize, JsonSchema)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)] // decoded to check the errors, not read
    struct Args {
        #[serde(deserialize_with = "lenient::string")]
        issue_id: String,
        #[serde(default, deserialize_with = "lenient::opt_u32")]
        limit: Option<u32>,
        #[serde(default)]
        sort: Option<Mode>,
    }

    #[derive(Debug, Deserialize, JsonSchema)]
    #[serde(rename_all = "lowercase")]
    enum Mode {
        Date,
    }

    fn args(v: Value) -> Result<Args, ToolError> {
        decode(v.as_object().unwrap().clone())
    }

    #[test]
    fn numbers_and_strings_either_way_and_errors_name_the_argument() {
        let a = args(json!({"issue_id": 4100002, "limit": "5"})).unwrap();
        assert_eq!((a.issue_id.as_str(), a.limit), ("4100002", Some(5)));
        let a = args(json!({"issue_id": "X-1", "limit": 5.0})).unwrap();
        assert_eq!(a.limit, Some(5));
        for (bad, name) in [
            (json!({"issue_id": "1", "limit": "five"}), "limit"),
            (json!({"issue_id": "1", "limit": -3}), "limit"),
            (json!({"issue_id": "1", "limit": 99999999999u64}), "limit"),
            (json!({"issue_id": {"id": 1}}), "issue_id"),
            (json!({}), "issue_id"),
            (json!({"issue_id": "1", "sort": "sideways"}), "sort"),
            (json!({"issue_id": "1", "colour": "red"}), "colour"),
            // Found by fuzz/fuzz_targets/tool_args.rs: a name with `.` or `[` was cut at
            // it, and the error named the argument "" (fuzz/regressions/tool_args/).
            (json!({"issue_id": "1", ".event_id": "x"}), ".event_id"),
            (json!({"issue_id": "1", "project[0]": "x"}), "project[0]"),
            (json!({"issue_id": {"a.b": 1}}), "issue_id"),
        ] {
            let e = args(bad.clone()).unwrap_err();
            assert_eq!(e.argument_name(), Some(name), "{bad}: {e}");
        }
    }

    #[test]
    fn an_argument_without_a_name_is_not_named() {
        let e = args(json!({"issue_id": "1", "": 2})).unwrap_err();
        assert_eq!(e.argument_name(), None, "{e}");
        assert!(e.to_string().contains("unknown field"), "{e}");
    }

    #[test]
    fn optional_fields_are_not_nullable_in_the_schema() {
        let schema =
            schemars::SchemaGenerator::default().into_root_schema_for::<Parameters<Args>>();
        let text = serde_json::to_string(&schema).unwrap();
        assert!(!text.contains("null"), "{text}");
        assert_eq!(schema.get("required"), Some(&json!(["issue_id"])), "{text}");
    }
}
