//! Sentry's `Link` header: `<url>; rel="next"; results="true"; cursor="0:100:0"`, one entry
//! per direction. Only a `next` entry with `results="true"` means there is another page.

/// The cursor of the next page, if there is one.
pub fn next_cursor(link: &str) -> Option<String> {
    entries(link).find_map(|params| {
        let get = |key: &str| {
            params
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(key))
                .map(|(_, v)| v.as_str())
        };
        let next = get("rel") == Some("next") && get("results") == Some("true");
        next.then(|| get("cursor").map(str::to_owned)).flatten()
    })
}

/// Each `<url>; k="v"; ...` entry's parameters. Commas inside `<...>` or quotes do not split.
fn entries(link: &str) -> impl Iterator<Item = Vec<(String, String)>> + '_ {
    split_outside(link, ',').map(|entry| {
        split_outside(entry, ';')
            .skip(1)
            .filter_map(|param| {
                let (k, v) = param.split_once('=')?;
                Some((k.trim().to_owned(), v.trim().trim_matches('"').to_owned()))
            })
            .collect()
    })
}

fn split_outside(s: &str, sep: char) -> impl Iterator<Item = &str> {
    let mut parts = Vec::new();
    let (mut start, mut in_url, mut in_quote) = (0, false, false);
    for (i, c) in s.char_indices() {
        match c {
            '<' if !in_quote => in_url = true,
            '>' if !in_quote => in_url = false,
            '"' if !in_url => in_quote = !in_quote,
            c if c == sep && !in_url && !in_quote => {
                parts.push(&s[start..i]);
                start = i + c.len_utf8();
            }
            _ => {}
        }
    }
    parts.push(&s[start..]);
    parts.into_iter()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn follows_next_only_while_results_are_true() {
        let more = r#"<https://sentry.io/api/0/organizations/acme/issues/?&cursor=0:0:1>; rel="previous"; results="false"; cursor="0:0:1", <https://sentry.io/api/0/organizations/acme/issues/?&cursor=0:100:0>; rel="next"; results="true"; cursor="0:100:0""#;
        assert_eq!(next_cursor(more).as_deref(), Some("0:100:0"));
        let last = more.replace(r#"results="true""#, r#"results="false""#);
        assert_eq!(next_cursor(&last), None);
        assert_eq!(next_cursor(""), None);
        assert_eq!(next_cursor("garbage, <x>; rel=next"), None);
        // A URL holding commas and semicolons does not confuse the split.
        let odd = r#"<https://x/?q=a,b;c>; rel="next"; results="true"; cursor="1735:0:0""#;
        assert_eq!(next_cursor(odd).as_deref(), Some("1735:0:0"));
    }
}
