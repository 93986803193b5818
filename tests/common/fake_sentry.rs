//! A stateful fake of the Sentry REST API (axum on port 0) for end-to-end tests: the
//! endpoints sentry-mcp calls, with Sentry's shapes, bearer auth, `Link` pagination, an
//! organization living in another region, self-hosted-style minimal answers, and failures
//! on demand (5xx, 429 with or without `Retry-After`, slow or hanging answers).
//!
//! State changes made here (`set_status`, `add_issue`) are "made in Sentry's UI": no
//! webhook is sent, only a reconcile or a fetch can learn them.

#![allow(dead_code, clippy::disallowed_methods)]

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

pub const TOKEN: &str = "sntrys_fake_token_0123456789abcdef";
pub const ORG: &str = "acme";

/// A failure to answer with instead of the real answer.
#[derive(Debug, Clone)]
pub enum Failure {
    Status(u16),
    /// 429; `retry_after` as `Retry-After` seconds, `reset_in` as `X-Sentry-Rate-Limit-Reset`.
    RateLimited {
        retry_after: Option<u64>,
        reset_in: Option<u64>,
    },
    /// Answer normally after this long.
    Delay(Duration),
    /// Never answer.
    Hang,
}

/// One request as the fake saw it.
#[derive(Debug, Clone)]
pub struct Logged {
    /// `main` or `region`: which listener got it.
    pub host: &'static str,
    pub method: String,
    pub path: String,
    pub query: String,
    pub authorized: bool,
    pub body: String,
}

struct Rule {
    path: String,
    failure: Failure,
    times: usize,
}

#[derive(Default)]
struct State_ {
    region_org: Option<String>,
    main_url: String,
    region_url: String,
    issues: BTreeMap<u64, Value>,
    events: BTreeMap<u64, Vec<Value>>,
    rules: VecDeque<Rule>,
    log: Vec<Logged>,
    minimal: bool,
    forbid_writes: bool,
}

type Shared = Arc<Mutex<State_>>;

pub struct FakeSentry {
    /// `--url` for sentry-mcp (the main listener).
    pub url: String,
    /// Where an organization in another region is served.
    pub region_url: String,
    state: Shared,
}

impl FakeSentry {
    pub async fn start() -> FakeSentry {
        let state: Shared = Arc::default();
        let main = listen(state.clone(), "main").await;
        let region = listen(state.clone(), "region").await;
        {
            let mut s = state.lock().unwrap();
            s.main_url = main.clone();
            s.region_url = region.clone();
        }
        FakeSentry {
            url: main,
            region_url: region,
            state,
        }
    }

    /// Args for `sentry-mcp serve|backfill` pointing at this fake.
    pub fn args(&self) -> Vec<String> {
        [
            "--url",
            &self.url,
            "--organization",
            ORG,
            "--access-token",
            TOKEN,
        ]
        .map(str::to_owned)
        .to_vec()
    }

    /// The organization is served only by the region listener (as `de.sentry.io`); the
    /// main one answers its org-scoped paths 404, as a wrong region would.
    pub fn move_org_to_region(&self) {
        self.state.lock().unwrap().region_org = Some(ORG.into());
    }

    /// Answer like an old self-hosted Sentry: no `links`, few optional fields, and a PUT
    /// answered with the changed fields only.
    pub fn minimal(&self) {
        self.state.lock().unwrap().minimal = true;
    }

    /// PUTs get 403 (a token without `event:write`).
    pub fn forbid_writes(&self) {
        self.state.lock().unwrap().forbid_writes = true;
    }

    /// The next `times` requests whose path contains `path` fail with `failure`.
    pub fn fail(&self, path: &str, failure: Failure, times: usize) {
        self.state.lock().unwrap().rules.push_back(Rule {
            path: path.into(),
            failure,
            times,
        });
    }

    /// An issue created in Sentry (no webhook), last seen `last_seen`.
    pub fn add_issue(&self, id: u64, status: &str, last_seen: DateTime<Utc>) -> Value {
        let mut s = self.state.lock().unwrap();
        let issue = json!({
            "id": id.to_string(),
            "shortId": format!("WEB-{}", id % 100_000),
            "title": format!("TimeoutError: upstream {id} timed out"),
            "culprit": format!("app/handlers.py in handle_{id}"),
            "permalink": format!("{}/organizations/{ORG}/issues/{id}/", s.main_url),
            "level": "error",
            "status": status,
            "substatus": if status == "unresolved" { Value::from("ongoing") } else { Value::Null },
            "statusDetails": {},
            "isUnhandled": true,
            "platform": "python",
            "priority": "high",
            "count": "12",
            "userCount": 3,
            "firstSeen": (last_seen - chrono::Duration::hours(1)).to_rfc3339(),
            "lastSeen": last_seen.to_rfc3339(),
            "project": {"id": "11", "name": "web", "slug": "web", "platform": "python"},
            "metadata": {"type": "TimeoutError", "value": format!("upstream {id} timed out")},
            "type": "error",
            "assignedTo": null,
        });
        s.issues.insert(id, issue.clone());
        issue
    }

