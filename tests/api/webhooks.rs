//! Completion webhooks through the real daemon, received by a local HTTP server that
//! verifies each signature itself (HMAC-SHA256 of "<timestamp>.<body>", computed here, not
//! with the daemon's code) and answers 500 to the first attempts: the daemon retries, then
//! `GET /runs/{id}` lists every attempt.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use hmac::{Hmac, Mac};
use job_runner::config::Secret;
use serde_json::Value;
use sha2::Sha256;
use tokio::sync::mpsc;

use crate::helpers::{spawn_app_with, TestApp, JOB};

const HOOK_SECRET: &str = "whsec-test-0123456789abcdef";

/// One request the receiver saw.
#[derive(Debug, Clone)]
struct Received {
    signature_ok: bool,
    signed: bool,
    timestamp: i64,
    delivery: String,
    attempt: String,
    body: Value,
    answered: u16,
}

/// A receiver answering `fail_first` requests with `fail_status`, then 200; every request
/// is sent on the channel.
async fn receiver(fail_first: usize, fail_status: u16) -> (String, mpsc::UnboundedReceiver<Received>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let seen = Arc::new(Mutex::new(0usize));
    let server = HttpServer::new(move || {
        let (tx, seen) = (tx.clone(), Arc::clone(&seen));
        App::new().route(
            "/hook",
            web::post().to(move |req: HttpRequest, body: web::Bytes| {
                let (tx, seen) = (tx.clone(), Arc::clone(&seen));
                async move {
                    let header = |n: &str| {
                        req.headers()
                            .get(n)
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or("")
                            .to_owned()
                    };
                    let timestamp = header("x-jobrunner-timestamp");
                    let mut mac = Hmac::<Sha256>::new_from_slice(HOOK_SECRET.as_bytes()).unwrap();
                    mac.update(format!("{timestamp}.").as_bytes());
                    mac.update(&body);
                    let expected: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
                    let n = {
                        let mut s = seen.lock().unwrap();
                        *s += 1;
                        *s
                    };
                    let answered = if n <= fail_first { fail_status } else { 200 };
                    let _ = tx.send(Received {
                        signature_ok: header("x-jobrunner-signature") == format!("sha256={expected}"),
                        signed: !header("x-jobrunner-signature").is_empty(),
                        timestamp: timestamp.parse().unwrap_or(0),
                        delivery: header("x-jobrunner-delivery"),
                        attempt: header("x-jobrunner-attempt"),
                        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
                        answered,
                    });
                    HttpResponse::build(actix_web::http::StatusCode::from_u16(answered).unwrap()).finish()
                }
            }),
        )
    })
    .workers(1)
    .bind("127.0.0.1:0")
    .unwrap();
    let url = format!("http://{}/hook", server.addrs()[0]);
    actix_web::rt::spawn(server.run());
    (url, rx)
}

async fn next(rx: &mut mpsc::UnboundedReceiver<Received>) -> Received {
    tokio::time::timeout(Duration::from_secs(60), rx.recv())
        .await
        .expect("a delivery within a minute")
        .expect("receiver running")
}

