//! Tool calls from Rust over one real MCP session (the legacy SSE transport, raw HTTP), for
//! tests that make hundreds of calls: the Python SDK costs a process per call.

use serde_json::{Value, json};

use super::Server;
use super::mcp::SseSession;

/// One tool answer: the text summary, the JSON data (successes), and whether it is an error.
#[derive(Debug, Clone)]
pub struct ToolAnswer {
    pub is_error: bool,
    pub text: String,
    pub data: Value,
    /// A JSON-RPC error instead of a tool result (e.g. arguments that do not fit the schema).
    pub rpc_error: Option<Value>,
}

/// An initialized session on a running server.
pub struct Tools {
    session: SseSession,
    next_id: u64,
}

impl Tools {
    pub async fn open(server: &Server) -> Tools {
        Self::open_with(server, crate::common::http_client()).await
    }

    /// [`Self::open`] through `client` (see [`SseSession::open_with`]).
    pub async fn open_with(server: &Server, client: reqwest::Client) -> Tools {
        let base = format!("http://{}", server.mcp);
        let mut session = SseSession::open_with(client, &base, &[])
            .await
            .expect("open /sse");
        session.initialize(1).await;
        Tools {
            session,
            next_id: 2,
        }
    }

    pub async fn call(&mut self, name: &str, args: Value) -> ToolAnswer {
        self.next_id += 1;
        let message = self
            .session
            .request(
                self.next_id,
                "tools/call",
                json!({"name": name, "arguments": args}),
            )
            .await;
        if let Some(error) = message.get("error") {
            return ToolAnswer {
                is_error: true,
                text: error["message"].as_str().unwrap_or_default().to_owned(),
                data: Value::Null,
                rpc_error: Some(error.clone()),
            };
        }
        let result = &message["result"];
        let texts: Vec<&str> = result["content"]
            .as_array()
            .map(|c| c.iter().filter_map(|b| b["text"].as_str()).collect())
            .unwrap_or_default();
        ToolAnswer {
            is_error: result["isError"].as_bool().unwrap_or(false),
            text: texts.first().copied().unwrap_or_default().to_owned(),
            data: texts
                .get(1)
                .and_then(|j| serde_json::from_str(j).ok())
                .unwrap_or(Value::Null),
            rpc_error: None,
        }
    }

    /// `tools/list`: every tool with its input schema.
    pub async fn list(&mut self) -> Vec<Value> {
        self.next_id += 1;
        let message = self
            .session
            .request(self.next_id, "tools/list", json!({}))
            .await;
        message["result"]["tools"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// A call that must succeed; panics with the error text otherwise.
    pub async fn ok(&mut self, name: &str, args: Value) -> ToolAnswer {
        let answer = self.call(name, args.clone()).await;
        assert!(!answer.is_error, "{name} {args} failed: {}", answer.text);
        answer
    }
}
