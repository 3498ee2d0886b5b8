//! The dashboard's operations routes (COMPAT-DASHBOARD.md §5): "move to batch", imports and
//! the job page queue work through `POST /api/jobs/{job_id}/operations/{op}/queue` and
//! `POST /api/jobs/{job_id}/all-ops/start`, and read `GET /api/jobs/{job_id}/queue-status`.
//!
//! Both routes queue a full run through the same admission as `POST /jobs/run` (one active
//! run per job: asking again returns the run already pending or running). Operation names
//! job-runner does not execute are refused with an error naming the supported ones rather
//! than silently running everything.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::body::JsonBody;
use super::jobs::requested_tier;
#[allow(unused_imports)] // the schemas named by `#[utoipa::path]`
use super::openapi::*;
use super::queue::{item_json, position_of};
use super::run_tokens::TokenGrant;
use super::AppState;
use crate::actors::messages::{RunRequest, SubmitRuns};
use crate::domain::untrusted::Shown;
use crate::domain::{JobId, Operation, Run, RunStatus};
use crate::http::error::ApiError;
use crate::store::RunFilter;

/// What a run takes when no run has finished yet to measure (seconds).
const DEFAULT_RUN_SECONDS: f64 = 120.0;

/// How many recent runs the wait estimate and the queue status look at.
const RECENT_RUNS: usize = 20;

/// Body of the operations routes. `force_refresh`, `use_llm` and `use_annotations` are
/// accepted; what they change belongs to the single operations.
#[derive(Debug, Default, Deserialize)]
pub struct OperationBody {
    tier: Option<String>,
    processing_tier: Option<String>,
    /// Web research ignores cached answers for this run.
    force_refresh: Option<bool>,
    /// `false`: every stage of this run works offline.
    use_llm: Option<bool>,
    #[expect(dead_code, reason = "validated as a boolean; job-runner has no annotations")]
    use_annotations: Option<bool>,
    source: Option<String>,
}

/// Seconds until a run at `position` (1 = next) is likely to start: the average of recent
/// completed runs, per free slot.
async fn estimated_wait(state: &AppState, position: u64) -> Result<u64, ApiError> {
    if position == 0 {
        return Ok(0);
    }
    let recent = state
        .store
        .list_runs(&RunFilter {
            status: Some(RunStatus::Completed),
            limit: RECENT_RUNS,
            ..RunFilter::default()
        })
        .await?;
    let durations: Vec<f64> = recent
        .runs
        .iter()
        .filter_map(|r| Some((r.finished_at? - r.started_at?).num_milliseconds() as f64 / 1000.0))
        .filter(|s| *s >= 0.0)
        .collect();
    let average = if durations.is_empty() {
        DEFAULT_RUN_SECONDS
    } else {
        durations.iter().sum::<f64>() / durations.len() as f64
    };
    let slots = state.settings.queue.max_concurrency.max(1) as f64;
    Ok((position as f64 * average / slots).ceil() as u64)
}

/// Parses the job id and the body's tier and queues a run of `op`.
async fn queue_run(
    state: &AppState,
    raw_job: &str,
    op: Operation,
    body: OperationBody,
    source: &str,
) -> Result<Run, ApiError> {
    let job_id = JobId::parse(raw_job).map_err(ApiError::invalid_job_id)?;
    let tier = requested_tier(body.processing_tier, body.tier)?;
    let source = body
        .source
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| source.to_owned());
    let runs = state
        .supervisor
        .send(SubmitRuns(vec![RunRequest {
            job_id,
            profile_ref: None,
            source: Some(source),
            processing_tier: tier,
            operation: op,
            options: crate::domain::RunOptions {
                use_llm: body.use_llm.unwrap_or(true),
                force_refresh: body.force_refresh.unwrap_or(false),
            },
        }]))
        .await??;
    runs.into_iter()
        .next()
        .ok_or_else(|| ApiError::validation("no run was created"))
}

