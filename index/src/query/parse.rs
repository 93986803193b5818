//! Sentry's search syntax to the parse tree of [`super::ast`].
//!
//! The grammar is in `grammar.pest` (a PEG, after Sentry's own grammars). A filter's kind
//! (date, numeric, boolean, duration, ... or plain text) depends on how its key is
//! configured ([`ParseOptions`]): the grammar parses each filter's shape, and this module
//! then tries the grammar's typed value rules on the value in Sentry's order (date,
//! specific date, relative date, duration, size, boolean, numeric list, numeric, then the
//! aggregate kinds, `has`, `is`, text list, text), keeping the first one the key's type
//! allows. Values that parse but do not fit their key stay in the tree as
//! [`Filter::invalid`], as Sentry keeps them; only queries that cannot be parsed at all
//! (unbalanced parentheses, a line break outside quotes, an impossible date) are errors.
//!
//! Positions are character offsets into the query.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveTime, TimeDelta, TimeZone, Utc};
use pest::Parser as _;
use pest::error::{Error as PestError, ErrorVariant};
use pest::iterators::Pair;

use super::QueryError;
use super::ast::{
    BoolOp, Filter, FilterKind, Invalid, Key, NumberValue, Operator, Span, TextValue, Token, Value,
};

mod grammar {
    #[derive(pest_derive::Parser)]
    #[grammar = "query/grammar.pest"]
    pub struct SearchParser;
}

use grammar::{Rule, SearchParser};

/// Longest regex pattern accepted in `key://pattern//` (an escape sequence counts as one).
pub const MAX_REGEX_LEN: usize = 64;

/// How keys are typed and what the parser accepts. The key sets decide which filter kind a
/// `key:value` becomes: `timestamp:-24h` is a relative date because `timestamp` is a date
/// key, while `random:-24h` is plain text.
#[derive(Debug, Clone)]
pub struct ParseOptions {
    /// Anchors relative dates (`-24h`).
    pub now: DateTime<Utc>,
    /// Keys that take dates: `-24h`, `+7d`, `2024-01-31`, `>=2024-01-31T10:00:00`.
    pub date_keys: HashSet<String>,
    /// Keys that take numbers (`>10`, `5k`) and number lists (`[1, 2]`).
    pub numeric_keys: HashSet<String>,
    /// Keys that take `true`/`false`/`1`/`0`.
    pub boolean_keys: HashSet<String>,
    /// Keys that take durations (`>500ms`).
    pub duration_keys: HashSet<String>,
    /// Keys that take sizes (`>10kb`).
    pub size_keys: HashSet<String>,
    /// Aggregate arguments (or function names) that take percentages (`>50%`).
    pub percentage_keys: HashSet<String>,
    /// Text keys that accept comparison operators (`release.version:>1.2.3`).
    pub text_operator_keys: HashSet<String>,
    /// Key prefixes whose keys are numeric (Sentry: `measurements.`, `spans.`).
    pub numeric_prefixes: Vec<String>,
    /// Key prefixes whose keys are durations (Sentry: `spans.`).
    pub duration_prefixes: Vec<String>,
    /// Mark free text and values that contain `*` invalid (`wildcard-not-allowed`).
    pub disallow_wildcard: bool,
    /// Read `key://pattern//` as a regex match ([`Operator::Regex`]); otherwise it is the
    /// literal text `//pattern//`.
    pub allow_regex: bool,
    /// When set, filters on other keys are invalid (`invalid-key`), as Sentry's
    /// `validateKeys` + `supportedTags`.
    pub supported_keys: Option<HashSet<String>>,
    /// Replacement reasons by invalid type (e.g. `wildcard-not-allowed`), as Sentry's
    /// `invalidMessages`.
    pub invalid_messages: HashMap<String, String>,
}

fn set(keys: &[&str]) -> HashSet<String> {
    keys.iter().map(|k| k.to_string()).collect()
}

impl ParseOptions {
    /// Sentry's default event-search config (what the fixtures assume), with "now" injected.
    pub fn sentry_defaults(now: DateTime<Utc>) -> Self {
        ParseOptions {
            now,
            date_keys: set(&[
                "start",
                "end",
                "firstSeen",
                "lastSeen",
                "last_seen()",
                "time",
                "event.timestamp",
                "timestamp",
                "timestamp.to_hour",
                "timestamp.to_day",
            ]),
            numeric_keys: set(&[
                "project_id",
                "project.id",
                "issue.id",
                "stack.colno",
                "stack.lineno",
                "stack.stack_level",
                "transaction.duration",
            ]),
            boolean_keys: set(&[
                "error.handled",
                "error.unhandled",
                "stack.in_app",
                "team_key_transaction",
            ]),
            // Plus the measurements Sentry types as durations.
            duration_keys: set(&[
                "transaction.duration",
                "measurements.fp",
                "measurements.fcp",
                "measurements.lcp",
                "measurements.fid",
                "measurements.inp",
                "measurements.ttfb",
                "measurements.ttfb.requesttime",
                "measurements.app_start_cold",
                "measurements.app_start_warm",
                "measurements.time_to_initial_display",
                "measurements.time_to_full_display",
                "measurements.stall_total_time",
                "measurements.stall_longest_time",
            ]),
            size_keys: HashSet::new(),
            percentage_keys: set(&["percentage"]),
            text_operator_keys: set(&[
                "release.version",
                "release.build",
                "release.package",
                "release.stage",
            ]),
            numeric_prefixes: vec!["measurements.".into(), "spans.".into()],
            duration_prefixes: vec!["spans.".into()],
            disallow_wildcard: false,
            allow_regex: false,
            supported_keys: None,
            invalid_messages: HashMap::new(),
        }
    }

