//! The console's login and data routes through the real daemon: `POST /session` trades
//! the API secret for an HttpOnly, SameSite=Strict cookie; the cookie opens the API but
//! changes nothing without the session's CSRF header; wrong secrets, expired, foreign and
//! logged-out cookies are refused with stable codes; the page and its files are served
//! under a strict Content-Security-Policy; jobs are searched by company or title.

use std::time::Duration;

use chrono::Utc;
use job_runner::config::Settings;
use job_runner::tokens::console::ConsoleSessions;
use serde_json::{json, Value};

use crate::helpers::{job_id, posting, spawn_app, spawn_app_with, TestApp, JOB, SECRET};

/// A signed-in console: the cookie's value and the CSRF token.
struct Session {
    cookie: String,
    csrf: String,
    set_cookie: String,
}

async fn login(app: &TestApp) -> Session {
    let res = app
        .client
        .post(app.url("/session"))
        .json(&json!({"secret": SECRET}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let set_cookie = res
        .headers()
        .get("set-cookie")
        .expect("a session cookie")
        .to_str()
        .unwrap()
        .to_owned();
    let body: Value = res.json().await.unwrap();
    Session {
        cookie: cookie_value(&set_cookie),
        csrf: body["csrf_token"].as_str().expect("a CSRF token").to_owned(),
        set_cookie,
    }
}

/// `value` of `jr_session=value; ...`.
fn cookie_value(set_cookie: &str) -> String {
    set_cookie
        .split(';')
        .next()
        .and_then(|kv| kv.trim().strip_prefix("jr_session="))
        .expect("the jr_session cookie")
        .to_owned()
}

/// A request with only the session cookie (and the CSRF header when given).
fn with_cookie(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    cookie: &str,
    csrf: Option<&str>,
) -> reqwest::RequestBuilder {
    let mut req = app
        .client
        .request(method, app.url(path))
        .header("Cookie", format!("jr_session={cookie}"));
    if let Some(c) = csrf {
        req = req.header("X-CSRF-Token", c);
    }
    req
}

/// A GET without any credential, as JSON.
async fn anonymous_json(app: &TestApp, path: &str) -> Value {
    app.client
        .get(app.url(path))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

async fn refusal(res: reqwest::Response) -> (u16, String) {
    let status = res.status().as_u16();
    let body: Value = res.json().await.unwrap_or(Value::Null);
    (status, body["code"].as_str().unwrap_or("").to_owned())
}

#[actix_web::test]
async fn the_secret_is_traded_once_for_an_httponly_same_site_cookie() {
    let app = spawn_app().await;
    let session = login(&app).await;
    let attrs = session.set_cookie.to_ascii_lowercase();
    for attr in ["httponly", "samesite=strict", "path=/", "max-age=3600"] {
        assert!(attrs.contains(attr), "{attr} missing: {}", session.set_cookie);
    }
    // Plain HTTP: not Secure (the browser would drop it); over TLS (as a proxy says): Secure.
    assert!(!attrs.contains("secure"), "{}", session.set_cookie);
    let tls = app
        .client
        .post(app.url("/session"))
        .header("X-Forwarded-Proto", "https")
        .json(&json!({"secret": SECRET}))
        .send()
        .await
        .unwrap();
    let tls_cookie = tls.headers()["set-cookie"].to_str().unwrap().to_ascii_lowercase();
    assert!(tls_cookie.contains("; secure"), "{tls_cookie}");
    // Neither the cookie nor the answer holds the secret.
    assert!(!session.set_cookie.contains(SECRET));
    // The cookie alone reads the API.
    let runs = with_cookie(&app, reqwest::Method::GET, "/runs", &session.cookie, None)
        .send()
        .await
        .unwrap();
    assert_eq!(runs.status(), 200);
    // GET /session says who is signed in and hands back the same CSRF token.
    let state: Value = with_cookie(&app, reqwest::Method::GET, "/session", &session.cookie, None)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(state["authenticated"], true, "{state}");
    assert_eq!(state["csrf_token"], session.csrf.as_str());
    assert!(!state.to_string().contains(SECRET));
    // Without a cookie it answers (never refuses): not signed in.
    let anonymous: Value = anonymous_json(&app, "/session").await;
    assert_eq!(anonymous, json!({"authenticated": false, "auth": "on"}));
}

#[actix_web::test]
async fn a_wrong_or_missing_secret_gets_no_session() {
    let app = spawn_app().await;
    for (body, status, code) in [
        (json!({"secret": "not-the-secret-0123456789"}), 401, "INVALID_SECRET"),
        (json!({"secret": ""}), 401, "INVALID_SECRET"),
        (json!({"secret": format!("{SECRET}x")}), 401, "INVALID_SECRET"),
        (json!({}), 422, "VALIDATION_FAILED"),
        (json!({"secret": 42}), 422, "VALIDATION_FAILED"),
    ] {
        let res = app.client.post(app.url("/session")).json(&body).send().await.unwrap();
        assert!(res.headers().get("set-cookie").is_none(), "{body}");
        assert_eq!(refusal(res).await, (status, code.to_owned()), "{body}");
    }
    // Without a session or bearer the API stays shut.
    let res = app.client.get(app.url("/runs")).send().await.unwrap();
    assert_eq!(refusal(res).await, (401, "UNAUTHORIZED".to_owned()));
}

#[actix_web::test]
async fn a_cookie_changes_nothing_without_the_sessions_csrf_header() {
    let app = spawn_app().await;
    let s = login(&app).await;
    let run = |csrf: Option<&str>| {
        with_cookie(&app, reqwest::Method::POST, "/jobs/run", &s.cookie, csrf)
            .json(&json!({"job_id": JOB}))
            .send()
    };
    assert_eq!(
        refusal(run(None).await.unwrap()).await,
        (403, "CSRF_TOKEN_MISSING".to_owned())
    );
    assert_eq!(
        refusal(run(Some("0123456789abcdef0123456789abcdef")).await.unwrap()).await,
        (403, "CSRF_TOKEN_INVALID".to_owned())
    );
    // Nothing was queued by the refused requests.
    let runs = app.get_json("/runs").await;
    assert_eq!(runs["total"], 0, "{runs}");
    // A request another site's page makes is refused even with the token.
    let cross = with_cookie(&app, reqwest::Method::GET, "/runs", &s.cookie, None)
        .header("Sec-Fetch-Site", "cross-site")
        .send()
        .await
        .unwrap();
    assert_eq!(refusal(cross).await, (403, "CROSS_SITE_REQUEST".to_owned()));
    // With the header it works, and the audit trail names the session, never the cookie.
    let ok = run(Some(&s.csrf)).await.unwrap();
    assert_eq!(ok.status(), 200);
    let audit = app.get_json("/audit").await;
    let entry = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["path"] == "/jobs/run" && e["status"] == 200)
        .unwrap_or_else(|| panic!("no audit entry: {audit}"))
        .clone();
    assert!(entry["actor"].as_str().unwrap().starts_with("session:"), "{entry}");
    assert!(!audit.to_string().contains(&s.cookie));
}

#[actix_web::test]
async fn expired_and_foreign_cookies_are_refused_and_the_page_is_told_why() {
    let app = spawn_app().await;
    let sessions = ConsoleSessions::new(SECRET, Duration::from_secs(3600));
    let expired = sessions.issue(Utc::now() - chrono::Duration::hours(2)).unwrap().token;
    let foreign = ConsoleSessions::new("another-secret-0123456789", Duration::from_secs(3600))
        .issue(Utc::now())
        .unwrap()
        .token;
    for (cookie, code) in [
        (expired.as_str(), "SESSION_EXPIRED"),
        (foreign.as_str(), "SESSION_INVALID"),
        ("not-a-jwt", "SESSION_INVALID"),
    ] {
        let res = with_cookie(&app, reqwest::Method::GET, "/runs", cookie, None)
            .send()
            .await
            .unwrap();
        assert_eq!(refusal(res).await, (401, code.to_owned()), "{cookie}");
        // The page asks GET /session first: told why, and the dead cookie is cleared.
        let res = with_cookie(&app, reqwest::Method::GET, "/session", cookie, None)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        let clear = res.headers()["set-cookie"].to_str().unwrap().to_ascii_lowercase();
        assert!(clear.contains("max-age=0"), "{clear}");
        let body: Value = res.json().await.unwrap();
        assert_eq!(
            (body["authenticated"].clone(), body["reason"].clone()),
            (json!(false), json!(code))
        );
    }
}

#[actix_web::test]
async fn logout_ends_the_session_for_good() {
    let app = spawn_app().await;
    let s = login(&app).await;
    // Logging out is a change of state: the CSRF header is needed.
    let res = with_cookie(&app, reqwest::Method::DELETE, "/session", &s.cookie, None)
        .send()
        .await
        .unwrap();
    assert_eq!(refusal(res).await, (403, "CSRF_TOKEN_MISSING".to_owned()));
    let res = with_cookie(&app, reqwest::Method::DELETE, "/session", &s.cookie, Some(&s.csrf))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_ascii_lowercase()
        .contains("max-age=0"));
    // A copy of the cookie kept elsewhere no longer works.
    let res = with_cookie(&app, reqwest::Method::GET, "/runs", &s.cookie, None)
        .send()
        .await
        .unwrap();
    assert_eq!(refusal(res).await, (401, "SESSION_REVOKED".to_owned()));
    // Logging out again (or without a session) answers the same.
    let again = app.client.delete(app.url("/session")).send().await.unwrap();
    assert_eq!(again.status(), 200);
}

#[actix_web::test]
async fn a_session_in_use_is_renewed_with_the_same_id_and_csrf_token() {
    let app = spawn_app_with(|s: &mut Settings| s.server.session_ttl = Duration::from_secs(120), &[]).await;
    let sessions = ConsoleSessions::new(SECRET, Duration::from_secs(120));
    // Issued 100 s ago: 20 s left of 120, so the next request renews it.
    let old = sessions.issue(Utc::now() - chrono::Duration::seconds(100)).unwrap();
    let res = with_cookie(&app, reqwest::Method::GET, "/runs", &old.token, None)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let renewed = cookie_value(res.headers()["set-cookie"].to_str().unwrap());
    let claims = sessions.verify(&renewed).unwrap();
    assert_eq!((&claims.jti, &claims.csrf), (&old.claims.jti, &old.claims.csrf));
    assert!(claims.exp > old.claims.exp + 60, "{} vs {}", claims.exp, old.claims.exp);
    // A fresh one is left alone.
    let fresh = login(&app).await;
    let res = with_cookie(&app, reqwest::Method::GET, "/runs", &fresh.cookie, None)
        .send()
        .await
        .unwrap();
    assert!(res.headers().get("set-cookie").is_none());
}

#[actix_web::test]
async fn the_console_is_served_under_a_strict_policy_and_can_be_turned_off() {
    let app = spawn_app().await;
    let page = app.client.get(app.url("/")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let csp = page.headers()["content-security-policy"].to_str().unwrap().to_owned();
    assert!(csp.contains("script-src 'self';") && !csp.contains("unsafe"), "{csp}");
    assert!(
        csp.contains("frame-ancestors 'none'") && csp.contains("connect-src 'self'"),
        "{csp}"
    );
    assert!(page.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let html = page.text().await.unwrap();
    assert!(
        html.contains(r#""auth":"on""#) && html.contains(r#""name":"batch-pipeline","full":true"#),
        "{html}"
    );
    assert!(!html.contains(SECRET));
    for (file, kind) in [("console.js", "text/javascript"), ("console.css", "text/css")] {
        let res = app
            .client
            .get(app.url(&format!("/console/{file}")))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{file}");
        assert!(
            res.headers()["content-type"].to_str().unwrap().starts_with(kind),
            "{file}"
        );
    }
    let missing = app.client.get(app.url("/console/app.js")).send().await.unwrap();
    assert_eq!(refusal(missing).await, (404, "NOT_FOUND".to_owned()));

    let off = spawn_app_with(|s: &mut Settings| s.server.enable_console = false, &[]).await;
    let res = off.client.get(off.url("/")).send().await.unwrap();
    assert_eq!(refusal(res).await, (404, "NOT_FOUND".to_owned()));
    let res = off.client.get(off.url("/console/console.js")).send().await.unwrap();
    assert_eq!(refusal(res).await, (404, "NOT_FOUND".to_owned()));
}

#[actix_web::test]
async fn without_a_secret_the_console_needs_no_login() {
    let app = spawn_app_with(|s: &mut Settings| s.server.runner_api_secret = None, &[]).await;
    let state: Value = anonymous_json(&app, "/session").await;
    assert_eq!(state["auth"], "off");
    assert_eq!(state["authenticated"], true);
    let html = app.client.get(app.url("/")).send().await.unwrap().text().await.unwrap();
    assert!(html.contains(r#""auth":"off""#));
}

#[actix_web::test]
async fn jobs_are_found_by_company_or_title_and_runs_list_their_stages() {
    let nurse = {
        let mut p = posting(&job_id(5), None);
        p.company = "St. Mary's Hospital".into();
        p.title = "Staff Nurse".into();
        p
    };
    let app = spawn_app_with(|_| {}, &[nurse]).await;
    let found = app.get_json("/jobs?q=nurse").await;
    assert_eq!(found["jobs"].as_array().unwrap().len(), 1, "{found}");
    assert_eq!(found["jobs"][0]["job_id"], job_id(5).as_str());
    assert_eq!(found["jobs"][0]["company"], "St. Mary's Hospital");
    let all = app.get_json("/jobs").await;
    assert_eq!(all["jobs"].as_array().unwrap().len(), 2, "{all}");
    for (query, code) in [
        (format!("/jobs?q={}", "a".repeat(201)), "VALIDATION_FAILED"),
        ("/jobs?limit=0".to_owned(), "VALIDATION_FAILED"),
        ("/jobs?limit=many".to_owned(), "VALIDATION_FAILED"),
        ("/runs?include=everything".to_owned(), "VALIDATION_FAILED"),
        ("/runs?include=stages&limit=101".to_owned(), "VALIDATION_FAILED"),
    ] {
        assert_eq!(refusal(app.get(&query).await).await, (422, code.to_owned()), "{query}");
    }
    let run = app.start_run(JOB).await;
    app.wait_for_end(&run).await;
    let page = app.get_json("/runs?include=stages").await;
    let row = &page["runs"][0];
    assert_eq!(row["run_id"], run.as_str());
    assert_eq!(row["job"]["company"], "Northwind Logistics", "{row}");
    let stages = row["stages"].as_array().unwrap();
    assert_eq!(stages.len(), 8, "{row}");
    assert!(
        stages
            .iter()
            .all(|s| s["status"] == "completed" && s["producer"] == "offline"),
        "{row}"
    );
    assert!(row["cost_so_far_usd"].is_number(), "{row}");
    // Without include, the rows stay as the dashboard knows them.
    assert!(app.get_json("/runs").await["runs"][0].get("stages").is_none());
}

#[actix_web::test]
async fn a_reopened_stream_resumes_after_the_line_its_query_names() {
    let app = spawn_app().await;
    let run = app.start_run(JOB).await;
    let all = app.stream_logs(&run, None).await;
    let ids: Vec<u64> = all.iter().filter_map(|e| e.id).collect();
    assert!(ids.len() > 10, "{} lines", ids.len());
    let from = ids[ids.len() - 4];
    let raw = |query: String, header: Option<u64>| {
        let mut req = app
            .client
            .get(app.url(&format!("/jobs/{run}/logs{query}")))
            .bearer_auth(SECRET);
        if let Some(h) = header {
            req = req.header("Last-Event-ID", h.to_string());
        }
        req.send()
    };
    let resumed = |body: &str| -> Vec<u64> { crate::sse::parse_sse(body).iter().filter_map(|e| e.id).collect() };
    // What a new EventSource sends when it reopens: the query, no header; and the
    // browser's own reconnect header, which wins over the query.
    for (query, header) in [
        (format!("?last_event_id={from}"), None),
        ("?last_event_id=1".to_owned(), Some(from)),
    ] {
        let body = raw(query, header).await.unwrap().text().await.unwrap();
        assert_eq!(resumed(&body), ids[ids.len() - 3..].to_vec());
        assert!(body.contains("event: end"), "{body}");
    }
    let bad = raw("?last_event_id=soon".to_owned(), None).await.unwrap();
    assert_eq!(refusal(bad).await, (422, "VALIDATION_FAILED".to_owned()));
}
