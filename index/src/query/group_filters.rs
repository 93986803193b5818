//! Aggregate filters on groups of events (`count():>10`, `count_unique(user):>5`,
//! `epm():>1`, `last_seen():-1h`): split from the event filters of a parsed query, so the
//! events are searched with the rest and each group is then kept or dropped by these.

use chrono::{DateTime, Utc};

use super::QueryError;
use super::ast::{BoolOp, Filter, FilterKind, Key, Operator, Token, Value};

/// What an aggregate filter measures on a group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Measure {
    /// `count()`: matching events.
    Count,
    /// `count_unique(user)`: distinct users among them.
    Users,
    /// `epm()` / `eps()`: events per minute / second over the window.
    PerMinute,
    PerSecond,
    /// `last_seen()` / `max(timestamp)`.
    LastSeen,
    /// `min(timestamp)`.
    FirstSeen,
}

/// What a group is compared with.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Threshold {
    Number(f64),
    /// At or after (`after`) or at or before the instant.
    Time {
        at: DateTime<Utc>,
        after: bool,
    },
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GroupFilter {
    pub measure: Measure,
    pub op: Operator,
    pub threshold: Threshold,
    pub negated: bool,
}

/// The numbers of one group that filters compare.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GroupStats {
    pub count: u64,
    pub users: u64,
    pub first_seen: Option<DateTime<Utc>>,
    pub last_seen: Option<DateTime<Utc>>,
}

impl GroupFilter {
    /// Whether a group with `stats`, over a window of `minutes`, passes.
    pub fn keeps(&self, stats: &GroupStats, minutes: f64) -> bool {
        let number = |n: f64| match self.threshold {
            Threshold::Number(t) => compare(n, self.op, t),
            Threshold::Time { .. } => false,
        };
        let time = |t: Option<DateTime<Utc>>| match (self.threshold, t) {
            (Threshold::Time { at, after }, Some(t)) => {
                if after {
                    t >= at
                } else {
                    t <= at
                }
            }
            (Threshold::Number(_), _) | (_, None) => false,
        };
        let keep = match self.measure {
            Measure::Count => number(stats.count as f64),
            Measure::Users => number(stats.users as f64),
            Measure::PerMinute => number(stats.count as f64 / minutes.max(1.0 / 60.0)),
            Measure::PerSecond => number(stats.count as f64 / (minutes * 60.0).max(1.0)),
            Measure::LastSeen => time(stats.last_seen),
            Measure::FirstSeen => time(stats.first_seen),
        };
        keep ^ self.negated
    }
}

fn compare(n: f64, op: Operator, t: f64) -> bool {
    match op {
        Operator::Gt => n > t,
        Operator::Gte => n >= t,
        Operator::Lt => n < t,
        Operator::Lte => n <= t,
        Operator::Ne => n != t,
        _ => n == t,
    }
}

/// The event filters of `tokens` and its group filters. Aggregate filters must stand at
/// the top level of a query without `OR` (each one narrows the groups).
pub fn split(tokens: Vec<Token>) -> Result<(Vec<Token>, Vec<GroupFilter>), QueryError> {
    let is_aggregate =
        |t: &Token| matches!(t, Token::Filter(f) if matches!(f.key, Key::Aggregate { .. }));
    if !tokens.iter().any(is_aggregate) {
        refuse_nested(&tokens)?;
        return Ok((tokens, Vec::new()));
    }
    if let Some(Token::Boolean { span, .. }) = tokens
        .iter()
        .find(|t| matches!(t, Token::Boolean { op: BoolOp::Or, .. }))
    {
        return Err(QueryError::new(
            span.start,
            "aggregate filters like count():>10 cannot be combined with OR; run one search per alternative",
        ));
    }
    let mut events = Vec::new();
    let mut groups = Vec::new();
    for token in tokens {
        match token {
            Token::Filter(f) if matches!(f.key, Key::Aggregate { .. }) => {
                groups.push(group_filter(&f)?)
            }
            // Terms are ANDed anyway; dropping `AND`s keeps `a AND count():>1` well formed.
            Token::Boolean {
                op: BoolOp::And, ..
            } => {}
            Token::Group { inner, span } => {
                refuse_nested(&inner)?;
                events.push(Token::Group { inner, span });
            }
            other => events.push(other),
        }
    }
    Ok((events, groups))
}