    /// A change made in Sentry's UI: no webhook tells us.
    pub fn set_status(&self, id: u64, status: &str) {
        let mut s = self.state.lock().unwrap();
        let issue = s.issues.get_mut(&id).expect("no such fake issue");
        issue["status"] = status.into();
    }

    pub fn issue(&self, id: u64) -> Value {
        self.state.lock().unwrap().issues[&id].clone()
    }

    /// An event of issue `id` in REST shape.
    pub fn add_event(&self, id: u64, event_id: &str, at: DateTime<Utc>) -> Value {
        let event = json!({
            "id": event_id,
            "eventID": event_id,
            "groupID": id.to_string(),
            "projectID": "11",
            "dateCreated": at.to_rfc3339(),
            "title": format!("TimeoutError: upstream {id} timed out"),
            "message": "",
            "platform": "python",
            "tags": [
                {"key": "environment", "value": "production"},
                {"key": "level", "value": "error"},
                {"key": "release", "value": "web@2.4.1"}
            ],
            "release": {"version": "web@2.4.1"},
            "user": {"id": "u-9", "email": "customer@example.com"},
            "entries": [{"type": "exception", "data": {"values": [{
                "type": "TimeoutError",
                "value": format!("upstream {id} timed out"),
                "stacktrace": {"frames": [
                    {"filename": "app/handlers.py", "function": format!("handle_{id}"), "lineNo": 42, "inApp": true}
                ]}
            }]}}],
            "contexts": {},
        });
        let mut s = self.state.lock().unwrap();
        s.events.entry(id).or_default().push(event.clone());
        event
    }

    pub fn requests(&self) -> Vec<Logged> {
        self.state.lock().unwrap().log.clone()
    }

    /// Requests with this method whose path contains `path`.
    pub fn count(&self, method: &str, path: &str) -> usize {
        self.requests()
            .iter()
            .filter(|r| r.method == method && r.path.contains(path))
            .count()
    }

    pub fn clear_log(&self) {
        self.state.lock().unwrap().log.clear();
    }
}

async fn listen(state: Shared, host: &'static str) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = Router::new()
        .fallback(
            move |st: State<Shared>, m: Method, u: Uri, h: HeaderMap, b: Bytes| {
                handle(st, host, m, u, h, b)
            },
        )
        .with_state(state);
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}")
}

async fn handle(
    State(state): State<Shared>,
    host: &'static str,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_owned();
    let query = uri.query().unwrap_or_default().to_owned();
    let authorized = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == format!("Bearer {TOKEN}"));
    let failure = {
        let mut s = state.lock().unwrap();
        s.log.push(Logged {
            host,
            method: method.to_string(),
            path: path.clone(),
            query: query.clone(),
            authorized,
            body: String::from_utf8_lossy(&body).into_owned(),
        });
        take_failure(&mut s.rules, &path)
    };
    match failure {
        Some(Failure::Status(code)) => {
            let status = StatusCode::from_u16(code).unwrap();
            return (status, axum::Json(json!({"detail": "Internal Error"}))).into_response();
        }
        Some(Failure::RateLimited {
            retry_after,
            reset_in,
        }) => {
            let mut response = (
                StatusCode::TOO_MANY_REQUESTS,
                axum::Json(
                    json!({"detail": "You are attempting to use this endpoint too frequently."}),
                ),
            )
                .into_response();
            let h = response.headers_mut();
            if let Some(s) = retry_after {
                h.insert("retry-after", s.to_string().parse().unwrap());
            }
            if let Some(s) = reset_in {
                let at = Utc::now().timestamp() as u64 + s;
                h.insert("x-sentry-rate-limit-reset", at.to_string().parse().unwrap());
            }
            return response;
        }
        Some(Failure::Delay(d)) => tokio::time::sleep(d).await,
        Some(Failure::Hang) => std::future::pending::<()>().await,
        None => {}
    }
    if !authorized {
        return detail(401, "Invalid token");
    }
    let rest = path.strip_prefix("/api/0/").unwrap_or("");
    let parts: Vec<&str> = rest.trim_end_matches('/').split('/').collect();
    let params = parse_query(&query);
    let mut s = state.lock().unwrap();
    route(&mut s, host, &method, &parts, &params, &body)
}

