//! A small query grammar: free text (bare or quoted), `key:value`, `key:"quoted value"`
//! and `!key:value`. The full Sentry search syntax replaces this module later; the
//! shape of [`Term`] is what the planner consumes.

use super::QueryError;

/// One element of a query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Term {
    /// Free text; `phrase` when it was quoted.
    Text {
        text: String,
        phrase: bool,
        position: usize,
    },
    /// A `key:value` filter.
    Filter {
        key: String,
        value: String,
        negated: bool,
        position: usize,
    },
}

/// Split `input` into terms. Whitespace separates terms except inside double quotes;
/// `\"` escapes a quote inside quotes.
pub fn parse(input: &str) -> Result<Vec<Term>, QueryError> {
    let chars: Vec<char> = input.chars().collect();
    let mut terms = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if chars[i].is_whitespace() {
            i += 1;
            continue;
        }
        let start = i;
        if chars[i] == '"' {
            let (text, next) = quoted(&chars, i)?;
            terms.push(Term::Text {
                text,
                phrase: true,
                position: start,
            });
            i = next;
            continue;
        }
        let negated = chars[i] == '!';
        let key_start = if negated { i + 1 } else { i };
        let mut j = key_start;
        while j < chars.len() && !chars[j].is_whitespace() && chars[j] != ':' && chars[j] != '"' {
            j += 1;
        }
        if j < chars.len() && chars[j] == ':' && j > key_start {
            let key: String = chars[key_start..j].iter().collect();
            let (value, next) = if chars.get(j + 1) == Some(&'"') {
                quoted(&chars, j + 1)?
            } else {
                let mut k = j + 1;
                while k < chars.len() && !chars[k].is_whitespace() {
                    k += 1;
                }
                (chars[j + 1..k].iter().collect(), k)
            };
            if value.is_empty() {
                return Err(QueryError::new(
                    j + 1,
                    format!("expected a value after `{key}:`"),
                ));
            }
            terms.push(Term::Filter {
                key,
                value,
                negated,
                position: start,
            });
            i = next;
        } else {
            let mut k = i;
            while k < chars.len() && !chars[k].is_whitespace() {
                k += 1;
            }
            terms.push(Term::Text {
                text: chars[i..k].iter().collect(),
                phrase: false,
                position: start,
            });
            i = k;
        }
    }
    Ok(terms)
}

/// Read a quoted string starting at the opening quote; returns it and the index after it.
fn quoted(chars: &[char], open: usize) -> Result<(String, usize), QueryError> {
    let mut out = String::new();
    let mut i = open + 1;
    while i < chars.len() {
        match chars[i] {
            '\\' if i + 1 < chars.len() => {
                out.push(chars[i + 1]);
                i += 2;
            }
            '"' => return Ok((out, i + 1)),
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    Err(QueryError::new(
        open,
        "unterminated quote: expected a closing `\"`",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_text_filters_and_quotes() {
        let terms =
            parse(r#"level:error "Connection reset" !environment:staging boom tags:"a \"b\"""#)
                .unwrap();
        assert_eq!(terms.len(), 5);
        assert!(
            matches!(&terms[0], Term::Filter { key, value, negated: false, .. } if key == "level" && value == "error")
        );
        assert!(
            matches!(&terms[1], Term::Text { text, phrase: true, .. } if text == "Connection reset")
        );
        assert!(
            matches!(&terms[2], Term::Filter { key, negated: true, .. } if key == "environment")
        );
        assert!(matches!(&terms[3], Term::Text { text, phrase: false, .. } if text == "boom"));
        assert!(matches!(&terms[4], Term::Filter { value, .. } if value == "a \"b\""));
    }

    #[test]
    fn reports_unterminated_quote_with_position() {
        let err = parse(r#"level:error "oops"#).unwrap_err();
        assert_eq!(err.position, 12);
    }

    #[test]
    fn empty_value_is_an_error() {
        assert!(parse("level: x").is_err());
    }
}
