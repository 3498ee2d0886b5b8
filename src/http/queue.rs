//! The dashboard's queue (COMPAT-DASHBOARD.md §4): `GET /queue/state`, `GET /queue/item/{job_id}`,
//! and the actions on a queue item (`retry`, `cancel`, `dismiss`, `cleanup`, `clear`).
//!
//! A queue item is a run: its `queue_id` is stored with it, so every runner sharing a store
//! shows the same queue. `state_version` is a digest of everything the view shows (not the
//! `timestamp`), so it changes with every visible change, whichever runner made it, and
//! stays put while nothing changes. Cleanup and clear only take finished runs out of the
//! view: no run's data is deleted and a running run is never touched.

use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

#[allow(unused_imports)] // the schemas named by `#[utoipa::path]`
use super::openapi::*;
use super::AppState;
use crate::actors::messages::{CancelQueuedRun, RetryRun};
use crate::domain::untrusted::Shown;
use crate::domain::{JobId, QueueId, Run, RunStatus};
use crate::http::error::ApiError;
use crate::store::{FinishedCounts, QueueQuery, RunFilter};

/// How much of each list `/queue/state` shows: the next 10 to run, every running run (up to
/// 50), the newest 20 failures and the newest 20 finished.
const VIEW: QueueQuery = QueueQuery {
    pending: 10,
    running: 50,
    failed: 20,
    history: 20,
};

/// The longest `max_age_minutes` cleanup accepts (one year).
const MAX_AGE_MINUTES: i64 = 525_600;

/// One queue item as the dashboard reads it; `position` is 1 for the next run to start and
/// 0 for an item not waiting.
pub fn item_json(run: &Run, position: u64) -> Value {
    json!({
        "queue_id": run.queue_id,
        "job_id": run.job_id,
        "job_title": run.job_title.as_deref().unwrap_or("Unknown"),
        "company": run.company.as_deref().unwrap_or("Unknown"),
        "status": run.queue_status(),
        "operation": run.operation,
        "processing_tier": run.processing_tier,
        "created_at": run.created_at,
        "queued_at": run.queued_at,
        "started_at": run.started_at,
        "completed_at": run.finished_at,
        "error": run.error,
        "run_id": run.run_id,
        "runner_id": run.lease_owner,
        "position": position,
        "retry_count": run.retry_count,
        "dismissed": run.dismissed_at.is_some(),
        "cost_usd": run.cost_usd,
    })
}

/// Whether the queue takes new runs (not while this runner drains for shutdown).
fn queue_enabled(state: &AppState) -> bool {
    !state.stats.draining.load(std::sync::atomic::Ordering::SeqCst)
}

/// The 1-based position of a queued run (0 for any other).
pub async fn position_of(state: &AppState, run: &Run) -> Result<u64, ApiError> {
    Ok(match run.status {
        RunStatus::Queued => state.store.queued_ahead(run).await? + 1,
        _ => 0,
    })
}

/// Fills the title and company of runs stored before runs carried them, from their jobs.
async fn fill_labels<'a>(state: &AppState, runs: impl Iterator<Item = &'a mut Run>) -> Result<(), ApiError> {
    let mut known: std::collections::HashMap<JobId, (Option<String>, Option<String>)> = Default::default();
    for run in runs.filter(|r| r.job_title.is_none() && r.company.is_none()) {
        if !known.contains_key(&run.job_id) {
            let doc = state.store.get_job_document(&run.job_id).await?;
            let text = |key: &str| {
                doc.as_ref()
                    .and_then(|d| d.get(key))
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            };
            known.insert(run.job_id.clone(), (text("title"), text("company")));
        }
        let (title, company) = &known[&run.job_id];
        run.job_title.clone_from(title);
        run.company.clone_from(company);
    }
    Ok(())
}

