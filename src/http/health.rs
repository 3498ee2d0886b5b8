//! `GET /health` and `HEAD /health`: cheap (no store or actor round trip), unauthenticated,
//! with the fields uptime monitors and the dashboard read.

use std::sync::atomic::Ordering;

use actix_web::{web, HttpResponse};
use serde_json::json;

#[allow(unused_imports)] // the schemas named by `#[utoipa::path]`
use super::openapi::*;
use super::AppState;

/// 200 `healthy`, 200 `degraded` while a non-fatal check fails, 503 `unhealthy` while the
/// store does not answer (so uptime monitors alert); served from counters and the last
/// health round, never waiting on a check.
#[utoipa::path(method(get, head), path = "/health", tag = "operations-and-health", security(()),
    description = "Liveness for uptime monitors: never needs a token, never rate limited.",
    responses((status = 200, description = "Serving", body = HealthAnswer),
              (status = 503, description = "The store is unreachable", body = HealthAnswer)))]
pub async fn health(state: web::Data<AppState>) -> HttpResponse {
    let stats = &state.stats;
    let store_ok = stats.store_ok.load(Ordering::SeqCst);
    let degraded = state.health.read().map(|s| s.degraded()).unwrap_or(false);
    let status = match (store_ok, degraded) {
        (false, _) => "unhealthy",
        (true, true) => "degraded",
        (true, false) => "healthy",
    };
    let mut res = if store_ok {
        HttpResponse::Ok()
    } else {
        HttpResponse::ServiceUnavailable()
    };
    res.json(Health {
        status,
        store_reachable: store_ok,
        active_runs: stats.active.load(Ordering::SeqCst),
        max_concurrency: stats.max_concurrency,
        queued_runs: stats.queued.load(Ordering::SeqCst),
        draining: stats.draining.load(Ordering::SeqCst),
        store: state.store.backend(),
        auth: if state.settings.server.runner_api_secret.is_some() {
            "on"
        } else {
            "off"
        },
        runner_id: &state.instance_id,
        pdf_service_status: if state.pdf_check.is_ok() {
            "healthy"
        } else {
            "unhealthy"
        },
        pdf_service_error: state.pdf_check.as_ref().err(),
        version: env!("CARGO_PKG_VERSION"),
        timestamp: chrono::Utc::now(),
    })
}

/// The answer of `GET /health`, serialised straight from the counters (this route is what
/// uptime monitors hammer; see docs/benchmarks.md).
#[derive(serde::Serialize)]
struct Health<'a> {
    status: &'static str,
    store_reachable: bool,
    active_runs: usize,
    max_concurrency: usize,
    queued_runs: usize,
    draining: bool,
    store: &'static str,
    /// "off" when no RUNNER_API_SECRET is set: every route is open to anyone.
    auth: &'static str,
    runner_id: &'a str,
    /// The PDF renderer is in-process; its start-up self-render decides this (the
    /// dashboard shows any value but healthy/unhealthy as "unknown").
    pdf_service_status: &'static str,
    pdf_service_error: Option<&'a String>,
    version: &'static str,
    timestamp: chrono::DateTime<chrono::Utc>,
}

/// `GET /health/deep` (auth): every check of the last round with status, value, threshold,
/// latency and when its status last changed.
#[utoipa::path(get, path = "/health/deep", tag = "operations-and-health", security(("bearer" = [])),
    responses((status = 200, description = "The health actor's latest checks (disk, memory, store, providers, queue)", body = DeepHealthAnswer)))]
pub async fn deep(state: web::Data<AppState>) -> HttpResponse {
    let snap = state.health.read().map(|s| s.clone()).unwrap_or_default();
    let store_ok = state.stats.store_ok.load(Ordering::SeqCst);
    let status = if !store_ok {
        "unhealthy"
    } else if snap.degraded() {
        "degraded"
    } else {
        "healthy"
    };
    let now = chrono::Utc::now();
    let runners_live = match state.store.runners().await {
        Ok(beats) => json!(beats.iter().filter(|b| !b.is_lost(now)).count()),
        Err(_) => serde_json::Value::Null,
    };
    HttpResponse::Ok().json(json!({
        "status": status,
        "runners_live": runners_live,
        "checked_at": snap.checked_at,
        "rounds": snap.rounds,
        "checks": snap.checks,
    }))
}
