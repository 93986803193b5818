//! What stands in front of every MCP route (`/sse`, `/messages`, `/mcp`), in this order:
//!
//! 1. `Host` validation (DNS-rebinding protection): exact names, `*.suffix` patterns or
//!    `*`; IP addresses always pass, since a rebinding attack always carries a host name.
//! 2. `Origin` validation: a present `Origin` must be the server's own (same host and
//!    port as `Host`) or an allowed one; requests without `Origin` (every non-browser
//!    client) pass.
//! 3. The optional bearer token (`--mcp-token`), compared in constant time.
//! 4. A concurrency limit: at most N requests in flight, counted until their response
//!    body ends, except open event streams (`GET`), which `--mcp-max-sessions` bounds.
//!
//! Every refusal is a one-line `text/plain` reason. The token is never logged.

use std::net::IpAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use sha2::{Digest, Sha256};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::metrics::Metrics;

/// How long a request may wait for one of the `--mcp-max-concurrency` slots before 503.
const QUEUE_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// The checks, built once from the command line.
pub struct Guard {
    hosts: Vec<HostPattern>,
    origins: Vec<OriginPattern>,
    /// SHA-256 of the token: comparing digests takes the same time whatever the input.
    token: Option<[u8; 32]>,
    permits: Arc<Semaphore>,
    max_concurrency: usize,
    metrics: Arc<Metrics>,
}

impl Guard {
    pub fn new(
        allowed_hosts: &[String],
        allowed_origins: &[String],
        token: Option<&str>,
        max_concurrency: usize,
        metrics: Arc<Metrics>,
    ) -> Self {
        let max_concurrency = max_concurrency.max(1);
        Guard {
            hosts: allowed_hosts
                .iter()
                .filter_map(|h| HostPattern::parse(h))
                .collect(),
            origins: allowed_origins
                .iter()
                .filter_map(|o| OriginPattern::parse(o))
                .collect(),
            token: token.filter(|t| !t.is_empty()).map(digest),
            permits: Arc::new(Semaphore::new(max_concurrency)),
            max_concurrency,
            metrics,
        }
    }

    pub fn requires_token(&self) -> bool {
        self.token.is_some()
    }

    fn host_allowed(&self, host: &str) -> bool {
        let (name, _) = split_host_port(host);
        if name.parse::<IpAddr>().is_ok() {
            return true;
        }
        let name = name.trim_end_matches('.').to_ascii_lowercase();
        self.hosts.iter().any(|p| p.matches(&name))
    }

    fn origin_allowed(&self, origin: &str, host: Option<&str>) -> bool {
        let Some(origin) = Origin::parse(origin) else {
            return self.origins.iter().any(|p| matches!(p, OriginPattern::Any));
        };
        // The server's own origin: same host and port as the request's `Host`.
        if let Some(host) = host {
            let (name, port) = split_host_port(host);
            if name.eq_ignore_ascii_case(&origin.host)
                && port.or(default_port(&origin.scheme)) == origin.port
            {
                return true;
            }
        }
        self.origins.iter().any(|p| p.matches(&origin))
    }

    /// `None` when the request may pass; otherwise the refusal.
    fn check_token(&self, headers: &HeaderMap) -> Option<Response> {
        let expected = self.token.as_ref()?;
        let Some(value) = headers.get(header::AUTHORIZATION) else {
            return Some(unauthorized(
                "missing bearer token: send Authorization: Bearer <SENTRY_MCP_TOKEN>",
            ));
        };
        let value = value.as_bytes();
        let presented = value
            .get(..7)
            .filter(|scheme| scheme.eq_ignore_ascii_case(b"bearer "))
            .map(|_| value[7..].trim_ascii());
        let Some(presented) = presented else {
            return Some(unauthorized(
                "Authorization is not a bearer token: send Authorization: Bearer <SENTRY_MCP_TOKEN>",
            ));
        };
        if constant_time_eq(&digest_bytes(presented), expected) {
            None
        } else {
            Some(unauthorized("wrong bearer token"))
        }
    }
}

