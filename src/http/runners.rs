//! `GET /runners`: the cluster as the store sees it. Every runner sharing the store beats
//! every few seconds (id, host, version, start, active runs, draining); one whose beat
//! stopped for three intervals is shown as `lost` (its runs are taken over by the lease
//! rules, not by this view). On SQLite the list is this runner.

use actix_web::{web, HttpResponse};
use serde_json::json;

#[allow(unused_imports)] // the schemas named by `#[utoipa::path]`
use super::openapi::*;
use super::AppState;
use crate::http::error::ApiError;
use crate::store::RunnerBeat;

/// The runners with their status, this one marked.
#[utoipa::path(get, path = "/runners", tag = "operations-and-health", security(("bearer" = [])),
    responses((status = 200, description = "Every runner sharing the store, with its heartbeat: `runners`, `live`, `heartbeat_seconds`, `lost_after_seconds`", body = JsonObject)))]
#[tracing::instrument(name = "GET /runners", skip_all)]
pub async fn list(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let now = chrono::Utc::now();
    let beats = state.store.runners().await?;
    let live = beats.iter().filter(|b| !b.is_lost(now)).count();
    let runners: Vec<serde_json::Value> = beats
        .iter()
        .map(|b| {
            json!({
                "runner_id": b.runner_id,
                "host": b.host,
                "version": b.version,
                "started_at": b.started_at,
                "last_heartbeat": b.last_seen,
                "active_runs": b.active_runs,
                "draining": b.draining,
                "status": if b.is_lost(now) { "lost" } else if b.draining { "draining" } else { "alive" },
                "this": b.runner_id == state.instance_id,
            })
        })
        .collect();
    Ok(HttpResponse::Ok().json(json!({
        "runners": runners,
        "live": live,
        "heartbeat_seconds": RunnerBeat::INTERVAL.as_secs(),
        "lost_after_seconds": (RunnerBeat::INTERVAL * RunnerBeat::LOST_AFTER_BEATS).as_secs(),
    })))
}
