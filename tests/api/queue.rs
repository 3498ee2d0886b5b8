//! The newest dashboard's queue and operations routes (COMPAT-DASHBOARD.md §4–5), replayed the
//! way its JavaScript and its server call them: the queue poller without a bearer and with
//! CORS, acting only when `state_version` changes; move-to-batch through the operations route;
//! retry, cancel and dismiss of queue items; cleanup and clear.

use job_runner::config::{FaultRule, StageFault};
use job_runner::domain::{JobId, StageName};
use serde_json::{json, Value};

use crate::helpers::{job_id, posting, spawn_app_with, TestApp};
use crate::queue_view::queue_ids;

const ORIGIN: &str = "https://dash.example.com";

/// What the queue poller does: a bearer-less CORS GET of `/queue/state`.
async fn poll_queue(app: &TestApp) -> Value {
    let res = app
        .client
        .get(app.url("/queue/state"))
        .header("Origin", ORIGIN)
        .header("Accept", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["access-control-allow-origin"], ORIGIN);
    res.json().await.unwrap()
}

async fn post_json(app: &TestApp, path: &str, body: Value) -> (u16, Value) {
    let res = app.post(path, &body).await;
    let status = res.status().as_u16();
    (status, res.json().await.unwrap())
}

/// The poller's change detection: the version moved since the last one it saw.
fn changed(last: &mut String, state: &Value) -> bool {
    let version = state["state_version"]
        .as_str()
        .expect("state_version is a string")
        .to_owned();
    let moved = *last != version;
    *last = version;
    moved
}

