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
//!
//! This file holds the structure (terms, filters, keys, lists, errors); `options` how
//! keys are typed, `values` the typed value conversions, `validation` which filters are
//! invalid and why, and `tests` the unit tests.

use chrono::{DateTime, Utc};
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

/// Most levels of nested parentheses accepted. The grammar, the planner and tantivy's
/// scorers each recurse once per level, and tool calls run on 2 MiB threads: 2,000 levels
/// (4 KB of query) overflowed the stack, which aborts the whole server.
pub const MAX_NESTING: usize = 64;

/// Parse `input` into its top-level tokens (spacing dropped).
pub fn parse(input: &str, options: &ParseOptions) -> Result<Vec<Token>, QueryError> {
    parse_at(input, options, options.now)
}

/// [`parse`] with relative dates anchored at `now` instead of `options.now`, so one set of
/// options serves every query.
pub fn parse_at(
    input: &str,
    options: &ParseOptions,
    now: DateTime<Utc>,
) -> Result<Vec<Token>, QueryError> {
    let ctx = Ctx::new(input, options, now);
    if let Some(at) = too_deep(input) {
        return Err(QueryError::new(
            ctx.pos(at),
            format!("query too complex: more than {MAX_NESTING} levels of nested parentheses"),
        ));
    }
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

/// Byte offset of the first `(` nested deeper than [`MAX_NESTING`], counting every
/// parenthesis (also quoted ones: a bound, not the grammar's own nesting).
fn too_deep(input: &str) -> Option<usize> {
    let mut depth = 0usize;
    for (at, byte) in input.bytes().enumerate() {
        match byte {
            b'(' => {
                depth += 1;
                if depth > MAX_NESTING {
                    return Some(at);
                }
            }
            b')' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    None
}

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
    now: DateTime<Utc>,
}

type Typed = (FilterKind, Operator, Value);

impl<'a> Ctx<'a> {
    fn new(input: &'a str, options: &'a ParseOptions, now: DateTime<Utc>) -> Self {
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
            now,
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

mod options;
mod validation;
use validation::WILDCARD_NOT_ALLOWED;
#[cfg(test)]
mod tests;
mod values;

pub use options::ParseOptions;
