//! Run-scoped read tokens (JWT) and the audit trail, through the real daemon: a run
//! request answers a `stream_token` that opens exactly that run's stream, status,
//! progress and artifacts without the API secret; forged, expired, foreign, revoked and
//! misused tokens are refused with 401 and a stable code; every state-changing request
//! lands in `GET /audit` with who made it (never the credential) and the outcome.

use std::time::Duration;

use job_runner::config::{Secret, Settings};
use job_runner::domain::RunId;
use job_runner::tokens::RunTokens;
use serde_json::{json, Value};

use crate::helpers::{job_id, posting, spawn_app, spawn_app_with, TestApp, JOB, SECRET};
use crate::sse::parse_sse;

const JWT_KEY: &str = "jwt-test-key-0123456789abcdef-0123456789";

fn with_tokens(s: &mut Settings) {
    s.server.jwt_secret = Some(Secret::new(JWT_KEY));
}

/// A request with no API secret, only the given token as bearer (or none).
async fn get_with(app: &TestApp, path: &str, bearer: Option<&str>) -> reqwest::Response {
    let mut req = app.client.get(app.url(path));
    if let Some(b) = bearer {
        req = req.bearer_auth(b);
    }
    req.send().await.unwrap()
}

/// Status and stable code of an answer.
async fn refusal(res: reqwest::Response) -> (u16, String) {
    let status = res.status().as_u16();
    let body: Value = res.json().await.unwrap_or(Value::Null);
    (status, body["code"].as_str().unwrap_or("").to_owned())
}

/// Starts a run and returns (run id, stream token, token id).
async fn run_with_token(app: &TestApp, job: &str) -> (String, String, String) {
    let res = app.post("/jobs/run", &json!({"job_id": job})).await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    let token = body["stream_token"].as_str().expect("a stream token").to_owned();
    assert!(body["stream_token_expires_at"].is_string(), "{body}");
    (
        body["run_id"].as_str().unwrap().to_owned(),
        token,
        body["stream_token_id"].as_str().unwrap().to_owned(),
    )
}

#[actix_web::test]
async fn a_stream_token_opens_exactly_its_runs_reads() {
    let other_job = job_id(71);
    let app = spawn_app_with(with_tokens, &[posting(&other_job, None)]).await;
    let (run, token, _) = run_with_token(&app, JOB).await;
    let (other_run, _, _) = run_with_token(&app, &other_job).await;

    // The live stream with ?token= and no Authorization header (what EventSource sends).
    let res = get_with(&app, &format!("/jobs/{run}/logs?token={token}"), None).await;
    assert_eq!(res.status(), 200);
    let events = parse_sse(&res.text().await.unwrap());
    let end = events
        .iter()
        .find(|e| e.event.as_deref() == Some("end"))
        .expect("end event");
    assert_eq!(end.data, "completed");

    // Status, progress, polling, run detail and artifacts: query or bearer.
    for path in [
        format!("/jobs/{run}/status"),
        format!("/jobs/{run}/progress"),
        format!("/api/logs/{run}"),
        format!("/api/logs/{run}/status"),
        format!("/runs/{run}"),
        format!("/artifacts/{run}/CV.md"),
    ] {
        let by_bearer = get_with(&app, &path, Some(&token)).await;
        assert_eq!(by_bearer.status(), 200, "{path} with the token as bearer");
        let sep = if path.contains('?') { '&' } else { '?' };
        let by_query = get_with(&app, &format!("{path}{sep}token={token}"), None).await;
        assert_eq!(by_query.status(), 200, "{path} with ?token=");
    }
    let cv = get_with(&app, &format!("/artifacts/{run}/CV.md?token={token}"), None)
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(cv, app.get_text(&format!("/artifacts/{run}/CV.md")).await);

    // Another run, other routes and anything that changes state: refused.
    let cases = [
        (format!("/jobs/{other_run}/status"), "TOKEN_WRONG_RUN"),
        (format!("/artifacts/{other_run}/CV.md"), "TOKEN_WRONG_RUN"),
        ("/runs".to_owned(), "TOKEN_NOT_FOR_ROUTE"),
        ("/queue/state".to_owned(), "TOKEN_NOT_FOR_ROUTE"),
        ("/audit".to_owned(), "TOKEN_NOT_FOR_ROUTE"),
        ("/metrics".to_owned(), "TOKEN_NOT_FOR_ROUTE"),
    ];
    for (path, code) in cases {
        assert_eq!(
            refusal(get_with(&app, &path, Some(&token)).await).await,
            (401, code.to_owned()),
            "{path}"
        );
    }
    for path in [
        format!("/jobs/{run}/cancel"),
        format!("/runs/{run}/retry"),
        "/jobs/run".to_owned(),
    ] {
        let res = app
            .client
            .post(app.url(&path))
            .bearer_auth(&token)
            .json(&json!({"job_id": JOB}))
            .send()
            .await
            .unwrap();
        assert_eq!(refusal(res).await, (401, "TOKEN_READ_ONLY".to_owned()), "POST {path}");
        let res = app
            .client
            .post(app.url(&format!("{path}?token={token}")))
            .json(&json!({"job_id": JOB}))
            .send()
            .await
            .unwrap();
        assert_eq!(
            refusal(res).await,
            (401, "TOKEN_READ_ONLY".to_owned()),
            "POST {path}?token="
        );
    }
}

