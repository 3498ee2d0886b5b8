//! The dashboard's exact call sequence from COMPAT.md, and what it leaves in the store.

use serde_json::json;

use crate::helpers::{spawn_app, JOB, SECRET};

#[actix_web::test]
async fn run_poll_stream_and_download_like_the_dashboard() {
    let app = spawn_app().await;

    // Arrange / Act: POST /jobs/run with the dashboard's extra `level` field.
    let res = app
        .post("/jobs/run", &json!({"job_id": JOB, "level": 2, "source": "dashboard"}))
        .await;
    assert_eq!(res.status(), 200);
    let body: serde_json::Value = res.json().await.unwrap();
    let run_id = body["run_id"].as_str().unwrap().to_owned();
    assert_eq!(body["status_url"], format!("/jobs/{run_id}/status"));
    assert_eq!(body["log_stream_url"], format!("/jobs/{run_id}/logs"));

    // Poll status once, as the browser does every 2 s.
    let status = app.get_json(body["status_url"].as_str().unwrap()).await;
    for field in ["run_id", "job_id", "status", "started_at", "updated_at", "artifacts"] {
        assert!(status.get(field).is_some(), "status lacks {field}: {status}");
    }
    assert!(["queued", "running", "completed"].contains(&status["status"].as_str().unwrap()));

    // Stream the log until `end`.
    let events = app.stream_logs(&run_id, None).await;
    let end = events.last().unwrap();
    assert_eq!(end.event.as_deref(), Some("end"));
    assert_eq!(end.data, "completed");
    let lines: Vec<_> = events.iter().filter(|e| e.event.is_none()).collect();
    assert!(lines.len() >= 15, "expected a full log, got {}", lines.len());
    for l in &lines {
        assert!(!l.data.trim().is_empty() && l.id.is_some(), "{l:?}");
    }
    let ids: Vec<u64> = lines.iter().filter_map(|l| l.id).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "ids increase: {ids:?}");

    // Final status lists the seven artifacts; each downloads with its file name.
    let status = app.get_json(&format!("/jobs/{run_id}/status")).await;
    assert_eq!(status["status"], "completed");
    let artifacts = status["artifacts"].as_object().unwrap();
    let mut keys: Vec<_> = artifacts.keys().cloned().collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "cover_letter_pdf_url",
            "cover_letter_txt_url",
            "cv_docx_url",
            "cv_md_url",
            "cv_pdf_url",
            "cv_review_md_url",
            "dossier_txt_url"
        ]
    );
    for (key, url) in artifacts {
        let url = url.as_str().unwrap();
        let file = url.rsplit('/').next().unwrap();
        assert_eq!(url, format!("/artifacts/{run_id}/{file}"), "{key}");
        let res = app.client.get(app.url(url)).bearer_auth(SECRET).send().await.unwrap();
        assert_eq!(res.status(), 200, "{url}");
        let disposition = res.headers()["content-disposition"].to_str().unwrap().to_owned();
        assert!(disposition.contains(file), "{disposition}");
        assert!(res.bytes().await.unwrap().len() > 100, "{url} is too small");
    }

    // The job document carries the status fields and every result field.
    let doc = app.job_document(JOB).await;
    assert_eq!(doc["pipeline_status"], "completed");
    assert_eq!(doc["pipeline_run_id"], run_id.as_str());
    assert_eq!(doc["status"], "ready for applying");
    for field in [
        "pipeline_started_at",
        "pipeline_updated_at",
        "updatedAt",
        "pipeline_completed_at",
        "artifact_urls",
        "pain_points",
        "strategic_needs",
        "risks_if_unfilled",
        "success_metrics",
        "company_research",
        "role_research",
        "fit_score",
        "fit_rationale",
        "fit_category",
        "primary_contacts",
        "secondary_contacts",
        "selected_stars",
        "star_to_pain_mapping",
        "cover_letter",
        "cv_path",
        "cv_text",
        "cv_reasoning",
        "outreach_packages",
        "fallback_cover_letters",
        "tier",
        "dossier_path",
    ] {
        assert!(
            doc.get(field).is_some_and(|v| !v.is_null()),
            "job document lacks {field}"
        );
    }
    assert_eq!(doc["primary_contacts"].as_array().unwrap().len(), 4);
    assert_eq!(doc["secondary_contacts"].as_array().unwrap().len(), 4);
    let score = doc["fit_score"].as_u64().unwrap();
    assert!(score <= 100);
    assert!(std::path::Path::new(doc["cv_path"].as_str().unwrap()).is_file());
    let progress = app.get_json(&format!("/jobs/{run_id}/progress")).await;
    assert_eq!(progress["progress_percent"], 100);
    assert!(progress["stages"]
        .as_array()
        .unwrap()
        .iter()
        .all(|s| s["status"] == "completed" && s["attempts"] == 1));
}

