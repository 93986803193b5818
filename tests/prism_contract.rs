//! Contract test of the Sentry REST client (`sentry-mcp-api`) against Prism mocking Sentry's
//! own OpenAPI description (`../shared/sentry-api/openapi-derefed.json`): every request the
//! client sends must pass Prism's validation (paths, path and query parameters, the bearer
//! token; a violation is answered 400 or 422, so a call only comes back `Ok` when it passed)
//! and every example response Prism answers with must parse into what the client returns.
//!
//! Prism: `SENTRY_MCP_PRISM_URL` when set (`.ci/run` starts one for the whole run), else a
//! server of our own per test from `SENTRY_MCP_PRISM`, else from
//! `target/tools/prism/node_modules/.bin/prism`, which is installed there with npm on the first
//! run (node and npm needed). If none of that works the tests fail and say why: they never
//! skip.
//!
//! What the spec (and Prism) cannot check, found while writing this:
//! - Prism sends no `Link` or rate-limit headers and never 429: pagination and rate limits
//!   are tested against hand-written stubs (`api/src/tests.rs`).
//! - `PUT /organizations/{org}/issues/{id}/`: Prism does not validate this body at all (it
//!   answers 200 even to `{"status":5}`): the `substatus` property's enum lists `null` next to
//!   `"type":"string"`, its schema compiler rejects that and the body goes unchecked. The spec
//!   also marks all 12 body fields `required`, which the real API does not ask for (a partial
//!   update is the documented use). So the bodies the client sends are checked here against
//!   the spec's property list, types and enums instead ([`assert_body_fits_spec`]).
//! - `GET .../issues/{id}/events/{event_id}/`: the spec allows only `latest`, `oldest` and
//!   `recommended` (an enum); `Client::issue_event` with a real event id is outside the spec
//!   and not tested here.
//! - The organization examples carry `links.regionUrl: https://us.sentry.io`. The client takes a
//!   region only with the scheme of its base (see `Endpoint::region`), so against Prism's
//!   `http://` nothing is learnt and every org-scoped call stays on Prism (asserted below,
//!   before any org-scoped call: there is no internet here).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde_json::Value;

use sentry_mcp_api::{ApiError, Budget, Client, ClientOptions, Endpoint, IssueUpdate, IssuesQuery};

const SPEC: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/sentry-api/openapi-derefed.json"
);
/// The organization in the spec's examples.
const ORG: &str = "the-interstellar-jurisdiction";
/// An event id of the spec's examples (and of the right form: 32 hex digits).
const EVENT_ID: &str = "9999aaaaca8b46d797c23c6077c6ff01";
const PRISM_VERSION: &str = "5";
/// Prism loads the 3.8 MB document in a few seconds; a loaded machine may need more.
const READY_WITHIN: Duration = Duration::from_secs(60);

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .canonicalize()
        .unwrap()
}

fn spec_path() -> PathBuf {
    let path = Path::new(SPEC);
    assert!(
        path.is_file(),
        "the contract test needs Sentry's OpenAPI description {} (the `shared/` folder next to \
         this repository)",
        path.display()
    );
    path.canonicalize().unwrap()
}

fn spec() -> &'static Value {
    static SPEC_JSON: OnceLock<Value> = OnceLock::new();
    SPEC_JSON.get_or_init(|| {
        let path = spec_path();
        let text = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        serde_json::from_slice(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    })
}

/// A line on the terminal even while the harness captures output.
fn progress(line: &str) {
    let _ = writeln!(std::io::stderr(), "sentry-mcp tests: {line}");
}

/// A Prism mock server: ours (killed on drop) or the one `SENTRY_MCP_PRISM_URL` names.
struct Prism {
    url: String,
    child: Option<Child>,
    log: Arc<Mutex<Vec<String>>>,
}