#[actix_web::test]
async fn the_queue_follows_every_change_the_dashboard_makes() {
    // Job 1 hangs in its first stage so jobs 2 and 3 wait; job 3's publisher fails once.
    let jobs: Vec<_> = (1..=3).map(|i| posting(&job_id(i), None)).collect();
    let app = spawn_app_with(
        |s| {
            s.server.open_read_routes = true;
            s.server.cors_origins = vec![ORIGIN.to_owned()];
            s.queue.max_concurrency = 1;
            s.queue.stage_max_retries = 0;
            s.queue.stage_faults = vec![
                FaultRule {
                    stage: StageName::PainPoints,
                    job: Some(JobId::parse(&job_id(1)).unwrap()),
                    fault: StageFault::Hang,
                },
                FaultRule {
                    stage: StageName::Publisher,
                    job: Some(JobId::parse(&job_id(3)).unwrap()),
                    fault: StageFault::TransientFailures(1),
                },
            ];
        },
        &jobs,
    )
    .await;
    let mut version = String::new();
    let empty = poll_queue(&app).await;
    assert!(changed(&mut version, &empty));
    for list in ["pending", "running", "failed", "history"] {
        assert_eq!(empty[list], json!([]), "{list}");
    }
    assert_eq!(empty["queue_enabled"], true);
    assert!(empty["timestamp"].is_string());
    assert!(
        !changed(&mut version, &poll_queue(&app).await),
        "nothing changed, same version"
    );

    let hung = app.start_run(&job_id(1)).await;
    app.wait_for_line(&hung, "stage pain_points started").await;
    // Move-to-batch: the dashboard's server queues batch-pipeline with the quality tier.
    let (code, queued) = post_json(
        &app,
        &format!("/api/jobs/{}/operations/batch-pipeline/queue", job_id(2)),
        json!({"tier": "quality"}),
    )
    .await;
    assert_eq!(code, 200, "{queued}");
    assert_eq!(queued["success"], true);
    assert_eq!(queued["status"], "pending");
    assert_eq!(queued["position"], 1);
    assert_eq!(queued["operation"], "batch-pipeline");
    assert!(queued["estimated_wait_seconds"].as_u64().unwrap() > 0);
    assert!(queued["error"].is_null());
    let q2 = queued["queue_id"].as_str().unwrap().to_owned();
    assert!(q2.len() == 14 && q2.starts_with("q_"), "{q2}");
    // Asking again while it waits returns the same item.
    let (_, again) = post_json(
        &app,
        &format!("/api/jobs/{}/operations/batch-pipeline/queue", job_id(2)),
        json!({"tier": "fast"}),
    )
    .await;
    assert_eq!(
        (again["queue_id"].as_str(), again["run_id"].clone()),
        (Some(q2.as_str()), queued["run_id"].clone())
    );
    // The job page's "run everything" button.
    let (code, started) = post_json(
        &app,
        &format!("/api/jobs/{}/all-ops/start", job_id(3)),
        json!({"tier": "B"}),
    )
    .await;
    assert_eq!(code, 200, "{started}");
    assert_eq!(started["status"], "queued");
    let run3 = started["run_id"].as_str().unwrap().to_owned();
    assert_eq!(started["log_stream_url"], format!("/jobs/{run3}/logs"));
    let q3 = started["queue_id"].as_str().unwrap().to_owned();

    let state = poll_queue(&app).await;
    assert!(changed(&mut version, &state));
    assert_eq!(
        queue_ids(&state["pending"]),
        [q2.as_str(), q3.as_str()],
        "next to run first"
    );
    assert_eq!(state["pending"][0]["position"], 1);
    assert_eq!(state["pending"][1]["position"], 2);
    assert_eq!(state["pending"][0]["processing_tier"], "quality");
    assert_eq!(state["pending"][1]["processing_tier"], "B");
    assert_eq!(state["pending"][0]["job_title"], "Senior Backend Engineer");
    assert_eq!(state["pending"][0]["company"], "Northwind Logistics");
    assert_eq!(state["running"][0]["run_id"], hung.as_str());
    assert_eq!(state["running"][0]["status"], "running");
    assert_eq!(
        state["stats"],
        json!({"total_pending": 2, "total_running": 1, "total_failed": 0, "total_completed_today": 0})
    );
    // The live badge's item lookup, bearer-less too.
    let item = app
        .client
        .get(app.url(&format!("/queue/item/{}", job_id(2))))
        .send()
        .await
        .unwrap();
    assert_eq!(item.status(), 200);
    let item: Value = item.json().await.unwrap();
    assert_eq!(
        (item["found"].clone(), item["item"]["position"].clone()),
        (json!(true), json!(1))
    );
    let per_op = app.get_json(&format!("/api/jobs/{}/queue-status", job_id(2))).await;
    assert_eq!(per_op["operations"]["batch-pipeline"]["status"], "pending");
    assert_eq!(per_op["operations"]["batch-pipeline"]["queue_id"], q2.as_str());
    assert!(per_op["operations"]["generate-cv"].is_null());

    // Cancel the waiting item: it moves to the history; running items refuse.
    let (code, body) = post_json(&app, &format!("/queue/{q2}/cancel"), json!({})).await;
    assert_eq!((code, body["success"].clone()), (200, json!(true)), "{body}");
    let (code, body) = post_json(&app, &format!("/queue/{q2}/cancel"), json!({})).await;
    assert_eq!(
        (code, body["code"].as_str()),
        (409, Some("QUEUE_ITEM_NOT_PENDING")),
        "{body}"
    );
    let q1 = state["running"][0]["queue_id"].as_str().unwrap().to_owned();
    let (code, body) = post_json(&app, &format!("/queue/{q1}/cancel"), json!({})).await;
    assert_eq!(code, 409, "{body}");
    assert!(body["error"].as_str().unwrap().contains("/cancel"), "{body}");
    let state = poll_queue(&app).await;
    assert!(changed(&mut version, &state));
    assert_eq!(queue_ids(&state["pending"]), [q3.as_str()]);
    assert_eq!(state["pending"][0]["position"], 1, "positions close up");
    assert_eq!(state["history"][0]["queue_id"], q2.as_str());
    assert_eq!(state["history"][0]["status"], "cancelled");

    // Stop the hung run; job 3 runs and its publisher fails.
    let res = app.post(&format!("/jobs/{hung}/cancel"), &json!({})).await;
    assert_eq!(res.status(), 200);
    assert_eq!(app.wait_for_end(&run3).await, "failed");
    let state = poll_queue(&app).await;
    assert!(changed(&mut version, &state));
    assert_eq!(queue_ids(&state["failed"]), [q3.as_str()]);
    assert!(
        state["failed"][0]["error"].as_str().unwrap().contains("publisher"),
        "{state}"
    );
    assert_eq!(state["stats"]["total_failed"], 1);

    // Dismiss moves it to the history; a second dismiss is refused.
    let (code, _) = post_json(&app, &format!("/queue/{q3}/dismiss"), json!({})).await;
    assert_eq!(code, 200);
    let (code, body) = post_json(&app, &format!("/queue/{q3}/dismiss"), json!({})).await;
    assert_eq!((code, body["code"].as_str()), (409, Some("QUEUE_ITEM_NOT_FAILED")));
    let state = poll_queue(&app).await;
    assert!(changed(&mut version, &state));
    assert_eq!(state["failed"], json!([]));
    let dismissed = state["history"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["queue_id"] == q3.as_str())
        .unwrap();
    assert_eq!(
        (dismissed["status"].clone(), dismissed["dismissed"].clone()),
        (json!("failed"), json!(true))
    );

    // Retry: the same item, now a new run that reuses what the failed one completed;
    // only the failed stage (the publisher) runs again, and it completes.
    let (code, body) = post_json(&app, &format!("/queue/{q3}/retry"), json!({})).await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["success"], true);
    assert_eq!(body["item"]["queue_id"], q3.as_str());
    assert_eq!(body["item"]["retry_count"], 1);
    let retry = body["item"]["run_id"].as_str().unwrap().to_owned();
    assert_ne!(retry, run3, "a new run");
    assert_eq!(app.wait_for_end(&retry).await, "completed");
    let log: Vec<String> = app
        .stream_logs(&retry, None)
        .await
        .into_iter()
        .map(|e| e.data)
        .collect();
    assert!(
        log.iter().any(|l| l.contains(&format!("retry 1 of failed run {run3}"))),
        "{log:?}"
    );
    assert!(
        log.iter()
            .any(|l| l.contains("resuming from checkpoint") && l.contains("cover_letter")),
        "{log:?}"
    );
    let progress = app.get_json(&format!("/jobs/{retry}/progress")).await;
    for stage in progress["stages"].as_array().unwrap() {
        if stage["name"] == "publisher" {
            assert_eq!(
                (stage["attempts"].clone(), stage["producer"].clone()),
                (json!(1), json!("offline"))
            );
        } else {
            assert_eq!(stage["producer"], "reused", "only the failed stage ran again: {stage}");
            assert_eq!(stage["source_run"], run3.as_str(), "{stage}");
        }
    }
    // The failed run keeps its record and its log.
    let old = app.get_json(&format!("/jobs/{run3}/status")).await;
    assert_eq!(old["status"], "failed");
    let (code, body) = post_json(&app, &format!("/queue/{q3}/retry"), json!({})).await;
    assert_eq!((code, body["code"].as_str()), (409, Some("QUEUE_ITEM_NOT_FAILED")));
    // The same retry by run id: the failed run was retried already, the retry completed.
    let (code, body) = post_json(&app, &format!("/runs/{run3}/retry"), json!({})).await;
    assert_eq!(code, 409, "{body}");
    let (code, body) = post_json(&app, &format!("/runs/{retry}/retry"), json!({})).await;
    assert_eq!((code, body["code"].as_str()), (409, Some("QUEUE_ITEM_NOT_FAILED")));
    let (code, body) = post_json(&app, "/runs/0123456789abcdef0123456789abcdef/retry", json!({})).await;
    assert_eq!((code, body["code"].as_str()), (404, Some("RUN_NOT_FOUND")));
    let (code, _) = post_json(&app, "/runs/nope/retry", json!({})).await;
    assert_eq!(code, 400);
    let state = poll_queue(&app).await;
    assert!(changed(&mut version, &state));
    assert_eq!(state["history"][0]["queue_id"], q3.as_str());
    assert_eq!(state["history"][0]["status"], "completed");
    assert_eq!(state["history"][0]["retry_count"], 1);
    assert_eq!(state["stats"]["total_completed_today"], 1);

    // Cleanup keeps what ended within the hour; max_age_minutes=0 and clear empty the view.
    let (code, body) = post_json(&app, "/queue/cleanup?max_age_minutes=60", json!({})).await;
    assert_eq!(
        (code, body["stats"]["total_cleaned"].clone()),
        (200, json!(0)),
        "{body}"
    );
    assert!(!changed(&mut version, &poll_queue(&app).await));
    let (_, body) = post_json(&app, "/queue/cleanup?max_age_minutes=0", json!({})).await;
    assert_eq!(body["stats"]["total_cleaned"], 3, "{body}");
    let (_, body) = post_json(&app, "/queue/clear", json!({})).await;
    assert_eq!(
        (body["success"].clone(), body["stats"]["total_cleaned"].clone()),
        (json!(true), json!(0))
    );
    let state = poll_queue(&app).await;
    assert!(changed(&mut version, &state));
    assert_eq!(
        (state["history"].clone(), state["failed"].clone()),
        (json!([]), json!([]))
    );
    // Only the view changed: the runs and their results are all still there.
    assert_eq!(
        app.get_json(&format!("/jobs/{retry}/status")).await["status"],
        "completed"
    );
    assert_eq!(app.get_json(&format!("/jobs/{run3}/status")).await["status"], "failed");
    assert_eq!(
        app.get_json(&format!("/jobs/{hung}/status")).await["status"],
        "cancelled"
    );
    let gone = app.get_json(&format!("/queue/item/{}", job_id(3))).await;
    assert_eq!(gone["found"], false);
}