/// The middleware: `axum::middleware::from_fn_with_state(guard, guard::check)`.
pub async fn check(State(guard): State<Arc<Guard>>, request: Request, next: Next) -> Response {
    let headers = request.headers();
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_owned)
        .or_else(|| request.uri().authority().map(|a| a.to_string()));
    if let Some(host) = host.as_deref()
        && !guard.host_allowed(host)
    {
        tracing::warn!(host = %short(host), "MCP request refused: Host not allowed");
        guard.metrics.mcp_refused("host");
        return refuse(
            StatusCode::FORBIDDEN,
            format!(
                "Host {:?} is not allowed: add it to --allowed-hosts (SENTRY_MCP_ALLOWED_HOSTS)",
                short(host)
            ),
        );
    }
    if let Some(origin) = headers.get(header::ORIGIN) {
        let origin = origin.to_str().unwrap_or("");
        if !guard.origin_allowed(origin, host.as_deref()) {
            tracing::warn!(origin = %short(origin), "MCP request refused: Origin not allowed");
            guard.metrics.mcp_refused("origin");
            return refuse(
                StatusCode::FORBIDDEN,
                format!(
                    "Origin {:?} is not allowed: add it to --allowed-origins (SENTRY_MCP_ALLOWED_ORIGINS)",
                    short(origin)
                ),
            );
        }
    }
    if let Some(refusal) = guard.check_token(headers) {
        tracing::warn!(path = %request.uri().path(), "MCP request refused: bearer token missing or wrong");
        guard.metrics.mcp_refused("token");
        return refusal;
    }
    // Open event streams live as long as their client; they are bounded by
    // --mcp-max-sessions (SSE) and rmcp's session manager (/mcp), not by this limit.
    if request.method() == Method::GET {
        return next.run(request).await;
    }
    // A burst (100 Holmes sessions opening at once) waits its turn briefly: clients do not
    // retry a 503 on `POST /messages`, they sit out their read timeout.
    let permit = tokio::time::timeout(QUEUE_WAIT, guard.permits.clone().acquire_owned()).await;
    let Ok(Ok(permit)) = permit else {
        tracing::warn!(
            limit = guard.max_concurrency,
            "MCP request refused: too many in flight"
        );
        guard.metrics.mcp_refused("busy");
        let mut response = refuse(
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "too many concurrent MCP requests (limit {}, --mcp-max-concurrency): retry shortly",
                guard.max_concurrency
            ),
        );
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        return response;
    };
    let response = next.run(request).await;
    let (parts, body) = response.into_parts();
    Response::from_parts(
        parts,
        Body::new(Permitted {
            inner: body,
            permit: Some(permit),
        }),
    )
}

/// A one-line `text/plain` refusal.
pub fn refuse(status: StatusCode, line: impl Into<String>) -> Response {
    let mut line = line.into();
    line.push('\n');
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        line,
    )
        .into_response()
}

fn unauthorized(line: &str) -> Response {
    let mut response = refuse(StatusCode::UNAUTHORIZED, line);
    response
        .headers_mut()
        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    response
}

