#![allow(clippy::disallowed_methods)] // tests build fixed times

//! The client against a wiremock Sentry: retries, rate limits, the time budget, pagination,
//! status mapping and regions, over real HTTP.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use wiremock::matchers::{header, method, path, query_param};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

use crate::{ApiError, Budget, Client, ClientOptions, Endpoint, IssueUpdate, IssuesQuery};

const TOKEN: &str = "sntrys_test_token_0123456789";

fn quick() -> ClientOptions {
    ClientOptions {
        backoff_base: Duration::from_millis(20),
        backoff_cap: Duration::from_millis(80),
        request_timeout: Duration::from_millis(500),
        ..ClientOptions::default()
    }
}

fn client(server: &MockServer) -> Client {
    Client::new(Endpoint::from_url(&server.uri()).unwrap(), TOKEN, quick()).unwrap()
}

fn budget() -> Budget {
    Budget::new(Duration::from_secs(5))
}

/// An org whose region is the mock itself, so org-scoped calls need no extra setup.
async fn org(server: &MockServer, slug: &str) {
    Mock::given(method("GET"))
        .and(path(format!("/api/0/organizations/{slug}/")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": "1", "slug": slug, "name": "Acme", "links": {"regionUrl": server.uri()}
        })))
        .mount(server)
        .await;
}

async fn requests_to(server: &MockServer, p: &str) -> Vec<Request> {
    server
        .received_requests()
        .await
        .unwrap_or_default()
        .into_iter()
        .filter(|r| r.url.path() == p)
        .collect()
}

#[tokio::test]
async fn retries_5xx_then_succeeds_and_sends_the_token() {
    let server = MockServer::start().await;
    org(&server, "acme").await;
    let p = "/api/0/organizations/acme/issues/7/";
    Mock::given(method("GET"))
        .and(path(p))
        .respond_with(ResponseTemplate::new(502))
        .up_to_n_times(2)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(p))
        .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": "7"})))
        .mount(&server)
        .await;
    let c = client(&server);
    let issue = c.issue("acme", "7", &budget()).await.unwrap();
    assert_eq!(issue["id"], "7");
    assert_eq!(requests_to(&server, p).await.len(), 3);
    let stats = c.stats();
    assert_eq!((stats.retries, stats.errors), (2, 0));
}

#[tokio::test]
async fn persistent_5xx_gives_up_after_the_attempts() {
    let server = MockServer::start().await;
    org(&server, "acme").await;
    Mock::given(method("GET"))
        .and(path("/api/0/organizations/acme/issues/7/"))
        .respond_with(ResponseTemplate::new(503))
        .mount(&server)
        .await;
    let c = client(&server);
    let err = c.issue("acme", "7", &budget()).await.unwrap_err();
    assert_eq!(
        err,
        ApiError::Unavailable {
            status: 503,
            attempts: 4
        }
    );
    assert!(err.to_string().contains("retry in a minute"), "{err}");
    assert_eq!(c.stats().errors_last_hour, 1);
}

#[tokio::test]
async fn rate_limits_wait_for_retry_after_or_the_reset() {
    let server = MockServer::start().await;
    org(&server, "acme").await;
    let p = "/api/0/organizations/acme/issues/1/";
    Mock::given(method("GET"))
        .and(path(p))
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "1"))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(p))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": "1"})))
        .mount(&server)
        .await;
    let c = client(&server);
    let t = Instant::now();
    c.issue("acme", "1", &budget()).await.unwrap();
    assert!(
        t.elapsed() >= Duration::from_millis(950),
        "{:?}",
        t.elapsed()
    );

    // No Retry-After: the reset header says when; further than the budget, so the answer is
    // at once, with the wait.
    let reset = chrono::Utc::now().timestamp() + 30;
    let p = "/api/0/organizations/acme/issues/2/";
    Mock::given(method("GET"))
        .and(path(p))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("x-sentry-rate-limit-reset", reset.to_string().as_str()),
        )
        .mount(&server)
        .await;
    let t = Instant::now();
    let err = c.issue("acme", "2", &budget()).await.unwrap_err();
    assert!(
        t.elapsed() < Duration::from_secs(1),
        "did not sleep past the budget"
    );
    match err {
        ApiError::RateLimited { retry_after } => {
            assert!(
                (28..=30).contains(&retry_after.as_secs()),
                "{retry_after:?}"
            )
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(requests_to(&server, p).await.len(), 1);
}

#[tokio::test]
async fn a_slow_sentry_is_cut_off_by_the_budget() {
    let server = MockServer::start().await;
    org(&server, "acme").await;
    Mock::given(method("GET"))
        .and(path("/api/0/organizations/acme/issues/9/"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(30)))
        .mount(&server)
        .await;
    let c = client(&server);
    let t = Instant::now();
    let err = c
        .issue("acme", "9", &Budget::new(Duration::from_millis(1500)))
        .await
        .unwrap_err();
    let took = t.elapsed();
    assert!(matches!(err, ApiError::Timeout { .. }), "{err:?}");
    assert!(
        took < Duration::from_millis(2000),
        "the budget bounds the call: {took:?}"
    );
    assert!(
        requests_to(&server, "/api/0/organizations/acme/issues/9/")
            .await
            .len()
            >= 2,
        "each attempt times out and is retried while the budget lasts"
    );
}

#[tokio::test]
async fn statuses_map_to_errors_that_say_what_to_do() {
    let server = MockServer::start().await;
    org(&server, "acme").await;
    for (id, status) in [("401", 401), ("403", 403), ("404", 404), ("400", 400)] {
        Mock::given(path(format!("/api/0/organizations/acme/issues/{id}/")))
            .respond_with(ResponseTemplate::new(status).set_body_json(json!({"detail": "nope"})))
            .mount(&server)
            .await;
    }
    let c = client(&server);
    let b = budget();
    assert_eq!(
        c.issue("acme", "401", &b).await,
        Err(ApiError::Unauthorized)
    );
    let err = c
        .update_issue("acme", "403", &IssueUpdate::default(), &b)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("event:write"), "{err}");
    let err = c.issue("acme", "404", &b).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "Sentry has no issue 404 in organization \"acme\" (404)"
    );
    let err = c.issue("acme", "400", &b).await.unwrap_err();
    assert_eq!(err.to_string(), "Sentry refused the request (400): nope");
    for e in [
        ApiError::Unauthorized.to_string(),
        format!("{c:?}"),
        format!("{:?}", c.issue("acme", "401", &b).await),
    ] {
        assert!(!e.contains(TOKEN), "{e}");
    }
    // No retries for answers that will not change.
    assert_eq!(c.stats().retries, 0);
}