#[actix_web::test]
async fn a_second_request_for_an_active_job_returns_the_same_run() {
    let app = crate::helpers::spawn_app_with(
        |s| s.queue.offline_stage_delay = std::time::Duration::from_millis(200),
        &[],
    )
    .await;
    let first = app.start_run(JOB).await;
    let second = app.start_run(JOB).await;
    assert_eq!(first, second, "one active run per job");
    assert_eq!(app.wait_for_end(&first).await, "completed");
    let third = app.start_run(JOB).await;
    assert_ne!(first, third, "a finished job can run again");
    let list = app.get_json(&format!("/runs?job_id={JOB}")).await;
    assert_eq!(list["total"], 2);
}

/// The newest dashboard's cancel button checks `response.ok && result.success` and shows
/// `result.error` otherwise (COMPAT-DASHBOARD.md §1).
#[actix_web::test]
async fn cancel_answers_what_the_newest_dashboard_reads() {
    let app = crate::helpers::spawn_app_with(
        |s| s.queue.offline_stage_delay = std::time::Duration::from_secs(600),
        &[],
    )
    .await;
    let run = app.start_run(crate::helpers::JOB).await;
    let res = app.post(&format!("/jobs/{run}/cancel"), &serde_json::json!({})).await;
    assert_eq!(res.status(), 200);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["success"], true, "{body}");
    assert_eq!(body["message"], "Pipeline cancelled");
    assert_eq!(body["status"], "cancelled");
    // A completed run: the 409 stays, with `success: false` and an `error` to show.
    let app = crate::helpers::spawn_app().await;
    let run = app.start_run(crate::helpers::JOB).await;
    assert_eq!(app.wait_for_end(&run).await, "completed");
    let res = app.post(&format!("/jobs/{run}/cancel"), &serde_json::json!({})).await;
    assert_eq!(res.status(), 409);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["success"], false, "{body}");
    assert_eq!(body["code"], "RUN_ALREADY_FINISHED");
    assert!(body["error"].as_str().unwrap().contains("already finished"), "{body}");
    assert_eq!(body["error"], body["detail"]);
}

/// What `log-poller.js` does (COMPAT-DASHBOARD.md §3): `since` = the previous `next_index`,
/// stop once `status` is `completed` or `failed` and `next_index` reached
/// `expected_log_count` (or `total_count`). Returns every message it read.
async fn poll_like_the_dashboard(
    app: &crate::helpers::TestApp,
    run: &str,
    limit: u32,
) -> (Vec<String>, serde_json::Value) {
    let mut since = 0u64;
    let mut messages = Vec::new();
    for _ in 0..1000 {
        let page = app
            .get_json(&format!("/api/logs/{run}?since={since}&limit={limit}"))
            .await;
        for line in page["logs"].as_array().unwrap() {
            assert!(line["index"].as_u64().unwrap() > since, "{line}");
            assert_eq!(line["source"], "structured");
            assert!(line["timestamp"].is_string() && line["level"].is_string());
            messages.push(line["message"].as_str().unwrap().to_owned());
        }
        since = page["next_index"].as_u64().unwrap();
        let target = page["expected_log_count"]
            .as_u64()
            .unwrap_or_else(|| page["total_count"].as_u64().unwrap());
        let status = page["status"].as_str().unwrap();
        if matches!(status, "completed" | "failed") && since >= target {
            return (messages, page);
        }
    }
    panic!("the dashboard's poller never stopped");
}