/// A digest of the visible state: equal views give equal versions on every runner.
fn state_version(view: &Value) -> String {
    let digest = Sha256::digest(view.to_string().as_bytes());
    digest.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

/// `GET /queue/state`.
#[utoipa::path(get, path = "/queue/state", tag = "queue", security(("bearer" = [])),
    responses((status = 200, description = "Pending, running, failed and history items", body = JsonObject)))]
#[tracing::instrument(name = "GET /queue/state", skip_all)]
pub async fn queue_state(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let mut view = state.store.queue_view(&VIEW).await?;
    let completed_today = state
        .store
        .finished_since(super::costs::start_of_today())
        .await?
        .completed;
    fill_labels(
        &state,
        view.pending
            .iter_mut()
            .chain(view.running.iter_mut())
            .chain(view.failed.iter_mut())
            .chain(view.history.iter_mut()),
    )
    .await?;
    let items = |runs: &[Run]| runs.iter().map(|r| item_json(r, 0)).collect::<Vec<_>>();
    let pending: Vec<Value> = view
        .pending
        .iter()
        .enumerate()
        .map(|(i, r)| item_json(r, i as u64 + 1))
        .collect();
    let mut body = json!({
        "pending": pending,
        "running": items(&view.running),
        "failed": items(&view.failed),
        "history": items(&view.history),
        "stats": {
            "total_pending": view.total_pending,
            "total_running": view.total_running,
            "total_failed": view.total_failed,
            "total_completed_today": completed_today,
        },
        "queue_enabled": queue_enabled(&state),
    });
    body["state_version"] = json!(state_version(&body));
    body["timestamp"] = json!(Utc::now());
    Ok(HttpResponse::Ok().json(body))
}

/// `GET /queue/item/{job_id}`: the job's newest run still in the queue view.
#[utoipa::path(get, path = "/queue/item/{job_id}", tag = "queue", security(("bearer" = [])), params(("job_id" = String, Path, pattern = "^[0-9a-f]{24}$", description = "The job document's _id (24 hexadecimal characters)")),
    responses((status = 200, description = "The job's newest queue item, or null", body = JsonObject)))]
#[tracing::instrument(name = "GET /queue/item/{job_id}", skip_all, fields(job_id = %Shown(&path)))]
pub async fn item_for_job(state: web::Data<AppState>, path: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let job_id = JobId::parse(&path).map_err(ApiError::invalid_job_id)?;
    let page = state
        .store
        .list_runs(&RunFilter {
            job_id: Some(job_id.clone()),
            limit: 1,
            ..RunFilter::default()
        })
        .await?;
    let visible = page.runs.into_iter().next().filter(|r| r.hidden_at.is_none());
    let body = match visible {
        Some(mut run) => {
            fill_labels(&state, std::iter::once(&mut run)).await?;
            let position = position_of(&state, &run).await?;
            json!({"found": true, "item": item_json(&run, position), "job_id": job_id, "queue_enabled": queue_enabled(&state)})
        }
        None => json!({"found": false, "item": null, "job_id": job_id, "queue_enabled": queue_enabled(&state)}),
    };
    Ok(HttpResponse::Ok().json(body))
}

/// The run a queue id in the path names, or 400/404.
async fn load_item(state: &AppState, raw: &str) -> Result<Run, ApiError> {
    let id = QueueId::parse(raw)
        .map_err(|e| ApiError::new(actix_web::http::StatusCode::BAD_REQUEST, "INVALID_QUEUE_ID", e))?;
    state.store.run_by_queue_id(&id).await?.ok_or_else(|| {
        ApiError::new(
            actix_web::http::StatusCode::NOT_FOUND,
            "QUEUE_ITEM_NOT_FOUND",
            format!("queue item {id} not found"),
        )
    })
}

fn conflict(code: &'static str, msg: String) -> ApiError {
    ApiError::new(actix_web::http::StatusCode::CONFLICT, code, msg)
}

