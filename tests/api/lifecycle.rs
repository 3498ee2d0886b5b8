//! Run lifecycle: cancelling a queued run, and independent stages running concurrently.

use std::time::Duration;

use chrono::{DateTime, Utc};
use job_runner::domain::JobId;
use job_runner::store::sqlite::SqliteStore;
use job_runner::store::Store;
use serde_json::{json, Value};

use crate::helpers::{job_id, posting, spawn_app_with, JOB};

#[actix_web::test]
async fn a_queued_run_is_cancelled_at_once_and_never_starts() {
    let app = spawn_app_with(
        |s| {
            s.queue.max_concurrency = 1;
            s.queue.offline_stage_delay = Duration::from_millis(200);
        },
        &[posting(&job_id(1), None)],
    )
    .await;
    let running = app.start_run(JOB).await;
    app.wait_for_line(&running, "stage pain_points started").await;
    let queued = app.start_run(&job_id(1)).await;
    assert_eq!(
        app.get_json(&format!("/jobs/{queued}/status")).await["status"],
        "queued"
    );

    let res = app.post(&format!("/jobs/{queued}/cancel"), &json!({})).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<Value>().await.unwrap()["status"], "cancelled");
    let events = app.stream_logs(&queued, None).await;
    assert_eq!(events.last().unwrap().event.as_deref(), Some("end"));
    assert_eq!(events.last().unwrap().data, "cancelled");
    assert!(
        !events.iter().any(|e| e.data.contains("stage")),
        "a cancelled queued run runs no stage"
    );

    let progress = app.get_json(&format!("/jobs/{queued}/progress")).await;
    assert!(progress["stages"]
        .as_array()
        .unwrap()
        .iter()
        .all(|s| s["status"] == "pending"));
    let store = SqliteStore::open(&app.store_path()).await.unwrap();
    let doc = store
        .get_job_document(&JobId::parse(&job_id(1)).unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(doc["pipeline_status"], "cancelled");
    assert_eq!(app.wait_for_end(&running).await, "completed");
}

fn window(progress: &Value, stage: &str) -> (DateTime<Utc>, DateTime<Utc>) {
    let s = progress["stages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == stage)
        .unwrap();
    let t = |v: &Value| v.as_str().unwrap().parse::<DateTime<Utc>>().unwrap();
    (t(&s["started_at"]), t(&s["finished_at"]))
}

#[actix_web::test]
async fn independent_stages_run_at_the_same_time() {
    let app = spawn_app_with(|s| s.queue.offline_stage_delay = Duration::from_millis(200), &[]).await;
    let run = app.start_run(JOB).await;
    assert_eq!(app.wait_for_end(&run).await, "completed");
    let progress = app.get_json(&format!("/jobs/{run}/progress")).await;
    for (a, b) in [("extract", "research"), ("cv", "cover_letter")] {
        let (a0, a1) = window(&progress, a);
        let (b0, b1) = window(&progress, b);
        assert!(a0 < b1 && b0 < a1, "{a} and {b} did not overlap: {progress}");
    }
    // Dependencies are respected: the fit score starts after the pain points finished.
    let (_, pain_end) = window(&progress, "pain_points");
    let (fit_start, fit_end) = window(&progress, "fit_score");
    assert!(fit_start >= pain_end);
    let (cv_start, _) = window(&progress, "cv");
    assert!(cv_start >= fit_end);
}
