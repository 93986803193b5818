//! Which parsed filters are invalid, and why (Sentry's `checkInvalidFilter`).

use super::{Ctx, MAX_REGEX_LEN, Parts};
use crate::query::ast::{FilterKind, Invalid, Key, Operator, TextValue, Value};

/// Invalid types and Sentry's default reasons for them.
pub(super) const WILDCARD_NOT_ALLOWED: (&str, &str) =
    ("wildcard-not-allowed", "Wildcards not supported in search");
const MUST_BE_QUOTED: (&str, &str) = ("must-be-quoted", "Quotes must enclose text or be escaped");
const FILTER_MUST_HAVE_VALUE: (&str, &str) = ("filter-must-have-value", "Filter must have a value");
const INVALID_BOOLEAN: (&str, &str) = (
    "invalid-boolean",
    "Invalid boolean. Expected true, 1, false, or 0.",
);
const INVALID_FILE_SIZE: (&str, &str) = (
    "invalid-file-size",
    "Invalid file size. Expected number followed by file size unit suffix",
);
const INVALID_NUMBER: (&str, &str) = (
    "invalid-number",
    "Invalid number. Expected number then optional k, m, or b suffix (e.g. 500k)",
);
const INVALID_DURATION: (&str, &str) = (
    "invalid-duration",
    "Invalid duration. Expected number followed by duration unit suffix",
);
const EMPTY_PARAMETER: (&str, &str) = (
    "empty-parameter-not-allowed",
    "Function parameters should not have empty values",
);
const EMPTY_LIST_ITEM: (&str, &str) = (
    "empty-value-in-list-not-allowed",
    "Lists should not have empty values",
);
const REGEX_TOO_LONG: (&str, &str) = (
    "regex-pattern-too-long",
    "Regex patterns are limited to 64 characters. To search for a literal value that starts with //, quote it: \"//...\"",
);
const AGGREGATE_INCOMPLETE: &str = "Aggregate filter is incomplete.";

impl<'a> Ctx<'a> {
    // ----- validity (Sentry's checkInvalidFilter) --------------------------------------

    pub(super) fn check(
        &self,
        kind: FilterKind,
        parts: &Parts<'a>,
        op: Operator,
        value: &Value,
    ) -> Option<Invalid> {
        if let Some(supported) = &self.options.supported_keys
            && !supported.contains(&parts.key.name())
        {
            return Some(Invalid {
                kind: Some("invalid-key".into()),
                reason: format!(
                    "Invalid key. \"{}\" is not a supported search key.",
                    parts.key_text
                ),
            });
        }
        match kind {
            FilterKind::Text | FilterKind::ArrayIncludes => {
                self.check_text_filter(&parts.key, op, value)
            }
            FilterKind::Has | FilterKind::Is => match value {
                Value::Text(t) => self.check_text_value(t),
                _ => None,
            },
            FilterKind::TextIn | FilterKind::NumericIn => self.check_list(value),
            FilterKind::AggregateGeneric => Some(Invalid {
                kind: None,
                reason: AGGREGATE_INCOMPLETE.into(),
            }),
            _ => match &parts.key {
                Key::Aggregate { args, .. } if args.iter().any(String::is_empty) => {
                    Some(self.invalid(EMPTY_PARAMETER))
                }
                _ => None,
            },
        }
    }

    fn check_text_filter(&self, key: &Key, op: Operator, value: &Value) -> Option<Invalid> {
        let o = self.options;
        if let Key::Simple { name, .. } = key {
            if o.is_duration(name) {
                return Some(self.invalid(INVALID_DURATION));
            }
            if o.is_date(name) {
                return Some(self.invalid_date_format());
            }
            if o.is_boolean(name) {
                return Some(self.invalid(INVALID_BOOLEAN));
            }
            if o.is_size(name) {
                return Some(self.invalid(INVALID_FILE_SIZE));
            }
            if o.is_numeric(name) {
                return Some(self.invalid(INVALID_NUMBER));
            }
        }
        let Value::Text(t) = value else { return None };
        if op == Operator::Regex {
            if t.value.is_empty() {
                return Some(self.invalid(FILTER_MUST_HAVE_VALUE));
            }
            return (regex_len(&t.value) > MAX_REGEX_LEN).then(|| self.invalid(REGEX_TOO_LONG));
        }
        self.check_text_value(t)
    }

    /// Sentry's reason names "now" (to the minute) as the example date.
    fn invalid_date_format(&self) -> Invalid {
        let example = self.now;
        let reason = format!(
            "Invalid date format. Expected +/-duration (e.g. +1h) or ISO 8601-like (e.g. {} or {})",
            example.format("%Y-%m-%d"),
            example.format("%Y-%m-%dT%H:%M:00.000Z"),
        );
        self.invalid(("invalid-date-format", &reason))
    }

    fn check_text_value(&self, t: &TextValue) -> Option<Invalid> {
        if self.options.disallow_wildcard && t.value.contains('*') {
            return Some(self.invalid(WILDCARD_NOT_ALLOWED));
        }
        if !t.quoted && has_bare_quote(&t.value) {
            return Some(self.invalid(MUST_BE_QUOTED));
        }
        if !t.quoted && t.value.is_empty() {
            return Some(self.invalid(FILTER_MUST_HAVE_VALUE));
        }
        None
    }

    fn check_list(&self, value: &Value) -> Option<Invalid> {
        let (missing, wildcard) = match value {
            Value::TextList(items) => (
                items.iter().any(|t| t.value.is_empty() && !t.quoted),
                items.iter().any(|t| t.value.contains('*')),
            ),
            Value::NumberList(items) => (items.iter().any(|n| n.raw.is_empty()), false),
            _ => (false, false),
        };
        if missing {
            return Some(self.invalid(EMPTY_LIST_ITEM));
        }
        (self.options.disallow_wildcard && wildcard).then(|| self.invalid(WILDCARD_NOT_ALLOWED))
    }
}

/// Whether unquoted text has a `"` that is not escaped (Sentry: `/(^|[^\\])"/`).
fn has_bare_quote(s: &str) -> bool {
    let mut prev = None;
    for c in s.chars() {
        if c == '"' && prev != Some('\\') {
            return true;
        }
        prev = Some(c);
    }
    false
}

/// A regex pattern's length with each escape sequence (`\.`) counted as one character.
fn regex_len(pattern: &str) -> usize {
    let mut n = 0;
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            chars.next();
        }
        n += 1;
    }
    n
}