/// `POST /queue/{queue_id}/retry`: a failed run is queued again and resumes from its
/// checkpoints.
#[utoipa::path(post, path = "/queue/{queue_id}/retry", tag = "queue", security(("bearer" = [])), params(("queue_id" = String, Path, description = "The queue item id (q_…)")),
    responses((status = 200, description = "The new run as a queue item", body = JsonObject)))]
#[tracing::instrument(name = "POST /queue/{queue_id}/retry", skip_all, fields(queue_id = %Shown(&path), run_id = tracing::field::Empty))]
pub async fn retry(state: web::Data<AppState>, path: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let run = load_item(&state, &path).await?;
    tracing::Span::current().record("run_id", tracing::field::display(&run.run_id));
    retried(&state, run.run_id).await
}

/// Queues the failed run again and answers with its item.
async fn retried(state: &AppState, run_id: crate::domain::RunId) -> Result<HttpResponse, ApiError> {
    let run = state.supervisor.send(RetryRun(run_id)).await??;
    let position = position_of(state, &run).await?;
    let token = super::run_tokens::grant_one(state, &run).await;
    let mut answer = json!({"success": true, "item": item_json(&run, position)});
    super::run_tokens::TokenGrant::add_to(token.as_ref(), &mut answer);
    Ok(HttpResponse::Ok().json(answer))
}

/// `POST /runs/{run_id}/retry`: the same as the queue's retry, by run id.
#[utoipa::path(post, path = "/runs/{run_id}/retry", tag = "queue", security(("bearer" = [])), params(("run_id" = String, Path, pattern = "^[0-9a-f]{32}$", description = "The run id (32 hexadecimal characters)")),
    description = "Retries a failed run as a new run that reuses its completed stages.",
    responses((status = 200, description = "The new run as a queue item (with its stream_token)", body = JsonObject)))]
#[tracing::instrument(name = "POST /runs/{run_id}/retry", skip_all, fields(run_id = %Shown(&path)))]
pub async fn retry_run(state: web::Data<AppState>, path: web::Path<String>) -> Result<HttpResponse, ApiError> {
    retried(&state, super::parse_run_id(&path)?).await
}

/// `POST /queue/{queue_id}/cancel`: pending items only (a running run is stopped with
/// `POST /jobs/{run_id}/cancel`).
#[utoipa::path(post, path = "/queue/{queue_id}/cancel", tag = "queue", security(("bearer" = [])), params(("queue_id" = String, Path, description = "The queue item id (q_…)")),
    responses((status = 200, description = "The pending item is cancelled", body = JsonObject)))]
#[tracing::instrument(name = "POST /queue/{queue_id}/cancel", skip_all, fields(queue_id = %Shown(&path), run_id = tracing::field::Empty))]
pub async fn cancel(state: web::Data<AppState>, path: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let run = load_item(&state, &path).await?;
    tracing::Span::current().record("run_id", tracing::field::display(&run.run_id));
    let not_pending = |status: &str| {
        conflict(
            "QUEUE_ITEM_NOT_PENDING",
            format!(
                "queue item {} is {status}; only a pending item can be cancelled here (stop a running run with POST /jobs/{}/cancel)",
                run.queue_id, run.run_id
            ),
        )
    };
    if run.status != RunStatus::Queued {
        return Err(not_pending(run.queue_status()));
    }
    if !state.supervisor.send(CancelQueuedRun(run.run_id.clone())).await?? {
        let now = state.store.get_run(&run.run_id).await?.map_or(run.status, |r| r.status);
        return Err(not_pending(now.as_str()));
    }
    Ok(HttpResponse::Ok()
        .json(json!({"success": true, "queue_id": run.queue_id, "run_id": run.run_id, "status": "cancelled"})))
}

/// `POST /queue/{queue_id}/dismiss`: a failed item moves to the history.
#[utoipa::path(post, path = "/queue/{queue_id}/dismiss", tag = "queue", security(("bearer" = [])), params(("queue_id" = String, Path, description = "The queue item id (q_…)")),
    responses((status = 200, description = "The failed item moved to the history", body = JsonObject)))]
