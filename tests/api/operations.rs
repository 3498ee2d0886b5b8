//! Operations run part of the pipeline: the stages outside them reuse the job's latest
//! outputs from earlier runs, recorded as `reused` with the source run; a stage never
//! produced for the job runs too; one run per job at a time.

use job_runner::config::{FaultRule, StageFault};
use job_runner::domain::{JobId, StageName};
use serde_json::{json, Value};

use crate::helpers::{job_id, posting, spawn_app_with, TestApp, JOB};

/// Queues `op` for `job` through the dashboard's route; returns the run id.
async fn queue_op(app: &TestApp, job: &str, op: &str) -> String {
    let res = app
        .post(
            &format!("/api/jobs/{job}/operations/{op}/queue"),
            &json!({"tier": "balanced"}),
        )
        .await;
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["success"], true, "{body}");
    assert_eq!(body["operation"], op);
    body["run_id"].as_str().unwrap().to_owned()
}

async fn producers(app: &TestApp, run: &str) -> Vec<(String, String, Value)> {
    app.stage_producers(run).await
}

#[actix_web::test]
async fn generate_cv_after_a_full_run_executes_only_the_cv_and_the_publisher() {
    let app = spawn_app_with(|_| {}, &[]).await;
    let full = app.start_run(JOB).await;
    assert_eq!(app.wait_for_end(&full).await, "completed");

    let cv = queue_op(&app, JOB, "generate-cv").await;
    assert_ne!(cv, full);
    assert_eq!(app.wait_for_end(&cv).await, "completed");
    for (stage, producer, source) in producers(&app, &cv).await {
        match stage.as_str() {
            "cv" | "publisher" => assert_eq!(producer, "offline", "{stage} ran"),
            _ => {
                assert_eq!(producer, "reused", "{stage}");
                assert_eq!(source, json!(full), "{stage} names its source run");
            }
        }
    }
    let log: Vec<String> = app.stream_logs(&cv, None).await.into_iter().map(|e| e.data).collect();
    assert!(
        log.iter()
            .any(|l| l.contains(&format!("stage pain_points reused from run {full}"))),
        "{log:?}"
    );
    assert!(
        log.iter()
            .any(|l| l.contains("operation generate-cv: running cv, publisher")),
        "{log:?}"
    );
    assert!(!log.iter().any(|l| l.contains("stage fit_score started")), "{log:?}");
    let dossier = app.get_text(&format!("/artifacts/{cv}/dossier.txt")).await;
    assert!(
        dossier.contains(&format!("  research: reused from run {full}")),
        "{dossier}"
    );
    assert!(dossier.contains("  cv: offline"), "{dossier}");
    // Each matched requirement names the CV line that backs it.
    assert!(dossier.contains("      evidence: "), "{dossier}");
    let status = app.get_json(&format!("/jobs/{cv}/status")).await;
    assert_eq!(status["operation"], "generate-cv");
    let per_op = app.get_json(&format!("/api/jobs/{JOB}/queue-status")).await;
    assert_eq!(per_op["operations"]["generate-cv"]["run_id"], json!(cv));
    assert_eq!(per_op["operations"]["batch-pipeline"]["run_id"], json!(full));

    // Reused from a run that reused it: credited to the run that produced it.
    let letter = queue_op(&app, JOB, "generate-cover-letter").await;
    assert_eq!(app.wait_for_end(&letter).await, "completed");
    let stages = producers(&app, &letter).await;
    let pains = stages.iter().find(|(s, _, _)| s == "pain_points").unwrap();
    assert_eq!((pains.1.as_str(), &pains.2), ("reused", &json!(full)));
    let cv_stage = stages.iter().find(|(s, _, _)| s == "cv").unwrap();
    assert_eq!((cv_stage.1.as_str(), &cv_stage.2), ("reused", &json!(cv)));

    // The extraction and the review run on their own too.
    for (op, ran) in [("cv-review", "cv_review"), ("extract", "extract")] {
        let run = queue_op(&app, JOB, op).await;
        assert_eq!(app.wait_for_end(&run).await, "completed");
        for (stage, producer, _) in producers(&app, &run).await {
            let executed = stage == ran || stage == "publisher";
            assert_eq!(producer == "offline", executed, "{op}: {stage} is {producer}");
        }
        if op == "cv-review" {
            let fresh = app.get_text(&format!("/artifacts/{run}/cv_review.md")).await;
            assert!(
                fresh.starts_with("# CV review") && !fresh.contains("earlier version"),
                "{fresh}"
            );
            let doc = app.job_document(JOB).await;
            assert_eq!(doc["cv_review"]["model"], "offline");
        }
    }
}

