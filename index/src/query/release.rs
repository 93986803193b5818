//! Release names (`package@version+build`) and Sentry's version comparisons for
//! `release.version`, `release.build` and `release.package`.

use std::cmp::Ordering;

use super::ast::Operator;
use super::keys::ReleasePart;
use super::plan::{unescape, wildcard_regex};

/// A release split as Sentry splits it: `checkout@2.4.1+812` is package `checkout`,
/// version `2.4.1`, build `812`. Without `@` the whole name is the version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Release<'a> {
    pub package: Option<&'a str>,
    pub version: &'a str,
    pub build: Option<&'a str>,
}

impl<'a> Release<'a> {
    pub fn parse(name: &'a str) -> Self {
        let (package, rest) = match name.split_once('@') {
            Some((p, rest)) => (Some(p), rest),
            None => (None, name),
        };
        let (version, build) = match rest.split_once('+') {
            Some((v, b)) => (v, Some(b)),
            None => (rest, None),
        };
        Release {
            package,
            version,
            build,
        }
    }

    pub fn part(&self, part: ReleasePart) -> Option<&'a str> {
        match part {
            ReleasePart::Package => self.package,
            ReleasePart::Version => Some(self.version),
            ReleasePart::Build => self.build,
        }
    }
}

/// Whether `got` compares to the written value `raw` as `op` says: equality and
/// wildcards as text, `>`/`<` in semver order.
pub fn compare(got: &str, op: Operator, raw: &str) -> Result<bool, String> {
    let wanted = unescape(raw);
    Ok(match op {
        Operator::Default | Operator::Eq | Operator::Ne | Operator::Matches => {
            match wildcard_regex(raw) {
                Some(_) => glob(raw, got),
                None => got == wanted,
            }
        }
        Operator::Contains => got.contains(&wanted),
        Operator::StartsWith => got.starts_with(&wanted),
        Operator::EndsWith => got.ends_with(&wanted),
        Operator::Gt => semver(got, &wanted) == Ordering::Greater,
        Operator::Gte => semver(got, &wanted) != Ordering::Less,
        Operator::Lt => semver(got, &wanted) == Ordering::Less,
        Operator::Lte => semver(got, &wanted) != Ordering::Greater,
        Operator::Regex => {
            return Err(
                "regex filters are not supported here; use wildcards like key:*part*".into(),
            );
        }
    })
}

/// Semver order: numeric parts compared as numbers (missing parts are 0), a pre-release
/// (`1.0-rc1`) before its release; other text compared as text.
pub fn semver(a: &str, b: &str) -> Ordering {
    let split = |v: &str| -> (Vec<String>, Option<String>) {
        let v = v.trim_start_matches(['v', 'V']);
        match v.split_once('-') {
            Some((core, pre)) => (
                core.split('.').map(str::to_owned).collect(),
                Some(pre.to_owned()),
            ),
            None => (v.split('.').map(str::to_owned).collect(), None),
        }
    };
    let ((a_core, a_pre), (b_core, b_pre)) = (split(a), split(b));
    for i in 0..a_core.len().max(b_core.len()) {
        let (x, y) = (
            a_core.get(i).map_or("0", String::as_str),
            b_core.get(i).map_or("0", String::as_str),
        );
        let order = match (x.parse::<u64>(), y.parse::<u64>()) {
            (Ok(x), Ok(y)) => x.cmp(&y),
            _ => x.cmp(y),
        };
        if order != Ordering::Equal {
            return order;
        }
    }
    match (a_pre, b_pre) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Greater,
        (Some(_), None) => Ordering::Less,
        (Some(x), Some(y)) => x.cmp(&y),
    }
}

/// `*` wildcards (escaped `\*` is a literal star) over the whole of `text`.
fn glob(raw: &str, text: &str) -> bool {
    let mut pieces = vec![String::new()];
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => pieces
                .last_mut()
                .into_iter()
                .for_each(|p| p.extend(chars.next())),
            '*' => pieces.push(String::new()),
            c => pieces.last_mut().into_iter().for_each(|p| p.push(c)),
        }
    }
    let (first, rest) = pieces
        .split_first()
        .map_or(("", &[][..]), |(f, r)| (f.as_str(), r));
    let Some(mut left) = text.strip_prefix(first) else {
        return false;
    };
    let Some((last, middle)) = rest.split_last() else {
        return left.is_empty();
    };
    for piece in middle {
        match left.find(piece.as_str()) {
            Some(i) => left = &left[i + piece.len()..],
            None => return false,
        }
    }
    left.len() >= last.len() && left.ends_with(last.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn releases_split_into_package_version_and_build() {
        let r = Release::parse("checkout@2.4.1+812");
        assert_eq!(
            (r.package, r.version, r.build),
            (Some("checkout"), "2.4.1", Some("812"))
        );
        assert_eq!(Release::parse("1.2.0").version, "1.2.0");
    }

    #[test]
    fn versions_compare_in_semver_order() {
        assert_eq!(semver("7.10", "7.8"), Ordering::Greater);
        assert_eq!(semver("7.8.0", "7.8"), Ordering::Equal);
        assert_eq!(semver("2.0.0-rc1", "2.0.0"), Ordering::Less);
        assert!(compare("7.10.2", Operator::Gt, "7.8").unwrap());
        assert!(!compare("7.8", Operator::Gt, "7.8").unwrap());
        assert!(compare("7.8", Operator::Gte, "7.8").unwrap());
        assert!(compare("2.4.1", Operator::Default, "2.4.*").unwrap());
        assert!(!compare("2.5.1", Operator::Default, "2.4.*").unwrap());
        assert!(compare("2.4.1", Operator::Default, "*.1").unwrap());
    }
}
