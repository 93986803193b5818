//! One walk over the stack traces of a Sentry event, shared by indexing (stack files,
//! functions, modules) and by the tools that print a traceback.
//!
//! Sentry puts frames in three places: under each exception (`exception.values[].stacktrace`),
//! at the top level (`stacktrace`, message events with attached stacks), and per thread
//! (`threads.values[].stacktrace`, or `threads` as a flat list). An exception without frames
//! may point at its thread with `thread_id`.

use serde_json::Value;

use crate::normalise::value::string;

/// One stack: its frames (outermost first, innermost last) and what raised it.
#[derive(Debug, Clone, Copy)]
pub struct Stack<'a> {
    /// The exception these frames belong to, if any.
    pub exception: Option<&'a Value>,
    /// The thread the frames were taken from, if any.
    pub thread: Option<&'a Value>,
    pub frames: &'a [Value],
}

impl<'a> Stack<'a> {
    /// The exception's type (`ValueError`), if the stack has an exception.
    pub fn exception_type(&self) -> Option<&'a str> {
        self.exception?.get("type")?.as_str()
    }

    /// The exception's message, if the stack has an exception.
    pub fn exception_value(&self) -> Option<&'a str> {
        self.exception?.get("value")?.as_str()
    }

    /// The thread's name, or its id, when the frames came from a thread.
    pub fn thread_name(&self) -> Option<String> {
        let thread = self.thread?;
        string(thread.get("name")).or_else(|| string(thread.get("id")))
    }
}

/// Every stack of `event`, in the order a traceback prints them: the exceptions (outermost
/// first), each with its own frames or its thread's; when no exception has frames, the
/// event's own stack trace or its crashed (else current, else every) thread's.
pub fn stacks(event: &Value) -> Vec<Stack<'_>> {
    let threads = threads(event);
    let mut out: Vec<Stack> = exceptions(event)
        .map(|exception| {
            let thread = exception
                .get("thread_id")
                .and_then(|id| threads.iter().copied().find(|t| same_id(t.get("id"), id)));
            let own = frames_of(exception.get("stacktrace"));
            let frames = if own.is_empty() {
                thread
                    .map(|t| frames_of(t.get("stacktrace")))
                    .unwrap_or(&[])
            } else {
                own
            };
            Stack {
                exception: Some(exception),
                thread: thread.filter(|_| own.is_empty() && !frames.is_empty()),
                frames,
            }
        })
        .collect();
    if out.iter().any(|s| !s.frames.is_empty()) {
        return out;
    }
    let mut fallback = fallback_stacks(event, &threads).into_iter();
    // The event's main exception is the last one; the fallback frames are what raised it.
    if let Some(main) = out.last_mut()
        && let Some(first) = fallback.next()
    {
        main.frames = first.frames;
        main.thread = first.thread;
    }
    out.extend(fallback);
    out
}

/// Frames of every stack, outermost first.
pub fn frames(event: &Value) -> impl Iterator<Item = &Value> {
    stacks(event).into_iter().flat_map(|s| s.frames.iter())
}

/// `exception.values`, or `exception` sent as a bare list.
fn exceptions(event: &Value) -> impl Iterator<Item = &Value> {
    let exception = event.get("exception");
    exception
        .and_then(|e| e.get("values"))
        .or(exception)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|e| e.is_object())
}

/// `threads.values`, or `threads` sent as a bare list.
fn threads(event: &Value) -> Vec<&Value> {
    let threads = event.get("threads");
    threads
        .and_then(|t| t.get("values"))
        .or(threads)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|t| t.is_object())
        .collect()
}