#[tracing::instrument(name = "POST /queue/{queue_id}/dismiss", skip_all, fields(queue_id = %Shown(&path), run_id = tracing::field::Empty))]
pub async fn dismiss(state: web::Data<AppState>, path: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let run = load_item(&state, &path).await?;
    tracing::Span::current().record("run_id", tracing::field::display(&run.run_id));
    if !state.store.dismiss_failed_run(&run.run_id, Utc::now()).await? {
        let why = if run.status == RunStatus::Failed {
            "already dismissed or cleaned up".to_owned()
        } else {
            format!("{}, not failed", run.queue_status())
        };
        return Err(conflict(
            "QUEUE_ITEM_NOT_FAILED",
            format!(
                "queue item {} is {why}; only a failed item in the failed list can be dismissed",
                run.queue_id
            ),
        ));
    }
    Ok(HttpResponse::Ok().json(json!({"success": true, "queue_id": run.queue_id, "run_id": run.run_id})))
}

/// Query of `POST /queue/cleanup`.
#[derive(Debug, Deserialize)]
pub struct CleanupQuery {
    /// Read as text so a non-number gets an error naming the parameter.
    max_age_minutes: Option<String>,
}

fn hidden_stats(counts: FinishedCounts) -> Value {
    json!({
        "completed_removed": counts.completed,
        "failed_removed": counts.failed,
        "cancelled_removed": counts.cancelled,
        "total_cleaned": counts.completed + counts.failed + counts.cancelled,
    })
}

async fn hide_before(state: &AppState, before: DateTime<Utc>) -> Result<FinishedCounts, ApiError> {
    Ok(state.store.hide_finished_runs(before, Utc::now()).await?)
}

/// `POST /queue/cleanup?max_age_minutes=60`: finished items that ended longer ago than that
/// leave the view.
#[utoipa::path(post, path = "/queue/cleanup", tag = "queue", security(("bearer" = [])),
    params(("max_age_minutes" = Option<String>, Query, description = "Hide finished items older than this")),
    responses((status = 200, description = "How many items were hidden", body = JsonObject)))]
#[tracing::instrument(name = "POST /queue/cleanup", skip_all)]
pub async fn cleanup(state: web::Data<AppState>, query: web::Query<CleanupQuery>) -> Result<HttpResponse, ApiError> {
    let minutes = match query.max_age_minutes.as_deref().map(str::trim) {
        None | Some("") => 60,
        Some(raw) => raw
            .parse::<i64>()
            .ok()
            .filter(|m| (0..=MAX_AGE_MINUTES).contains(m))
            .ok_or_else(|| {
                ApiError::validation(format!(
                    "max_age_minutes must be a whole number of minutes from 0 to {MAX_AGE_MINUTES}, got {:?}",
                    crate::domain::untrusted::clip(raw, 40)
                ))
            })?,
    };
    let counts = hide_before(&state, Utc::now() - chrono::Duration::minutes(minutes)).await?;
    let mut stats = hidden_stats(counts);
    stats["max_age_minutes"] = json!(minutes);
    Ok(HttpResponse::Ok().json(json!({"success": true, "stats": stats})))
}

/// `POST /queue/clear`: every finished item leaves the view (pending and running stay).
#[utoipa::path(post, path = "/queue/clear", tag = "queue", security(("bearer" = [])),
    responses((status = 200, description = "Every finished item hidden", body = JsonObject)))]
#[tracing::instrument(name = "POST /queue/clear", skip_all)]
pub async fn clear(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let counts = hide_before(&state, Utc::now() + chrono::Duration::milliseconds(1)).await?;
    Ok(HttpResponse::Ok().json(json!({"success": true, "stats": hidden_stats(counts)})))
}
