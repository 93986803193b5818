//! Parse tree to a tantivy query over the [`crate::schema`] fields.
//!
//! Known keys map to their fields and types; an unknown key is a tag, as in Sentry. Free
//! text must match the document's prose (`text` field). `AND` binds tighter than `OR`;
//! adjacent terms are ANDed. Issue search (the issue stream's syntax) refuses `OR` and
//! parentheses, as Sentry does.

use std::ops::Bound;

use chrono::{DateTime, Duration, Utc};
use tantivy::collector::TopDocs;
use tantivy::query::{
    AllQuery, BooleanQuery, EmptyQuery, ExistsQuery, Occur, PhraseQuery, Query, RegexQuery,
    TermQuery,
};
use tantivy::schema::{Field, IndexRecordOption};
use tantivy::tokenizer::TokenStream;
use tantivy::{Index, Order, Term};

use super::ast::{BoolOp, Filter, FilterKind, Key, Operator, TextValue, Token, Value};
use super::keys::{self, KeyDef, ReleasePart, Source, ValueType, Values};
use super::{PlanContext, QueryError, QueryMode};
use crate::schema::{Fields, date_for_search, tag_term};

type Q = Box<dyn Query>;

/// How a key's values are matched.
#[derive(Debug, Clone, Copy)]
enum Target {
    /// One indexed token per value (raw tokenizer).
    Exact(Field),
    /// Tokenized prose.
    Prose(Field),
    /// Any of several prose fields (`message` covers title and message).
    ProseAny(&'static [fn(&Fields) -> Field]),
    Date(Field),
    Count(Field),
    /// A boolean stored as `true` / `false` tokens.
    Flag(Field),
    /// Sentry's `handled` tag.
    Handled {
        inverted: bool,
    },
    /// A part of the release (`package@version+build`).
    Release(ReleasePart),
    /// `tag` field, `key=value`.
    Tag,
    /// Nothing in the index answers this key (see [`never_answered`]).
    Never,
}

/// Most wildcards (`*`, and `has:` tests) one query may plan. Each becomes a regex
/// automaton over the term dictionary (one per field searched), built in time and memory
/// that grow with its wildcards: 800 `message:*x*` filters (a 10 KB query) took 2 s and
/// 300 MB at 1M events.
pub const MAX_WILDCARDS: usize = 32;

thread_local! {
    /// Wildcards planned so far by this thread's current [`plan`] call.
    static WILDCARDS: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

pub fn plan(tokens: &[Token], ctx: &PlanContext) -> Result<Q, QueryError> {
    WILDCARDS.with(|n| n.set(0));
    if tokens.is_empty() {
        return Ok(Box::new(AllQuery));
    }
    sequence(tokens, ctx, &project_scope(tokens))
}

/// A token sequence: split on `OR`, AND within each part.
fn sequence(tokens: &[Token], ctx: &PlanContext, projects: &[String]) -> Result<Q, QueryError> {
    dangling_operator(tokens)?;
    let mut alternatives: Vec<Vec<(Occur, Q)>> = Vec::new();
    let mut current: Vec<(Occur, Q)> = Vec::new();
    for token in tokens {
        match token {
            Token::Boolean {
                op: BoolOp::And, ..
            } => {}
            Token::Boolean {
                op: BoolOp::Or,
                span,
            } => {
                if ctx.mode == QueryMode::Issues {
                    return Err(QueryError::new(
                        span.start,
                        "OR is not allowed in issue search (terms are always ANDed); run two searches instead",
                    ));
                }
                alternatives.push(std::mem::take(&mut current));
            }
            Token::Group { inner, span } => {
                if ctx.mode == QueryMode::Issues {
                    return Err(QueryError::new(
                        span.start,
                        "parentheses are not allowed in issue search",
                    ));
                }
                current.push((Occur::Must, sequence(inner, ctx, projects)?));
            }
            Token::FreeText {
                value,
                quoted,
                span,
                invalid,
            } => {
                if let Some(invalid) = invalid {
                    return Err(QueryError::new(span.start, invalid.reason.clone()));
                }
                current.push((Occur::Must, free_text(value, *quoted, span.start, ctx)?));
            }
            Token::Filter(filter) => {
                let (q, negated) = filter_query(filter, ctx, projects)?;
                current.push((if negated { Occur::MustNot } else { Occur::Must }, q));
            }
        }
    }
    alternatives.push(current);
    let mut parts: Vec<Q> = Vec::new();
    for mut clauses in alternatives {
        if clauses.is_empty() {
            continue;
        }
        if clauses.iter().all(|(o, _)| *o == Occur::MustNot) {
            clauses.push((Occur::Must, Box::new(AllQuery)));
        }
        parts.push(Box::new(BooleanQuery::new(clauses)));
    }
    Ok(match parts.len() {
        0 => Box::new(AllQuery),
        1 => parts.remove(0),
        _ => any_of(parts),
    })
}

/// `AND` / `OR` need a term on both sides, as Sentry requires (`a:b AND` is refused).
fn dangling_operator(tokens: &[Token]) -> Result<(), QueryError> {
    for (i, token) in tokens.iter().enumerate() {
        let Token::Boolean { op, span } = token else {
            continue;
        };
        let is_op = |t: Option<&Token>| matches!(t, None | Some(Token::Boolean { .. }));
        if is_op(i.checked_sub(1).and_then(|p| tokens.get(p))) || is_op(tokens.get(i + 1)) {
            let name = if *op == BoolOp::Or { "OR" } else { "AND" };
            return Err(QueryError::new(
                span.start,
                format!(
                    "{name} needs a search term on both sides; remove it or add the missing term"
                ),
            ));
        }
    }
    Ok(())
}

/// Projects named in the query, used to scope `release:latest`.
fn project_scope(tokens: &[Token]) -> Vec<String> {
    tokens
        .iter()
        .filter_map(|t| match t {
            Token::Filter(f) if !f.negated && f.key.name() == "project" => Some(&f.value),
            _ => None,
        })
        .flat_map(|v| match v {
            Value::Text(t) => vec![unescape(&t.value)],
            Value::TextList(items) => items.iter().map(|t| unescape(&t.value)).collect(),
            _ => Vec::new(),
        })
        .collect()
}

/// The query for one filter, and whether it must be excluded rather than required.
fn filter_query(
    f: &Filter,
    ctx: &PlanContext,
    projects: &[String],
) -> Result<(Q, bool), QueryError> {
    let at = f.span.start;
    if let Some(invalid) = &f.invalid {
        return Err(QueryError::new(
            at,
            format!("{} (key `{}`)", invalid.reason, f.key.name()),
        ));
    }
    let negated = f.negated ^ (f.operator == Operator::Ne);
    let key = f.key.name();
    // A value the key never takes is refused even where the key cannot be answered.
    if let (
        Some(
            def @ KeyDef {
                values: Values::Closed(_),
                ..
            },
        ),
        Value::Text(_) | Value::TextList(_),
    ) = (def_of(&f.key), &f.value)
    {
        let values = match &f.value {
            Value::TextList(items) => items.clone(),
            Value::Text(t) => vec![t.clone()],
            _ => Vec::new(),
        };
        check_values(def, &key, &values, at, |_| false)?;
    }
    if never_answered(f).is_some() {
        // Whatever the sign, the index cannot tell: match nothing, and say why in a note.
        return Ok((Box::new(EmptyQuery), false));
    }
    let q = match f.kind {
        FilterKind::Is => is_filter(f, ctx)?,
        FilterKind::Has => has_filter(f, ctx)?,
        FilterKind::Text | FilterKind::TextIn | FilterKind::ArrayIncludes => {
            let values: Vec<TextValue> = match &f.value {
                Value::Text(t) => vec![t.clone()],
                Value::TextList(items) => items.clone(),
                _ => {
                    return Err(QueryError::new(
                        at,
                        format!("expected a text value for `{key}`"),
                    ));
                }
            };
            let target = target_for(&f.key, ctx.fields, at)?;
            if let Some(def) = def_of(&f.key) {
                check_values(def, &key, &values, at, |v| holds(ctx, target, &key, v))?;
            }
            if let Target::Release(part) = target {
                return Ok((release_filter(part, f.operator, &values, ctx, at)?, negated));
            }
            // Sentry's wildcard operators are wildcards around the value.
            let wrap: fn(&str) -> String = match f.operator {
                Operator::Default | Operator::Eq | Operator::Ne | Operator::Matches => {
                    |v| v.to_owned()
                }
                Operator::Contains => |v| format!("*{v}*"),
                Operator::StartsWith => |v| format!("{v}*"),
                Operator::EndsWith => |v| format!("*{v}"),
                Operator::Regex => {
                    return Err(QueryError::new(
                        at,
                        "regex filters are not supported here; use wildcards like key:*part*",
                    ));
                }
                other => {
                    return Err(QueryError::new(
                        at,
                        format!(
                            "operator {} needs a number or a date, but `{key}` is a text key",
                            other.as_str()
                        ),
                    ));
                }
            };
            let mut alternatives = Vec::new();
            for v in values {
                let v = TextValue {
                    value: wrap(&v.value),
                    quoted: v.quoted,
                };
                alternatives.push(text_match(target, &key, &v, ctx, projects, at)?);
            }
            any_of(alternatives)
        }
        FilterKind::Numeric | FilterKind::NumericIn => numeric_filter(f, ctx, at)?,
        FilterKind::Date | FilterKind::SpecificDate | FilterKind::RelativeDate => {
            date_filter(f, ctx, at)?
        }
        FilterKind::Boolean => boolean_filter(f, ctx, at)?,
        FilterKind::Duration | FilterKind::Size | FilterKind::Percentage => {
            return Err(QueryError::new(
                at,
                format!(
                    "`{key}` is a performance field; the local index holds errors, issues and alerts, not transactions"
                ),
            ));
        }
        _ => {
            return Err(QueryError::new(
                at,
                format!(
                    "aggregate filters like `{key}` filter groups of events, which only search_errors makes; filter issues with timesSeen:>N or userCount:>N"
                ),
            ));
        }
    };
    Ok((q, negated))
}

fn target_for(key: &Key, f: &Fields, at: usize) -> Result<Target, QueryError> {
    let name = match key {
        Key::ExplicitTag { .. } => return Ok(Target::Tag),
        Key::Aggregate { .. } => {
            return Err(QueryError::new(at, "aggregate keys are not supported here"));
        }
        Key::ArrayIncludes { key, .. } => return target_for(key, f, at),
        Key::Simple { name, .. } => name.as_str(),
    };
    Ok(keys::lookup(name).map_or(Target::Tag, |def| target_of(def, f)))
}

/// Where the key table says a key is answered from.
fn target_of(def: &KeyDef, f: &Fields) -> Target {
    match (def.source, def.ty) {
        (Source::Field(field), ValueType::Prose) => Target::Prose(field(f)),
        (Source::Field(field), ValueType::Date) => Target::Date(field(f)),
        (Source::Field(field), ValueType::Number) => Target::Count(field(f)),
        (Source::Field(field), ValueType::Boolean) => Target::Flag(field(f)),
        (Source::Field(field), _) => Target::Exact(field(f)),
        (Source::AnyOf(list), _) => Target::ProseAny(list),
        (Source::Handled { inverted }, _) => Target::Handled { inverted },
        (Source::Release(part), _) => Target::Release(part),
        (Source::Tag, _) => Target::Tag,
        (Source::Never(_), _) => Target::Never,
    }
}

/// The table entry of a plain key (`tags[x]` is always a tag).
fn def_of(key: &Key) -> Option<&'static KeyDef> {
    match key {
        Key::Simple { name, .. } => keys::lookup(name),
        Key::ArrayIncludes { key, .. } => def_of(key),
        _ => None,
    }
}

/// Whether the index holds `value` for the key (some payloads, like Sentry's docs' examples,
/// carry ids of other shapes: those are never refused).
fn holds(ctx: &PlanContext, target: Target, key: &str, value: &str) -> bool {
    let term = match target {
        Target::Exact(field) => Term::from_field_text(field, value),
        Target::Tag => Term::from_field_text(ctx.fields.tag, &tag_term(key, value)),
        _ => return false,
    };
    ctx.searcher.doc_freq(&term).is_ok_and(|n| n > 0)
}

/// Refuse values a key never takes: unknown enum values (`issue.category:hellboy`) and
/// malformed ids the index does not hold (`id:deadbeef`), as Sentry does. Wildcards are
/// not checked.
fn check_values(
    def: &KeyDef,
    key: &str,
    values: &[TextValue],
    at: usize,
    held: impl Fn(&str) -> bool,
) -> Result<(), QueryError> {
    for v in values {
        if wildcard_regex(&v.value).is_some() {
            continue;
        }
        let text = unescape(&v.value);
        match def.values {
            Values::Closed(allowed) if !allowed.contains(&text.to_ascii_lowercase().as_str()) => {
                let mut message = format!(
                    "unknown `{key}` value \"{text}\": expected one of {}",
                    allowed.join(", ")
                );
                if let Some(s) = keys::closest(&text, allowed.iter().copied()) {
                    message.push_str(&format!(" (did you mean `{s}`?)"));
                }
                return Err(QueryError::new(at, message));
            }
            Values::Id(shape) if !keys::id_fits(shape, &text) && !held(&text) => {
                let expected = match shape {
                    keys::IdShape::Hex32 => "32 hexadecimal characters",
                    keys::IdShape::EventOrNumber => {
                        "an event id (32 hexadecimal characters) or a numeric issue or alert id"
                    }
                };
                return Err(QueryError::new(
                    at,
                    format!("`{key}:{text}` is not a valid id: expected {expected}"),
                ));
            }
            _ => {}
        }
    }
    Ok(())
}

/// Why a filter can never be answered from the index (it needs to know the caller, or
/// state webhooks do not carry), or `None` when it can.
pub fn never_answered(f: &Filter) -> Option<String> {
    let value = match &f.value {
        Value::Text(t) => unescape(&t.value),
        _ => String::new(),
    };
    let why: &str = match f.kind {
        FilterKind::Is => match value.as_str() {
            "linked" | "unlinked" => {
                "links to issue trackers are not sent in webhooks; look at the issue in Sentry"
            }
            "bookmarked" | "subscribed" | "unsubscribed" => {
                "bookmarks and subscriptions belong to Sentry users, and webhooks do not say whose they are"
            }
            _ => return None,
        },
        FilterKind::Has => match keys::lookup(&value).map(|d| d.source) {
            Some(Source::Never(why)) => why,
            _ => return None,
        },
        FilterKind::Text | FilterKind::TextIn => match def_of(&f.key) {
            Some(KeyDef {
                source: Source::Never(why),
                ..
            }) => why,
            Some(def) if def.name == "assigned" && matches!(value.as_str(), "me" | "my_teams") => {
                "the local index does not know who is asking; use assigned:<email> or assigned:none instead"
            }
            _ => return None,
        },
        _ => return None,
    };
    Some(format!(
        "`{}` cannot be answered here, so it matched nothing: {why}.",
        describe(f)
    ))
}

/// A filter as a user would write it.
fn describe(f: &Filter) -> String {
    let value = match &f.value {
        Value::Text(t) => t.value.clone(),
        Value::TextList(items) => format!(
            "[{}]",
            items
                .iter()
                .map(|t| t.value.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
        _ => String::new(),
    };
    let key = match f.kind {
        FilterKind::Is => "is".to_owned(),
        FilterKind::Has => "has".to_owned(),
        _ => f.key.name(),
    };
    format!("{}{key}:{value}", if f.negated { "!" } else { "" })
}

/// Notes to show beside the results: filters the index cannot answer (and so matched
/// nothing) and filters it answers only approximately.
pub fn notes(tokens: &[Token]) -> Vec<String> {
    let mut out = Vec::new();
    for token in tokens {
        match token {
            Token::Group { inner, .. } => out.extend(notes(inner)),
            Token::Filter(f) => {
                let note = never_answered(f).or_else(|| {
                    (f.kind == FilterKind::Is
                        && matches!(&f.value, Value::Text(t) if t.value == "for_review"))
                    .then(|| {
                        "`is:for_review` is approximated as unresolved issues that are new or regressed \
                         (Sentry's review inbox state is not sent in webhooks)."
                            .to_owned()
                    })
                });
                if let Some(note) = note
                    && !out.contains(&note)
                {
                    out.push(note);
                }
            }
            _ => {}
        }
    }
    out
}

fn text_match(
    target: Target,
    key: &str,
    v: &TextValue,
    ctx: &PlanContext,
    projects: &[String],
    at: usize,
) -> Result<Q, QueryError> {
    let f = ctx.fields;
    let text = unescape(&v.value);
    let pattern = wildcard_regex(&v.value);
    if let Some(p) = &pattern {
        charge(wildcards(p), at)?;
    }
    Ok(match target {
        Target::Exact(field) if field == f.release && text == "latest" => {
            match latest_release(ctx, projects) {
                Some(release) => exact(field, &release),
                None => Box::new(EmptyQuery),
            }
        }
        Target::Exact(field)
            if field == f.assignee && (text == "none" || text == "me" || text == "my_teams") =>
        {
            if text != "none" {
                return Err(QueryError::new(
                    at,
                    format!("`{key}:{text}` needs to know who you are; use {key}:<email> instead"),
                ));
            }
            not(exists(f, field))
        }
        Target::Exact(field) => match pattern {
            Some(p) => regex(field, &p, at)?,
            None => exact(field, &text),
        },
        Target::Tag => match pattern {
            Some(p) => regex(f.tag, &format!("{}={p}", regex_escape(key)), at)?,
            None => exact(f.tag, &tag_term(key, &text)),
        },
        Target::Prose(field) => prose(ctx.index, field, &text, pattern.is_some(), at)?,
        Target::ProseAny(fields) => {
            let mut parts = Vec::new();
            for field in fields {
                parts.push(prose(ctx.index, field(f), &text, pattern.is_some(), at)?);
            }
            any_of(parts)
        }
        Target::Date(_) | Target::Count(_) => {
            return Err(QueryError::new(
                at,
                format!("`{key}` needs a date or a number, got \"{text}\""),
            ));
        }
        Target::Flag(_) | Target::Handled { .. } => {
            return Err(QueryError::new(
                at,
                format!("`{key}` needs true or false, got \"{text}\""),
            ));
        }
        // Planned before text matching.
        Target::Release(_) | Target::Never => Box::new(EmptyQuery),
    })
}

fn is_filter(f: &Filter, ctx: &PlanContext) -> Result<Q, QueryError> {
    let fields = ctx.fields;
    let values: Vec<String> = match &f.value {
        Value::Text(t) => vec![unescape(&t.value)],
        Value::TextList(items) => items.iter().map(|t| unescape(&t.value)).collect(),
        _ => return Err(QueryError::new(f.span.start, "expected a status after is:")),
    };
    let mut parts = Vec::new();
    for value in values {
        if value.starts_with('[') {
            return Err(QueryError::new(
                f.span.start,
                "`is:` takes one value, as in Sentry; for several statuses use \
                 status:[unresolved, resolved] (or substatus:[...])",
            ));
        }
        parts.push(match value.as_str() {
            "unresolved" | "resolved" | "ignored" => exact(fields.status, &value),
            "archived" | "muted" => exact(fields.status, "ignored"),
            "assigned" => exists(fields, fields.assignee),
            "unassigned" => not(exists(fields, fields.assignee)),
            "escalating"
            | "ongoing"
            | "regressed"
            | "new"
            | "archived_until_escalating"
            | "archived_until_condition_met"
            | "archived_forever" => exact(fields.substatus, &value),
            "for_review" => Box::new(BooleanQuery::new(vec![
                (Occur::Must, exact(fields.status, "unresolved")),
                (
                    Occur::Must,
                    any_of(vec![
                        exact(fields.substatus, "new"),
                        exact(fields.substatus, "regressed"),
                    ]),
                ),
            ])),
            other => {
                let mut message = format!(
                    "unknown is: value \"{other}\"; expected one of {}",
                    IS_VALUES.join(", ")
                );
                if let Some(s) = keys::closest(other, IS_VALUES.iter().copied()) {
                    message.push_str(&format!(" (did you mean `is:{s}`?)"));
                }
                return Err(QueryError::new(f.span.start, message));
            }
        });
    }
    Ok(any_of(parts))
}

/// The values `is:` takes (some only to say why they cannot be answered).
const IS_VALUES: &[&str] = &[
    "unresolved",
    "resolved",
    "ignored",
    "archived",
    "assigned",
    "unassigned",
    "for_review",
    "escalating",
    "ongoing",
    "regressed",
    "new",
    "archived_until_escalating",
    "archived_until_condition_met",
    "archived_forever",
    "linked",
    "unlinked",
    "bookmarked",
    "subscribed",
];

fn has_filter(f: &Filter, ctx: &PlanContext) -> Result<Q, QueryError> {
    let Value::Text(v) = &f.value else {
        return Err(QueryError::new(f.span.start, "expected a key after has:"));
    };
    let key = unescape(&v.value);
    let at = f.span.start;
    charge(1, at)?;
    let simple = Key::Simple {
        name: key.clone(),
        quoted: false,
    };
    let fields = ctx.fields;
    // Events name their user in `user` (and `user.*` tags); issues only count them.
    if key == "user" {
        return Ok(any_of(vec![
            exists(fields, fields.user),
            count_range(fields.user_count, fields, Operator::Gte, 1.0),
        ]));
    }
    Ok(match target_for(&simple, fields, at)? {
        Target::Exact(field) if is_fast(fields, field) => exists(fields, field),
        Target::Exact(field) | Target::Prose(field) | Target::Flag(field) => {
            regex(field, ".*", at)?
        }
        Target::ProseAny(list) => any_of(
            list.iter()
                .map(|field| regex(field(fields), ".*", at))
                .collect::<Result<_, _>>()?,
        ),
        Target::Date(field) => exists(fields, field),
        // Counts are 0 when Sentry sent none: "has" means at least one.
        Target::Count(field) => count_range(field, fields, Operator::Gte, 1.0),
        Target::Handled { .. } => regex(fields.tag, "handled=.*", at)?,
        Target::Release(_) => exists(fields, fields.release),
        Target::Tag => regex(fields.tag, &format!("{}=.*", regex_escape(&key)), at)?,
        Target::Never => Box::new(EmptyQuery),
    })
}

fn numeric_filter(f: &Filter, ctx: &PlanContext, at: usize) -> Result<Q, QueryError> {
    let key = f.key.name();
    let field = match target_for(&f.key, ctx.fields, at)? {
        Target::Count(field) => field,
        Target::Tag => {
            // A number on a tag is compared as text, as Sentry does for unknown keys.
            let raw = match &f.value {
                Value::Number(n) => vec![n.raw.clone() + n.unit.as_deref().unwrap_or("")],
                Value::NumberList(items) => items
                    .iter()
                    .map(|n| n.raw.clone() + n.unit.as_deref().unwrap_or(""))
                    .collect(),
                _ => Vec::new(),
            };
            return Ok(any_of(
                raw.iter()
                    .map(|r| exact(ctx.fields.tag, &tag_term(&key, r)))
                    .collect(),
            ));
        }
        _ => {
            return Err(QueryError::new(
                at,
                format!(
                    "`{key}` is not a numeric key; numeric keys are {}",
                    keys::spellings_of(ValueType::Number)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        }
    };
    let numbers: Vec<f64> = match &f.value {
        Value::Number(n) => vec![n.value],
        Value::NumberList(items) => items.iter().map(|n| n.value).collect(),
        _ => {
            return Err(QueryError::new(
                at,
                format!("expected a number for `{key}`"),
            ));
        }
    };
    let op = f.operator;
    Ok(any_of(
        numbers
            .into_iter()
            .map(|n| count_range(field, ctx.fields, op, n))
            .collect(),
    ))
}

/// `field <op> n` on a u64 field, with fractional bounds rounded the right way.
fn count_range(field: Field, fields: &Fields, op: Operator, n: f64) -> Q {
    let term = |v: f64| v.clamp(0.0, u64::MAX as f64) as u64;
    let (lo, hi) = match op {
        Operator::Gt => (Bound::Excluded(term(n.floor())), Bound::Unbounded),
        Operator::Gte => (Bound::Included(term(n.ceil())), Bound::Unbounded),
        Operator::Lt if n <= 0.0 => return Box::new(EmptyQuery),
        Operator::Lt => (Bound::Unbounded, Bound::Excluded(term(n.ceil()))),
        Operator::Lte if n < 0.0 => return Box::new(EmptyQuery),
        Operator::Lte => (Bound::Unbounded, Bound::Included(term(n.floor()))),
        _ if n < 0.0 || n.fract() != 0.0 => return Box::new(EmptyQuery),
        _ => (Bound::Included(term(n)), Bound::Included(term(n))),
    };
    crate::range::fast_range(fields.schema.get_field_name(field), lo, hi)
}

fn date_filter(f: &Filter, ctx: &PlanContext, at: usize) -> Result<Q, QueryError> {
    let key = f.key.name();
    let field = match target_for(&f.key, ctx.fields, at)? {
        Target::Date(field) => field,
        _ => {
            return Err(QueryError::new(
                at,
                format!(
                    "`{key}` is not a date key; date keys are {}",
                    keys::spellings_of(ValueType::Date)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        }
    };
    let (lo, hi) = match (&f.value, f.kind) {
        (Value::RelativeDate { sign, value, .. }, _) => {
            // `-24h`: within the last 24 h; `+7d`: older than 7 days. An operator flips it.
            let within = (*sign == '-') ^ matches!(f.operator, Operator::Lt | Operator::Lte);
            if within {
                (Some(*value), None)
            } else {
                (None, Some(*value))
            }
        }
        (
            Value::IsoDate {
                value, has_time, ..
            },
            FilterKind::SpecificDate,
        )
        | (
            Value::IsoDate {
                value, has_time, ..
            },
            _,
        ) if f.operator == Operator::Default
            || f.operator == Operator::Eq
            || f.operator == Operator::Ne =>
        {
            if *has_time {
                // A time means "about then", as in Sentry.
                let slack = Duration::try_minutes(5).unwrap_or_default();
                (
                    value.checked_sub_signed(slack),
                    value.checked_add_signed(slack),
                )
            } else {
                let day = Duration::try_days(1).unwrap_or_default();
                (Some(*value), value.checked_add_signed(day))
            }
        }
        (Value::IsoDate { value, .. }, _) => match f.operator {
            Operator::Gt | Operator::Gte => (Some(*value), None),
            _ => (None, Some(*value)),
        },
        _ => {
            return Err(QueryError::new(
                at,
                format!("expected a date for `{key}`, like -24h or 2024-01-31"),
            ));
        }
    };
    let bound = |t: Option<DateTime<Utc>>, inclusive: bool| match t {
        None => Bound::Unbounded,
        Some(t) if inclusive => Bound::Included(date_for_search(t)),
        Some(t) => Bound::Excluded(date_for_search(t)),
    };
    let exclusive_hi = f.operator == Operator::Lt
        || (f.operator != Operator::Lte && f.kind == FilterKind::SpecificDate);
    let exclusive_lo = f.operator == Operator::Gt;
    Ok(crate::range::fast_range(
        ctx.fields.schema.get_field_name(field),
        bound(lo, !exclusive_lo),
        bound(hi, !exclusive_hi),
    ))
}

fn boolean_filter(f: &Filter, ctx: &PlanContext, at: usize) -> Result<Q, QueryError> {
    let Value::Boolean { value, .. } = &f.value else {
        return Err(QueryError::new(at, "expected true or false"));
    };
    Ok(match target_for(&f.key, ctx.fields, at)? {
        Target::Flag(field) => exact(field, if *value { "true" } else { "false" }),
        // Events carry Sentry's `handled` tag (`yes`/`no`).
        Target::Handled { inverted } => exact(
            ctx.fields.tag,
            &tag_term("handled", if *value ^ inverted { "yes" } else { "no" }),
        ),
        _ => {
            return Err(QueryError::new(
                at,
                format!(
                    "`{}` is not indexed locally; boolean keys here are {}",
                    f.key.name(),
                    keys::spellings_of(ValueType::Boolean)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        }
    })
}

/// Releases whose `part` compares to one of `values` as `op` says (`release.version:>7.8`
/// in semver order), as a query on the release field.
fn release_filter(
    part: ReleasePart,
    op: Operator,
    values: &[TextValue],
    ctx: &PlanContext,
    at: usize,
) -> Result<Q, QueryError> {
    let field = ctx.fields.release;
    let mut matching = Vec::new();
    for release in field_terms(ctx, field) {
        let parsed = super::release::Release::parse(&release);
        let Some(got) = parsed.part(part) else {
            continue;
        };
        let mut any = false;
        for v in values {
            if super::release::compare(got, op, &v.value).map_err(|e| QueryError::new(at, e))? {
                any = true;
                break;
            }
        }
        if any {
            matching.push(exact(field, &release));
        }
    }
    Ok(any_of(matching))
}

/// Every value indexed in a raw-tokenized field.
fn field_terms(ctx: &PlanContext, field: Field) -> std::collections::BTreeSet<String> {
    let mut out = std::collections::BTreeSet::new();
    for segment in ctx.searcher.segment_readers() {
        let Ok(inverted) = segment.inverted_index(field) else {
            continue;
        };
        let Ok(mut stream) = inverted.terms().stream() else {
            continue;
        };
        while stream.advance() {
            if let Ok(term) = std::str::from_utf8(stream.key()) {
                out.insert(term.to_owned());
            }
        }
    }
    out
}

/// Free text: every word must appear in the document's prose; quoted text is a phrase.
/// A trailing `*` on a word matches prefixes. With several prose fields in scope (issues
/// and events), a document matches in its own one.
fn free_text(value: &str, quoted: bool, at: usize, ctx: &PlanContext) -> Result<Q, QueryError> {
    let text = if quoted {
        unescape(value)
    } else {
        value.trim().to_owned()
    };
    if !quoted {
        if text.split_whitespace().next().is_none() {
            return Ok(Box::new(AllQuery));
        }
        for word in text.split_whitespace() {
            charge(word.matches('*').count(), at)?;
        }
    }
    let mut each = Vec::with_capacity(ctx.text_fields.len());
    for &field in &ctx.text_fields {
        each.push(free_text_in(field, &text, quoted, at, ctx)?);
    }
    Ok(match each.len() {
        1 => each.remove(0),
        _ => Box::new(BooleanQuery::new(
            each.into_iter().map(|q| (Occur::Should, q)).collect(),
        )),
    })
}

/// [`free_text`] in one prose field.
fn free_text_in(
    field: Field,
    text: &str,
    quoted: bool,
    at: usize,
    ctx: &PlanContext,
) -> Result<Q, QueryError> {
    if quoted {
        return prose(ctx.index, field, text, false, at);
    }
    let mut words = Vec::new();
    for word in text.split_whitespace() {
        words.push((
            Occur::Must,
            prose(ctx.index, field, word, word.contains('*'), at)?,
        ));
    }
    Ok(match words.len() {
        1 => words.remove(0).1,
        _ => Box::new(BooleanQuery::new(words)),
    })
}

/// Words of `text` in a tokenized field, in order. With `wildcard`, each word with `*`
/// becomes a regex over single terms (so `time*` finds `timeout`).
fn prose(
    index: &Index,
    field: Field,
    text: &str,
    wildcard: bool,
    at: usize,
) -> Result<Q, QueryError> {
    if wildcard {
        let mut parts = Vec::new();
        for word in text.split_whitespace() {
            let pattern = word
                .split('*')
                .map(|piece| tokens(index, field, piece).join(" "))
                .map(|piece| regex_escape(&piece))
                .collect::<Vec<_>>()
                .join(".*");
            if pattern.chars().all(|c| c == '.' || c == '*') {
                continue;
            }
            parts.push((Occur::Must, regex(field, &pattern, at)?));
        }
        return Ok(if parts.is_empty() {
            Box::new(AllQuery)
        } else {
            Box::new(BooleanQuery::new(parts))
        });
    }
    let mut terms: Vec<Term> = tokens(index, field, text)
        .iter()
        .map(|t| Term::from_field_text(field, t))
        .collect();
    Ok(match terms.len() {
        // Nothing searchable (punctuation only): match nothing rather than everything.
        0 => Box::new(EmptyQuery),
        1 => Box::new(TermQuery::new(
            terms.remove(0),
            IndexRecordOption::WithFreqs,
        )),
        _ => Box::new(PhraseQuery::new(terms)),
    })
}

fn tokens(index: &Index, field: Field, text: &str) -> Vec<String> {
    let Ok(mut tokenizer) = index.tokenizer_for_field(field) else {
        return Vec::new();
    };
    let mut stream = tokenizer.token_stream(text);
    let mut out = Vec::new();
    while let Some(token) = stream.next() {
        out.push(token.text.clone());
    }
    out
}

/// The release of the newest event, within `projects` when the query names some.
fn latest_release(ctx: &PlanContext, projects: &[String]) -> Option<String> {
    let f = ctx.fields;
    let mut clauses: Vec<(Occur, Q)> = vec![
        (Occur::Must, exists(f, f.release)),
        (Occur::Must, exact(f.kind, "event")),
    ];
    if !projects.is_empty() {
        clauses.push((
            Occur::Must,
            any_of(projects.iter().map(|p| exact(f.project, p)).collect()),
        ));
    }
    let query = BooleanQuery::new(clauses);
    let top =
        TopDocs::with_limit(1).order_by_fast_field::<tantivy::DateTime>("timestamp", Order::Desc);
    let (_, addr) = ctx.searcher.search(&query, &top).ok()?.into_iter().next()?;
    crate::reader::load_doc(ctx.searcher, f, addr).ok()?.release
}

fn exact(field: Field, value: &str) -> Q {
    crate::term_filter::term_filter(Term::from_field_text(field, value))
}

/// Count `n` more wildcards of the query being planned (see [`MAX_WILDCARDS`]).
fn charge(n: usize, at: usize) -> Result<(), QueryError> {
    let planned = WILDCARDS.with(|count| {
        count.set(count.get() + n);
        count.get()
    });
    if planned > MAX_WILDCARDS {
        return Err(QueryError::new(
            at,
            format!("too many wildcards: at most {MAX_WILDCARDS} `*` (or `has:`) in one query"),
        ));
    }
    Ok(())
}

fn regex(field: Field, pattern: &str, at: usize) -> Result<Q, QueryError> {
    RegexQuery::from_pattern(pattern, field)
        .map(|q| Box::new(q) as Q)
        .map_err(|e| QueryError::new(at, format!("wildcard pattern is too complex: {e}")))
}

/// The `.*` of a pattern made by [`wildcard_regex`] or [`prose`] (escaped `\.\*` aside).
fn wildcards(pattern: &str) -> usize {
    let mut count = 0;
    let mut chars = pattern.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                chars.next();
            }
            '.' if chars.peek() == Some(&'*') => count += 1,
            _ => {}
        }
    }
    count
}

fn exists(fields: &Fields, field: Field) -> Q {
    Box::new(ExistsQuery::new(
        fields.schema.get_field_name(field).to_owned(),
        false,
    ))
}

fn is_fast(fields: &Fields, field: Field) -> bool {
    fields.schema.get_field_entry(field).is_fast()
}

fn not(q: Q) -> Q {
    Box::new(BooleanQuery::new(vec![
        (Occur::Must, Box::new(AllQuery) as Q),
        (Occur::MustNot, q),
    ]))
}

fn any_of(mut parts: Vec<Q>) -> Q {
    match parts.len() {
        0 => Box::new(EmptyQuery),
        1 => parts.remove(0),
        _ => Box::new(BooleanQuery::new(
            parts.into_iter().map(|q| (Occur::Should, q)).collect(),
        )),
    }
}

/// A value as written, without its escapes (`\"` -> `"`, `\*` -> `*`).
pub fn unescape(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(next) = chars.next() {
                out.push(next);
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// The regex for a value with unescaped `*` wildcards, or `None` when it has none.
pub fn wildcard_regex(raw: &str) -> Option<String> {
    let mut out = String::new();
    let mut wild = false;
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let Some(next) = chars.next() {
                    out.push_str(&regex_escape(&next.to_string()));
                }
            }
            '*' => {
                wild = true;
                out.push_str(".*");
            }
            c => out.push_str(&regex_escape(&c.to_string())),
        }
    }
    wild.then_some(out)
}

fn regex_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        // regex-syntax's meta characters; escaping others (`<`, `>`) changes their meaning.
        if "\\.+*?()|[]{}^$#&-~".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Tags Sentry sets on most events: not index fields, but not typos either.
const COMMON_TAGS: &[&str] = &[
    "browser",
    "browser.name",
    "os",
    "os.name",
    "device",
    "user",
    "user.email",
    "user.id",
    "user.ip",
    "user.username",
    "url",
    "handled",
    "mechanism",
    "server_name",
    "runtime",
    "customer",
    "resolution_type",
    "resource",
    "event.type",
];

/// Simple keys in `tokens` that are not index fields and so are searched as tags, each
/// with the known key it most likely meant (for a hint when nothing matched). `has:x`
/// names its key `x`; `is:` is a known key.
pub fn unknown_keys(tokens: &[Token], fields: &Fields) -> Vec<(String, Option<&'static str>)> {
    let mut out = Vec::new();
    for token in tokens {
        match token {
            Token::Group { inner, .. } => out.extend(unknown_keys(inner, fields)),
            Token::Filter(f) => {
                let name = match (&f.kind, &f.key, &f.value) {
                    (FilterKind::Is, ..) => continue,
                    (FilterKind::Has, _, Value::Text(t)) => unescape(&t.value),
                    (FilterKind::Has, ..) => continue,
                    (_, Key::Simple { name, .. }, _) => name.clone(),
                    _ => continue,
                };
                let key = Key::Simple {
                    name: name.clone(),
                    quoted: false,
                };
                let tag = matches!(target_for(&key, fields, 0), Ok(Target::Tag))
                    && keys::lookup(&name).is_none();
                if tag
                    && !COMMON_TAGS.contains(&name.as_str())
                    && !out.iter().any(|(n, _)| *n == name)
                {
                    out.push((name.clone(), keys::closest_key(&name)));
                }
            }
            _ => {}
        }
    }
    out
}

/// Values of keys with usual values (`level`, `status`, ...) that are not among them, each
/// with the key, its usual values and the one it most likely meant.
pub fn unusual_values(
    tokens: &[Token],
) -> Vec<(
    String,
    String,
    &'static [&'static str],
    Option<&'static str>,
)> {
    let mut out = Vec::new();
    for token in tokens {
        match token {
            Token::Group { inner, .. } => out.extend(unusual_values(inner)),
            Token::Filter(f) => {
                let Some(KeyDef {
                    values: Values::Usual(usual),
                    name,
                    ..
                }) = def_of(&f.key)
                else {
                    continue;
                };
                let values = match &f.value {
                    Value::Text(t) => vec![t.clone()],
                    Value::TextList(items) => items.clone(),
                    _ => continue,
                };
                for v in values {
                    let text = unescape(&v.value);
                    if wildcard_regex(&v.value).is_none() && !usual.contains(&text.as_str()) {
                        let closest = keys::closest(&text, usual.iter().copied());
                        out.push((name.to_string(), text, *usual, closest));
                    }
                }
            }
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::parse::{ParseOptions, parse};

    /// A small real index (generated documents) and the instant they lead up to.
    fn small_index() -> (
        tempfile::TempDir,
        crate::IndexReader,
        chrono::DateTime<chrono::Utc>,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let mut writer =
            crate::IndexWriter::open(dir.path(), &crate::WriterOptions::default()).unwrap();
        let now = chrono::Utc::now();
        let spec = crate::synth::SynthSpec {
            events: 60,
            issues: 6,
            span: chrono::Duration::days(1),
            now,
            seed: 3,
        };
        for changes in crate::synth::generate(&spec) {
            writer.apply_all(changes).unwrap();
        }
        writer.commit(Some(1)).unwrap();
        let reader = writer.reader();
        (dir, reader, now)
    }

    fn search(
        reader: &crate::IndexReader,
        query: String,
        now: chrono::DateTime<chrono::Utc>,
    ) -> crate::Result<crate::SearchPage> {
        let request = crate::SearchRequest {
            query,
            mode: QueryMode::Events,
            limit: 5,
            ..Default::default()
        };
        reader.search_page(&request, now)
    }

    /// Found by `fuzz/fuzz_targets/query.rs` (`fuzz/regressions/query/deep-nesting`): 2,000
    /// levels of parentheses (4 KB) parsed, and then overflowed the stack in tantivy's
    /// scorer, which aborts the process; tool calls run on 2 MiB threads like this one.
    #[test]
    fn deep_nesting_is_refused_before_it_can_overflow_a_tool_threads_stack() {
        let (_dir, reader, now) = small_index();
        std::thread::Builder::new()
            .stack_size(2 * 1024 * 1024)
            .spawn(move || {
                let deep = "(".repeat(2_000) + "a" + &")".repeat(2_000);
                match search(&reader, deep, now) {
                    Err(crate::IndexError::Query(e)) => {
                        assert!(e.message.contains("levels of nested parentheses"), "{e}");
                        assert_eq!(e.position, crate::query::parse::MAX_NESTING);
                    }
                    other => panic!("{:?}", other.map(|p| p.total)),
                }
                let n = crate::query::parse::MAX_NESTING;
                let deepest = "(".repeat(n) + "level:error" + &")".repeat(n);
                search(&reader, deepest, now).unwrap();
            })
            .unwrap()
            .join()
            .unwrap();
    }

    /// Found by `fuzz/fuzz_targets/query.rs` (`fuzz/regressions/query/many-wildcards`):
    /// every wildcard is a regex automaton; 800 `message:*x*` filters in a 10 KB query took
    /// 2 s and 300 MB on the 1M-event index, `message:*a*a*a...` grows faster still.
    #[test]
    fn wildcards_are_bounded_per_query() {
        let (_dir, reader, now) = small_index();
        let filters = |n: usize| {
            (0..n)
                .map(|i| format!("message:*a{i}*"))
                .collect::<Vec<_>>()
                .join(" ")
        };
        search(&reader, filters(MAX_WILDCARDS / 2), now).unwrap();
        for query in [
            filters(MAX_WILDCARDS / 2 + 1),
            filters(800),
            format!("message:{}", "*a".repeat(MAX_WILDCARDS + 1)),
            (0..=MAX_WILDCARDS).map(|i| format!("has:k{i} ")).collect(),
        ] {
            match search(&reader, query.clone(), now) {
                Err(crate::IndexError::Query(e)) => {
                    assert!(e.message.contains("too many wildcards"), "{e}")
                }
                other => panic!("{query}: {:?}", other.map(|p| p.total)),
            }
        }
        // Escaped `*` are literal, not wildcards.
        assert_eq!(wildcards(r"\.\*a.*b"), 1);
        assert_eq!(wildcards(r"\\.*"), 1);
    }

    #[test]
    fn every_known_key_maps_to_its_source() {
        let fields = Fields::new();
        for def in keys::KEYS {
            for name in def.spellings() {
                let k = Key::Simple {
                    name: name.into(),
                    quoted: false,
                };
                let target = target_for(&k, &fields, 0).unwrap();
                let tag = matches!(target, Target::Tag);
                assert_eq!(tag, matches!(def.source, Source::Tag), "{name}: {target:?}");
            }
        }
    }

    #[test]
    fn typos_get_a_suggestion_and_tags_do_not() {
        let fields = Fields::new();
        let tokens = parse(
            "levle:error browser.name:Firefox enviroment:prod lastseen:-1h customer:acme zzz:1",
            &ParseOptions::for_index(chrono::Utc::now()),
        )
        .unwrap();
        let unknown = unknown_keys(&tokens, &fields);
        assert_eq!(
            unknown,
            vec![
                ("levle".into(), Some("level")),
                ("enviroment".into(), Some("environment")),
                ("lastseen".into(), Some("lastSeen")),
                ("zzz".into(), None)
            ]
        );
    }
}