#[actix_web::test]
async fn queue_and_operation_mistakes_get_clear_errors_and_codes() {
    let app = spawn_app_with(|s| s.server.open_read_routes = true, &[posting(&job_id(1), None)]).await;
    let job = job_id(1);
    let missing = job_id(9);
    let cases: Vec<(String, Value, u16, &str, &str)> = vec![
        ("/queue/nonsense/retry".into(), json!({}), 400, "INVALID_QUEUE_ID", "q_"),
        (
            "/queue/q_0123456789ab/retry".into(),
            json!({}),
            404,
            "QUEUE_ITEM_NOT_FOUND",
            "q_0123456789ab",
        ),
        (
            "/queue/q_0123456789ab/cancel".into(),
            json!({}),
            404,
            "QUEUE_ITEM_NOT_FOUND",
            "not found",
        ),
        (
            "/queue/q_0123456789ab/dismiss".into(),
            json!({}),
            404,
            "QUEUE_ITEM_NOT_FOUND",
            "not found",
        ),
        (
            "/queue/cleanup?max_age_minutes=-1".into(),
            json!({}),
            422,
            "VALIDATION_FAILED",
            "max_age_minutes",
        ),
        (
            "/queue/cleanup?max_age_minutes=soon".into(),
            json!({}),
            422,
            "VALIDATION_FAILED",
            "max_age_minutes",
        ),
        (
            format!("/api/jobs/{job}/operations/make-coffee/queue"),
            json!({}),
            422,
            "UNKNOWN_OPERATION",
            "Invalid operation \"make-coffee\": the supported operations are analyze-job, research-company",
        ),
        (
            format!("/api/jobs/{job}/operations/prepare-annotations/queue"),
            json!({}),
            422,
            "OPERATION_NOT_SUPPORTED",
            "batch-pipeline",
        ),
        (
            format!("/api/jobs/{job}/operations/batch-pipeline/queue"),
            json!({"tier": "gold"}),
            422,
            "INVALID_TIER",
            "fast, balanced, quality, A, B, C, D, auto",
        ),
        (
            format!("/api/jobs/{job}/all-ops/start"),
            json!({"tier": 3}),
            422,
            "VALIDATION_FAILED",
            "tier",
        ),
        (
            format!("/api/jobs/{job}/operations/batch-pipeline/queue"),
            json!({"use_llm": "yes"}),
            422,
            "VALIDATION_FAILED",
            "use_llm",
        ),
        (
            format!("/api/jobs/{missing}/operations/batch-pipeline/queue"),
            json!({"tier": "quality"}),
            404,
            "JOB_NOT_FOUND",
            missing.as_str(),
        ),
        (
            "/api/jobs/not-a-job/all-ops/start".into(),
            json!({}),
            400,
            "INVALID_JOB_ID",
            "24-character",
        ),
    ];
    for (path, body, status, code, needle) in cases {
        let (got, answer) = post_json(&app, &path, body).await;
        assert_eq!(got, status, "{path}: {answer}");
        assert_eq!(answer["code"], code, "{path}: {answer}");
        assert_eq!(answer["success"], false, "{path}: {answer}");
        assert!(answer["error"].as_str().unwrap().contains(needle), "{path}: {answer}");
    }
    for (path, status, code) in [
        ("/queue/item/xyz".to_owned(), 400, "INVALID_JOB_ID"),
        (format!("/api/jobs/{missing}/queue-status"), 404, "JOB_NOT_FOUND"),
    ] {
        let res = app.get(&path).await;
        assert_eq!(res.status(), status, "{path}");
        assert_eq!(res.json::<Value>().await.unwrap()["code"], code, "{path}");
    }
    // Nothing was queued by any of them.
    assert_eq!(app.get_json("/queue/state").await["stats"]["total_pending"], 0);
    // Open reads never open the actions: every POST still needs the bearer.
    for path in [
        "/queue/q_0123456789ab/retry".to_owned(),
        "/queue/q_0123456789ab/cancel".to_owned(),
        "/queue/q_0123456789ab/dismiss".to_owned(),
        "/queue/cleanup".to_owned(),
        "/queue/clear".to_owned(),
        format!("/api/jobs/{job}/operations/batch-pipeline/queue"),
        format!("/api/jobs/{job}/all-ops/start"),
    ] {
        let res = app.client.post(app.url(&path)).json(&json!({})).send().await.unwrap();
        assert_eq!(res.status(), 401, "{path}");
    }
    // And the per-job queue status is not among the open reads.
    let res = app
        .client
        .get(app.url(&format!("/api/jobs/{job}/queue-status")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    assert_eq!(app.get(&format!("/api/jobs/{job}/queue-status")).await.status(), 200);
}