#[tokio::test]
async fn pagination_follows_next_while_results_are_true() {
    let server = MockServer::start().await;
    org(&server, "acme").await;
    let link = |next: &str, more: bool| {
        format!(
            "<{u}/api/0/organizations/acme/projects/?cursor=0:0:1>; rel=\"previous\"; results=\"false\"; cursor=\"0:0:1\", \
             <{u}/api/0/organizations/acme/projects/?cursor={next}>; rel=\"next\"; results=\"{more}\"; cursor=\"{next}\"",
            u = server.uri()
        )
    };
    let page =
        |slugs: &[&str]| Value::Array(slugs.iter().map(|s| json!({"id": 1, "slug": s})).collect());
    Mock::given(path("/api/0/organizations/acme/projects/"))
        .and(query_param("cursor", "0:100:0"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(page(&["c"]))
                .insert_header("link", link("0:200:0", false).as_str()),
        )
        .mount(&server)
        .await;
    Mock::given(path("/api/0/organizations/acme/projects/"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(page(&["a", "b"]))
                .insert_header("link", link("0:100:0", true).as_str()),
        )
        .mount(&server)
        .await;
    let c = client(&server);
    let projects = c.projects("acme", &budget()).await.unwrap();
    let slugs: Vec<_> = projects.iter().map(|p| p.slug.as_str()).collect();
    assert_eq!(slugs, ["a", "b", "c"]);
    assert_eq!(
        requests_to(&server, "/api/0/organizations/acme/projects/")
            .await
            .len(),
        2
    );
}

#[tokio::test]
async fn an_organization_in_another_region_is_asked_there() {
    let control = MockServer::start().await;
    let region = MockServer::start().await;
    Mock::given(path("/api/0/organizations/acme/"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": "1", "slug": "acme", "links": {"regionUrl": region.uri(), "organizationUrl": "x"}
        })))
        .mount(&control)
        .await;
    Mock::given(path("/api/0/organizations/acme/issues/5/"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": "5"})))
        .mount(&region)
        .await;
    let c = client(&control);
    for _ in 0..2 {
        c.issue("acme", "5", &budget()).await.unwrap();
    }
    assert_eq!(
        requests_to(&region, "/api/0/organizations/acme/issues/5/")
            .await
            .len(),
        2
    );
    assert_eq!(
        requests_to(&control, "/api/0/organizations/acme/")
            .await
            .len(),
        1,
        "the region is read once"
    );
}

#[tokio::test]
async fn self_hosted_answers_without_links_or_optional_fields_work() {
    let server = MockServer::start().await;
    Mock::given(path("/api/0/organizations/"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([{"slug": "sh", "id": 3}])))
        .mount(&server)
        .await;
    Mock::given(path("/api/0/organizations/sh/"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"slug": "sh"})))
        .mount(&server)
        .await;
    Mock::given(path("/api/0/organizations/sh/issues/"))
        .and(query_param("query", ""))
        .and(query_param("sort", "date"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([{"id": 1}])))
        .mount(&server)
        .await;
    let c = client(&server);
    let orgs = c.organizations(&budget()).await.unwrap();
    assert_eq!((orgs[0].slug.as_str(), orgs[0].id.as_str()), ("sh", "3"));
    let now = chrono::Utc::now();
    let q = IssuesQuery {
        query: String::new(),
        sort: "date",
        start: now - chrono::Duration::days(1),
        end: now,
        limit: 100,
    };
    let page = c.issues_page("sh", &q, None, &budget()).await.unwrap();
    assert_eq!(
        (page.items.len(), page.next),
        (1, None),
        "no Link header: one page"
    );
}

#[tokio::test]
async fn an_unreachable_sentry_is_named_without_the_token() {
    // A port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let c = Client::new(
        Endpoint::from_url(&format!("http://127.0.0.1:{port}")).unwrap(),
        TOKEN,
        quick(),
    )
    .unwrap();
    let err = c.organizations(&budget()).await.unwrap_err();
    assert!(matches!(err, ApiError::Unreachable { .. }), "{err:?}");
    assert!(err.to_string().contains("127.0.0.1"), "{err}");
    assert!(!err.to_string().contains(TOKEN));
    assert_eq!(c.stats().requests, 4, "connection errors are retried");
}
