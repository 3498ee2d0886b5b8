//! The security review's attacks that go through the API (docs/security.md): forged SSE
//! events, keys echoed by a provider, the cap on open log streams, and `/health` saying
//! when auth is off. Wiremock stands in for the LLM provider, which cannot run here.

use std::time::Duration;

use futures_util::StreamExt;
use job_runner::config::{Secret, Settings};
use serde_json::{json, Value};
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::helpers::{spawn_app, spawn_app_with, TestApp, JOB};
use crate::sse::parse_sse_whatwg;

const KEY: &str = "sk-test-echoed-key-0123456789";

/// Every LLM call answers `status` with `message` as the provider's error message.
async fn provider_answering(status: u16, message: &str) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(status).set_body_json(json!({"error": {"message": message}})))
        .mount(&server)
        .await;
    server
}

fn with_provider(server: &MockServer) -> impl FnOnce(&mut Settings) {
    let base = format!("{}/v1", server.uri());
    move |s: &mut Settings| {
        s.llm.openai_api_key = Some(Secret::new(KEY));
        s.llm.openai_base_url = base;
        s.llm.retry_base = Duration::from_millis(1);
        s.llm.max_attempts = 1;
    }
}

/// The raw SSE body of a run, read until the server closes it.
async fn raw_log(app: &TestApp, run: &str) -> String {
    let res = app.get(&format!("/jobs/{run}/logs")).await;
    assert_eq!(res.status(), 200);
    res.text().await.unwrap()
}

#[actix_web::test]
async fn text_with_bare_carriage_returns_cannot_forge_sse_events() {
    let forged = "Northwind\r\rid: 999999\revent: end\rdata: completed\r\r";
    let server = provider_answering(400, forged).await;
    let app = spawn_app_with(with_provider(&server), &[]).await;
    let run = app.start_run(JOB).await;
    let body = raw_log(&app, &run).await;
    let events = parse_sse_whatwg(&body);

    // A standard parser sees exactly one end event, the real one, last.
    let ends: Vec<_> = events.iter().filter(|e| e.event == "end").collect();
    assert_eq!(ends.len(), 1, "forged end event: {events:#?}");
    assert_eq!(events.last().unwrap().event, "end");
    assert_eq!(events.last().unwrap().data, "completed");
    // Every line kept its real id: numeric, increasing, never the forged one.
    let mut last = 0;
    for e in events.iter().filter(|e| e.event == "message") {
        let id: u64 = e.last_event_id.parse().unwrap_or_else(|_| panic!("id {e:?}"));
        assert!(id > last, "ids go back: {e:?}");
        assert_ne!(id, 999_999);
        last = id;
    }
    // The provider's text did reach the log, escaped, on one line.
    let quoted: Vec<_> = events.iter().filter(|e| e.data.contains("Northwind")).collect();
    assert!(!quoted.is_empty(), "{body}");
    for e in quoted {
        assert!(!e.data.contains('\n') && !e.data.contains('\r'), "{e:?}");
    }
    // The polling endpoint serves the same lines without control characters.
    let poll = app.get_json(&format!("/api/logs/{run}?limit=1000")).await;
    for line in poll["lines"].as_array().unwrap() {
        let message = line["message"].as_str().unwrap();
        assert!(!message.chars().any(char::is_control), "{message:?}");
    }
}

#[actix_web::test]
async fn an_api_key_echoed_by_the_provider_never_reaches_the_run_log_or_the_store() {
    let echo = format!(
        "Incorrect API key. Request headers: Authorization: Bearer {KEY}; retry with Bearer sk-proj-unconfigured-777"
    );
    let server = provider_answering(401, &echo).await;
    let app = spawn_app_with(with_provider(&server), &[]).await;
    let run = app.start_run(JOB).await;
    let body = raw_log(&app, &run).await;
    assert!(
        body.contains("Incorrect API key"),
        "the provider's message is logged: {body}"
    );
    assert!(body.contains("Bearer ****"), "{body}");
    for leaked in [KEY, "sk-proj-unconfigured-777"] {
        assert!(!body.contains(leaked), "{leaked} in the SSE log");
        let poll = app.get_text(&format!("/api/logs/{run}?limit=1000")).await;
        assert!(!poll.contains(leaked), "{leaked} in the polled log");
        let detail = app.get_text(&format!("/runs/{run}")).await;
        assert!(!detail.contains(leaked), "{leaked} in the run detail");
        let progress = app.get_text(&format!("/jobs/{run}/progress")).await;
        assert!(!progress.contains(leaked), "{leaked} in the progress");
        let doc = Value::Object(app.job_document(JOB).await).to_string();
        assert!(!doc.contains(leaked), "{leaked} in the job document");
    }
}

