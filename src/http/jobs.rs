//! `POST /jobs/run`, `POST /jobs/run-bulk`, `GET /jobs/{id}/status`,
//! `GET /jobs/{id}/progress`, `POST /jobs/{id}/cancel`.

use std::collections::BTreeMap;

use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::body::JsonBody;
#[allow(unused_imports)] // the schemas named by `#[utoipa::path]`
use super::openapi::*;
use super::{parse_run_id, AppState};
use crate::actors::messages::{CancelRun, RunRequest, SubmitRuns};
use crate::artifacts::ArtifactName;
use crate::domain::untrusted::{clip, Shown};
use crate::domain::{JobId, Run, RunStatus, StageName, StageRecord, StageStatus, Tier};
use crate::http::error::ApiError;
use crate::pipeline::builtin_stages::publisher::run_artifact_dir;

/// Body of `POST /jobs/run`. Unknown fields (`level`, ...) are ignored.
#[derive(Debug, Deserialize)]
pub struct RunBody {
    job_id: String,
    profile_ref: Option<String>,
    source: Option<String>,
    /// The newest dashboard's tier (`processing_tier`, or `tier`).
    processing_tier: Option<String>,
    tier: Option<String>,
}

/// Body of `POST /jobs/run-bulk`.
#[derive(Debug, Deserialize)]
pub struct BulkBody {
    job_ids: Vec<String>,
    profile_ref: Option<String>,
    source: Option<String>,
    processing_tier: Option<String>,
    tier: Option<String>,
}

/// What a run request answers.
#[derive(Debug, Serialize)]
pub struct RunTicket {
    run_id: String,
    job_id: String,
    status: RunStatus,
    status_url: String,
    log_stream_url: String,
    /// The run's read token, when `JWT_SECRET` is set.
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    token: Option<super::run_tokens::TokenGrant>,
}

impl RunTicket {
    /// The ticket with the run's read token.
    fn with_token(mut self, token: Option<super::run_tokens::TokenGrant>) -> Self {
        self.token = token;
        self
    }
}

impl From<&Run> for RunTicket {
    fn from(r: &Run) -> Self {
        Self {
            run_id: r.run_id.to_string(),
            job_id: r.job_id.to_string(),
            status: r.status,
            status_url: format!("/jobs/{}/status", r.run_id),
            log_stream_url: format!("/jobs/{}/logs", r.run_id),
            token: None,
        }
    }
}

fn clean(opt: Option<String>) -> Option<String> {
    opt.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty())
}

/// The tier a body names (`processing_tier` wins over `tier`), validated.
pub(super) fn requested_tier(processing_tier: Option<String>, tier: Option<String>) -> Result<Option<Tier>, ApiError> {
    match clean(processing_tier).or(clean(tier)) {
        None => Ok(None),
        Some(raw) => Tier::parse(&raw)
            .map(Some)
            .map_err(|e| ApiError::new(actix_web::http::StatusCode::UNPROCESSABLE_ENTITY, "INVALID_TIER", e)),
    }
}

#[utoipa::path(post, path = "/jobs/run", tag = "runs", security(("bearer" = [])), request_body = RunRequestDoc,
    description = "Queues a full run for one job (or answers the job's active run).",
    responses((status = 200, description = "The queued run", body = RunTicketDoc)))]
#[tracing::instrument(name = "POST /jobs/run", skip_all, fields(job_id = %Shown(&body.job_id), run_id = tracing::field::Empty))]
pub async fn run(state: web::Data<AppState>, body: JsonBody<RunBody>) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let job_id = JobId::parse(&body.job_id).map_err(ApiError::invalid_job_id)?;
    let req = RunRequest {
        job_id,
        profile_ref: clean(body.profile_ref),
        source: clean(body.source),
        processing_tier: requested_tier(body.processing_tier, body.tier)?,
        operation: crate::domain::Operation::FULL_RUN,
        options: Default::default(),
    };
    let runs = state.supervisor.send(SubmitRuns(vec![req])).await??;
    let run = runs.first().ok_or_else(|| ApiError::validation("no run was created"))?;
    tracing::Span::current().record("run_id", tracing::field::display(&run.run_id));
    let token = super::run_tokens::grant_one(&state, run).await;
    Ok(HttpResponse::Ok().json(RunTicket::from(run).with_token(token)))
}

