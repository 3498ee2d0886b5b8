//! The health actor's alerts over a real SMTP server: one alert when a check goes bad, a
//! recovery when it is good again, and the cooldown respected when it goes bad again.

use std::time::{Duration, Instant};

use job_runner::config::SmtpTls;
use serde_json::Value;

use crate::helpers::{job_id, posting, spawn_app_with, TestApp, JOB};
use crate::smtp::SmtpServer;

fn subject(message: &str) -> String {
    message
        .lines()
        .find_map(|l| l.strip_prefix("Subject: "))
        .unwrap_or_default()
        .to_owned()
}

async fn error_rate_check(app: &TestApp) -> Value {
    let deep = app.get_json("/health/deep").await;
    deep["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "error_rate")
        .cloned()
        .unwrap_or(Value::Null)
}

/// Waits (bounded) until the error-rate check reports `status`.
async fn wait_error_rate(app: &TestApp, status: &str) -> Value {
    let started = Instant::now();
    loop {
        let check = error_rate_check(app).await;
        if check["status"] == status {
            return check;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "error_rate never became {status}: {check}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[actix_web::test]
async fn a_failing_check_alerts_once_recovers_and_respects_the_cooldown() {
    let smtp = SmtpServer::start();
    let jobs = vec![
        posting(&job_id(1), Some("Hi.")),
        posting(&job_id(2), None),
        posting(&job_id(3), Some("Hi.")),
        posting(&job_id(4), Some("Hi.")),
    ];
    let port = smtp.port;
    // The same alerts go to a webhook (ntfy format), with the e-mail's cooldown.
    let hook = wiremock::MockServer::start().await;
    wiremock::Mock::given(wiremock::matchers::method("POST"))
        .respond_with(wiremock::ResponseTemplate::new(200))
        .mount(&hook)
        .await;
    let hook_url = format!("{}/job-runner-alerts", hook.uri());
    let app = spawn_app_with(
        move |s| {
            s.alerts.webhook_url = Some(job_runner::config::Secret::new(&hook_url));
            s.alerts.webhook_format = job_runner::config::WebhookFormat::Ntfy;
            s.alerts.health_check_interval = Duration::from_millis(100);
            let a = &mut s.alerts;
            a.error_rate_percent = 50;
            // Only the error rate may alert in this test: the machine's load must not.
            (a.cpu_percent, a.memory_percent, a.disk_free_percent) = (100, 100, 0);
            a.smtp_host = Some("127.0.0.1".into());
            a.smtp_port = port;
            a.smtp_tls = SmtpTls::None;
            a.from = Some("job-runner <runner@example.com>".into());
            a.to = vec!["ops@example.com".into(), "oncall@example.com".into()];
            a.cooldown = Duration::from_secs(3600);
        },
        &jobs,
    )
    .await;

    // 1 failed of 1 → 100 % > 50 %: one alert.
    let failed = app.start_run(&job_id(1)).await;
    assert_eq!(app.wait_for_end(&failed).await, "failed");
    wait_error_rate(&app, "failing").await;
    assert_eq!(app.get_json("/health").await["status"], "degraded");
    let mails = match tokio::time::timeout(Duration::from_secs(60), smtp.wait_for(1)).await {
        Ok(m) => m,
        Err(_) => {
            let deep = app.get_json("/health/deep").await;
            let metrics = app.get("/metrics").await.text().await.unwrap();
            let sent: Vec<&str> = metrics.lines().filter(|l| l.contains("alerts_sent")).collect();
            panic!("no alert e-mail: deep={deep}\nmetrics={sent:?}\nport={}", smtp.port);
        }
    };
    assert!(subject(&mails[0]).contains("ALERT: error_rate"), "{}", mails[0]);
    assert!(
        subject(&mails[0]).contains("[job-runner@"),
        "subject names the host: {}",
        subject(&mails[0])
    );
    assert!(mails[0].contains("multipart/alternative"), "{}", mails[0]);
    assert!(mails[0].contains("text/plain") && mails[0].contains("text/html"));
    assert!(mails[0].contains("ops@example.com") && mails[0].contains("oncall@example.com"));
    // Readable on a phone: what and since when first, then what to do and where to read more.
    let body = mails[0].replace("=\r\n", "").replace("=\n", "").replace("=3D", "=");
    assert!(
        body.contains("Runs are failing: 100% of those that finished in the last hour (threshold 50%), since "),
        "{body}"
    );
    assert!(
        body.contains("Runbook: docs/runbook.md, section \"error_rate\""),
        "{body}"
    );
    assert!(body.contains("/runs?status=failed"), "{body}");

    // 1 failed of 3 → 33 %: recovered.
    for job in [JOB.to_owned(), job_id(2)] {
        let run = app.start_run(&job).await;
        assert_eq!(app.wait_for_end(&run).await, "completed");
    }
    wait_error_rate(&app, "ok").await;
    let mails = smtp.wait_for(2).await;
    assert!(subject(&mails[1]).contains("RECOVERED: error_rate"), "{}", mails[1]);
    assert_eq!(app.get_json("/health").await["status"], "healthy");

    // 3 failed of 5 → 60 %: failing again, but within the cooldown: no new e-mail.
    for job in [job_id(3), job_id(4)] {
        let run = app.start_run(&job).await;
        assert_eq!(app.wait_for_end(&run).await, "failed");
    }
    let check = wait_error_rate(&app, "failing").await;
    assert_eq!(check["threshold"], 50);
    // Let a few more rounds pass (observed through the round counter, not a sleep).
    let rounds = app.get_json("/health/deep").await["rounds"].as_u64().unwrap();
    let started = Instant::now();
    while app.get_json("/health/deep").await["rounds"].as_u64().unwrap() < rounds + 5 {
        assert!(started.elapsed() < Duration::from_secs(30));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let subjects: Vec<String> = smtp.messages().iter().map(|m| subject(m)).collect();
    assert_eq!(subjects.len(), 2, "cooldown not respected: {subjects:?}");
    let posts = hook.received_requests().await.unwrap();
    let titles: Vec<&str> = posts.iter().map(|r| r.headers["title"].to_str().unwrap()).collect();
    assert_eq!(titles.len(), 2, "the webhook shares the cooldown: {titles:?}");
    assert!(titles[0].ends_with("ALERT: error_rate") && titles[1].ends_with("RECOVERED: error_rate"));
    assert_eq!(posts[0].headers["priority"], "high");
    assert!(String::from_utf8_lossy(&posts[0].body).starts_with("Runs are failing: 100%"));

    let deep = app.get_json("/health/deep").await;
    for check in deep["checks"].as_array().unwrap() {
        for field in ["name", "status", "value", "threshold", "latency_ms", "last_change"] {
            assert!(check.get(field).is_some(), "{check}");
        }
    }
    let names: Vec<&str> = deep["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    for expected in [
        "store",
        "error_rate",
        "cost_per_run",
        "stuck_runs",
        "disk",
        "cpu",
        "memory",
        "queue_depth",
        "llm_provider",
        "firecrawl",
    ] {
        assert!(names.contains(&expected), "{names:?}");
    }
}

/// Every alert and recovery is kept in the alert history the newest dashboard's widget reads
/// (`GET /api/metrics/alerts`), also when no e-mail is configured.
#[actix_web::test]
async fn alerts_are_kept_in_the_history_without_e_mail_and_filtered_on_request() {
    let jobs = vec![posting(&job_id(1), Some("Hi."))];
    let app = spawn_app_with(
        |s| {
            s.alerts.health_check_interval = Duration::from_millis(100);
            let a = &mut s.alerts;
            a.error_rate_percent = 50;
            (a.cpu_percent, a.memory_percent, a.disk_free_percent) = (100, 100, 0);
        },
        &jobs,
    )
    .await;
    let failed = app.start_run(&job_id(1)).await;
    assert_eq!(app.wait_for_end(&failed).await, "failed");
    wait_error_rate(&app, "failing").await;
    // The history is written right after the round that decided: wait for it (bounded).
    let started = Instant::now();
    let history = loop {
        let h = app.get_json("/api/metrics/alerts?limit=5&source=error_rate").await;
        if !h["alerts"].as_array().unwrap().is_empty() {
            break h;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "no alert recorded: {h}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let alert = &history["alerts"][0];
    assert_eq!(alert["source"], "error_rate");
    assert_eq!(alert["level"], "warning");
    assert!(
        alert["message"]
            .as_str()
            .unwrap()
            .starts_with("Runs are failing: 100% of those that finished in the last hour (threshold 50%), since "),
        "{alert}"
    );
    assert!(alert["metadata"]["threshold"] == 50, "{alert}");
    assert_eq!(history["stats"]["enabled"], true);
    assert_eq!(history["stats"]["email_configured"], false);
    assert!(history["stats"]["by_source"]["error_rate"].as_u64().unwrap() >= 1);
    let none = app.get_json("/api/metrics/alerts?level=critical").await;
    assert!(none["alerts"].as_array().unwrap().is_empty(), "{none}");
    let res = app.get("/api/metrics/alerts?level=loud").await;
    assert_eq!(res.status(), 422);
    let res = app.get("/api/metrics/alerts?limit=0").await;
    assert_eq!(res.status(), 422);
}