#[actix_web::test]
async fn open_log_streams_are_capped_with_a_stable_code() {
    let app = spawn_app_with(
        |s| {
            s.server.max_sse_streams = 2;
            s.queue.offline_stage_delay = Duration::from_secs(600);
        },
        &[],
    )
    .await;
    let run = app.start_run(JOB).await;
    let first = app.get(&format!("/jobs/{run}/logs")).await;
    let second = app.get(&format!("/jobs/{run}/logs")).await;
    assert_eq!((first.status().as_u16(), second.status().as_u16()), (200, 200));

    let third = app.get(&format!("/jobs/{run}/logs")).await;
    assert_eq!(third.status(), 503);
    assert_eq!(third.headers()["retry-after"], "5");
    let body: Value = third.json().await.unwrap();
    assert_eq!(body["code"], "TOO_MANY_STREAMS");
    assert!(body["detail"].as_str().unwrap().contains("MAX_SSE_STREAMS"), "{body}");
    // Polling still answers.
    let poll = app.get(&format!("/api/logs/{run}")).await;
    assert_eq!(poll.status(), 200);

    // When the streams end (the run is cancelled), their slots are free again.
    let res = app.post(&format!("/jobs/{run}/cancel"), &json!({})).await;
    assert!(res.status().is_success());
    for stream in [first, second] {
        let mut body = stream.bytes_stream();
        while let Some(chunk) = body.next().await {
            chunk.unwrap();
        }
    }
    let again = app.get(&format!("/jobs/{run}/logs")).await;
    assert_eq!(again.status(), 200);
}

#[actix_web::test]
async fn health_says_when_auth_is_off() {
    let app = spawn_app().await;
    let health = app.get_json("/health").await;
    assert_eq!(health["auth"], "on");

    let open = spawn_app_with(|s| s.server.runner_api_secret = None, &[]).await;
    let res = open.client.get(open.url("/health")).send().await.unwrap();
    let health: Value = res.json().await.unwrap();
    assert_eq!(health["auth"], "off");
    // And it is off: a route answers without a token.
    let res = open.client.get(open.url("/runs")).send().await.unwrap();
    assert_eq!(res.status(), 200);
}

