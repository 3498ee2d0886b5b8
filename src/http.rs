//! The HTTP API (COMPAT.md's contract plus cancel, progress, run listing and log polling):
//! route table, shared state, JSON error handling and the bearer-auth guard.

mod artifacts;
mod auth;
mod body;
mod costs;
mod diagnostics;
pub mod error;
mod health;
mod jobs;
mod logs;
mod metrics;
mod operation_runs;
mod operations;
mod queue;
mod runs;

use std::sync::Arc;

use actix::Addr;
use actix_web::error::JsonPayloadError;
use actix_web::{web, HttpRequest, HttpResponse};

use crate::actors::log_hub::LogHub;
use crate::actors::supervisor::{RunSupervisor, RunnerStats};
use crate::config::Settings;
use crate::domain::untrusted::Shown;
use crate::http::error::ApiError;
use crate::store::DynStore;

pub use auth::{is_open_read, BearerAuth};

/// What handlers share.
pub struct AppState {
    pub settings: Arc<Settings>,
    pub store: DynStore,
    pub supervisor: Addr<RunSupervisor>,
    pub hub: Addr<LogHub>,
    pub stats: Arc<RunnerStats>,
    /// This process's lease-owner id (to tell runs executing elsewhere apart).
    pub instance_id: String,
    /// The health actor's latest round.
    pub health: crate::actors::health::SharedSnapshot,
    /// This runtime's metrics.
    pub metrics: Arc<crate::metrics::Metrics>,
    /// When this process started serving (for `uptime_seconds`).
    pub started: std::time::Instant,
    /// SSE log streams open now (bounded by `MAX_SSE_STREAMS`).
    pub sse_streams: Arc<std::sync::atomic::AtomicUsize>,
}

/// Maps body errors to stable codes: oversized → 413, not JSON → 400, wrong shape → 422.
fn json_error(err: JsonPayloadError, _: &HttpRequest) -> actix_web::Error {
    let api = match &err {
        JsonPayloadError::Overflow { limit } | JsonPayloadError::OverflowKnownLength { limit, .. } => ApiError::new(
            actix_web::http::StatusCode::PAYLOAD_TOO_LARGE,
            "PAYLOAD_TOO_LARGE",
            format!("request body exceeds {limit} bytes (MAX_BODY_BYTES)"),
        ),
        JsonPayloadError::ContentType => ApiError::new(
            actix_web::http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "UNSUPPORTED_MEDIA_TYPE",
            "request body must be JSON (Content-Type: application/json)",
        ),
        JsonPayloadError::Deserialize(e) if e.is_data() => ApiError::validation(format!("invalid request body: {e}")),
        JsonPayloadError::Deserialize(e) => ApiError::new(
            actix_web::http::StatusCode::BAD_REQUEST,
            "MALFORMED_JSON",
            format!("request body is not valid JSON: {e}"),
        ),
        other => ApiError::new(
            actix_web::http::StatusCode::BAD_REQUEST,
            "INVALID_BODY",
            format!("could not read request body: {other}"),
        ),
    };
    api.into()
}

fn query_error(err: actix_web::error::QueryPayloadError, _: &HttpRequest) -> actix_web::Error {
    ApiError::validation(format!("invalid query string: {err}")).into()
}

/// The job board's features the newest runner grew, which job-runner leaves to a job
/// board (COMPAT-DASHBOARD.md "Not the runner's job"): the feature a path belongs to.
fn job_board_feature(path: &str) -> Option<&'static str> {
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match parts.as_slice() {
        ["api", "master-cv", ..] => Some("the master-CV editor"),
        ["jobs", _, "generate-annotations"]
        | ["jobs", _, "annotations", ..]
        | ["user", "annotation-priors", ..]
        | ["user", "annotation-feedback"] => Some("job description annotations"),
        ["jobs", "ingest", ..] | ["jobs", "import-linkedin" | "import-indeed"] => Some("job ingestion"),
        ["job-search", ..] => Some("job search"),
        ["api", "jobs", _, "cv-editor", "pdf"] | ["api", "url-to-pdf"] | ["proxy", "pdf", ..] => {
            Some("PDF rendering for the editor")
        }
        _ => None,
    }
}

