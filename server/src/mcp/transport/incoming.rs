//! What every transport checks in an incoming body before rmcp reads it, so protocol
//! errors are answered with the JSON-RPC 2.0 codes MCP names:
//!
//! - not JSON: `-32700` parse error, `"id": null`;
//! - JSON but not a JSON-RPC message: `-32600` invalid request, with the message's id
//!   when one can be read, else `null`;
//! - a known method whose params do not fit: `-32602` invalid params, naming the method
//!   and what is wrong. rmcp reads requests into an untagged enum whose last variant
//!   takes any method, so without this check `tools/call` without `name` would become a
//!   custom request and be answered `-32601` method not found.
//!
//! The transports decide how to send the answer: an HTTP error with the error as body, or
//! the error as the answer to the request on the session's stream or stdout.

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use rmcp::model::{
    CallToolRequest, CallToolRequestMethod, CancelTaskMethod, CancelTaskRequest,
    ClientJsonRpcMessage, ClientRequest, CompleteRequest, CompleteRequestMethod, ConstString,
    DiscoverRequest, DiscoverRequestMethod, ErrorCode, ErrorData, GetPromptRequest,
    GetPromptRequestMethod, GetSkillRequest, GetSkillRequestMethod, GetTaskMethod, GetTaskRequest,
    InitializeRequest, InitializeResultMethod, JsonRpcError, ListPromptsRequest,
    ListPromptsRequestMethod, ListResourceTemplatesRequest, ListResourceTemplatesRequestMethod,
    ListResourcesRequest, ListResourcesRequestMethod, ListSkillsRequest, ListSkillsRequestMethod,
    ListToolsRequest, ListToolsRequestMethod, ReadResourceDirectoryRequest,
    ReadResourceDirectoryRequestMethod, ReadResourceRequest, ReadResourceRequestMethod, RequestId,
    ServerJsonRpcMessage, SetLevelRequestMethod, SubscribeRequestMethod,
    SubscriptionsListenRequest, SubscriptionsListenRequestMethod, UnsubscribeRequestMethod,
    UpdateTaskMethod, UpdateTaskRequest,
};
// Deprecated in newer protocol versions, still sent by clients of the older ones.
#[allow(deprecated)]
use rmcp::model::{SetLevelRequest, SubscribeRequest, UnsubscribeRequest};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};

/// Whether a body may carry a JSON-RPC batch (legacy SSE and stdio) or one message
/// only (streamable HTTP).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Batches {
    Allowed,
    Refused,
}

/// A body of which nothing can be handed to rmcp, answered as a whole.
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    pub code: ErrorCode,
    pub message: String,
    /// The message's id, when it could be read.
    pub id: Option<RequestId>,
}

impl Failure {
    fn parse(e: &serde_json::Error) -> Self {
        Failure {
            code: ErrorCode::PARSE_ERROR,
            message: format!("Parse error: the body is not valid JSON ({e})"),
            id: None,
        }
    }

    fn invalid(why: impl std::fmt::Display, id: Option<RequestId>) -> Self {
        Failure {
            code: ErrorCode::INVALID_REQUEST,
            message: format!("Invalid Request: {why}"),
            id,
        }
    }

    /// The JSON-RPC error response. Unlike rmcp's `JsonRpcError`, which leaves out a
    /// missing id, it says `"id": null`, as JSON-RPC 2.0 requires for these errors.
    pub fn to_json(&self) -> Value {
        json!({
            "jsonrpc": "2.0",
            "id": self.id,
            "error": {"code": self.code.0, "message": self.message},
        })
    }

    /// [`Self::to_json`] as one line.
    pub fn to_line(&self) -> String {
        self.to_json().to_string()
    }
}

/// Over HTTP: `400 Bad Request` with the JSON-RPC error as body.
impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        (
            StatusCode::BAD_REQUEST,
            [(header::CONTENT_TYPE, "application/json")],
            self.to_line(),
        )
            .into_response()
    }
}

/// One message of an accepted body.
#[derive(Debug)]
pub enum Checked {
    /// For rmcp.
    Message(ClientJsonRpcMessage),
    /// A request rmcp would misread: this error (with the request's id) answers it.
    Refused(ServerJsonRpcMessage),
}

