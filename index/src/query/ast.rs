//! The parse tree of Sentry's search syntax. Rich enough to be checked against Sentry's
//! own parser fixtures (`shared/fixtures/search-syntax`), and what the planner consumes.
//!
//! Positions are character offsets into the query string.

use chrono::{DateTime, Utc};

/// A half-open range of character offsets `[start, end)` in the query.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}

/// One top-level element of a query (the fixtures' `result` minus `spaces` tokens).
#[derive(Debug, Clone, PartialEq)]
pub enum Token {
    /// Free text. Unquoted runs keep their inner spacing as the fixtures do (`"hello "`);
    /// use [`Token::free_text`] for the text to search. `invalid` is set when the options
    /// refuse it (e.g. a `*` with `disallow_wildcard`), as Sentry keeps such tokens.
    FreeText {
        value: String,
        quoted: bool,
        span: Span,
        invalid: Option<Invalid>,
    },
    Filter(Filter),
    /// `AND` / `OR` between terms (event search only; issue search refuses them).
    Boolean {
        op: BoolOp,
        span: Span,
    },
    /// A parenthesised group.
    Group {
        inner: Vec<Token>,
        span: Span,
    },
}

impl Token {
    /// The words to search for, for a free-text token (outer spacing trimmed).
    pub fn free_text(&self) -> Option<&str> {
        match self {
            Token::FreeText { value, .. } => Some(value.trim()),
            _ => None,
        }
    }

    pub fn span(&self) -> Span {
        match self {
            Token::FreeText { span, .. }
            | Token::Boolean { span, .. }
            | Token::Group { span, .. } => *span,
            Token::Filter(f) => f.span,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BoolOp {
    And,
    Or,
}

/// What kind of filter the parser recognised; depends on the key's configured type as
/// well as on the syntax (an invalid date on a text key is a text filter).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FilterKind {
    Text,
    TextIn,
    Has,
    Is,
    Boolean,
    Numeric,
    NumericIn,
    Date,
    SpecificDate,
    RelativeDate,
    Duration,
    Size,
    Percentage,
    AggregateNumeric,
    AggregateDuration,
    AggregateDate,
    AggregateRelativeDate,
    AggregatePercentage,
    AggregateSize,
    /// An aggregate key whose value fits none of the typed aggregate filters; always
    /// `invalid` ("Aggregate filter is incomplete.").
    AggregateGeneric,
    /// A single value matched against an array attribute (`tags[x,array][*]:v`, `x[*]:v`);
    /// the key is a [`Key::ArrayIncludes`].
    ArrayIncludes,
}

/// `key:value`, possibly negated (`!key:value`), with an optional comparison operator.
#[derive(Debug, Clone, PartialEq)]
pub struct Filter {
    pub kind: FilterKind,
    pub negated: bool,
    pub key: Key,
    pub operator: Operator,
    pub value: Value,
    /// Set when the syntax parsed but the value does not fit the key (Sentry keeps these in
    /// the tree; the planner turns them into errors).
    pub invalid: Option<Invalid>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    /// Sentry's `invalid.type`, e.g. `invalid-boolean`, when known.
    pub kind: Option<String>,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Key {
    /// `level`, `user.email`, or a quoted key `"a:b"`.
    Simple { name: String, quoted: bool },
    /// `tags[customer]` (or `flags[...]`). `tag_type` is the declared type of a typed tag
    /// (`tags[foo,number]` -> `number`; also `string`, `boolean`, `array`); such filters
    /// stay text filters, as in Sentry.
    ExplicitTag {
        prefix: String,
        key: String,
        tag_type: Option<String>,
    },
    /// `count()`, `p95(transaction.duration)`.
    /// A missing argument (`percentile(x,)`) is an empty string (and the filter is invalid).
    /// Quoted arguments keep their quotes (`"a,b"`).
    Aggregate { name: String, args: Vec<String> },
    /// Array membership: `tags[fruit,array][*]`, `tags[fruit[*],array]` or `foo[*]`.
    /// `index` is `*`.
    ArrayIncludes { key: Box<Key>, index: String },
}

impl Key {
    /// The key as a user would name it (`tags[x]` -> `x`, aggregates rendered back).
    pub fn name(&self) -> String {
        match self {
            Key::Simple { name, .. } => name.clone(),
            Key::ExplicitTag { key, .. } => key.clone(),
            Key::Aggregate { name, args } => format!("{name}({})", args.join(", ")),
            Key::ArrayIncludes { key, .. } => key.name(),
        }
    }
}

/// The operator between key and value. `Default` is a plain `:`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Operator {
    #[default]
    Default,
    Gt,
    Gte,
    Lt,
    Lte,
    Eq,
    Ne,
    /// `key:\u{F00D}Contains\u{F00D}value`: the value anywhere in the field.
    Contains,
    /// `key:\u{F00D}starts with\u{F00D}value`.
    StartsWith,
    /// `key:\u{F00D}ends with\u{F00D}value`.
    EndsWith,
    /// `key:\u{F00D}Matches\u{F00D}pattern`.
    Matches,
    /// `key://pattern//` (only with `ParseOptions::allow_regex`): the value is a regex.
    Regex,
}

impl Operator {
    /// As written in the fixtures: `""`, `">"`, `">="`, ...
    pub fn as_str(self) -> &'static str {
        match self {
            Operator::Default => "",
            Operator::Gt => ">",
            Operator::Gte => ">=",
            Operator::Lt => "<",
            Operator::Lte => "<=",
            Operator::Eq => "=",
            Operator::Ne => "!=",
            Operator::Contains => "\u{F00D}Contains\u{F00D}",
            Operator::StartsWith => "\u{F00D}starts with\u{F00D}",
            Operator::EndsWith => "\u{F00D}ends with\u{F00D}",
            Operator::Matches => "\u{F00D}Matches\u{F00D}",
            Operator::Regex => "//",
        }
    }
}

/// A text value as written. `value` keeps escapes (`\"`, `\*`) exactly as the fixtures do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextValue {
    pub value: String,
    pub quoted: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct NumberValue {
    /// As written, without the unit suffix (`"1.5"` of `1.5k`). Empty for a missing list
    /// item (`[1,]`, whose filter is then invalid).
    pub raw: String,
    /// `k`, `m` or `b`.
    pub unit: Option<String>,
    /// With the unit applied (`1500.0`).
    pub value: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Text(TextValue),
    /// A missing item (`[a,]`, whose filter is then invalid) is an empty unquoted value.
    TextList(Vec<TextValue>),
    Number(NumberValue),
    NumberList(Vec<NumberValue>),
    Boolean {
        raw: String,
        value: bool,
    },
    /// `2024-01-01` or a full datetime; `has_time` is false for a bare day.
    IsoDate {
        raw: String,
        value: DateTime<Utc>,
        has_time: bool,
    },
    /// `-24h` (within the last 24 h) or `+7d` (older than 7 days), resolved against "now".
    /// `value` is the cutoff, now minus the amount for either sign: `-24h` matches times at
    /// or after it, `+7d` times at or before it (as Sentry's backend reads them; Sentry's
    /// frontend displays `+7d` as now plus 7 days instead).
    RelativeDate {
        raw: String,
        sign: char,
        amount: i64,
        unit: char,
        value: DateTime<Utc>,
    },
    /// `500ms`, `1.5s`, `2h`: in milliseconds.
    Duration {
        raw: String,
        unit: String,
        millis: f64,
    },
    /// `10kb`: in bytes.
    Size {
        raw: String,
        unit: String,
        bytes: f64,
    },
    /// `50%`: as a fraction (0.5).
    Percentage {
        raw: String,
        value: f64,
    },
}