/// Header values echoed in a reason or a log line are cut short.
fn short(s: &str) -> &str {
    match s.char_indices().nth(100) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

fn digest(token: &str) -> [u8; 32] {
    digest_bytes(token.as_bytes())
}

fn digest_bytes(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

fn constant_time_eq(a: &[u8; 32], b: &[u8; 32]) -> bool {
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

/// Split `host[:port]` / `[v6]:port`; the name comes back without brackets.
fn split_host_port(authority: &str) -> (&str, Option<u16>) {
    if let Some(rest) = authority.strip_prefix('[') {
        return match rest.split_once(']') {
            Some((name, tail)) => (name, tail.strip_prefix(':').and_then(|p| p.parse().ok())),
            None => (rest, None),
        };
    }
    match authority.rsplit_once(':') {
        // More than one colon and no brackets: a bare IPv6 address.
        Some((name, _)) if name.contains(':') => (authority, None),
        Some((name, port)) => (name, port.parse().ok()),
        None => (authority, None),
    }
}

fn default_port(scheme: &str) -> Option<u16> {
    match scheme {
        "http" => Some(80),
        "https" => Some(443),
        _ => None,
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum HostPattern {
    Any,
    Exact(String),
    /// `*.svc.cluster.local` → `.svc.cluster.local`: one or more labels before it.
    Suffix(String),
}

impl HostPattern {
    fn parse(raw: &str) -> Option<Self> {
        let raw = raw.trim().trim_end_matches('.').to_ascii_lowercase();
        if raw.is_empty() {
            return None;
        }
        if raw == "*" {
            return Some(HostPattern::Any);
        }
        if let Some(suffix) = raw.strip_prefix('*') {
            return Some(HostPattern::Suffix(suffix.to_owned()));
        }
        // An entry may carry a port (`example.com:8000`); hosts are matched by name.
        let (name, _) = split_host_port(&raw);
        Some(HostPattern::Exact(name.to_owned()))
    }

    fn matches(&self, name: &str) -> bool {
        match self {
            HostPattern::Any => true,
            HostPattern::Exact(exact) => exact == name,
            HostPattern::Suffix(suffix) => name.len() > suffix.len() && name.ends_with(suffix),
        }
    }
}

/// A parsed `Origin` header: `scheme://host[:port]`, port defaulted from the scheme.
#[derive(Debug, PartialEq, Eq)]
struct Origin {
    scheme: String,
    host: String,
    port: Option<u16>,
}

impl Origin {
    fn parse(raw: &str) -> Option<Origin> {
        let (scheme, rest) = raw.trim().split_once("://")?;
        let scheme = scheme.to_ascii_lowercase();
        if rest.is_empty() || rest.contains('/') {
            return None;
        }
        let (host, port) = split_host_port(rest);
        Some(Origin {
            port: port.or(default_port(&scheme)),
            scheme,
            host: host.to_ascii_lowercase(),
        })
    }
}

#[derive(Debug, PartialEq, Eq)]
enum OriginPattern {
    Any,
    /// A bare host name: any scheme, any port.
    Host(String),
    /// `scheme://host[:port]`; `None` port is `:*`.
    Exact {
        scheme: String,
        host: String,
        port: Option<u16>,
    },
}

impl OriginPattern {
    fn parse(raw: &str) -> Option<Self> {
        let raw = raw.trim();
        if raw.is_empty() {
            return None;
        }
        if raw == "*" {
            return Some(OriginPattern::Any);
        }
        if !raw.contains("://") {
            let host = raw.trim_matches(|c| c == '[' || c == ']');
            return Some(OriginPattern::Host(host.to_ascii_lowercase()));
        }
        if let Some(base) = raw.strip_suffix(":*") {
            let o = Origin::parse(base)?;
            return Some(OriginPattern::Exact {
                scheme: o.scheme,
                host: o.host,
                port: None,
            });
        }
        let o = Origin::parse(raw)?;
        Some(OriginPattern::Exact {
            scheme: o.scheme,
            host: o.host,
            port: o.port,
        })
    }

    fn matches(&self, origin: &Origin) -> bool {
        match self {
            OriginPattern::Any => true,
            OriginPattern::Host(host) => *host == origin.host,
            OriginPattern::Exact { scheme, host, port } => {
                *scheme == origin.scheme
                    && *host == origin.host
                    && port.is_none_or(|p| Some(p) == origin.port)
            }
        }
    }
}

/// A response body that holds a concurrency permit until it ends (or is dropped).
struct Permitted {
    inner: Body,
    permit: Option<OwnedSemaphorePermit>,
}

impl http_body::Body for Permitted {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, axum::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        if let Poll::Ready(None) = polled {
            self.permit = None;
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{DEFAULT_ALLOWED_HOSTS, DEFAULT_ALLOWED_ORIGINS};

    fn defaults(token: Option<&str>) -> Guard {
        let split = |s: &str| s.split(',').map(str::to_owned).collect::<Vec<_>>();
        Guard::new(
            &split(DEFAULT_ALLOWED_HOSTS),
            &split(DEFAULT_ALLOWED_ORIGINS),
            token,
            4,
            Metrics::new(),
        )
    }

    #[test]
    fn default_hosts_cover_loopback_and_cluster_names() {
        let g = defaults(None);
        for ok in [
            "localhost",
            "localhost:8000",
            "127.0.0.1:8000",
            "[::1]:8000",
            "::1",
            "10.1.2.3:8000",
            "sentry-mcp",
            "sentry-mcp:8000",
            "sentry-mcp.monitoring.svc",
            "sentry-mcp.monitoring.svc.cluster.local:8000",
            "SENTRY-MCP.Monitoring.svc.cluster.local.",
        ] {
            assert!(g.host_allowed(ok), "{ok}");
        }
        for bad in [
            "evil.example.com",
            "sentry-mcp.evil.com",
            "svc.cluster.local",
            "localhost.evil.com",
            "",
        ] {
            assert!(!g.host_allowed(bad), "{bad}");
        }
        let any = Guard::new(&["*".into()], &[], None, 1, Metrics::new());
        assert!(any.host_allowed("anything.example.com"));
        let listed = Guard::new(
            &["mcp.example.com:443".into()],
            &[],
            None,
            1,
            Metrics::new(),
        );
        assert!(listed.host_allowed("mcp.example.com"));
        assert!(!listed.host_allowed("example.com"));
    }

    #[test]
    fn origins_must_be_own_or_listed() {
        let g = defaults(None);
        let host = Some("127.0.0.1:8000");
        assert!(g.origin_allowed("http://localhost:6274", host));
        assert!(g.origin_allowed("https://127.0.0.1", host));
        assert!(g.origin_allowed("http://[::1]:3000", host));
        assert!(g.origin_allowed("http://127.0.0.1:8000", host));
        let cluster = Some("sentry-mcp.ns.svc.cluster.local:8000");
        assert!(g.origin_allowed("http://sentry-mcp.ns.svc.cluster.local:8000", cluster));
        assert!(!g.origin_allowed("http://sentry-mcp.ns.svc.cluster.local:9000", cluster));
        assert!(!g.origin_allowed("https://evil.example.com", host));
        assert!(!g.origin_allowed("null", host));
        assert!(!g.origin_allowed("garbage", host));
        let listed = Guard::new(
            &[],
            &[
                "https://app.example.com".into(),
                "http://dev.example.com:*".into(),
            ],
            None,
            1,
            Metrics::new(),
        );
        assert!(listed.origin_allowed("https://app.example.com:443", None));
        assert!(!listed.origin_allowed("https://app.example.com:8443", None));
        assert!(!listed.origin_allowed("http://app.example.com", None));
        assert!(listed.origin_allowed("http://dev.example.com:5173", None));
        assert!(
            Guard::new(&[], &["*".into()], None, 1, Metrics::new()).origin_allowed("null", None)
        );
    }

    #[test]
    fn bearer_token_is_checked() {
        let open = defaults(None);
        assert!(open.check_token(&HeaderMap::new()).is_none());
        let g = defaults(Some("t0ken"));
        let with = |v: &str| {
            let mut h = HeaderMap::new();
            h.insert(header::AUTHORIZATION, HeaderValue::from_str(v).unwrap());
            g.check_token(&h).map(|r| r.status())
        };
        assert_eq!(
            g.check_token(&HeaderMap::new()).map(|r| r.status()),
            Some(StatusCode::UNAUTHORIZED)
        );
        assert_eq!(with("Bearer t0ken"), None);
        assert_eq!(with("bearer   t0ken "), None);
        assert_eq!(with("Bearer t0ke"), Some(StatusCode::UNAUTHORIZED));
        assert_eq!(with("Basic dDBrZW4="), Some(StatusCode::UNAUTHORIZED));
        assert_eq!(with("t0ken"), Some(StatusCode::UNAUTHORIZED));
        // An empty token means none.
        assert!(!defaults(Some("")).requires_token());
    }

    #[test]
    fn host_port_splitting() {
        assert_eq!(split_host_port("a:80"), ("a", Some(80)));
        assert_eq!(split_host_port("[::1]:80"), ("::1", Some(80)));
        assert_eq!(split_host_port("[::1]"), ("::1", None));
        assert_eq!(split_host_port("::1"), ("::1", None));
        assert_eq!(split_host_port("a"), ("a", None));
    }
}