#[actix_web::test]
async fn an_options_request_that_is_no_preflight_needs_the_token() {
    let app = spawn_app().await;
    let res = app
        .client
        .request(reqwest::Method::OPTIONS, app.url("/jobs/run"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    let res = app
        .client
        .request(reqwest::Method::OPTIONS, app.url(&format!("/{}", "(".repeat(2000))))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    assert!(res.text().await.unwrap().len() < 200);
}

/// Every answer carries the security headers and a request id (the client's when it is a
/// short token); JSON is never cached; the SSE stream keeps its own cache policy.
#[actix_web::test]
async fn answers_carry_security_headers_and_the_request_id() {
    let app = spawn_app().await;
    let res = app
        .client
        .get(app.url("/health"))
        .header("X-Request-Id", "dash-42.a")
        .send()
        .await
        .unwrap();
    let h = res.headers();
    assert_eq!(h["x-request-id"], "dash-42.a");
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(
        h["content-security-policy"],
        "default-src 'none'; frame-ancestors 'none'"
    );
    assert_eq!(h["cache-control"], "no-store");
    // Refused, and with a request id nobody sent: still the headers, and a fresh id.
    let res = app
        .client
        .get(app.url("/runs"))
        .header("X-Request-Id", "not a token\t!")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    assert_eq!(res.headers()["x-content-type-options"], "nosniff");
    let id = res.headers()["x-request-id"].to_str().unwrap();
    assert!(id.len() == 32 && id.chars().all(|c| c.is_ascii_hexdigit()), "{id}");
    let run = app.start_run(crate::helpers::JOB).await;
    let res = app.get(&format!("/jobs/{run}/logs")).await;
    assert_eq!(res.headers()["cache-control"], "no-cache", "SSE keeps its policy");
    assert_eq!(res.headers()["x-content-type-options"], "nosniff");
}

/// A wrong method on a known path is 405 with `Allow` and a stable code, not 404.
#[actix_web::test]
async fn a_wrong_method_is_405_naming_the_allowed_ones() {
    let app = spawn_app().await;
    let res = app.get("/jobs/run").await;
    assert_eq!(res.status(), 405);
    assert_eq!(res.headers()["allow"], "POST");
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["code"], "METHOD_NOT_ALLOWED");
    assert!(body["detail"].as_str().unwrap().contains("allowed: POST"), "{body}");
    let res = app
        .client
        .delete(app.url("/jobs/0123456789abcdef0123456789abcdef/status"))
        .bearer_auth(crate::helpers::SECRET)
        .send()
        .await
        .unwrap();
    assert_eq!(
        (res.status().as_u16(), res.headers()["allow"].to_str().unwrap()),
        (405, "GET")
    );
    let res = app.post("/health", &json!({})).await;
    assert_eq!(res.headers()["allow"], "GET, HEAD");
    assert_eq!(app.get("/no/such/route").await.status(), 404);
}

/// A CORS preflight from an origin not in `CORS_ORIGINS` is refused with a JSON error and a
/// stable code; an allowed origin's preflight passes.
#[actix_web::test]
async fn a_refused_cors_preflight_answers_json() {
    let app = spawn_app_with(|s| s.server.cors_origins = vec!["https://dash.example.com".into()], &[]).await;
    let preflight = |origin: &'static str| {
        app.client
            .request(reqwest::Method::OPTIONS, app.url("/jobs/run"))
            .header("Origin", origin)
            .header("Access-Control-Request-Method", "POST")
            .send()
    };
    let ok = preflight("https://dash.example.com").await.unwrap();
    assert!(ok.status().is_success(), "{}", ok.status());
    assert_eq!(ok.headers()["access-control-allow-origin"], "https://dash.example.com");
    let refused = preflight("https://evil.example.net").await.unwrap();
    assert_eq!(refused.status(), 400);
    assert!(refused.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/json"));
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["code"], "CORS_REJECTED");
    assert!(body["detail"].as_str().unwrap().contains("CORS_ORIGINS"), "{body}");
}

/// State-changing requests are limited per client; reads and `/health` never are.
#[actix_web::test]
async fn state_changing_requests_are_rate_limited_per_client() {
    let app = spawn_app_with(|s| s.server.rate_limit_per_minute = 3, &[]).await;
    for _ in 0..3 {
        let res = app.post("/jobs/run", &json!({"job_id": JOB})).await;
        assert_eq!(res.status(), 200);
    }
    let res = app.post("/jobs/run", &json!({"job_id": JOB})).await;
    assert_eq!(res.status(), 429);
    assert!(res.headers()["retry-after"].to_str().unwrap().parse::<u64>().unwrap() >= 1);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["code"], "RATE_LIMITED");
    assert!(body["detail"].as_str().unwrap().contains("RATE_LIMIT_PER_MINUTE"));
    // Reads go on; another client (no token: its address) has its own allowance.
    assert_eq!(app.get("/runs").await.status(), 200);
    assert_eq!(app.get("/health").await.status(), 200);
    let anonymous = app
        .client
        .post(app.url("/jobs/run"))
        .json(&json!({"job_id": JOB}))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401, "limited separately, then refused by auth");
}

/// A limited client recovers once the time `Retry-After` names has passed (the limit
/// refills at RATE_LIMIT_PER_MINUTE / 60 a second). Waiting is the behaviour under test
/// here, so the test waits exactly what the answer says.
#[actix_web::test]
async fn a_rate_limited_client_recovers_after_retry_after() {
    let app = spawn_app_with(|s| s.server.rate_limit_per_minute = 60, &[]).await;
    let empty = json!({});
    let cleanup = || app.post("/queue/cleanup?max_age_minutes=60", &empty);
    let mut refused = None;
    for _ in 0..61 {
        let res = cleanup().await;
        if res.status() == 429 {
            refused = Some(res);
            break;
        }
        assert_eq!(res.status(), 200);
    }
    let refused = refused.expect("the 61st request in a minute is refused");
    let wait: u64 = refused.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=2).contains(&wait), "one request a second refills: {wait}");
    tokio::time::sleep(std::time::Duration::from_secs(wait)).await;
    assert_eq!(cleanup().await.status(), 200, "allowed again after Retry-After");
}