/// `POST /api/jobs/{job_id}/operations/{operation}/queue`.
#[utoipa::path(post, path = "/api/jobs/{job_id}/operations/{operation}/queue", tag = "operations", security(("bearer" = [])),
    params(("job_id" = String, Path, pattern = "^[0-9a-f]{24}$", description = "The job document's _id (24 hexadecimal characters)"), ("operation" = String, Path, description = "analyze-job, research-company, discover-contacts, generate-cv, generate-cover-letter, generate-outreach, full-analysis, batch-pipeline, cv-review or extract")), request_body = OperationRequestDoc,
    responses((status = 200, description = "The queued operation run, its position and wait", body = JsonObject)))]
#[tracing::instrument(name = "POST /api/jobs/{job_id}/operations/{operation}/queue", skip_all,
    fields(job_id = %Shown(&path.0), operation = %Shown(&path.1), run_id = tracing::field::Empty))]
pub async fn queue_operation(
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    body: JsonBody<OperationBody>,
) -> Result<HttpResponse, ApiError> {
    let (raw_job, raw_op) = path.into_inner();
    let op = parse_operation(&raw_op)?;
    let run = queue_run(&state, &raw_job, op, body.into_inner(), "dashboard-operation").await?;
    tracing::Span::current().record("run_id", tracing::field::display(&run.run_id));
    let position = position_of(&state, &run).await?;
    let token = super::run_tokens::grant_one(&state, &run).await;
    let mut answer = json!({
        "success": true,
        "queue_id": run.queue_id,
        "job_id": run.job_id,
        "operation": op.as_str(),
        "status": run.queue_status(),
        "position": position,
        "estimated_wait_seconds": estimated_wait(&state, position).await?,
        "run_id": run.run_id,
        "processing_tier": run.processing_tier,
        "status_url": format!("/jobs/{}/status", run.run_id),
        "log_stream_url": format!("/jobs/{}/logs", run.run_id),
        "error": null,
    });
    TokenGrant::add_to(token.as_ref(), &mut answer);
    Ok(HttpResponse::Ok().json(answer))
}

/// An operation name from the path, or 422 naming the supported ones.
fn parse_operation(raw: &str) -> Result<Operation, ApiError> {
    Operation::parse(raw).map_err(|e| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, e.code(), e.to_string()))
}

/// Body of `POST /api/jobs/{operation}/batch`.
#[derive(Debug, Deserialize)]
pub struct BatchBody {
    job_ids: Vec<String>,
    tier: Option<String>,
    processing_tier: Option<String>,
}

/// `POST /api/jobs/{operation}/batch`: the operation for several jobs, all queued or none
/// (the same limits as `POST /jobs/run-bulk`).
#[utoipa::path(post, path = "/api/jobs/{operation}/batch", tag = "operations", security(("bearer" = [])), params(("operation" = String, Path, description = "analyze-job, research-company, discover-contacts, generate-cv, generate-cover-letter, generate-outreach, full-analysis, batch-pipeline, cv-review or extract")),
    request_body = BatchRequestDoc,
    responses((status = 200, description = "The queued runs", body = JsonObject)))]
#[tracing::instrument(name = "POST /api/jobs/{operation}/batch", skip_all, fields(operation = %Shown(&path)))]
pub async fn batch(
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: JsonBody<BatchBody>,
) -> Result<HttpResponse, ApiError> {
    let op = parse_operation(&path)?;
    let body = body.into_inner();
    let max = state.settings.queue.max_queue;
    if body.job_ids.is_empty() || body.job_ids.len() > max {
        return Err(ApiError::validation(format!(
            "job_ids must hold 1 to MAX_QUEUE={max} job ids, got {}",
            body.job_ids.len()
        )));
    }
    let tier = requested_tier(body.processing_tier, body.tier)?;
    let mut requests = Vec::with_capacity(body.job_ids.len());
    for raw in &body.job_ids {
        requests.push(RunRequest {
            job_id: JobId::parse(raw).map_err(ApiError::invalid_job_id)?,
            profile_ref: None,
            source: Some("dashboard-batch".into()),
            processing_tier: tier,
            operation: op,
            options: Default::default(),
        });
    }
    let runs = state.supervisor.send(SubmitRuns(requests)).await??;
    let tokens = super::run_tokens::grant(&state, &runs, "api").await;
    let tickets: Vec<Value> = runs
        .iter()
        .zip(&tokens)
        .map(|(run, token)| {
            let mut t = ticket(run);
            TokenGrant::add_to(token.as_ref(), &mut t);
            t
        })
        .collect();
    Ok(HttpResponse::Ok().json(json!({"success": true, "runs": tickets, "total_count": runs.len()})))
}