/// The top-level stack trace, else the threads that matter (crashed, else current, else all).
fn fallback_stacks<'a>(event: &'a Value, threads: &[&'a Value]) -> Vec<Stack<'a>> {
    let top = frames_of(event.get("stacktrace"));
    if !top.is_empty() {
        return vec![Stack {
            exception: None,
            thread: None,
            frames: top,
        }];
    }
    let flagged = |flag: &str| -> Vec<&'a Value> {
        threads
            .iter()
            .copied()
            .filter(|t| t.get(flag).and_then(Value::as_bool) == Some(true))
            .collect()
    };
    let mut chosen = flagged("crashed");
    if chosen.is_empty() {
        chosen = flagged("current");
    }
    if chosen.is_empty() {
        chosen = threads.to_vec();
    }
    chosen
        .into_iter()
        .map(|t| Stack {
            exception: None,
            thread: Some(t),
            frames: frames_of(t.get("stacktrace")),
        })
        .filter(|s| !s.frames.is_empty())
        .collect()
}

fn frames_of(stacktrace: Option<&Value>) -> &[Value] {
    stacktrace
        .and_then(|s| s.get("frames"))
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

/// Thread ids come as numbers or strings.
fn same_id(a: Option<&Value>, b: &Value) -> bool {
    match (string(a), string(Some(b))) {
        (Some(a), Some(b)) => a == b,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn functions(event: &Value) -> Vec<&str> {
        frames(event)
            .filter_map(|f| f.get("function")?.as_str())
            .collect()
    }

    #[test]
    fn exception_frames_come_first_and_alone() {
        let event = json!({
            "exception": {"values": [{"type": "E", "stacktrace": {"frames": [{"function": "a"}]}}]},
            "threads": {"values": [{"id": 1, "crashed": true,
                                    "stacktrace": {"frames": [{"function": "t"}]}}]},
            "stacktrace": {"frames": [{"function": "top"}]}
        });
        assert_eq!(functions(&event), ["a"]);
        assert_eq!(stacks(&event)[0].exception_type(), Some("E"));
    }

    #[test]
    fn an_exception_takes_the_frames_of_its_thread() {
        let event = json!({
            "exception": {"values": [{"type": "E", "value": "boom", "thread_id": "7"}]},
            "threads": [{"id": 3, "stacktrace": {"frames": [{"function": "other"}]}},
                        {"id": 7, "name": "worker", "stacktrace": {"frames": [{"function": "mine"}]}}]
        });
        let stacks = stacks(&event);
        assert_eq!(stacks.len(), 1);
        assert_eq!(stacks[0].frames[0]["function"], "mine");
        assert_eq!(stacks[0].thread_name().as_deref(), Some("worker"));
    }

    #[test]
    fn top_level_and_thread_stacks_are_found() {
        let top = json!({"stacktrace": {"frames": [{"function": "top"}]}});
        assert_eq!(functions(&top), ["top"]);
        let threads = json!({"threads": {"values": [
            {"id": 1, "stacktrace": {"frames": [{"function": "idle"}]}},
            {"id": 2, "current": true, "stacktrace": {"frames": [{"function": "busy"}]}}
        ]}});
        assert_eq!(functions(&threads), ["busy"], "the current thread");
        let unflagged = json!({"threads": {"values": [
            {"id": 1, "stacktrace": {"frames": [{"function": "x"}]}},
            {"id": 2, "stacktrace": {"frames": [{"function": "y"}]}}
        ]}});
        assert_eq!(functions(&unflagged), ["x", "y"], "every thread");
    }

    #[test]
    fn a_frameless_exception_gets_the_crashed_threads_frames() {
        let event = json!({
            "exception": {"values": [{"type": "Outer"}, {"type": "Main", "value": "v"}]},
            "threads": {"values": [{"id": 1, "crashed": true,
                                    "stacktrace": {"frames": [{"function": "run"}]}}]}
        });
        let stacks = stacks(&event);
        assert_eq!(stacks.len(), 2);
        assert!(stacks[0].frames.is_empty());
        assert_eq!(stacks[1].exception_type(), Some("Main"));
        assert_eq!(stacks[1].frames[0]["function"], "run");
    }

    #[test]
    fn odd_shapes_give_no_stacks_and_no_panic() {
        for event in [
            json!(null),
            json!({"exception": "x"}),
            json!({"exception": {"values": [1, null]}}),
            json!({"threads": {"values": "x"}}),
            json!({"stacktrace": {"frames": {}}}),
        ] {
            assert_eq!(frames(&event).count(), 0, "{event}");
        }
    }
}