async fn not_found(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    if let Some(feature) = job_board_feature(req.path()) {
        return Err(ApiError::new(
            actix_web::http::StatusCode::NOT_IMPLEMENTED,
            "NOT_PROVIDED",
            format!(
                "{} {} belongs to {feature}, a job board's feature: job-runner runs the pipeline and does not provide it",
                Shown(req.method().as_str()),
                Shown(req.path())
            ),
        ));
    }
    Err(ApiError::new(
        actix_web::http::StatusCode::NOT_FOUND,
        "NOT_FOUND",
        format!("no route for {} {}", Shown(req.method().as_str()), Shown(req.path())),
    ))
}

/// Registers every route.
pub fn configure(cfg: &mut web::ServiceConfig, max_body: usize) {
    cfg.app_data(web::JsonConfig::default().limit(max_body).error_handler(json_error))
        .app_data(web::QueryConfig::default().error_handler(query_error))
        .route("/health", web::get().to(health::health))
        .route("/health", web::head().to(health::health))
        .route("/health/deep", web::get().to(health::deep))
        .route("/jobs/run", web::post().to(jobs::run))
        .route("/jobs/run-bulk", web::post().to(jobs::run_bulk))
        .route("/jobs/{run_id}/status", web::get().to(jobs::status))
        .route("/jobs/{run_id}/progress", web::get().to(jobs::progress))
        .route("/jobs/{run_id}/cancel", web::post().to(jobs::cancel))
        .route("/jobs/{run_id}/logs", web::get().to(logs::stream))
        .route("/api/logs/{run_id}", web::get().to(logs::poll))
        .route("/api/logs/{run_id}/status", web::get().to(logs::poll_status))
        .route("/runs", web::get().to(runs::list))
        .route("/metrics", web::get().to(metrics::metrics))
        .route("/runs/{run_id}", web::get().to(costs::run_detail))
        .route("/runs/{run_id}/retry", web::post().to(queue::retry_run))
        .route("/api/metrics/budget", web::get().to(costs::budget))
        .route("/api/metrics/cost-history", web::get().to(costs::history))
        .route("/api/metrics/alerts", web::get().to(costs::alerts))
        .route("/diagnostics", web::get().to(diagnostics::diagnostics))
        .route("/queue/state", web::get().to(queue::queue_state))
        .route("/queue/item/{job_id}", web::get().to(queue::item_for_job))
        .route("/queue/cleanup", web::post().to(queue::cleanup))
        .route("/queue/clear", web::post().to(queue::clear))
        .route("/queue/{queue_id}/retry", web::post().to(queue::retry))
        .route("/queue/{queue_id}/cancel", web::post().to(queue::cancel))
        .route("/queue/{queue_id}/dismiss", web::post().to(queue::dismiss))
        .route(
            "/api/jobs/{job_id}/operations/{operation}/queue",
            web::post().to(operations::queue_operation),
        )
        .route(
            "/api/jobs/{job_id}/all-ops/start",
            web::post().to(operations::start_all_ops),
        )
        .route("/api/jobs/{operation}/batch", web::post().to(operations::batch))
        .route(
            "/api/jobs/operations/{run_id}/logs",
            web::get().to(operation_runs::logs),
        )
        .route(
            "/api/jobs/operations/{run_id}/status",
            web::get().to(operation_runs::status),
        )
        .route(
            "/api/jobs/{job_id}/queue-status",
            web::get().to(operations::queue_status),
        )
        .route("/artifacts/{run_id}/{filename:.*}", web::get().to(artifacts::download))
        .default_service(web::to(not_found));
}

/// Parses a run id from the path.
fn parse_run_id(raw: &str) -> Result<crate::domain::RunId, ApiError> {
    crate::domain::RunId::parse(raw).map_err(ApiError::invalid_run_id)
}
