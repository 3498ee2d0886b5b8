//! `GET /diagnostics`: what the newest dashboard's diagnostics page reads
//! (COMPAT-DASHBOARD.md §7), from what the daemon knows: the store's answer and latency,
//! the services it does not use (`redis`, the PDF service), FireCrawl and LLM use, the
//! health checks, capacity and the latest alerts. Nothing here waits on a provider.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use actix_web::{web, HttpResponse};
use chrono::Utc;
use serde_json::{json, Value};

#[allow(unused_imports)] // the schemas named by `#[utoipa::path]`
use super::openapi::*;
use super::AppState;
use crate::domain::RunStatus;
use crate::health::CheckStatus;
use crate::http::error::ApiError;

/// How long the store may take to answer the diagnostics ping.
const PING_TIMEOUT: Duration = Duration::from_secs(5);

#[utoipa::path(get, path = "/diagnostics", tag = "operations-and-health", security(("bearer" = [])),
    responses((status = 200, description = "Settings in use (secrets masked), store, queue and providers", body = JsonObject)))]
#[tracing::instrument(name = "GET /diagnostics", skip_all)]
pub async fn diagnostics(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let now = Utc::now();
    let started = Instant::now();
    let ping = tokio::time::timeout(PING_TIMEOUT, state.store.ping()).await;
    let latency_ms = started.elapsed().as_millis() as u64;
    let (store_status, store_error) = match ping {
        Ok(Ok(())) => ("healthy", None),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "diagnostics: store ping failed");
            ("unhealthy", Some("the store did not answer its ping".to_owned()))
        }
        Err(_) => (
            "unhealthy",
            Some(format!("no answer within {} s", PING_TIMEOUT.as_secs())),
        ),
    };
    let store = json!({
        "status": store_status, "latency_ms": latency_ms, "error": store_error,
        "details": {"backend": state.store.backend()},
    });
    let mongodb = if state.store.backend() == "mongodb" {
        store.clone()
    } else {
        json!({"status": "not_configured", "latency_ms": null, "error": null,
               "details": {"backend": state.store.backend()}})
    };
    let snapshot = state.health.read().map(|s| s.clone()).unwrap_or_default();
    let failing: Vec<String> = snapshot
        .checks
        .iter()
        .filter(|c| c.status == CheckStatus::Failing)
        .map(|c| format!("{}: {}", c.name, c.message))
        .collect();
    let skipped: Vec<String> = snapshot
        .checks
        .iter()
        .filter(|c| c.status == CheckStatus::Skipped)
        .map(|c| format!("{}: {}", c.name, c.message))
        .collect();
    let store_ok = state.stats.store_ok.load(Ordering::SeqCst) && store_status == "healthy";
    let system_status = match (store_ok, failing.is_empty()) {
        (false, _) => "unhealthy",
        (true, false) => "degraded",
        (true, true) => "healthy",
    };
    // The LLM provider's circuit, as the health round last saw it.
    let llm_check = snapshot.checks.iter().find(|c| c.name == "llm_provider");
    let (mut closed, mut open) = (0, 0);
    let mut by_service = serde_json::Map::new();
    if let Some(c) = llm_check.filter(|c| c.status != CheckStatus::Skipped) {
        let state_name = if c.status == CheckStatus::Failing {
            "open"
        } else {
            "closed"
        };
        if state_name == "open" {
            open += 1;
        } else {
            closed += 1;
        }
        by_service.insert("llm".into(), json!({"state": state_name, "detail": c.message}));
    }
    // LLM use today and in the last minute, from the recorded calls.
    let day_start = crate::llm::costs::day_and_month_start(now).0;
    let calls = state.store.llm_calls_since(day_start).await?;
    let minute_ago = now - chrono::Duration::seconds(60);
    let mut by_provider = serde_json::Map::new();
    for c in &calls {
        let entry = by_provider.entry(c.provider.clone()).or_insert_with(|| {
            json!({"requests_today": 0, "requests_this_minute": 0,
                                      "daily_limit": null, "remaining_daily": null,
                                      "per_minute_limit": state.settings.llm.requests_per_minute})
        });
        entry["requests_today"] = json!(entry["requests_today"].as_u64().unwrap_or(0) + 1);
        if c.at >= minute_ago {
            entry["requests_this_minute"] = json!(entry["requests_this_minute"].as_u64().unwrap_or(0) + 1);
        }
    }
    let active = state.stats.active.load(Ordering::SeqCst);
    let max = state.stats.max_concurrency;
    let failed = state.store.count_runs(RunStatus::Failed).await?;
    let running = state.store.count_runs(RunStatus::Running).await?;
    let history = state.store.recent_alerts(500).await?;
    let firecrawl = &state.settings.firecrawl;
    Ok(HttpResponse::Ok().json(json!({
        "timestamp": now,
        "uptime_seconds": state.started.elapsed().as_secs(),
        "version": env!("CARGO_PKG_VERSION"),
        "environment": state.settings.server.environment.as_str(),
        "store": store,
        "mongodb": mongodb,
        "redis": {"status": "not_used", "latency_ms": null, "error": null, "details": {}},
        "pdf_service": {
            "status": if state.pdf_check.is_ok() { "healthy" } else { "unhealthy" },
            "latency_ms": null,
            "error": state.pdf_check.as_ref().err(),
            "details": {"renderer": "in-process", "page_size": state.settings.publishing.pdf_page_size.as_str()},
        },
        "firecrawl_credits": {
            "daily_limit": null,
            "used_today": null,
            "remaining": null,
            "used_percent": null,
            "max_calls_per_run": firecrawl.max_calls_per_run,
            "rate_per_minute": firecrawl.rate_per_minute,
            "status": if firecrawl.api_key.is_some() { "ok" } else { "not_configured" },
        },
        "openrouter_credits": {
            "credits_remaining": null,
            "status": if state.settings.llm.openrouter_api_key.is_some() { "not_checked" } else { "not_configured" },
            "error": null,
        },
        "system_health": {"status": system_status, "issues": failing, "warnings": skipped},
        "circuit_breakers": {"closed": closed, "open": open, "half_open": 0, "by_service": by_service},
        "rate_limits": {"by_provider": by_provider},
        "capacity": {
            "active_runs": active,
            "max_concurrency": max,
            "capacity_percent": if max == 0 { 0.0 } else { active as f64 * 100.0 / max as f64 },
            "queue_depth": state.stats.queued.load(Ordering::SeqCst),
            "queue_running": running,
            "queue_failed": failed,
        },
        "recent_alerts": history.iter().take(10).map(|a| json!({
            "level": a.level, "message": a.message, "source": a.source, "timestamp": a.timestamp,
        })).collect::<Vec<Value>>(),
        "alert_stats": {"history_count": history.len()},
    })))
}