#[actix_web::test]
async fn forged_and_expired_tokens_are_refused_with_a_clear_code() {
    let app = spawn_app_with(with_tokens, &[]).await;
    let (run, token, _) = run_with_token(&app, JOB).await;
    let run_id = RunId::parse(&run).unwrap();
    let status = format!("/jobs/{run}/status");
    let b64 = |bytes: &[u8]| {
        use base64::Engine as _;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    };
    let parts: Vec<&str> = token.split('.').collect();
    let ours = RunTokens::new(JWT_KEY.as_bytes(), Duration::from_secs(600));
    let payload = serde_json::to_value(ours.verify(&token, &run).expect("the daemon's token verifies")).unwrap();
    assert_eq!(payload["aud"], format!("run:{run}"));
    assert_eq!(payload["scope"], "read");

    // alg none with the real claims and no signature.
    let none = format!(
        "{}.{}.",
        b64(br#"{"alg":"none","typ":"JWT"}"#),
        b64(payload.to_string().as_bytes())
    );
    // The payload changed to another run, the original signature kept.
    let mut tampered_claims = payload.clone();
    tampered_claims["aud"] = json!("run:fedcba9876543210fedcba9876543210");
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        b64(tampered_claims.to_string().as_bytes()),
        parts[2]
    );
    // Signed with another key.
    let foreign = RunTokens::new(b"some-other-key-0123456789abcdef-xyz", Duration::from_secs(600))
        .issue(&run_id, None, chrono::Utc::now())
        .unwrap()
        .token;
    // Our key, but expired an hour ago.
    let expired = ours
        .issue(
            &run_id,
            Some(Duration::from_secs(60)),
            chrono::Utc::now() - chrono::Duration::hours(2),
        )
        .unwrap()
        .token;
    // Our key and valid, but never issued by the daemon (no record): refused.
    let unrecorded = ours.issue(&run_id, None, chrono::Utc::now()).unwrap().token;
    // Our key, issued for another run, presented on this one.
    let wrong_audience = ours
        .issue(
            &RunId::parse("fedcba9876543210fedcba9876543210").unwrap(),
            None,
            chrono::Utc::now(),
        )
        .unwrap()
        .token;
    for (name, forged, codes) in [
        ("alg none", none.as_str(), &["TOKEN_INVALID", "TOKEN_MALFORMED"][..]),
        ("tampered payload", tampered.as_str(), &["TOKEN_BAD_SIGNATURE"][..]),
        ("another key", foreign.as_str(), &["TOKEN_BAD_SIGNATURE"][..]),
        ("expired", expired.as_str(), &["TOKEN_EXPIRED"][..]),
        ("never issued", unrecorded.as_str(), &["TOKEN_UNKNOWN"][..]),
        (
            "another run's audience",
            wrong_audience.as_str(),
            &["TOKEN_WRONG_RUN"][..],
        ),
        ("garbage", "eyJ.not.a-token", &["TOKEN_MALFORMED", "TOKEN_INVALID"][..]),
    ] {
        for res in [
            get_with(&app, &status, Some(forged)).await,
            get_with(&app, &format!("{status}?token={forged}"), None).await,
        ] {
            assert_eq!(res.headers()["www-authenticate"], "Bearer", "{name}");
            let (code, got) = refusal(res).await;
            assert_eq!(code, 401, "{name}");
            assert!(codes.contains(&got.as_str()), "{name}: {got}");
        }
    }
    // Two token parameters are ambiguous.
    let res = get_with(&app, &format!("{status}?token={token}&token={token}"), None).await;
    assert_eq!(refusal(res).await, (401, "TOKEN_MALFORMED".to_owned()));
    // And the real one still works.
    assert_eq!(get_with(&app, &status, Some(&token)).await.status(), 200);
}