#[actix_web::test]
async fn an_operation_runs_the_stages_its_job_never_produced() {
    let fresh = job_id(5);
    let app = spawn_app_with(|_| {}, &[posting(&fresh, None)]).await;
    let run = queue_op(&app, &fresh, "generate-cover-letter").await;
    assert_eq!(app.wait_for_end(&run).await, "completed");
    for (stage, producer, _) in producers(&app, &run).await {
        assert_eq!(producer, "offline", "{stage} had no earlier output, so it ran");
    }
    let log: Vec<String> = app.stream_logs(&run, None).await.into_iter().map(|e| e.data).collect();
    assert!(
        log.iter()
            .any(|l| l.contains("stage fit_score has no earlier output") && l.contains("runs it too")),
        "{log:?}"
    );
}

#[actix_web::test]
async fn one_run_per_job_and_batches_of_an_operation() {
    let jobs = vec![posting(&job_id(1), None), posting(&job_id(2), None)];
    let app = spawn_app_with(
        |s| {
            s.queue.stage_faults = vec![FaultRule {
                stage: StageName::PainPoints,
                job: Some(JobId::parse(&job_id(1)).unwrap()),
                fault: StageFault::Hang,
            }];
        },
        &jobs,
    )
    .await;
    let hung = queue_op(&app, &job_id(1), "batch-pipeline").await;
    app.wait_for_line(&hung, "stage pain_points started").await;
    // The same operation again: the same run. Another one: refused while it runs.
    assert_eq!(queue_op(&app, &job_id(1), "batch-pipeline").await, hung);
    let res = app
        .post(
            &format!("/api/jobs/{}/operations/generate-cv/queue", job_id(1)),
            &json!({}),
        )
        .await;
    assert_eq!(res.status(), 409);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["code"], "JOB_HAS_ACTIVE_RUN");
    assert!(body["error"].as_str().unwrap().contains("batch-pipeline run"), "{body}");
    let res = app.post(&format!("/jobs/{hung}/cancel"), &json!({})).await;
    assert_eq!(res.status(), 200);

    // A batch: all queued at once.
    let res = app
        .post(
            "/api/jobs/research-company/batch",
            &json!({"job_ids": [JOB, job_id(2)], "tier": "fast"}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["total_count"], 2);
    for r in body["runs"].as_array().unwrap() {
        assert_eq!(r["operation"], "research-company");
        assert_eq!(app.wait_for_end(r["run_id"].as_str().unwrap()).await, "completed");
    }
    for (path, code) in [
        ("/api/jobs/prepare-annotations/batch", "OPERATION_NOT_SUPPORTED"),
        ("/api/jobs/make-coffee/batch", "UNKNOWN_OPERATION"),
    ] {
        let res = app.post(path, &json!({"job_ids": [JOB]})).await;
        assert_eq!(res.status(), 422);
        assert_eq!(res.json::<Value>().await.unwrap()["code"], code);
    }
    let res = app.post("/api/jobs/generate-cv/batch", &json!({"job_ids": []})).await;
    assert_eq!(res.status(), 422);
}

/// The newest dashboard's operation views: the SSE stream with `layer_status`, `result`
/// and `end`, and the status document.
#[actix_web::test]
async fn an_operations_run_streams_layer_status_result_and_end() {
    let app = spawn_app_with(|_| {}, &[]).await;
    let full = app.start_run(JOB).await;
    assert_eq!(app.wait_for_end(&full).await, "completed");
    let run = queue_op(&app, JOB, "generate-cv").await;
    let res = app.get(&format!("/api/jobs/operations/{run}/logs")).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "text/event-stream");
    let events = crate::helpers::parse_sse(&res.text().await.unwrap());
    let named = |name: &str| {
        events
            .iter()
            .filter(|e| e.event.as_deref() == Some(name))
            .collect::<Vec<_>>()
    };
    let layers = named("layer_status");
    assert!(!layers.is_empty(), "{events:?}");
    let last: Value = serde_json::from_str(&layers.last().unwrap().data).unwrap();
    assert_eq!(last["cv"]["status"], "success", "{last}");
    let result: Value = serde_json::from_str(&named("result")[0].data).unwrap();
    assert_eq!(
        (result["success"].clone(), result["run_id"].clone()),
        (json!(true), json!(run))
    );
    assert!(result["data"]["artifacts"]["cv_md_url"].is_string(), "{result}");
    assert_eq!(result["data"]["stages"]["research"], "reused");
    assert_eq!(named("end")[0].data, "completed");
    assert!(events
        .iter()
        .any(|e| e.event.is_none() && e.data.contains("stage cv completed")));

    let status = app.get_json(&format!("/api/jobs/operations/{run}/status")).await;
    assert_eq!(status["status"], "completed");
    assert_eq!(status["operation"], "generate-cv");
    assert_eq!(status["job_id"], JOB);
    assert!(
        status["layer_status"]["pain_points"]["message"]
            .as_str()
            .unwrap()
            .contains(&format!("reused from run {full}")),
        "{status}"
    );
    assert!(status["logs"].as_array().unwrap().len() > 5);
    assert_eq!(status["result"]["success"], true);
    let res = app
        .get("/api/jobs/operations/0123456789abcdef0123456789abcdef/status")
        .await;
    assert_eq!(res.status(), 404);
}