fn refuse_nested(tokens: &[Token]) -> Result<(), QueryError> {
    for t in tokens {
        let Token::Group { inner, .. } = t else {
            continue;
        };
        for inner_token in inner {
            if let Token::Filter(f) = inner_token
                && matches!(f.key, Key::Aggregate { .. })
            {
                return Err(QueryError::new(
                    f.span.start,
                    "aggregate filters like count():>10 must stand outside parentheses",
                ));
            }
        }
        refuse_nested(inner)?;
    }
    Ok(())
}

const SUPPORTED: &str =
    "count(), count_unique(user), epm(), eps(), last_seen(), max(timestamp) and min(timestamp)";

fn group_filter(f: &Filter) -> Result<GroupFilter, QueryError> {
    let at = f.span.start;
    if let Some(invalid) = &f.invalid {
        return Err(QueryError::new(
            at,
            format!("{} (key `{}`)", invalid.reason, f.key.name()),
        ));
    }
    let Key::Aggregate { name, args } = &f.key else {
        return Err(QueryError::new(at, "expected an aggregate filter"));
    };
    let arg = args.first().map(String::as_str).unwrap_or("");
    let measure = match (name.as_str(), arg) {
        ("count", _) => Measure::Count,
        ("count_unique", "user" | "user.id" | "user.email" | "user.display") => Measure::Users,
        ("epm", "") => Measure::PerMinute,
        ("eps", "") => Measure::PerSecond,
        ("last_seen", "") | ("max", "timestamp") => Measure::LastSeen,
        ("min", "timestamp") => Measure::FirstSeen,
        _ => {
            return Err(QueryError::new(
                at,
                format!(
                    "`{}` is not known for groups of errors; supported here: {SUPPORTED}",
                    f.key.name()
                ),
            ));
        }
    };
    let is_time = matches!(measure, Measure::LastSeen | Measure::FirstSeen);
    let threshold = match (&f.value, f.kind, is_time) {
        (Value::Number(n), FilterKind::AggregateNumeric, false) => Threshold::Number(n.value),
        (Value::RelativeDate { sign, value, .. }, _, true) => Threshold::Time {
            at: *value,
            // `-1h`: within the last hour; `+1h`: longer ago. An operator flips it.
            after: (*sign == '-') ^ matches!(f.operator, Operator::Lt | Operator::Lte),
        },
        (Value::IsoDate { value, .. }, _, true) => Threshold::Time {
            at: *value,
            after: matches!(f.operator, Operator::Gt | Operator::Gte),
        },
        _ => {
            let expected = if is_time {
                "a date like -1h or 2024-05-01"
            } else {
                "a number like >10"
            };
            return Err(QueryError::new(
                at,
                format!("`{}` needs {expected}", f.key.name()),
            ));
        }
    };
    Ok(GroupFilter {
        measure,
        op: f.operator,
        threshold,
        negated: f.negated,
    })
}

#[cfg(test)]
mod tests {
    use chrono::Duration;

    use super::*;
    use crate::query::parse::{ParseOptions, parse};

    fn split_query(q: &str) -> Result<(Vec<Token>, Vec<GroupFilter>), QueryError> {
        split(parse(q, &ParseOptions::for_index(Utc::now())).unwrap())
    }

    #[test]
    fn aggregates_split_from_event_filters() {
        let (events, groups) =
            split_query("level:error AND count():>10 count_unique(user):>=2 last_seen():-1h")
                .unwrap();
        assert_eq!(events.len(), 1, "{events:?}");
        assert_eq!(
            groups.iter().map(|g| g.measure).collect::<Vec<_>>(),
            [Measure::Count, Measure::Users, Measure::LastSeen]
        );
        let stats = GroupStats {
            count: 11,
            users: 2,
            first_seen: None,
            last_seen: Some(Utc::now() - Duration::minutes(5)),
        };
        assert!(groups.iter().all(|g| g.keeps(&stats, 60.0)));
        let old = GroupStats {
            last_seen: Some(Utc::now() - Duration::hours(2)),
            ..stats
        };
        assert!(!groups[2].keeps(&old, 60.0));
        let (_, epm) = split_query("epm():>0.5").unwrap();
        assert!(epm[0].keeps(&stats, 10.0) && !epm[0].keeps(&stats, 60.0));
    }

    #[test]
    fn aggregates_with_or_or_in_parentheses_or_unknown_are_refused() {
        let e = split_query("count():>1 OR level:error").unwrap_err();
        assert!(e.message.contains("OR"), "{e}");
        let e = split_query("(count():>1 level:error)").unwrap_err();
        assert!(e.message.contains("parentheses"), "{e}");
        let e = split_query("p95(transaction.duration):>1s").unwrap_err();
        assert!(e.message.contains("count_unique(user)"), "{e}");
    }
}