    /// The keys our local index knows (used by the planner): [`Self::sentry_defaults`] plus
    /// the issue keys `firstSeen`, `lastSeen`, `age`, `event.timestamp`, `timestamp` (dates),
    /// `timesSeen`, `times_seen`, `userCount`, `user_count` (numeric) and `error.handled`,
    /// `error.unhandled`, `stack.in_app` (boolean).
    pub fn for_index(now: DateTime<Utc>) -> Self {
        let mut options = Self::sentry_defaults(now);
        for key in [
            "firstSeen",
            "lastSeen",
            "age",
            "event.timestamp",
            "timestamp",
        ] {
            options.date_keys.insert(key.into());
        }
        for key in ["timesSeen", "times_seen", "userCount", "user_count"] {
            options.numeric_keys.insert(key.into());
        }
        for key in ["error.handled", "error.unhandled", "stack.in_app"] {
            options.boolean_keys.insert(key.into());
        }
        options
    }

    pub fn is_date(&self, key: &str) -> bool {
        self.date_keys.contains(key)
    }

    pub fn is_numeric(&self, key: &str) -> bool {
        self.numeric_keys.contains(key)
            || self
                .numeric_prefixes
                .iter()
                .any(|p| key.starts_with(p.as_str()))
    }

    pub fn is_boolean(&self, key: &str) -> bool {
        self.boolean_keys.contains(key)
    }

    pub fn is_duration(&self, key: &str) -> bool {
        self.duration_keys.contains(key)
            || self
                .duration_prefixes
                .iter()
                .any(|p| key.starts_with(p.as_str()))
    }

    pub fn is_size(&self, key: &str) -> bool {
        self.size_keys.contains(key)
    }

    pub fn is_percentage(&self, key: &str) -> bool {
        self.percentage_keys.contains(key)
    }
}

/// Parse `input` into its top-level tokens (spacing dropped).
pub fn parse(input: &str, options: &ParseOptions) -> Result<Vec<Token>, QueryError> {
    let ctx = Ctx::new(input, options);
    let search = match SearchParser::parse(Rule::search, input) {
        Ok(mut pairs) => pairs.next(),
        Err(err) => return Err(ctx.parser_gave_up(&err)),
    };
    let Some(search) = search else {
        return Ok(Vec::new());
    };
    let end = search.as_span().end();
    if end < input.len() {
        return Err(ctx.stopped_at(end));
    }
    if let Some(open) = first_unclosed(search.clone()) {
        return Err(QueryError::new(
            ctx.pos(open),
            "unbalanced parentheses: expected a closing ) for this (",
        ));
    }
    ctx.terms(search)
}

/// Invalid types and Sentry's default reasons for them.
const WILDCARD_NOT_ALLOWED: (&str, &str) =
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

/// One list item as written; `None` text for a missing item (`[a,]`).
struct ListItem<'i> {
    text: Option<&'i str>,
    quoted: bool,
    /// Byte offset of the item in the query.
    start: usize,
}

/// A filter's `operator? value` part.
struct Scalar<'i> {
    op: Option<Operator>,
    /// The value without the operator: `Some` inner text when quoted.
    quoted: Option<&'i str>,
    plain: &'i str,
    /// Operator and value as written.
    raw: &'i str,
    /// Byte offset of `raw`.
    start: usize,
}

/// The parts of a filter pair, before deciding its kind.
struct Parts<'i> {
    negated: bool,
    key: Key,
    key_text: &'i str,
    wildcard: Option<Operator>,
    list: Option<Vec<ListItem<'i>>>,
    /// Pattern and the whole `//pattern//`.
    regex: Option<(&'i str, &'i str)>,
    scalar: Option<Scalar<'i>>,
}

struct Ctx<'a> {
    input: &'a str,
    /// Character offset of each byte offset (and of the end).
    char_at: Vec<usize>,
    options: &'a ParseOptions,
}

type Typed = (FilterKind, Operator, Value);

impl<'a> Ctx<'a> {
    fn new(input: &'a str, options: &'a ParseOptions) -> Self {
        let mut char_at = vec![0; input.len() + 1];
        let mut count = 0;
        for (byte, c) in input.char_indices() {
            for slot in char_at.iter_mut().skip(byte).take(c.len_utf8()) {
                *slot = count;
            }
            count += 1;
        }
        if let Some(last) = char_at.last_mut() {
            *last = count;
        }
        Ctx {
            input,
            char_at,
            options,
        }
    }

    /// Character offset of a byte offset.
    fn pos(&self, byte: usize) -> usize {
        self.char_at
            .get(byte)
            .or(self.char_at.last())
            .copied()
            .unwrap_or(0)
    }

