//! `GET /health` and `HEAD /health`: cheap (no store or actor round trip), unauthenticated,
//! with the fields uptime monitors and the dashboard read.

use std::sync::atomic::Ordering;

use actix_web::{web, HttpResponse};
use serde_json::json;

use super::AppState;

/// 200 `healthy`, or 503 `unhealthy` while the store does not answer its ping (so uptime
/// monitors alert); served from counters, never waiting on a check.
pub async fn health(state: web::Data<AppState>) -> HttpResponse {
    let stats = &state.stats;
    let store_ok = stats.store_ok.load(Ordering::SeqCst);
    let mut res = if store_ok {
        HttpResponse::Ok()
    } else {
        HttpResponse::ServiceUnavailable()
    };
    res.json(json!({
        "status": if store_ok { "healthy" } else { "unhealthy" },
        "store_reachable": store_ok,
        "active_runs": stats.active.load(Ordering::SeqCst),
        "max_concurrency": stats.max_concurrency,
        "queued_runs": stats.queued.load(Ordering::SeqCst),
        "draining": stats.draining.load(Ordering::SeqCst),
        "store": state.store.backend(),
        "runner_id": state.instance_id,
        "version": env!("CARGO_PKG_VERSION"),
        "timestamp": chrono::Utc::now(),
    }))
}