#[actix_web::test]
async fn a_revoked_token_stops_working_at_once() {
    let app = spawn_app_with(with_tokens, &[]).await;
    let (run, token, jti) = run_with_token(&app, JOB).await;
    let status = format!("/jobs/{run}/status");
    assert_eq!(get_with(&app, &status, Some(&token)).await.status(), 200);

    let res = app.post("/tokens/revoke", &json!({"jti": jti})).await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(
        (body["jti"].as_str(), body["run_id"].as_str()),
        (Some(jti.as_str()), Some(run.as_str()))
    );
    assert!(body["revoked_at"].is_string());
    assert_eq!(
        refusal(get_with(&app, &status, Some(&token)).await).await,
        (401, "TOKEN_REVOKED".to_owned())
    );
    let stream = get_with(&app, &format!("/jobs/{run}/logs?token={token}"), None).await;
    assert_eq!(refusal(stream).await, (401, "TOKEN_REVOKED".to_owned()));

    // By the token itself; unknown ids and bad bodies get clear errors.
    let (_, second, _) = run_with_token(&app, JOB).await;
    assert_eq!(
        app.post("/tokens/revoke", &json!({"token": second})).await.status(),
        200
    );
    assert_eq!(
        refusal(app.post("/tokens/revoke", &json!({"jti": "no-such-token"})).await).await,
        (404, "TOKEN_NOT_FOUND".to_owned())
    );
    assert_eq!(
        refusal(app.post("/tokens/revoke", &json!({"jti": "a", "token": "b"})).await).await,
        (422, "VALIDATION_FAILED".to_owned())
    );
    assert_eq!(
        refusal(app.post("/tokens/revoke", &json!({})).await).await,
        (422, "VALIDATION_FAILED".to_owned())
    );
    assert_eq!(
        refusal(app.post("/tokens/revoke", &json!({"token": "eyJ.forged.value"})).await)
            .await
            .0,
        422
    );
    // Revocation itself needs the API secret, not a token.
    let res = app
        .client
        .post(app.url("/tokens/revoke"))
        .bearer_auth(&token)
        .json(&json!({"jti": jti}))
        .send()
        .await
        .unwrap();
    assert_eq!(refusal(res).await, (401, "TOKEN_READ_ONLY".to_owned()));
}