    fn span(&self, pair: &Pair<'_, Rule>) -> Span {
        let s = pair.as_span();
        Span {
            start: self.pos(s.start()),
            end: self.pos(s.end()),
        }
    }

    fn invalid(&self, (kind, default): (&str, &str)) -> Invalid {
        let reason = self
            .options
            .invalid_messages
            .get(kind)
            .cloned()
            .unwrap_or_else(|| default.to_string());
        Invalid {
            kind: Some(kind.to_string()),
            reason,
        }
    }

    // ----- structure -----------------------------------------------------------------

    fn terms(&self, parent: Pair<'a, Rule>) -> Result<Vec<Token>, QueryError> {
        let mut out = Vec::new();
        for pair in parent.into_inner() {
            let span = self.span(&pair);
            match pair.as_rule() {
                Rule::boolean_operator => {
                    let op = if pair.as_str().eq_ignore_ascii_case("or") {
                        BoolOp::Or
                    } else {
                        BoolOp::And
                    };
                    out.push(Token::Boolean { op, span });
                }
                Rule::paren_group => out.push(Token::Group {
                    inner: self.terms(pair)?,
                    span,
                }),
                Rule::filter => out.push(Token::Filter(self.filter(pair)?)),
                Rule::free_text_quoted => {
                    let value = quoted_inner(pair).unwrap_or_default().to_string();
                    out.push(Token::FreeText {
                        invalid: self.free_text_invalid(&value),
                        value,
                        quoted: true,
                        span,
                    });
                }
                Rule::free_text_unquoted => {
                    let value = pair.as_str().to_string();
                    out.push(Token::FreeText {
                        invalid: self.free_text_invalid(&value),
                        value,
                        quoted: false,
                        span,
                    });
                }
                _ => {}
            }
        }
        Ok(out)
    }

    fn free_text_invalid(&self, value: &str) -> Option<Invalid> {
        (self.options.disallow_wildcard && value.contains('*'))
            .then(|| self.invalid(WILDCARD_NOT_ALLOWED))
    }

    // ----- filters -------------------------------------------------------------------

    fn filter(&self, pair: Pair<'a, Rule>) -> Result<Filter, QueryError> {
        let span = self.span(&pair);
        let end = pair.as_span().end();
        let Some(inner) = pair.into_inner().next() else {
            return Err(QueryError::new(
                span.start,
                "expected a filter like key:value",
            ));
        };
        let rule = inner.as_rule();
        let parts = self.parts(inner);
        // A typed value must be followed by the end of the value (not a parenthesis).
        let typed_ok = !self
            .input
            .get(end..)
            .is_some_and(|rest| rest.starts_with('('));
        let (kind, operator, value) = match rule {
            Rule::has_filter | Rule::is_filter => {
                let kind = if rule == Rule::has_filter {
                    FilterKind::Has
                } else {
                    FilterKind::Is
                };
                (
                    kind,
                    Operator::Default,
                    Value::Text(scalar_text(&parts.scalar)),
                )
            }
            Rule::aggregate_filter => self.aggregate_kind(&parts, typed_ok)?,
            _ => self.key_kind(&parts, typed_ok)?,
        };
        let invalid = self.check(kind, &parts, operator, &value);
        Ok(Filter {
            kind,
            negated: parts.negated,
            key: parts.key,
            operator,
            value,
            invalid,
            span,
        })
    }

