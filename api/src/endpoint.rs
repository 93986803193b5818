//! Where the API lives: `https://{host}/api/0/` from `--host`, or any base from `--url`
//! (plain http, a port or a path prefix for self-hosted Sentry and tests).

use reqwest::Url;

use crate::error::ApiError;

/// The base URL every API path is joined to; always ends in `/api/0/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    base: Url,
}

impl Endpoint {
    /// From a host name as the official server takes it (`sentry.io`, `sentry.example.com:8443`);
    /// https is implied. A scheme given anyway is accepted.
    pub fn from_host(host: &str) -> Result<Self, ApiError> {
        let host = host.trim().trim_end_matches('/');
        if host.contains("://") {
            return Self::from_url(host);
        }
        Self::from_url(&format!("https://{host}"))
    }

    /// From a full URL: `http://sentry.local:9000`, `https://example.com/sentry`, or one that
    /// already ends in `/api/0`.
    pub fn from_url(url: &str) -> Result<Self, ApiError> {
        let shown = without_userinfo(url);
        let bad = |why: &str| ApiError::Config(format!("Sentry URL {shown:?}: {why}"));
        let mut base = Url::parse(url.trim()).map_err(|e| bad(&e.to_string()))?;
        if !matches!(base.scheme(), "http" | "https") {
            return Err(bad("the scheme must be http or https"));
        }
        if base.host_str().is_none_or(str::is_empty) {
            return Err(bad("no host"));
        }
        if !base.username().is_empty() || base.password().is_some() {
            return Err(bad("credentials belong in SENTRY_AUTH_TOKEN, not the URL"));
        }
        base.set_query(None);
        base.set_fragment(None);
        let path = base.path().trim_end_matches('/').to_owned();
        let path = if path.ends_with("/api/0") {
            format!("{path}/")
        } else {
            format!("{path}/api/0/")
        };
        base.set_path(&path);
        Ok(Endpoint { base })
    }

    /// The API of an organization's region (`links.regionUrl`, e.g. `https://de.sentry.io`).
    /// Only a URL with the same scheme is taken: a region never downgrades https to http.
    pub fn region(&self, region_url: &str) -> Option<Endpoint> {
        let region = Endpoint::from_url(region_url).ok()?;
        (region.base.scheme() == self.base.scheme()).then_some(region)
    }

    /// `path` (relative, e.g. `organizations/acme/issues/`) under the base.
    pub fn join(&self, path: &str) -> Result<Url, ApiError> {
        self.base
            .join(path.trim_start_matches('/'))
            .map_err(|e| ApiError::Config(format!("bad API path {path:?}: {e}")))
    }

    pub fn host(&self) -> &str {
        self.base.host_str().unwrap_or_default()
    }

    pub fn as_str(&self) -> &str {
        self.base.as_str()
    }
}

/// `url` with anything between `://` and an `@` of the authority masked: a URL with
/// credentials in it is refused, and the refusal must not print them.
fn without_userinfo(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{scheme}://***{}", &rest[at..]),
        None => url.to_owned(),
    }
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.base.as_str())
    }
}

/// One path segment (an org slug, an issue id) made safe to put in a URL path.
pub(crate) fn segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_with_credentials_is_refused_without_showing_them() {
        for url in [
            "https://user:sntrys_SECRET@sentry.example.com/",
            "https://sntrys_SECRET@sentry.example.com",
        ] {
            let err = Endpoint::from_url(url).unwrap_err().to_string();
            assert!(err.contains("SENTRY_AUTH_TOKEN"), "{err}");
            assert!(!err.contains("SECRET"), "{err}");
            assert!(err.contains("***@sentry.example.com"), "{err}");
        }
    }

    #[test]
    fn hosts_and_urls_become_api_bases() {
        let cases = [
            (Endpoint::from_host("sentry.io"), "https://sentry.io/api/0/"),
            (
                Endpoint::from_host("sentry.example.com:8443/"),
                "https://sentry.example.com:8443/api/0/",
            ),
            (
                Endpoint::from_url("http://127.0.0.1:9000"),
                "http://127.0.0.1:9000/api/0/",
            ),
            (
                Endpoint::from_url("https://example.com/sentry/"),
                "https://example.com/sentry/api/0/",
            ),
            (
                Endpoint::from_url("https://example.com/api/0"),
                "https://example.com/api/0/",
            ),
        ];
        for (got, want) in cases {
            assert_eq!(got.unwrap().as_str(), want);
        }
        assert!(Endpoint::from_url("ftp://x").is_err());
        assert!(Endpoint::from_url("https://user:pw@x").is_err());
        assert!(Endpoint::from_url("not a url").is_err());
    }

    #[test]
    fn regions_keep_the_scheme_and_paths_are_escaped() {
        let base = Endpoint::from_host("sentry.io").unwrap();
        let de = base.region("https://de.sentry.io").unwrap();
        assert_eq!(
            de.join("organizations/acme/").unwrap().as_str(),
            "https://de.sentry.io/api/0/organizations/acme/"
        );
        assert!(base.region("http://evil.example").is_none());
        assert_eq!(segment("a/b?c"), "a%2Fb%3Fc");
    }
}