/// Check one body: one JSON-RPC message or, where allowed, a batch of them.
///
/// A batch with an element that is not a JSON-RPC message fails as a whole: MCP has
/// dropped batches since 2025-06-18, and the clients that still send them send
/// well-formed ones.
pub fn check(body: &[u8], batches: Batches) -> Result<Vec<Checked>, Failure> {
    let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    let value: Value = serde_json::from_slice(body).map_err(|e| Failure::parse(&e))?;
    let Value::Array(items) = value else {
        return Ok(vec![check_message(value)?]);
    };
    if batches == Batches::Refused {
        return Err(Failure::invalid(
            "a POST body is one JSON-RPC message; batches are not supported here",
            None,
        ));
    }
    if items.is_empty() {
        return Err(Failure::invalid("an empty batch", None));
    }
    items
        .into_iter()
        .enumerate()
        .map(|(i, item)| {
            check_message(item).map_err(|f| Failure {
                message: format!("{} (message {} of the batch)", f.message, i + 1),
                id: None,
                ..f
            })
        })
        .collect()
}

fn check_message(value: Value) -> Result<Checked, Failure> {
    let Value::Object(object) = &value else {
        return Err(Failure::invalid(
            format_args!("a JSON-RPC message is an object, not {}", kind(&value)),
            None,
        ));
    };
    let id = readable_id(object);
    if object.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
        return Err(Failure::invalid("`jsonrpc` must be \"2.0\"", id));
    }
    match object.get("method") {
        Some(Value::String(_)) | None => {}
        Some(other) => {
            return Err(Failure::invalid(
                format_args!("`method` must be a string, not {}", kind(other)),
                id,
            ));
        }
    }
    if object.contains_key("method") && object.contains_key("id") && id.is_none() {
        return Err(Failure::invalid(
            "a request's `id` must be a string or an integer",
            None,
        ));
    }
    let message = match serde_json::from_value::<ClientJsonRpcMessage>(value.clone()) {
        Ok(message) => message,
        // Params that are structured (as JSON-RPC wants) but not an object are refused
        // by rmcp as a whole, even for a custom request: for a known method they are
        // invalid params all the same.
        Err(e) => {
            let structured = matches!(
                object.get("params"),
                None | Some(Value::Object(_) | Value::Array(_))
            );
            if let (Some(id), Some(method), true) = (
                &id,
                object.get("method").and_then(Value::as_str),
                structured,
            ) && let Some(reason) = misread(method, object)
            {
                return Ok(invalid_params(id.clone(), method, &reason));
            }
            return Err(Failure::invalid(
                format_args!("not an MCP JSON-RPC message ({e})"),
                id,
            ));
        }
    };
    if let ClientJsonRpcMessage::Request(request) = &message
        && let ClientRequest::CustomRequest(custom) = &request.request
        && let Some(reason) = misread(&custom.method, object)
    {
        return Ok(invalid_params(request.id.clone(), &custom.method, &reason));
    }
    Ok(Checked::Message(message))
}

fn invalid_params(id: RequestId, method: &str, reason: &str) -> Checked {
    let error = ErrorData::invalid_params(format!("Invalid params for {method}: {reason}"), None);
    Checked::Refused(ServerJsonRpcMessage::Error(JsonRpcError::new(
        Some(id),
        error,
    )))
}

