//! The newest dashboard's view of one operation's run (COMPAT-DASHBOARD.md §5):
//! `GET /api/jobs/operations/{run_id}/logs` (SSE: `data:` log lines, `event: layer_status`
//! with the per-stage map on every stage change, `event: result` and `event: end` with
//! `completed` or `failed`) and `GET /api/jobs/operations/{run_id}/status`.

use actix_web::{web, HttpRequest, HttpResponse};
use bytes::Bytes;
use serde_json::{json, Map, Value};

use super::jobs::{artifact_urls, load_run};
use super::logs::{dashboard_status, last_event_id, layer_map, layer_word, open_stream, sse_data, Dialect};
#[allow(unused_imports)] // the schemas named by `#[utoipa::path]`
use super::openapi::*;
use super::AppState;
use crate::domain::untrusted::Shown;
use crate::domain::{Run, RunStatus, StageName, StageProducer, StageRecord, StageStatus};
use crate::http::error::ApiError;
use crate::store::DynStore;

/// How many of the run's latest log lines the status carries.
const STATUS_LOG_LINES: usize = 200;

/// The `result` object: success, what the run produced (from its stage `records`), its
/// cost, model and duration.
fn result_json(run: &Run, records: &[StageRecord], artifacts: Value) -> Value {
    let model = records
        .iter()
        .filter(|r| r.producer == Some(StageProducer::Llm))
        .find_map(|r| r.model.clone());
    let duration_ms = match (run.started_at, run.finished_at) {
        (Some(s), Some(f)) => Some((f - s).num_milliseconds().max(0)),
        _ => None,
    };
    let (_, error) = dashboard_status(run);
    json!({
        "success": run.status == RunStatus::Completed,
        "data": {
            "operation": run.operation,
            "artifacts": artifacts,
            "stages": records.iter().map(|r| (r.stage.as_str().to_owned(), json!(r.producer))).collect::<Map<_, _>>(),
        },
        "cost_usd": run.cost_usd,
        "run_id": run.run_id,
        "model_used": model,
        "duration_ms": duration_ms,
        "error": error,
    })
}

/// The operations stream's dialect: the per-stage map on every stage change, then the
/// result and `end` (`completed`, or `failed` for any other ending, as the page expects).
struct OperationDialect {
    layers: Map<String, Value>,
    store: DynStore,
    run_id: crate::domain::RunId,
    data_dir: std::path::PathBuf,
}

impl OperationDialect {
    fn layers_event(&self) -> Bytes {
        let map = Value::Object(self.layers.clone()).to_string();
        Bytes::from(format!("event: layer_status\ndata: {}\n\n", sse_data(&map)))
    }
}

impl Dialect for OperationDialect {
    fn start(&mut self) -> Vec<Bytes> {
        vec![self.layers_event()]
    }

    fn stage(&mut self, stage: StageName, status: StageStatus) -> Option<Bytes> {
        self.layers.insert(
            stage.as_str().to_owned(),
            json!({"status": layer_word(status), "message": format!("{stage} {}", status.as_str()), "timestamp": chrono::Utc::now()}),
        );
        Some(self.layers_event())
    }

    fn end(&mut self, status: RunStatus) -> futures_util::future::BoxFuture<'static, Vec<Bytes>> {
        let (store, run_id, data_dir) = (self.store.clone(), self.run_id.clone(), self.data_dir.clone());
        Box::pin(async move {
            let word = if status == RunStatus::Completed {
                "completed"
            } else {
                "failed"
            };
            let mut out = Vec::new();
            if let Ok(Some(run)) = store.get_run(&run_id).await {
                let artifacts = json!(super::jobs::artifact_urls_in(&data_dir, &run, store.keeps_artifacts()));
                let records = store.load_stages(&run_id).await.unwrap_or_default();
                let result = result_json(&run, &records, artifacts).to_string();
                out.push(Bytes::from(format!("event: result\ndata: {}\n\n", sse_data(&result))));
            }
            out.push(Bytes::from(format!("event: end\ndata: {word}\n\n")));
            out
        })
    }
}

/// `GET /api/jobs/operations/{run_id}/logs`.
#[utoipa::path(get, path = "/api/jobs/operations/{run_id}/logs", tag = "logs", security(("bearer" = []), ("run_token" = [])),
    params(("run_id" = String, Path, pattern = "^[0-9a-f]{32}$", description = "The run id (32 hexadecimal characters)"), ("Last-Event-ID" = Option<u64>, Header, description = "Resume after this line")),
    description = "Server-sent events in the operations panel's dialect (log lines, layer progress, the result, end).",
    responses((status = 200, description = "The operation's live log", content_type = "text/event-stream", body = String)))]
#[tracing::instrument(name = "GET /api/jobs/operations/{run_id}/logs", skip_all, fields(run_id = %Shown(&path)))]
pub async fn logs(
    state: web::Data<AppState>,
    path: web::Path<String>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let last = last_event_id(&req)?;
    let run = load_run(&state, &path).await?;
    let layers = layer_map(&state.store.load_stages(&run.run_id).await?);
    let dialect = OperationDialect {
        layers,
        store: state.store.clone(),
        run_id: run.run_id.clone(),
        data_dir: state.settings.paths.data_dir.clone(),
    };
    open_stream(&state, run.run_id, last, Box::new(dialect))
}

/// `GET /api/jobs/operations/{run_id}/status`.
#[utoipa::path(get, path = "/api/jobs/operations/{run_id}/status", tag = "operations", security(("bearer" = []), ("run_token" = [])), params(("run_id" = String, Path, pattern = "^[0-9a-f]{32}$", description = "The run id (32 hexadecimal characters)")),
    responses((status = 200, description = "The operation run's status, layers and result", body = JsonObject)))]
#[tracing::instrument(name = "GET /api/jobs/operations/{run_id}/status", skip_all, fields(run_id = %Shown(&path)))]
pub async fn status(state: web::Data<AppState>, path: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let run = load_run(&state, &path).await?;
    let (status, error) = dashboard_status(&run);
    let last = state.store.last_log_seq(&run.run_id).await?;
    let from = last.saturating_sub(STATUS_LOG_LINES as u64);
    let logs: Vec<String> = state
        .store
        .read_logs(&run.run_id, from, STATUS_LOG_LINES)
        .await?
        .iter()
        .map(|l| l.message.clone())
        .collect();
    // One read of the stages for both the layer map and the result.
    let records = state.store.load_stages(&run.run_id).await?;
    let result = if run.status.is_terminal() {
        result_json(&run, &records, json!(artifact_urls(&state, &run)))
    } else {
        Value::Null
    };
    Ok(HttpResponse::Ok().json(json!({
        "run_id": run.run_id,
        "status": status,
        "layer_status": layer_map(&records),
        "result": result,
        "error": error,
        "logs": logs,
        "job_id": run.job_id,
        "started_at": run.started_at,
        "operation": run.operation,
    })))
}