/// The run's recorded deliveries to `target` (any target when `None`) once there are `n`.
/// Delivery is recorded after the receiver answers and nothing pushes that moment, so this
/// reads until it is there (bounded).
pub(crate) async fn deliveries_to(app: &TestApp, run: &str, target: Option<&str>, n: usize) -> Vec<Value> {
    for _ in 0..1000 {
        let detail = app.get_json(&format!("/runs/{run}")).await;
        let list: Vec<Value> = detail["webhook_deliveries"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .filter(|d| target.is_none_or(|t| d["target"] == t))
            .collect();
        if list.len() >= n {
            return list;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("{n} deliveries were never recorded for {run}");
}

async fn deliveries(app: &TestApp, run: &str, n: usize) -> Vec<Value> {
    deliveries_to(app, run, None, n).await
}

#[actix_web::test]
async fn a_signed_event_is_retried_after_500s_until_the_receiver_takes_it() {
    let (url, mut rx) = receiver(2, 500).await;
    let app = spawn_app_with(
        move |s| {
            s.publishing.webhook_url = Some(Secret::new(url));
            s.publishing.webhook_secret = Some(Secret::new(HOOK_SECRET));
            s.publishing.webhook_retry_base = Duration::from_millis(20);
        },
        &[],
    )
    .await;
    let run = app.start_run(JOB).await;
    assert_eq!(app.wait_for_end(&run).await, "completed");
    let attempts = [next(&mut rx).await, next(&mut rx).await, next(&mut rx).await];
    let now = chrono::Utc::now().timestamp();
    for (i, a) in attempts.iter().enumerate() {
        assert!(a.signature_ok, "attempt {i}: the signature verifies: {a:?}");
        assert!((now - a.timestamp).abs() < 300, "a fresh timestamp: {a:?}");
        assert_eq!(a.attempt, (i + 1).to_string());
        assert_eq!(a.delivery, attempts[0].delivery, "one delivery id across retries");
    }
    assert_eq!(attempts.iter().map(|a| a.answered).collect::<Vec<_>>(), [500, 500, 200]);
    let body = &attempts[2].body;
    assert_eq!(body["event"], "run.finished");
    assert_eq!(
        (body["run_id"].as_str(), body["status"].as_str()),
        (Some(run.as_str()), Some("completed"))
    );
    assert_eq!(body["job_id"], JOB);
    assert!(body["fit"]["score"].as_u64().is_some(), "{body}");
    assert!(body["artifacts"]["cv_pdf_url"].as_str().unwrap().ends_with("/CV.pdf"));
    assert_eq!(body["company"], "Northwind Logistics");

    let recorded = deliveries(&app, &run, 3).await;
    let summary: Vec<(u64, bool)> = recorded
        .iter()
        .map(|d| (d["status"].as_u64().unwrap(), d["delivered"].as_bool().unwrap()))
        .collect();
    assert_eq!(summary, [(500, false), (500, false), (200, true)]);
    assert!(recorded[0]["error"].as_str().unwrap().contains("500"));
    let text = serde_json::to_string(&recorded).unwrap();
    assert!(
        !text.contains(HOOK_SECRET) && !text.contains("/hook"),
        "no secret or URL: {text}"
    );
}

#[actix_web::test]
async fn a_refusal_is_not_retried_and_unsigned_hooks_carry_no_signature() {
    let (url, mut rx) = receiver(10, 410).await;
    let app = spawn_app_with(
        move |s| {
            s.publishing.webhook_url = Some(Secret::new(url));
            s.publishing.webhook_retry_base = Duration::from_millis(10);
        },
        &[],
    )
    .await;
    let run = app.start_run(JOB).await;
    app.wait_for_end(&run).await;
    let first = next(&mut rx).await;
    assert!(!first.signed, "no WEBHOOK_SECRET, no signature header");
    assert_eq!(first.answered, 410);
    let recorded = deliveries(&app, &run, 1).await;
    assert_eq!(recorded.len(), 1);
    assert_eq!(recorded[0]["delivered"], false);
    // A 410 is the receiver's answer, not a passing failure: nothing more is sent. A second
    // run's delivery arrives next on the channel, not a retry of the first.
    let other = app.post("/jobs/run", &serde_json::json!({"job_id": JOB})).await;
    let second_run = other.json::<Value>().await.unwrap()["run_id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.wait_for_end(&second_run).await;
    let second = next(&mut rx).await;
    assert_eq!(second.body["run_id"], second_run.as_str());
}

/// One upload the CV receiver saw: content type, raw body, the status it answered.
#[derive(Debug)]
struct Upload {
    content_type: String,
    body: Vec<u8>,
    answered: u16,
}

/// A receiver answering 503 to the first `fail_first` uploads, then 200.
async fn upload_receiver(fail_first: usize) -> (String, mpsc::UnboundedReceiver<Upload>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let seen = Arc::new(Mutex::new(0usize));
    let server = HttpServer::new(move || {
        let (tx, seen) = (tx.clone(), Arc::clone(&seen));
        App::new().app_data(web::PayloadConfig::new(16 * 1024 * 1024)).route(
            "/cv-upload",
            web::post().to(move |req: HttpRequest, body: web::Bytes| {
                let (tx, seen) = (tx.clone(), Arc::clone(&seen));
                async move {
                    let n = {
                        let mut s = seen.lock().unwrap();
                        *s += 1;
                        *s
                    };
                    let answered = if n <= fail_first { 503 } else { 200 };
                    let _ = tx.send(Upload {
                        content_type: req
                            .headers()
                            .get("content-type")
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or("")
                            .to_owned(),
                        body: body.to_vec(),
                        answered,
                    });
                    HttpResponse::build(actix_web::http::StatusCode::from_u16(answered).unwrap()).finish()
                }
            }),
        )
    })
    .workers(1)
    .bind("127.0.0.1:0")
    .unwrap();
    let url = format!("http://{}/cv-upload", server.addrs()[0]);
    actix_web::rt::spawn(server.run());
    (url, rx)
}

async fn next_upload(rx: &mut mpsc::UnboundedReceiver<Upload>) -> Upload {
    tokio::time::timeout(Duration::from_secs(60), rx.recv())
        .await
        .expect("an upload within a minute")
        .expect("receiver running")
}

#[actix_web::test]
async fn a_completed_runs_cv_pdf_is_uploaded_retried_and_sent_again_on_request() {
    let (url, mut rx) = upload_receiver(1).await;
    let app = spawn_app_with(
        move |s| {
            s.publishing.n8n_webhook_cv_upload = Some(Secret::new(url));
            s.publishing.webhook_retry_base = Duration::from_millis(20);
        },
        &[],
    )
    .await;
    let run = app.start_run(JOB).await;
    assert_eq!(
        app.wait_for_end(&run).await,
        "completed",
        "an upload never holds the run"
    );
    let (first, second) = (next_upload(&mut rx).await, next_upload(&mut rx).await);
    assert_eq!((first.answered, second.answered), (503, 200));
    assert!(
        second.content_type.starts_with("multipart/form-data; boundary="),
        "{}",
        second.content_type
    );
    let body = String::from_utf8_lossy(&second.body);
    let pdf = app
        .client
        .get(app.url(&format!("/artifacts/{run}/CV.pdf")))
        .bearer_auth(crate::helpers::SECRET)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert!(
        second.body.windows(pdf.len()).any(|w| w == pdf.as_ref()),
        "the upload carries the run's CV.pdf byte for byte"
    );
    for field in [
        "name=\"job_id\"",
        JOB,
        "name=\"run_id\"",
        run.as_str(),
        "name=\"file\"",
        "application/pdf",
    ] {
        assert!(body.contains(field), "{field} missing from the upload");
    }
    let recorded = deliveries(&app, &run, 2).await;
    assert!(recorded.iter().all(|d| d["target"] == "n8n-cv-upload"), "{recorded:?}");
    assert_eq!(recorded.last().unwrap()["delivered"], true);

    // Sent again on request; runs that are not completed and unknown runs are refused.
    let res = app.post(&format!("/jobs/{run}/publish"), &serde_json::json!({})).await;
    assert_eq!(res.status(), 202);
    assert_eq!(res.json::<Value>().await.unwrap()["targets"][0], "n8n-cv-upload");
    assert_eq!(next_upload(&mut rx).await.answered, 200);
    deliveries(&app, &run, 3).await;
    let missing = app
        .post("/jobs/0123456789abcdef0123456789abcdef/publish", &serde_json::json!({}))
        .await;
    assert_eq!(missing.status(), 404);
}

#[actix_web::test]
async fn publishing_again_needs_a_target_and_a_completed_run() {
    let app = spawn_app_with(|_| {}, &[]).await;
    let run = app.start_run(JOB).await;
    app.wait_for_end(&run).await;
    let res = app.post(&format!("/jobs/{run}/publish"), &serde_json::json!({})).await;
    assert_eq!(res.status(), 422);
    assert_eq!(res.json::<Value>().await.unwrap()["code"], "REMOTE_PUBLISHING_OFF");

    // With a target, a cancelled run has no package to send.
    let (url, _rx) = upload_receiver(0).await;
    let app = spawn_app_with(
        move |s| {
            s.publishing.n8n_webhook_cv_upload = Some(Secret::new(url));
            s.queue.offline_stage_delay = Duration::from_secs(30);
        },
        &[],
    )
    .await;
    let run = app.start_run(JOB).await;
    assert_eq!(
        app.post(&format!("/jobs/{run}/cancel"), &serde_json::json!({}))
            .await
            .status(),
        200
    );
    assert_eq!(app.wait_for_end(&run).await, "cancelled");
    let res = app.post(&format!("/jobs/{run}/publish"), &serde_json::json!({})).await;
    assert_eq!(res.status(), 409);
    assert_eq!(res.json::<Value>().await.unwrap()["code"], "RUN_NOT_COMPLETED");
}