#[utoipa::path(post, path = "/jobs/run-bulk", tag = "runs", security(("bearer" = [])), request_body = BulkRequestDoc,
    description = "Queues full runs for several jobs, all or none.",
    responses((status = 200, description = "The queued runs", body = BulkAnswer)))]
#[tracing::instrument(name = "POST /jobs/run-bulk", skip_all, fields(count = body.job_ids.len()))]
pub async fn run_bulk(state: web::Data<AppState>, body: JsonBody<BulkBody>) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    if body.job_ids.is_empty() {
        return Err(ApiError::validation("job_ids must contain at least 1 job id"));
    }
    if body.job_ids.len() > state.settings.queue.max_queue {
        return Err(ApiError::validation(format!(
            "job_ids has {} ids; at most MAX_QUEUE={} can be queued",
            body.job_ids.len(),
            state.settings.queue.max_queue
        )));
    }
    let mut requests = Vec::with_capacity(body.job_ids.len());
    let mut invalid = Vec::new();
    let (profile_ref, source) = (clean(body.profile_ref), clean(body.source));
    let processing_tier = requested_tier(body.processing_tier, body.tier)?;
    for raw in &body.job_ids {
        match JobId::parse(raw) {
            Ok(job_id) => requests.push(RunRequest {
                job_id,
                profile_ref: profile_ref.clone(),
                source: source.clone(),
                processing_tier,
                operation: crate::domain::Operation::FULL_RUN,
                options: Default::default(),
            }),
            Err(_) => invalid.push(raw.as_str()),
        }
    }
    if !invalid.is_empty() {
        const SHOWN: usize = 5;
        let shown: Vec<String> = invalid
            .iter()
            .take(SHOWN)
            .map(|raw| format!("{:?}", clip(raw, 40)))
            .collect();
        let more = match invalid.len().saturating_sub(SHOWN) {
            0 => String::new(),
            n => format!(" and {n} more"),
        };
        return Err(ApiError::invalid_job_id(format!(
            "job_ids must be 24-character hexadecimal ObjectIds; {} invalid: {}{more}",
            invalid.len(),
            shown.join(", ")
        )));
    }
    let runs = state.supervisor.send(SubmitRuns(requests)).await??;
    let tokens = super::run_tokens::grant(&state, &runs, "api").await;
    let tickets: Vec<RunTicket> = runs
        .iter()
        .zip(tokens)
        .map(|(run, token)| RunTicket::from(run).with_token(token))
        .collect();
    Ok(HttpResponse::Ok().json(json!({ "runs": tickets })))
}

/// The `artifacts` object: only files that exist (in the store when it keeps them, so
/// every runner lists them; else in this runner's data folder).
pub fn artifact_urls(state: &AppState, run: &Run) -> BTreeMap<String, String> {
    artifact_urls_in(&state.settings.paths.data_dir, run, state.store.keeps_artifacts())
}

/// [`artifact_urls`] with the data directory given.
pub fn artifact_urls_in(data_dir: &std::path::Path, run: &Run, in_store: bool) -> BTreeMap<String, String> {
    let dir = run_artifact_dir(data_dir, run.run_id.as_ref());
    run.artifacts
        .iter()
        .filter(|(_, file)| {
            ArtifactName::parse(file).is_some()
                && (in_store || crate::artifacts::is_regular_file(&dir.join(file.as_str())))
        })
        .map(|(key, file)| (key.clone(), crate::artifacts::url(&run.run_id, file)))
        .collect()
}

