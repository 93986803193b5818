//! Authenticated requests to Sentry with connect and request timeouts, retries of idempotent
//! calls on 5xx and network errors (jittered backoff), the wait a 429 asks for, and a time
//! budget per call after which the caller is told what happened and when to retry.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::endpoint::Endpoint;
use crate::error::{ApiError, detail};
use crate::link::next_cursor;
use crate::retry::{Budget, MIN_ATTEMPT, backoff, rate_limit_wait};

/// Timeouts and retry limits; the defaults suit an agent waiting on a tool call.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    pub connect_timeout: Duration,
    /// One attempt, headers and body (a whole call is bounded by its [`Budget`]).
    pub request_timeout: Duration,
    /// Attempts of one idempotent request (the first included).
    pub max_attempts: u32,
    pub backoff_base: Duration,
    pub backoff_cap: Duration,
    /// Largest response body read; Sentry's biggest (an event with its entries) is far less.
    pub max_body_bytes: usize,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            connect_timeout: Duration::from_secs(3),
            request_timeout: Duration::from_secs(8),
            max_attempts: 4,
            backoff_base: Duration::from_millis(200),
            backoff_cap: Duration::from_secs(2),
            // A page of 100 issues is about 200 kB, a large event a few MB.
            max_body_bytes: 8 * 1024 * 1024,
        }
    }
}

/// A page of a list endpoint and the cursor of the next one.
#[derive(Debug, Clone, Default)]
pub struct Page {
    pub items: Vec<Value>,
    pub next: Option<String>,
}

/// Counters for `status` and `/metrics`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    pub requests: u64,
    pub retries: u64,
    pub errors: u64,
    pub errors_last_hour: u64,
}

pub struct Client {
    http: reqwest::Client,
    endpoint: Endpoint,
    token: String,
    options: ClientOptions,
    /// Each organization's API base (`links.regionUrl`), learned once.
    regions: Mutex<HashMap<String, Endpoint>>,
    requests: AtomicU64,
    retries: AtomicU64,
    errors: AtomicU64,
    recent_errors: Mutex<VecDeque<Instant>>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("endpoint", &self.endpoint.as_str())
            .field("token", &"***")
            .finish()
    }
}

/// One request, described before it is sent (so it can be sent again).
pub(crate) struct Call {
    pub method: Method,
    pub base: Endpoint,
    pub path: String,
    pub query: Vec<(&'static str, String)>,
    pub body: Option<Value>,
    /// The scope a 403 names.
    pub scope: &'static str,
    /// What a 404 says is missing.
    pub what: String,
    /// Safe to send twice (every call we make is: reads, and PUTs that set a value).
    pub idempotent: bool,
}

/// What one attempt came to.
enum Attempt {
    Done(HeaderMap, Vec<u8>),
    Fail(ApiError),
    Retry(ApiError, Option<Duration>),
}

const ERROR_WINDOW: Duration = Duration::from_secs(3600);

impl Client {
    pub fn new(
        endpoint: Endpoint,
        token: impl Into<String>,
        options: ClientOptions,
    ) -> Result<Self, ApiError> {
        let token = token.into();
        if token.trim().is_empty() {
            return Err(ApiError::Config("the Sentry API token is empty".into()));
        }
        let http = reqwest::Client::builder()
            .tls_backend_preconfigured(tls_config()?)
            .connect_timeout(options.connect_timeout)
            .user_agent(concat!("sentry-mcp/", env!("CARGO_PKG_VERSION")))
            // reqwest drops the Authorization header when a redirect leaves the host.
            .redirect(reqwest::redirect::Policy::limited(3))
            .build()
            .map_err(|e| ApiError::Config(format!("building the HTTP client: {e}")))?;
        Ok(Client {
            http,
            endpoint,
            token,
            options,
            regions: Mutex::default(),
            requests: AtomicU64::new(0),
            retries: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            recent_errors: Mutex::default(),
        })
    }

    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    pub fn stats(&self) -> Stats {
        let errors_last_hour = {
            let mut recent = self.recent_errors.lock().unwrap_or_else(|e| e.into_inner());
            prune(&mut recent);
            recent.len() as u64
        };
        Stats {
            requests: self.requests.load(Ordering::Relaxed),
            retries: self.retries.load(Ordering::Relaxed),
            errors: self.errors.load(Ordering::Relaxed),
            errors_last_hour,
        }
    }

