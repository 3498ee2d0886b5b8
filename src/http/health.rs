//! `GET /health` and `HEAD /health`: cheap (no store or actor round trip), unauthenticated,
//! with the fields uptime monitors and the dashboard read.

use std::sync::atomic::Ordering;

use actix_web::{web, HttpResponse};
use serde_json::json;

use super::AppState;

pub async fn health(state: web::Data<AppState>) -> HttpResponse {
    let stats = &state.stats;
    HttpResponse::Ok().json(json!({
        "status": "healthy",
        "active_runs": stats.active.load(Ordering::SeqCst),
        "max_concurrency": stats.max_concurrency,
        "queued_runs": stats.queued.load(Ordering::SeqCst),
        "draining": stats.draining.load(Ordering::SeqCst),
        "store": state.store.backend(),
        "version": env!("CARGO_PKG_VERSION"),
        "timestamp": chrono::Utc::now(),
    }))
}
