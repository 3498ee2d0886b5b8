//! Auth on every route but /health, and one stable error code per kind of bad input.

use serde_json::{json, Value};

use crate::helpers::{spawn_app, JOB, SECRET};

async fn code_of(res: reqwest::Response) -> (u16, String, String) {
    let status = res.status().as_u16();
    let body: Value = res.json().await.unwrap();
    (
        status,
        body["code"].as_str().unwrap_or_default().to_owned(),
        body["detail"].as_str().unwrap_or_default().to_owned(),
    )
}

#[actix_web::test]
async fn health_is_public_and_keeps_the_compat_fields() {
    let app = spawn_app().await;
    let res = app.client.get(app.url("/health")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["status"], "healthy");
    assert_eq!(body["active_runs"], 0);
    assert_eq!(body["max_concurrency"], 3);
    assert!(chrono::DateTime::parse_from_rfc3339(body["timestamp"].as_str().unwrap()).is_ok());
    let head = app.client.head(app.url("/health")).send().await.unwrap();
    assert_eq!(head.status(), 200);
}

#[actix_web::test]
async fn every_other_route_requires_the_bearer_secret() {
    let app = spawn_app().await;
    let run_id = app.start_run(JOB).await;
    app.wait_for_end(&run_id).await;
    let routes = [
        ("POST", "/jobs/run".to_owned()),
        ("POST", "/jobs/run-bulk".to_owned()),
        ("GET", format!("/jobs/{run_id}/status")),
        ("GET", format!("/jobs/{run_id}/progress")),
        ("GET", format!("/jobs/{run_id}/logs")),
        ("POST", format!("/jobs/{run_id}/cancel")),
        ("GET", format!("/api/logs/{run_id}")),
        ("GET", "/runs".to_owned()),
        ("GET", format!("/artifacts/{run_id}/CV.md")),
    ];
    for (method, path) in &routes {
        for auth in [
            None,
            Some("Bearer wrong-secret-0123456789"),
            Some(&*format!("Bearer {SECRET}x")),
            Some(&*format!("Basic {SECRET}")),
        ] {
            let mut req = app
                .client
                .request(method.parse().unwrap(), app.url(path))
                .json(&json!({"job_id": JOB}));
            if let Some(a) = auth {
                req = req.header("Authorization", a);
            }
            let res = req.send().await.unwrap();
            assert_eq!(
                res.headers().get("www-authenticate").map(|v| v.to_str().unwrap()),
                Some("Bearer"),
                "{method} {path}"
            );
            let (status, code, _) = code_of(res).await;
            assert_eq!(
                (status, code.as_str()),
                (401, "UNAUTHORIZED"),
                "{method} {path} with {auth:?}"
            );
        }
    }
    // With the secret, artifacts download.
    assert_eq!(app.get(&format!("/artifacts/{run_id}/CV.md")).await.status(), 200);
}