    /// The API base for `org`, if its region is known.
    pub fn known_region(&self, org: &str) -> Option<Endpoint> {
        self.regions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(org)
            .cloned()
    }

    pub(crate) fn remember_region(&self, org: &str, endpoint: Endpoint) {
        self.regions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(org.to_owned(), endpoint);
    }

    /// Send `call`, retrying as the policy allows, and parse the JSON body.
    pub(crate) async fn json(&self, call: &Call, budget: &Budget) -> Result<Value, ApiError> {
        let (_, body) = self.send(call, budget).await?;
        parse(&body, "JSON")
    }

    /// Send a list call and return one page of it.
    pub(crate) async fn page(&self, call: &Call, budget: &Budget) -> Result<Page, ApiError> {
        let (headers, body) = self.send(call, budget).await?;
        let items = match parse(&body, "a JSON list")? {
            Value::Array(items) => items,
            other => {
                return Err(ApiError::Decode {
                    what: "a JSON list",
                    reason: format!("got {}", kind_of(&other)),
                });
            }
        };
        let next = headers
            .get("link")
            .and_then(|v| v.to_str().ok())
            .and_then(next_cursor);
        Ok(Page { items, next })
    }

    /// Every page of a list call, at most `max_pages`, within one budget.
    pub(crate) async fn all_pages(
        &self,
        mut call: Call,
        max_pages: usize,
        budget: &Budget,
    ) -> Result<Vec<Value>, ApiError> {
        let mut items = Vec::new();
        for _ in 0..max_pages {
            let page = self.page(&call, budget).await?;
            items.extend(page.items);
            let Some(cursor) = page.next else { break };
            call.query.retain(|(k, _)| *k != "cursor");
            call.query.push(("cursor", cursor));
        }
        Ok(items)
    }

    async fn send(&self, call: &Call, budget: &Budget) -> Result<(HeaderMap, Vec<u8>), ApiError> {
        let url = call.base.join(&call.path)?;
        let started = Instant::now();
        let mut attempts = 0;
        loop {
            attempts += 1;
            let remaining = budget.remaining();
            if remaining < MIN_ATTEMPT {
                return Err(self.failed(ApiError::Timeout {
                    waited: started.elapsed(),
                }));
            }
            let mut request = self
                .http
                .request(call.method.clone(), url.clone())
                .bearer_auth(&self.token)
                .timeout(remaining.min(self.options.request_timeout))
                .header("accept", "application/json");
            if !call.query.is_empty() {
                request = request.query(&call.query);
            }
            if let Some(body) = &call.body {
                request = request.json(body);
            }
            self.requests.fetch_add(1, Ordering::Relaxed);
            let attempt = self.attempt(request, call, attempts, started).await;
            tracing::debug!(
                method = %call.method,
                path = %call.path,
                attempts,
                outcome = match &attempt {
                    Attempt::Done(..) => "ok",
                    Attempt::Fail(e) | Attempt::Retry(e, _) => e.kind(),
                },
                "sentry api"
            );
            let (error, wait) = match attempt {
                Attempt::Done(headers, body) => return Ok((headers, body)),
                Attempt::Fail(error) => return Err(self.failed(error)),
                Attempt::Retry(error, wait) => (error, wait),
            };
            let wait = wait.unwrap_or_else(|| {
                backoff(
                    attempts,
                    self.options.backoff_base,
                    self.options.backoff_cap,
                )
            });
            if attempts >= self.options.max_attempts || !budget.allows(wait) {
                return Err(self.failed(match error {
                    // Tell the caller the whole wait, not what is left of the budget.
                    ApiError::RateLimited { .. } => ApiError::RateLimited { retry_after: wait },
                    other => other,
                }));
            }
            self.retries.fetch_add(1, Ordering::Relaxed);
            tokio::time::sleep(wait).await;
        }
    }