#[actix_web::test]
async fn the_newest_dashboards_log_poller_reads_every_line_once_and_stops() {
    let app = crate::helpers::spawn_app().await;
    let run = app.start_run(crate::helpers::JOB).await;
    let sse = app.stream_logs(&run, None).await;
    let streamed: Vec<String> = sse
        .iter()
        .filter(|e| e.event.is_none())
        .map(|e| e.data.clone())
        .collect();
    let (messages, last) = poll_like_the_dashboard(&app, &run, 7).await;
    assert_eq!(messages.len(), streamed.len());
    for (m, s) in messages.iter().zip(&streamed) {
        assert!(s.ends_with(m.as_str()), "{s:?} vs {m:?}");
    }
    assert_eq!(last["status"], "completed");
    assert!(last["error"].is_null());
    assert_eq!(last["layer_status"]["publisher"]["status"], "success", "{last}");
    let status = app.get_json(&format!("/api/logs/{run}/status")).await;
    assert_eq!(status["status"], "completed");
    assert_eq!(status["layer_status"]["cv"]["status"], "success");
}

#[actix_web::test]
async fn a_cancelled_run_ends_the_pollers_loop_as_failed_with_the_reason() {
    let app = crate::helpers::spawn_app_with(
        |s| s.queue.offline_stage_delay = std::time::Duration::from_secs(600),
        &[],
    )
    .await;
    let run = app.start_run(crate::helpers::JOB).await;
    app.wait_for_line(&run, "stage extract started").await;
    let res = app.post(&format!("/jobs/{run}/cancel"), &serde_json::json!({})).await;
    assert_eq!(res.status(), 200);
    let (_, last) = poll_like_the_dashboard(&app, &run, 100).await;
    assert_eq!(last["status"], "failed");
    assert_eq!(last["error"], "cancelled");
    let res = app.get("/api/logs/0123456789abcdef0123456789abcdef/status").await;
    assert_eq!(res.status(), 404);
}

#[actix_web::test]
async fn health_reports_the_pdf_service_honestly() {
    let app = crate::helpers::spawn_app().await;
    let health = app.get_json("/health").await;
    // The renderer is in-process: its start-up self-render passed.
    assert_eq!(health["pdf_service_status"], "healthy");
    assert!(health["pdf_service_error"].is_null());
    assert!(health["active_runs"].is_u64() && health["max_concurrency"].is_u64());
}