/// The status document of a run.
pub fn status_json(state: &AppState, run: &Run) -> serde_json::Value {
    json!({
        "run_id": run.run_id,
        "job_id": run.job_id,
        "status": run.status,
        // The old contract always has a start time: the request time until a slot is free.
        "started_at": run.started_at.unwrap_or(run.created_at),
        "updated_at": run.updated_at,
        "created_at": run.created_at,
        "running_since": run.started_at,
        "finished_at": run.finished_at,
        "error": run.error,
        "attempts": run.attempts,
        // LLM spend (USD, known prices), once the run has ended; live detail on /runs/<id>.
        "cost_usd": run.cost_usd,
        // The runner executing it (lease owner), while running.
        "runner": run.lease_owner,
        "profile_ref": run.profile_ref,
        "processing_tier": run.processing_tier,
        "source": run.source,
        // The run as the dashboard's queue item.
        "queue_id": run.queue_id,
        "operation": run.operation,
        "retry_count": run.retry_count,
        "use_llm": run.options.use_llm,
        "force_refresh": run.options.force_refresh,
        "artifacts": artifact_urls(state, run),
    })
}

/// Every stage of the graph with its state in one run (`records`), in graph order: what
/// `GET /jobs/{id}/progress` and `GET /runs?include=stages` show.
pub fn stage_rows(records: &[StageRecord], cost: &crate::llm::costs::RunCost) -> Vec<serde_json::Value> {
    StageName::ALL
        .iter()
        .map(|name| {
            let rec = records.iter().find(|r| r.stage == *name);
            let status = rec.map(|r| r.status).unwrap_or(StageStatus::Pending);
            json!({
                "name": name,
                "status": status.as_str(),
                "depends_on": name.dependencies(),
                "started_at": rec.and_then(|r| r.started_at),
                "finished_at": rec.and_then(|r| r.finished_at),
                "duration_ms": rec.and_then(|r| r.duration_ms),
                "attempts": rec.map(|r| r.attempts).unwrap_or(0),
                "producer": rec.and_then(|r| r.producer),
                "model": rec.and_then(|r| r.model.clone()),
                // For a stage the run's operation reused: the run that produced it.
                "source_run": rec.and_then(|r| r.source_run.clone()),
                "error": rec.and_then(|r| r.error.clone()),
                "cost": cost.by_stage.get(name.as_str()),
            })
        })
        .collect()
}

/// The run named in a path, or 400/404.
pub async fn load_run(state: &AppState, raw: &str) -> Result<Run, ApiError> {
    let run_id = parse_run_id(raw)?;
    state
        .store
        .get_run(&run_id)
        .await?
        .ok_or_else(|| ApiError::run_not_found(raw))
}

#[utoipa::path(get, path = "/jobs/{run_id}/status", tag = "runs", security(("bearer" = []), ("run_token" = [])), params(("run_id" = String, Path, pattern = "^[0-9a-f]{32}$", description = "The run id (32 hexadecimal characters)")),
    responses((status = 200, description = "The run's status", body = RunStatusDoc)))]
#[tracing::instrument(name = "GET /jobs/{run_id}/status", skip_all, fields(run_id = %Shown(&path)))]
pub async fn status(state: web::Data<AppState>, path: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let run = load_run(&state, &path).await?;
    Ok(HttpResponse::Ok().json(status_json(&state, &run)))
}

#[utoipa::path(get, path = "/jobs/{run_id}/progress", tag = "runs", security(("bearer" = []), ("run_token" = [])), params(("run_id" = String, Path, pattern = "^[0-9a-f]{32}$", description = "The run id (32 hexadecimal characters)")),
    responses((status = 200, description = "Each stage's state, the graph's layers, elapsed time and cost", body = ProgressDoc)))]
