//! Naming an issue: a numeric id (`4100002`), a short id (`CHECKOUT-API-102`) or an issue
//! URL (`https://sentry.io/organizations/acme/issues/4100002/`, `https://acme.sentry.io/issues/4100002/`).

/// What the caller named.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IssueRef {
    Id(String),
    ShortId(String),
}

/// Parse an `issue_id` argument; the error says what forms are accepted.
pub fn parse_issue_ref(input: &str) -> Result<IssueRef, String> {
    let s = input.trim();
    if s.is_empty() {
        return Err(
            "issue_id is empty: pass a numeric id (4100002), a short id (PROJ-123) or an issue URL"
                .into(),
        );
    }
    if s.chars().all(|c| c.is_ascii_digit()) {
        return Ok(IssueRef::Id(s.to_owned()));
    }
    if s.contains("://") {
        let after = s.split("/issues/").nth(1).ok_or_else(|| {
            format!("{s:?} is a URL but not an issue URL (expected .../issues/<id>/)")
        })?;
        let id: String = after.chars().take_while(|c| c.is_ascii_digit()).collect();
        if id.is_empty() {
            let short: String = after
                .chars()
                .take_while(|c| *c != '/' && *c != '?')
                .collect();
            return parse_issue_ref(&short);
        }
        return Ok(IssueRef::Id(id));
    }
    let looks_short = s.contains('-')
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        && s.rsplit('-').next().is_some_and(|tail| {
            !tail.is_empty() && tail.chars().all(|c| c.is_ascii_alphanumeric())
        });
    if looks_short {
        return Ok(IssueRef::ShortId(s.to_ascii_uppercase()));
    }
    Err(format!(
        "{s:?} is not an issue id: pass a numeric id (4100002), a short id (PROJ-123) or an issue URL"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_ids_short_ids_and_urls() {
        assert_eq!(parse_issue_ref("123"), Ok(IssueRef::Id("123".into())));
        assert_eq!(
            parse_issue_ref("proj-12a"),
            Ok(IssueRef::ShortId("PROJ-12A".into()))
        );
        assert_eq!(
            parse_issue_ref("https://sentry.io/organizations/acme/issues/4100002/?project=1"),
            Ok(IssueRef::Id("4100002".into()))
        );
        assert_eq!(
            parse_issue_ref("https://acme.sentry.io/issues/77/events/abc/"),
            Ok(IssueRef::Id("77".into()))
        );
        assert_eq!(
            parse_issue_ref("https://acme.sentry.io/issues/WEB-9/"),
            Ok(IssueRef::ShortId("WEB-9".into()))
        );
        assert!(
            parse_issue_ref("hello world")
                .unwrap_err()
                .contains("short id")
        );
        assert!(parse_issue_ref("https://sentry.io/settings/").is_err());
        assert!(parse_issue_ref("").is_err());
    }
}