/// A queued run as the operations routes answer it.
fn ticket(run: &Run) -> Value {
    json!({
        "success": true,
        "run_id": run.run_id,
        "job_id": run.job_id,
        "queue_id": run.queue_id,
        "operation": run.operation,
        "status": run.status,
        "processing_tier": run.processing_tier,
        "status_url": format!("/jobs/{}/status", run.run_id),
        "log_stream_url": format!("/jobs/{}/logs", run.run_id),
    })
}

/// `POST /api/jobs/{job_id}/all-ops/start`: a full run, answered like `POST /jobs/run`.
#[utoipa::path(post, path = "/api/jobs/{job_id}/all-ops/start", tag = "operations", security(("bearer" = [])), params(("job_id" = String, Path, pattern = "^[0-9a-f]{24}$", description = "The job document's _id (24 hexadecimal characters)")),
    request_body = OperationRequestDoc,
    responses((status = 200, description = "The queued full run", body = JsonObject)))]
#[tracing::instrument(name = "POST /api/jobs/{job_id}/all-ops/start", skip_all,
    fields(job_id = %Shown(&path), run_id = tracing::field::Empty))]
pub async fn start_all_ops(
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: JsonBody<OperationBody>,
) -> Result<HttpResponse, ApiError> {
    let run = queue_run(
        &state,
        &path,
        Operation::FULL_RUN,
        body.into_inner(),
        "dashboard-all-ops",
    )
    .await?;
    tracing::Span::current().record("run_id", tracing::field::display(&run.run_id));
    let token = super::run_tokens::grant_one(&state, &run).await;
    let mut answer = ticket(&run);
    TokenGrant::add_to(token.as_ref(), &mut answer);
    Ok(HttpResponse::Ok().json(answer))
}

/// `GET /api/jobs/{job_id}/queue-status`: per operation, the job's newest run of it (or null).
#[utoipa::path(get, path = "/api/jobs/{job_id}/queue-status", tag = "operations", security(("bearer" = [])), params(("job_id" = String, Path, pattern = "^[0-9a-f]{24}$", description = "The job document's _id (24 hexadecimal characters)")),
    responses((status = 200, description = "Per operation, the job's newest run of it", body = JsonObject)))]
#[tracing::instrument(name = "GET /api/jobs/{job_id}/queue-status", skip_all, fields(job_id = %Shown(&path)))]
pub async fn queue_status(state: web::Data<AppState>, path: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let job_id = JobId::parse(&path).map_err(ApiError::invalid_job_id)?;
    if state.store.get_job_document(&job_id).await?.is_none() {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "JOB_NOT_FOUND",
            format!("job(s) not found: {job_id}"),
        ));
    }
    let recent = state
        .store
        .list_runs(&RunFilter {
            job_id: Some(job_id.clone()),
            limit: RECENT_RUNS,
            ..RunFilter::default()
        })
        .await?;
    let mut operations = Map::new();
    for op in Operation::ALL {
        // Newest first: the first run of an operation is its latest.
        let entry = match recent.runs.iter().find(|r| r.operation == op.as_str()) {
            None => Value::Null,
            Some(run) => {
                let item = item_json(run, position_of(&state, run).await?);
                json!({
                    "status": item["status"],
                    "queue_id": item["queue_id"],
                    "run_id": item["run_id"],
                    "position": item["position"],
                    "started_at": item["started_at"],
                    "completed_at": item["completed_at"],
                    "error": item["error"],
                    "retry_count": item["retry_count"],
                })
            }
        };
        operations.insert(op.as_str().to_owned(), entry);
    }
    Ok(HttpResponse::Ok().json(json!({"job_id": job_id, "operations": operations})))
}
