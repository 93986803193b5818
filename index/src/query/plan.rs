//! Terms to a tantivy query. Known keys map to their fields; an unknown key is a tag, as in
//! Sentry. Free text must match the document's prose (`text` field).

use chrono::{DateTime, Utc};
use tantivy::Index;
use tantivy::query::{AllQuery, BooleanQuery, EmptyQuery, Occur, PhraseQuery, Query, TermQuery};
use tantivy::schema::{Field, IndexRecordOption};
use tantivy::tokenizer::TokenStream;

use super::QueryError;
use super::parse::Term as QTerm;
use crate::schema::{Fields, tag_term};

/// How a key's value is matched.
enum Target {
    /// The whole value is one indexed token.
    Exact(Field),
    /// Tokenized prose: all words of the value, in order.
    Prose(Field),
    /// `tag` field, `key=value`.
    Tag(String),
}

pub fn plan(
    terms: &[QTerm],
    fields: &Fields,
    index: &Index,
    _now: DateTime<Utc>,
) -> Result<Box<dyn Query>, QueryError> {
    if terms.is_empty() {
        return Ok(Box::new(AllQuery));
    }
    let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
    for term in terms {
        match term {
            QTerm::Text { text, .. } => {
                clauses.push((Occur::Must, prose(index, fields.text, text)));
            }
            QTerm::Filter {
                key,
                value,
                negated,
                position,
            } => {
                let query = filter(key, value, *position, fields, index)?;
                clauses.push((
                    if *negated {
                        Occur::MustNot
                    } else {
                        Occur::Must
                    },
                    query,
                ));
            }
        }
    }
    if clauses.iter().all(|(occur, _)| *occur == Occur::MustNot) {
        clauses.push((Occur::Must, Box::new(AllQuery)));
    }
    Ok(Box::new(BooleanQuery::new(clauses)))
}

fn filter(
    key: &str,
    value: &str,
    position: usize,
    f: &Fields,
    index: &Index,
) -> Result<Box<dyn Query>, QueryError> {
    if key == "is" {
        return is_filter(value, position, f);
    }
    let target = match key {
        "kind" => Target::Exact(f.kind),
        "id" => Target::Exact(f.id),
        "organization" | "org" => Target::Exact(f.organization),
        "project" => Target::Exact(f.project),
        "issue" | "issue.id" | "issue_id" => Target::Exact(f.issue_id),
        "shortId" | "short_id" => Target::Exact(f.short_id),
        "level" => Target::Exact(f.level),
        "status" => Target::Exact(f.status),
        "substatus" => Target::Exact(f.substatus),
        "platform" => Target::Exact(f.platform),
        "environment" | "env" => Target::Exact(f.environment),
        "release" => Target::Exact(f.release),
        "assigned" | "assignee" => Target::Exact(f.assignee),
        "error.type" => Target::Exact(f.exception_type),
        "stack.filename" => Target::Exact(f.stack_filename),
        "stack.function" => Target::Exact(f.stack_function),
        "stack.module" => Target::Exact(f.stack_module),
        "fingerprint" => Target::Exact(f.fingerprint),
        "alert.rule" | "alert_rule" => Target::Exact(f.alert_rule),
        "title" => Target::Prose(f.title),
        "message" => Target::Prose(f.message),
        "culprit" => Target::Prose(f.culprit),
        "error.value" => Target::Prose(f.exception_value),
        other => {
            let tag = other
                .strip_prefix("tags[")
                .and_then(|k| k.strip_suffix(']'))
                .unwrap_or(other);
            Target::Tag(tag.to_owned())
        }
    };
    Ok(match target {
        Target::Exact(field) => exact(field, value),
        Target::Prose(field) => prose(index, field, value),
        Target::Tag(tag) => exact(f.tag, &tag_term(&tag, value)),
    })
}

fn is_filter(value: &str, position: usize, f: &Fields) -> Result<Box<dyn Query>, QueryError> {
    let status = |s: &str| exact(f.status, s);
    Ok(match value {
        "unresolved" | "resolved" | "ignored" => status(value),
        "archived" => status("ignored"),
        "assigned" => Box::new(BooleanQuery::new(vec![
            (Occur::Must, Box::new(AllQuery) as Box<dyn Query>),
            (
                Occur::Must,
                Box::new(tantivy::query::ExistsQuery::new(
                    f.schema.get_field_name(f.assignee).into(),
                    false,
                )),
            ),
        ])),
        "unassigned" => Box::new(BooleanQuery::new(vec![
            (Occur::Must, Box::new(AllQuery) as Box<dyn Query>),
            (
                Occur::MustNot,
                Box::new(tantivy::query::ExistsQuery::new(
                    f.schema.get_field_name(f.assignee).into(),
                    false,
                )),
            ),
        ])),
        other => {
            return Err(QueryError::new(
                position,
                format!(
                    "unknown is: value \"{other}\" (expected resolved, unresolved, ignored, archived, assigned or unassigned)"
                ),
            ));
        }
    })
}

fn exact(field: Field, value: &str) -> Box<dyn Query> {
    Box::new(TermQuery::new(
        tantivy::Term::from_field_text(field, value),
        IndexRecordOption::Basic,
    ))
}

/// All words of `text` in `field`, as a phrase (so quoted and multi-word values keep order).
fn prose(index: &Index, field: Field, text: &str) -> Box<dyn Query> {
    let mut tokenizer = match index.tokenizer_for_field(field) {
        Ok(t) => t,
        Err(_) => return Box::new(EmptyQuery),
    };
    let mut stream = tokenizer.token_stream(text);
    let mut terms = Vec::new();
    while let Some(token) = stream.next() {
        terms.push(tantivy::Term::from_field_text(field, &token.text));
    }
    match terms.len() {
        // Nothing searchable in the text (punctuation only): match nothing rather than all.
        0 => Box::new(EmptyQuery),
        1 => Box::new(TermQuery::new(
            terms.remove(0),
            IndexRecordOption::WithFreqs,
        )),
        _ => Box::new(PhraseQuery::new(terms)),
    }
}