    /// Split a filter pair into negation, key, operators and value.
    fn parts(&self, pair: Pair<'a, Rule>) -> Parts<'a> {
        let mut parts = Parts {
            negated: false,
            key: Key::Simple {
                name: String::new(),
                quoted: false,
            },
            key_text: "",
            wildcard: None,
            list: None,
            regex: None,
            scalar: None,
        };
        for child in pair.into_inner() {
            match child.as_rule() {
                Rule::negation => parts.negated = true,
                Rule::simple_key => {
                    parts.key_text = child.as_str();
                    parts.key = Key::Simple {
                        name: child.as_str().to_string(),
                        quoted: false,
                    };
                }
                Rule::indexed_key | Rule::explicit_tag_key | Rule::aggregate_key => {
                    parts.key_text = child.as_str();
                    parts.key = key(child);
                }
                Rule::wildcard_op => parts.wildcard = Some(wildcard_operator(child)),
                Rule::value_list => parts.list = Some(list_items(child)),
                Rule::regex_value => {
                    let pattern = child
                        .clone()
                        .into_inner()
                        .next()
                        .map(|p| p.as_str())
                        .unwrap_or("");
                    parts.regex = Some((pattern, child.as_str()));
                }
                Rule::scalar_value => parts.scalar = Some(scalar(child)),
                // `has:` / `is:` values come without an operator.
                Rule::quoted_value | Rule::plain_value => {
                    parts.scalar = Some(Scalar {
                        op: None,
                        quoted: (child.as_rule() == Rule::quoted_value)
                            .then(|| quoted_inner(child.clone()).unwrap_or("")),
                        plain: child.as_str(),
                        raw: child.as_str(),
                        start: child.as_span().start(),
                    });
                }
                _ => {}
            }
        }
        parts
    }

    /// The kind of a filter on a plain, quoted, explicit-tag or array key.
    fn key_kind(&self, parts: &Parts<'a>, typed_ok: bool) -> Result<Typed, QueryError> {
        let name = match &parts.key {
            Key::Simple { name, .. } => Some(name.as_str()),
            _ => None,
        };
        if let (Some(name), None) = (name, parts.wildcard) {
            if let Some(s) = parts
                .scalar
                .as_ref()
                .filter(|s| s.quoted.is_none() && typed_ok)
                && let Some(typed) = self.typed_value(name, parts.negated, s)?
            {
                return Ok(typed);
            }
            if let Some(items) = &parts.list
                && self.options.is_numeric(name)
                && let Some(numbers) = self.number_list(items)?
            {
                return Ok((
                    FilterKind::NumericIn,
                    Operator::Default,
                    Value::NumberList(numbers),
                ));
            }
        }
        let single = if matches!(parts.key, Key::ArrayIncludes { .. }) {
            FilterKind::ArrayIncludes
        } else {
            FilterKind::Text
        };
        let wildcard = parts.wildcard.unwrap_or_default();
        if let Some(items) = &parts.list {
            let values = items
                .iter()
                .map(|item| TextValue {
                    value: item.text.unwrap_or("").to_string(),
                    quoted: item.quoted,
                })
                .collect();
            return Ok((FilterKind::TextIn, wildcard, Value::TextList(values)));
        }
        if let Some((pattern, raw)) = parts.regex {
            return Ok(if self.options.allow_regex && parts.wildcard.is_none() {
                (single, Operator::Regex, Value::Text(text(pattern, false)))
            } else {
                (single, wildcard, Value::Text(text(raw, false)))
            });
        }
        let text_operator = name.is_some_and(|n| self.options.text_operator_keys.contains(n));
        let (op, value) = match &parts.scalar {
            Some(s) if parts.wildcard.is_some() => (wildcard, scalar_value_text(s, true)),
            Some(s) if text_operator && s.op.is_some() => {
                (s.op.unwrap_or_default(), scalar_value_text(s, false))
            }
            Some(s) => (Operator::Default, scalar_value_text(s, true)),
            None => (Operator::Default, text("", false)),
        };
        Ok((single, op, Value::Text(value)))
    }

    /// Sentry's typed filters on a plain key, in Sentry's order; `None` when the key's type
    /// takes none of them (the filter is then text).
    fn typed_value(
        &self,
        name: &str,
        negated: bool,
        s: &Scalar<'a>,
    ) -> Result<Option<Typed>, QueryError> {
        let o = self.options;
        let raw = s.raw;
        // Dates take no negation in Sentry's grammar.
        if !negated && o.is_date(name) {
            if let Some(p) = sub(Rule::date_value, raw) {
                let (op, value) = self.op_and(p, s.start, Self::iso_date)?;
                return Ok(Some((FilterKind::Date, op, value)));
            }
            if let Some(p) = sub(Rule::specific_date_value, raw) {
                let (_, value) = self.op_and(p, s.start, Self::iso_date)?;
                return Ok(Some((FilterKind::SpecificDate, Operator::Default, value)));
            }
            if let Some(p) = sub(Rule::rel_date_value, raw) {
                let (_, value) = self.op_and(p, s.start, Self::rel_date)?;
                return Ok(Some((FilterKind::RelativeDate, Operator::Default, value)));
            }
        }
        if o.is_duration(name)
            && let Some(p) = sub(Rule::duration_value, raw)
        {
            let (op, value) = self.op_and(p, s.start, Self::duration)?;
            return Ok(Some((FilterKind::Duration, op, value)));
        }
        if o.is_size(name)
            && let Some(p) = sub(Rule::size_value, raw)
        {
            let (op, value) = self.op_and(p, s.start, Self::size)?;
            return Ok(Some((FilterKind::Size, op, value)));
        }
        if o.is_boolean(name)
            && let Some(p) = sub(Rule::boolean_value, raw)
        {
            let (_, value) = self.op_and(p, s.start, Self::boolean)?;
            return Ok(Some((FilterKind::Boolean, Operator::Default, value)));
        }
        if o.is_numeric(name)
            && let Some(p) = sub(Rule::numeric_value, raw)
        {
            let (op, value) = self.op_and(p, s.start, Self::number)?;
            return Ok(Some((FilterKind::Numeric, op, value)));
        }
        Ok(None)
    }

    /// The kind of an aggregate filter (`count():>10`).
    fn aggregate_kind(&self, parts: &Parts<'a>, typed_ok: bool) -> Result<Typed, QueryError> {
        let o = self.options;
        let (name, args) = match &parts.key {
            Key::Aggregate { name, args } => (name.as_str(), args.as_slice()),
            _ => ("", &[][..]),
        };
        let any_arg = |check: &dyn Fn(&str) -> bool| args.iter().any(|a| check(a));
        if let Some(s) = parts
            .scalar
            .as_ref()
            .filter(|s| s.quoted.is_none() && typed_ok)
        {
            let raw = s.raw;
            if any_arg(&|a| o.is_duration(a))
                && let Some(p) = sub(Rule::duration_value, raw)
            {
                let (op, value) = self.op_and(p, s.start, Self::duration)?;
                return Ok((FilterKind::AggregateDuration, op, value));
            }
            if let Some(p) = sub(Rule::size_value, raw) {
                let (op, value) = self.op_and(p, s.start, Self::size)?;
                return Ok((FilterKind::AggregateSize, op, value));
            }
            if let Some(p) = sub(Rule::numeric_value, raw) {
                let (op, value) = self.op_and(p, s.start, Self::number)?;
                return Ok((FilterKind::AggregateNumeric, op, value));
            }
            if (o.is_percentage(name) || any_arg(&|a| o.is_percentage(a)))
                && let Some(p) = sub(Rule::percentage_value, raw)
            {
                let (op, value) = self.op_and(p, s.start, Self::percentage)?;
                return Ok((FilterKind::AggregatePercentage, op, value));
            }
            if (o.is_date(&format!("{name}()")) || any_arg(&|a| o.is_date(a)))
                && let Some(p) = sub(Rule::aggregate_date_value, raw)
            {
                let (op, value) = self.op_and(p, s.start, Self::iso_date)?;
                return Ok((FilterKind::AggregateDate, op, value));
            }
            if let Some(p) = sub(Rule::aggregate_rel_date_value, raw) {
                let (op, value) = self.op_and(p, s.start, Self::rel_date)?;
                return Ok((FilterKind::AggregateRelativeDate, op, value));
            }
        }
        let (op, value) = match &parts.scalar {
            Some(s) => (s.op.unwrap_or_default(), scalar_value_text(s, false)),
            None => (Operator::Default, text("", false)),
        };
        Ok((FilterKind::AggregateGeneric, op, Value::Text(value)))
    }

    /// Numbers of a list, or `None` when an item is not a number (the list is text then).
    fn number_list(&self, items: &[ListItem<'a>]) -> Result<Option<Vec<NumberValue>>, QueryError> {
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            match item.text {
                None => out.push(NumberValue {
                    raw: String::new(),
                    unit: None,
                    value: 0.0,
                }),
                Some(t) if !item.quoted => {
                    let Some(p) = sub(Rule::number_item, t) else {
                        return Ok(None);
                    };
                    let Some(number) = p.into_inner().find(|c| c.as_rule() == Rule::number) else {
                        return Ok(None);
                    };
                    match self.number(number, item.start)? {
                        Value::Number(n) => out.push(n),
                        _ => return Ok(None),
                    }
                }
                Some(_) => return Ok(None),
            }
        }
        Ok(Some(out))
    }

    /// The operator (if any) and the converted value of a typed value pair.
    fn op_and(
        &self,
        pair: Pair<'a, Rule>,
        base: usize,
        convert: fn(&Self, Pair<'a, Rule>, usize) -> Result<Value, QueryError>,
    ) -> Result<(Operator, Value), QueryError> {
        let mut op = Operator::Default;
        for child in pair.into_inner() {
            match child.as_rule() {
                Rule::operator => op = operator(child.as_str()),
                Rule::EOI => {}
                _ => {
                    let at = base + child.as_span().start();
                    return Ok((op, convert(self, child, at)?));
                }
            }
        }
        Err(QueryError::new(self.pos(base), "expected a value"))
    }

    // ----- typed values (pairs parsed from a value substring; `at` is its byte offset in
    // the query) ---------------------------------------------------------------------

    fn iso_date(&self, pair: Pair<'a, Rule>, at: usize) -> Result<Value, QueryError> {
        let raw = pair.as_str();
        let bad = || {
            QueryError::new(
                self.pos(at),
                format!(
                    "bad date \"{raw}\": expected a real date and time like 2024-01-31 or 2024-01-31T13:45:00Z"
                ),
            )
        };
        let (mut date, mut time, mut tz) = ("", None, None);
        for part in pair.into_inner() {
            match part.as_rule() {
                Rule::date_part => date = part.as_str(),
                Rule::time_part => time = Some(part.as_str()),
                Rule::tz_part => tz = Some(part.as_str()),
                _ => {}
            }
        }
        let digits = |s: &str| s.parse::<u32>().map_err(|_| bad());
        let day = NaiveDate::from_ymd_opt(
            date.get(0..4)
                .map(|y| y.parse::<i32>().unwrap_or(-1))
                .unwrap_or(-1),
            digits(date.get(5..7).unwrap_or(""))?,
            digits(date.get(8..10).unwrap_or(""))?,
        )
        .ok_or_else(bad)?;
        let clock = match time {
            None => NaiveTime::MIN,
            Some(t) => {
                // `T05:06:07.123`: the fraction after the dot, as nanoseconds.
                let nanos = match t.get(10..) {
                    Some(frac) if !frac.is_empty() => {
                        let padded = format!("{frac:0<9}");
                        padded
                            .get(0..9)
                            .unwrap_or("0")
                            .parse::<u32>()
                            .map_err(|_| bad())?
                    }
                    _ => 0,
                };
                NaiveTime::from_hms_nano_opt(
                    digits(t.get(1..3).unwrap_or(""))?,
                    digits(t.get(4..6).unwrap_or(""))?,
                    digits(t.get(7..9).unwrap_or(""))?,
                    nanos,
                )
                .ok_or_else(bad)?
            }
        };
        let naive = day.and_time(clock);
        let offset_secs = match tz {
            None | Some("Z") => 0,
            Some(z) => {
                let sign = if z.starts_with('-') { -1 } else { 1 };
                let hours = digits(z.get(1..3).unwrap_or(""))? as i32;
                let minutes = digits(z.get(4..6).unwrap_or(""))? as i32;
                if hours > 23 || minutes > 59 {
                    return Err(bad());
                }
                sign * (hours * 3600 + minutes * 60)
            }
        };
        let offset = FixedOffset::east_opt(offset_secs).ok_or_else(bad)?;
        let value = offset
            .from_local_datetime(&naive)
            .single()
            .ok_or_else(bad)?
            .with_timezone(&Utc);
        Ok(Value::IsoDate {
            raw: raw.to_string(),
            value,
            has_time: time.is_some(),
        })
    }

    fn rel_date(&self, pair: Pair<'a, Rule>, at: usize) -> Result<Value, QueryError> {
        let raw = pair.as_str();
        let too_far = || {
            QueryError::new(
                self.pos(at),
                format!(
                    "bad relative date \"{raw}\": expected an amount that stays within a few thousand years of now"
                ),
            )
        };
        let (mut sign, mut amount, mut unit) = ('-', "", 'd');
        for part in pair.into_inner() {
            match part.as_rule() {
                Rule::rel_sign => sign = part.as_str().chars().next().unwrap_or('-'),
                Rule::rel_amount => amount = part.as_str(),
                Rule::rel_unit => unit = part.as_str().chars().next().unwrap_or('d'),
                _ => {}
            }
        }
        let amount: i64 = amount.parse().map_err(|_| too_far())?;
        let delta = match unit {
            'w' => TimeDelta::try_weeks(amount),
            'd' => TimeDelta::try_days(amount),
            'h' => TimeDelta::try_hours(amount),
            _ => TimeDelta::try_minutes(amount),
        }
        .ok_or_else(too_far)?;
        // The cutoff for both signs: `-7d` is "since then", `+7d` is "before then".
        let value = self
            .options
            .now
            .checked_sub_signed(delta)
            .ok_or_else(too_far)?;
        Ok(Value::RelativeDate {
            raw: raw.to_string(),
            sign,
            amount,
            unit,
            value,
        })
    }

    fn finite(&self, value: f64, raw: &str, at: usize) -> Result<f64, QueryError> {
        if value.is_finite() {
            Ok(value)
        } else {
            Err(QueryError::new(
                self.pos(at),
                format!("number \"{raw}\" is too large: expected at most about 1e300"),
            ))
        }
    }

    fn numeric_and_unit(pair: Pair<'a, Rule>) -> (&'a str, &'a str) {
        let (mut numeric, mut unit) = ("", "");
        for part in pair.into_inner() {
            match part.as_rule() {
                Rule::numeric => numeric = part.as_str(),
                Rule::duration_unit | Rule::size_unit => unit = part.as_str(),
                _ => {}
            }
        }
        (numeric, unit)
    }

    fn duration(&self, pair: Pair<'a, Rule>, at: usize) -> Result<Value, QueryError> {
        let raw_all = pair.as_str();
        let (numeric, unit) = Self::numeric_and_unit(pair);
        let n: f64 = numeric.parse().unwrap_or(f64::NAN);
        let factor = match unit {
            "ms" => 1.0,
            "s" => 1e3,
            "min" | "m" => 60e3,
            "hr" | "h" => 3_600e3,
            "day" | "d" => 86_400e3,
            _ => 604_800e3,
        };
        Ok(Value::Duration {
            raw: numeric.to_string(),
            unit: unit.to_string(),
            millis: self.finite(n * factor, raw_all, at)?,
        })
    }

    fn size(&self, pair: Pair<'a, Rule>, at: usize) -> Result<Value, QueryError> {
        let raw_all = pair.as_str();
        let (numeric, unit) = Self::numeric_and_unit(pair);
        let n: f64 = numeric.parse().unwrap_or(f64::NAN);
        let lower = unit.to_ascii_lowercase();
        let factor = match lower.as_str() {
            "bit" => 1.0 / 8.0,
            "nb" => 0.5,
            "bytes" => 1.0,
            "kb" => 1e3,
            "mb" => 1e6,
            "gb" => 1e9,
            "tb" => 1e12,
            "pb" => 1e15,
            "eb" => 1e18,
            "zb" => 1e21,
            "yb" => 1e24,
            "kib" => 1024f64,
            "mib" => 1024f64.powi(2),
            "gib" => 1024f64.powi(3),
            "tib" => 1024f64.powi(4),
            "pib" => 1024f64.powi(5),
            "eib" => 1024f64.powi(6),
            "zib" => 1024f64.powi(7),
            _ => 1024f64.powi(8),
        };
        Ok(Value::Size {
            raw: numeric.to_string(),
            unit: unit.to_string(),
            bytes: self.finite(n * factor, raw_all, at)?,
        })
    }

    fn number(&self, pair: Pair<'a, Rule>, at: usize) -> Result<Value, QueryError> {
        let raw_all = pair.as_str();
        let mut unit = None;
        let mut raw = raw_all;
        for part in pair.into_inner() {
            if part.as_rule() == Rule::number_unit {
                unit = Some(part.as_str().to_string());
                raw = raw_all
                    .get(..raw_all.len().saturating_sub(part.as_str().len()))
                    .unwrap_or(raw_all);
            }
        }
        let factor = match unit.as_deref().map(str::to_ascii_lowercase).as_deref() {
            Some("k") => 1e3,
            Some("m") => 1e6,
            Some("b") => 1e9,
            _ => 1.0,
        };
        let n: f64 = raw.parse().unwrap_or(f64::NAN);
        Ok(Value::Number(NumberValue {
            raw: raw.to_string(),
            unit,
            value: self.finite(n * factor, raw_all, at)?,
        }))
    }

    fn percentage(&self, pair: Pair<'a, Rule>, at: usize) -> Result<Value, QueryError> {
        let raw_all = pair.as_str();
        let numeric = raw_all.trim_end_matches('%');
        let n: f64 = numeric.parse().unwrap_or(f64::NAN);
        Ok(Value::Percentage {
            raw: numeric.to_string(),
            value: self.finite(n / 100.0, raw_all, at)?,
        })
    }

    fn boolean(&self, pair: Pair<'a, Rule>, _at: usize) -> Result<Value, QueryError> {
        let raw = pair.as_str();
        Ok(Value::Boolean {
            raw: raw.to_string(),
            value: raw == "1" || raw.eq_ignore_ascii_case("true"),
        })
    }

    // ----- validity (Sentry's checkInvalidFilter) --------------------------------------

    fn check(
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
        let example = self.options.now;
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

    // ----- errors ----------------------------------------------------------------------

    /// The parser's own limits (nesting deeper than the stack allows).
    fn parser_gave_up(&self, err: &PestError<Rule>) -> QueryError {
        let message = match &err.variant {
            ErrorVariant::CustomError { message } => message.as_str(),
            ErrorVariant::ParsingError { .. } => "",
        };
        QueryError::new(
            0,
            format!("query too complex ({message}): expected fewer levels of nested parentheses"),
        )
    }

    /// Why parsing stopped at byte `at` before the end of the query.
    fn stopped_at(&self, at: usize) -> QueryError {
        let rest = self.input.get(at..).unwrap_or("");
        match rest.chars().next() {
            Some('\n') => line_break(self.pos(at)),
            Some(')') => QueryError::new(
                self.pos(at),
                "unbalanced parentheses: unexpected ), expected a ( before it",
            ),
            Some('(') => {
                // A group that does not even start: `( )`, `(` then a line break.
                let after = rest.get(1..).unwrap_or("").trim_start_matches(' ');
                match after.chars().next() {
                    Some('\n') => line_break(self.pos(self.input.len() - after.len())),
                    _ => QueryError::new(
                        self.pos(at),
                        "empty parentheses: expected a search term between ( and )",
                    ),
                }
            }
            _ => QueryError::new(
                self.pos(at),
                "cannot read the query here: expected a filter (key:value), free text, AND/OR or a (group)",
            ),
        }
    }
}

fn line_break(position: usize) -> QueryError {
    QueryError::new(
        position,
        "line break outside quotes: expected a space between terms, or the text in double quotes",
    )
}

/// Byte offset of the first `(` (outermost first) whose group was left open.
fn first_unclosed(pair: Pair<'_, Rule>) -> Option<usize> {
    let is_paren = matches!(pair.as_rule(), Rule::paren_group | Rule::free_parens);
    if is_paren
        && pair
            .clone()
            .into_inner()
            .any(|c| c.as_rule() == Rule::unclosed)
    {
        return Some(pair.as_span().start());
    }
    pair.into_inner().find_map(first_unclosed)
}

/// Parse a whole value substring with one of the typed value rules.
fn sub(rule: Rule, text: &str) -> Option<Pair<'_, Rule>> {
    SearchParser::parse(rule, text).ok()?.next()
}

fn text(value: &str, quoted: bool) -> TextValue {
    TextValue {
        value: value.to_string(),
        quoted,
    }
}

/// The inner text of a `quoted_value` pair (or of a pair that contains one).
fn quoted_inner(pair: Pair<'_, Rule>) -> Option<&str> {
    if pair.as_rule() == Rule::quoted_inner {
        return Some(pair.as_str());
    }
    pair.into_inner().find_map(quoted_inner)
}

fn scalar(pair: Pair<'_, Rule>) -> Scalar<'_> {
    let raw = pair.as_str();
    let start = pair.as_span().start();
    let mut s = Scalar {
        op: None,
        quoted: None,
        plain: "",
        raw,
        start,
    };
    for child in pair.into_inner() {
        match child.as_rule() {
            Rule::operator => s.op = Some(operator(child.as_str())),
            Rule::quoted_value => {
                s.plain = child.as_str();
                s.quoted = Some(quoted_inner(child).unwrap_or(""));
            }
            Rule::plain_value => s.plain = child.as_str(),
            _ => {}
        }
    }
    s
}

/// The text value of a scalar: when `whole`, the operator (if any) is part of the text, as
/// for keys that take no operator.
fn scalar_value_text(s: &Scalar<'_>, whole: bool) -> TextValue {
    match (s.op, s.quoted) {
        (Some(_), _) if whole => text(s.raw, false),
        (_, Some(inner)) => text(inner, true),
        (_, None) => text(s.plain, false),
    }
}

fn scalar_text(s: &Option<Scalar<'_>>) -> TextValue {
    match s {
        Some(s) => scalar_value_text(s, true),
        None => text("", false),
    }
}

fn operator(s: &str) -> Operator {
    match s {
        ">=" => Operator::Gte,
        "<=" => Operator::Lte,
        ">" => Operator::Gt,
        "<" => Operator::Lt,
        "=" => Operator::Eq,
        "!=" => Operator::Ne,
        _ => Operator::Default,
    }
}

fn wildcard_operator(pair: Pair<'_, Rule>) -> Operator {
    match pair.into_inner().next().map(|p| p.as_rule()) {
        Some(Rule::contains_op) => Operator::Contains,
        Some(Rule::starts_with_op) => Operator::StartsWith,
        Some(Rule::ends_with_op) => Operator::EndsWith,
        _ => Operator::Matches,
    }
}

/// A key pair (`indexed_key`, `explicit_tag_key` or `aggregate_key`) as a [`Key`].
fn key(pair: Pair<'_, Rule>) -> Key {
    match pair.as_rule() {
        Rule::explicit_tag_key => {
            let (mut prefix, mut name, mut tag_type, mut indexed) =
                (String::new(), String::new(), None, false);
            for child in pair.into_inner() {
                match child.as_rule() {
                    Rule::tag_prefix => prefix = child.as_str().to_string(),
                    Rule::escaped_key => name = child.as_str().to_string(),
                    Rule::quoted_key => {
                        name = child.as_str().trim_matches('"').to_string();
                    }
                    Rule::tag_type => tag_type = Some(child.as_str().to_string()),
                    Rule::inner_index | Rule::array_index => indexed = true,
                    _ => {}
                }
            }
            let tag = Key::ExplicitTag {
                prefix,
                key: name,
                tag_type,
            };
            if indexed {
                Key::ArrayIncludes {
                    key: Box::new(tag),
                    index: "*".into(),
                }
            } else {
                tag
            }
        }
        Rule::aggregate_key => {
            let mut name = String::new();
            let mut args: Vec<String> = Vec::new();
            for child in pair.into_inner() {
                match child.as_rule() {
                    Rule::simple_key => name = child.as_str().to_string(),
                    Rule::function_args => {
                        let mut pending = false;
                        for arg in child.into_inner() {
                            match arg.as_rule() {
                                Rule::aggregate_param => {
                                    if pending && let Some(last) = args.last_mut() {
                                        *last = arg.as_str().to_string();
                                    } else {
                                        args.push(arg.as_str().to_string());
                                    }
                                    pending = false;
                                }
                                Rule::arg_separator => {
                                    args.push(String::new());
                                    pending = true;
                                }
                                _ => {}
                            }
                        }
                    }
                    _ => {}
                }
            }
            Key::Aggregate { name, args }
        }
        _ => {
            // indexed_key: a simple or quoted key, maybe with `[*]`.
            let mut simple = Key::Simple {
                name: String::new(),
                quoted: false,
            };
            let mut indexed = false;
            for child in pair.into_inner() {
                match child.as_rule() {
                    Rule::simple_key => {
                        simple = Key::Simple {
                            name: child.as_str().to_string(),
                            quoted: false,
                        }
                    }
                    Rule::quoted_key => {
                        simple = Key::Simple {
                            name: child.as_str().trim_matches('"').to_string(),
                            quoted: true,
                        }
                    }
                    Rule::array_index => indexed = true,
                    _ => {}
                }
            }
            if indexed {
                Key::ArrayIncludes {
                    key: Box::new(simple),
                    index: "*".into(),
                }
            } else {
                simple
            }
        }
    }
}

fn list_items(pair: Pair<'_, Rule>) -> Vec<ListItem<'_>> {
    let mut items: Vec<ListItem<'_>> = Vec::new();
    let mut pending = false;
    for child in pair.into_inner() {
        let start = child.as_span().start();
        let item = match child.as_rule() {
            Rule::quoted_value => ListItem {
                text: Some(quoted_inner(child).unwrap_or("")),
                quoted: true,
                start,
            },
            Rule::in_value => ListItem {
                text: Some(child.as_str()),
                quoted: false,
                start,
            },
            Rule::list_separator => {
                items.push(ListItem {
                    text: None,
                    quoted: false,
                    start: child.as_span().end(),
                });
                pending = true;
                continue;
            }
            _ => continue,
        };
        if pending && let Some(last) = items.last_mut() {
            *last = item;
        } else {
            items.push(item);
        }
        pending = false;
    }
    items
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

#[cfg(test)]
mod tests {
    use std::time::{Duration as StdDuration, Instant};

    use chrono::TimeZone;
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
        let tokens =
            p(r#"level:error "Connection reset" !environment:staging boom  tags:"a \"b\"""#);
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

        let f = filter("issue.id:[1, 2,3]");
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
}