impl Prism {
    fn start() -> Prism {
        let spec = spec_path();
        if let Some(url) = std::env::var("SENTRY_MCP_PRISM_URL")
            .ok()
            .filter(|u| !u.trim().is_empty())
        {
            let prism = Prism {
                url: url.trim().trim_end_matches('/').to_owned(),
                child: None,
                log: Arc::default(),
            };
            // Started and waited for by whoever set the variable (`.ci/run`): a short grace.
            let deadline = Instant::now() + Duration::from_secs(10);
            loop {
                match prism.probe() {
                    Ok(()) => return prism,
                    Err(e) if Instant::now() > deadline => panic!(
                        "SENTRY_MCP_PRISM_URL={url}: no Prism mock of {} there: {e}",
                        spec.display()
                    ),
                    Err(_) => std::thread::sleep(Duration::from_millis(250)),
                }
            }
        }
        let bin = prism_bin();
        let mut last = String::new();
        // A free port can be taken between our check and Prism's bind: try a few.
        for _ in 0..3 {
            let port = TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .expect("a free local port")
                .port();
            let mut child = Command::new(&bin)
                .args(["mock", "-h", "127.0.0.1", "-p", &port.to_string()])
                .arg(&spec)
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap_or_else(|e| {
                    panic!(
                        "cannot run Prism {} ({e}); it needs node on PATH",
                        bin.display()
                    )
                });
            let log: Arc<Mutex<Vec<String>>> = Arc::default();
            for out in [
                child
                    .stdout
                    .take()
                    .map(|o| Box::new(o) as Box<dyn Read + Send>),
                child
                    .stderr
                    .take()
                    .map(|o| Box::new(o) as Box<dyn Read + Send>),
            ]
            .into_iter()
            .flatten()
            {
                let log = log.clone();
                std::thread::spawn(move || {
                    for line in BufReader::new(out).lines().map_while(Result::ok) {
                        log.lock().unwrap_or_else(|e| e.into_inner()).push(line);
                    }
                });
            }
            let mut prism = Prism {
                url: format!("http://127.0.0.1:{port}"),
                child: Some(child),
                log,
            };
            let started = Instant::now();
            loop {
                if let Some(status) = prism
                    .child
                    .as_mut()
                    .and_then(|c| c.try_wait().ok().flatten())
                {
                    last = format!("Prism exited ({status}):\n{}", prism.log_tail(30));
                    break;
                }
                match prism.probe() {
                    Ok(()) => return prism,
                    Err(e) if started.elapsed() > READY_WITHIN => panic!(
                        "Prism {} did not serve {} on port {port} within {READY_WITHIN:?} ({e}):\n{}",
                        bin.display(),
                        spec.display(),
                        prism.log_tail(30)
                    ),
                    Err(_) => std::thread::sleep(Duration::from_millis(100)),
                }
            }
        }
        panic!("could not start Prism {}: {last}", bin.display());
    }

    /// Ready, and validating: a request without a token is answered 401.
    fn probe(&self) -> Result<(), String> {
        let status = raw_get(&self.url, "organizations/", None)?;
        if status == 401 {
            Ok(())
        } else {
            Err(format!(
                "GET /api/0/organizations/ without a token answered {status}, not 401"
            ))
        }
    }

    fn endpoint(&self) -> Endpoint {
        Endpoint::from_url(&self.url).unwrap()
    }

    fn client(&self) -> Client {
        Client::new(self.endpoint(), "a-token", ClientOptions::default()).unwrap()
    }

    /// The end of Prism's log, for a failure message (its validator says what it rejected).
    fn log_tail(&self, lines: usize) -> String {
        if self.child.is_none() {
            return format!(
                "(Prism at {} is not ours; `.ci/run` writes its log to target/tools/prism/mock.log)",
                self.url
            );
        }
        let log = self.log.lock().unwrap_or_else(|e| e.into_inner());
        log[log.len().saturating_sub(lines)..].join("\n")
    }

    /// `result` is Ok, else panics with the error and what Prism logged.
    fn ok<T>(&self, what: &str, result: Result<T, ApiError>) -> T {
        result.unwrap_or_else(|e| panic!("{what}: {e:?}\nPrism's log:\n{}", self.log_tail(20)))
    }
}