    async fn attempt(
        &self,
        request: reqwest::RequestBuilder,
        call: &Call,
        attempts: u32,
        started: Instant,
    ) -> Attempt {
        let host = call.base.host().to_owned();
        let network = |e: reqwest::Error, sent: bool| {
            let error = if e.is_timeout() {
                ApiError::Timeout {
                    waited: started.elapsed(),
                }
            } else {
                ApiError::Unreachable {
                    host: host.clone(),
                    reason: reason(&e),
                }
            };
            // A request that never left may always be sent again.
            if call.idempotent || !sent {
                Attempt::Retry(error, None)
            } else {
                Attempt::Fail(error)
            }
        };
        let mut response = match request.send().await {
            Ok(r) => r,
            Err(e) => {
                let sent = !e.is_connect();
                return network(e, sent);
            }
        };
        let status = response.status();
        let headers = response.headers().clone();
        let mut body = Vec::new();
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) if body.len() + chunk.len() > self.options.max_body_bytes => {
                    return Attempt::Fail(ApiError::Decode {
                        what: "a response",
                        reason: format!("larger than {} bytes", self.options.max_body_bytes),
                    });
                }
                Ok(Some(chunk)) => body.extend_from_slice(&chunk),
                Ok(None) => break,
                Err(e) => return network(e, true),
            }
        }
        match status {
            s if s.is_success() => Attempt::Done(headers, body),
            StatusCode::TOO_MANY_REQUESTS => {
                let wait = rate_limit_wait(&headers);
                Attempt::Retry(
                    ApiError::RateLimited {
                        retry_after: wait.unwrap_or_default(),
                    },
                    wait,
                )
            }
            s if s.is_server_error() => {
                let error = ApiError::Unavailable {
                    status: s.as_u16(),
                    attempts,
                };
                if call.idempotent {
                    Attempt::Retry(error, None)
                } else {
                    Attempt::Fail(error)
                }
            }
            StatusCode::UNAUTHORIZED => Attempt::Fail(ApiError::Unauthorized),
            StatusCode::FORBIDDEN => Attempt::Fail(ApiError::Forbidden {
                scope: call.scope,
                detail: detail(&body),
            }),
            StatusCode::NOT_FOUND => Attempt::Fail(ApiError::NotFound {
                what: call.what.clone(),
            }),
            s => Attempt::Fail(ApiError::Rejected {
                status: s.as_u16(),
                detail: detail(&body).unwrap_or_else(|| "no detail".into()),
            }),
        }
    }

    fn failed(&self, error: ApiError) -> ApiError {
        // A 404 is an answer (no such issue), not a failure of the API.
        if !matches!(error, ApiError::NotFound { .. }) {
            self.errors.fetch_add(1, Ordering::Relaxed);
            let mut recent = self.recent_errors.lock().unwrap_or_else(|e| e.into_inner());
            prune(&mut recent);
            recent.push_back(Instant::now());
        }
        error
    }
}

fn prune(recent: &mut VecDeque<Instant>) {
    while recent.front().is_some_and(|t| t.elapsed() > ERROR_WINDOW) {
        recent.pop_front();
    }
}

fn parse(body: &[u8], what: &'static str) -> Result<Value, ApiError> {
    serde_json::from_slice(body).map_err(|e| ApiError::Decode {
        what,
        reason: e.to_string(),
    })
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// The innermost cause of a transport error, without the URL.
fn reason(e: &reqwest::Error) -> String {
    let mut cause: &dyn std::error::Error = e;
    while let Some(next) = cause.source() {
        cause = next;
    }
    let text = cause.to_string();
    if text.is_empty() {
        "connection failed".into()
    } else {
        text
    }
}

/// rustls with the ring provider and Mozilla's roots compiled in: no OpenSSL and no CA files,
/// so a `FROM scratch` image can reach sentry.io.
fn tls_config() -> Result<rustls::ClientConfig, ApiError> {
    let roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| ApiError::Config(format!("TLS setup: {e}")))?
    .with_root_certificates(roots)
    .with_no_client_auth();
    Ok(config)
}