#[tracing::instrument(name = "GET /jobs/{run_id}/progress", skip_all, fields(run_id = %Shown(&path)))]
pub async fn progress(state: web::Data<AppState>, path: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let run = load_run(&state, &path).await?;
    let records = state.store.load_stages(&run.run_id).await?;
    let cost = crate::llm::costs::run_cost(&state.store.llm_calls(&run.run_id).await?);
    let stages = stage_rows(&records, &cost);
    let done = records.iter().filter(|r| r.status == StageStatus::Completed).count();
    let percent = if run.status == RunStatus::Completed {
        100
    } else {
        (done * 100 / StageName::ALL.len()) as u32
    };
    let elapsed_ms = run.started_at.map(|s| {
        (run.finished_at.unwrap_or_else(chrono::Utc::now) - s)
            .num_milliseconds()
            .max(0)
    });
    Ok(HttpResponse::Ok().json(json!({
        "run_id": run.run_id,
        "job_id": run.job_id,
        "status": run.status,
        "progress_percent": percent,
        "stages_completed": done,
        "stages_total": StageName::ALL.len(),
        "stages": stages,
        "layers": StageName::layers(),
        "elapsed_ms": elapsed_ms,
        "cost": cost,
        "started_at": run.started_at,
        "updated_at": run.updated_at,
        "finished_at": run.finished_at,
        "error": run.error,
    })))
}

#[utoipa::path(post, path = "/jobs/{run_id}/publish", tag = "runs", security(("bearer" = [])),
    params(("run_id" = String, Path, pattern = "^[0-9a-f]{32}$", description = "The run id (32 hexadecimal characters)")),
    description = "Sends a completed run's package to the remote targets again (the CV upload webhook, Google Drive and Sheets); the local package is untouched.",
    responses((status = 202, description = "Publishing started; attempts appear on GET /runs/{run_id} as webhook_deliveries", body = JsonObject)))]
#[tracing::instrument(name = "POST /jobs/{run_id}/publish", skip_all, fields(run_id = %Shown(&path)))]
pub async fn publish(state: web::Data<AppState>, path: web::Path<String>) -> Result<HttpResponse, ApiError> {
    use crate::pipeline::remote_publish::{spawn, PublishError};
    let run = load_run(&state, &path).await?;
    let targets = spawn(&state.store, &state.settings.paths.data_dir, &state.remote, &run).map_err(|e| {
        let msg = e.to_string();
        match e {
            PublishError::NoTarget => ApiError::new(
                actix_web::http::StatusCode::UNPROCESSABLE_ENTITY,
                "REMOTE_PUBLISHING_OFF",
                msg,
            ),
            PublishError::NotCompleted(..) => {
                ApiError::new(actix_web::http::StatusCode::CONFLICT, "RUN_NOT_COMPLETED", msg)
            }
        }
    })?;
    Ok(HttpResponse::Accepted().json(json!({
        "success": true,
        "run_id": run.run_id,
        "targets": targets,
        "attempts_url": format!("/runs/{}", run.run_id),
    })))
}

#[utoipa::path(post, path = "/jobs/{run_id}/cancel", tag = "runs", security(("bearer" = [])), params(("run_id" = String, Path, pattern = "^[0-9a-f]{32}$", description = "The run id (32 hexadecimal characters)")),
    responses((status = 200, description = "Cancelled (a running run stops at once)", body = CancelAnswer)))]
#[tracing::instrument(name = "POST /jobs/{run_id}/cancel", skip_all, fields(run_id = %Shown(&path)))]
pub async fn cancel(state: web::Data<AppState>, path: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let run_id = parse_run_id(&path)?;
    let status = state.supervisor.send(CancelRun(run_id.clone())).await??;
    // `success` and `message` are what the dashboard's cancel button reads.
    Ok(HttpResponse::Ok().json(json!({
        "run_id": run_id,
        "status": status,
        "success": true,
        "message": "Pipeline cancelled",
    })))
}