impl Drop for Prism {
    fn drop(&mut self) {
        if let Some(child) = self.child.as_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The status of `GET {base}/api/0/{path}` over a plain socket (no TLS, no client library).
fn raw_get(base: &str, path: &str, token: Option<&str>) -> Result<u16, String> {
    let url = Endpoint::from_url(base)
        .and_then(|e| e.join(path))
        .map_err(|e| e.to_string())?;
    let addr = url
        .socket_addrs(|| Some(80))
        .map_err(|e| e.to_string())?
        .into_iter()
        .next()
        .ok_or("no address")?;
    let mut stream =
        TcpStream::connect_timeout(&addr, Duration::from_secs(2)).map_err(|e| e.to_string())?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .map_err(|e| e.to_string())?;
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    let target = match url.query() {
        Some(q) => format!("{}?{q}", url.path()),
        None => url.path().to_owned(),
    };
    write!(
        stream,
        "GET {target} HTTP/1.1\r\nHost: {addr}\r\nAccept: application/json\r\n{auth}\
         Connection: close\r\n\r\n"
    )
    .map_err(|e| e.to_string())?;
    let mut line = String::new();
    BufReader::new(stream)
        .read_line(&mut line)
        .map_err(|e| e.to_string())?;
    line.split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("not an HTTP answer: {line:?}"))
}

/// The Prism executable: `SENTRY_MCP_PRISM`, else `target/tools/prism`, installed there with
/// npm when missing (once, even with several test processes).
fn prism_bin() -> PathBuf {
    static BIN: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let setup = format!(
        "install it once from the repository root with:\n    \
         npm install --prefix target/tools/prism --no-audit --no-fund @stoplight/prism-cli@{PRISM_VERSION}\n\
         (`bash .ci/run` does this), or set SENTRY_MCP_PRISM to a prism {PRISM_VERSION}.x executable \
         or SENTRY_MCP_PRISM_URL to a running `prism mock` of {SPEC}"
    );
    BIN.get_or_init(|| {
        if let Some(bin) = std::env::var_os("SENTRY_MCP_PRISM").filter(|b| !b.is_empty()) {
            let bin = PathBuf::from(bin);
            return prism_version(&bin)
                .map(|_| bin.clone())
                .map_err(|e| format!("SENTRY_MCP_PRISM={}: {e}", bin.display()));
        }
        let dir = repo_root().join("target/tools/prism");
        let bin = dir.join("node_modules/.bin/prism");
        if prism_version(&bin).is_ok() {
            return Ok(bin);
        }
        install_prism(&dir)?;
        prism_version(&bin).map(|_| bin)
    })
    .clone()
    .unwrap_or_else(|e| panic!("no Prism for the API contract test: {e}\n{setup}"))
}

/// The version `bin` reports, if it is prism 5.
fn prism_version(bin: &Path) -> Result<String, String> {
    let out = Command::new(bin)
        .arg("--version")
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .map_err(|e| format!("{} cannot run: {e}", bin.display()))?;
    let version = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    if out.status.success() && version.split('.').next() == Some(PRISM_VERSION) {
        Ok(version)
    } else {
        Err(format!(
            "{} is not prism {PRISM_VERSION}.x (it says {version:?}, {})",
            bin.display(),
            out.status
        ))
    }
}

fn install_prism(dir: &Path) -> Result<(), String> {
    let lock = dir.with_extension("lock");
    std::fs::create_dir_all(dir.parent().unwrap()).map_err(|e| e.to_string())?;
    let deadline = Instant::now() + Duration::from_secs(600);
    let mut waiting_said = false;
    while std::fs::create_dir(&lock).is_err() {
        if !waiting_said {
            progress("waiting for another test process that is installing Prism");
            waiting_said = true;
        }
        if Instant::now() > deadline {
            return Err(format!(
                "{} is held by another test process",
                lock.display()
            ));
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    let bin = dir.join("node_modules/.bin/prism");
    let result = if prism_version(&bin).is_ok() {
        Ok(()) // another process installed it while this one waited
    } else {
        progress(&format!(
            "installing @stoplight/prism-cli@{PRISM_VERSION} into {} with npm (one time, ~20 s)",
            dir.display()
        ));
        let mut cmd = Command::new("npm");
        cmd.arg("install")
            .arg("--prefix")
            .arg(dir)
            .args(["--no-audit", "--no-fund"])
            .arg(format!("@stoplight/prism-cli@{PRISM_VERSION}"))
            .stdin(Stdio::null());
        match cmd.status() {
            Ok(s) if s.success() => Ok(()),
            Ok(s) => Err(format!("{cmd:?} failed: {s}")),
            Err(e) => Err(format!("{cmd:?} cannot run (is npm on PATH?): {e}")),
        }
    };
    let _ = std::fs::remove_dir(&lock);
    result
}

fn budget() -> Budget {
    Budget::new(Duration::from_secs(30))
}

fn at(rfc3339: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(rfc3339).unwrap().to_utc()
}

fn text<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("no string {key:?} in {v}"))
}

/// What `Client::update_issue` sends (it serialises the update as is) fits the spec's body
/// schema: each field is one the spec declares, of its type and, for enums, one of its values.
/// Prism itself does not check this body (see the top of the file).
fn assert_body_fits_spec(update: &IssueUpdate) {
    let body = serde_json::to_value(update).unwrap();
    let schema = &spec()["paths"]["/api/0/organizations/{organization_id_or_slug}/issues/{issue_id}/"]
        ["put"]["requestBody"]["content"]["application/json"]["schema"];
    let properties = schema["properties"]
        .as_object()
        .expect("the spec's updateOrganizationIssue body has properties");
    let fields = body.as_object().expect("an update is a JSON object");
    assert!(!fields.is_empty(), "an update sends at least one field");
    for (field, value) in fields {
        let declared = properties
            .get(field)
            .unwrap_or_else(|| panic!("the spec has no body field {field:?} (body {body})"));
        match declared["type"].as_str() {
            Some("string") => assert!(value.is_string(), "{field}: {value} is not a string"),
            Some("boolean") => assert!(value.is_boolean(), "{field}: {value} is not a boolean"),
            other => panic!("{field}: unexpected spec type {other:?}"),
        }
        if let Some(allowed) = declared["enum"].as_array() {
            assert!(
                allowed.contains(value),
                "{field}: {value} is not one of {allowed:?}"
            );
        }
    }
}

/// Every call in `calls.rs`, once or more, each `Ok` with the example's fields parsed.
#[tokio::test]
async fn every_call_passes_prism_validation_and_parses_the_examples() {
    let prism = Prism::start();
    let started = Instant::now();
    let client = prism.client();
    let b = budget();

    // GET /organizations/ (listOrganizations); the example's regionUrl is https, our base
    // http, so no region is learnt and no org-scoped call can go to us.sentry.io.
    let orgs = prism.ok("organizations", client.organizations(&b).await);
    assert_eq!(orgs.len(), 1, "{orgs:?}");
    assert_eq!(orgs[0].slug, ORG);
    assert_eq!(orgs[0].id, "2");
    assert_eq!(orgs[0].name, "The Interstellar Jurisdiction");
    assert_eq!(
        orgs[0].links.region_url.as_deref(),
        Some("https://us.sentry.io")
    );
    assert_eq!(
        client.known_region(ORG),
        None,
        "the client took the example's https region for an http base: org-scoped calls would \
         leave Prism"
    );

    // GET /organizations/{org}/projects/ (listOrganizationProjects), which first looks the
    // organization up (GET /organizations/{org}/, getOrganization) for its region.
    let projects = prism.ok("projects", client.projects(ORG, &b).await);
    assert!(!projects.is_empty());
    assert_eq!(projects[0].slug, "prime-mover");
    assert_eq!(projects[0].id, "3");
    assert_eq!(
        client.known_region(ORG),
        Some(prism.endpoint()),
        "org-scoped calls must stay on Prism"
    );

    // GET /organizations/{org}/teams/ (listOrganizationTeams).
    let teams = prism.ok("teams", client.teams(ORG, &b).await);
    assert!(!teams.is_empty());
    assert_eq!(teams[0].slug, "ancient-gabelers");
    assert_eq!(teams[0].id, "48531");

    // GET /organizations/{org}/issues/{id}/ (getOrganizationIssue).
    let issue = prism.ok("issue", client.issue(ORG, "1", &b).await);
    assert_eq!(text(&issue, "id"), "1");
    assert_eq!(text(&issue, "shortId"), "PUMP-STATION-1");

    // GET /organizations/{org}/shortids/{short_id}/ (resolveOrganizationShortId).
    let lookup = prism.ok("short_id", client.short_id(ORG, "PUMP-STATION-1", &b).await);
    assert_eq!(lookup.group_id, "1");
    assert_eq!(lookup.organization_slug.as_deref(), Some(ORG));
    assert_eq!(lookup.project_slug.as_deref(), Some("pump-station"));
    assert!(lookup.group.is_object(), "{:?}", lookup.group);

    // PUT /organizations/{org}/issues/{id}/ (updateOrganizationIssue): the updates the MCP
    // tools send (resolve, unresolve, assign, unassign). The spec has no example for the
    // answer; Prism makes one from the schema.
    let updates = [
        IssueUpdate {
            status: Some("resolved".into()),
            ..IssueUpdate::default()
        },
        IssueUpdate {
            status: Some("unresolved".into()),
            ..IssueUpdate::default()
        },
        IssueUpdate {
            assigned_to: Some("user:1".into()),
            ..IssueUpdate::default()
        },
        IssueUpdate {
            assigned_to: Some(String::new()),
            ..IssueUpdate::default()
        },
    ];
    for update in &updates {
        assert_body_fits_spec(update);
        let answered = prism.ok(
            &format!("update_issue {update:?}"),
            client.update_issue(ORG, "1", update, &b).await,
        );
        assert!(
            answered.get("id").is_some_and(Value::is_string),
            "{answered}"
        );
        assert!(answered.get("status").is_some(), "{answered}");
    }

    // GET /organizations/{org}/issues/ (listOrganizationIssues): reconcile's query (empty =
    // every status, `date`) and a search, with start/end, limit and a cursor.
    let queries = [
        (
            IssuesQuery {
                query: String::new(),
                sort: "date",
                start: at("2026-08-01T00:00:00Z"),
                end: at("2026-08-16T12:30:00Z"),
                limit: 100,
            },
            None,
        ),
        (
            IssuesQuery {
                query: "is:unresolved level:error project:pump-station".into(),
                sort: "freq",
                start: at("2026-08-15T00:00:00+02:00"),
                end: at("2026-08-16T00:00:00Z"),
                limit: 1000, // more than a page: the client asks for 100
            },
            Some("1723766400000:0:0"),
        ),
    ];
    for (query, cursor) in &queries {
        let page = prism.ok(
            &format!("issues_page {query:?} {cursor:?}"),
            client.issues_page(ORG, query, *cursor, &b).await,
        );
        assert!(!page.items.is_empty());
        assert_eq!(text(&page.items[0], "id"), "1");
        assert_eq!(text(&page.items[0], "shortId"), "PUMP-STATION-1");
        // Prism sends no Link header.
        assert_eq!(page.next, None);
    }

    // GET /organizations/{org}/issues/{id}/events/ (listOrganizationIssueEvents).
    let events = prism.ok("issue_events", client.issue_events(ORG, "1", 5, &b).await);
    assert!(!events.is_empty() && events.len() <= 5, "{events:?}");
    assert_eq!(
        text(&events[0], "eventID"),
        "9fac2ceed9344f2bbfdd1fdacb0ed9b1"
    );

    // GET /organizations/{org}/issues/{id}/events/{latest|oldest|recommended}/
    // (getOrganizationIssueEvent; the spec allows no event id here).
    for which in ["latest", "oldest", "recommended"] {
        let event = prism.ok(
            &format!("issue_event {which}"),
            client.issue_event(ORG, "1", which, &b).await,
        );
        assert_eq!(text(&event, "eventID"), EVENT_ID);
        assert_eq!(text(&event, "groupID"), "1341191803");
    }

    // GET /projects/{org}/{project}/events/{event_id}/ (getProjectEvent).
    let event = prism.ok(
        "project_event",
        client
            .project_event(ORG, "pump-station", EVENT_ID, &b)
            .await,
    );
    assert_eq!(text(&event, "eventID"), EVENT_ID);

    // GET /organizations/{org}/eventids/{event_id}/ (resolveOrganizationEventId).
    let found = prism.ok("event_lookup", client.event_lookup(ORG, EVENT_ID, &b).await);
    assert_eq!(found.group_id, "1");
    assert_eq!(found.organization_slug.as_deref(), Some(ORG));
    assert_eq!(found.project_slug.as_deref(), Some("pump-station"));
    assert!(found.event.is_object(), "{:?}", found.event);

    // GET /organizations/{org}/ (getOrganization), asked for directly.
    let org = prism.ok("organization", client.organization(ORG, &b).await);
    assert_eq!((org.slug.as_str(), org.id.as_str()), (ORG, "2"));
    assert_eq!(
        org.links.region_url.as_deref(),
        Some("https://us.sentry.io")
    );
    assert_eq!(client.known_region(ORG), Some(prism.endpoint()));

    let stats = client.stats();
    assert_eq!((stats.errors, stats.retries), (0, 0), "{stats:?}");
    progress(&format!(
        "{} requests accepted by Prism in {:.1?}",
        stats.requests,
        started.elapsed()
    ));
}

/// Prism's validation is on (so the test above can fail), and what it rejects maps to the
/// right `ApiError` without retries.
#[tokio::test]
async fn requests_prism_rejects_map_to_api_errors() {
    let prism = Prism::start();
    let client = prism.client();
    let b = budget();

    // No bearer token: 401 (the client always sends one, and refuses an empty one).
    for path in [
        "organizations/".to_owned(),
        format!("organizations/{ORG}/issues/1/"),
        format!("organizations/{ORG}/teams/"),
    ] {
        assert_eq!(raw_get(&prism.url, &path, None), Ok(401), "GET {path}");
        assert_eq!(raw_get(&prism.url, &path, Some("t")), Ok(200), "GET {path}");
    }
    assert!(matches!(
        Client::new(prism.endpoint(), " ", ClientOptions::default()),
        Err(ApiError::Config(_))
    ));

    // Organization looked up first, so each call below is one rejected request.
    prism.ok("organization", client.organization(ORG, &b).await);
    let before = client.stats();

    // A query parameter outside the spec's enum: the operation declares a 400, Prism answers it.
    let bad_sort = IssuesQuery {
        query: String::new(),
        sort: "bogus",
        start: at("2026-08-01T00:00:00Z"),
        end: at("2026-08-02T00:00:00Z"),
        limit: 10,
    };
    let err = client
        .issues_page(ORG, &bad_sort, None, &b)
        .await
        .unwrap_err();
    assert!(
        matches!(err, ApiError::Rejected { status: 400, .. }),
        "{err:?}"
    );

    // A path parameter outside the enum.
    let err = client
        .issue_event(ORG, "1", "newest", &b)
        .await
        .unwrap_err();
    assert!(
        matches!(err, ApiError::Rejected { status: 400, .. }),
        "{err:?}"
    );

    // A path parameter not matching its pattern, on an operation with no 400: Prism's own 422,
    // whose `detail` the error carries.
    let err = client
        .project_event(ORG, "pump-station", "not-an-event-id", &b)
        .await
        .unwrap_err();
    match &err {
        ApiError::Rejected {
            status: 422,
            detail,
        } => assert!(detail.contains("request is not valid"), "{detail}"),
        other => panic!("{other:?}"),
    }

    let after = client.stats();
    assert_eq!(after.requests - before.requests, 3, "4xx are not retried");
    assert_eq!(after.errors - before.errors, 3);
    assert_eq!(after.retries, before.retries);

    // And the same calls done right pass, so the rejections above are about those parameters.
    let good = IssuesQuery {
        sort: "date",
        ..bad_sort
    };
    prism.ok(
        "issues_page",
        client.issues_page(ORG, &good, None, &b).await,
    );
    prism.ok(
        "issue_event",
        client.issue_event(ORG, "1", "latest", &b).await,
    );
}