#[actix_web::test]
async fn bad_input_gets_a_stable_code_and_a_message_naming_the_problem() {
    let app = spawn_app_with_profiles().await;
    let cases: Vec<(reqwest::RequestBuilder, u16, &str, &str)> = vec![
        (
            app.client
                .post(app.url("/jobs/run"))
                .json(&json!({"job_id": "not-an-id"})),
            400,
            "INVALID_JOB_ID",
            "job_id",
        ),
        (
            app.client
                .post(app.url("/jobs/run"))
                .json(&json!({"job_id": "ffffffffffffffffffffffff"})),
            404,
            "JOB_NOT_FOUND",
            "ffffffffffffffffffffffff",
        ),
        (
            app.client
                .post(app.url("/jobs/run"))
                .header("Content-Type", "application/json")
                .body("{\"job_id\": "),
            400,
            "MALFORMED_JSON",
            "JSON",
        ),
        (
            app.client.post(app.url("/jobs/run")).json(&json!({"profile_ref": "x"})),
            422,
            "VALIDATION_FAILED",
            "job_id",
        ),
        (
            app.client.post(app.url("/jobs/run")).json(&json!({"job_id": 42})),
            422,
            "VALIDATION_FAILED",
            "string",
        ),
        (
            app.client
                .post(app.url("/jobs/run"))
                .json(&json!({"job_id": JOB, "pad": "x".repeat(70_000)})),
            413,
            "PAYLOAD_TOO_LARGE",
            "MAX_BODY_BYTES",
        ),
        (
            app.client
                .post(app.url("/jobs/run"))
                .header("Content-Type", "text/plain")
                .body("job"),
            415,
            "UNSUPPORTED_MEDIA_TYPE",
            "JSON",
        ),
        (
            app.client
                .post(app.url("/jobs/run"))
                .json(&json!({"job_id": JOB, "profile_ref": "../master-cv.md"})),
            400,
            "INVALID_PROFILE_REF",
            "profile_ref",
        ),
        (
            app.client
                .post(app.url("/jobs/run"))
                .json(&json!({"job_id": JOB, "profile_ref": "/etc/passwd"})),
            400,
            "INVALID_PROFILE_REF",
            "profile_ref",
        ),
        (
            app.client
                .post(app.url("/jobs/run"))
                .json(&json!({"job_id": JOB, "profile_ref": "nobody.md"})),
            404,
            "PROFILE_NOT_FOUND",
            "nobody.md",
        ),
        (
            app.client.post(app.url("/jobs/run-bulk")).json(&json!({"job_ids": []})),
            422,
            "VALIDATION_FAILED",
            "at least 1",
        ),
        (
            app.client
                .post(app.url("/jobs/run-bulk"))
                .json(&json!({"job_ids": [JOB, "zz"]})),
            400,
            "INVALID_JOB_ID",
            "zz",
        ),
        (
            app.client
                .post(app.url("/jobs/run-bulk"))
                .json(&json!({"job_ids": [JOB, "eeeeeeeeeeeeeeeeeeeeeeee"]})),
            404,
            "JOB_NOT_FOUND",
            "eeeeeeeeeeeeeeeeeeeeeeee",
        ),
        (
            app.client.get(app.url("/jobs/0123456789abcdef0123456789abcdef/status")),
            404,
            "RUN_NOT_FOUND",
            "0123456789abcdef0123456789abcdef",
        ),
        (
            app.client.get(app.url("/jobs/nope/status")),
            400,
            "INVALID_RUN_ID",
            "run_id",
        ),
        (
            app.client.get(app.url("/jobs/0123456789abcdef0123456789abcdef/logs")),
            404,
            "RUN_NOT_FOUND",
            "not found",
        ),
        (
            app.client
                .post(app.url("/jobs/0123456789abcdef0123456789abcdef/cancel")),
            404,
            "RUN_NOT_FOUND",
            "not found",
        ),
        (
            app.client.get(app.url("/runs?status=done")),
            422,
            "VALIDATION_FAILED",
            "status",
        ),
        (
            app.client.get(app.url("/runs?limit=0")),
            422,
            "VALIDATION_FAILED",
            "limit",
        ),
        (app.client.get(app.url("/nowhere")), 404, "NOT_FOUND", "/nowhere"),
    ];
    for (req, status, code, needle) in cases {
        let (got_status, got_code, detail) = code_of(req.bearer_auth(SECRET).send().await.unwrap()).await;
        assert_eq!((got_status, got_code.as_str()), (status, code), "{detail}");
        assert!(detail.contains(needle), "detail {detail:?} should mention {needle:?}");
    }
    // A bulk request with one unknown job queued nothing.
    let runs = app.get_json("/runs").await;
    assert_eq!(runs["total"], 0);
}

async fn spawn_app_with_profiles() -> crate::helpers::TestApp {
    crate::helpers::spawn_app_with(
        |s| {
            std::fs::create_dir_all(&s.paths.profiles_dir).unwrap();
            std::fs::write(
                s.paths.profiles_dir.join("alt.md"),
                include_str!("../../examples/master-cv.md"),
            )
            .unwrap();
        },
        &[],
    )
    .await
}

#[actix_web::test]
async fn a_profile_inside_profiles_dir_is_used() {
    let app = spawn_app_with_profiles().await;
    let res = app
        .post("/jobs/run", &json!({"job_id": JOB, "profile_ref": "alt.md"}))
        .await;
    assert_eq!(res.status(), 200);
    let run_id = res.json::<Value>().await.unwrap()["run_id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(app.wait_for_end(&run_id).await, "completed");
    assert_eq!(
        app.get_json(&format!("/jobs/{run_id}/status")).await["profile_ref"],
        "alt.md"
    );
}

#[actix_web::test]
async fn a_full_queue_answers_503_with_retry_after() {
    let app = crate::helpers::spawn_app_with(
        |s| {
            s.queue.max_queue = 2;
            s.queue.max_concurrency = 1;
            s.queue.offline_stage_delay = std::time::Duration::from_millis(300);
        },
        &(1..=4)
            .map(|i| crate::helpers::posting(&crate::helpers::job_id(i), None))
            .collect::<Vec<_>>(),
    )
    .await;
    let ids: Vec<String> = (1..=4).map(crate::helpers::job_id).collect();
    // One runs (holding the only slot) and two wait: the queue is then full.
    let running = app.start_run(&ids[0]).await;
    app.wait_for_line(&running, "stage pain_points started").await;
    let res = app.post("/jobs/run-bulk", &json!({"job_ids": &ids[1..3]})).await;
    assert_eq!(res.status(), 200);
    let res = app.post("/jobs/run", &json!({"job_id": ids[3]})).await;
    assert_eq!(res.status(), 503);
    assert!(res.headers().get("retry-after").is_some());
    let (_, code, detail) = code_of(res).await;
    assert_eq!(code, "QUEUE_FULL");
    assert!(detail.contains("MAX_QUEUE=2"), "{detail}");
    // Nothing was lost: the admitted runs all finish.
    assert_eq!(app.wait_for_end(&running).await, "completed");
    let queued = app.get_json("/runs").await;
    assert_eq!(queued["total"], 3);
}
