//! How a tool call fails. The kind tells the caller (and tests) what to do: fix an argument,
//! look elsewhere, or retry later; the message says it in words an LLM can act on.

use std::fmt;

/// A failed tool call; sent back as a tool error with its message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ToolError {
    /// An argument the caller must change; `name` is the argument as the schema spells it.
    Argument { name: String, message: String },
    /// The call was fine, but what it names is not in the local index.
    NotFound(String),
    /// The call needs the Sentry API, which is not configured or not available.
    Api(String),
    /// The local index could not answer (not the caller's fault).
    Index(String),
    /// Any other refusal, in words (e.g. arguments that contradict each other).
    Other(String),
}

impl ToolError {
    pub fn argument(name: impl Into<String>, message: impl Into<String>) -> Self {
        ToolError::Argument {
            name: name.into(),
            message: message.into(),
        }
    }

    /// The argument to fix, if the caller's argument was at fault.
    #[cfg_attr(not(test), allow(dead_code))]
    pub fn argument_name(&self) -> Option<&str> {
        match self {
            ToolError::Argument { name, .. } => Some(name),
            _ => None,
        }
    }
}

impl fmt::Display for ToolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ToolError::Argument { name, message } => write!(f, "argument `{name}`: {message}"),
            ToolError::NotFound(m)
            | ToolError::Api(m)
            | ToolError::Index(m)
            | ToolError::Other(m) => f.write_str(m),
        }
    }
}

impl From<String> for ToolError {
    fn from(message: String) -> Self {
        ToolError::Other(message)
    }
}

impl From<&str> for ToolError {
    fn from(message: &str) -> Self {
        ToolError::Other(message.to_owned())
    }
}