#[actix_web::test]
async fn without_jwt_secret_no_token_is_issued_and_none_is_accepted() {
    let app = spawn_app().await;
    let res = app.post("/jobs/run", &json!({"job_id": JOB})).await;
    let body: Value = res.json().await.unwrap();
    assert!(body.get("stream_token").is_none(), "{body}");
    let run = body["run_id"].as_str().unwrap();
    let forged = RunTokens::new(JWT_KEY.as_bytes(), Duration::from_secs(600))
        .issue(&RunId::parse(run).unwrap(), None, chrono::Utc::now())
        .unwrap()
        .token;
    let res = get_with(&app, &format!("/jobs/{run}/status?token={forged}"), None).await;
    assert_eq!(refusal(res).await, (401, "TOKENS_DISABLED".to_owned()));
    // A plain wrong secret is still the generic refusal.
    let res = get_with(&app, &format!("/jobs/{run}/status"), Some("wrong-secret-value")).await;
    assert_eq!(refusal(res).await, (401, "UNAUTHORIZED".to_owned()));
}

#[actix_web::test]
async fn every_state_changing_request_is_audited_with_who_and_the_outcome() {
    let app = spawn_app_with(with_tokens, &[]).await;
    let (run, token, _) = run_with_token(&app, JOB).await;
    // A refusal by auth, a refusal by a handler, a read (not audited).
    let res = app
        .client
        .post(app.url("/jobs/run"))
        .bearer_auth("a-wrong-guess-of-the-secret")
        .json(&json!({"job_id": JOB}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    let missing = "0123456789abcdef0123456789abcdef";
    let res = app
        .client
        .post(app.url(&format!("/jobs/{missing}/cancel")))
        .bearer_auth(SECRET)
        .header("X-Request-Id", "audit-test-42")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    assert_eq!(res.headers()["x-request-id"], "audit-test-42");
    app.get_json(&format!("/jobs/{run}/status")).await;

    let audit = app.get_json("/audit?limit=10").await;
    let text = audit.to_string();
    assert!(
        !text.contains(SECRET) && !text.contains("a-wrong-guess") && !text.contains(&token),
        "{text}"
    );
    let entries = audit["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 3, "three state-changing requests, no reads: {audit:#}");
    let (cancel, refused, started) = (&entries[0], &entries[1], &entries[2]);
    assert_eq!(cancel["request_id"], "audit-test-42");
    assert_eq!(cancel["route"], "/jobs/{run_id}/cancel");
    assert_eq!(cancel["path"], format!("/jobs/{missing}/cancel"));
    assert_eq!(
        (cancel["status"].as_u64(), cancel["outcome"].as_str()),
        (Some(404), Some("refused"))
    );
    assert_eq!(cancel["code"], "RUN_NOT_FOUND");
    assert!(cancel["actor"].as_str().unwrap().starts_with("secret:"), "{cancel}");
    assert_eq!(cancel["client"], "127.0.0.1");
    assert_eq!(
        (refused["status"].as_u64(), refused["code"].as_str()),
        (Some(401), Some("UNAUTHORIZED"))
    );
    assert!(refused["actor"].as_str().unwrap().starts_with("bearer:"), "{refused}");
    assert_ne!(
        refused["actor"], cancel["actor"],
        "different credentials, different hashes"
    );
    assert_eq!(
        (started["method"].as_str(), started["status"].as_u64()),
        (Some("POST"), Some(200))
    );
    assert_eq!(started["outcome"], "ok");
    assert_eq!(started["actor"], cancel["actor"], "the same secret, the same hash");

    // Bearer only; limits are checked.
    let res = get_with(&app, "/audit", Some(&token)).await;
    assert_eq!(refusal(res).await, (401, "TOKEN_NOT_FOR_ROUTE".to_owned()));
    assert_eq!(
        refusal(app.get("/audit?limit=0").await).await,
        (422, "VALIDATION_FAILED".to_owned())
    );
    assert_eq!(
        refusal(app.get("/audit?limit=abc").await).await,
        (422, "VALIDATION_FAILED".to_owned())
    );
    assert_eq!(app.get_json("/audit?limit=1").await["count"], 1);
}