/// The message's `id` when it is one JSON-RPC allows (a string or an integer).
fn readable_id(object: &Map<String, Value>) -> Option<RequestId> {
    match object.get("id")? {
        Value::String(s) => Some(RequestId::String(s.as_str().into())),
        Value::Number(n) => n.as_i64().map(RequestId::Number),
        _ => None,
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Why rmcp read a request of a method it knows as a custom request: the error of
/// reading it as that method's request. `None` for methods rmcp does not know.
fn misread(method: &str, message: &Map<String, Value>) -> Option<String> {
    let (_, fits) = KNOWN.iter().find(|(known, _)| *known == method)?;
    let mut request = Map::new();
    request.insert("method".into(), method.into());
    if let Some(params) = message.get("params") {
        request.insert("params".into(), params.clone());
    }
    fits(Value::Object(request))
}

type Fits = fn(Value) -> Option<String>;

fn fits<R: DeserializeOwned>(request: Value) -> Option<String> {
    serde_json::from_value::<R>(request)
        .err()
        .map(|e| e.to_string())
}

/// Every request rmcp reads into its own variant of `ClientRequest` (`ping` takes no
/// params, so it cannot be misread).
#[allow(deprecated)]
const KNOWN: &[(&str, Fits)] = &[
    (InitializeResultMethod::VALUE, fits::<InitializeRequest>),
    (DiscoverRequestMethod::VALUE, fits::<DiscoverRequest>),
    (CompleteRequestMethod::VALUE, fits::<CompleteRequest>),
    (SetLevelRequestMethod::VALUE, fits::<SetLevelRequest>),
    (GetPromptRequestMethod::VALUE, fits::<GetPromptRequest>),
    (ListPromptsRequestMethod::VALUE, fits::<ListPromptsRequest>),
    (
        ListResourcesRequestMethod::VALUE,
        fits::<ListResourcesRequest>,
    ),
    (
        ListResourceTemplatesRequestMethod::VALUE,
        fits::<ListResourceTemplatesRequest>,
    ),
    (
        ReadResourceRequestMethod::VALUE,
        fits::<ReadResourceRequest>,
    ),
    (
        SubscriptionsListenRequestMethod::VALUE,
        fits::<SubscriptionsListenRequest>,
    ),
    (SubscribeRequestMethod::VALUE, fits::<SubscribeRequest>),
    (UnsubscribeRequestMethod::VALUE, fits::<UnsubscribeRequest>),
    (CallToolRequestMethod::VALUE, fits::<CallToolRequest>),
    (ListToolsRequestMethod::VALUE, fits::<ListToolsRequest>),
    (GetTaskMethod::VALUE, fits::<GetTaskRequest>),
    (UpdateTaskMethod::VALUE, fits::<UpdateTaskRequest>),
    (CancelTaskMethod::VALUE, fits::<CancelTaskRequest>),
    (ListSkillsRequestMethod::VALUE, fits::<ListSkillsRequest>),
    (GetSkillRequestMethod::VALUE, fits::<GetSkillRequest>),
    (
        ReadResourceDirectoryRequestMethod::VALUE,
        fits::<ReadResourceDirectoryRequest>,
    ),
];

#[cfg(test)]
mod tests {
    use super::*;

    fn one(body: &str) -> Result<Checked, Failure> {
        let mut checked = check(body.as_bytes(), Batches::Allowed)?;
        assert_eq!(checked.len(), 1);
        Ok(checked.remove(0))
    }

    fn refusal(body: &str) -> Value {
        match one(body) {
            Ok(Checked::Refused(error)) => serde_json::to_value(error).unwrap(),
            other => panic!("{body}: {other:?}"),
        }
    }

    #[test]
    fn malformed_json_is_a_parse_error_without_id() {
        for body in ["", "{", "{\"id\": 1,}", "nope", "\u{feff}"] {
            let failure = one(body).unwrap_err();
            assert_eq!(failure.code, ErrorCode::PARSE_ERROR, "{body:?}");
            assert_eq!(
                failure.to_json(),
                json!({"jsonrpc": "2.0", "id": null,
                       "error": {"code": -32700, "message": failure.message}})
            );
        }
        assert!(check(b"\xff", Batches::Allowed).is_err());
    }

    #[test]
    fn json_that_is_not_json_rpc_is_an_invalid_request_with_its_id_if_readable() {
        let cases = [
            (r#"{"hello": 1}"#, Value::Null, "`jsonrpc`"),
            ("42", Value::Null, "not a number"),
            (
                r#"{"jsonrpc": "1.0", "id": 3, "method": "ping"}"#,
                json!(3),
                "\"2.0\"",
            ),
            (
                r#"{"jsonrpc": "2.0", "id": "a", "method": 1}"#,
                json!("a"),
                "`method`",
            ),
            (
                r#"{"jsonrpc": "2.0", "id": null, "method": "ping"}"#,
                Value::Null,
                "`id`",
            ),
            (
                r#"{"jsonrpc": "2.0", "id": 1.5, "method": "ping"}"#,
                Value::Null,
                "`id`",
            ),
            (
                r#"{"jsonrpc": "2.0", "id": 4}"#,
                json!(4),
                "not an MCP JSON-RPC message",
            ),
            ("[]", Value::Null, "empty batch"),
            (
                r#"[{"jsonrpc": "2.0", "id": 1, "method": "ping"}, 7]"#,
                Value::Null,
                "message 2",
            ),
        ];
        for (body, id, says) in cases {
            let failure = check(body.as_bytes(), Batches::Allowed).unwrap_err();
            assert_eq!(failure.code, ErrorCode::INVALID_REQUEST, "{body}");
            assert_eq!(failure.to_json()["id"], id, "{body}");
            assert!(
                failure.message.contains(says),
                "{body}: {}",
                failure.message
            );
        }
        let batch = r#"[{"jsonrpc": "2.0", "id": 1, "method": "ping"}]"#;
        let failure = check(batch.as_bytes(), Batches::Refused).unwrap_err();
        assert_eq!(failure.code, ErrorCode::INVALID_REQUEST);
    }

    #[test]
    fn known_methods_with_invalid_params_are_refused_naming_what_is_wrong() {
        let error = refusal(r#"{"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": {}}"#);
        assert_eq!(error["id"], 7);
        assert_eq!(error["error"]["code"], -32602);
        let text = error["error"]["message"].as_str().unwrap();
        assert!(
            text.contains("tools/call") && text.contains("`name`"),
            "{text}"
        );
        let error = refusal(r#"{"jsonrpc": "2.0", "id": "x", "method": "tools/call"}"#);
        assert_eq!(error["id"], "x");
        assert!(
            error["error"]["message"]
                .as_str()
                .unwrap()
                .contains("`params`")
        );
        let error = refusal(
            r#"{"jsonrpc": "2.0", "id": 2, "method": "initialize", "params": {"capabilities": {}}}"#,
        );
        assert!(
            error["error"]["message"]
                .as_str()
                .unwrap()
                .contains("`protocolVersion`"),
            "{error}"
        );
        refusal(r#"{"jsonrpc": "2.0", "id": 3, "method": "tools/list", "params": []}"#);
        refusal(r#"{"jsonrpc": "2.0", "id": 4, "method": "tools/call", "params": [1, 2]}"#);
        let error = refusal(
            r#"{"jsonrpc": "2.0", "id": 5, "method": "tools/call", "params": {"name": "status", "arguments": "{}"}}"#,
        );
        // serde names a missing field, and for a wrong type the type it expected.
        assert!(
            error["error"]["message"]
                .as_str()
                .unwrap()
                .contains("expected a map"),
            "{error}"
        );
        // Params that are not structured at all make no JSON-RPC request.
        let failure = check(
            br#"{"jsonrpc": "2.0", "id": 6, "method": "tools/list", "params": 5}"#,
            Batches::Allowed,
        )
        .unwrap_err();
        assert_eq!(failure.code, ErrorCode::INVALID_REQUEST);
    }

    #[test]
    fn valid_messages_and_unknown_methods_pass_to_rmcp() {
        for body in [
            r#"{"jsonrpc": "2.0", "id": 1, "method": "ping"}"#,
            r#"{"jsonrpc": "2.0", "id": 1, "method": "tools/list"}"#,
            r#"{"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "status"}}"#,
            r#"{"jsonrpc": "2.0", "id": 1, "method": "no/such/method", "params": {}}"#,
            r#"{"jsonrpc": "2.0", "method": "notifications/initialized"}"#,
            r#"{"jsonrpc": "2.0", "method": "notifications/cancelled"}"#,
            r#"{"jsonrpc": "2.0", "id": 1, "result": {}}"#,
            "\u{feff}{\"jsonrpc\": \"2.0\", \"id\": 1, \"method\": \"ping\"}",
        ] {
            assert!(matches!(one(body), Ok(Checked::Message(_))), "{body}");
        }
        // Our own error answers, echoed back by a confused peer, are messages rmcp
        // ignores, not garbage to answer again: no error storm.
        let parse_error = serde_json::from_str::<Value>("{").unwrap_err();
        let echoed = Failure::parse(&parse_error).to_line();
        assert!(matches!(one(&echoed), Ok(Checked::Message(_))), "{echoed}");
        let batch = r#"[{"jsonrpc": "2.0", "id": 1, "method": "ping"},
                        {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {}}]"#;
        let checked = check(batch.as_bytes(), Batches::Allowed).unwrap();
        assert!(matches!(checked[0], Checked::Message(_)));
        assert!(matches!(checked[1], Checked::Refused(_)));
    }

    /// Each table entry's method is the one its request type reads (a typo would make
    /// every call of that method fail the check).
    #[test]
    fn the_table_names_each_request_by_its_own_method() {
        for (method, fits) in KNOWN {
            let wrong = fits(json!({"method": "no/such/method", "params": {}}));
            assert!(wrong.is_some(), "{method}");
            let reason = fits(json!({"method": method, "params": {}})).unwrap_or_default();
            assert!(!reason.contains("const string"), "{method}: {reason}");
        }
    }
}