fn take_failure(rules: &mut VecDeque<Rule>, path: &str) -> Option<Failure> {
    let i = rules.iter().position(|r| path.contains(&r.path))?;
    let rule = &mut rules[i];
    let failure = rule.failure.clone();
    rule.times -= 1;
    if rule.times == 0 {
        rules.remove(i);
    }
    Some(failure)
}

fn route(
    s: &mut State_,
    host: &'static str,
    method: &Method,
    parts: &[&str],
    params: &BTreeMap<String, String>,
    body: &[u8],
) -> Response {
    let get = *method == Method::GET;
    match parts {
        ["organizations"] if get => ok(json!([organization(s)])),
        ["organizations", org, rest @ ..] => {
            if *org != ORG {
                return detail(404, "The requested resource does not exist");
            }
            // An organization in another region: the main host does not serve it (its own
            // detail, which names the region, excepted).
            let in_region = s.region_org.as_deref() == Some(*org);
            if in_region != (host == "region") && !(rest.is_empty() && host == "main") {
                return detail(404, "The requested resource does not exist");
            }
            org_route(s, method, rest, params, body)
        }
        ["projects", ORG, _, "events", event_id] if get => match find_event(s, event_id) {
            Some((_, event)) => ok(event),
            None => detail(404, "Event not found"),
        },
        _ => detail(404, "The requested resource does not exist"),
    }
}

fn org_route(
    s: &mut State_,
    method: &Method,
    rest: &[&str],
    params: &BTreeMap<String, String>,
    body: &[u8],
) -> Response {
    let get = *method == Method::GET;
    match rest {
        [] if get => ok(organization(s)),
        ["projects"] if get => ok(json!([
            {"id": "11", "slug": "web", "name": "web", "platform": "python"},
            {"id": "12", "slug": "api", "name": "api", "platform": "go"}
        ])),
        ["teams"] if get => ok(json!([{"id": "7", "slug": "backend", "name": "Backend"}])),
        ["issues"] if get => issues_page(s, params),
        ["issues", id] if get => match issue(s, id) {
            Some(issue) => ok(issue),
            None => detail(404, "Issue not found"),
        },
        ["issues", id] if *method == Method::PUT => update(s, id, body),
        ["issues", id, "events"] if get => {
            let id: u64 = id.parse().unwrap_or(0);
            let mut events = s.events.get(&id).cloned().unwrap_or_default();
            events.reverse();
            ok(Value::Array(events))
        }
        ["issues", id, "events", "latest"] if get => {
            let id: u64 = id.parse().unwrap_or(0);
            match s.events.get(&id).and_then(|e| e.last()) {
                Some(event) => ok(event.clone()),
                None => detail(404, "Event not found"),
            }
        }
        ["shortids", short_id] if get => {
            let found = s
                .issues
                .values()
                .find(|i| i["shortId"].as_str() == Some(*short_id));
            match found {
                Some(issue) => ok(json!({
                    "organizationSlug": ORG, "projectSlug": "web",
                    "groupId": issue["id"], "shortId": short_id, "group": shaped(s, issue),
                })),
                None => detail(404, "Short ID not found"),
            }
        }
        ["eventids", event_id] if get => match find_event(s, event_id) {
            Some((group, event)) => ok(json!({
                "organizationSlug": ORG, "projectSlug": "web",
                "groupId": group.to_string(), "eventId": event_id, "event": event,
            })),
            None => detail(404, "Event not found"),
        },
        _ => detail(404, "The requested resource does not exist"),
    }
}

fn organization(s: &State_) -> Value {
    if s.minimal {
        return json!({"id": "1", "slug": ORG, "name": "Acme"});
    }
    let region = match s.region_org {
        Some(_) => s.region_url.clone(),
        None => s.main_url.clone(),
    };
    json!({
        "id": "1", "slug": ORG, "name": "Acme", "status": {"id": "active", "name": "active"},
        "links": {"organizationUrl": format!("{}/organizations/{ORG}/", s.main_url), "regionUrl": region},
        "features": ["issue-platform"],
    })
}

/// An issue as this fake's mode answers it.
fn shaped(s: &State_, issue: &Value) -> Value {
    if !s.minimal {
        return issue.clone();
    }
    let mut issue = issue.clone();
    if let Some(map) = issue.as_object_mut() {
        for key in [
            "substatus",
            "priority",
            "isUnhandled",
            "permalink",
            "statusDetails",
        ] {
            map.remove(key);
        }
    }
    issue
}

fn issue(s: &State_, id: &str) -> Option<Value> {
    let id: u64 = id.parse().ok()?;
    s.issues.get(&id).map(|i| shaped(s, i))
}

