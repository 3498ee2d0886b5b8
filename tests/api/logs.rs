//! Live logs: pushed while the run works, resumable with Last-Event-ID, replayable after
//! the end, and available by polling.

use std::time::Duration;

use serde_json::Value;

use crate::helpers::{spawn_app, spawn_app_with, JOB};

#[actix_web::test]
async fn lines_arrive_while_the_run_is_still_working() {
    let app = spawn_app_with(|s| s.queue.offline_stage_delay = Duration::from_millis(400), &[]).await;
    let run_id = app.start_run(JOB).await;
    let seen = app.wait_for_line(&run_id, "stage pain_points started").await;
    assert!(!seen.is_empty());
    // The line was pushed before the run finished.
    let status = app.get_json(&format!("/jobs/{run_id}/status")).await;
    assert_eq!(status["status"], "running", "{status}");
    assert_eq!(app.wait_for_end(&run_id).await, "completed");
}

#[actix_web::test]
async fn reconnecting_with_last_event_id_replays_only_what_was_missed() {
    let app = spawn_app().await;
    let run_id = app.start_run(JOB).await;
    let all = app.stream_logs(&run_id, None).await;
    let lines: Vec<_> = all.iter().filter(|e| e.event.is_none()).collect();
    let cut = lines[4].id.unwrap();
    let rest = app.stream_logs(&run_id, Some(cut)).await;
    let rest_lines: Vec<_> = rest.iter().filter(|e| e.event.is_none()).collect();
    assert_eq!(rest_lines.len(), lines.len() - 5);
    assert!(rest_lines.iter().all(|e| e.id.unwrap() > cut));
    assert_eq!(rest.last().unwrap().event.as_deref(), Some("end"));
    // Everything seen: only the end event.
    let last = lines.last().unwrap().id.unwrap();
    let nothing = app.stream_logs(&run_id, Some(last)).await;
    assert_eq!(nothing.len(), 1);
    assert_eq!(nothing[0].event.as_deref(), Some("end"));
    // A malformed Last-Event-ID is refused clearly.
    let res = app
        .client
        .get(app.url(&format!("/jobs/{run_id}/logs")))
        .bearer_auth(crate::helpers::SECRET)
        .header("Last-Event-ID", "abc")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
}

#[actix_web::test]
async fn the_polling_endpoint_pages_through_the_log() {
    let app = spawn_app().await;
    let run_id = app.start_run(JOB).await;
    let streamed = app
        .stream_logs(&run_id, None)
        .await
        .into_iter()
        .filter(|e| e.event.is_none())
        .count();
    let first: Value = app.get_json(&format!("/api/logs/{run_id}?since=0&limit=5")).await;
    assert_eq!(first["lines"].as_array().unwrap().len(), 5);
    assert_eq!(first["done"], false);
    let next = first["next_since"].as_u64().unwrap();
    let rest: Value = app
        .get_json(&format!("/api/logs/{run_id}?since={next}&limit=1000"))
        .await;
    assert_eq!(rest["lines"].as_array().unwrap().len(), streamed - 5);
    assert_eq!(rest["done"], true);
    assert_eq!(rest["status"], "completed");
    assert!(rest["lines"][0]["seq"].as_u64().unwrap() > next);
}

#[actix_web::test]
async fn a_client_of_a_queued_run_gets_its_lines_when_it_starts() {
    let jobs = vec![crate::helpers::posting(&crate::helpers::job_id(1), None)];
    let app = spawn_app_with(
        |s| {
            s.queue.max_concurrency = 1;
            s.queue.offline_stage_delay = Duration::from_millis(100);
        },
        &jobs,
    )
    .await;
    let first = app.start_run(JOB).await;
    let second = app.start_run(&crate::helpers::job_id(1)).await;
    assert_eq!(
        app.get_json(&format!("/jobs/{second}/status")).await["status"],
        "queued"
    );
    let events = app.stream_logs(&second, None).await;
    assert_eq!(events.last().unwrap().data, "completed");
    assert!(events.iter().any(|e| e.data.contains("run queued")));
    assert!(events.iter().any(|e| e.data.contains("stage publisher completed")));
    assert_eq!(app.wait_for_end(&first).await, "completed");
}

#[actix_web::test]
async fn an_idle_stream_gets_keep_alive_comments() {
    use futures_util::StreamExt;
    let jobs = vec![crate::helpers::posting(&crate::helpers::job_id(1), None)];
    let app = spawn_app_with(
        |s| {
            s.queue.max_concurrency = 1;
            s.queue.offline_stage_delay = Duration::from_millis(500);
            s.server.sse_keep_alive = Duration::from_millis(100);
        },
        &jobs,
    )
    .await;
    // The second run waits for the only slot: its stream is idle meanwhile.
    let first = app.start_run(JOB).await;
    let queued = app.start_run(&crate::helpers::job_id(1)).await;
    let res = app
        .client
        .get(app.url(&format!("/jobs/{queued}/logs")))
        .bearer_auth(crate::helpers::SECRET)
        .send()
        .await
        .unwrap();
    let mut body = res.bytes_stream();
    let mut text = String::new();
    while !text.contains(": keep-alive\n\n") {
        let chunk = body.next().await.expect("stream ended before a keep-alive").unwrap();
        text.push_str(&String::from_utf8_lossy(&chunk));
    }
    drop(body);
    assert_eq!(app.wait_for_end(&first).await, "completed");
    assert_eq!(app.wait_for_end(&queued).await, "completed");
}
