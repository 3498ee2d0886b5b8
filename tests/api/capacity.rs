//! Capacity accounting: after a mix of completions, failures, panics, timeouts and
//! cancels, no more than MAX_CONCURRENCY runs ever ran at once and the full capacity is
//! still there. Also: a bulk request larger than the free slots answers at once.

use std::time::Duration;

use chrono::{DateTime, Utc};
use job_runner::config::{FaultRule, StageFault};
use job_runner::domain::{JobId, StageName};
use serde_json::{json, Value};

use crate::helpers::{job_id, posting, spawn_app_with, TestApp};

fn fault(job: u32, stage: StageName, fault: StageFault) -> FaultRule {
    FaultRule {
        stage,
        job: Some(JobId::parse(&job_id(job)).unwrap()),
        fault,
    }
}

/// The largest number of runs whose [running_since, finished_at] intervals overlap.
async fn peak_concurrency(app: &TestApp) -> usize {
    let runs = app.get_json("/runs?limit=500").await;
    let intervals: Vec<(DateTime<Utc>, DateTime<Utc>)> = runs["runs"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| !r["running_since"].is_null())
        .map(|r| {
            let t = |v: &Value| v.as_str().unwrap().parse::<DateTime<Utc>>().unwrap();
            (t(&r["running_since"]), t(&r["finished_at"]))
        })
        .collect();
    intervals
        .iter()
        .map(|(s, _)| intervals.iter().filter(|(a, b)| a <= s && s < b).count())
        .max()
        .unwrap_or(0)
}

#[actix_web::test]
async fn capacity_never_exceeds_the_limit_after_cancels_failures_panics_and_timeouts() {
    // Jobs 1–4 complete; 5 fails (no description); 6 panics; 7 times out; 8 is cancelled.
    let mut jobs: Vec<_> = (1..=4).chain(6..=8).map(|i| posting(&job_id(i), None)).collect();
    jobs.push(posting(&job_id(5), Some("Hi.")));
    jobs.extend((11..=16).map(|i| posting(&job_id(i), None)));
    let app = spawn_app_with(
        |s| {
            s.queue.max_concurrency = 2;
            // Generous: a panicking stage (run 6) runs the panic hook on the thread the other
            // runs share, which is slow on a freshly built binary with backtraces enabled.
            s.queue.pipeline_timeout = Duration::from_secs(5);
            s.queue.offline_stage_delay = Duration::from_millis(30);
            s.queue.stage_faults = vec![
                fault(6, StageName::Research, StageFault::Panic),
                fault(7, StageName::FitScore, StageFault::Hang),
                fault(8, StageName::Cv, StageFault::Hang),
            ];
        },
        &jobs,
    )
    .await;
    let ids: Vec<String> = (1..=8).map(job_id).collect();
    let res = app.post("/jobs/run-bulk", &json!({"job_ids": ids, "level": 2})).await;
    assert_eq!(res.status(), 200);
    let runs: Vec<String> = res.json::<Value>().await.unwrap()["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["run_id"].as_str().unwrap().to_owned())
        .collect();

    // Cancel run 8 while its CV stage hangs.
    app.wait_for_line(&runs[7], "stage cv started").await;
    let res = app.post(&format!("/jobs/{}/cancel", runs[7]), &json!({})).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<Value>().await.unwrap()["status"], "cancelled");

    let mut outcomes = Vec::new();
    for r in &runs {
        outcomes.push(app.wait_for_end(r).await);
    }
    let mut details = Vec::new();
    for r in &runs {
        details.push(app.get_json(&format!("/jobs/{r}/status")).await["error"].clone());
    }
    assert_eq!(
        outcomes,
        [
            "completed",
            "completed",
            "completed",
            "completed",
            "failed",
            "failed",
            "failed",
            "cancelled"
        ],
        "errors: {details:?}"
    );
    let mut errors = Vec::new();
    for r in &runs[4..7] {
        errors.push(
            app.get_json(&format!("/jobs/{r}/status")).await["error"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    assert!(errors[0].contains("job_description"), "{}", errors[0]);
    assert!(errors[1].contains("panicked"), "{}", errors[1]);
    assert!(
        errors[2].contains("timed out") && errors[2].contains("PIPELINE_TIMEOUT_SECONDS"),
        "{}",
        errors[2]
    );
    let timeout_log = app.stream_logs(&runs[6], None).await;
    assert!(timeout_log.iter().any(|e| e.data.contains("timed out")));

    // Cancelling again is a conflict, not a second release of the slot.
    let res = app.post(&format!("/jobs/{}/cancel", runs[7]), &json!({})).await;
    assert_eq!(res.status(), 409);
    assert_eq!(res.json::<Value>().await.unwrap()["code"], "RUN_ALREADY_FINISHED");

    let health = app.get_json("/health").await;
    assert_eq!(health["active_runs"], 0);

    // Six more runs: the full capacity (2) is used, never more.
    let more: Vec<String> = (11..=16).map(job_id).collect();
    let res = app.post("/jobs/run-bulk", &json!({"job_ids": more})).await;
    let runs2: Vec<String> = res.json::<Value>().await.unwrap()["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["run_id"].as_str().unwrap().to_owned())
        .collect();
    for r in &runs2 {
        assert_eq!(app.wait_for_end(r).await, "completed");
    }
    assert_eq!(peak_concurrency(&app).await, 2, "capacity is exactly MAX_CONCURRENCY");
}

#[actix_web::test]
async fn a_bulk_request_larger_than_the_free_slots_answers_at_once() {
    let jobs: Vec<_> = (1..=6).map(|i| posting(&job_id(i), None)).collect();
    let app = spawn_app_with(
        |s| {
            s.queue.max_concurrency = 2;
            s.queue.offline_stage_delay = Duration::from_millis(150);
        },
        &jobs,
    )
    .await;
    let ids: Vec<String> = (1..=6).map(job_id).collect();
    let res = app.post("/jobs/run-bulk", &json!({"job_ids": ids})).await;
    assert_eq!(res.status(), 200);
    let runs = res.json::<Value>().await.unwrap()["runs"].as_array().unwrap().clone();
    assert_eq!(runs.len(), 6);
    // Answered before the work: most runs are still waiting for a slot.
    let listed = app.get_json("/runs?status=queued").await;
    assert!(listed["total"].as_u64().unwrap() >= 3, "{listed}");
    for r in &runs {
        assert_eq!(app.wait_for_end(r["run_id"].as_str().unwrap()).await, "completed");
    }
    assert!(peak_concurrency(&app).await <= 2);
}

#[actix_web::test]
async fn transient_stage_failures_are_retried_then_succeed() {
    let app = spawn_app_with(
        |s| {
            s.queue.stage_faults = vec![FaultRule {
                stage: StageName::Research,
                job: None,
                fault: StageFault::TransientFailures(2),
            }]
        },
        &[],
    )
    .await;
    let run = app.start_run(crate::helpers::JOB).await;
    let events = app.stream_logs(&run, None).await;
    assert_eq!(events.last().unwrap().data, "completed");
    assert_eq!(events.iter().filter(|e| e.data.contains("transient error")).count(), 2);
    let progress = app.get_json(&format!("/jobs/{run}/progress")).await;
    let research = progress["stages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "research")
        .unwrap()
        .clone();
    assert_eq!(research["attempts"], 3);
}