/// Sentry's issue list: newest last seen first, `start`/`end` on last seen, `is:` status
/// filters, `limit` per page and `cursor="0:OFFSET:0"` pages with a `Link` header.
fn issues_page(s: &State_, params: &BTreeMap<String, String>) -> Response {
    let time = |k: &str| {
        params
            .get(k)
            .and_then(|v| DateTime::parse_from_rfc3339(v).ok())
            .map(|t| t.with_timezone(&Utc))
    };
    let (start, end) = (time("start"), time("end"));
    let wanted_status = params
        .get("query")
        .and_then(|q| q.split_whitespace().find_map(|t| t.strip_prefix("is:")))
        .map(str::to_owned);
    let mut issues: Vec<&Value> = s
        .issues
        .values()
        .filter(|i| {
            let seen = DateTime::parse_from_rfc3339(i["lastSeen"].as_str().unwrap())
                .unwrap()
                .with_timezone(&Utc);
            start.is_none_or(|t| seen >= t)
                && end.is_none_or(|t| seen <= t)
                && wanted_status
                    .as_deref()
                    .is_none_or(|w| i["status"].as_str() == Some(w))
        })
        .collect();
    issues.sort_by(|a, b| b["lastSeen"].as_str().cmp(&a["lastSeen"].as_str()));
    let limit: usize = params
        .get("limit")
        .and_then(|l| l.parse().ok())
        .unwrap_or(100)
        .min(100);
    let offset: usize = params
        .get("cursor")
        .and_then(|c| c.split(':').nth(1))
        .and_then(|o| o.parse().ok())
        .unwrap_or(0);
    let page: Vec<Value> = issues
        .iter()
        .skip(offset)
        .take(limit)
        .map(|i| shaped(s, i))
        .collect();
    let more = offset + limit < issues.len();
    let base = format!("{}/api/0/organizations/{ORG}/issues/", s.main_url);
    let link = format!(
        "<{base}?cursor=0:{prev}:1>; rel=\"previous\"; results=\"{has_prev}\"; cursor=\"0:{prev}:1\", \
         <{base}?cursor=0:{next}:0>; rel=\"next\"; results=\"{more}\"; cursor=\"0:{next}:0\"",
        prev = offset.saturating_sub(limit),
        has_prev = offset > 0,
        next = offset + limit,
    );
    let mut response = ok(Value::Array(page));
    response.headers_mut().insert("link", link.parse().unwrap());
    response
}

/// `PUT .../issues/{id}/` with `status` and/or `assignedTo`.
fn update(s: &mut State_, id: &str, body: &[u8]) -> Response {
    if s.forbid_writes {
        return detail(403, "You do not have permission to perform this action.");
    }
    let Some(id) = id
        .parse::<u64>()
        .ok()
        .filter(|id| s.issues.contains_key(id))
    else {
        return detail(404, "Issue not found");
    };
    let Ok(change) = serde_json::from_slice::<Value>(body) else {
        return detail(400, "Malformed request");
    };
    let mut answer = serde_json::Map::new();
    if let Some(status) = change.get("status").and_then(Value::as_str) {
        if !["resolved", "unresolved", "ignored", "resolvedInNextRelease"].contains(&status) {
            return detail(400, "Invalid status");
        }
        answer.insert("status".into(), status.into());
        answer.insert("statusDetails".into(), json!({}));
    }
    if let Some(to) = change.get("assignedTo").and_then(Value::as_str) {
        let assignee = match to {
            "" => Value::Null,
            "team:7" | "#backend" => json!({"type": "team", "id": "7", "name": "backend"}),
            "user:1" | "oncall@example.com" | "oncall" => {
                json!({"type": "user", "id": "1", "name": "On Call", "email": "oncall@example.com"})
            }
            other => return detail(400, &format!("Unknown actor input: {other}")),
        };
        answer.insert("assignedTo".into(), assignee);
    }
    let issue = s.issues.get_mut(&id).unwrap();
    for (k, v) in &answer {
        issue[k] = v.clone();
    }
    if s.minimal {
        ok(Value::Object(answer))
    } else {
        ok(issue.clone())
    }
}

fn find_event(s: &State_, event_id: &str) -> Option<(u64, Value)> {
    s.events.iter().find_map(|(group, events)| {
        events
            .iter()
            .find(|e| e["eventID"].as_str() == Some(event_id))
            .map(|e| (*group, e.clone()))
    })
}

fn parse_query(query: &str) -> BTreeMap<String, String> {
    query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| (decode(k), decode(v)))
        .collect()
}

fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                out.push(u8::from_str_radix(hex, 16).unwrap_or(b'?'));
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn ok(body: Value) -> Response {
    axum::Json(body).into_response()
}

fn detail(status: u16, text: &str) -> Response {
    (
        StatusCode::from_u16(status).unwrap(),
        axum::Json(json!({ "detail": text })),
    )
        .into_response()
}