/// `OPEN_READ_ROUTES=true`: the dashboard's browser-side polling reads need no bearer, with
/// CORS for its origin; anything that changes state or serves a file still does. Off (the
/// default), every one of them needs the bearer.
#[actix_web::test]
async fn open_read_routes_are_opt_in_and_only_reads() {
    let origin = "https://dash.example.com";
    let app = crate::helpers::spawn_app_with(
        |s| {
            s.server.open_read_routes = true;
            s.server.cors_origins = vec![origin.to_owned()];
        },
        &[],
    )
    .await;
    let run = app.start_run(crate::helpers::JOB).await;
    assert_eq!(app.wait_for_end(&run).await, "completed");
    let anonymous = |path: String| {
        let client = app.client.clone();
        let url = app.url(&path);
        async move { client.get(url).header("Origin", origin).send().await.unwrap() }
    };
    for path in [
        format!("/api/logs/{run}"),
        format!("/api/logs/{run}/status"),
        format!("/jobs/{run}/status"),
        format!("/jobs/{run}/progress"),
        format!("/jobs/{run}/logs"),
        "/api/metrics/budget".to_owned(),
    ] {
        let res = anonymous(path.clone()).await;
        assert_eq!(res.status(), 200, "{path}");
        assert_eq!(res.headers()["access-control-allow-origin"], origin, "{path}");
    }
    for path in [
        format!("/artifacts/{run}/CV.md"),
        "/runs".to_owned(),
        "/metrics".to_owned(),
    ] {
        assert_eq!(anonymous(path.clone()).await.status(), 401, "{path}");
    }
    let res = app
        .client
        .post(app.url(&format!("/jobs/{run}/cancel")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);

    let closed = crate::helpers::spawn_app().await;
    for path in [
        format!("/api/logs/{run}"),
        format!("/jobs/{run}/status"),
        "/api/metrics/budget".to_owned(),
        "/queue/state".to_owned(),
        format!("/queue/item/{}", crate::helpers::JOB),
        format!("/api/jobs/{}/queue-status", crate::helpers::JOB),
        "/diagnostics".to_owned(),
    ] {
        let res = closed.client.get(closed.url(&path)).send().await.unwrap();
        assert_eq!(res.status(), 401, "{path}");
    }
}

/// The job board's routes of the newest runner answer 501 `NOT_PROVIDED` naming the route,
/// never a bare 404; they still need the bearer.
#[actix_web::test]
async fn a_job_boards_routes_say_they_are_not_provided() {
    let app = crate::helpers::spawn_app().await;
    for (method, path) in [
        ("GET", "/api/master-cv/roles"),
        ("PUT", "/api/master-cv/taxonomy"),
        ("POST", "/jobs/65a1b2c3d4e5f60718293a4b/generate-annotations"),
        ("GET", "/user/annotation-priors"),
        ("POST", "/jobs/ingest/indeed"),
        ("POST", "/jobs/import-linkedin"),
        ("POST", "/job-search/search"),
        ("POST", "/api/jobs/65a1b2c3d4e5f60718293a4b/cv-editor/pdf"),
        ("POST", "/proxy/pdf/render-pdf"),
    ] {
        let req = app
            .client
            .request(method.parse().unwrap(), app.url(path))
            .bearer_auth(crate::helpers::SECRET);
        let res = req.send().await.unwrap();
        assert_eq!(res.status(), 501, "{method} {path}");
        let body: serde_json::Value = res.json().await.unwrap();
        assert_eq!(body["code"], "NOT_PROVIDED", "{body}");
        assert!(body["detail"].as_str().unwrap().contains(path), "{body}");
        let anonymous = app
            .client
            .request(method.parse().unwrap(), app.url(path))
            .send()
            .await
            .unwrap();
        assert_eq!(anonymous.status(), 401, "{method} {path}");
    }
    let res = app.get("/no/such/route").await;
    assert_eq!(res.status(), 404);
}

/// The cost-trend widget's form of the cost history (COMPAT-DASHBOARD.md §7), next to
/// today's `?days=` form, and its bad input.
#[actix_web::test]
async fn cost_history_answers_the_trend_widget_and_refuses_bad_periods() {
    let app = crate::helpers::spawn_app().await;
    let h = app.get_json("/api/metrics/cost-history?period=daily&count=7").await;
    assert_eq!(h["period"], "daily");
    assert_eq!(h["count"], 7);
    let costs = h["costs"].as_array().unwrap();
    assert_eq!(costs.len(), 7);
    assert!(costs.iter().all(|c| c["cost_usd"] == 0.0 && c["calls"] == 0));
    assert_eq!(h["summary"]["total_cost_usd"], 0.0);
    let svg = h["sparkline_svg"].as_str().unwrap();
    assert!(svg.starts_with("<svg") && svg.contains("polyline"), "{svg}");
    // Defaults: hourly, 24; today's fields are there too.
    let d = app.get_json("/api/metrics/cost-history").await;
    assert_eq!((d["period"].as_str(), d["count"].as_i64()), (Some("hourly"), Some(24)));
    assert_eq!(d["days"], 30);
    assert!(d["by_day"].is_array());
    for (query, needle) in [
        ("period=weekly", "period must be hourly or daily"),
        ("period=hourly&count=0", "count must be 1–720"),
        ("period=daily&count=400", "count must be 1–365"),
    ] {
        let res = app.get(&format!("/api/metrics/cost-history?{query}")).await;
        assert_eq!(res.status(), 422, "{query}");
        let body: serde_json::Value = res.json().await.unwrap();
        assert_eq!(body["code"], "VALIDATION_FAILED");
        assert!(body["detail"].as_str().unwrap().contains(needle), "{body}");
    }
}

/// `/jobs/run` accepts the newest dashboard's tier, validated and kept with the run and in
/// the job's `pipeline_runs`; a wrong tier queues nothing.
#[actix_web::test]
async fn a_runs_processing_tier_is_validated_and_kept() {
    let app = crate::helpers::spawn_app().await;
    let res = app
        .post(
            "/jobs/run",
            &serde_json::json!({"job_id": crate::helpers::JOB, "processing_tier": "premium"}),
        )
        .await;
    assert_eq!(res.status(), 422);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["code"], "INVALID_TIER");
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("fast, balanced, quality, A, B, C, D, auto"),
        "{body}"
    );
    let runs = app.get_json("/runs").await;
    assert_eq!(runs["total"], 0, "nothing queued: {runs}");

    let res = app
        .post(
            "/jobs/run",
            &serde_json::json!({"job_id": crate::helpers::JOB, "tier": "Quality"}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let run = res.json::<serde_json::Value>().await.unwrap()["run_id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(app.wait_for_end(&run).await, "completed");
    let status = app.get_json(&format!("/jobs/{run}/status")).await;
    assert_eq!(status["processing_tier"], "quality");
    let doc = app.job_document(crate::helpers::JOB).await;
    assert_eq!(doc["pipeline_runs"][0]["tier"], "quality");
    let res = app
        .post(
            "/jobs/run-bulk",
            &serde_json::json!({"job_ids": [crate::helpers::JOB], "tier": "Z"}),
        )
        .await;
    assert_eq!(res.status(), 422);
}

/// The diagnostics page's fields (COMPAT-DASHBOARD.md §7), from what the daemon knows.
#[actix_web::test]
async fn diagnostics_answer_the_pages_fields_honestly() {
    let app = crate::helpers::spawn_app().await;
    let run = app.start_run(crate::helpers::JOB).await;
    assert_eq!(app.wait_for_end(&run).await, "completed");
    let d = app.get_json("/diagnostics").await;
    for key in [
        "timestamp",
        "uptime_seconds",
        "version",
        "environment",
        "mongodb",
        "redis",
        "pdf_service",
        "firecrawl_credits",
        "openrouter_credits",
        "system_health",
        "circuit_breakers",
        "rate_limits",
        "capacity",
        "recent_alerts",
        "alert_stats",
    ] {
        assert!(!d[key].is_null(), "{key} missing: {d}");
    }
    assert_eq!(d["store"]["status"], "healthy");
    assert_eq!(d["store"]["details"]["backend"], "sqlite");
    assert_eq!(d["mongodb"]["status"], "not_configured");
    assert_eq!(d["redis"]["status"], "not_used");
    assert_eq!(d["pdf_service"]["status"], "healthy");
    assert_eq!(d["pdf_service"]["details"]["renderer"], "in-process");
    assert_eq!(d["firecrawl_credits"]["status"], "not_configured");
    assert_eq!(d["capacity"]["max_concurrency"], 3);
    assert_eq!(d["capacity"]["queue_failed"], 0);
    assert!(d["system_health"]["status"].is_string());
    let anonymous = app.client.get(app.url("/diagnostics")).send().await.unwrap();
    assert_eq!(anonymous.status(), 401);
}
